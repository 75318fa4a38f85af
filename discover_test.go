package refresh_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tokenrefresh/refresh"
)

// metadataDoc is a metadata document with the given issuer and the token and
// revocation endpoints below base.
func metadataDoc(issuer, base string) string {
	return fmt.Sprintf(`{"issuer":%q,"token_endpoint":%q,"revocation_endpoint":%q}`, issuer, base+"/token", base+"/revoke")
}

// discoveryServer starts an https server on which serve answers every request,
// given the server's base URL, and records the paths asked.
func discoveryServer(t *testing.T, serve func(w http.ResponseWriter, r *http.Request, base string)) (srv *httptest.Server, paths func() []string) {
	t.Helper()
	var mu sync.Mutex
	var asked []string
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		serve(w, r, "https://"+r.Host)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), asked...)
	}
}

// docAt answers body (200, JSON) at path, 404 elsewhere.
func docAt(path string, body func(base string) string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, base string) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body(base))
	}
}

func TestDiscover(t *testing.T) {
	const (
		oauthRoot   = "/.well-known/oauth-authorization-server"
		oidcRoot    = "/.well-known/openid-configuration"
		oauthTenant = "/.well-known/oauth-authorization-server/tenant"
		oidcTenant  = "/tenant/.well-known/openid-configuration"
	)
	tests := []struct {
		name      string
		path      string // the issuer's path, after the server's origin
		serve     func(w http.ResponseWriter, r *http.Request, base string)
		wantPaths []string
		wantToken string // TokenEndpoint's path, when discovery succeeds
		wantErr   error  // errors.Is target, when it fails
		wantField string // the *DiscoveryError's Field, when it fails
		wantText  string // in the error's text, when it fails
	}{
		{
			name:      "an issuer without a path has RFC 8414's document at the root",
			serve:     docAt(oauthRoot, func(b string) string { return metadataDoc(b, b) }),
			wantPaths: []string{oauthRoot},
			wantToken: "/token",
		},
		{
			name:      "a path issuer has RFC 8414's well-known path inserted before its path",
			path:      "/tenant",
			serve:     docAt(oauthTenant, func(b string) string { return metadataDoc(b+"/tenant", b+"/tenant") }),
			wantPaths: []string{oauthTenant},
			wantToken: "/tenant/token",
		},
		{
			name:      "a path issuer without RFC 8414's document has OIDC's path appended after its path",
			path:      "/tenant",
			serve:     docAt(oidcTenant, func(b string) string { return metadataDoc(b+"/tenant", b+"/tenant") }),
			wantPaths: []string{oauthTenant, oidcTenant},
			wantToken: "/tenant/token",
		},
		{
			name:      "an issuer without a path falls back to OIDC's document at the root",
			serve:     docAt(oidcRoot, func(b string) string { return metadataDoc(b, b) }),
			wantPaths: []string{oauthRoot, oidcRoot},
			wantToken: "/token",
		},
		{
			name:      "an issuer's trailing slash is dropped from the well-known paths but kept in the match",
			path:      "/tenant/",
			serve:     docAt(oidcTenant, func(b string) string { return metadataDoc(b+"/tenant/", b) }),
			wantPaths: []string{oauthTenant, oidcTenant},
			wantToken: "/token",
		},
		{
			name:      "a document for another issuer is ErrIssuerMismatch, and OIDC's path is not tried",
			path:      "/tenant",
			serve:     docAt(oauthTenant, func(b string) string { return metadataDoc("https://evil.example/tenant", b) }),
			wantPaths: []string{oauthTenant},
			wantErr:   refresh.ErrIssuerMismatch,
			wantField: "issuer",
			wantText:  `"https://evil.example/tenant", not the issuer asked for`,
		},
		{
			name:      "an issuer that differs only by a trailing slash is a mismatch",
			path:      "/tenant",
			serve:     docAt(oauthTenant, func(b string) string { return metadataDoc(b+"/tenant/", b) }),
			wantPaths: []string{oauthTenant},
			wantErr:   refresh.ErrIssuerMismatch,
			wantField: "issuer",
		},
		{
			name:      "a document of the tenant-less issuer for a path issuer is a mismatch",
			path:      "/tenant",
			serve:     docAt(oauthTenant, func(b string) string { return metadataDoc(b, b) }),
			wantPaths: []string{oauthTenant},
			wantErr:   refresh.ErrIssuerMismatch,
			wantField: "issuer",
		},
		{
			name:      "a document without an issuer is a mismatch",
			serve:     docAt(oauthRoot, func(b string) string { return `{"token_endpoint":"` + b + `/token"}` }),
			wantPaths: []string{oauthRoot},
			wantErr:   refresh.ErrIssuerMismatch,
			wantField: "issuer",
			wantText:  "issuer: missing",
		},
		{
			name: "a redirect is not followed, on either path",
			serve: func(w http.ResponseWriter, r *http.Request, base string) {
				if r.URL.Path == "/elsewhere" {
					fmt.Fprint(w, metadataDoc(base, base))
					return
				}
				http.Redirect(w, r, "/elsewhere?secret=1", http.StatusFound)
			},
			wantPaths: []string{oauthRoot, oidcRoot},
			wantText:  "redirect not followed (to /elsewhere)",
		},
		{
			name: "a body over the cap is an error that wraps ErrResponseTooLarge",
			serve: func(w http.ResponseWriter, r *http.Request, base string) {
				if r.URL.Path != oauthRoot {
					http.NotFound(w, r)
					return
				}
				fmt.Fprintf(w, `{"issuer":%q,"x":"%s"}`, base, strings.Repeat("a", refresh.DefaultMaxResponseBytes))
			},
			wantPaths: []string{oauthRoot, oidcRoot},
			wantErr:   refresh.ErrResponseTooLarge,
		},
		{
			name: "a member of the wrong type is named",
			serve: func(w http.ResponseWriter, r *http.Request, base string) {
				fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":["https://a"]}`, base)
			},
			wantPaths: []string{oauthRoot, oidcRoot},
			wantField: "token_endpoint",
			wantText:  "token_endpoint: not a string",
		},
		{
			name: "mtls_endpoint_aliases that is not an object of strings is named",
			serve: func(w http.ResponseWriter, r *http.Request, base string) {
				fmt.Fprintf(w, `{"issuer":%q,"mtls_endpoint_aliases":{"token_endpoint":1}}`, base)
			},
			wantPaths: []string{oauthRoot, oidcRoot},
			wantField: "mtls_endpoint_aliases",
		},
		{
			name: "an HTML page is not a document",
			serve: func(w http.ResponseWriter, r *http.Request, base string) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, "<html>hello</html>")
			},
			wantPaths: []string{oauthRoot, oidcRoot},
			wantText:  "not a JSON object",
		},
		{
			name:      "no document on either path",
			serve:     func(w http.ResponseWriter, r *http.Request, base string) { http.NotFound(w, r) },
			wantPaths: []string{oauthRoot, oidcRoot},
			wantText:  "(HTTP 404): no metadata document here",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, paths := discoveryServer(t, tt.serve)
			hc := srv.Client()
			followed := false
			hc.CheckRedirect = func(*http.Request, []*http.Request) error { followed = true; return nil }
			md, err := refresh.Discover(t.Context(), hc, srv.URL+tt.path)
			if diff := cmp.Diff(tt.wantPaths, paths()); diff != "" {
				t.Errorf("paths asked (-want +got):\n%s", diff)
			}
			if followed {
				t.Error("the caller's CheckRedirect was called")
			}
			if tt.wantToken != "" {
				if err != nil {
					t.Fatalf("Discover: %v", err)
				}
				if got, want := md.TokenEndpoint, srv.URL+tt.wantToken; got != want {
					t.Errorf("TokenEndpoint = %q, want %q", got, want)
				}
				if got, want := md.Issuer, srv.URL+tt.path; got != want {
					t.Errorf("Issuer = %q, want %q", got, want)
				}
				return
			}
			if md != nil || err == nil {
				t.Fatalf("Discover = %v, %v; want an error", md, err)
			}
			var de *refresh.DiscoveryError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T) is not a *DiscoveryError", err, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not match %v", err, tt.wantErr)
			}
			if tt.wantField != "" && de.Field != tt.wantField {
				t.Errorf("Field = %q, want %q (error %v)", de.Field, tt.wantField, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
			if strings.Contains(err.Error(), "secret=1") {
				t.Errorf("error %q shows a redirect's query", err)
			}
		})
	}
}

