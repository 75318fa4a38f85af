package refresh_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tokenrefresh/refresh"
)

// exampleClock is the fixed clock the examples give Client.Now so that their
// output does not change from run to run. Real code leaves Now nil.
func exampleClock() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }

// exampleServer starts a token endpoint on 127.0.0.1 that answers like a real
// provider, so that the examples run offline. It knows the refresh token "rt-1",
// granted the scope "read write", and these clients: my-app (secret "s3cret"),
// my-spa (public), uaa-app (secret "p@ss:w+rd", compared raw) and my-service
// (private_key_jwt). Refresh tokens rotate: each one works once.
//
//	/token         RFC 6749 §5
//	/github/token  errors come with HTTP 200, in GitHub's own codes
//	/uaa/token     Basic credentials compared raw, not form-decoded (UAA, Epic)
//	/proxy/token   a proxy in front answers 502 with an HTML page
func exampleServer() *httptest.Server {
	clients := map[string]string{"my-app": "s3cret", "my-spa": "", "uaa-app": "p@ss:w+rd"}
	var mu sync.Mutex
	grants := map[string]string{"rt-1": "read write"} // live refresh token → scope
	issued := 1
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply := func(status int, v any) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(v)
		}
		fail := func(status int, code, desc string) {
			if r.URL.Path == "/github/token" { // HTTP 200 and GitHub's own codes
				status = http.StatusOK
				if gh, ok := map[string]string{"invalid_grant": "bad_refresh_token",
					"invalid_client": "incorrect_client_credentials"}[code]; ok {
					code = gh
				}
			}
			reply(status, map[string]string{"error": code, "error_description": desc})
		}
		if r.URL.Path == "/proxy/token" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>\n")
			return
		}
		if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "refresh_token" {
			fail(http.StatusBadRequest, "invalid_request", "expected a refresh_token grant")
			return
		}

		// Client authentication (RFC 6749 §2.3): one method per request.
		authOK := false
		if id, secret, ok := r.BasicAuth(); ok {
			if r.URL.Path != "/uaa/token" { // RFC 6749 §2.3.1: form-decode both
				id, _ = url.QueryUnescape(id)
				secret, _ = url.QueryUnescape(secret)
			}
			want, known := clients[id]
			authOK = known && want != "" && secret == want
		} else if r.PostForm.Has("client_assertion") {
			// A real server verifies the JWT's signature, iss, aud and jti here.
			authOK = r.PostForm.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
		} else {
			want, known := clients[r.PostForm.Get("client_id")]
			authOK = known && r.PostForm.Get("client_secret") == want
		}
		if !authOK {
			w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
			fail(http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}

		mu.Lock()
		defer mu.Unlock()
		rt := r.PostForm.Get("refresh_token")
		granted, ok := grants[rt]
		if !ok {
			fail(http.StatusBadRequest, "invalid_grant", "refresh token is invalid, expired or already used")
			return
		}
		scope := granted
		if asked := r.PostForm.Get("scope"); asked != "" {
			for _, s := range strings.Fields(asked) {
				if !strings.Contains(" "+granted+" ", " "+s+" ") {
					fail(http.StatusBadRequest, "invalid_scope", "scope "+strconv.Quote(s)+" was not granted")
					return
				}
			}
			scope = asked
		}
		issued++
		delete(grants, rt) // single use: the new refresh token replaces it
		next := fmt.Sprintf("rt-%d", issued)
		grants[next] = granted
		reply(http.StatusOK, map[string]any{
			"access_token": fmt.Sprintf("at-%d", issued), "token_type": "Bearer",
			"expires_in": 3600, "refresh_token": next, "scope": scope,
		})
	}))
}

