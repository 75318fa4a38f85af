package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Version is this library's version, sent in the default User-Agent.
const Version = "0.1.0"

// DefaultUserAgent is the User-Agent sent when Client.UserAgent is empty. Some
// providers (Reddit) throttle the generic Go User-Agent.
const DefaultUserAgent = "refresh-go/" + Version + " (+https://github.com/tokenrefresh/refresh)"

// DefaultTimeout bounds a whole refresh (connect, request, response body) when
// Client.HTTPClient is nil.
const DefaultTimeout = 30 * time.Second

// DefaultMaxResponseBytes caps the token response body when
// Client.MaxResponseBytes is zero.
const DefaultMaxResponseBytes = 1 << 20

// Client refreshes access tokens at one token endpoint (RFC 6749 §6). Configure it
// as a struct literal; every zero field has a documented default. A Client holds
// no state between calls and is safe for concurrent use, as long as its fields are
// not changed while it is in use.
type Client struct {
	// TokenURL is the token endpoint. Required. It must be https; http is
	// accepted only for a loopback host (localhost, 127.0.0.0/8, ::1) unless
	// AllowInsecureHTTP is set.
	TokenURL string

	// Auth authenticates the client to the token endpoint. Nil sends no client
	// authentication at all (not even client_id); see PublicClient.
	Auth Auth

	// RevocationURL is the revocation endpoint (RFC 7009), required by
	// [Client.Revoke] and [Source.Revoke], with the rules of TokenURL. Empty
	// means none; a refresh does not use it.
	RevocationURL string

	// HTTPClient sends the requests. Nil means a client with DefaultTimeout over
	// http.DefaultTransport, never http.DefaultClient. Its own transport, proxy,
	// TLS client certificates (RFC 8705) and timeout are used as they are; its
	// redirect policy is not, since a token endpoint's redirect is never followed.
	// The Client never modifies it.
	HTTPClient *http.Client

	// Issuer is the authorization server's issuer identifier (RFC 8414), such
	// as "https://auth.example.com". When set, it is the audience of the client
	// assertions that PrivateKeyJWT and ClientSecretJWT build, as
	// draft-ietf-oauth-rfc7523bis requires; empty means TokenURL.
	Issuer string

	// DPoP, when set, adds a DPoP proof (RFC 9449) to every token request, and
	// lets Transport send the DPoP-bound access tokens the server issues. Nil
	// sends no proof.
	DPoP *DPoP

	// UserAgent is sent as User-Agent. Empty means DefaultUserAgent.
	UserAgent string

	// MaxResponseBytes caps the token response body; a larger body is an error,
	// not a truncated read. Zero means DefaultMaxResponseBytes (1 MiB).
	MaxResponseBytes int64

	// AllowInsecureHTTP permits an http TokenURL on a host that is not loopback,
	// for a test network. Never set it in production: the refresh token and client
	// secret cross the network in clear text.
	AllowInsecureHTTP bool

	// Now is the clock used for expiry times and for a Retry-After date. Nil
	// means time.Now.
	Now func() time.Time

	// MaxAttempts is how many requests one Refresh makes at most, retries
	// included. Zero means DefaultMaxAttempts (3); 1 turns retries off.
	MaxAttempts int

	// MaxRetryWait bounds the total wait between the attempts of one Refresh.
	// Zero means DefaultMaxRetryWait (10 s). Every wait also ends before ctx's
	// deadline, or no retry is made.
	MaxRetryWait time.Duration

	// CheckRetry decides whether a failed attempt is retried. It is called for
	// every failed attempt, but never for a *ConfigError, and must be safe for
	// concurrent use. Nil means DefaultCheckRetry, which retries only what cannot
	// replay a refresh token the server received; RetryAmbiguous also retries
	// ambiguous failures, for servers with a reuse grace period.
	CheckRetry func(ctx context.Context, a RetryAttempt) bool

	// Backoff returns the wait before retrying after attempt a. Nil means
	// DefaultBackoff. A longer Retry-After from the server (seconds or an HTTP
	// date) replaces it.
	Backoff func(a RetryAttempt) time.Duration
}

