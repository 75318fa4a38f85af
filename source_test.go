package refresh

// Tests of Source, MemoryStore and StoreFunc (source.go, store.go), in
// testing/synctest bubbles: time is fake, time.Sleep moves the clock at once,
// and synctest.Wait returns when every other goroutine of the bubble is
// blocked. The token endpoint is a fake behind an http.RoundTripper
// (srcEndpoint), since real sockets do not block durably. Printing a Source or
// a MemoryStore without secrets is tested in redact_test.go.
//
// Top-level names start with "src" or "TestSource", "TestMemoryStore",
// "TestStoreFunc", so that they cannot clash with other test files.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// srcTokenURL is a loopback address, so that the Client accepts http. Nothing
// listens there.
const srcTokenURL = "http://127.0.0.1/oauth2/token"

const srcClientSecret = "client-secret-Zq81"

// srcRoundTripFunc is an http.RoundTripper made of a function.
type srcRoundTripFunc func(*http.Request) (*http.Response, error)

func (f srcRoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// srcAnswer is one answer of the fake token endpoint.
type srcAnswer struct {
	status      int
	contentType string
	body        string
}

// srcGrant is a token response; an empty rt or scope is left out.
func srcGrant(at, rt string, expiresIn int, scope string) srcAnswer {
	m := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": expiresIn}
	if rt != "" {
		m["refresh_token"] = rt
	}
	if scope != "" {
		m["scope"] = scope
	}
	b, _ := json.Marshal(m)
	return srcAnswer{status: http.StatusOK, contentType: "application/json", body: string(b)}
}

// srcOAuthFailure is an OAuth error response (RFC 6749 §5.2).
func srcOAuthFailure(status int, code string) srcAnswer {
	return srcAnswer{status: status, contentType: "application/json", body: `{"error":"` + code + `"}`}
}

// srcRotating answers the n-th request with at-n and rt-n, valid for an hour.
func srcRotating(n int, _ string) srcAnswer {
	return srcGrant(fmt.Sprintf("at-%d", n), fmt.Sprintf("rt-%d", n), 3600, "")
}

// srcEndpoint is a fake token endpoint. It records the refresh token and the
// context of each request and answers the n-th (from 1) with answer(n, rt).
// After hold, requests wait until release or until their context ends.
type srcEndpoint struct {
	answer func(n int, refreshToken string) srcAnswer
	n      atomic.Int32

	mu   sync.Mutex
	rts  []string
	ctxs []context.Context
	gate chan struct{}
}

func srcNewEndpoint(answer func(n int, refreshToken string) srcAnswer) *srcEndpoint {
	return &srcEndpoint{answer: answer}
}

func (e *srcEndpoint) client() *Client {
	return &Client{TokenURL: srcTokenURL, Auth: ClientSecretPost("client-1", srcClientSecret),
		HTTPClient: &http.Client{Transport: srcRoundTripFunc(e.roundTrip)}}
}

func (e *srcEndpoint) hold() { e.mu.Lock(); e.gate = make(chan struct{}); e.mu.Unlock() }

func (e *srcEndpoint) release() { e.mu.Lock(); close(e.gate); e.gate = nil; e.mu.Unlock() }

func (e *srcEndpoint) requests() int { return int(e.n.Load()) }

func (e *srcEndpoint) sent() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.rts...)
}

func (e *srcEndpoint) lastContext() context.Context {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ctxs[len(e.ctxs)-1]
}

func (e *srcEndpoint) roundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	form, _ := url.ParseQuery(string(b))
	rt := form.Get("refresh_token")
	n := int(e.n.Add(1))
	e.mu.Lock()
	e.rts, e.ctxs = append(e.rts, rt), append(e.ctxs, req.Context())
	gate := e.gate
	e.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	a := e.answer(n, rt)
	return &http.Response{StatusCode: a.status, Header: http.Header{"Content-Type": {a.contentType}},
		Body: io.NopCloser(strings.NewReader(a.body)), ContentLength: int64(len(a.body)), Request: req}, nil
}

// srcTokens returns Bearer tokens issued at issued that live for life.
func srcTokens(at, rt string, issued time.Time, life time.Duration) *Tokens {
	return &Tokens{AccessToken: at, TokenType: "Bearer", RefreshToken: rt, IssuedAt: issued, ExpiresAt: issued.Add(life)}
}

// srcExpired returns tokens whose access token expired an hour ago.
func srcExpired(at, rt string) *Tokens {
	return srcTokens(at, rt, time.Now().Add(-2*time.Hour), time.Hour)
}

// srcAhead returns tokens 15 s before their expiry: inside the default leeway,
// still valid.
func srcAhead(at, rt string) *Tokens {
	return srcTokens(at, rt, time.Now().Add(-time.Hour+15*time.Second), time.Hour)
}

type srcResult struct {
	tok *Tokens
	err error
}

// srcCallers is a group of goroutines calling Token once each.
type srcCallers struct {
	wg   sync.WaitGroup
	done atomic.Int32
	res  []srcResult
}

// srcCall starts n goroutines that each call src.Token(ctx) once.
func srcCall(ctx context.Context, src *Source, n int) *srcCallers {
	g := &srcCallers{res: make([]srcResult, n)}
	for i := range n {
		g.wg.Go(func() {
			tok, err := src.Token(ctx)
			g.res[i] = srcResult{tok, err}
			g.done.Add(1)
		})
	}
	return g
}

func (g *srcCallers) returned() int { return int(g.done.Load()) }

func (g *srcCallers) wait() []srcResult { g.wg.Wait(); return g.res }

// srcWantAll checks that every call got access token at.
func srcWantAll(t *testing.T, res []srcResult, at string) {
	t.Helper()
	for i, r := range res {
		if r.err != nil || srcAccessToken(r.tok) != at {
			t.Fatalf("caller %d got (%q, %v), want %s", i, srcAccessToken(r.tok), r.err, at)
		}
	}
}

// srcAccessToken is tok's access token, or "" for nil.
func srcAccessToken(tok *Tokens) string {
	if tok == nil {
		return ""
	}
	return tok.AccessToken
}