func TestDiscoverReadsEveryMember(t *testing.T) {
	srv, _ := discoveryServer(t, func(w http.ResponseWriter, r *http.Request, b string) {
		fmt.Fprintf(w, `{
			"issuer": %[1]q,
			"authorization_endpoint": "%[1]s/authorize",
			"token_endpoint": "%[1]s/token",
			"revocation_endpoint": "%[1]s/revoke",
			"introspection_endpoint": "%[1]s/introspect",
			"jwks_uri": "%[1]s/jwks",
			"userinfo_endpoint": "%[1]s/me",
			"end_session_endpoint": "%[1]s/logout",
			"scopes_supported": ["openid", "offline_access"],
			"response_types_supported": ["code"],
			"grant_types_supported": ["authorization_code", "refresh_token"],
			"token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
			"token_endpoint_auth_signing_alg_values_supported": ["ES256"],
			"revocation_endpoint_auth_methods_supported": ["client_secret_basic"],
			"code_challenge_methods_supported": ["S256"],
			"dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
			"mtls_endpoint_aliases": {"token_endpoint": "https://mtls.example/token"},
			"tls_client_certificate_bound_access_tokens": true,
			"introspection_endpoint_auth_methods_supported": null,
			"require_pushed_authorization_requests": false,
			"x_vendor": {"region": "eu", "shards": [1, 2]}
		}`, b)
	})
	md, err := refresh.Discover(t.Context(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	b := srv.URL
	want := &refresh.Metadata{
		Issuer:                            b,
		AuthorizationEndpoint:             b + "/authorize",
		TokenEndpoint:                     b + "/token",
		RevocationEndpoint:                b + "/revoke",
		IntrospectionEndpoint:             b + "/introspect",
		JWKSURI:                           b + "/jwks",
		UserinfoEndpoint:                  b + "/me",
		EndSessionEndpoint:                b + "/logout",
		ScopesSupported:                   []string{"openid", "offline_access"},
		ResponseTypesSupported:            []string{"code"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "private_key_jwt"},
		TokenEndpointAuthSigningAlgValuesSupported: []string{"ES256"},
		RevocationEndpointAuthMethodsSupported:     []string{"client_secret_basic"},
		CodeChallengeMethodsSupported:              []string{"S256"},
		DPoPSigningAlgValuesSupported:              []string{"ES256", "EdDSA"},
		MTLSEndpointAliases:                        map[string]string{"token_endpoint": "https://mtls.example/token"},
		TLSClientCertificateBoundAccessTokens:      true,
	}
	if diff := cmp.Diff(want, md, cmpopts.IgnoreUnexported(refresh.Metadata{})); diff != "" {
		t.Errorf("Metadata (-want +got):\n%s", diff)
	}
	wantFields := map[string]any{
		"introspection_endpoint_auth_methods_supported": nil,
		"require_pushed_authorization_requests":         false,
		"x_vendor":                                      map[string]any{"region": "eu", "shards": []any{json.Number("1"), json.Number("2")}},
	}
	if diff := cmp.Diff(wantFields, md.Fields()); diff != "" {
		t.Errorf("Fields (-want +got):\n%s", diff)
	}
	if got := md.Extra("require_pushed_authorization_requests"); got != false {
		t.Errorf("Extra(require_pushed_authorization_requests) = %v, want false", got)
	}
	var none *refresh.Metadata
	if none.Extra("x_vendor") != nil || none.Fields() != nil {
		t.Error("a nil *Metadata has members")
	}
	for _, name := range []string{"issuer", "token_endpoint", "absent"} {
		if got := md.Extra(name); got != nil {
			t.Errorf("Extra(%q) = %v, want nil", name, got)
		}
	}
}

func TestDiscoverRefusesBadIssuers(t *testing.T) {
	sent := 0
	hc := &http.Client{Transport: clientRoundTripFunc(func(*http.Request) (*http.Response, error) {
		sent++
		return nil, errors.New("nothing may be sent")
	})}
	for _, tt := range []struct{ name, issuer, reason string }{
		{"empty", "", "empty"},
		{"plain http on a host that is not loopback", "http://auth.example.com", "http is allowed only for loopback hosts"},
		{"another scheme", "ftp://auth.example.com", `scheme "ftp" is not https`},
		{"a relative URL", "/tenant", "not an absolute URL"},
		{"a query", "https://auth.example.com/?tenant=1", "must not have a query"},
		{"an empty query", "https://auth.example.com/?", "must not have a query"},
		{"a fragment", "https://auth.example.com/#x", "must not have a fragment"},
		{"user info", "https://user:pw@auth.example.com", "must not hold user info"},
		{"a URL that does not parse", "https://auth.example.com/%zz", "not a valid URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := refresh.Discover(t.Context(), hc, tt.issuer)
			var ce *refresh.ConfigError
			if !errors.As(err, &ce) || ce.Field != "issuer" || !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("Discover(%q) = %v; want a *ConfigError for issuer saying %q", tt.issuer, err, tt.reason)
			}
			if strings.Contains(fmt.Sprint(err), "pw@") {
				t.Errorf("error %v shows the user info", err)
			}
		})
	}
	t.Run("nil ctx", func(t *testing.T) {
		//lint:ignore SA1012 a nil ctx is what is tested
		_, err := refresh.Discover(nil, hc, "https://auth.example.com") //nolint:staticcheck
		var ce *refresh.ConfigError
		if !errors.As(err, &ce) || ce.Field != "ctx" {
			t.Errorf("Discover(nil ctx) = %v, want a *ConfigError for ctx", err)
		}
	})
	if sent != 0 {
		t.Errorf("%d requests sent for bad issuers, want 0", sent)
	}
}

