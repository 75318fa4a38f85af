package interop_test

// Tests of the refresh library against ory/fosite v0.49 (the engine of Ory Hydra),
// composed in this process with its in-memory store: see fosite_server_test.go.
// What fosite was seen to do is written down in README.md.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ory/fosite"

	"github.com/tokenrefresh/refresh"
)

// fosGet sends a GET for the protected resource through hc and returns the status.
func fosGet(ctx context.Context, hc *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// fosResourceStatus presents access token at to the protected resource.
func (s *fosServer) fosResourceStatus(t *testing.T, at string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.resourceURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("resource: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fosOAuthError is what a test compares of an *refresh.OAuthError.
type fosOAuthError struct {
	Code       string
	StatusCode int
}

// fosAsOAuthError returns the OAuth error in err, or fails the test.
func fosAsOAuthError(t *testing.T, err error) *refresh.OAuthError {
	t.Helper()
	var oe *refresh.OAuthError
	if !errors.As(err, &oe) {
		t.Fatalf("error = %v (%T), want an *refresh.OAuthError", err, err)
	}
	return oe
}

// fosNoSecrets fails the test if any print form of err shows one of secrets.
func fosNoSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, text := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("error text %q shows a secret", text)
			}
		}
	}
}

func TestFositeRefreshWithEachAuthMethod(t *testing.T) {
	s := fosNewServer(t)
	ctx := context.Background()
	for _, a := range fosAuths {
		t.Run(a.name, func(t *testing.T) {
			old := s.mint(t, a.id, fosMintOpts{})
			clock := &fosClock{}
			before := clock.Now()
			got, err := s.client(a.auth, clock).Refresh(ctx, old.RefreshToken)
			after := clock.Now()
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}

			type shape struct {
				TokenType         string
				Scopes            []string
				AccessPrefix      string
				RefreshPrefix     string
				RefreshRotated    bool
				AccessReplaced    bool
				ExpiryAsLifespan  bool
				NewAccessAccepted int
				OldAccessAccepted int
				RefreshAsBearer   int
			}
			// fosite rounds the expiry to the second and sends whole seconds.
			lo, hi := before.Add(fosAccessLifespan-2*time.Second), after.Add(fosAccessLifespan)
			gotShape := shape{
				TokenType:         got.TokenType,
				Scopes:            got.Scopes,
				AccessPrefix:      got.AccessToken[:min(7, len(got.AccessToken))],
				RefreshPrefix:     got.RefreshToken[:min(7, len(got.RefreshToken))],
				RefreshRotated:    got.RefreshToken != "" && got.RefreshToken != old.RefreshToken,
				AccessReplaced:    got.AccessToken != old.AccessToken,
				ExpiryAsLifespan:  !got.ExpiresAt.Before(lo) && !got.ExpiresAt.After(hi),
				NewAccessAccepted: s.fosResourceStatus(t, got.AccessToken),
				OldAccessAccepted: s.fosResourceStatus(t, old.AccessToken),
				RefreshAsBearer:   s.fosResourceStatus(t, got.RefreshToken),
			}
			want := shape{
				TokenType:         "bearer",
				Scopes:            fosGranted,
				AccessPrefix:      "ory_at_",
				RefreshPrefix:     "ory_rt_",
				RefreshRotated:    true,
				AccessReplaced:    true,
				ExpiryAsLifespan:  true,
				NewAccessAccepted: http.StatusOK,
				// Rotating the refresh token revokes the access token
				// issued with the old one.
				OldAccessAccepted: http.StatusUnauthorized,
				RefreshAsBearer:   http.StatusUnauthorized,
			}
			if diff := cmp.Diff(want, gotShape); diff != "" {
				t.Errorf("refresh with %s (-want +got):\n%s\nExpiresAt %v, want within [%v, %v]", a.name, diff, got.ExpiresAt, lo, hi)
			}
		})
	}
}

