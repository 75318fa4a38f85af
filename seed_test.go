package refresh_test

// Seed parity: every method of the @oslojs/oauth2 0.3.0 "Refresh tokens" API
// (RefreshRequestContext, TokenRequestResult) and its equivalent here. The table in
// TestSeedParity checks each row.
//
// Building the request (RefreshRequestContext):
//   - new RefreshRequestContext(refreshToken) -> Client.NewRequest(ctx, refreshToken)
//     (Client.Refresh builds, sends and parses in one call).
//   - context.method -> req.Method, always POST.
//   - context.headers -> req.Header: Content-Type application/x-www-form-urlencoded,
//     Accept application/json, User-Agent DefaultUserAgent (the seed sends "oslo").
//   - context.body -> req.Body (replayable through req.GetBody): grant_type,
//     refresh_token, then scope and WithParam parameters, then credentials.
//   - authenticateWithHTTPBasicAuth(id, secret) -> Auth: ClientSecretBasic(id, secret),
//     which form-encodes ID and secret as RFC 6749 §2.3.1 says. The seed sends them
//     raw, which is wrong: for "a:b"/"c:d" it sends YTpiOmM6ZA==, we send
//     YSUzQWI6YyUzQWQ=. The seed's raw bytes are ClientSecretBasicRaw(id, secret), an
//     explicit choice for servers that need them (Cloud Foundry UAA, Epic).
//   - authenticateWithRequestBody(id, secret) -> Auth: ClientSecretPost(id, secret).
//   - both authenticate calls on one context -> impossible: a Client has one Auth, and
//     an Auth that sets Authorization and client_secret is refused with
//     *ConfigError{Field: "Auth"} (RFC 6749 §2.3). The seed sends both.
//   - setClientId(id) -> Auth: PublicClient(id).
//   - addScopes(...scopes) -> WithScopes(...scopes). The seed's addScopes("read",
//     "write") sends "read write undefined"; we send "read write".
//
// Reading the answer (TokenRequestResult):
//   - new TokenRequestResult(json) -> Client.ParseResponse(resp), which also takes
//     form bodies and string numbers.
//   - hasErrorCode() -> errors.As(err, &oauthErr) with *OAuthError, whatever the HTTP
//     status; the error is returned, never left for the caller to look for.
//   - errorCode() -> OAuthError.Code, or errors.Is(err, ErrInvalidGrant) and the
//     other ErrorCode values.
//   - errorDescription() -> OAuthError.Description.
//   - errorURI() -> OAuthError.URI.
//   - tokenType() -> Tokens.TokenType, as sent.
//   - accessToken() -> Tokens.AccessToken.
//   - accessTokenExpiresInSeconds() -> Tokens.Lifetime() (a time.Duration; "3600"
//     as a string is accepted, 0 or absent means unknown, negative is an error).
//   - accessTokenExpiresAt() -> Tokens.ExpiresAt, IssuedAt + expires_in, fixed when
//     the request was built (the seed recomputes now + expires_in on every call).
//   - refreshToken() -> Tokens.RefreshToken, "" when the server issued none (the seed
//     throws).
//   - refreshTokenExpiresAt() -> Tokens.RefreshTokenExpiresAt (refresh_token_expires_in,
//     or Keycloak's refresh_expires_in).
//   - scopes() (0.5.0) -> Tokens.Scopes: nil when absent, empty for "" (the seed
//     gives [""]).
//   - a getter's throw "Missing or invalid '<field>' field" -> the *ResponseError
//     returned by ParseResponse, whose Field names the field.

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
)

// seedRequest builds the refresh request of "rt-1" with auth and opts, at t0.
func seedRequest(t *testing.T, auth refresh.Auth, opts ...refresh.RequestOption) (*http.Request, string) {
	t.Helper()
	c := &refresh.Client{TokenURL: authTokenURL, Auth: auth, Now: func() time.Time { return t0 }}
	req, err := c.NewRequest(t.Context(), "rt-1", opts...)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	return req, readBody(t, req)
}

