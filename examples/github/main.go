// Command github refreshes the user access token of a GitHub App and calls the
// GitHub API with it, handling what GitHub does differently from RFC 6749:
//
//   - it answers errors with HTTP 200 and its own codes: bad_refresh_token
//     (RFC 6749's invalid_grant) and incorrect_client_credentials
//     (invalid_client). refresh turns any body with "error" into a
//     *refresh.OAuthError, whatever the status, and errors.Is matches the codes
//     with refresh.ErrorCode;
//   - it sends JSON only when asked with Accept: application/json, which
//     refresh always sends (a form-encoded answer would be parsed anyway);
//   - user access tokens last 8 hours (expires_in 28800), and refresh tokens
//     about 6 months (refresh_token_expires_in), which refresh reads into
//     Tokens.RefreshTokenExpiresAt;
//   - refresh tokens are single-use: each refresh answers with a new one and the
//     one sent is spent. So the new tokens are saved (atomically, mode 0600)
//     before the access token is used, and a spent one is never sent again.
//
// The client secret goes in the body (client_secret_post), as GitHub's
// documentation shows. Run it with the app's credentials in the environment,
// and the refresh token from the user's sign-in for the first run:
//
//	export GITHUB_CLIENT_ID=Iv1.0123456789abcdef GITHUB_CLIENT_SECRET=...
//	export GITHUB_REFRESH_TOKEN=ghr_...  # first run only; later runs read -token-file
//	go run ./examples/github -token-file ~/.config/my-github-app/tokens.json
//
// It refreshes when the saved access token has less than 5 minutes left (or
// with -force), then prints the login of the user the token belongs to.
// -token-url and -api point it elsewhere: main_test.go runs it against
// refreshtest configured to behave like GitHub.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokenrefresh/refresh"
)

// GitHub's endpoints.
const (
	gitHubTokenURL = "https://github.com/login/oauth/access_token"
	gitHubAPI      = "https://api.github.com"
)

// GitHub's error codes on its token endpoint.
var (
	errBadRefreshToken   = refresh.ErrorCode("bad_refresh_token")
	errBadClientSecret   = refresh.ErrorCode("incorrect_client_credentials")
	errMustAuthorizeUser = errors.New("the user must authorize the app again")
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "github:", err)
		os.Exit(1)
	}
}

// run is the whole program, with its surroundings as arguments so that a test
// can run it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("github", flag.ContinueOnError)
	flags.SetOutput(stderr)
	tokenFile := flags.String("token-file", "github-tokens.json", "where the tokens are kept, mode 0600")
	tokenURL := flags.String("token-url", gitHubTokenURL, "GitHub's token endpoint")
	apiURL := flags.String("api", gitHubAPI, "GitHub's API")
	force := flags.Bool("force", false, "refresh even if the access token is still valid")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	clientID, secret := getenv("GITHUB_CLIENT_ID"), getenv("GITHUB_CLIENT_SECRET")
	if clientID == "" || secret == "" {
		return errors.New("set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET")
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	tokens, err := loadTokens(*tokenFile)
	if err != nil {
		return err
	}
	if tokens == nil {
		rt := getenv("GITHUB_REFRESH_TOKEN")
		if rt == "" {
			return fmt.Errorf("no token file %s yet: set GITHUB_REFRESH_TOKEN for the first run", *tokenFile)
		}
		tokens = &refresh.Tokens{RefreshToken: rt}
	}

	now := time.Now()
	if *force || tokens.AccessToken == "" || tokens.ExpiresAt.Before(now.Add(5*time.Minute)) {
		client := &refresh.Client{
			TokenURL: *tokenURL,
			Auth:     refresh.ClientSecretPost(clientID, secret),
		}
		if tokens, err = refreshTokens(ctx, client, tokens, *tokenFile, logger); err != nil {
			return err
		}
	}
	if exp := tokens.RefreshTokenExpiresAt; !exp.IsZero() && exp.Before(now.Add(7*24*time.Hour)) {
		logger.Warn("the refresh token expires soon: the user will have to authorize the app again",
			"refresh_token_expires_at", exp)
	}

	login, err := currentUser(ctx, *apiURL, tokens)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "signed in as", login)
	return nil
}

// refreshTokens refreshes once, saves the new tokens and returns them.
func refreshTokens(ctx context.Context, client *refresh.Client, old *refresh.Tokens, file string, logger *slog.Logger) (*refresh.Tokens, error) {
	if exp := old.RefreshTokenExpiresAt; !exp.IsZero() && !time.Now().Before(exp) {
		// Sending it would only get bad_refresh_token.
		return nil, fmt.Errorf("the refresh token expired at %s: %w", exp.Format(time.RFC3339), errMustAuthorizeUser)
	}
	logger.Info("refreshing", "client", client) // the client logs without its secret
	tok, err := client.Refresh(ctx, old.RefreshToken)
	var oauthErr *refresh.OAuthError
	switch {
	case errors.Is(err, errBadRefreshToken) || errors.Is(err, refresh.ErrInvalidGrant):
		// Spent (used before: never send it again), expired or revoked. GitHub
		// says so with HTTP 200.
		return nil, fmt.Errorf("GitHub refused the refresh token: %w: %w", errMustAuthorizeUser, err)
	case errors.Is(err, errBadClientSecret) || errors.Is(err, refresh.ErrInvalidClient):
		return nil, fmt.Errorf("GitHub refused the app's credentials (check GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET): %w", err)
	case errors.As(err, &oauthErr):
		return nil, fmt.Errorf("GitHub answered %q: %w", oauthErr.Code, err)
	case err != nil:
		return nil, err // not GitHub's answer: the network, or a proxy's error page
	}
	if tok.RefreshToken == "" {
		// GitHub Apps with expiring tokens always send one; keep the old one if not.
		tok.RefreshToken, tok.RefreshTokenExpiresAt = old.RefreshToken, old.RefreshTokenExpiresAt
	}
	// The old refresh token is spent now: save the new one before anything else.
	if err := saveTokens(file, tok); err != nil {
		return nil, fmt.Errorf("refreshed, but saving the new tokens failed, so the user must authorize the app again: %w", err)
	}
	logger.Info("refreshed and saved", "tokens", tok, "refresh_token_expires_at", tok.RefreshTokenExpiresAt)
	return tok, nil
}

// currentUser calls GET /user and returns the login.
func currentUser(ctx context.Context, api string, tok *refresh.Tokens) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(api, "/")+"/user", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /user: %s (run with -force to refresh the token)", resp.Status)
	}
	var user struct {
		Login string `json:"login"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&user); err != nil {
		return "", fmt.Errorf("GET /user: %w", err)
	}
	return user.Login, nil
}

// loadTokens reads the token file, or returns nil, nil when there is none. Its
// errors never show the file's content.
func loadTokens(file string) (*refresh.Tokens, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t refresh.Tokens
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("token file %s: not a JSON token set", file)
	}
	return &t, nil
}

// saveTokens replaces the token file atomically with mode 0600: a temporary
// file in the same directory, fsync, rename. (examples/transport has the same
// as a refresh.Store.)
func saveTokens(file string, t *refresh.Tokens) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(f.Name(), file)
	}
	return err
}
