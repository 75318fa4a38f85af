package interop

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenrefresh/refresh"
)

// The scope every minted refresh token carries unless a test says otherwise.
const oidcScope = "openid offline_access read"

// TestOIDCProvider runs the library against panva's oidc-provider (9.x, Node)
// started from interop/oidc/server.mjs: two servers, one with refresh-token
// rotation and one without. What each subtest observed is written up in
// README.md.
func TestOIDCProvider(t *testing.T) {
	t.Parallel()
	oidcRequireNode(t)

	// Start the Node processes at once: start-up is the slow part.
	args := [][]string{
		{"--rotate=on"},
		{"--rotate=off"},
	}
	servers := make([]*oidcServer, len(args))
	errs := make([]error, len(args))
	var wg sync.WaitGroup
	for i := range args {
		wg.Go(func() { servers[i], errs[i] = oidcStart(t, args[i]...) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	rotating, static := servers[0], servers[1]

	t.Run("each auth method refreshes", func(t *testing.T) {
		t.Parallel()
		oidcTestAuthMethods(t, rotating)
	})
	t.Run("wrong auth method", func(t *testing.T) {
		t.Parallel()
		oidcTestWrongMethod(t, rotating)
	})
	t.Run("rotation", func(t *testing.T) {
		t.Parallel()
		oidcTestRotation(t, rotating)
	})
	t.Run("no rotation", func(t *testing.T) {
		t.Parallel()
		oidcTestNoRotation(t, static)
	})
	t.Run("Source with a Store never presents a used token", func(t *testing.T) {
		t.Parallel()
		oidcTestStore(t, rotating)
	})
	t.Run("scope", func(t *testing.T) {
		t.Parallel()
		oidcTestScopes(t, rotating)
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		oidcTestErrors(t, rotating)
	})
	t.Run("Transport shared by 200 goroutines", func(t *testing.T) {
		t.Parallel()
		oidcTestConcurrent(t, rotating)
	})
	t.Run("Discover and Revoke", func(t *testing.T) { // oidc_revoke_test.go
		t.Parallel()
		oidcTestDiscoverRevoke(t, rotating)
	})
}

// oidcResult is what one refresh against oidc-provider gave, in comparable form.
type oidcResult struct {
	TokenType      string
	Scopes         []string
	Lifetime       time.Duration
	Rotated        bool // a new refresh token, different from the one sent
	IDToken        bool
	ResourceStatus int    // the protected resource's answer to the access token
	ResourceScope  string // the scope the resource found on it
}

func oidcResultOf(t *testing.T, s *oidcServer, sent string, tok *refresh.Tokens) oidcResult {
	t.Helper()
	status, scope := s.resourceScope(t, tok.AccessToken)
	return oidcResult{
		TokenType:      tok.TokenType,
		Scopes:         tok.Scopes,
		Lifetime:       tok.Lifetime(),
		Rotated:        tok.RefreshToken != "" && tok.RefreshToken != sent,
		IDToken:        tok.IDToken != "",
		ResourceStatus: status,
		ResourceScope:  scope,
	}
}

// oidcFailure is how a refresh failed, in comparable form.
type oidcFailure struct {
	Code        string
	Status      int
	Description string
	Challenge   string   // the scheme of WWW-Authenticate, if any
	Detail      []string // the server's internal reasons, see oidcServer.details
}

func oidcFailureOf(t *testing.T, s *oidcServer, sent string, err error) oidcFailure {
	t.Helper()
	var oe *refresh.OAuthError
	if !errors.As(err, &oe) {
		t.Fatalf("got %v, want an *OAuthError", err)
	}
	scheme, _, _ := strings.Cut(oe.WWWAuthenticate, " ")
	return oidcFailure{Code: oe.Code, Status: oe.StatusCode, Description: oe.Description,
		Challenge: scheme, Detail: s.details(t, sent)}
}

// oidcNoSecrets fails t if err's text shows any of the secrets.
func oidcNoSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error text %q shows a secret", err)
		}
	}
}