func srcMustToken(t *testing.T, src *Source) *Tokens {
	t.Helper()
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

// srcWantToken checks that Token returns access token want.
func srcWantToken(t *testing.T, src *Source, want string) {
	t.Helper()
	if got := srcAccessToken(srcMustToken(t, src)); got != want {
		t.Errorf("Token = %q, want %s", got, want)
	}
}

func srcWantRequests(t *testing.T, e *srcEndpoint, want int) {
	t.Helper()
	if got := e.requests(); got != want {
		t.Errorf("token requests = %d, want %d (refresh tokens sent: %q)", got, want, e.sent())
	}
}

// srcWantSent checks the refresh tokens e received, in order.
func srcWantSent(t *testing.T, e *srcEndpoint, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, e.sent(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("refresh tokens sent (-want +got):\n%s", diff)
	}
}

// srcStore wraps a MemoryStore: it counts and records the calls, can fail
// them, can hold Save, and runs onLoad after each Load.
type srcStore struct {
	mem          *MemoryStore
	loads, saves atomic.Int32

	mu       sync.Mutex
	saveErr  error
	loadErr  error
	saveGate chan struct{}
	saved    []*Tokens
	onLoad   func(n int) // after the n-th Load (from 1)
}

var (
	errSrcSave = errors.New("test store: save failed")
	errSrcLoad = errors.New("test store: load failed")
)

func srcNewStore(initial *Tokens) *srcStore { return &srcStore{mem: NewMemoryStore(initial)} }

func (s *srcStore) Load(ctx context.Context) (*Tokens, error) {
	n := int(s.loads.Add(1))
	s.mu.Lock()
	err, onLoad := s.loadErr, s.onLoad
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t, _ := s.mem.Load(ctx)
	if onLoad != nil {
		onLoad(n)
	}
	return t, nil
}

func (s *srcStore) Save(ctx context.Context, t *Tokens) error {
	s.saves.Add(1)
	s.mu.Lock()
	s.saved = append(s.saved, copyTokens(t))
	err, gate := s.saveErr, s.saveGate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if err != nil {
		return err
	}
	return s.mem.Save(ctx, t)
}

func (s *srcStore) setSaveErr(err error) { s.mu.Lock(); s.saveErr = err; s.mu.Unlock() }
func (s *srcStore) setLoadErr(err error) { s.mu.Lock(); s.loadErr = err; s.mu.Unlock() }
func (s *srcStore) holdSave()            { s.mu.Lock(); s.saveGate = make(chan struct{}); s.mu.Unlock() }
func (s *srcStore) releaseSave()         { s.mu.Lock(); close(s.saveGate); s.saveGate = nil; s.mu.Unlock() }

func (s *srcStore) savedTokens() []*Tokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Tokens(nil), s.saved...)
}

// stored returns the access and refresh token the store holds.
func (s *srcStore) stored() (at, rt string) {
	tok, _ := s.mem.Load(context.Background())
	if tok == nil {
		return "", ""
	}
	return tok.AccessToken, tok.RefreshToken
}

func (s *srcStore) wantStored(t *testing.T, at, rt string) {
	t.Helper()
	if gotAT, gotRT := s.stored(); gotAT != at || gotRT != rt {
		t.Errorf("store holds (%q, %q), want (%q, %q)", gotAT, gotRT, at, rt)
	}
}

func TestSourceOneRefreshForManyGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := srcNewEndpoint(srcRotating)
		e.hold()
		src := NewSource(e.client(), srcExpired("at-0", "rt-0"))
		g := srcCall(t.Context(), src, 1000)
		synctest.Wait()
		srcWantRequests(t, e, 1)
		if n := g.returned(); n != 0 {
			t.Errorf("%d callers returned while the refresh was at the server, want 0", n)
		}
		e.release()
		res := g.wait()
		srcWantAll(t, res, "at-1")
		for i, r := range res {
			if r.tok != res[0].tok {
				t.Fatalf("caller %d got a *Tokens of its own, want the shared one", i)
			}
		}
		if srcMustToken(t, src) != res[0].tok {
			t.Errorf("a later Token did not return the cached tokens")
		}
		srcWantSent(t, e, "rt-0")
	})
}

func TestSourceFailureAnswersAllWaitersAndBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		backoffs := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60} // seconds, up to a minute
		e := srcNewEndpoint(func(n int, _ string) srcAnswer {
			if n <= len(backoffs) {
				return srcOAuthFailure(http.StatusBadRequest, "invalid_request")
			}
			return srcGrant("at-ok", "rt-ok", 3600, "")
		})
		e.hold()
		src := NewSource(e.client(), srcExpired("at-0", "rt-0"))
		g := srcCall(t.Context(), src, 100)
		synctest.Wait()
		e.release()
		res := g.wait()
		first := res[0].err
		var oe *OAuthError
		if !errors.As(first, &oe) || !errors.Is(first, ErrInvalidRequest) {
			t.Fatalf("Token error = %v, want an *OAuthError invalid_request", first)
		}
		for i, r := range res {
			if r.tok != nil || r.err != first {
				t.Fatalf("waiter %d got (%v, %v), want the shared error", i, r.tok, r.err)
			}
		}
		srcWantRequests(t, e, 1)

		for i, b := range backoffs {
			b *= time.Second
			time.Sleep(b - time.Millisecond)
			if _, err := src.Token(t.Context()); err == nil || e.requests() != i+1 {
				t.Fatalf("%v after failure %d: error %v and %d requests, want the error and no request (backoff %v)",
					b-time.Millisecond, i+1, err, e.requests(), b)
			}
			time.Sleep(time.Millisecond)
			_, err := src.Token(t.Context())
			if e.requests() != i+2 || (err == nil) != (i == len(backoffs)-1) {
				t.Fatalf("at the end of backoff %d: error %v and %d requests, want a new request", i+1, err, e.requests())
			}
		}
		srcWantToken(t, src, "at-ok")
	})
}