// Refresh exchanges refreshToken for new tokens: it builds the request with
// [Client.NewRequest], sends it through HTTPClient without following redirects,
// and parses the answer with [Client.ParseResponse].
//
// The error is a [*ConfigError] when nothing was sent; an [*OAuthError] when the
// server answered with an OAuth error, whatever the HTTP status (match the codes
// with errors.Is and [ErrInvalidGrant] and the others); a [*ResponseError] when the
// answer was not a usable token response; otherwise the transport's error, wrapped,
// so that errors.Is(err, context.Canceled) and errors.As(err, new(*url.Error)) work.
//
// A failed attempt is retried as CheckRetry decides (by default only when the
// request provably did not reach the server, or after a 429 or 503), each time
// with a request built anew, within MaxAttempts, MaxRetryWait and ctx. After more
// than one attempt the error is a [*RetryError] that wraps the last attempt's
// error, so that errors.As and errors.Is still find it.
//
// When the server issues no new refresh token, Tokens.RefreshToken is empty: the
// caller keeps using refreshToken. When it issues one, refreshToken is spent and
// the new one must be stored (RFC 6749 §6).
func (c *Client) Refresh(ctx context.Context, refreshToken string, opts ...RequestOption) (*Tokens, error) {
	return c.refresh(ctx, refreshToken, nil, opts...)
}

// refresh is Refresh, calling onNonce (when not nil) before a DPoP nonce
// retry: a Source's OnNonceRetry hook.
func (c *Client) refresh(ctx context.Context, refreshToken string, onNonce func(), opts ...RequestOption) (*Tokens, error) {
	return c.do(ctx, exchange{
		build:   func(ctx context.Context) (*http.Request, error) { return c.NewRequest(ctx, refreshToken, opts...) },
		parse:   c.ParseResponse,
		onNonce: onNonce,
	})
}

// exchange is what one attempt sends and how it reads the answer: a refresh,
// or a revocation ([Client.Revoke]). Both go through do and attempt, so they
// share the retry policy and the transport rules.
type exchange struct {
	build func(ctx context.Context) (*http.Request, error) // a request built anew for every attempt
	parse func(*http.Response) (*Tokens, error)            // reads and closes the body

	onNonce func() // called before a DPoP nonce retry; may be nil
}

// do makes the attempts of one exchange, as Refresh describes.
func (c *Client) do(ctx context.Context, x exchange) (*Tokens, error) {
	// Each attempt builds its request anew (fresh client authentication); no
	// retry state is allocated unless an attempt fails.
	if c == nil || ctx == nil {
		return c.attempt(ctx, x, nil)
	}
	maxAttempts := c.MaxAttempts
	switch {
	case maxAttempts < 0:
		return nil, &ConfigError{Field: "MaxAttempts", Reason: "negative"}
	case c.MaxRetryWait < 0:
		return nil, &ConfigError{Field: "MaxRetryWait", Reason: "negative"}
	case maxAttempts == 0:
		maxAttempts = DefaultMaxAttempts
	}
	if maxAttempts == 1 {
		return c.attempt(ctx, x, nil)
	}
	budget := c.MaxRetryWait
	if budget == 0 {
		budget = DefaultMaxRetryWait
	}
	var retry *RetryError // nil until an attempt fails and is retried
	var a RetryAttempt
	for n := 1; ; n++ {
		a = RetryAttempt{Attempt: n}
		t, err := c.attempt(ctx, x, &a)
		if err == nil {
			return t, nil
		}
		var ce *ConfigError
		if errors.As(err, &ce) {
			// Refused before sending: nothing to retry.
			return nil, retry.last(err, RetryStopNotRetryable)
		}
		a.Err = err
		check := c.CheckRetry
		if check == nil {
			check = DefaultCheckRetry
		}
		if !check(ctx, a) {
			return nil, retry.last(err, RetryStopNotRetryable)
		}
		if n >= maxAttempts {
			return nil, retry.last(err, RetryStopAttemptLimit)
		}
		var wait time.Duration
		if c.Backoff != nil {
			wait = max(c.Backoff(a), 0)
		} else {
			wait = DefaultBackoff(a)
		}
		if ra := retryAfter(a.Header, c.now); ra > wait {
			wait = ra
		}
		if retry == nil {
			retry = &RetryError{}
		}
		spent := time.Duration(0)
		for _, w := range retry.Waits {
			spent += w
		}
		if wait > budget-spent { // not spent+wait, which a huge wait overflows
			return nil, retry.last(err, RetryStopWaitLimit)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			return nil, retry.last(err, RetryStopDeadline)
		}
		retry.Waits = append(retry.Waits, wait)
		if err := sleep(ctx, wait); err != nil {
			retry.Attempts, retry.Err, retry.Reason, retry.cause = n, a.Err, RetryStopContextDone, err
			return nil, retry
		}
		retry.Attempts = n
	}
}

