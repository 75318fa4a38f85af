// Command quickstart refreshes OAuth 2.0 access tokens with package refresh,
// against a fake provider it starts in-process on 127.0.0.1: no network, no
// flags, no setup.
//
//	go run ./examples/quickstart
//
// It shows a refresh with client_secret_basic, refresh token rotation (the old
// token is then rejected with invalid_grant, and its reuse revokes the whole
// session), a refresh narrowed to fewer scopes, and a GitHub-style error sent
// with HTTP 200 surfacing as a *refresh.OAuthError. Tokens are printed only as
// Tokens values, whose String never shows a token.
//
// The fake provider is package refreshtest, which your own tests can use the
// same way; everything else is what a user writes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// The client's registration at the provider. Real code reads these from its
// configuration or a secret store.
const (
	clientID     = "quickstart-app"
	clientSecret = "quickstart-secret"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// session stands for where an app keeps a user's refresh token: a database row,
// the OS keychain.
type session struct {
	RefreshToken string
}

func run(ctx context.Context, w io.Writer) error {
	// The fake provider, which knows our client and rotates refresh tokens,
	// and the refresh token the user's sign-in left us.
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{
		ID: clientID, Secret: clientSecret, Method: refreshtest.AuthClientSecretBasic,
	}))
	defer srv.Close()
	user := &session{RefreshToken: srv.IssueRefreshToken(clientID, "read", "write")}

	client := &refresh.Client{
		TokenURL: srv.TokenURL(), // https://… at a real provider
		Auth:     refresh.ClientSecretBasic(clientID, clientSecret),
	}

	fmt.Fprintln(w, "1. Refresh with client_secret_basic")
	tok, err := client.Refresh(ctx, user.RefreshToken)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "   tokens:    ", tok) // Tokens print redacted
	fmt.Fprintln(w, "   token type:", tok.TokenType)
	fmt.Fprintln(w, "   scopes:    ", tok.Scopes)
	fmt.Fprintln(w, "   expires in:", tok.Lifetime())

	fmt.Fprintln(w, "2. Rotation: the server sent a new refresh token")
	if tok.RefreshToken == "" {
		return errors.New("the provider did not rotate the refresh token")
	}
	spent := user.RefreshToken
	user.RefreshToken = tok.RefreshToken // store it before using the access token
	fmt.Fprintln(w, "   stored the new refresh token")
	// Never retry with a spent token: servers with reuse detection (Auth0,
	// Okta, and this one) take it as theft and revoke the whole session.
	_, err = client.Refresh(ctx, spent)
	if !errors.Is(err, refresh.ErrInvalidGrant) {
		return fmt.Errorf("reusing the spent refresh token: want invalid_grant, got %v", err)
	}
	fmt.Fprintln(w, "   the old one is now rejected: errors.Is(err, refresh.ErrInvalidGrant)")
	fmt.Fprintln(w, "  ", err)
	_, err = client.Refresh(ctx, user.RefreshToken)
	if !errors.Is(err, refresh.ErrInvalidGrant) {
		return fmt.Errorf("after the reuse: want invalid_grant, got %v", err)
	}
	fmt.Fprintln(w, "   and the reuse revoked the whole session: the new one is rejected too")
	fmt.Fprintln(w, "   the user signs in again")
	user.RefreshToken = srv.IssueRefreshToken(clientID, "read", "write")

	fmt.Fprintln(w, `3. Narrow the scope with refresh.WithScopes("read")`)
	tok, err = client.Refresh(ctx, user.RefreshToken, refresh.WithScopes("read"))
	if err != nil {
		return err
	}
	user.RefreshToken = tok.RefreshToken
	fmt.Fprintln(w, "   tokens:    ", tok)
	fmt.Fprintln(w, "   scopes:    ", tok.Scopes)

	fmt.Fprintln(w, "4. A GitHub-style endpoint: errors come with HTTP 200")
	gh := refreshtest.NewServer(
		refreshtest.WithClient(refreshtest.Client{ID: clientID, Secret: clientSecret, Method: refreshtest.AuthClientSecretPost}),
		refreshtest.WithQuirks(refreshtest.GitHubQuirks()),
	)
	defer gh.Close()
	github := &refresh.Client{
		TokenURL: gh.TokenURL(),
		Auth:     refresh.ClientSecretPost(clientID, clientSecret),
	}
	_, err = github.Refresh(ctx, spent)
	var oauthErr *refresh.OAuthError
	if !errors.As(err, &oauthErr) {
		return fmt.Errorf("GitHub-style error: want *refresh.OAuthError, got %v", err)
	}
	fmt.Fprintf(w, "   *refresh.OAuthError: code %q, HTTP %d\n", oauthErr.Code, oauthErr.StatusCode)
	fmt.Fprintln(w, "   description:", oauthErr.Description)
	// GitHub has its own codes: ErrorCode matches any code with errors.Is.
	fmt.Fprintln(w, "   errors.Is(err, refresh.ErrInvalidGrant):", errors.Is(err, refresh.ErrInvalidGrant))
	fmt.Fprintln(w, `   errors.Is(err, refresh.ErrorCode("bad_refresh_token")):`,
		errors.Is(err, refresh.ErrorCode("bad_refresh_token")))
	return nil
}