func TestSourceCancelledWaiter(t *testing.T) {
	tests := []struct {
		name string
		// ctx returns the first waiter's context and what ends its wait.
		ctx  func(parent context.Context) (context.Context, func())
		want error
	}{
		{"cancelled", func(parent context.Context) (context.Context, func()) {
			return context.WithCancel(parent)
		}, context.Canceled},
		{"deadline", func(parent context.Context) (context.Context, func()) {
			ctx, cancel := context.WithTimeout(parent, 5*time.Second)
			return ctx, func() { time.Sleep(6 * time.Second); cancel() }
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(srcRotating)
				e.hold()
				src := NewSource(e.client(), srcExpired("at-0", "rt-0"))
				// The waiter that gives up is the one that started the refresh.
				ctx, end := tt.ctx(t.Context())
				quitter := srcCall(ctx, src, 1)
				synctest.Wait()
				others := srcCall(t.Context(), src, 10)
				end()
				synctest.Wait()
				if quitter.returned() != 1 || others.returned() != 0 {
					t.Fatalf("%d quitter and %d other waiters returned while the refresh was at the server, want 1 and 0",
						quitter.returned(), others.returned())
				}
				if q := quitter.wait()[0]; q.tok != nil || !errors.Is(q.err, tt.want) {
					t.Errorf("the quitter got (%v, %v), want an error wrapping %v", q.tok, q.err, tt.want)
				}
				if err := e.lastContext().Err(); err != nil {
					t.Errorf("the refresh request's context ended with the waiter's: %v", err)
				}
				e.release()
				srcWantAll(t, others.wait(), "at-1")
				srcWantToken(t, src, "at-1")
				srcWantRequests(t, e, 1)
			})
		})
	}
}

func TestSourceRefreshTimeout(t *testing.T) {
	tests := []struct {
		name string
		opts []SourceOption
		want time.Duration
	}{
		{"default", nil, DefaultRefreshTimeout},
		{"WithRefreshTimeout", []SourceOption{WithRefreshTimeout(5 * time.Second)}, 5 * time.Second},
		{"WithRefreshTimeout(0) keeps the default", []SourceOption{WithRefreshTimeout(0)}, DefaultRefreshTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(srcRotating)
				e.hold() // never released: only the timeout ends the request
				src := NewSource(e.client(), srcExpired("at-0", "rt-0"), tt.opts...)
				start := time.Now()
				for i, r := range srcCall(t.Context(), src, 3).wait() {
					if r.tok != nil || !errors.Is(r.err, context.DeadlineExceeded) {
						t.Errorf("waiter %d got (%v, %v), want context.DeadlineExceeded", i, r.tok, r.err)
					}
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("the waiters were answered after %v of fake time, want %v", got, tt.want)
				}
				srcWantRequests(t, e, 1)
			})
		})
	}
}

func TestSourceSavesBeforeTheTokenIsVisible(t *testing.T) {
	tests := []struct {
		name    string
		initial func() *Tokens
		during  string // what callers get while Save runs: "" when they wait
	}{
		{"no valid token: callers wait for Save", func() *Tokens { return srcExpired("at-0", "rt-0") }, ""},
		{"refresh ahead: callers keep the old token while Save runs", func() *Tokens { return srcAhead("at-0", "rt-0") }, "at-0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(srcRotating)
				st := srcNewStore(nil)
				st.holdSave()
				src := NewSource(e.client(), tt.initial(), WithStore(st))
				g := srcCall(t.Context(), src, 10)
				synctest.Wait()
				if saved := st.savedTokens(); len(saved) != 1 || saved[0].AccessToken != "at-1" || saved[0].RefreshToken != "rt-1" {
					t.Fatalf("Save calls during the refresh: %v, want one with (at-1, rt-1)", saved)
				}
				if tt.during == "" {
					if n := g.returned(); n != 0 {
						t.Errorf("%d callers returned while Save was running, want 0", n)
					}
				} else {
					srcWantAll(t, g.wait(), tt.during)
					srcWantToken(t, src, tt.during)
				}
				st.releaseSave()
				g.wait()
				synctest.Wait()
				if tt.during == "" {
					srcWantAll(t, g.res, "at-1")
				}
				srcWantToken(t, src, "at-1")
				st.wantStored(t, "at-1", "rt-1")
				srcWantRequests(t, e, 1)
			})
		})
	}
}

func TestSourceFailedSaveLosesNothing(t *testing.T) {
	// srcSaveFails returns a Source whose first refresh (rt-0 into rt-1) could
	// not be saved, after checking that Token reported it.
	srcSaveFails := func(t *testing.T, answer func(int, string) srcAnswer) (*Source, *srcEndpoint, *srcStore) {
		t.Helper()
		e := srcNewEndpoint(answer)
		initial := srcExpired("at-0", "rt-0")
		st := srcNewStore(initial)
		st.setSaveErr(errSrcSave)
		src := NewSource(e.client(), initial, WithStore(st))
		var se *StoreError
		if _, err := src.Token(t.Context()); !errors.As(err, &se) || se.Op != "save" || !errors.Is(err, errSrcSave) {
			t.Fatalf("Token error = %v, want a *StoreError save wrapping the store's error", err)
		}
		return src, e, st
	}

	t.Run("the new tokens are kept and saved after a backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src, e, st := srcSaveFails(t, srcRotating)
			srcWantToken(t, src, "at-1")
			if got := st.saves.Load(); got != 1 {
				t.Errorf("Save calls within the 1 s backoff = %d, want 1", got)
			}
			st.setSaveErr(nil)
			time.Sleep(minBackoff)
			srcWantToken(t, src, "at-1")
			synctest.Wait()
			st.wantStored(t, "at-1", "rt-1")
			time.Sleep(time.Hour)
			srcWantToken(t, src, "at-2")
			srcWantSent(t, e, "rt-0", "rt-1")
		})
	})

	t.Run("while saving fails an expired token is refreshed with the unsaved refresh token", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src, e, _ := srcSaveFails(t, srcRotating)
			time.Sleep(2 * time.Hour)
			if _, err := src.Token(t.Context()); !errors.As(err, new(*StoreError)) {
				t.Errorf("Token after at-1 expired: error = %v, want a *StoreError", err)
			}
			srcWantToken(t, src, "at-2")
			srcWantSent(t, e, "rt-0", "rt-1")
		})
	})

	t.Run("invalid_grant for the unsaved refresh token does not send the spent one from the store", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The store still holds rt-0, which the Source spent: presenting
			// it again is reuse, which servers punish by revoking the grant.
			src, e, _ := srcSaveFails(t, func(n int, rt string) srcAnswer {
				if n == 1 {
					return srcGrant("at-1", "rt-1", 3600, "")
				}
				return srcOAuthFailure(http.StatusBadRequest, "invalid_grant")
			})
			time.Sleep(2 * time.Hour)
			if _, err := src.Token(t.Context()); !errors.Is(err, ErrInvalidGrant) {
				t.Errorf("Token after rt-1 was revoked: error = %v, want ErrInvalidGrant", err)
			}
			srcWantSent(t, e, "rt-0", "rt-1")
		})
	})
}

