package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/tokenrefresh/refresh/refreshtest"
)

// tokenPattern matches every token the fake provider (refreshtest) issues.
var tokenPattern = regexp.MustCompile(`\b(at|rt)_[0-9a-f]{32}\b`)

// expiresAt matches the expiry in a printed Tokens, which follows the clock.
var expiresAt = regexp.MustCompile(`ExpiresAt:[0-9T:.+Z-]+`)

const wantOutput = `1. The usual path: a Source and a Transport call a protected resource
   GET /resource: 200 OK {"client_id":"quickstart-app","scope":"read write"}
   GET /resource: 200 OK {"client_id":"quickstart-app","scope":"read write"}
   token requests: 1 (the first GET refreshed, the second used the cached token)
   the Store holds the rotated refresh token: true
2. Client.Refresh on its own, with client_secret_basic
   tokens:     refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:(time), Scopes:["read" "write"]}
   token type: Bearer
   scopes:     [read write]
   expires in: 1h0m0s
3. Rotation: the server sent a new refresh token
   stored the new refresh token
   the old one is now rejected: errors.Is(err, refresh.ErrInvalidGrant)
   refresh: token endpoint error "invalid_grant" (HTTP 400): the refresh token was already used, so the grant is revoked
   and the reuse revoked the whole session: the new one is rejected too
   the user signs in again
4. Narrow the scope with refresh.WithScopes("read")
   tokens:     refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:(time), Scopes:["read"]}
   scopes:     [read]
5. A GitHub-style endpoint: errors come with HTTP 200
   *refresh.OAuthError: code "bad_refresh_token", HTTP 200
   description: the refresh token is unknown
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

// TestTokenPattern keeps tokenPattern in step with the tokens refreshtest
// issues, so that TestRun cannot pass by matching nothing.
func TestTokenPattern(t *testing.T) {
	srv := refreshtest.NewInMemoryServer(refreshtest.WithClient(refreshtest.Client{ID: clientID, Method: refreshtest.AuthNone}))
	rt := srv.IssueRefreshToken(clientID)
	resp, err := srv.Client().PostForm(srv.TokenURL(), map[string][]string{
		"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if n := len(tokenPattern.FindAllString(body.String(), -1)); n != 2 {
		t.Errorf("tokenPattern matches %d tokens in %d %s, want 2 (an access and a refresh token)", n, resp.StatusCode, body.String())
	}
	if !tokenPattern.MatchString(rt) {
		t.Error("tokenPattern does not match an issued refresh token")
	}
}
