package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/storage"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokenrefresh/refresh"
)

// The clients registered with every fosite server, one per authentication method.
// The secrets hold characters that RFC 6749 §2.3.1 form-encoding changes, so that a
// Basic header built without that encoding would not match.
const (
	fosBasicID     = "basic-client"
	fosBasicSecret = "b4sic+/:%&=?secret"
	fosPostID      = "post-client"
	fosPostSecret  = "p0st+/:%&=?secret"
	fosPublicID    = "public-client"
)

// fosAccessLifespan is the access-token lifetime fosite gives every token in these
// tests. Tests move their clients' clocks past it instead of waiting for it.
const fosAccessLifespan = time.Minute

// fosGranted is what the user granted in the simulated authorization-code flow:
// fosite issues (and later accepts) refresh tokens only for grants holding
// "offline" or "offline_access".
var fosGranted = []string{"offline_access", "read", "write"}

// fosServer is one fosite authorization server in this process: a token endpoint
// and a protected resource that checks access tokens through fosite's
// introspection, on one httptest server on 127.0.0.1.
type fosServer struct {
	cfg      *fosite.Config // TokenURL is the audience fosite wants in client assertions
	provider fosite.OAuth2Provider
	store    *storage.MemoryStore
	strategy *oauth2.HMACSHAStrategy
	srv      *httptest.Server

	tokenURL    string
	resourceURL string

	mu       sync.Mutex
	refreshs []fosRefresh // every token request, in the order they were answered

	resourceOK  atomic.Int64 // resource requests answered 200
	resource401 atomic.Int64 // resource requests answered 401
}

// fosRefresh records one token request as the server saw and answered it.
type fosRefresh struct {
	Presented string // the refresh_token parameter
	Asked     string // the scope parameter
	Status    int
	Code      string // the error code, if any
	Desc      string // the error_description, if any
	Issued    string // the refresh_token issued, if any
	Scope     string // the scope answered, if any
}

// fosNewServer composes fosite with its in-memory store, registers the three
// clients and starts the server. Its lifetime is the test's.
func fosNewServer(t *testing.T) *fosServer {
	t.Helper()
	cfg := &fosite.Config{
		AccessTokenLifespan:  fosAccessLifespan,
		RefreshTokenLifespan: time.Hour,
		GlobalSecret:         []byte("fosite-interop-global-secret-of-32+bytes"),
		HashCost:             bcrypt.MinCost,
		// fosite fills these lazily on first use, which races when the
		// first requests come concurrently: set them up front.
		ScopeStrategy:            fosite.WildcardScopeStrategy,
		AudienceMatchingStrategy: fosite.DefaultAudienceMatchingStrategy,
		// The protected resource accepts access tokens only. Without this,
		// fosite's introspection tries a rejected access token as a refresh
		// token too, and its MemoryStore (v0.49.0) reads the refresh-token map
		// there while a refresh's RevokeRefreshToken writes it under another
		// mutex: a data race the race detector reports.
		DisableRefreshTokenValidation: true,
	}
	cfg.ClientSecretsHasher = &fosite.BCrypt{Config: cfg}

	s := &fosServer{cfg: cfg, store: storage.NewMemoryStore(), strategy: compose.NewOAuth2HMACStrategy(cfg)}
	s.provider = compose.Compose(cfg, s.store, s.strategy,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
	)

	ctx := context.Background()
	hash := func(secret string) []byte {
		h, err := cfg.GetSecretsHasher(ctx).Hash(ctx, []byte(secret))
		if err != nil {
			t.Fatalf("hashing a client secret: %v", err)
		}
		return h
	}
	for _, c := range []struct {
		id, secret, method string
	}{
		{fosBasicID, fosBasicSecret, "client_secret_basic"},
		{fosPostID, fosPostSecret, "client_secret_post"},
		{fosPublicID, "", "none"},
	} {
		dc := &fosite.DefaultClient{
			ID:            c.id,
			RedirectURIs:  []string{"http://127.0.0.1/callback"},
			GrantTypes:    []string{"authorization_code", "refresh_token"},
			ResponseTypes: []string{"code"},
			Scopes:        []string{"offline", "offline_access", "read", "write"},
			Public:        c.secret == "",
		}
		if c.secret != "" {
			dc.Secret = hash(c.secret)
		}
		s.store.Clients[c.id] = &fosite.DefaultOpenIDConnectClient{DefaultClient: dc, TokenEndpointAuthMethod: c.method}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("GET /resource", s.resource)
	// The revocation endpoint and a metadata document: fosite_revoke_test.go.
	mux.HandleFunc("POST /revoke", s.revoke)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.metadata)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	s.tokenURL = s.srv.URL + "/token"
	s.resourceURL = s.srv.URL + "/resource"
	cfg.TokenURL = s.tokenURL
	return s
}

// token is fosite's token endpoint, wrapped to record what each request presented
// and what fosite answered.
func (s *fosServer) token(w http.ResponseWriter, r *http.Request) {
	// fosite reads the form through ParseMultipartForm, which keeps a form
	// parsed already.
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec := &fosRecorder{ResponseWriter: w, status: http.StatusOK}
	ctx := r.Context()
	ar, err := s.provider.NewAccessRequest(ctx, r, &fosite.DefaultSession{})
	if err != nil {
		s.provider.WriteAccessError(ctx, rec, ar, err)
	} else if resp, err := s.provider.NewAccessResponse(ctx, ar); err != nil {
		s.provider.WriteAccessError(ctx, rec, ar, err)
	} else {
		s.provider.WriteAccessResponse(ctx, rec, ar, resp)
	}

	var body struct {
		Error        string `json:"error"`
		Desc         string `json:"error_description"`
		RefreshToken string `json:"refresh_token"`
		Scope        string `json:"scope"`
	}
	_ = json.Unmarshal(rec.body.Bytes(), &body)
	s.mu.Lock()
	s.refreshs = append(s.refreshs, fosRefresh{
		Presented: r.PostForm.Get("refresh_token"),
		Asked:     r.PostForm.Get("scope"),
		Status:    rec.status,
		Code:      body.Error,
		Desc:      body.Desc,
		Issued:    body.RefreshToken,
		Scope:     body.Scope,
	})
	s.mu.Unlock()
}