func TestFositeRejectsTheWrongClientAuthentication(t *testing.T) {
	s := fosNewServer(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		grant  string // the client the refresh token was issued to
		auth   refresh.Auth
		want   fosOAuthError
		wantIs error
		desc   string // a part of fosite's error_description
	}{
		{
			name:  "post credentials for a client registered for client_secret_basic",
			grant: fosBasicID, auth: refresh.ClientSecretPost(fosBasicID, fosBasicSecret),
			want: fosOAuthError{"invalid_client", 401}, wantIs: refresh.ErrInvalidClient,
			desc: "supports client authentication method 'client_secret_basic', but method 'client_secret_post' was requested",
		},
		{
			name:  "basic credentials for a client registered for client_secret_post",
			grant: fosPostID, auth: refresh.ClientSecretBasic(fosPostID, fosPostSecret),
			want: fosOAuthError{"invalid_client", 401}, wantIs: refresh.ErrInvalidClient,
			desc: "supports client authentication method 'client_secret_post', but method 'client_secret_basic' was requested",
		},
		{
			name:  "basic credentials for a public client",
			grant: fosPublicID, auth: refresh.ClientSecretBasic(fosPublicID, "a-secret"),
			want: fosOAuthError{"invalid_client", 401}, wantIs: refresh.ErrInvalidClient,
			desc: "supports client authentication method 'none', but method 'client_secret_basic' was requested",
		},
		{
			name:  "post credentials for a public client",
			grant: fosPublicID, auth: refresh.ClientSecretPost(fosPublicID, "a-secret"),
			want: fosOAuthError{"invalid_client", 401}, wantIs: refresh.ErrInvalidClient,
			desc: "supports client authentication method 'none', but method 'client_secret_post' was requested",
		},
		{
			name:  "no secret for a client registered for client_secret_basic",
			grant: fosBasicID, auth: refresh.PublicClient(fosBasicID),
			want: fosOAuthError{"invalid_client", 401}, wantIs: refresh.ErrInvalidClient,
			desc: "Client authentication failed",
		},
		{
			name:  "no secret for a client registered for client_secret_post",
			grant: fosPostID, auth: refresh.PublicClient(fosPostID),
			want: fosOAuthError{"invalid_client", 401}, wantIs: refresh.ErrInvalidClient,
			desc: "Client authentication failed",
		},
		{
			name:  "wrong secret in Basic",
			grant: fosBasicID, auth: refresh.ClientSecretBasic(fosBasicID, fosBasicSecret+"x"),
			want: fosOAuthError{"invalid_client", 401}, wantIs: refresh.ErrInvalidClient,
			desc: "Client authentication failed",
		},
		{
			name:  "wrong secret in the body",
			grant: fosPostID, auth: refresh.ClientSecretPost(fosPostID, "not-"+fosPostSecret),
			want: fosOAuthError{"invalid_client", 401}, wantIs: refresh.ErrInvalidClient,
			desc: "Client authentication failed",
		},
		{
			name:  "unknown client",
			grant: fosBasicID, auth: refresh.ClientSecretBasic("no-such-client", fosBasicSecret),
			want: fosOAuthError{"invalid_client", 401}, wantIs: refresh.ErrInvalidClient,
			desc: "Client authentication failed",
		},
		{
			// fosite form-decodes Basic credentials (RFC 6749 §2.3.1): the raw
			// secret's "%&=" is not a valid escape.
			name:  "raw Basic credentials whose secret needs form-encoding",
			grant: fosBasicID, auth: refresh.ClientSecretBasicRaw(fosBasicID, fosBasicSecret),
			want: fosOAuthError{"invalid_request", 400}, wantIs: refresh.ErrInvalidRequest,
			desc: "could not be decoded from 'application/x-www-form-urlencoded'",
		},
		{
			name:  "another client's valid credentials",
			grant: fosBasicID, auth: refresh.ClientSecretPost(fosPostID, fosPostSecret),
			want: fosOAuthError{"invalid_grant", 400}, wantIs: refresh.ErrInvalidGrant,
			desc: "does not match the ID during the initial token issuance",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := s.mint(t, tt.grant, fosMintOpts{})
			_, err := s.client(tt.auth, nil).Refresh(ctx, tok.RefreshToken)
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
			oe := fosAsOAuthError(t, err)
			if diff := cmp.Diff(tt.want, fosOAuthError{oe.Code, oe.StatusCode}); diff != "" {
				t.Errorf("OAuth error (-want +got):\n%s", diff)
			}
			if !strings.Contains(oe.Description, tt.desc) {
				t.Errorf("description %q, want it to contain %q", oe.Description, tt.desc)
			}
			if oe.WWWAuthenticate != "" {
				t.Errorf("WWW-Authenticate %q: fosite sent none so far", oe.WWWAuthenticate)
			}
			fosNoSecrets(t, err, fosBasicSecret, fosPostSecret, tok.RefreshToken, tok.AccessToken)

			// fosite checks the client before it looks at the refresh token: the
			// token is not spent, and the right method still refreshes it.
			right := fosAuths[0].auth
			for _, a := range fosAuths {
				if a.id == tt.grant {
					right = a.auth
				}
			}
			if _, err := s.client(right, nil).Refresh(ctx, tok.RefreshToken); err != nil {
				t.Errorf("refresh with the registered method after the rejection: %v", err)
			}
		})
	}
}