func TestSourceRotation(t *testing.T) {
	rtExpiry := time.Date(2000, time.March, 1, 0, 0, 0, 0, time.UTC)
	type view struct {
		AccessToken, RefreshToken string
		Scopes                    []string
		RefreshTokenExpiresAt     time.Time
	}
	tests := []struct {
		name  string
		first srcAnswer
		want  view // after the first refresh; want.RefreshToken is sent next
	}{
		{"a new refresh token replaces the old one", srcGrant("at-1", "rt-1", 3600, "read"),
			view{"at-1", "rt-1", []string{"read"}, time.Time{}}},
		{"without a new refresh token the old one, its expiry and the scope are kept", srcGrant("at-1", "", 3600, ""),
			view{"at-1", "rt-0", []string{"read", "write"}, rtExpiry}},
		{"a new scope alone replaces the scope only", srcGrant("at-1", "", 3600, "read"),
			view{"at-1", "rt-0", []string{"read"}, rtExpiry}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(func(n int, rt string) srcAnswer {
					if n == 1 {
						return tt.first
					}
					return srcGrant("at-2", "", 3600, "")
				})
				st := srcNewStore(nil)
				initial := srcExpired("at-0", "rt-0")
				initial.Scopes, initial.RefreshTokenExpiresAt = []string{"read", "write"}, rtExpiry
				src := NewSource(e.client(), initial, WithStore(st))
				tok := srcMustToken(t, src)
				saved := st.savedTokens()[0]
				for name, got := range map[string]*Tokens{"Token": tok, "Save": saved} {
					if diff := cmp.Diff(tt.want, view{got.AccessToken, got.RefreshToken, got.Scopes, got.RefreshTokenExpiresAt}); diff != "" {
						t.Errorf("tokens from %s after the first refresh (-want +got):\n%s", name, diff)
					}
				}
				time.Sleep(time.Hour)
				srcWantToken(t, src, "at-2")
				srcWantSent(t, e, "rt-0", tt.want.RefreshToken)
			})
		})
	}
}

func TestSourceInvalidGrantIsFinal(t *testing.T) {
	refusals := []struct {
		name   string
		answer srcAnswer
		target error
	}{
		{"invalid_grant", srcOAuthFailure(http.StatusBadRequest, "invalid_grant"), ErrInvalidGrant},
		{"GitHub's bad_refresh_token with HTTP 200", srcOAuthFailure(http.StatusOK, "bad_refresh_token"), ErrorCode("bad_refresh_token")},
	}
	for _, rf := range refusals {
		for _, withStore := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, store %v", rf.name, withStore), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					e := srcNewEndpoint(func(n int, rt string) srcAnswer {
						if rt == "rt-new" {
							return srcGrant("at-2", "rt-2", 3600, "")
						}
						return rf.answer
					})
					initial := srcExpired("at-0", "rt-0")
					var opts []SourceOption
					if withStore {
						opts = append(opts, WithStore(NewMemoryStore(initial)))
					}
					src := NewSource(e.client(), initial, opts...)
					if _, err := src.Token(t.Context()); !errors.Is(err, rf.target) {
						t.Fatalf("Token error = %v, want %v", err, rf.target)
					}
					// Past every backoff, for hours: never another request.
					for _, d := range []time.Duration{time.Second, 2 * time.Second, time.Minute, time.Hour, 24 * time.Hour} {
						time.Sleep(d)
						if _, err := src.Token(t.Context()); !errors.Is(err, rf.target) {
							t.Errorf("Token %v later: error = %v, want %v", d, err, rf.target)
						}
					}
					srcWantSent(t, e, "rt-0")
					// SetTokens clears it: the new tokens are used, then refreshed.
					if err := src.SetTokens(t.Context(), srcTokens("at-new", "rt-new", time.Now(), time.Hour)); err != nil {
						t.Fatalf("SetTokens: %v", err)
					}
					srcWantToken(t, src, "at-new")
					time.Sleep(time.Hour)
					srcWantToken(t, src, "at-2")
					srcWantSent(t, e, "rt-0", "rt-new")
				})
			})
		}
	}

	t.Run("a store that gets a different refresh token lifts it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(func(n int, rt string) srcAnswer {
				if rt == "rt-other" {
					return srcGrant("at-2", "rt-2", 3600, "")
				}
				return srcOAuthFailure(http.StatusBadRequest, "invalid_grant")
			})
			initial := srcExpired("at-0", "rt-0")
			st := NewMemoryStore(initial)
			src := NewSource(e.client(), initial, WithStore(st))
			if _, err := src.Token(t.Context()); !errors.Is(err, ErrInvalidGrant) {
				t.Fatalf("Token error = %v, want ErrInvalidGrant", err)
			}
			// Another process signs the user in again and stores its tokens.
			_ = st.Save(t.Context(), srcExpired("at-other", "rt-other"))
			time.Sleep(minBackoff)
			srcWantToken(t, src, "at-2")
			srcWantSent(t, e, "rt-0", "rt-other")
		})
	})

	t.Run("invalid_grant for a refresh token adopted from the store is final too", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(func(int, string) srcAnswer { return srcOAuthFailure(http.StatusBadRequest, "invalid_grant") })
			now := time.Now()
			// Another process rotated rt-0 into rt-other, which is then revoked.
			st := NewMemoryStore(srcTokens("at-other", "rt-other", now.Add(-2*time.Hour), time.Hour))
			src := NewSource(e.client(), srcTokens("at-0", "rt-0", now.Add(-3*time.Hour), time.Hour), WithStore(st))
			for _, d := range []time.Duration{0, time.Second, 2 * time.Second, time.Minute, time.Hour} {
				time.Sleep(d)
				if _, err := src.Token(t.Context()); !errors.Is(err, ErrInvalidGrant) {
					t.Errorf("Token %v later: error = %v, want ErrInvalidGrant", d, err)
				}
			}
			srcWantSent(t, e, "rt-other")
		})
	})
}

