package refresh_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// hookClient is the confidential client of the hook tests.
var hookClient = refreshtest.Client{ID: "hooked", Secret: secretClient, Method: refreshtest.AuthClientSecretBasic}

// recorder keeps every event its Hooks receive, in order.
type recorder struct {
	mu      sync.Mutex
	events  []any
	started chan struct{} // receives one value per OnRefreshStart, when not nil
}

func (r *recorder) add(e any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) hooks() refresh.Hooks {
	return refresh.Hooks{
		OnRefreshStart: func(e refresh.RefreshStart) {
			r.add(e)
			if r.started != nil {
				r.started <- struct{}{}
			}
		},
		OnRefreshEnd:   func(e refresh.RefreshEnd) { r.add(e) },
		OnLeaseWait:    func(e refresh.LeaseWait) { r.add(e) },
		OnStoreFailure: func(e refresh.StoreFailure) { r.add(e) },
		OnNonceRetry:   func(e refresh.NonceRetry) { r.add(e) },
	}
}

func (r *recorder) got() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.events...)
}

// failingLoads is a Store whose Load fails.
type failingLoads struct{}

func (failingLoads) Load(context.Context) (*refresh.Tokens, error) {
	return nil, errors.New("database unreachable")
}
func (failingLoads) Save(context.Context, *refresh.Tokens) error { return nil }

// stuckStore is a Store whose Load ignores ctx and returns only when stuck
// is closed.
type stuckStore struct{ stuck chan struct{} }

func (s stuckStore) Load(context.Context) (*refresh.Tokens, error) {
	<-s.stuck
	return nil, nil
}
func (stuckStore) Save(context.Context, *refresh.Tokens) error { return nil }

// hookScenario is one real scenario for TestHooks.
type hookScenario struct {
	name string
	// run sets the scenario up with the given hooks and plays it; it
	// returns the secrets that took part, beyond the package's own.
	run  func(t *testing.T, srv *refreshtest.Server, clock *refreshtest.Clock, h refresh.Hooks, r *recorder) []string
	want []any
}

func hookedClient(srv *refreshtest.Server, clock *refreshtest.Clock) *refresh.Client {
	return &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.ClientSecretBasic(hookClient.ID, secretClient),
		HTTPClient: srv.Client(), Now: clock.Now}
}

