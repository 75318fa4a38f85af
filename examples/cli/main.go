// Command cli refreshes an OAuth 2.0 access token once, against any token
// endpoint, and prints the result: a quick way to check a provider, a client
// registration or a refresh token by hand, and a template for a program that
// sorts refresh failures by kind.
//
// Secrets never go on the command line, where ps and the shell history would
// show them. The client secret comes from $CLIENT_SECRET, or with
// -secret-stdin from the first line of standard input; the refresh token from
// $REFRESH_TOKEN, or with -refresh-token-stdin from the next line:
//
//	export CLIENT_SECRET=...
//	export REFRESH_TOKEN=...
//	go run ./examples/cli -token-url https://login.example.com/oauth2/token \
//		-client-id my-app -auth basic -scope "read write"
//
//	printf '%s\n%s\n' "$SECRET" "$RT" | go run ./examples/cli -token-url ... \
//		-client-id my-app -secret-stdin -refresh-token-stdin -json > tokens.json
//
// Flags:
//
//	-token-url URL        the token endpoint (required; https, or http on a loopback host)
//	-client-id ID         the client ID (required)
//	-auth METHOD          basic (client_secret_basic, the default), basic-raw (Basic
//	                      without form-encoding: Cloud Foundry UAA, Epic), post
//	                      (client_secret_post) or none (a public client: client_id only)
//	-scope "a b"          narrow the scope on this refresh (spaces or commas)
//	-json                 print the new tokens, secrets included, as JSON on stdout
//	-secret-stdin         read the client secret from the first line of stdin
//	-refresh-token-stdin  read the refresh token from the next line of stdin
//	-timeout 30s          give up after this long
//
// Without -json it prints the result with every token redacted, and logs
// (log/slog, on standard error) without secrets. A server that rotates refresh
// tokens has spent the one you passed once it answers: use -json, redirected
// to a file only you can read, to keep the new one.
//
// Exit codes, one per outcome:
//
//	0  refreshed
//	1  the result could not be written, or any failure not listed below
//	2  usage: a bad flag or missing input, or a request refused before sending
//	   (*refresh.ConfigError: an http URL that is not loopback, a bad scope)
//	3  invalid_grant, or GitHub's bad_refresh_token: the refresh token is
//	   expired, revoked or spent; sign in again
//	4  invalid_client, or GitHub's incorrect_client_credentials: check the
//	   client ID, the secret and -auth
//	5  any other OAuth error (*refresh.OAuthError): invalid_scope,
//	   temporarily_unavailable, ...
//	6  an answer that is not a token response (*refresh.ResponseError): an
//	   HTML error page, a missing access_token, a redirect, a body cut short
//	7  the network: no connection, TLS, a timeout
//
// main_test.go runs it against refreshtest and checks each exit code.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/tokenrefresh/refresh"
)

// Exit codes; see the package doc.
const (
	exitOK            = 0
	exitOutput        = 1
	exitUsage         = 2
	exitInvalidGrant  = 3
	exitInvalidClient = 4
	exitOAuthError    = 5
	exitResponseError = 6
	exitNetwork       = 7
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(exitOK)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cli:", err) // no error of refresh shows a secret
	}
	os.Exit(exitCode(err))
}

// usageError is a mistake in the flags or the input.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// outputError is a failure to write the result.
type outputError struct{ err error }

func (e *outputError) Error() string { return "writing the result: " + e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

// exitCode maps run's error to the exit code of its outcome.
func exitCode(err error) int {
	var (
		usage    *usageError
		config   *refresh.ConfigError
		oauth    *refresh.OAuthError
		response *refresh.ResponseError
		output   *outputError
		network  *url.Error
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage), errors.As(err, &config), errors.Is(err, flag.ErrHelp):
		return exitUsage
	case errors.Is(err, refresh.ErrInvalidGrant), errors.Is(err, refresh.ErrorCode("bad_refresh_token")):
		return exitInvalidGrant
	case errors.Is(err, refresh.ErrInvalidClient), errors.Is(err, refresh.ErrorCode("incorrect_client_credentials")):
		return exitInvalidClient
	case errors.As(err, &oauth):
		return exitOAuthError
	case errors.As(err, &response):
		return exitResponseError
	case errors.As(err, &output):
		return exitOutput
	case errors.As(err, &network), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return exitNetwork
	default:
		return exitOutput
	}
}

