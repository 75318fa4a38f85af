package main

import (
	"bytes"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// tokenPattern matches every token the fake provider issues (see newToken).
var tokenPattern = regexp.MustCompile(`\b(at|rt)_[0-9a-f]{32}\b`)

// expiresAt matches the expiry in a printed Tokens, which follows the clock.
var expiresAt = regexp.MustCompile(`ExpiresAt:[0-9T:.+Z-]+`)

const wantOutput = `1. Refresh with client_secret_basic
   tokens:     refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:(time), Scopes:["read" "write"]}
   token type: Bearer
   scopes:     [read write]
   expires in: 1h0m0s
2. Rotation: the server sent a new refresh token
   stored the new refresh token
   the old one is now rejected: errors.Is(err, refresh.ErrInvalidGrant)
   refresh: token endpoint error "invalid_grant" (HTTP 400): the refresh token is invalid, expired or already used
3. Narrow the scope with refresh.WithScopes("read")
   tokens:     refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:(time), Scopes:["read"]}
   scopes:     [read]
4. A GitHub-style endpoint: errors come with HTTP 200
   *refresh.OAuthError: code "bad_refresh_token", HTTP 200
   description: the refresh token is invalid, expired or already used
   errors.Is(err, refresh.ErrInvalidGrant): false
   errors.Is(err, refresh.ErrorCode("bad_refresh_token")): true
`

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	got := out.String()
	if norm := expiresAt.ReplaceAllString(got, "ExpiresAt:(time)"); norm != wantOutput {
		t.Errorf("output (expiry times replaced):\n%s\nwant:\n%s", norm, wantOutput)
	}
	if m := tokenPattern.FindString(got); m != "" {
		t.Errorf("a token appears in the output: %s", m)
	}
	for _, secret := range []string{clientSecret, "127.0.0.1"} {
		if strings.Contains(got, secret) {
			t.Errorf("output shows %q", secret)
		}
	}
}

// TestTokenPattern keeps tokenPattern in step with the tokens the provider
// issues, so that TestRun cannot pass by matching nothing.
func TestTokenPattern(t *testing.T) {
	srv, rt := startProvider(clientID, clientSecret)
	srv.Close()
	for _, tok := range []string{rt, newToken("at"), newToken("rt")} {
		if !tokenPattern.MatchString(tok) {
			t.Errorf("tokenPattern does not match the issued token %s", tok)
		}
	}
}

// TestProviderRejectsWrongSecret checks that the fake provider does enforce
// client authentication, so that the quickstart's success means something.
func TestProviderRejectsWrongSecret(t *testing.T) {
	p := &provider{clientID: clientID, clientSecret: clientSecret, grants: map[string]string{"rt_x": "read"}}
	for _, tc := range []struct {
		path, wantCode string
		wantStatus     int
	}{
		{tokenPath, `"invalid_client"`, 401},
		{githubTokenPath, `"incorrect_client_credentials"`, 200},
	} {
		req := httptest.NewRequest("POST", tc.path, strings.NewReader("grant_type=refresh_token&refresh_token=rt_x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, "wrong")
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.wantCode) {
			t.Errorf("%s: got %d %s, want %d with %s", tc.path, rec.Code, rec.Body, tc.wantStatus, tc.wantCode)
		}
	}
	if _, ok := p.grants["rt_x"]; !ok {
		t.Error("a failed authentication spent the refresh token")
	}
}