func TestSourceSharedStore(t *testing.T) {
	t.Run("two Sources sharing a store never send a refresh token the other has spent", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			initial := srcExpired("at-0", "rt-0")
			st := NewMemoryStore(initial)
			a := NewSource(e.client(), initial, WithStore(st))
			b := NewSource(e.client(), initial, WithStore(st))
			srcWantToken(t, a, "at-1")
			srcWantToken(t, b, "at-1")
			srcWantSent(t, e, "rt-0")
			time.Sleep(time.Hour)
			srcWantToken(t, b, "at-2")
			srcWantToken(t, a, "at-2")
			srcWantSent(t, e, "rt-0", "rt-1")
		})
	})

	tests := []struct {
		name       string
		otherFresh bool // the other process's access token is still valid
		want       string
		wantSent   []string
	}{
		{"after invalid_grant tokens rotated meanwhile are reloaded and refreshed once", false, "at-2", []string{"rt-0", "rt-B"}},
		{"after invalid_grant fresh tokens rotated meanwhile are used as they are", true, "at-B", []string{"rt-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(func(n int, rt string) srcAnswer {
					if rt == "rt-B" {
						return srcGrant("at-2", "rt-2", 3600, "")
					}
					return srcOAuthFailure(http.StatusBadRequest, "invalid_grant") // rt-0 was spent by B
				})
				initial := srcExpired("at-0", "rt-0")
				st := srcNewStore(initial)
				other := srcTokens("at-B", "rt-B", time.Now(), time.Hour)
				if !tt.otherFresh {
					other.ExpiresAt = other.IssuedAt
				}
				st.onLoad = func(n int) {
					if n == 1 { // between our Load and our request
						_ = st.mem.Save(context.Background(), other)
					}
				}
				src := NewSource(e.client(), initial, WithStore(st))
				srcWantToken(t, src, tt.want)
				srcWantToken(t, src, tt.want)
				srcWantSent(t, e, tt.wantSent...)
				if at, _ := st.stored(); at != tt.want {
					t.Errorf("store holds %q, want %q", at, tt.want)
				}
			})
		})
	}
}

func TestSourceLeeway(t *testing.T) {
	tests := []struct {
		name     string
		life     time.Duration
		opts     []SourceOption
		freshFor time.Duration // no refresh before this, one at it
	}{
		{"default", time.Hour, nil, time.Hour - DefaultLeeway},
		{"capped at half the lifetime", 20 * time.Second, []SourceOption{WithLeeway(30 * time.Second)}, 10 * time.Second},
		{"WithLeeway", time.Hour, []SourceOption{WithLeeway(2 * time.Minute)}, 58 * time.Minute},
		{"WithLeeway(0)", time.Hour, []SourceOption{WithLeeway(0)}, time.Hour},
		{"negative", time.Hour, []SourceOption{WithLeeway(-time.Minute)}, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(func(n int, rt string) srcAnswer {
					if n == 1 {
						return srcGrant("at-1", "rt-1", int(tt.life/time.Second), "")
					}
					return srcRotating(n, rt)
				})
				src := NewSource(e.client(), &Tokens{RefreshToken: "rt-0"}, tt.opts...)
				srcWantToken(t, src, "at-1")
				time.Sleep(tt.freshFor - time.Millisecond)
				srcWantToken(t, src, "at-1")
				synctest.Wait()
				srcWantRequests(t, e, 1)
				time.Sleep(time.Millisecond)
				srcMustToken(t, src)
				synctest.Wait()
				srcWantRequests(t, e, 2)
			})
		})
	}

	t.Run("in the leeway callers get the valid token at once while one refresh runs", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			e.hold()
			src := NewSource(e.client(), srcAhead("at-0", "rt-0"))
			g := srcCall(t.Context(), src, 100)
			synctest.Wait()
			if n := g.returned(); n != 100 {
				t.Errorf("%d of 100 callers returned while the refresh was at the server, want all", n)
			}
			srcWantAll(t, g.wait(), "at-0")
			e.release()
			synctest.Wait()
			srcWantToken(t, src, "at-1")
			srcWantRequests(t, e, 1)
		})
	})

	t.Run("in the leeway callers take no lock while the refresh runs", func(t *testing.T) {
		// Real time: synctest does not count a goroutine blocked on a mutex
		// as idle. The timeout only bounds a hang.
		e := srcNewEndpoint(srcRotating)
		e.hold()
		src := NewSource(e.client(), srcAhead("at-0", "rt-0"))
		srcWantToken(t, src, "at-0")
		got := make(chan *Tokens, 1)
		src.mu.Lock()
		go func() { tok, _ := src.Token(t.Context()); got <- tok }()
		select {
		case tok := <-got:
			if srcAccessToken(tok) != "at-0" {
				t.Errorf("Token during the refresh = %q, want at-0", srcAccessToken(tok))
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Token waited for the Source's lock although its token is valid")
		}
		f := src.flight
		src.mu.Unlock()
		e.release()
		<-f.done
		srcWantToken(t, src, "at-1")
	})

	t.Run("a failed refresh ahead keeps the valid token and is retried after the backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(func(n int, rt string) srcAnswer {
				if n == 1 {
					return srcAnswer{status: http.StatusBadGateway, body: "bad gateway"}
				}
				return srcRotating(n, rt)
			})
			src := NewSource(e.client(), srcAhead("at-0", "rt-0"))
			for range 3 {
				srcWantToken(t, src, "at-0")
				synctest.Wait()
			}
			srcWantRequests(t, e, 1)
			time.Sleep(minBackoff)
			srcMustToken(t, src)
			synctest.Wait()
			srcWantToken(t, src, "at-2")
		})
	})
}