func TestDiscoverNetworkFailureEndsTheSearch(t *testing.T) {
	var asked []string
	hc := &http.Client{Transport: clientRoundTripFunc(func(r *http.Request) (*http.Response, error) {
		asked = append(asked, r.URL.Path)
		return nil, errors.New("connection refused")
	})}
	_, err := refresh.Discover(t.Context(), hc, "https://auth.example.com")
	var ue *url.Error
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "refresh: discovery: ") {
		t.Errorf("error = %v; want a *url.Error behind \"refresh: discovery: \"", err)
	}
	if diff := cmp.Diff([]string{"/.well-known/oauth-authorization-server"}, asked); diff != "" {
		t.Errorf("paths asked (-want +got):\n%s", diff)
	}
}

// TestDiscoverNilHTTPClient shows that a nil hc reaches a loopback http server
// (plain http is allowed there) without http.DefaultClient. It swaps
// http.DefaultClient's transport, so it must not run in parallel.
func TestDiscoverNilHTTPClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host
		fmt.Fprint(w, metadataDoc(base, base))
	}))
	defer srv.Close()
	viaDefaultClient := 0
	old := http.DefaultClient.Transport
	http.DefaultClient.Transport = clientRoundTripFunc(func(*http.Request) (*http.Response, error) {
		viaDefaultClient++
		return nil, errors.New("http.DefaultClient used")
	})
	defer func() { http.DefaultClient.Transport = old }()
	md, err := refresh.Discover(t.Context(), nil, srv.URL)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if md.TokenEndpoint != srv.URL+"/token" || viaDefaultClient != 0 {
		t.Errorf("TokenEndpoint %q, %d requests through http.DefaultClient; want %q, 0", md.TokenEndpoint, viaDefaultClient, srv.URL+"/token")
	}
}

