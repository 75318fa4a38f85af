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
//	/token             RFC 6749 §5; echoes resource like Entra v1
//	/github/token      errors come with HTTP 200, in GitHub's own codes
//	/uaa/token         Basic credentials compared raw, not form-decoded (UAA, Epic)
//	/salesforce/token  instance_url and issued_at, no expires_in, no rotation
//	/proxy/token       a proxy in front answers 502 with an HTML page
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
		if r.URL.Path == "/salesforce/token" { // no rotation, no lifetime
			reply(http.StatusOK, map[string]string{
				"access_token": "00Dx0000000BV7z!AR8AQP0jITN80ESEsj5EbaZTFG0R", "token_type": "Bearer",
				"scope": "refresh_token api", "instance_url": "https://mycompany.my.salesforce.com",
				"id":        "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P",
				"issued_at": "1748779200000", "signature": "CMJ4l+CCaPQiKjoOEwEig9H4wqhpuLSk4J2urAe+fVg=",
			})
			return
		}
		delete(grants, rt) // single use: the new refresh token replaces it
		next := fmt.Sprintf("rt-%d", issued)
		grants[next] = granted
		resp := map[string]any{
			"access_token": fmt.Sprintf("at-%d", issued), "token_type": "Bearer",
			"expires_in": 3600, "refresh_token": next, "scope": scope,
		}
		if res := r.PostForm.Get("resource"); res != "" {
			resp["resource"] = res // RFC 8707; Entra v1 names it in the response
		}
		reply(http.StatusOK, resp)
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
	fmt.Printf("%+v\n", tok)
	fmt.Println("type:", tok.TokenType)
	fmt.Println("scopes:", tok.Scopes)
	fmt.Println("expires in:", tok.Lifetime())
	// A new refresh token replaces the one just used: store it now.
	fmt.Println("refresh token rotated:", tok.RefreshToken != "")
	// Output:
	// refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:2025-06-01T13:00:00Z, Scopes:["read" "write"]}
	// refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:2025-06-01T13:00:00Z, Scopes:["read" "write"]}
	// type: Bearer
	// scopes: [read write]
	// expires in: 1h0m0s
	// refresh token rotated: true
}

// ClientSecretBasic is the method every server must support (RFC 6749 §2.3.1).
func ExampleClientSecretBasic() {
	srv := exampleServer()
	defer srv.Close()

	c := &refresh.Client{
		TokenURL: srv.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
		Now:      exampleClock,
	}
	tok, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok)
	// The Auth prints without its secret too.
	fmt.Println(c.Auth)
	// Output:
	// refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:2025-06-01T13:00:00Z, Scopes:["read" "write"]}
	// refresh.ClientSecretBasic{ClientID:"my-app", ClientSecret:[redacted]}
}

// Some servers (Cloud Foundry UAA, Epic) compare the Basic credentials as sent
// instead of form-decoding them, and reject a secret such as "p@ss:w+rd" sent the
// RFC 6749 way. Choose ClientSecretBasicRaw only for such a server.
func ExampleClientSecretBasicRaw() {
	srv := exampleServer()
	defer srv.Close()

	c := &refresh.Client{
		TokenURL: srv.URL + "/uaa/token",
		Auth:     refresh.ClientSecretBasicRaw("uaa-app", "p@ss:w+rd"),
		Now:      exampleClock,
	}
	tok, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok)
	// Output:
	// refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:2025-06-01T13:00:00Z, Scopes:["read" "write"]}
}

// ClientSecretPost sends client_id and client_secret in the request body.
func ExampleClientSecretPost() {
	srv := exampleServer()
	defer srv.Close()

	c := &refresh.Client{
		TokenURL: srv.URL + "/token",
		Auth:     refresh.ClientSecretPost("my-app", "s3cret"),
		Now:      exampleClock,
	}
	tok, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok)
	// Output:
	// refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:2025-06-01T13:00:00Z, Scopes:["read" "write"]}
}

// A public client (a native or single-page app) has no secret and sends only its
// client_id.
func ExamplePublicClient() {
	srv := exampleServer()
	defer srv.Close()

	c := &refresh.Client{
		TokenURL: srv.URL + "/token",
		Auth:     refresh.PublicClient("my-spa"),
		Now:      exampleClock,
	}
	tok, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok)
	// Output:
	// refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:2025-06-01T13:00:00Z, Scopes:["read" "write"]}
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

	c := &refresh.Client{TokenURL: srv.URL + "/token", Auth: auth, Now: exampleClock}
	tok, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok)
	// Output:
	// refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:2025-06-01T13:00:00Z, Scopes:["read" "write"]}
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
		Now:      exampleClock,
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