// seedParse parses a JSON answer with status to a refresh of "rt-1" built at t0,
// on a clock that moves an hour on at every later reading.
func seedParse(t *testing.T, status int, body string) (*refresh.Tokens, error) {
	t.Helper()
	readings := 0
	c := &refresh.Client{TokenURL: authTokenURL, Now: func() time.Time {
		readings++
		return t0.Add(time.Duration(readings-1) * time.Hour)
	}}
	req, err := c.NewRequest(t.Context(), "rt-1")
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	resp := &http.Response{
		StatusCode:    status,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
	return c.ParseResponse(resp)
}

// seedTokens parses a successful JSON answer, stopping the test on an error.
func seedTokens(t *testing.T, body string) *refresh.Tokens {
	t.Helper()
	tok, err := seedParse(t, http.StatusOK, body)
	if err != nil {
		t.Fatalf("ParseResponse(%s): %v", body, err)
	}
	return tok
}

// seedOAuthError parses an error answer, stopping the test unless it is an
// *OAuthError.
func seedOAuthError(t *testing.T, status int, body string) *refresh.OAuthError {
	t.Helper()
	tok, err := seedParse(t, status, body)
	var oe *refresh.OAuthError
	if !errors.As(err, &oe) {
		t.Fatalf("ParseResponse(%s) = %v, %v; want an *OAuthError", body, tok, err)
	}
	return oe
}

func TestSeedParity(t *testing.T) {
	tests := []struct {
		seed  string // the @oslojs/oauth2 method
		goAPI string // what a Go caller uses instead
		note  string // how they differ, if they do
		check func(t *testing.T)
	}{
		// RefreshRequestContext
		{
			seed:  "new RefreshRequestContext(refreshToken)",
			goAPI: "Client.NewRequest",
			check: func(t *testing.T) {
				req, _ := seedRequest(t, nil)
				if got := req.URL.String(); got != authTokenURL {
					t.Errorf("request URL = %q, want %q", got, authTokenURL)
				}
			},
		},
		{
			seed:  "RefreshRequestContext.method",
			goAPI: "req.Method",
			check: func(t *testing.T) {
				if req, _ := seedRequest(t, nil); req.Method != http.MethodPost {
					t.Errorf("Method = %q, want POST", req.Method)
				}
			},
		},
		{
			seed:  "RefreshRequestContext.headers",
			goAPI: "req.Header",
			note:  "User-Agent is DefaultUserAgent, not \"oslo\"",
			check: func(t *testing.T) {
				req, _ := seedRequest(t, nil)
				want := http.Header{
					"Content-Type": {"application/x-www-form-urlencoded"},
					"Accept":       {"application/json"},
					"User-Agent":   {refresh.DefaultUserAgent},
				}
				if diff := cmp.Diff(want, req.Header); diff != "" {
					t.Errorf("headers (-want +got):\n%s", diff)
				}
			},
		},
		{
			seed:  "RefreshRequestContext.body",
			goAPI: "req.Body and req.GetBody",
			check: func(t *testing.T) {
				if _, body := seedRequest(t, nil); body != bareBody {
					t.Errorf("body = %q, want %q", body, bareBody)
				}
			},
		},
		{
			seed:  "authenticateWithHTTPBasicAuth(clientId, clientSecret)",
			goAPI: "ClientSecretBasic",
			note:  "seed wrong: RFC 6749 §2.3.1 form-encodes ID and secret; the seed sends them raw",
			check: func(t *testing.T) {
				req, body := seedRequest(t, refresh.ClientSecretBasic("a:b", "c:d"))
				got := req.Header.Get("Authorization")
				if got == "Basic YTpiOmM6ZA==" {
					t.Fatalf("Authorization = %q: raw credentials, the seed's mistake", got)
				}
				if want := "Basic YSUzQWI6YyUzQWQ="; got != want {
					t.Errorf("Authorization = %q, want %q", got, want)
				}
				if body != bareBody {
					t.Errorf("body = %q, want %q: no credentials in the body", body, bareBody)
				}
			},
		},
		{
			seed:  "authenticateWithHTTPBasicAuth(clientId, clientSecret) for a server that wants raw bytes",
			goAPI: "ClientSecretBasicRaw",
			note:  "the seed's raw encoding, as an explicit choice",
			check: func(t *testing.T) {
				req, _ := seedRequest(t, refresh.ClientSecretBasicRaw("abc", "c:d%"))
				if got, want := req.Header.Get("Authorization"), basic("abc:c:d%"); got != want {
					t.Errorf("Authorization = %q, want %q", got, want)
				}
			},
		},
		{
			seed:  "authenticateWithRequestBody(clientId, clientSecret)",
			goAPI: "ClientSecretPost",
			check: func(t *testing.T) {
				req, body := seedRequest(t, refresh.ClientSecretPost("app", "s3cret"))
				if want := bareBody + "&client_id=app&client_secret=s3cret"; body != want {
					t.Errorf("body = %q, want %q", body, want)
				}
				if got := req.Header.Get("Authorization"); got != "" {
					t.Errorf("Authorization = %q, want none", got)
				}
			},
		},
		{
			seed:  "authenticateWithHTTPBasicAuth and authenticateWithRequestBody on one context",
			goAPI: "a *ConfigError with Field Auth",
			note:  "seed wrong: RFC 6749 §2.3 allows one method per request; the seed sends both",
			check: func(t *testing.T) {
				both := refresh.AuthFunc(func(r *refresh.AuthRequest) error {
					if err := refresh.ClientSecretBasic("app", "s3cret").Authenticate(r); err != nil {
						return err
					}
					return refresh.ClientSecretPost("app", "s3cret").Authenticate(r)
				})
				c := &refresh.Client{TokenURL: authTokenURL, Auth: both}
				_, err := c.NewRequest(t.Context(), "rt-1")
				if field := configErrorField(t, err); field != "Auth" {
					t.Errorf("ConfigError.Field = %q, want Auth", field)
				}
			},
		},
		{
			seed:  "setClientId(clientId)",
			goAPI: "PublicClient",
			check: func(t *testing.T) {
				if _, body := seedRequest(t, refresh.PublicClient("app")); body != bareBody+"&client_id=app" {
					t.Errorf("body = %q, want %q", body, bareBody+"&client_id=app")
				}
			},
		},
		{
			seed:  "addScopes(...scopes)",
			goAPI: "WithScopes",
			note:  "seed wrong: its addScopes(\"read\", \"write\") sends \"read write undefined\"",
			check: func(t *testing.T) {
				_, body := seedRequest(t, nil, refresh.WithScopes("read", "write"))
				form, err := url.ParseQuery(body)
				if err != nil {
					t.Fatalf("ParseQuery(%q): %v", body, err)
				}
				if diff := cmp.Diff([]string{"read write"}, form["scope"]); diff != "" {
					t.Errorf("scope (-want +got):\n%s", diff)
				}
			},
		},

		// TokenRequestResult
		{
			seed:  "new TokenRequestResult(json)",
			goAPI: "Client.ParseResponse",
			check: func(t *testing.T) {
				tok := seedTokens(t, tokenJSON)
				if diff := cmp.Diff(wantTokens, tok, ignoreRaw); diff != "" {
					t.Errorf("Tokens (-want +got):\n%s", diff)
				}
			},
		},
		{
			seed:  "hasErrorCode()",
			goAPI: "errors.As with *OAuthError",
			note:  "whatever the HTTP status (GitHub sends errors with 200)",
			check: func(t *testing.T) {
				tok, err := seedParse(t, http.StatusOK, `{"error":"invalid_grant"}`)
				var oe *refresh.OAuthError
				if tok != nil || !errors.As(err, &oe) {
					t.Errorf("ParseResponse = %v, %v; want no tokens and an *OAuthError", tok, err)
				}
				if _, err := seedParse(t, http.StatusOK, tokenJSON); errors.As(err, &oe) {
					t.Errorf("a token response gave an *OAuthError: %v", err)
				}
			},
		},
		{
			seed:  "errorCode()",
			goAPI: "OAuthError.Code",
			note:  "or errors.Is(err, ErrInvalidGrant)",
			check: func(t *testing.T) {
				oe := seedOAuthError(t, http.StatusBadRequest, `{"error":"invalid_grant"}`)
				if oe.Code != "invalid_grant" {
					t.Errorf("Code = %q, want invalid_grant", oe.Code)
				}
				if !errors.Is(oe, refresh.ErrInvalidGrant) || errors.Is(oe, refresh.ErrInvalidClient) {
					t.Errorf("errors.Is matches the wrong codes for %v", oe)
				}
			},
		},
		{
			seed:  "errorDescription()",
			goAPI: "OAuthError.Description",
			check: func(t *testing.T) {
				oe := seedOAuthError(t, http.StatusBadRequest, `{"error":"invalid_grant","error_description":"token expired"}`)
				if oe.Description != "token expired" {
					t.Errorf("Description = %q, want %q", oe.Description, "token expired")
				}
			},
		},
		{
			seed:  "errorURI()",
			goAPI: "OAuthError.URI",
			check: func(t *testing.T) {
				oe := seedOAuthError(t, http.StatusBadRequest, `{"error":"invalid_grant","error_uri":"https://docs.example/errors#grant"}`)
				if oe.URI != "https://docs.example/errors#grant" {
					t.Errorf("URI = %q, want %q", oe.URI, "https://docs.example/errors#grant")
				}
			},
		},
		{
			seed:  "tokenType()",
			goAPI: "Tokens.TokenType",
			check: func(t *testing.T) {
				if tok := seedTokens(t, `{"access_token":"at","token_type":"DPoP"}`); tok.TokenType != "DPoP" {
					t.Errorf("TokenType = %q, want DPoP", tok.TokenType)
				}
			},
		},
		{
			seed:  "accessToken()",
			goAPI: "Tokens.AccessToken",
			check: func(t *testing.T) {
				if tok := seedTokens(t, `{"access_token":"at-9","token_type":"bearer"}`); tok.AccessToken != "at-9" {
					t.Errorf("AccessToken = %q, want at-9", tok.AccessToken)
				}
			},
		},
		{
			seed:  "accessTokenExpiresInSeconds()",
			goAPI: "Tokens.Lifetime",
			note:  "a time.Duration; \"3600\" as a string is accepted where the seed throws",
			check: func(t *testing.T) {
				for _, expiresIn := range []string{`3600`, `"3600"`} {
					tok := seedTokens(t, `{"access_token":"at","token_type":"bearer","expires_in":`+expiresIn+`}`)
					if got := tok.Lifetime(); got != time.Hour {
						t.Errorf("expires_in %s: Lifetime() = %v, want 1h", expiresIn, got)
					}
				}
				if tok := seedTokens(t, `{"access_token":"at","token_type":"bearer"}`); tok.Lifetime() != 0 {
					t.Errorf("no expires_in: Lifetime() = %v, want 0 (unknown)", tok.Lifetime())
				}
			},
		},
		{
			seed:  "accessTokenExpiresAt()",
			goAPI: "Tokens.ExpiresAt",
			note:  "IssuedAt + expires_in, fixed when the request was built, not at each call",
			check: func(t *testing.T) {
				// seedParse's clock moves on after NewRequest read it.
				tok := seedTokens(t, `{"access_token":"at","token_type":"bearer","expires_in":60}`)
				if want := t0.Add(time.Minute); !tok.ExpiresAt.Equal(want) {
					t.Errorf("ExpiresAt = %v, want %v", tok.ExpiresAt, want)
				}
			},
		},
		{
			seed:  "refreshToken()",
			goAPI: "Tokens.RefreshToken",
			note:  "empty when the server issued none, where the seed throws",
			check: func(t *testing.T) {
				if tok := seedTokens(t, `{"access_token":"at","token_type":"bearer","refresh_token":"rt-2"}`); tok.RefreshToken != "rt-2" {
					t.Errorf("RefreshToken = %q, want rt-2", tok.RefreshToken)
				}
				if tok := seedTokens(t, `{"access_token":"at","token_type":"bearer"}`); tok.RefreshToken != "" {
					t.Errorf("no refresh_token: RefreshToken = %q, want empty", tok.RefreshToken)
				}
			},
		},
		{
			seed:  "refreshTokenExpiresAt()",
			goAPI: "Tokens.RefreshTokenExpiresAt",
			note:  "from refresh_token_expires_in, or Keycloak's refresh_expires_in",
			check: func(t *testing.T) {
				for _, field := range []string{"refresh_token_expires_in", "refresh_expires_in"} {
					tok := seedTokens(t, `{"access_token":"at","token_type":"bearer","`+field+`":86400}`)
					if want := t0.Add(24 * time.Hour); !tok.RefreshTokenExpiresAt.Equal(want) {
						t.Errorf("%s: RefreshTokenExpiresAt = %v, want %v", field, tok.RefreshTokenExpiresAt, want)
					}
				}
			},
		},
		{
			seed:  "scopes() (0.5.0)",
			goAPI: "Tokens.Scopes",
			note:  "nil when absent, empty for \"\" where the seed gives [\"\"]",
			check: func(t *testing.T) {
				for _, tt := range []struct {
					scope string
					want  []string
				}{
					{`,"scope":"read write"`, []string{"read", "write"}},
					{`,"scope":""`, []string{}},
					{``, nil},
				} {
					tok := seedTokens(t, `{"access_token":"at","token_type":"bearer"`+tt.scope+`}`)
					if diff := cmp.Diff(tt.want, tok.Scopes); diff != "" {
						t.Errorf("%s: Scopes (-want +got):\n%s", tt.scope, diff)
					}
					if (tok.Scopes == nil) != (tt.want == nil) {
						t.Errorf("%s: Scopes = %#v, want nil %t", tt.scope, tok.Scopes, tt.want == nil)
					}
				}
			},
		},
		{
			seed:  "a getter's throw \"Missing or invalid '<field>' field\"",
			goAPI: "a *ResponseError naming the field",
			check: func(t *testing.T) {
				for _, tt := range []struct{ body, field string }{
					{`{"token_type":"bearer"}`, "access_token"},
					{`{"access_token":42,"token_type":"bearer"}`, "access_token"},
					{`{"access_token":"at"}`, "token_type"},
					{`{"access_token":"at","token_type":"bearer","expires_in":"soon"}`, "expires_in"},
					{`{"access_token":"at","token_type":"bearer","expires_in":-1}`, "expires_in"},
					{`{"access_token":"at","token_type":"bearer","refresh_token":7}`, "refresh_token"},
					{`{"access_token":"at","token_type":"bearer","refresh_token_expires_in":true}`, "refresh_token_expires_in"},
					{`{"access_token":"at","token_type":"bearer","scope":5}`, "scope"},
				} {
					tok, err := seedParse(t, http.StatusOK, tt.body)
					var re *refresh.ResponseError
					if tok != nil || !errors.As(err, &re) {
						t.Errorf("%s: ParseResponse = %v, %v; want a *ResponseError", tt.body, tok, err)
						continue
					}
					if re.Field != tt.field {
						t.Errorf("%s: ResponseError.Field = %q, want %q", tt.body, re.Field, tt.field)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.seed+" is "+tt.goAPI, func(t *testing.T) {
			if tt.note != "" {
				t.Log(tt.note)
			}
			tt.check(t)
		})
	}
}