func TestMetadataNewClient(t *testing.T) {
	own := refresh.AuthFunc(func(r *refresh.AuthRequest) error { return r.SetParam("client_id", "x") })
	base := refresh.Metadata{
		Issuer:             "https://auth.example.com",
		TokenEndpoint:      "https://auth.example.com/token",
		RevocationEndpoint: "https://auth.example.com/revoke",
		MTLSEndpointAliases: map[string]string{
			"token_endpoint": "https://mtls.auth.example.com/token",
		},
	}
	with := func(methods ...string) *refresh.Metadata {
		m := base
		m.TokenEndpointAuthMethodsSupported = methods
		return &m
	}
	tests := []struct {
		name     string
		md       *refresh.Metadata
		auth     refresh.Auth
		wantErr  string // the *ConfigError's text, or "" for success
		wantAuth bool   // the Client's Auth is auth
	}{
		{name: "Basic, which the server lists", md: with("client_secret_post", "client_secret_basic"), auth: refresh.ClientSecretBasic("id", "secret"), wantAuth: true},
		{name: "raw Basic counts as client_secret_basic", md: with("client_secret_basic"), auth: refresh.ClientSecretBasicRaw("id", "secret"), wantAuth: true},
		{name: "Basic when the server lists none: the default", md: with(), auth: refresh.ClientSecretBasic("id", "secret"), wantAuth: true},
		{name: "post, which the server lists", md: with("client_secret_post"), auth: refresh.ClientSecretPost("id", "secret"), wantAuth: true},
		{name: "a public client where none is listed", md: with("none"), auth: refresh.PublicClient("id"), wantAuth: true},
		{
			name: "post when the server lists only Basic", md: with("client_secret_basic", "private_key_jwt"), auth: refresh.ClientSecretPost("id", "secret"),
			wantErr: `refresh: Auth: the method "client_secret_post" is not in the server's token_endpoint_auth_methods_supported ["client_secret_basic" "private_key_jwt"]`,
		},
		{
			name: "post when the server lists none, which means Basic", md: with(), auth: refresh.ClientSecretPost("id", "secret"),
			wantErr: `refresh: Auth: the method "client_secret_post" is not in the server's token_endpoint_auth_methods_supported ["client_secret_basic"]`,
		},
		{
			name: "a public client at a server for confidential clients", md: with("client_secret_basic"), auth: refresh.PublicClient("id"),
			wantErr: `refresh: Auth: the method "none" is not in the server's token_endpoint_auth_methods_supported ["client_secret_basic"]`,
		},
		{name: "an Auth of the caller's own is not checked", md: with("private_key_jwt"), auth: own, wantAuth: true},
		{name: "a nil Auth is not checked", md: with("private_key_jwt"), auth: nil},
		{name: "no token endpoint", md: &refresh.Metadata{Issuer: "https://a"}, auth: refresh.PublicClient("id"),
			wantErr: "refresh: Metadata.TokenEndpoint: empty: the server publishes no token_endpoint"},
		{name: "nil metadata", md: nil, auth: refresh.PublicClient("id"), wantErr: "refresh: Metadata: nil *Metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.md.NewClient(tt.auth)
			if tt.wantErr != "" {
				var ce *refresh.ConfigError
				if !errors.As(err, &ce) || err.Error() != tt.wantErr || c != nil {
					t.Errorf("NewClient = %v, %v; want a *ConfigError %q", c, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			// The mTLS alias is for TLS client authentication only.
			// Issuer is the assertion audience of RFC 7523bis.
			want := &refresh.Client{TokenURL: base.TokenEndpoint, RevocationURL: base.RevocationEndpoint, Issuer: base.Issuer, Auth: tt.auth}
			if diff := cmp.Diff(want, c, cmp.Comparer(func(a, b refresh.Auth) bool { return fmt.Sprintf("%T %v", a, a) == fmt.Sprintf("%T %v", b, b) })); diff != "" {
				t.Errorf("Client (-want +got):\n%s", diff)
			}
		})
	}
}