// srcWantConfigError checks for a *ConfigError that wraps cause (when non-nil).
func srcWantConfigError(cause error) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.As(err, new(*ConfigError)) || cause != nil && !errors.Is(err, cause) {
			t.Errorf("error = %v (%T), want a *ConfigError wrapping %v", err, err, cause)
		}
	}
}

// srcWantStoreError checks for a *StoreError of op that wraps cause.
func srcWantStoreError(op string, cause error) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var se *StoreError
		if !errors.As(err, &se) || se.Op != op || !errors.Is(err, cause) {
			t.Errorf("error = %v (%T), want a *StoreError %s wrapping %v", err, err, op, cause)
		}
	}
}

func TestSourceInitialTokens(t *testing.T) {
	fresh := func() *srcStore { return srcNewStore(srcTokens("at-S", "rt-S", time.Now(), time.Hour)) }
	expired := func() *srcStore { return srcNewStore(srcExpired("at-S", "rt-S")) }
	failing := func() *srcStore { s := srcNewStore(nil); s.setLoadErr(errSrcLoad); return s }
	tests := []struct {
		name     string
		nilCli   bool
		initial  func() *Tokens   // nil: a nil initial
		store    func() *srcStore // nil: no store
		wantAT   string
		wantErr  func(t *testing.T, err error)
		wantSent []string
	}{
		{name: "nil initial, store with fresh tokens: used without a request", store: fresh, wantAT: "at-S"},
		{name: "ours expired, store with fresh tokens from another process: adopted", store: fresh, wantAT: "at-S",
			initial: func() *Tokens { return srcExpired("at-0", "rt-0") }},
		{name: "nil initial, store with expired tokens: refreshed with the stored refresh token", store: expired,
			wantAT: "at-1", wantSent: []string{"rt-S"}},
		{name: "nil initial, empty store", store: func() *srcStore { return srcNewStore(nil) },
			wantErr: srcWantConfigError(ErrNoRefreshToken)},
		{name: "nil initial, failing store", store: failing, wantErr: srcWantStoreError("load", errSrcLoad)},
		{name: "nil initial, no store", wantErr: srcWantConfigError(ErrNoRefreshToken)},
		{name: "expired without a refresh token", wantErr: srcWantConfigError(ErrNoRefreshToken), initial: func() *Tokens {
			return &Tokens{AccessToken: "at-0", TokenType: "Bearer", ExpiresAt: time.Now().Add(-time.Minute)}
		}},
		{name: "without expiry: used as they are", wantAT: "at-0",
			initial: func() *Tokens { return &Tokens{AccessToken: "at-0", TokenType: "Bearer", RefreshToken: "rt-0"} }},
		{name: "a nil Client", nilCli: true, wantErr: srcWantConfigError(nil),
			initial: func() *Tokens { return &Tokens{RefreshToken: "rt-0"} }},
		{name: "a nil Client with a store", nilCli: true, store: expired, wantErr: srcWantConfigError(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(srcRotating)
				c := e.client()
				if tt.nilCli {
					c = nil
				}
				var opts []SourceOption
				if tt.store != nil {
					opts = append(opts, WithStore(tt.store()))
				}
				var initial *Tokens
				if tt.initial != nil {
					initial = tt.initial()
				}
				src := NewSource(c, initial, opts...)
				for i := range 2 { // the second call answers the same way
					tok, err := src.Token(t.Context())
					if tt.wantErr != nil {
						if tok != nil {
							t.Errorf("call %d: Token returned %q with the error", i+1, tok.AccessToken)
						}
						tt.wantErr(t, err)
					} else if err != nil || tok.AccessToken != tt.wantAT {
						t.Errorf("call %d: Token = (%q, %v), want %q", i+1, srcAccessToken(tok), err, tt.wantAT)
					}
				}
				srcWantSent(t, e, tt.wantSent...)
			})
		})
	}

	t.Run("nil initial with an empty store adopts tokens stored later, after the backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			st := NewMemoryStore(nil)
			src := NewSource(e.client(), nil, WithStore(st))
			if _, err := src.Token(t.Context()); !errors.Is(err, ErrNoRefreshToken) {
				t.Fatalf("Token error = %v, want ErrNoRefreshToken", err)
			}
			_ = st.Save(t.Context(), srcTokens("at-S", "rt-S", time.Now(), time.Hour))
			time.Sleep(minBackoff)
			srcWantToken(t, src, "at-S")
			srcWantRequests(t, e, 0)
		})
	})
}

func TestSourceInvalidate(t *testing.T) {
	t.Run("the current token: the next Token refreshes; an old one: nothing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			src := NewSource(e.client(), srcTokens("at-0", "rt-0", time.Now(), time.Hour))
			old := srcMustToken(t, src)
			src.Invalidate(old)
			srcWantToken(t, src, "at-1")
			time.Sleep(minRefreshInterval) // past the interval that shields at-1 from any rejection
			src.Invalidate(old)
			src.Invalidate(&Tokens{AccessToken: "some other token"})
			src.Invalidate(nil)
			srcWantToken(t, src, "at-1")
			srcWantSent(t, e, "rt-0")
		})
	})

	t.Run("a token still waiting to be saved: the save retry does not bring it back", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			initial := srcExpired("at-0", "rt-0")
			st := srcNewStore(initial)
			st.setSaveErr(errSrcSave)
			src := NewSource(e.client(), initial, WithStore(st))
			if _, err := src.Token(t.Context()); !errors.As(err, new(*StoreError)) {
				t.Fatalf("Token error = %v, want a *StoreError", err)
			}
			rejected := srcMustToken(t, src)
			st.setSaveErr(nil)
			src.Invalidate(rejected)
			time.Sleep(minBackoff)
			srcWantToken(t, src, "at-2")
			srcWantSent(t, e, "rt-0", "rt-1")
		})
	})

	t.Run("50 goroutines invalidating the same token cause one refresh", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			e.hold()
			src := NewSource(e.client(), srcTokens("at-0", "rt-0", time.Now(), time.Hour))
			old := srcMustToken(t, src)
			res := make([]srcResult, 50)
			var wg sync.WaitGroup
			for i := range res {
				wg.Go(func() {
					src.Invalidate(old)
					tok, err := src.Token(t.Context())
					res[i] = srcResult{tok, err}
				})
			}
			synctest.Wait()
			e.release()
			wg.Wait()
			srcWantAll(t, res, "at-1")
			srcWantRequests(t, e, 1)
		})
	})
}