// fosRecorder passes a response through and keeps its status and body.
type fosRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *fosRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *fosRecorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// resource is a protected resource of the same process: it accepts a bearer
// access token that fosite's introspection finds active, and answers anything
// else with 401 and an invalid_token challenge (RFC 6750 §3.1).
func (s *fosServer) resource(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok := fosite.AccessTokenFromRequest(r)
	use, ar, err := s.provider.IntrospectToken(ctx, tok, fosite.AccessToken, &fosite.DefaultSession{})
	if tok == "" || err != nil || use != fosite.AccessToken {
		s.resource401.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.resourceOK.Add(1)
	io.WriteString(w, ar.GetSession().GetSubject())
}

// requests returns a copy of the token requests recorded so far.
func (s *fosServer) requests() []fosRefresh {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]fosRefresh(nil), s.refreshs...)
}

// fosMintOpts describes the grant a minted refresh token belongs to.
type fosMintOpts struct {
	scopes    []string  // granted scopes; nil: fosGranted
	rtExpires time.Time // the refresh token's expiry; zero: an hour from now
}

// mint stores a grant for clientID exactly where fosite's authorization-code
// token endpoint leaves one (AuthorizeExplicitGrantHandler.PopulateTokenEndpointResponse):
// an access-token session and a refresh-token session holding the sanitised
// token request, with the granted scopes and the expiry times in the session.
// It returns the tokens as the client received them.
func (s *fosServer) mint(t *testing.T, clientID string, o fosMintOpts) *refresh.Tokens {
	t.Helper()
	ctx := context.Background()
	client, err := s.store.GetClient(ctx, clientID)
	if err != nil {
		t.Fatalf("mint: client %q: %v", clientID, err)
	}
	scopes := o.scopes
	if scopes == nil {
		scopes = fosGranted
	}
	now := time.Now().UTC()
	rtExp := o.rtExpires
	if rtExp.IsZero() {
		rtExp = now.Add(time.Hour)
	}
	sess := &fosite.DefaultSession{
		Subject: "user-of-" + clientID,
		ExpiresAt: map[fosite.TokenType]time.Time{
			fosite.AccessToken:  now.Add(fosAccessLifespan).Round(time.Second),
			fosite.RefreshToken: rtExp.Round(time.Second),
		},
	}
	req := fosite.NewAccessRequest(sess)
	req.ID = "grant-" + clientID + "-" + now.Format("150405.000000000")
	req.Client = client
	req.GrantTypes = fosite.Arguments{"authorization_code"}
	req.Form.Set("grant_type", "authorization_code")
	req.SetRequestedScopes(scopes)
	for _, sc := range scopes {
		req.GrantScope(sc)
	}

	at, atSig, err := s.strategy.GenerateAccessToken(ctx, req)
	if err != nil {
		t.Fatalf("mint: access token: %v", err)
	}
	rt, rtSig, err := s.strategy.GenerateRefreshToken(ctx, req)
	if err != nil {
		t.Fatalf("mint: refresh token: %v", err)
	}
	stored := req.Sanitize([]string{})
	if err := s.store.CreateAccessTokenSession(ctx, atSig, stored); err != nil {
		t.Fatalf("mint: store access token: %v", err)
	}
	if err := s.store.CreateRefreshTokenSession(ctx, rtSig, atSig, stored); err != nil {
		t.Fatalf("mint: store refresh token: %v", err)
	}
	return &refresh.Tokens{
		AccessToken:  at,
		TokenType:    "bearer",
		RefreshToken: rt,
		ExpiresAt:    sess.ExpiresAt[fosite.AccessToken],
		Scopes:       append([]string(nil), scopes...),
	}
}

// expireAccessToken makes fosite consider access token at expired, as it does
// once the token's lifetime has passed on the server's clock: its session's
// access-token expiry moves into the past. Call it only while no request is in
// flight.
func (s *fosServer) expireAccessToken(t *testing.T, at string) {
	t.Helper()
	ctx := context.Background()
	ar, err := s.store.GetAccessTokenSession(ctx, s.strategy.AccessTokenSignature(ctx, at), nil)
	if err != nil {
		t.Fatalf("expireAccessToken: %v", err)
	}
	ar.GetSession().SetExpiresAt(fosite.AccessToken, time.Now().Add(-time.Second))
}

// fosClock is a client clock that runs with the wall clock plus an offset the
// test moves forward, so that a token expires for the client without waiting.
type fosClock struct{ offset atomic.Int64 }

func (c *fosClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *fosClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// client returns a refresh.Client for the server's token endpoint.
func (s *fosServer) client(auth refresh.Auth, clock *fosClock) *refresh.Client {
	c := &refresh.Client{TokenURL: s.tokenURL, Auth: auth, HTTPClient: s.srv.Client()}
	if clock != nil {
		c.Now = clock.Now
	}
	return c
}

// fosAuths are the authentication methods, one per registered client.
var fosAuths = []struct {
	name string
	id   string
	auth refresh.Auth
}{
	{"client_secret_basic", fosBasicID, refresh.ClientSecretBasic(fosBasicID, fosBasicSecret)},
	{"client_secret_post", fosPostID, refresh.ClientSecretPost(fosPostID, fosPostSecret)},
	{"none", fosPublicID, refresh.PublicClient(fosPublicID)},
}