// The registered method of each client refreshes; the Basic client's secret
// holds + / : % & and spaces, so this also proves the form-encoding of Basic
// credentials (RFC 6749 §2.3.1), which oidc-provider decodes.
func oidcTestAuthMethods(t *testing.T, s *oidcServer) {
	for _, name := range []string{"basic", "post", "public"} {
		t.Run(s.Clients[name].Method, func(t *testing.T) {
			t.Parallel()
			rt := s.mint(t, name, oidcScope)
			tok, err := s.client(s.auth(t, name), nil).Refresh(t.Context(), rt)
			if err != nil {
				t.Fatal(err)
			}
			want := oidcResult{
				TokenType:      "Bearer",
				Scopes:         []string{"openid", "offline_access", "read"},
				Lifetime:       60 * time.Second,
				Rotated:        true,
				IDToken:        true, // the scope has openid
				ResourceStatus: http.StatusOK,
				ResourceScope:  oidcScope,
			}
			if diff := cmp.Diff(want, oidcResultOf(t, s, rt, tok)); diff != "" {
				t.Errorf("refresh (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"ok"}, s.details(t, rt)); diff != "" {
				t.Errorf("server events (-want +got):\n%s", diff)
			}
		})
	}
}

// oidc-provider accepts either secret method from a client registered for the
// other one (both are "a client secret"), but tells secret-less and secret
// methods apart, and refuses Basic credentials that are not form-encoded.
func oidcTestWrongMethod(t *testing.T, s *oidcServer) {
	basic, post, public := s.Clients["basic"], s.Clients["post"], s.Clients["public"]
	tests := []struct {
		name   string
		client string // whose refresh token is sent
		auth   refresh.Auth
		want   *oidcFailure // nil: refreshed
	}{
		{
			name:   "client_secret_basic client sends client_secret_post",
			client: "basic",
			auth:   refresh.ClientSecretPost(basic.ID, basic.Secret),
		},
		{
			name:   "client_secret_post client sends client_secret_basic",
			client: "post",
			auth:   refresh.ClientSecretBasic(post.ID, post.Secret),
		},
		{
			name:   "client_secret_basic client sends only its client_id",
			client: "basic",
			auth:   refresh.PublicClient(basic.ID),
			want: &oidcFailure{Code: "invalid_client", Status: http.StatusUnauthorized,
				Description: "client authentication failed",
				Detail:      []string{"invalid_client: the provided authentication mechanism does not match the registered client authentication method"}},
		},
		{
			name:   "public client sends a secret in the body",
			client: "public",
			auth:   refresh.ClientSecretPost(public.ID, "a-secret"),
			want: &oidcFailure{Code: "invalid_client", Status: http.StatusUnauthorized,
				Description: "client authentication failed",
				Detail:      []string{"invalid_client: the provided authentication mechanism does not match the registered client authentication method"}},
		},
		{
			name:   "public client sends Basic credentials",
			client: "public",
			auth:   refresh.ClientSecretBasic(public.ID, "a-secret"),
			want: &oidcFailure{Code: "invalid_client", Status: http.StatusUnauthorized,
				Description: "client authentication failed", Challenge: "Basic",
				Detail: []string{"invalid_client: the provided authentication mechanism does not match the registered client authentication method"}},
		},
		{
			name:   "client_secret_basic client sends raw Basic credentials",
			client: "basic",
			auth:   refresh.ClientSecretBasicRaw(basic.ID, basic.Secret),
			want: &oidcFailure{Code: "invalid_request", Status: http.StatusBadRequest,
				Description: "client_id and client_secret in the authorization header are not properly encoded",
				Detail:      []string{"invalid_request: URI malformed"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := s.mint(t, tt.client, oidcScope)
			_, err := s.client(tt.auth, nil).Refresh(t.Context(), rt)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want a refresh", err)
				}
				return
			}
			if err == nil {
				t.Fatal("refreshed, want an error")
			}
			if diff := cmp.Diff(*tt.want, oidcFailureOf(t, s, rt, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tt.want.Code == "invalid_client" && !errors.Is(err, refresh.ErrInvalidClient) {
				t.Errorf("errors.Is(%v, ErrInvalidClient) = false", err)
			}
			oidcNoSecrets(t, err, rt, basic.Secret)
			// Refused at client authentication: the refresh token is untouched.
			if _, err := s.client(s.auth(t, tt.client), nil).Refresh(t.Context(), rt); err != nil {
				t.Errorf("the refresh token no longer works with the registered method: %v", err)
			}
		})
	}
}

// With rotation on, the new refresh token works; presenting a spent one fails
// with invalid_grant and revokes the whole grant, the newest refresh token and
// access token included.
func oidcTestRotation(t *testing.T, s *oidcServer) {
	ctx := t.Context()
	c := s.client(s.auth(t, "basic"), nil)
	rt0 := s.mint(t, "basic", oidcScope)
	tok1, err := c.Refresh(ctx, rt0)
	if err != nil {
		t.Fatal(err)
	}
	if tok1.RefreshToken == "" || tok1.RefreshToken == rt0 {
		t.Fatal("no new refresh token with rotation on")
	}
	tok2, err := c.Refresh(ctx, tok1.RefreshToken)
	if err != nil {
		t.Fatalf("the rotated refresh token: %v", err)
	}
	if status, _ := s.resourceScope(t, tok2.AccessToken); status != http.StatusOK {
		t.Fatalf("newest access token before the reuse: HTTP %d", status)
	}

	_, err = c.Refresh(ctx, rt0)
	if !errors.Is(err, refresh.ErrInvalidGrant) {
		t.Fatalf("reusing the first refresh token: got %v, want ErrInvalidGrant", err)
	}
	oidcNoSecrets(t, err, rt0)
	want := oidcFailure{Code: "invalid_grant", Status: http.StatusBadRequest, Description: "grant request is invalid",
		Detail: []string{"ok", "invalid_grant: refresh token already used"}}
	if diff := cmp.Diff(want, oidcFailureOf(t, s, rt0, err)); diff != "" {
		t.Errorf("reuse (-want +got):\n%s", diff)
	}

	_, err = c.Refresh(ctx, tok2.RefreshToken)
	if !errors.Is(err, refresh.ErrInvalidGrant) {
		t.Fatalf("newest refresh token after the reuse: got %v, want ErrInvalidGrant", err)
	}
	want = oidcFailure{Code: "invalid_grant", Status: http.StatusBadRequest, Description: "grant request is invalid",
		Detail: []string{"invalid_grant: refresh token not found"}}
	if diff := cmp.Diff(want, oidcFailureOf(t, s, tok2.RefreshToken, err)); diff != "" {
		t.Errorf("newest refresh token after the reuse (-want +got):\n%s", diff)
	}
	if status, _ := s.resourceScope(t, tok2.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("newest access token after the reuse: HTTP %d, want 401 (grant revoked)", status)
	}
}

// With rotation off, oidc-provider sends the same refresh token back, and it
// keeps working; earlier access tokens stay valid.
func oidcTestNoRotation(t *testing.T, s *oidcServer) {
	ctx := t.Context()
	c := s.client(s.auth(t, "post"), nil)
	rt := s.mint(t, "post", oidcScope)
	var ats []string
	for i := range 3 {
		tok, err := c.Refresh(ctx, rt)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if tok.RefreshToken != rt {
			t.Errorf("refresh %d: a different refresh token came back with rotation off", i)
		}
		ats = append(ats, tok.AccessToken)
	}
	for i, at := range ats {
		if status, _ := s.resourceScope(t, at); status != http.StatusOK {
			t.Errorf("access token %d: HTTP %d, want 200", i, status)
		}
	}
	if diff := cmp.Diff([]string{"ok", "ok", "ok"}, s.details(t, rt)); diff != "" {
		t.Errorf("server events (-want +got):\n%s", diff)
	}
}

// Two Sources share a Store, as two replicas of one service would; the second
// starts from the refresh token it was deployed with, which the first has spent
// already. Every refresh presents the latest refresh token, never a used one.
func oidcTestStore(t *testing.T, s *oidcServer) {
	ctx := t.Context()
	rec := &oidcRecorder{base: http.DefaultTransport}
	c := s.client(s.auth(t, "post"), &http.Client{Transport: rec})
	// The client's clock moves past the Source's minimum interval between a
	// refresh forced by a rejection and the next one before each step.
	var skew atomic.Int64
	c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	rt0 := s.mint(t, "post", oidcScope)
	store := refresh.NewMemoryStore(nil)
	a := refresh.NewSource(c, &refresh.Tokens{RefreshToken: rt0}, refresh.WithStore(store))
	b := refresh.NewSource(c, &refresh.Tokens{RefreshToken: rt0}, refresh.WithStore(store))

	// Each step takes a token from a Source, after marking its current token as
	// rejected (as Transport does after a 401) when invalidate is set.
	steps := []struct {
		src        *refresh.Source
		invalidate bool
		refreshes  int // token requests made so far
	}{
		{a, false, 1}, // a refreshes with rt0
		{a, true, 2},  // a refreshes with rt1
		{b, false, 2}, // b adopts a's tokens from the store: no request
		{b, true, 3},  // b refreshes with rt2
		{a, true, 3},  // a adopts b's tokens from the store: no request
		{a, true, 4},  // a refreshes with rt3
	}
	var last *refresh.Tokens
	for i, st := range steps {
		skew.Add(int64(10 * time.Second))
		if st.invalidate {
			cur, err := st.src.Token(ctx)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			st.src.Invalidate(cur)
		}
		tok, err := st.src.Token(ctx)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := len(rec.Calls()); got != st.refreshes {
			t.Errorf("step %d: %d token requests so far, want %d", i, got, st.refreshes)
		}
		last = tok
	}
	if err := oidcCheckChain(rec.Calls(), rt0); err != nil {
		t.Error(err)
	}
	if status, _ := s.resourceScope(t, last.AccessToken); status != http.StatusOK {
		t.Errorf("last access token: HTTP %d, want 200", status)
	}
}

// WithScopes narrows the access token to a subset; the refresh token keeps the
// whole grant. A scope beyond the grant is invalid_scope, refused before the
// refresh token is used.
func oidcTestScopes(t *testing.T, s *oidcServer) {
	tests := []struct {
		name  string
		mint  string
		ask   []string
		want  *oidcResult  // on success
		fail  *oidcFailure // on failure
		after []string     // the scopes of a refresh without WithScopes afterwards
	}{
		{
			name: "a subset is honoured",
			mint: "openid offline_access read write",
			ask:  []string{"openid", "read"},
			want: &oidcResult{TokenType: "Bearer", Scopes: []string{"openid", "read"}, Lifetime: time.Minute,
				Rotated: true, IDToken: true, ResourceStatus: http.StatusOK, ResourceScope: "openid read"},
			after: []string{"openid", "offline_access", "read", "write"},
		},
		{
			name: "a supported scope beyond the grant is invalid_scope",
			mint: oidcScope,
			ask:  []string{"openid", "read", "write"},
			fail: &oidcFailure{Code: "invalid_scope", Status: http.StatusBadRequest,
				Description: "refresh token missing requested scope",
				Detail:      []string{"invalid_scope"}},
			after: []string{"openid", "offline_access", "read"},
		},
		{
			name: "an unknown scope is invalid_scope",
			mint: oidcScope,
			ask:  []string{"openid", "admin"},
			fail: &oidcFailure{Code: "invalid_scope", Status: http.StatusBadRequest,
				Description: "refresh token missing requested scope",
				Detail:      []string{"invalid_scope"}},
			after: []string{"openid", "offline_access", "read"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := s.client(s.auth(t, "basic"), nil)
			rt := s.mint(t, "basic", tt.mint)
			tok, err := c.Refresh(t.Context(), rt, refresh.WithScopes(tt.ask...))
			next := rt
			switch {
			case tt.want != nil && err != nil:
				t.Fatal(err)
			case tt.want != nil:
				if diff := cmp.Diff(*tt.want, oidcResultOf(t, s, rt, tok)); diff != "" {
					t.Errorf("narrowed refresh (-want +got):\n%s", diff)
				}
				next = tok.RefreshToken
			case err == nil:
				t.Fatal("refreshed, want an error")
			default:
				if diff := cmp.Diff(*tt.fail, oidcFailureOf(t, s, rt, err)); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				if tt.fail.Code == "invalid_scope" && !errors.Is(err, refresh.ErrInvalidScope) {
					t.Errorf("errors.Is(%v, ErrInvalidScope) = false", err)
				}
			}
			tok, err = c.Refresh(t.Context(), next)
			if err != nil {
				t.Fatalf("refresh without WithScopes afterwards: %v", err)
			}
			if diff := cmp.Diff(tt.after, tok.Scopes); diff != "" {
				t.Errorf("scopes of the refresh afterwards (-want +got):\n%s", diff)
			}
		})
	}
}

// An expired or unknown refresh token is invalid_grant; a wrong client secret is
// invalid_client (401). No error text shows the secret or the refresh token.
func oidcTestErrors(t *testing.T, s *oidcServer) {
	basic, post := s.Clients["basic"], s.Clients["post"]
	tests := []struct {
		name   string
		client string // whose refresh token is minted
		rt     func(t *testing.T) string
		auth   refresh.Auth
		is     error
		want   oidcFailure
	}{
		{
			name: "expired refresh token",
			rt:   func(t *testing.T) string { return s.mintExpired(t, "basic", oidcScope) },
			auth: refresh.ClientSecretBasic(basic.ID, basic.Secret),
			is:   refresh.ErrInvalidGrant,
			want: oidcFailure{Code: "invalid_grant", Status: http.StatusBadRequest, Description: "grant request is invalid",
				Detail: []string{"invalid_grant: refresh token is expired"}},
		},
		{
			name: "unknown refresh token",
			rt:   func(*testing.T) string { return "no-such-refresh-token" },
			auth: refresh.ClientSecretBasic(basic.ID, basic.Secret),
			is:   refresh.ErrInvalidGrant,
			want: oidcFailure{Code: "invalid_grant", Status: http.StatusBadRequest, Description: "grant request is invalid",
				Detail: []string{"invalid_grant: refresh token not found"}},
		},
		{
			name: "another client's refresh token",
			rt:   func(t *testing.T) string { return s.mint(t, "post", oidcScope) },
			auth: refresh.ClientSecretBasic(basic.ID, basic.Secret),
			is:   refresh.ErrInvalidGrant,
			want: oidcFailure{Code: "invalid_grant", Status: http.StatusBadRequest, Description: "grant request is invalid",
				Detail: []string{"invalid_grant: client mismatch"}},
		},
		{
			name: "invalid client secret, Basic",
			rt:   func(t *testing.T) string { return s.mint(t, "basic", oidcScope) },
			auth: refresh.ClientSecretBasic(basic.ID, "wrong+/:%&secret"),
			is:   refresh.ErrInvalidClient,
			want: oidcFailure{Code: "invalid_client", Status: http.StatusUnauthorized, Description: "client authentication failed",
				Challenge: "Basic", Detail: []string{"invalid_client: invalid secret provided"}},
		},
		{
			name: "invalid client secret, body",
			rt:   func(t *testing.T) string { return s.mint(t, "post", oidcScope) },
			auth: refresh.ClientSecretPost(post.ID, "wrong+/:%&secret"),
			is:   refresh.ErrInvalidClient,
			want: oidcFailure{Code: "invalid_client", Status: http.StatusUnauthorized, Description: "client authentication failed",
				Detail: []string{"invalid_client: invalid secret provided"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := tt.rt(t)
			_, err := s.client(tt.auth, nil).Refresh(t.Context(), rt)
			if !errors.Is(err, tt.is) {
				t.Fatalf("got %v, want errors.Is %v", err, tt.is)
			}
			if diff := cmp.Diff(tt.want, oidcFailureOf(t, s, rt, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			oidcNoSecrets(t, err, rt, basic.Secret, post.Secret, "wrong+/:%&secret")
		})
	}
}

// A Source shared by 200 goroutines through Transport, against the protected
// resource, with rotation on. The Client's clock is the test's: each round after
// the first moves it past the access token's expiry, so expiry comes at a known
// point instead of a race with the wall clock (a loaded machine answers slowly
// enough for a real 3-second token to die in the queue). The first round starts
// from an access token the resource rejects (401 invalid_token), so the real
// server's rejection drives that refresh. Every round must cost exactly one
// refresh, each presenting the refresh token the previous one was issued, and
// every request must end in 200.
func oidcTestConcurrent(t *testing.T, s *oidcServer) {
	const (
		goroutines = 200
		perRound   = 2 // requests by each goroutine in each round
		rounds     = 4 // the rejected token, then three expiries
	)
	var offset atomic.Int64 // added to the wall clock, in nanoseconds
	rec := &oidcRecorder{base: http.DefaultTransport}
	c := s.client(s.auth(t, "basic"), &http.Client{Transport: rec})
	c.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	rt0 := s.mint(t, "basic", oidcScope)
	src := refresh.NewSource(c, &refresh.Tokens{
		AccessToken:  "rejected-by-the-resource",
		TokenType:    "Bearer",
		RefreshToken: rt0,
		IssuedAt:     c.Now(),
		ExpiresAt:    c.Now().Add(time.Hour),
	}, refresh.WithStore(refresh.NewMemoryStore(nil)))

	base := &http.Transport{MaxIdleConns: goroutines, MaxIdleConnsPerHost: goroutines}
	defer base.CloseIdleConnections()
	counted := &oidcCounting{base: base}
	hc := &http.Client{Transport: &refresh.Transport{Source: src, Base: counted}}

	var requests, failures atomic.Int64
	var firstFailure atomic.Pointer[string]
	for round := range rounds {
		if round > 0 {
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			// Past the expiry of the current token by the Client's clock.
			offset.Add(int64(tok.Lifetime() + time.Second))
		}
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range perRound {
					err := oidcGet(t.Context(), hc, s.Resource)
					requests.Add(1)
					if err != nil {
						failures.Add(1)
						msg := err.Error()
						firstFailure.CompareAndSwap(nil, &msg)
					}
				}
			})
		}
		wg.Wait()
		if got := len(rec.Calls()); got != round+1 {
			t.Errorf("after round %d: %d refreshes, want %d (%d failed requests and %d answers 401 so far)",
				round, got, round+1, failures.Load(), counted.unauthorized.Load())
		}
	}
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d requests failed, the first: %s", n, requests.Load(), *firstFailure.Load())
	}
	if err := oidcCheckChain(rec.Calls(), rt0); err != nil {
		t.Error(err)
	}
	// Only requests sent with the rejected token get a 401: at least the one
	// that caused the first refresh, at most one a goroutine.
	if got := counted.unauthorized.Load(); got < 1 || got > goroutines {
		t.Errorf("%d answers 401 from the resource, want 1 to %d", got, goroutines)
	}
	t.Logf("%d goroutines: %d requests, %d refreshes, %d answered 401 and were replayed",
		goroutines, requests.Load(), len(rec.Calls()), counted.unauthorized.Load())
}

// oidcGet gets url through hc and reports anything but a 200.
func oidcGet(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("resource answered " + resp.Status)
	}
	return nil
}

// oidcCounting counts the resource's 401 answers under a Transport.
type oidcCounting struct {
	base         http.RoundTripper
	unauthorized atomic.Int64
}

func (c *oidcCounting) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		c.unauthorized.Add(1)
	}
	return resp, err
}
