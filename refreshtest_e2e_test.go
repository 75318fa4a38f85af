package refresh_test

// End-to-end tests of Client, Source and Transport against refreshtest, the
// fake authorization server that users' tests use too: each client
// authentication method, rotation and reuse detection, lost responses, expiry,
// the quirks and faults of real servers, and a protected resource.
//
// Every top-level name in this file starts with "e2e" or "TestE2E".

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// e2eClients are registered with every e2e server. Their ids and secrets hold
// characters that form-encoding changes (RFC 6749 §2.3.1), so that an encoding
// mistake on either side shows.
var (
	e2eBasic  = refreshtest.Client{ID: "svc+1 a", Secret: "pa ss+w%rd", Method: refreshtest.AuthClientSecretBasic}
	e2eRaw    = refreshtest.Client{ID: "uaa-app", Secret: "raw secret", Method: refreshtest.AuthClientSecretBasicRaw}
	e2ePost   = refreshtest.Client{ID: "post-app", Secret: "p:st", Method: refreshtest.AuthClientSecretPost}
	e2ePublic = refreshtest.Client{ID: "spa", Method: refreshtest.AuthNone}
)

func e2eServer(t *testing.T, opts ...refreshtest.Option) *refreshtest.Server {
	t.Helper()
	opts = append([]refreshtest.Option{
		refreshtest.WithClient(e2eBasic), refreshtest.WithClient(e2eRaw),
		refreshtest.WithClient(e2ePost), refreshtest.WithClient(e2ePublic),
	}, opts...)
	srv := refreshtest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

// e2eCode is the OAuth error code of err, "" for nil, and "other" for any other
// error.
func e2eCode(err error) string {
	var oe *refresh.OAuthError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &oe):
		return oe.Code
	}
	return "other"
}

func TestE2EAuthMethods(t *testing.T) {
	srv := e2eServer(t)
	tests := []struct {
		name     string
		clientID string
		auth     refresh.Auth
		wantCode string
	}{
		{"ClientSecretBasic", e2eBasic.ID, refresh.ClientSecretBasic(e2eBasic.ID, e2eBasic.Secret), ""},
		{"ClientSecretBasicRaw", e2eRaw.ID, refresh.ClientSecretBasicRaw(e2eRaw.ID, e2eRaw.Secret), ""},
		{"ClientSecretPost", e2ePost.ID, refresh.ClientSecretPost(e2ePost.ID, e2ePost.Secret), ""},
		{"PublicClient", e2ePublic.ID, refresh.PublicClient(e2ePublic.ID), ""},
		{"raw Basic where form-encoded Basic is registered", e2eBasic.ID, refresh.ClientSecretBasicRaw(e2eBasic.ID, e2eBasic.Secret), "invalid_client"},
		{"the body where Basic is registered", e2eBasic.ID, refresh.ClientSecretPost(e2eBasic.ID, e2eBasic.Secret), "invalid_client"},
		{"a wrong secret", e2ePost.ID, refresh.ClientSecretPost(e2ePost.ID, "wrong"), "invalid_client"},
		{"no authentication", e2ePublic.ID, nil, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := srv.IssueRefreshToken(tt.clientID, "read")
			c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: tt.auth}
			tok, err := c.Refresh(t.Context(), rt)
			if got := e2eCode(err); got != tt.wantCode {
				t.Fatalf("Refresh: %v, want code %q", err, tt.wantCode)
			}
			if tt.wantCode != "" {
				if st := srv.State(rt); st != refreshtest.Active {
					t.Errorf("a refused client spent the token: %v", st)
				}
				return
			}
			if srv.State(tok.AccessToken) != refreshtest.Active || srv.State(tok.RefreshToken) != refreshtest.Active || srv.State(rt) != refreshtest.Spent {
				t.Errorf("States: access %v, new refresh %v, old refresh %v", srv.State(tok.AccessToken), srv.State(tok.RefreshToken), srv.State(rt))
			}
		})
	}
}