// Refresh an access token with a confidential client's ID and secret.
func Example() {
	srv := exampleServer()
	defer srv.Close()

	c := &refresh.Client{
		TokenURL: srv.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
		Now:      exampleClock, // for stable output only: leave Now out
	}
	tok, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Printing Tokens, with any verb, never shows a token.
	fmt.Println(tok)
	fmt.Println("type:", tok.TokenType)
	fmt.Println("scopes:", tok.Scopes)
	fmt.Println("expires in:", tok.Lifetime())
	// A new refresh token replaces the one just used: store it now.
	fmt.Println("refresh token rotated:", tok.RefreshToken != "")
	// Output:
	// refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:2025-06-01T13:00:00Z, Scopes:["read" "write"]}
	// type: Bearer
	// scopes: [read write]
	// expires in: 1h0m0s
	// refresh token rotated: true
}

// Choose the Auth the provider registered for the client. ClientSecretBasic is
// the method every server supports (RFC 6749 §2.3.1); ClientSecretPost sends
// the secret in the body. ClientSecretBasicRaw is only for servers (Cloud
// Foundry UAA, Epic) that compare the Basic credentials as sent instead of
// form-decoding them, and so reject a secret such as "p@ss:w+rd" sent the
// RFC 6749 way. A public client (a native or single-page app) has no secret and
// sends only its client_id.
func ExampleAuth() {
	srv := exampleServer()
	defer srv.Close()

	refreshToken := "rt-1"
	for _, m := range []struct {
		name, path string
		auth       refresh.Auth
	}{
		{"ClientSecretBasic", "/token", refresh.ClientSecretBasic("my-app", "s3cret")},
		{"ClientSecretPost", "/token", refresh.ClientSecretPost("my-app", "s3cret")},
		{"ClientSecretBasicRaw", "/uaa/token", refresh.ClientSecretBasicRaw("uaa-app", "p@ss:w+rd")},
		{"PublicClient", "/token", refresh.PublicClient("my-spa")},
	} {
		c := &refresh.Client{TokenURL: srv.URL + m.path, Auth: m.auth}
		tok, err := c.Refresh(context.Background(), refreshToken)
		if err != nil {
			fmt.Println(m.name, err)
			return
		}
		fmt.Println(m.name, "got", tok.AccessToken)
		refreshToken = tok.RefreshToken // each refresh token works once
	}
	// Output:
	// ClientSecretBasic got at-2
	// ClientSecretPost got at-3
	// ClientSecretBasicRaw got at-4
	// PublicClient got at-5
}

// AuthFunc plugs in a client authentication method of your own. This one has the
// shape of private_key_jwt (RFC 7523): the assertion is a placeholder where real
// code signs a JWT whose audience is the token endpoint, with a fresh jti each
// time, since Authenticate runs for every request, retries included.
func ExampleAuthFunc() {
	srv := exampleServer()
	defer srv.Close()

	auth := refresh.AuthFunc(func(r *refresh.AuthRequest) error {
		claims := map[string]any{
			"iss": "my-service", "sub": "my-service",
			"aud": r.TokenURL, // the token endpoint is the audience (RFC 7523 §3)
			"iat": r.Time.Unix(), "exp": r.Time.Add(time.Minute).Unix(),
			"jti": "a fresh random value for every request",
		}
		assertion, err := signJWTPlaceholder(claims)
		if err != nil {
			return err
		}
		if err := r.SetParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"); err != nil {
			return err
		}
		return r.SetParam("client_assertion", assertion)
	})

	c := &refresh.Client{TokenURL: srv.URL + "/token", Auth: auth}
	tok, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("access token:", tok.AccessToken)
	// Output:
	// access token: at-2
}

// signJWTPlaceholder stands for signing claims with the client's private key
// (RS256, ES256, ...) with a JOSE library. It does not sign anything.
func signJWTPlaceholder(claims map[string]any) (string, error) {
	b, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return "placeholder-not-a-jwt." + strconv.Itoa(len(b)), nil
}