func TestFositeRotation(t *testing.T) {
	s := fosNewServer(t)
	ctx := context.Background()
	c := s.client(refresh.ClientSecretBasic(fosBasicID, fosBasicSecret), nil)
	t0 := s.mint(t, fosBasicID, fosMintOpts{})

	t1, err := c.Refresh(ctx, t0.RefreshToken)
	if err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	t2, err := c.Refresh(ctx, t1.RefreshToken)
	if err != nil {
		t.Fatalf("refresh with the rotated token: %v", err)
	}
	if t1.RefreshToken == t0.RefreshToken || t2.RefreshToken == t1.RefreshToken {
		t.Fatal("fosite did not rotate the refresh token")
	}

	// Each step presents a refresh token; all of them fail from here on.
	steps := []struct {
		name     string
		rt       string
		want     fosOAuthError
		wantDesc string // a part of fosite's error_description
	}{
		{"the first token, already used", t0.RefreshToken, fosOAuthError{"invalid_grant", 400}, "The refresh token was already used."},
		{"the newest token, after the reuse revoked its family", t2.RefreshToken, fosOAuthError{"invalid_grant", 400}, "The refresh token was already used."},
		{"the first token again, now deleted", t0.RefreshToken, fosOAuthError{"invalid_grant", 400}, "The refresh token is malformed or not valid."},
		{"the middle token, used", t1.RefreshToken, fosOAuthError{"invalid_grant", 400}, "The refresh token was already used."},
	}
	for _, st := range steps {
		_, err := c.Refresh(ctx, st.rt)
		if !errors.Is(err, refresh.ErrInvalidGrant) {
			t.Errorf("%s: errors.Is(%v, ErrInvalidGrant) = false", st.name, err)
		}
		oe := fosAsOAuthError(t, err)
		if diff := cmp.Diff(st.want, fosOAuthError{oe.Code, oe.StatusCode}); diff != "" {
			t.Errorf("%s: OAuth error (-want +got):\n%s", st.name, diff)
		}
		if !strings.Contains(oe.Description, st.wantDesc) {
			t.Errorf("%s: description %q, want it to contain %q", st.name, oe.Description, st.wantDesc)
		}
		fosNoSecrets(t, err, fosBasicSecret, t0.RefreshToken, t1.RefreshToken, t2.RefreshToken)
	}

	// The reuse revoked the newest access token too.
	if got := s.fosResourceStatus(t, t2.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("the newest access token after the reuse: resource answered %d, want 401", got)
	}
}

// fosCheckChain reports whether the token requests form one rotation chain from
// first: every request succeeded and presented the refresh token issued by the
// one before, so no refresh token was presented twice.
func fosCheckChain(reqs []fosRefresh, first string) error {
	want := first
	seen := map[string]bool{}
	for i, r := range reqs {
		if r.Status != http.StatusOK {
			return fmt.Errorf("request %d: HTTP %d %s: %s", i, r.Status, r.Code, r.Desc)
		}
		if seen[r.Presented] {
			return fmt.Errorf("request %d presented a refresh token that was presented before", i)
		}
		seen[r.Presented] = true
		if r.Presented != want {
			return fmt.Errorf("request %d presented a refresh token other than the newest one", i)
		}
		want = r.Issued
	}
	return nil
}