// TestE2ERequestSent checks the request Client sends, as the server recorded it.
func TestE2ERequestSent(t *testing.T) {
	srv := e2eServer(t)
	rt := srv.IssueRefreshToken(e2eBasic.ID, "read", "write")
	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.ClientSecretBasic(e2eBasic.ID, e2eBasic.Secret)}
	if _, err := c.Refresh(t.Context(), rt, refresh.WithScopes("write")); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	got := map[string]any{
		"method": r.Method, "auth": r.AuthMethod, "id": r.ClientID, "secret": r.ClientSecret,
		"form": map[string][]string(r.Form), "accept": r.Header.Get("Accept"),
	}
	want := map[string]any{
		"method": "POST", "auth": refreshtest.AuthClientSecretBasic, "id": e2eBasic.ID, "secret": e2eBasic.Secret,
		"form":   map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"write"}},
		"accept": "application/json",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestE2ERotationAndScope(t *testing.T) {
	clock := refreshtest.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	srv := e2eServer(t, refreshtest.WithClock(clock.Now), refreshtest.WithRefreshTokenLifetime(24*time.Hour))
	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient(e2ePublic.ID), Now: clock.Now}
	rt := srv.IssueRefreshToken(e2ePublic.ID, "read", "write")

	tok, err := c.Refresh(t.Context(), rt, refresh.WithScopes("read"))
	if err != nil {
		t.Fatal(err)
	}
	got := []any{tok.Scopes, tok.ExpiresAt, tok.RefreshTokenExpiresAt, tok.RefreshToken != rt}
	want := []any{[]string{"read"}, clock.Now().Add(time.Hour), clock.Now().Add(24 * time.Hour), true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Scopes, ExpiresAt, RefreshTokenExpiresAt, rotated (-want +got):\n%s", diff)
	}
	// The narrowed refresh did not narrow the grant; asking wider is refused.
	tok, err = c.Refresh(t.Context(), tok.RefreshToken)
	if err != nil || !cmp.Equal(tok.Scopes, []string{"read", "write"}) {
		t.Errorf("refresh with the grant's scope: %v, scopes %v", err, tok)
	}
	if _, err := c.Refresh(t.Context(), tok.RefreshToken, refresh.WithScopes("admin")); !errors.Is(err, refresh.ErrInvalidScope) {
		t.Errorf("wider scope: %v, want ErrInvalidScope", err)
	}
	clock.Advance(24 * time.Hour)
	if _, err := c.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, refresh.ErrInvalidGrant) {
		t.Errorf("expired refresh token: %v, want ErrInvalidGrant", err)
	}
}

// TestE2ELostResponse: the server rotates the token but the response never
// arrives. Retrying with the spent token is reuse: without a grace period the
// server revokes the session; with one, it answers with the current token.
func TestE2ELostResponse(t *testing.T) {
	for _, tt := range []struct {
		name      string
		opts      []refreshtest.Option
		wantRetry string // the retry's error code
	}{
		{"without grace the retry revokes the session", nil, "invalid_grant"},
		{"with grace the retry gets the current token", []refreshtest.Option{refreshtest.WithReuseGrace(time.Minute)}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := e2eServer(t, tt.opts...)
			c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.ClientSecretPost(e2ePost.ID, e2ePost.Secret)}
			rt := srv.IssueRefreshToken(e2ePost.ID)
			srv.FailNext(1, refreshtest.Fault{CloseConnection: true, AfterRefresh: true})
			if _, err := c.Refresh(t.Context(), rt); e2eCode(err) != "other" {
				t.Fatalf("first refresh: %v, want a transport error", err)
			}
			tok, err := c.Refresh(t.Context(), rt)
			if e2eCode(err) != tt.wantRetry {
				t.Fatalf("retry: %v, want code %q", err, tt.wantRetry)
			}
			if err != nil {
				return
			}
			if _, err := c.Refresh(t.Context(), tok.RefreshToken); err != nil {
				t.Errorf("the token the grace answer gave: %v", err)
			}
		})
	}
}

func e2eFault(f refreshtest.Fault) *refreshtest.Fault { return &f }