func TestSourceSetTokens(t *testing.T) {
	t.Run("the tokens set are saved and used without a request", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			st := srcNewStore(nil)
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"), WithStore(st))
			if err := src.SetTokens(t.Context(), srcTokens("at-set", "rt-set", time.Now(), time.Hour)); err != nil {
				t.Fatalf("SetTokens: %v", err)
			}
			st.wantStored(t, "at-set", "rt-set")
			srcWantToken(t, src, "at-set")
			srcWantRequests(t, e, 0)
		})
	})

	t.Run("SetTokens waits for a refresh in progress and wins over it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			e.hold()
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"))
			g := srcCall(t.Context(), src, 1)
			synctest.Wait()
			setErr := make(chan error, 1)
			go func() { setErr <- src.SetTokens(t.Context(), srcTokens("at-set", "rt-set", time.Now(), time.Hour)) }()
			synctest.Wait()
			if len(setErr) != 0 {
				t.Errorf("SetTokens returned while a refresh was in progress")
			}
			e.release()
			if err := <-setErr; err != nil {
				t.Fatalf("SetTokens: %v", err)
			}
			srcWantAll(t, g.wait(), "at-1")
			srcWantToken(t, src, "at-set")
		})
	})

	t.Run("a refresh token alone set while a caller waits is refreshed for that caller", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			st := srcNewStore(nil)
			st.holdSave()
			src := NewSource(e.client(), nil, WithStore(st))
			setErr := make(chan error, 1)
			go func() { setErr <- src.SetTokens(t.Context(), &Tokens{RefreshToken: "rt-new"}) }()
			synctest.Wait() // SetTokens is saving
			g := srcCall(t.Context(), src, 1)
			synctest.Wait()
			if g.returned() != 0 {
				t.Errorf("the caller returned while SetTokens was saving")
			}
			st.releaseSave()
			if err := <-setErr; err != nil {
				t.Errorf("SetTokens: %v", err)
			}
			srcWantAll(t, g.wait(), "at-1")
			srcWantSent(t, e, "rt-new")
		})
	})

	t.Run("a failing Save is a *StoreError; the tokens are used and saved later", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			st := srcNewStore(nil)
			st.setSaveErr(errSrcSave)
			src := NewSource(e.client(), nil, WithStore(st))
			srcWantStoreError("save", errSrcSave)(t, src.SetTokens(t.Context(), srcTokens("at-set", "rt-set", time.Now(), time.Hour)))
			st.setSaveErr(nil)
			time.Sleep(minBackoff)
			srcWantToken(t, src, "at-set")
			synctest.Wait()
			st.wantStored(t, "at-set", "rt-set")
			srcWantRequests(t, e, 0)
		})
	})

	t.Run("SetTokens gives up waiting when its context ends", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			e.hold()
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"))
			g := srcCall(t.Context(), src, 1)
			synctest.Wait()
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := src.SetTokens(ctx, srcTokens("at-set", "rt-set", time.Now(), time.Hour)); !errors.Is(err, context.Canceled) {
				t.Errorf("SetTokens = %v, want context.Canceled", err)
			}
			e.release()
			g.wait()
		})
	})
}

// srcLogBuffer collects log output from any goroutine.
type srcLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *srcLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *srcLogBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestSourceLogsEventsWithoutSecrets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Long values, so that the client's redaction of echoed secrets applies.
		e := srcNewEndpoint(func(n int, rt string) srcAnswer {
			switch n {
			case 2: // an error that echoes the refresh token and the client secret
				return srcAnswer{status: http.StatusBadRequest, contentType: "application/json",
					body: `{"error":"invalid_request","error_description":"bad ` + rt + ` for ` + srcClientSecret + `"}`}
			case 3:
				return srcGrant("access-secret-2", "refresh-secret-2", 3600, "")
			}
			return srcGrant("access-secret-1", "refresh-secret-1", 3600, "")
		})
		var buf srcLogBuffer
		st := srcNewStore(nil)
		src := NewSource(e.client(), srcExpired("access-secret-0", "refresh-secret-0"), WithStore(st),
			WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))

		srcMustToken(t, src) // refreshed
		time.Sleep(time.Hour)
		st.setLoadErr(errSrcLoad)
		if _, err := src.Token(t.Context()); err == nil { // load failed, refresh failed
			t.Fatal("second Token succeeded, want the endpoint's error")
		}
		st.setLoadErr(nil)
		st.setSaveErr(errSrcSave)
		time.Sleep(minBackoff)
		if _, err := src.Token(t.Context()); err == nil { // store failed
			t.Fatal("third Token succeeded, want a *StoreError")
		}
		st.setSaveErr(nil)
		time.Sleep(minBackoff)
		srcMustToken(t, src) // saved after the failure, in the background
		synctest.Wait()
		// Another process stores newer tokens; ours are rejected.
		_ = st.mem.Save(t.Context(), srcTokens("access-secret-3", "refresh-secret-3", time.Now(), time.Hour))
		src.Invalidate(srcMustToken(t, src))
		srcWantToken(t, src, "access-secret-3") // loaded
		synctest.Wait()

		out := buf.String()
		for _, want := range []string{
			"refreshing token", "token refreshed", "refresh failed", "store load failed", "kept in memory",
			"refresh: tokens saved", "loaded from the store", "duration", "invalid_request",
			errSrcLoad.Error(), errSrcSave.Error(), "reason=expiry", "reason=save_retry", "reason=rejected",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("log output lacks %q", want)
			}
		}
		for _, secret := range []string{"access-secret-0", "access-secret-1", "access-secret-2", "access-secret-3",
			"refresh-secret-0", "refresh-secret-1", "refresh-secret-2", "refresh-secret-3", srcClientSecret} {
			if strings.Contains(out, secret) {
				t.Errorf("log output shows the secret %q", secret)
			}
		}
		if t.Failed() {
			t.Logf("log output:\n%s", out)
		}
	})
}

