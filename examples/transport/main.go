// Command transport is an API client whose requests carry an OAuth 2.0 access
// token through refresh.Transport, with the tokens kept in a file that only
// its owner can read.
//
// It shows:
//   - FileStore (store.go), a refresh.Store that writes the tokens with mode
//     0600 and replaces the file atomically (temporary file, fsync, rename), so
//     a rotated refresh token is on disk before any request uses the new access
//     token, and a restart picks up where the last run stopped;
//   - a refresh.Source and refresh.Transport shared by concurrent requests: one
//     token request however many requests need a token, and one refresh and
//     replay when the API answers 401 invalid_token;
//   - logging through log/slog, where tokens and the client secret show
//     redacted.
//
// Run it against your provider, with the secret and the first refresh token
// in the environment (never on the command line, where ps and the shell
// history would show them):
//
//	export CLIENT_SECRET=...  # empty for a public client
//	export REFRESH_TOKEN=...  # only for the first run; later runs read -token-file
//	go run ./examples/transport -token-url https://login.example.com/oauth2/token \
//		-client-id my-app -token-file ~/.config/my-app/tokens.json \
//		-url https://api.example.com/v1/me -requests 5
//
// It GETs -url -requests times at once, prints each status, and exits with 1
// when any request failed. main_test.go runs it against refreshtest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/tokenrefresh/refresh"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "transport:", err)
		os.Exit(1)
	}
}

// run is the whole program, with its surroundings as arguments so that a test
// can run it: the command-line arguments, the environment, and where output
// and logs go.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("transport", flag.ContinueOnError)
	flags.SetOutput(stderr)
	tokenURL := flags.String("token-url", "", "the provider's token endpoint (required)")
	clientID := flags.String("client-id", "", "the OAuth client ID (required)")
	tokenFile := flags.String("token-file", "tokens.json", "where the tokens are kept, mode 0600")
	apiURL := flags.String("url", "", "the API URL to GET (required)")
	requests := flags.Int("requests", 1, "how many GET requests to send at once")
	if err := flags.Parse(args); err != nil {
		return err
	}
	switch {
	case *tokenURL == "" || *clientID == "" || *apiURL == "":
		return errors.New("-token-url, -client-id and -url are required")
	case *requests < 1:
		return errors.New("-requests must be at least 1")
	case flags.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	store := &FileStore{Path: *tokenFile}
	tokens, err := store.Load(ctx)
	if err != nil {
		return err
	}
	if tokens == nil {
		// The first run: start from the refresh token the sign-in gave.
		rt := getenv("REFRESH_TOKEN")
		if rt == "" {
			return fmt.Errorf("no token file %s yet: set REFRESH_TOKEN for the first run", *tokenFile)
		}
		tokens = &refresh.Tokens{RefreshToken: rt}
	}

	var auth refresh.Auth = refresh.PublicClient(*clientID)
	if secret := getenv("CLIENT_SECRET"); secret != "" {
		auth = refresh.ClientSecretBasic(*clientID, secret)
	}
	client := &refresh.Client{TokenURL: *tokenURL, Auth: auth}
	src := refresh.NewSource(client, tokens, refresh.WithStore(store), refresh.WithLogger(logger))
	hc := &http.Client{
		Transport: &refresh.Transport{Source: src},
		Timeout:   30 * time.Second,
	}
	// Client and Tokens log without their secrets.
	logger.Info("starting", "client", client, "tokens", tokens, "token_file", *tokenFile)

	statuses := make([]string, *requests)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() { statuses[i] = get(ctx, hc, *apiURL) })
	}
	wg.Wait()
	failed := 0
	for i, s := range statuses {
		fmt.Fprintf(stdout, "request %d: %s\n", i+1, s)
		if s != "200 OK" {
			failed++
		}
	}
	if tok, err := src.Token(ctx); err == nil {
		logger.Info("done", "tokens", tok)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests failed", failed, len(statuses))
	}
	return nil
}

// get sends one GET and returns its status, or the error. An error from the
// Source (an invalid_grant, a failed save) comes wrapped in a *url.Error, and
// shows no token.
func get(ctx context.Context, hc *http.Client, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.Status
}