// WithParam adds a body parameter, such as resource (RFC 8707) to ask for an
// access token meant for one API.
func ExampleWithParam() {
	srv := exampleServer()
	defer srv.Close()

	c := &refresh.Client{
		TokenURL: srv.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
		Now:      exampleClock,
	}
	ctx := context.Background()
	tok, err := c.Refresh(ctx, "rt-1", refresh.WithParam("resource", "https://api.example.com/"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("resource:", tok.Extra("resource"))

	// The names the request and Auth own are refused before anything is sent.
	_, err = c.Refresh(ctx, tok.RefreshToken, refresh.WithParam("client_id", "other"))
	fmt.Println(err)
	// Output:
	// resource: https://api.example.com/
	// refresh: WithParam: "client_id" is reserved; it is set by the request or by Client.Auth
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
		Now:       exampleClock,
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
	fmt.Println(tok)
	// Output:
	// POST /token
	// Content-Type: application/x-www-form-urlencoded
	// Accept: application/json
	// User-Agent: example-app/1.0
	// Basic credentials for: my-app
	// grant_type=refresh_token&refresh_token=rt-1&scope=read
	// refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:2025-06-01T13:00:00Z, Scopes:["read"]}
}

// ParseResponse reads any token endpoint's answer: here GitHub's form-encoded
// body, which it sends when the request has no Accept: application/json, and
// then one of its errors, which come with HTTP 200.
func ExampleClient_ParseResponse() {
	c := &refresh.Client{Now: exampleClock}
	canned := func(body string) *http.Response {
		return &http.Response{
			StatusCode: http.StatusOK,
			Header:     http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
			Body:       io.NopCloser(strings.NewReader(body)),
		}
	}

	tok, err := c.ParseResponse(canned("access_token=ghu_16C7e42F292c6912E7710c838347Ae178B4a" +
		"&expires_in=28800&refresh_token=ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C4681" +
		"&refresh_token_expires_in=15724800&scope=&token_type=bearer"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok)
	fmt.Println("access token lifetime:", tok.Lifetime())
	fmt.Println("refresh token expires:", tok.RefreshTokenExpiresAt.Format(time.DateOnly))

	_, err = c.ParseResponse(canned("error=bad_refresh_token" +
		"&error_description=The+refresh+token+passed+is+incorrect+or+expired." +
		"&error_uri=https%3A%2F%2Fdocs.github.com"))
	var oauthErr *refresh.OAuthError
	if errors.As(err, &oauthErr) {
		fmt.Printf("%s (HTTP %d): %s\n", oauthErr.Code, oauthErr.StatusCode, oauthErr.Description)
	}
	// GitHub's code is its own: match it with an ErrorCode.
	fmt.Println(errors.Is(err, refresh.ErrorCode("bad_refresh_token")))
	// Output:
	// refresh.Tokens{AccessToken:[redacted], TokenType:"bearer", RefreshToken:[redacted], ExpiresAt:2025-06-01T20:00:00Z, RefreshTokenExpiresAt:2025-11-30T12:00:00Z, Scopes:[]}
	// access token lifetime: 8h0m0s
	// refresh token expires: 2025-11-30
	// bad_refresh_token (HTTP 200): The refresh token passed is incorrect or expired.
	// true
}

// Extra reads the fields a provider adds: Salesforce sends instance_url, the base
// URL for API calls, and issued_at in milliseconds, but no expires_in.
func ExampleTokens_Extra() {
	srv := exampleServer()
	defer srv.Close()

	c := &refresh.Client{
		TokenURL: srv.URL + "/salesforce/token",
		Auth:     refresh.ClientSecretPost("my-app", "s3cret"),
		Now:      exampleClock,
	}
	tok, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	instanceURL, _ := tok.Extra("instance_url").(string)
	fmt.Println("instance_url:", instanceURL)
	if s, ok := tok.Extra("issued_at").(string); ok {
		ms, _ := strconv.ParseInt(s, 10, 64)
		fmt.Println("issued_at:", time.UnixMilli(ms).UTC().Format(time.RFC3339))
	}
	fmt.Println("expiry known:", !tok.ExpiresAt.IsZero())
	fmt.Println("new refresh token:", tok.RefreshToken != "") // keep using the old one
	fmt.Println("absent field:", tok.Extra("no_such_field"))
	// Output:
	// instance_url: https://mycompany.my.salesforce.com
	// issued_at: 2025-06-01T12:00:00Z
	// expiry known: false
	// new refresh token: false
	// absent field: <nil>
}