// send sends req through a copy of the caller's http.Client whose redirect policy
// stops at the first response, so that a redirect never carries the credentials
// elsewhere. The caller's client itself is left as it was.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	hc := noRedirects(c.HTTPClient)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, transportError("token request", err)
	}
	return resp, nil
}

// noRedirects returns a copy of hc (nil: a client with DefaultTimeout, never
// http.DefaultClient) that follows no redirect. [Discover] sends through it too.
func noRedirects(hc *http.Client) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c.Timeout = DefaultTimeout
	}
	c.CheckRedirect = stopAtRedirect
	return &c
}

func stopAtRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// transportError wraps an error of http.Client.Do, after "refresh: <what>: ".
// The *url.Error stays reachable with errors.As, but its URL loses any query,
// which may carry private values, and its error's text loses the quoted bytes
// the server sent (see scrub).
func transportError(what string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		clean := *ue
		clean.URL = redactURL(ue.URL)
		clean.Err = scrub(ue.Err)
		err = &clean
	}
	return fmt.Errorf("refresh: %s: %w", what, err)
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) userAgent() string {
	if c.UserAgent != "" {
		return c.UserAgent
	}
	return DefaultUserAgent
}

func (c *Client) maxResponseBytes() int64 {
	if c.MaxResponseBytes > 0 {
		return c.MaxResponseBytes
	}
	return DefaultMaxResponseBytes
}

// describe gives the token endpoint without its query, the Auth as
// [authValue] shows it, and the settings that differ from their defaults.
func (c Client) describe() (string, []printField) {
	return "refresh.Client", printFields{
		{"TokenURL", redactURL(c.TokenURL)},
		{"Auth", authValue(c.Auth)},
	}.
		with(c.RevocationURL != "", "RevocationURL", redactURL(c.RevocationURL)).
		with(c.Issuer != "", "Issuer", c.Issuer).
		with(c.DPoP != nil, "DPoP", c.DPoP).
		with(c.HTTPClient != nil, "HTTPClient", set).
		with(c.UserAgent != "", "UserAgent", c.UserAgent).
		with(c.MaxResponseBytes != 0, "MaxResponseBytes", c.MaxResponseBytes).
		with(c.AllowInsecureHTTP, "AllowInsecureHTTP", true).
		with(c.Now != nil, "Now", set).
		with(c.MaxAttempts != 0, "MaxAttempts", c.MaxAttempts).
		with(c.MaxRetryWait != 0, "MaxRetryWait", c.MaxRetryWait).
		with(c.CheckRetry != nil, "CheckRetry", set).
		with(c.Backoff != nil, "Backoff", set)
}

// String describes the Client without secrets: the token endpoint without its
// query, the Auth (a built-in method as it prints itself, any other by its own
// String, or by its type when it has none), and the settings that differ from
// their defaults.
func (c Client) String() string { return render(c) }

// Format writes String for every verb (%q quotes it).
func (c Client) Format(f fmt.State, verb rune) { formatText(f, verb, c.String()) }

// LogValue gives slog what String shows, as a group.
func (c Client) LogValue() slog.Value { return logValue(c) }

// DefaultMaxAttempts is how many requests one [Client.Refresh] makes at most when
// Client.MaxAttempts is zero: the first and two retries.
const DefaultMaxAttempts = 3

// DefaultMaxRetryWait bounds the total time one [Client.Refresh] waits between
// attempts when Client.MaxRetryWait is zero. A server's Retry-After longer than
// what is left of it ends the retries.
const DefaultMaxRetryWait = 10 * time.Second

// attempt makes one request. a, when not nil, receives the answer's status and
// headers and whether the request provably was not sent.
func (c *Client) attempt(ctx context.Context, x exchange, a *RetryAttempt) (*Tokens, error) {
	var tr *attemptTrace
	if a != nil && c != nil && ctx != nil {
		ctx, tr = c.traced(ctx)
	}
	// With DPoP, a use_dpop_nonce answer that gives a new nonce is tried once
	// more, with a request built anew; never twice.
	for retried := false; ; retried = true {
		req, err := x.build(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.send(req)
		if err != nil {
			if a != nil {
				a.NotSent = notSent(err, tr)
			}
			return nil, err
		}
		if a != nil {
			a.StatusCode, a.Header = resp.StatusCode, resp.Header
		}
		t, err := x.parse(resp)
		if !c.DPoP.retryWithNonce(req, resp.Header, err) || retried {
			return t, err
		}
		if x.onNonce != nil {
			x.onNonce()
		}
	}
}

// sleep waits for d or until ctx ends, and then returns ctx's cause.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