// WithScopes asks for a subset of the granted scope on one refresh (RFC 6749
// §6); asking for more than was granted is invalid_scope.
func ExampleWithScopes() {
	srv := exampleServer()
	defer srv.Close()

	c := &refresh.Client{
		TokenURL: srv.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	ctx := context.Background()
	tok, err := c.Refresh(ctx, "rt-1", refresh.WithScopes("read"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("granted:", tok.Scopes)

	_, err = c.Refresh(ctx, tok.RefreshToken, refresh.WithScopes("admin"))
	fmt.Println("invalid_scope:", errors.Is(err, refresh.ErrInvalidScope))
	// Output:
	// granted: [read]
	// invalid_scope: true
}

// Errors are typed: tell "sign in again" from "the server said no" from "that
// was not a token response" from "nothing was sent".
func ExampleClient_Refresh_errors() {
	srv := exampleServer()
	defer srv.Close()

	auth := refresh.ClientSecretBasic("my-app", "s3cret")
	for _, tokenURL := range []string{
		srv.URL + "/token",              // the refresh token was already used
		srv.URL + "/github/token",       // the same, answered GitHub's way: HTTP 200
		srv.URL + "/proxy/token",        // a proxy's HTML 502
		"http://auth.example.com/token", // not https: refused, nothing sent
	} {
		c := &refresh.Client{TokenURL: tokenURL, Auth: auth}
		_, err := c.Refresh(context.Background(), "rt-already-used")

		var (
			oauthErr *refresh.OAuthError
			respErr  *refresh.ResponseError
			cfgErr   *refresh.ConfigError
		)
		switch {
		case err == nil:
			fmt.Println("ok")
		case errors.Is(err, refresh.ErrInvalidGrant):
			fmt.Println("invalid_grant: sign the user in again")
		case errors.As(err, &oauthErr):
			fmt.Printf("OAuth error %q (HTTP %d): %s\n", oauthErr.Code, oauthErr.StatusCode, oauthErr.Description)
		case errors.As(err, &respErr):
			fmt.Printf("not a token response (HTTP %d): %s: %s\n", respErr.StatusCode, respErr.Reason, respErr.Excerpt)
		case errors.As(err, &cfgErr):
			fmt.Printf("nothing sent: %s: %s\n", cfgErr.Field, cfgErr.Reason)
		default:
			fmt.Println("network:", err) // retry later
		}
	}
	// Output:
	// invalid_grant: sign the user in again
	// OAuth error "bad_refresh_token" (HTTP 200): refresh token is invalid, expired or already used
	// not a token response (HTTP 502): not an OAuth response: <html><body><h1>502 Bad Gateway</h1></body></html>
	// nothing sent: TokenURL: http is allowed only for loopback hosts; use https (RFC 6749 §3.2) or set AllowInsecureHTTP
}

// NewRequest builds the refresh request without sending it, for a caller that
// sends it itself; ParseResponse reads the answer.
func ExampleClient_NewRequest() {
	srv := exampleServer()
	defer srv.Close()

	c := &refresh.Client{
		TokenURL:  srv.URL + "/token",
		Auth:      refresh.ClientSecretBasic("my-app", "s3cret"),
		UserAgent: "example-app/1.0",
	}
	ctx := context.Background()
	req, err := c.NewRequest(ctx, "rt-1", refresh.WithScopes("read"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.Method, req.URL.Path)
	for _, name := range []string{"Content-Type", "Accept", "User-Agent"} {
		fmt.Printf("%s: %s\n", name, req.Header.Get(name))
	}
	clientID, _, _ := req.BasicAuth()
	fmt.Println("Basic credentials for:", clientID)
	body, _ := req.GetBody() // a fresh copy: the request stays replayable
	b, _ := io.ReadAll(body)
	fmt.Println(string(b))

	hc := &http.Client{
		Timeout: 10 * time.Second,
		// Never follow a token endpoint's redirect: it would carry the
		// credentials elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := c.ParseResponse(resp) // reads and closes the body
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("access token:", tok.AccessToken, "scopes:", tok.Scopes)
	// Output:
	// POST /token
	// Content-Type: application/x-www-form-urlencoded
	// Accept: application/json
	// User-Agent: example-app/1.0
	// Basic credentials for: my-app
	// grant_type=refresh_token&refresh_token=rt-1&scope=read
	// access token: at-2 scopes: [read]
}