// run is the whole program, with its surroundings as arguments so that a test
// can run it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("cli", flag.ContinueOnError)
	flags.SetOutput(stderr)
	tokenURL := flags.String("token-url", "", "the token endpoint (required)")
	clientID := flags.String("client-id", "", "the client ID (required)")
	method := flags.String("auth", "basic", "client authentication: basic, basic-raw, post or none")
	scope := flags.String("scope", "", "narrow the scope on this refresh (space- or comma-separated)")
	asJSON := flags.Bool("json", false, "print the new tokens, secrets included, as JSON on stdout")
	secretStdin := flags.Bool("secret-stdin", false, "read the client secret from the first line of stdin instead of $CLIENT_SECRET")
	rtStdin := flags.Bool("refresh-token-stdin", false, "read the refresh token from the next line of stdin instead of $REFRESH_TOKEN")
	timeout := flags.Duration("timeout", 30*time.Second, "give up after this long")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	switch {
	case flags.NArg() > 0:
		return usagef("unexpected argument %q: secrets go in the environment or on stdin, never in arguments", flags.Arg(0))
	case *tokenURL == "":
		return usagef("-token-url is required")
	case *clientID == "":
		return usagef("-client-id is required")
	case *timeout <= 0:
		return usagef("-timeout must be positive")
	}

	lines := bufio.NewReader(stdin)
	secret := getenv("CLIENT_SECRET")
	if *secretStdin {
		var err error
		if secret, err = readLine(lines, "the client secret"); err != nil {
			return err
		}
	}
	refreshToken := getenv("REFRESH_TOKEN")
	if *rtStdin {
		var err error
		if refreshToken, err = readLine(lines, "the refresh token"); err != nil {
			return err
		}
	}
	if refreshToken == "" {
		return usagef("no refresh token: set REFRESH_TOKEN or use -refresh-token-stdin")
	}

	var auth refresh.Auth
	switch *method {
	case "basic", "basic-raw", "post":
		if secret == "" {
			return usagef("-auth %s needs a client secret: set CLIENT_SECRET or use -secret-stdin", *method)
		}
		auth = map[string]func(string, string) refresh.Auth{
			"basic": refresh.ClientSecretBasic, "basic-raw": refresh.ClientSecretBasicRaw, "post": refresh.ClientSecretPost,
		}[*method](*clientID, secret)
	case "none":
		if secret != "" {
			return usagef("-auth none sends no secret, but one was given")
		}
		auth = refresh.PublicClient(*clientID)
	default:
		return usagef("-auth %q: want basic, basic-raw, post or none", *method)
	}
	var opts []refresh.RequestOption
	if scopes := strings.FieldsFunc(*scope, func(r rune) bool { return r == ' ' || r == ',' }); len(scopes) > 0 {
		opts = append(opts, refresh.WithScopes(scopes...))
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	client := &refresh.Client{
		TokenURL:   *tokenURL,
		Auth:       auth,
		HTTPClient: &http.Client{Timeout: *timeout},
	}
	logger.Info("refreshing", "client", client) // Client logs without its secret
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	tok, err := client.Refresh(ctx, refreshToken, opts...)
	if err != nil {
		logger.Error("refresh failed", "duration", time.Since(start), "error", err.Error())
		return err
	}
	logger.Info("refreshed", "duration", time.Since(start), "tokens", tok) // Tokens log redacted
	if *asJSON {
		return writeJSON(stdout, tok)
	}
	return writeSummary(stdout, tok, stderr)
}

// readLine reads one line of stdin, without its line ending.
func readLine(r *bufio.Reader, what string) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", usagef("reading %s from stdin: %v", what, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usagef("%s on stdin is empty", what)
	}
	return line, nil
}

// tokensJSON is what -json prints.
type tokensJSON struct {
	AccessToken           string     `json:"access_token"`
	TokenType             string     `json:"token_type"`
	RefreshToken          string     `json:"refresh_token,omitempty"`
	ExpiresIn             int64      `json:"expires_in,omitempty"`
	ExpiresAt             *time.Time `json:"expires_at,omitempty"`
	RefreshTokenExpiresAt *time.Time `json:"refresh_token_expires_at,omitempty"`
	Scope                 []string   `json:"scope,omitempty"`
	IDToken               string     `json:"id_token,omitempty"`
}

func writeJSON(w io.Writer, t *refresh.Tokens) error {
	out := tokensJSON{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		ExpiresIn:    int64(t.Lifetime() / time.Second),
		Scope:        t.Scopes,
		IDToken:      t.IDToken,
	}
	if !t.ExpiresAt.IsZero() {
		out.ExpiresAt = &t.ExpiresAt
	}
	if !t.RefreshTokenExpiresAt.IsZero() {
		out.RefreshTokenExpiresAt = &t.RefreshTokenExpiresAt
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return &outputError{err}
	}
	return nil
}

// writeSummary prints the result with every token redacted.
func writeSummary(w io.Writer, t *refresh.Tokens, stderr io.Writer) error {
	var b strings.Builder
	fmt.Fprintln(&b, "tokens:       ", t) // Tokens print redacted
	fmt.Fprintln(&b, "token type:   ", t.TokenType)
	if life := t.Lifetime(); life > 0 {
		fmt.Fprintln(&b, "expires in:   ", life)
	} else {
		fmt.Fprintln(&b, "expires in:    unknown (the server sent no expires_in)")
	}
	if t.RefreshToken != "" {
		fmt.Fprintln(&b, "refresh token: a new one was issued; the one sent may be spent (use -json to keep it)")
		fmt.Fprintln(stderr, "cli: warning: the server issued a new refresh token, which is not shown without -json")
	} else {
		fmt.Fprintln(&b, "refresh token: none issued; keep using the one you have")
	}
	if t.Scopes != nil {
		fmt.Fprintf(&b, "scopes:        %q\n", t.Scopes)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return &outputError{err}
	}
	return nil
}