func TestE2EQuirksAndFaults(t *testing.T) {
	clock := refreshtest.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	tests := []struct {
		name     string
		quirks   refreshtest.Quirks
		fault    *refreshtest.Fault // for the request, if not nil
		rt       string             // the refresh token sent; "" means one the server issued
		wantType string             // the token type of a success
		wantCode string             // "" for success, "other" for an error that is no *OAuthError
		status   int                // the status of the *OAuthError or *ResponseError; 0 for none
	}{
		{name: "numbers as strings", quirks: refreshtest.Quirks{NumbersAsStrings: true}, wantType: "Bearer"},
		{name: "a form-encoded body with a lowercase token type", quirks: refreshtest.Quirks{FormEncoded: true, TokenType: "bearer"}, wantType: "bearer"},
		{name: "GitHub's errors with HTTP 200", quirks: refreshtest.GitHubQuirks(), rt: "rt_unknown", wantCode: "bad_refresh_token", status: 200},
		// The server said to come back: the default policy retries the 503.
		{name: "a 503 with temporarily_unavailable, retried", fault: e2eFault(refreshtest.StatusFault(503, "temporarily_unavailable")), wantType: "Bearer"},
		{name: "a proxy's HTML 502", fault: e2eFault(refreshtest.HTMLFault(502)), wantCode: "other", status: 502},
		{name: "truncated JSON", fault: e2eFault(refreshtest.TruncatedJSONFault()), wantCode: "other", status: 200},
		{name: "a closed connection", fault: e2eFault(refreshtest.CloseConnectionFault()), wantCode: "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := e2eServer(t, refreshtest.WithClock(clock.Now), refreshtest.WithQuirks(tt.quirks))
			c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient(e2ePublic.ID), Now: clock.Now}
			rt := tt.rt
			if rt == "" {
				rt = srv.IssueRefreshToken(e2ePublic.ID)
			}
			if tt.fault != nil {
				srv.FailNext(1, *tt.fault)
			}
			tok, err := c.Refresh(t.Context(), rt)
			if got := e2eCode(err); got != tt.wantCode {
				t.Fatalf("Refresh = %v, %v; want code %q", tok, err, tt.wantCode)
			}
			if err == nil && (tok.TokenType != tt.wantType || !tok.ExpiresAt.Equal(clock.Now().Add(time.Hour))) {
				t.Errorf("Tokens = %v, want type %q, expiring in an hour", tok, tt.wantType)
			}
			var oe *refresh.OAuthError
			var re *refresh.ResponseError
			status := 0
			if errors.As(err, &oe) {
				status = oe.StatusCode
			} else if errors.As(err, &re) {
				status = re.StatusCode
			}
			if status != tt.status {
				t.Errorf("error = %v: status %d, want %d", err, status, tt.status)
			}
		})
	}
}

// TestE2ETransport runs a Source and Transport against the server's protected
// resource: the access token expires on the server's clock (the client's clock
// does not move, so only the 401 tells), then is revoked; each time the
// Transport refreshes once and retries, and many concurrent requests share one
// refresh. Rotated tokens reach the Store.
func TestE2ETransport(t *testing.T) {
	clock := refreshtest.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	srv := e2eServer(t, refreshtest.WithClock(clock.Now))
	// The client's own clock, which moves only past the Source's minimum
	// interval between a refresh forced by a 401 and the next.
	own := refreshtest.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.ClientSecretBasic(e2eBasic.ID, e2eBasic.Secret), Now: own.Now}
	store := refresh.NewMemoryStore(nil)
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken(e2eBasic.ID, "api")}, refresh.WithStore(store))
	hc := &http.Client{Transport: &refresh.Transport{Source: src}}

	// step sends n requests at once; every one must succeed, the server must
	// have had wantRequests token requests in all, and the Store its current
	// refresh token.
	step := func(name string, n, wantRequests int) {
		t.Helper()
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				resp, err := hc.Get(srv.ResourceURL())
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[i] = resp.StatusCode
			})
		}
		wg.Wait()
		if want := slices.Repeat([]int{200}, n); !slices.Equal(codes, want) {
			t.Errorf("%s: statuses %v, want all 200", name, codes)
		}
		if got := len(srv.Requests()); got != wantRequests {
			t.Errorf("%s: %d token requests in all, want %d", name, got, wantRequests)
		}
		if saved, err := store.Load(t.Context()); err != nil || saved == nil || srv.State(saved.RefreshToken) != refreshtest.Active {
			t.Errorf("%s: the Store does not hold the server's current refresh token", name)
		}
	}

	step("first use", 1, 1)
	clock.Advance(time.Hour) // expired at the server only
	step("after expiry", 8, 2)
	cur, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	srv.Revoke(cur.AccessToken)
	own.Advance(10 * time.Second)
	step("after revocation", 8, 3)
}