func TestFositeSourceWithStoreNeverPresentsAUsedToken(t *testing.T) {
	s := fosNewServer(t)
	ctx := context.Background()
	t0 := s.mint(t, fosPostID, fosMintOpts{})
	clock := &fosClock{}
	c := s.client(refresh.ClientSecretPost(fosPostID, fosPostSecret), clock)
	store := refresh.NewMemoryStore(t0)

	// Two replicas of a service share the store. Replica b was started with the
	// tokens of the first grant and keeps them in memory: without the store it
	// would present a spent refresh token, which fosite punishes by revoking
	// the whole family.
	a := refresh.NewSource(c, nil, refresh.WithStore(store))
	b := refresh.NewSource(c, t0, refresh.WithStore(store))
	hcs := map[string]*http.Client{
		"a": {Transport: &refresh.Transport{Source: a, Base: s.srv.Client().Transport}},
		"b": {Transport: &refresh.Transport{Source: b, Base: s.srv.Client().Transport}},
	}
	const expiries = 6
	for i := range expiries {
		clock.Advance(fosAccessLifespan + time.Second)
		name := "ab"[i%2 : i%2+1]
		status, err := fosGet(ctx, hcs[name], s.resourceURL)
		if err != nil || status != http.StatusOK {
			t.Fatalf("expiry %d, replica %s: resource answered %d, %v", i, name, status, err)
		}
	}

	reqs := s.requests()
	if err := fosCheckChain(reqs, t0.RefreshToken); err != nil {
		t.Error(err)
	}
	if len(reqs) != expiries {
		t.Errorf("%d refreshes for %d expiries, want one each", len(reqs), expiries)
	}
	stored, _ := store.Load(ctx)
	if len(reqs) > 0 && stored.RefreshToken != reqs[len(reqs)-1].Issued {
		t.Error("the store does not hold the newest refresh token")
	}
}

func TestFositeScopes(t *testing.T) {
	s := fosNewServer(t)
	ctx := context.Background()
	c := s.client(refresh.ClientSecretBasic(fosBasicID, fosBasicSecret), nil)
	// fosite v0.49 ignores the scope parameter of a refresh request: the new
	// tokens carry the scopes of the original grant, narrower or wider request
	// alike, and a wider request is no error (handler/oauth2/flow_refresh.go
	// takes requested and granted scopes from the stored grant).
	tests := []struct {
		name  string
		ask   []string
		asked string // the scope parameter fosite received
	}{
		{"no scope parameter", nil, ""},
		{"a subset", []string{"read"}, "read"},
		{"a subset with offline_access", []string{"offline_access", "write"}, "offline_access write"},
		{"wider than the grant", []string{"read", "admin"}, "read admin"},
		{"only scopes never granted", []string{"admin"}, "admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := s.mint(t, fosBasicID, fosMintOpts{})
			var opts []refresh.RequestOption
			if tt.ask != nil {
				opts = append(opts, refresh.WithScopes(tt.ask...))
			}
			n := len(s.requests())
			got, err := c.Refresh(ctx, tok.RefreshToken, opts...)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if diff := cmp.Diff(fosGranted, got.Scopes); diff != "" {
				t.Errorf("Tokens.Scopes (-want +got):\n%s", diff)
			}
			// What fosite recorded for the new access token, not only what it
			// answered.
			_, ar, err := s.provider.IntrospectToken(ctx, got.AccessToken, fosite.AccessToken, &fosite.DefaultSession{})
			if err != nil {
				t.Fatalf("introspection: %v", err)
			}
			if diff := cmp.Diff(fosGranted, []string(ar.GetGrantedScopes())); diff != "" {
				t.Errorf("scopes granted to the new access token (-want +got):\n%s", diff)
			}
			if reqs := s.requests(); len(reqs) != n+1 || reqs[n].Asked != tt.asked {
				t.Errorf("fosite received scope %q, want %q", reqs[len(reqs)-1].Asked, tt.asked)
			}
		})
	}
}