// tokenOK calls Token and fails the test on an error.
func tokenOK(t *testing.T, src *refresh.Source) *refresh.Tokens {
	t.Helper()
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

const basicName = "client_secret_basic"

var hookScenarios = []hookScenario{
	{
		name: "a first use refreshes",
		run: func(t *testing.T, srv *refreshtest.Server, clock *refreshtest.Clock, h refresh.Hooks, _ *recorder) []string {
			rt := srv.IssueRefreshToken(hookClient.ID)
			tok := tokenOK(t, refresh.NewSource(hookedClient(srv, clock), &refresh.Tokens{RefreshToken: rt}, refresh.WithHooks(h)))
			return []string{rt, tok.AccessToken, tok.RefreshToken}
		},
		want: []any{
			refresh.RefreshStart{Reason: refresh.ReasonFirstUse, AuthMethod: basicName},
			refresh.RefreshEnd{Reason: refresh.ReasonFirstUse, Outcome: refresh.OutcomeRefreshed, Sent: true, AuthMethod: basicName},
		},
	},
	{
		name: "an expired token refreshes",
		run: func(t *testing.T, srv *refreshtest.Server, clock *refreshtest.Clock, h refresh.Hooks, _ *recorder) []string {
			rt := srv.IssueRefreshToken(hookClient.ID)
			old := &refresh.Tokens{AccessToken: secretAccess, TokenType: "Bearer", RefreshToken: rt, ExpiresAt: clock.Now().Add(-time.Minute)}
			tok := tokenOK(t, refresh.NewSource(hookedClient(srv, clock), old, refresh.WithHooks(h)))
			return []string{rt, tok.AccessToken, tok.RefreshToken}
		},
		want: []any{
			refresh.RefreshStart{Reason: refresh.ReasonExpiry, AuthMethod: basicName},
			refresh.RefreshEnd{Reason: refresh.ReasonExpiry, Outcome: refresh.OutcomeRefreshed, Sent: true, AuthMethod: basicName},
		},
	},
	{
		name: "a token a resource rejected refreshes",
		run: func(t *testing.T, srv *refreshtest.Server, clock *refreshtest.Clock, h refresh.Hooks, _ *recorder) []string {
			rt := srv.IssueRefreshToken(hookClient.ID)
			old := &refresh.Tokens{AccessToken: secretAccess, TokenType: "Bearer", RefreshToken: rt, ExpiresAt: clock.Now().Add(time.Hour)}
			src := refresh.NewSource(hookedClient(srv, clock), old, refresh.WithHooks(h))
			src.Invalidate(old)
			tok := tokenOK(t, src)
			return []string{rt, tok.AccessToken, tok.RefreshToken}
		},
		want: []any{
			refresh.RefreshStart{Reason: refresh.ReasonRejected, AuthMethod: basicName},
			refresh.RefreshEnd{Reason: refresh.ReasonRejected, Outcome: refresh.OutcomeRefreshed, Sent: true, AuthMethod: basicName},
		},
	},
	{
		name: "a revoked refresh token fails with invalid_grant",
		run: func(t *testing.T, srv *refreshtest.Server, clock *refreshtest.Clock, h refresh.Hooks, _ *recorder) []string {
			rt := srv.IssueRefreshToken(hookClient.ID)
			srv.Revoke(rt)
			_, err := refresh.NewSource(hookedClient(srv, clock), &refresh.Tokens{RefreshToken: rt}, refresh.WithHooks(h)).Token(t.Context())
			if !errors.Is(err, refresh.ErrInvalidGrant) {
				t.Fatalf("Token = %v, want invalid_grant", err)
			}
			return []string{rt}
		},
		want: []any{
			refresh.RefreshStart{Reason: refresh.ReasonFirstUse, AuthMethod: basicName},
			refresh.RefreshEnd{Reason: refresh.ReasonFirstUse, Outcome: refresh.OutcomeFailed, ErrorKind: refresh.ErrorKindInvalidGrant, Sent: true, AuthMethod: basicName},
		},
	},
	{
		name: "a store that fails to load is reported, and the refresh goes on",
		run: func(t *testing.T, srv *refreshtest.Server, clock *refreshtest.Clock, h refresh.Hooks, _ *recorder) []string {
			rt := srv.IssueRefreshToken(hookClient.ID)
			tok := tokenOK(t, refresh.NewSource(hookedClient(srv, clock), &refresh.Tokens{RefreshToken: rt},
				refresh.WithStore(failingLoads{}), refresh.WithHooks(h)))
			return []string{rt, tok.AccessToken, tok.RefreshToken}
		},
		want: []any{
			refresh.RefreshStart{Reason: refresh.ReasonFirstUse, AuthMethod: basicName},
			refresh.StoreFailure{Op: "load"},
			refresh.RefreshEnd{Reason: refresh.ReasonFirstUse, Outcome: refresh.OutcomeRefreshed, Sent: true, AuthMethod: basicName},
		},
	},
	{
		name: "a run stuck in a Store that ignores ctx is abandoned",
		run: func(t *testing.T, srv *refreshtest.Server, clock *refreshtest.Clock, h refresh.Hooks, _ *recorder) []string {
			rt := srv.IssueRefreshToken(hookClient.ID)
			stuck := make(chan struct{})
			t.Cleanup(func() { close(stuck) })
			st := stuckStore{stuck}
			src := refresh.NewSource(hookedClient(srv, clock), &refresh.Tokens{RefreshToken: rt},
				refresh.WithStore(st), refresh.WithRefreshTimeout(10*time.Millisecond), refresh.WithHooks(h))
			if _, err := src.Token(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Token = %v, want the abandoned run's deadline", err)
			}
			return []string{rt}
		},
		want: []any{
			refresh.RefreshStart{Reason: refresh.ReasonFirstUse, AuthMethod: basicName},
			refresh.RefreshEnd{Reason: refresh.ReasonFirstUse, Outcome: refresh.OutcomeAbandoned, ErrorKind: refresh.ErrorKindTimeout, AuthMethod: basicName},
		},
	},
	{
		name: "a run waits for the lease another Source holds and adopts its tokens",
		run: func(t *testing.T, srv *refreshtest.Server, clock *refreshtest.Clock, h refresh.Hooks, r *recorder) []string {
			rt := srv.IssueRefreshToken(hookClient.ID)
			store := refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: rt})
			// The other Source's token request waits until let is closed,
			// holding the grant's lease all the while.
			inRequest, let := make(chan struct{}), make(chan struct{})
			other := hookedClient(srv, clock)
			other.HTTPClient = &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
				close(inRequest)
				<-let
				return srv.Client().Transport.RoundTrip(req)
			})}
			holder := refresh.NewSource(other, nil, refresh.WithStore(store))
			held := make(chan *refresh.Tokens, 1)
			go func() {
				tok, err := holder.Token(t.Context())
				if err != nil {
					t.Errorf("the holder's Token: %v", err)
				}
				held <- tok
			}()
			<-inRequest
			src := refresh.NewSource(hookedClient(srv, clock), nil, refresh.WithStore(store), refresh.WithHooks(h))
			res := make(chan *refresh.Tokens, 1)
			go func() {
				tok, err := src.Token(t.Context())
				if err != nil {
					t.Errorf("Token: %v", err)
				}
				res <- tok
			}()
			<-r.started
			close(let)
			theirs, ours := <-held, <-res
			if theirs == nil || ours == nil || ours.AccessToken != theirs.AccessToken {
				t.Fatalf("Token = %v, want the holder's tokens %v", ours, theirs)
			}
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("%d token requests, want the holder's one", n)
			}
			return []string{rt, ours.AccessToken, ours.RefreshToken}
		},
		want: []any{
			refresh.RefreshStart{Reason: refresh.ReasonFirstUse, AuthMethod: basicName},
			refresh.LeaseWait{Reason: refresh.ReasonFirstUse, Acquired: true},
			refresh.RefreshEnd{Reason: refresh.ReasonFirstUse, Outcome: refresh.OutcomeAdopted, AuthMethod: basicName},
		},
	},
	{
		name: "a fenced save that finds a newer version is a conflict",
		run: func(t *testing.T, srv *refreshtest.Server, clock *refreshtest.Clock, h refresh.Hooks, _ *recorder) []string {
			rt := srv.IssueRefreshToken(hookClient.ID)
			store := refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: rt})
			c := hookedClient(srv, clock)
			// While the token request is under way, a writer that ignores
			// the lease saves other tokens: the lease's save is fenced out.
			c.HTTPClient = &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
				if err := store.Save(req.Context(), &refresh.Tokens{RefreshToken: secretSent}); err != nil {
					return nil, err
				}
				return srv.Client().Transport.RoundTrip(req)
			})}
			_, err := refresh.NewSource(c, nil, refresh.WithStore(store), refresh.WithHooks(h)).Token(t.Context())
			if !errors.Is(err, refresh.ErrVersionConflict) {
				t.Fatalf("Token = %v, want a version conflict", err)
			}
			return []string{rt}
		},
		want: []any{
			refresh.RefreshStart{Reason: refresh.ReasonFirstUse, AuthMethod: basicName},
			refresh.LeaseWait{Reason: refresh.ReasonFirstUse, Acquired: true},
			refresh.StoreFailure{Op: "save", Conflict: true},
			refresh.RefreshEnd{Reason: refresh.ReasonFirstUse, Outcome: refresh.OutcomeUnsaved, ErrorKind: refresh.ErrorKindStore, Sent: true, AuthMethod: basicName},
		},
	},
	{
		name: "DPoP nonces make a refresh and a resource request go again",
		run: func(t *testing.T, srv *refreshtest.Server, clock *refreshtest.Clock, h refresh.Hooks, _ *recorder) []string {
			d, err := refresh.NewDPoP(ed25519.NewKeyFromSeed([]byte(secretSeed)))
			if err != nil {
				t.Fatal(err)
			}
			rt := srv.IssueRefreshToken(hookClient.ID)
			c := hookedClient(srv, clock)
			c.DPoP = d
			src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: rt}, refresh.WithHooks(h))
			// The resource is on an origin of its own, whose nonce the
			// client has not learnt yet.
			api := httptest.NewServer(srv.Resource(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
			t.Cleanup(api.Close)
			hc := &http.Client{Transport: &refresh.Transport{Source: src}}
			resp, err := hc.Get(api.URL + "/api")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("resource answered %s", resp.Status)
			}
			tok := tokenOK(t, src)
			return []string{rt, tok.AccessToken, tok.RefreshToken}
		},
		want: []any{
			refresh.RefreshStart{Reason: refresh.ReasonFirstUse, AuthMethod: basicName, DPoP: true},
			refresh.NonceRetry{Endpoint: "token"},
			refresh.RefreshEnd{Reason: refresh.ReasonFirstUse, Outcome: refresh.OutcomeRefreshed, Sent: true, AuthMethod: basicName, DPoP: true},
			refresh.NonceRetry{Endpoint: "resource"},
		},
	},
}