// TestE2ESharedGrant: two Sources of one grant (two replicas). Without a shared
// Store, the second presents the refresh token the first already rotated, and
// reuse detection revokes the grant for both; with a shared Store, the second
// adopts the first's tokens.
func TestE2ESharedGrant(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "separate stores: reuse revokes the grant", true: "a shared store: no reuse"}[shared]
		t.Run(name, func(t *testing.T) {
			srv := e2eServer(t, refreshtest.WithAccessTokenLifetime(-1))
			c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient(e2ePublic.ID)}
			initial := &refresh.Tokens{RefreshToken: srv.IssueRefreshToken(e2ePublic.ID)}
			storeA, storeB := refresh.NewMemoryStore(initial), refresh.NewMemoryStore(initial)
			if shared {
				storeB = storeA
			}
			a := refresh.NewSource(c, nil, refresh.WithStore(storeA))
			b := refresh.NewSource(c, nil, refresh.WithStore(storeB))
			if _, err := a.Token(t.Context()); err != nil {
				t.Fatal(err)
			}
			tokB, errB := b.Token(t.Context())
			if shared {
				if errB != nil {
					t.Fatalf("b: %v", errB)
				}
				if srv.State(tokB.AccessToken) != refreshtest.Active || len(srv.Requests()) != 1 {
					t.Errorf("b did not adopt a's tokens: %d token requests", len(srv.Requests()))
				}
				return
			}
			if !errors.Is(errB, refresh.ErrInvalidGrant) {
				t.Fatalf("b: %v, want ErrInvalidGrant", errB)
			}
			saved, _ := storeA.Load(t.Context())
			if st := srv.State(saved.RefreshToken); st != refreshtest.Revoked {
				t.Errorf("a's refresh token after b's reuse: %v, want Revoked", st)
			}
		})
	}
}

// TestE2ESynctest runs a Source against an in-memory server inside a
// testing/synctest bubble: fake time drives both the server's expiry and the
// Source's refresh-ahead, and the test takes no real time.
func TestE2ESynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := refreshtest.NewInMemoryServer(
			refreshtest.WithClient(e2ePublic),
			refreshtest.WithAccessTokenLifetime(10*time.Minute),
			refreshtest.WithQuirks(refreshtest.Quirks{Latency: 2 * time.Second}),
		)
		c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient(e2ePublic.ID), HTTPClient: srv.Client()}
		src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken(e2ePublic.ID)})
		ctx := context.Background()

		start := time.Now()
		first, err := src.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("the first Token waited %v, want the server's latency, 2s", d)
		}
		// Inside the leeway (30s before expiry), Token answers at once with the
		// still-valid token and refreshes in the background.
		time.Sleep(10*time.Minute - 20*time.Second)
		tok, err := src.Token(ctx)
		if err != nil || tok.AccessToken != first.AccessToken {
			t.Fatalf("inside the leeway: %v, same token %v", err, err == nil && tok.AccessToken == first.AccessToken)
		}
		synctest.Wait()
		time.Sleep(2 * time.Second) // the refresh's latency
		synctest.Wait()
		tok, err = src.Token(ctx)
		if err != nil || tok.AccessToken == first.AccessToken {
			t.Fatalf("after the background refresh: %v", err)
		}
		if srv.State(first.AccessToken) != refreshtest.Active || srv.State(tok.AccessToken) != refreshtest.Active {
			t.Errorf("States: first %v, second %v", srv.State(first.AccessToken), srv.State(tok.AccessToken))
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("%d token requests, want 2", n)
		}

		// A Transport over the in-memory server: the resource accepts the
		// token until it expires on the fake clock; after that the Source
		// refreshes before the request goes out.
		hc := &http.Client{Transport: &refresh.Transport{Source: src, Base: srv.Transport()}}
		var got []string
		for range 2 {
			resp, err := hc.Get(srv.ResourceURL())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got = append(got, resp.Status+" "+string(body))
			time.Sleep(time.Hour)
		}
		want := []string{`200 OK {"client_id":"spa","scope":""}` + "\n", `200 OK {"client_id":"spa","scope":""}` + "\n"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("resource answers (-want +got):\n%s", diff)
		}
		if n := len(srv.Requests()); n != 3 {
			t.Errorf("%d token requests, want 3", n)
		}
	})
}
