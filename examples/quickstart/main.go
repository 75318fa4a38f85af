// Command quickstart refreshes OAuth 2.0 access tokens with package refresh,
// against a fake provider it starts in-process on 127.0.0.1: no network, no
// flags, no setup.
//
//	go run ./examples/quickstart
//
// Its code is this one file, examples/quickstart/main.go in the refresh
// repository; main_test.go beside it checks the output. The fake provider, a
// token endpoint and a protected resource, is package refreshtest
// (github.com/tokenrefresh/refresh/refreshtest), which your own tests can use
// the same way; everything else is what a user writes.
//
// It shows first the path most services take: a Source that keeps the tokens,
// refreshes them and saves each rotated refresh token to a Store, and a
// Transport that puts the access token on every request to the protected
// resource (and refreshes and retries once if the resource answers 401
// invalid_token). Then Client.Refresh on its own: client_secret_basic, refresh
// token rotation (the old token is then rejected with invalid_grant, and its
// reuse revokes the whole session), a refresh narrowed to fewer scopes, and a
// GitHub-style error sent with HTTP 200 surfacing as a *refresh.OAuthError.
// Tokens are printed only as Tokens values, whose String never shows a token.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

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
	// The fake provider, which knows our client and rotates refresh tokens.
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{
		ID: clientID, Secret: clientSecret, Method: refreshtest.AuthClientSecretBasic,
	}))
	defer srv.Close()

	client := &refresh.Client{
		TokenURL: srv.TokenURL(), // https://… at a real provider
		Auth:     refresh.ClientSecretBasic(clientID, clientSecret),
	}

	fmt.Fprintln(w, "1. The usual path: a Source and a Transport call a protected resource")
	// The refresh token the user's sign-in left us, in a Store that stands
	// for your database.
	signIn := &refresh.Tokens{RefreshToken: srv.IssueRefreshToken(clientID, "read", "write")}
	store := refresh.NewMemoryStore(signIn)
	src := refresh.NewSource(client, nil, refresh.WithStore(store))
	api := &http.Client{Transport: &refresh.Transport{Source: src}}
	for range 2 {
		answer, err := get(ctx, api, srv.ResourceURL()) // https://api.… at a real service
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "   GET", refreshtest.ResourcePath+":", answer)
	}
	fmt.Fprintln(w, "   token requests:", len(srv.Requests()), "(the first GET refreshed, the second used the cached token)")
	saved, err := store.Load(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "   the Store holds the rotated refresh token:", saved.RefreshToken != signIn.RefreshToken)

	fmt.Fprintln(w, "2. Client.Refresh on its own, with client_secret_basic")
	// Without a Source, storing the tokens is up to you.
	user := &session{RefreshToken: srv.IssueRefreshToken(clientID, "read", "write")}
	tok, err := client.Refresh(ctx, user.RefreshToken)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "   tokens:    ", tok) // Tokens print redacted
	fmt.Fprintln(w, "   token type:", tok.TokenType)
	fmt.Fprintln(w, "   scopes:    ", tok.Scopes)
	fmt.Fprintln(w, "   expires in:", tok.Lifetime())

	fmt.Fprintln(w, "3. Rotation: the server sent a new refresh token")
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

	fmt.Fprintln(w, `4. Narrow the scope with refresh.WithScopes("read")`)
	tok, err = client.Refresh(ctx, user.RefreshToken, refresh.WithScopes("read"))
	if err != nil {
		return err
	}
	user.RefreshToken = tok.RefreshToken
	fmt.Fprintln(w, "   tokens:    ", tok)
	fmt.Fprintln(w, "   scopes:    ", tok.Scopes)

	fmt.Fprintln(w, "5. A GitHub-style endpoint: errors come with HTTP 200")
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

// get sends a GET request through hc and returns the status and the body.
func get(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.Status + " " + strings.TrimSpace(string(body)), err
}