func TestFositeExpiredRefreshToken(t *testing.T) {
	s := fosNewServer(t)
	ctx := context.Background()
	c := s.client(refresh.PublicClient(fosPublicID), nil)
	want := fosOAuthError{"invalid_grant", 400}

	tok := s.mint(t, fosPublicID, fosMintOpts{rtExpires: time.Now().Add(-time.Minute)})
	_, err := c.Refresh(ctx, tok.RefreshToken)
	if !errors.Is(err, refresh.ErrInvalidGrant) {
		t.Errorf("errors.Is(%v, ErrInvalidGrant) = false", err)
	}
	oe := fosAsOAuthError(t, err)
	if diff := cmp.Diff(want, fosOAuthError{oe.Code, oe.StatusCode}); diff != "" {
		t.Errorf("OAuth error (-want +got):\n%s", diff)
	}
	if !strings.Contains(oe.Description, "The refresh token expired.") {
		t.Errorf("description %q, want it to say the refresh token expired", oe.Description)
	}

	// A Source takes the answer as final: one request, then the same error
	// without a new one.
	tok = s.mint(t, fosPublicID, fosMintOpts{rtExpires: time.Now().Add(-time.Minute)})
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: tok.RefreshToken})
	n := len(s.requests())
	for i := range 3 {
		if _, err := src.Token(ctx); !errors.Is(err, refresh.ErrInvalidGrant) {
			t.Errorf("Token call %d: errors.Is(%v, ErrInvalidGrant) = false", i, err)
		}
	}
	if got := len(s.requests()) - n; got != 1 {
		t.Errorf("the Source sent %d requests for an expired refresh token, want 1", got)
	}
}

func TestFositeTransportSharedBy200Goroutines(t *testing.T) {
	s := fosNewServer(t)
	ctx := context.Background()
	t0 := s.mint(t, fosBasicID, fosMintOpts{})
	clock := &fosClock{}
	src := refresh.NewSource(s.client(refresh.ClientSecretBasic(fosBasicID, fosBasicSecret), clock),
		&refresh.Tokens{RefreshToken: t0.RefreshToken})
	hc := &http.Client{Transport: &refresh.Transport{Source: src, Base: s.srv.Client().Transport}}

	const goroutines = 200
	clientExpiry := func() { clock.Advance(fosAccessLifespan + time.Second) }
	serverExpiry := func() {
		tok, err := src.Token(ctx)
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		s.expireAccessToken(t, tok.AccessToken)
	}
	rounds := []struct {
		name   string
		expire func()
		want   string // how the resource sees the round: "no 401" or "401s"
	}{
		{"first use, no access token yet", func() {}, "no 401"},
		{"the client's clock passes the expiry", clientExpiry, "no 401"},
		{"fosite expires the token before the client does", serverExpiry, "401s"},
		{"the client's clock passes the expiry again", clientExpiry, "no 401"},
		{"fosite expires the token first again", serverExpiry, "401s"},
	}
	for i, r := range rounds {
		r.expire()
		before := len(s.requests())
		before401 := s.resource401.Load()
		statuses := make([]int, goroutines)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				<-start
				status, err := fosGet(ctx, hc, s.resourceURL)
				if err != nil {
					t.Errorf("round %d, goroutine %d: %v", i, g, err)
				}
				statuses[g] = status
			})
		}
		close(start)
		wg.Wait()

		for g, st := range statuses {
			if st != http.StatusOK {
				t.Errorf("round %d (%s), goroutine %d: resource answered %d", i, r.name, g, st)
				break
			}
		}
		if got := len(s.requests()) - before; got != 1 {
			t.Errorf("round %d (%s): %d refreshes, want 1", i, r.name, got)
		}
		got := "no 401"
		if s.resource401.Load() > before401 {
			got = "401s"
		}
		if got != r.want {
			t.Errorf("round %d (%s): the resource saw %s, want %s", i, r.name, got, r.want)
		}
	}

	// Zero invalid_grant: every refresh succeeded, each with the newest token.
	if err := fosCheckChain(s.requests(), t0.RefreshToken); err != nil {
		t.Error(err)
	}
}