func TestSourceLogsNothingWithoutALogger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf srcLogBuffer
		prev := slog.Default()
		slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
		defer slog.SetDefault(prev)
		e := srcNewEndpoint(srcRotating)
		srcMustToken(t, NewSource(e.client(), srcExpired("at-0", "rt-0"), WithLogger(nil)))
		synctest.Wait()
		if out := buf.String(); out != "" {
			t.Errorf("slog.Default got %q, want nothing", out)
		}
	})
}

func TestSourceLogsBeforeReleasingWaiters(t *testing.T) {
	// The buffer is read with no lock and no wait after Token returns: the
	// race detector reports it if the line is still being written.
	for i := range 20 {
		e := srcNewEndpoint(srcRotating)
		var buf bytes.Buffer
		src := NewSource(e.client(), srcExpired("at-0", "rt-0"), WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
		srcMustToken(t, src)
		if out := buf.String(); !strings.Contains(out, "token refreshed") {
			t.Fatalf("run %d: after Token returned the log holds %q, want the \"token refreshed\" line", i, out)
		}
	}
}

func TestMemoryStore(t *testing.T) {
	ctx := t.Context()
	tokens := func() *Tokens {
		return &Tokens{AccessToken: "at-0", TokenType: "Bearer", RefreshToken: "rt-0", Scopes: []string{"read"}}
	}
	wantLoad := func(t *testing.T, s *MemoryStore, want *Tokens) *Tokens {
		t.Helper()
		got, err := s.Load(ctx)
		if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Tokens{})); err != nil || diff != "" {
			t.Errorf("Load error %v, (-want +got):\n%s", err, diff)
		}
		return got
	}

	t.Run("empty: the zero value, NewMemoryStore(nil), after Save(nil)", func(t *testing.T) {
		emptied := NewMemoryStore(tokens())
		_ = emptied.Save(ctx, nil)
		for _, s := range []*MemoryStore{new(MemoryStore), NewMemoryStore(nil), emptied} {
			wantLoad(t, s, nil)
		}
	})

	t.Run("NewMemoryStore, Load and Save copy the tokens and their scopes", func(t *testing.T) {
		in := tokens()
		s := NewMemoryStore(in)
		in.AccessToken, in.Scopes[0] = "changed", "changed"
		a := wantLoad(t, s, tokens())
		a.AccessToken, a.Scopes[0] = "changed", "changed"
		if b := wantLoad(t, s, tokens()); a == b {
			t.Errorf("two Loads returned the same *Tokens")
		}
		saved := tokens()
		saved.RefreshToken = "rt-1"
		_ = s.Save(ctx, saved)
		saved.RefreshToken, saved.Scopes[0] = "changed", "changed"
		want := tokens()
		want.RefreshToken = "rt-1"
		wantLoad(t, s, want)
	})

	t.Run("concurrent Load and Save are safe", func(t *testing.T) {
		var s MemoryStore
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for j := range 100 {
					_ = s.Save(ctx, &Tokens{AccessToken: fmt.Sprint(i, j)})
					_, _ = s.Load(ctx)
				}
			})
		}
		wg.Wait()
	})
}

func TestStoreFunc(t *testing.T) {
	t.Run("Load finds nothing; Save passes ctx and tokens and returns the error", func(t *testing.T) {
		type key struct{}
		ctx := context.WithValue(t.Context(), key{}, "v")
		in := &Tokens{AccessToken: "at-0"}
		calls := 0
		f := StoreFunc(func(ctx context.Context, tok *Tokens) error {
			calls++
			if tok != in || ctx.Value(key{}) != "v" {
				t.Errorf("the function got (%v, %v), want Save's arguments", ctx, tok)
			}
			return errSrcSave
		})
		if got, err := f.Load(ctx); got != nil || err != nil || calls != 0 {
			t.Errorf("Load = (%v, %v) after %d calls of the function, want (nil, nil) and none", got, err, calls)
		}
		if err := f.Save(ctx, in); err != errSrcSave || calls != 1 {
			t.Errorf("Save = %v, want the function's error", err)
		}
	})

	t.Run("a Source's StoreFunc starts from the initial tokens and gets each new set", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			var saved []string
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"), WithStore(StoreFunc(func(_ context.Context, tok *Tokens) error {
				saved = append(saved, tok.RefreshToken)
				return nil
			})))
			for range 2 {
				srcMustToken(t, src)
				time.Sleep(time.Hour)
			}
			srcWantSent(t, e, "rt-0", "rt-1")
			if diff := cmp.Diff([]string{"rt-1", "rt-2"}, saved); diff != "" {
				t.Errorf("refresh tokens saved (-want +got):\n%s", diff)
			}
		})
	})
}

func TestSourceNilReceiverAndArgumentsAreErrors(t *testing.T) {
	var nilSource *Source
	c := &Client{TokenURL: "https://example.com/token"}
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"Token on a nil Source", func() error { _, err := nilSource.Token(context.Background()); return err }, "Source"},
		{"SetTokens on a nil Source", func() error { return nilSource.SetTokens(context.Background(), &Tokens{}) }, "Source"},
		{"SetTokens with nil tokens", func() error { return NewSource(c, nil).SetTokens(context.Background(), nil) }, "tokens"},
		{"SetTokens with a nil context", func() error {
			//lint:ignore SA1012 a nil context is the bad input under test
			return NewSource(c, nil).SetTokens(nil, &Tokens{})
		}, "ctx"},
		{"Token with a nil context when a refresh is needed", func() error {
			//lint:ignore SA1012 a nil context is the bad input under test
			_, err := NewSource(c, &Tokens{RefreshToken: "rt"}).Token(nil)
			return err
		}, "ctx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ce *ConfigError
			if err := tt.call(); !errors.As(err, &ce) || ce.Field != tt.field {
				t.Errorf("error = %v, want a *ConfigError for %s", err, tt.field)
			}
		})
	}
	// Invalidate cannot fail: on nil, or on a Source without tokens, it does nothing.
	nilSource.Invalidate(&Tokens{AccessToken: "at"})
	NewSource(nil, nil).Invalidate(&Tokens{AccessToken: "at"})
}