// TestHooks plays real scenarios against refreshtest and checks the events
// the hooks receive, and that none of them, printed, shows a token or secret.
func TestHooks(t *testing.T) {
	for _, tt := range hookScenarios {
		t.Run(tt.name, func(t *testing.T) {
			clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			srv := refreshtest.NewServer(refreshtest.WithClient(hookClient), refreshtest.WithClock(clock.Now),
				refreshtest.WithRotation(refreshtest.RotateRefreshTokens), refreshtest.WithAccessTokenLifetime(time.Hour),
				refreshtest.WithDPoPNonces(1))
			t.Cleanup(srv.Close)
			r := &recorder{started: make(chan struct{}, 8)}
			secrets := tt.run(t, srv, clock, r.hooks(), r)
			got := r.got()
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(refresh.RefreshEnd{}, "Duration"),
				cmpopts.IgnoreFields(refresh.LeaseWait{}, "Duration")); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			text := fmt.Sprintf("%+v %#v", got, got)
			for _, s := range secrets {
				if s != "" && strings.Contains(text, s) {
					t.Errorf("an event shows %q:\n%s", s, text)
				}
			}
			if s := showsSecret(text); s != "" {
				t.Errorf("an event shows %q:\n%s", s, text)
			}
		})
	}
}

// TestHookPanicIsContained has every hook panic: the refresh, the lease, the
// store failure and the nonce retries go on as without hooks, and the log
// says a hook panicked.
func TestHookPanicIsContained(t *testing.T) {
	clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := refreshtest.NewServer(refreshtest.WithClient(hookClient), refreshtest.WithClock(clock.Now), refreshtest.WithDPoPNonces(1))
	t.Cleanup(srv.Close)
	d, err := refresh.NewDPoP(seedKey)
	if err != nil {
		t.Fatal(err)
	}
	c := hookedClient(srv, clock)
	c.DPoP = d
	var log strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, &slog.HandlerOptions{Level: slog.LevelError}))
	boom := func(any) { panic("hook bug") }
	h := refresh.Hooks{
		OnRefreshStart: func(e refresh.RefreshStart) { boom(e) },
		OnRefreshEnd:   func(e refresh.RefreshEnd) { boom(e) },
		OnLeaseWait:    func(e refresh.LeaseWait) { boom(e) },
		OnStoreFailure: func(e refresh.StoreFailure) { boom(e) },
		OnNonceRetry:   func(e refresh.NonceRetry) { boom(e) },
	}
	rt := srv.IssueRefreshToken(hookClient.ID)
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: rt}, refresh.WithHooks(h), refresh.WithLogger(logger),
		refresh.WithStore(failingLoads{}))
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatalf("Token with panicking hooks: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, event := range []string{"refresh_start", "nonce_retry", "store_failure", "refresh_end"} {
		if !strings.Contains(log.String(), "event="+event) {
			t.Errorf("the log does not report the panic of the %s hook:\n%s", event, log.String())
		}
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestHooksOnTheHotPath checks that a valid cached token calls no hook.
func TestHooksOnTheHotPath(t *testing.T) {
	r := &recorder{}
	c := &refresh.Client{TokenURL: "https://auth.example/token"}
	src := refresh.NewSource(c, &refresh.Tokens{AccessToken: secretAccess, TokenType: "Bearer", ExpiresAt: time.Now().Add(time.Hour)},
		refresh.WithHooks(r.hooks()))
	for range 3 {
		if _, err := src.Token(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.got(); len(got) != 0 {
		t.Errorf("a valid cached token called hooks: %+v", got)
	}
}
