package refresh

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultMaxAttempts is how many requests one [Client.Refresh] makes at most when
// Client.MaxAttempts is zero: the first and two retries.
const DefaultMaxAttempts = 3

// DefaultMaxRetryWait bounds the total time one [Client.Refresh] waits between
// attempts when Client.MaxRetryWait is zero. A server's Retry-After longer than
// what is left of it ends the retries.
const DefaultMaxRetryWait = 10 * time.Second

// RetryAttempt describes a failed attempt of [Client.Refresh] to a retry policy
// ([Client.CheckRetry]) and to a [Client.Backoff].
type RetryAttempt struct {
	// Attempt is the number of the attempt that failed, from 1.
	Attempt int
	// StatusCode is the HTTP status of the answer, or 0 when none came.
	StatusCode int
	// Header holds the answer's headers, or nil when none came. Treat it as
	// read-only. The body has been read and closed already.
	Header http.Header
	// Err is the attempt's error: the transport's error (wrapped, as Refresh
	// returns it), an [*OAuthError] or a [*ResponseError].
	Err error
	// NotSent reports that the request provably did not reach the server: the
	// connection was never made (the dial failed: connection refused, no route,
	// a DNS failure), or, with an *http.Transport, no connection was ever handed
	// to the request (the TLS handshake failed, or the time ran out while
	// connecting). With an *http.Transport, a request that had a connection
	// counts as possibly sent, whatever the last error. False means the server
	// may have received it; an error from an unknown RoundTripper that proves
	// nothing counts as possibly sent.
	NotSent bool
}

// RetryError is the error of a [Client.Refresh] that made more than one attempt:
// how many, how long it waited before each retry, and the last attempt's error,
// which Unwrap returns, so that errors.As finds an [*OAuthError] or
// [*ResponseError] and errors.Is matches [ErrInvalidGrant] through it. When one
// attempt was made, Refresh returns that attempt's error itself.
//
// Its text shows the counts, the waits and the last error's text, which holds no
// secret.
type RetryError struct {
	// Attempts is the number of requests made (or attempted: a dial that failed
	// counts).
	Attempts int
	// Waits holds the wait before each retry, in order: Attempts-1 of them, or
	// Attempts when the context ended during the last wait.
	Waits []time.Duration
	// Err is the last attempt's error.
	Err error
	// Reason says why no further attempt was made: "not retryable", "attempt
	// limit", "retry wait limit" (the wait would exceed MaxRetryWait, for example
	// a long Retry-After), "context deadline" (the wait would not end before
	// ctx's deadline), or "context done" (ctx ended during a wait; then
	// Unwrap also yields ctx's cause).
	Reason string

	cause error // ctx's cause when Reason is "context done"
}

// Error returns "refresh: <n> attempts (waited <d>, ...; <reason>): " and the
// last attempt's error.
func (e *RetryError) Error() string {
	var b strings.Builder
	b.WriteString("refresh: ")
	b.WriteString(strconv.Itoa(e.Attempts))
	if e.Attempts == 1 {
		b.WriteString(" attempt (waited ")
	} else {
		b.WriteString(" attempts (waited ")
	}
	for i, w := range e.Waits {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(w.Round(time.Millisecond).String())
	}
	if len(e.Waits) == 0 {
		b.WriteString("nothing")
	}
	if e.Reason != "" {
		b.WriteString("; ")
		b.WriteString(e.Reason)
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	b.WriteString("): ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the last attempt's error and, when the context ended during a
// wait, the context's cause.
func (e *RetryError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Err, e.cause}
	}
	return []error{e.Err}
}

// DefaultCheckRetry is the retry policy used when Client.CheckRetry is nil. A
// refresh is a POST that is not idempotent: with refresh-token rotation a server
// that received it has spent the refresh token, and a second request with the
// same token can revoke the user's whole session (RFC 9700 §4.14.2). So it
// retries only when a retry cannot be such a replay:
//
//   - the request provably did not reach the server (a.NotSent), except for a
//     certificate the client does not trust, which no retry will change;
//   - the server said to: HTTP 429 or 503, unless the body is an OAuth error of
//     RFC 6749 §5.2 (invalid_grant, invalid_client, ...), which a retry cannot
//     change.
//
// It never retries an OAuth error otherwise, a redirect, an oversized or
// malformed body, an error answered with HTTP 200, nor anything after ctx ended.
// A timeout after the request was sent, a connection reset while the answer
// came, and a 502 or 504 from a proxy are ambiguous: the server may have rotated
// the token. Those are retried only by [RetryAmbiguous].
func DefaultCheckRetry(ctx context.Context, a RetryAttempt) bool {
	if ctx.Err() != nil || a.Err == nil {
		return false
	}
	if a.NotSent {
		return !untrustedCertificate(a.Err)
	}
	switch a.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return !standardOAuthError(a.Err)
	}
	return false
}

// RetryAmbiguous is a retry policy that retries what [DefaultCheckRetry] retries
// and also the ambiguous failures, where the server may have received the
// request and rotated the refresh token: a timeout or a connection reset or
// close after the request was sent (before or while the answer came), and an
// HTTP 502 or 504 without an OAuth error body. Set it as Client.CheckRetry only
// for a server with a reuse grace period (such as Okta's or Auth0's rotation
// settings, or a server that does not rotate): there, presenting the same
// refresh token again shortly after is accepted. On a server that revokes the
// token family on reuse, the retry after an ambiguous failure ends with
// invalid_grant and the user has to sign in again.
func RetryAmbiguous(ctx context.Context, a RetryAttempt) bool {
	if DefaultCheckRetry(ctx, a) {
		return true
	}
	if ctx.Err() != nil || a.Err == nil || standardOAuthError(a.Err) {
		return false
	}
	var oe *OAuthError
	if errors.As(a.Err, &oe) {
		return false
	}
	if a.StatusCode == http.StatusBadGateway || a.StatusCode == http.StatusGatewayTimeout {
		return true
	}
	if a.StatusCode == 0 {
		// No answer: a transport error after sending, any kind but a refused
		// certificate.
		return !untrustedCertificate(a.Err)
	}
	// An answer whose body could not be read to its end.
	var re *ResponseError
	return errors.As(a.Err, &re) && interrupted(re.Err)
}

// interrupted reports whether err is a failure to read a body to its end: a
// connection reset or closed early, or a timeout.
func interrupted(err error) bool {
	if err == nil || errors.Is(err, ErrResponseTooLarge) {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// standardOAuthError reports an OAuth error with one of the codes of RFC 6749
// §5.2, each of which says the request itself was refused.
func standardOAuthError(err error) bool {
	for _, code := range [...]error{ErrInvalidGrant, ErrInvalidClient, ErrInvalidRequest,
		ErrInvalidScope, ErrUnauthorizedClient, ErrUnsupportedGrantType} {
		if errors.Is(err, code) {
			return true
		}
	}
	return false
}

// untrustedCertificate reports a TLS certificate the client refused.
func untrustedCertificate(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// DefaultBackoff is the wait before a retry when Client.Backoff is nil:
// exponential with jitter, a random duration between 250 ms and 500 ms after the
// first attempt, 500 ms and 1 s after the second, and so on, at most 8 s. A
// server's Retry-After is honoured on top of it (see [Client.Backoff]).
func DefaultBackoff(a RetryAttempt) time.Duration {
	const base, ceiling = 500 * time.Millisecond, 8 * time.Second
	d := ceiling
	if n := max(a.Attempt-1, 0); n < 5 {
		d = min(base<<n, ceiling)
	}
	half := d / 2
	return half + rand.N(half+1)
}

// notSent reports whether err proves that the request did not reach the server;
// tr is the attempt's trace, or nil when the transport does not support one.
func notSent(err error, tr *attemptTrace) bool {
	if tr != nil && tr.gotConn.Load() {
		// The request had a connection, and may have been written on it before
		// the transport tried another (it does so for a request that carries an
		// Idempotency-Key), whatever the last error says.
		return false
	}
	if tr != nil && tr.getConn.Load() {
		// An *http.Transport looked for a connection and never had one: nothing
		// was written.
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// attemptTrace records what an *http.Transport did with one attempt: whether it
// asked for a connection and whether it got one. Both hooks run before the
// round trip returns.
type attemptTrace struct {
	trace            httptrace.ClientTrace
	getConn, gotConn atomic.Bool
}

// traced returns ctx with a trace for one attempt when the Client sends through
// an *http.Transport, whose hooks are known to run; otherwise ctx and nil, since
// a transport that never calls the hooks proves nothing by their silence.
func (c *Client) traced(ctx context.Context) (context.Context, *attemptTrace) {
	var rt http.RoundTripper
	if c.HTTPClient != nil {
		rt = c.HTTPClient.Transport
	}
	if rt != nil {
		if _, ok := rt.(*http.Transport); !ok {
			return ctx, nil
		}
	}
	tr := &attemptTrace{}
	tr.trace.GetConn = func(string) { tr.getConn.Store(true) }
	tr.trace.GotConn = func(httptrace.GotConnInfo) { tr.gotConn.Store(true) }
	return httptrace.WithClientTrace(ctx, &tr.trace), tr
}

// refresh makes the attempts of one Refresh call: each builds its request anew
// (fresh client authentication), and a failure is retried as CheckRetry, Backoff,
// MaxAttempts, MaxRetryWait and ctx allow. No retry state is allocated unless an
// attempt fails.
func (c *Client) refresh(ctx context.Context, refreshToken string, opts []RequestOption) (*Tokens, error) {
	if c == nil || ctx == nil {
		return c.attempt(ctx, refreshToken, opts, nil)
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
		return c.attempt(ctx, refreshToken, opts, nil)
	}
	budget := c.MaxRetryWait
	if budget == 0 {
		budget = DefaultMaxRetryWait
	}
	var retry *RetryError // nil until an attempt fails and is retried
	var a RetryAttempt
	for n := 1; ; n++ {
		a = RetryAttempt{Attempt: n}
		t, err := c.attempt(ctx, refreshToken, opts, &a)
		if err == nil {
			return t, nil
		}
		var ce *ConfigError
		if errors.As(err, &ce) {
			// Refused before sending: nothing to retry.
			return nil, retry.last(err, "not retryable")
		}
		a.Err = err
		check := c.CheckRetry
		if check == nil {
			check = DefaultCheckRetry
		}
		if !check(ctx, a) {
			return nil, retry.last(err, "not retryable")
		}
		if n >= maxAttempts {
			return nil, retry.last(err, "attempt limit")
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
			return nil, retry.last(err, "retry wait limit")
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			return nil, retry.last(err, "context deadline")
		}
		retry.Waits = append(retry.Waits, wait)
		if err := sleep(ctx, wait); err != nil {
			retry.Attempts, retry.Err, retry.Reason, retry.cause = n, a.Err, "context done", err
			return nil, retry
		}
		retry.Attempts = n
	}
}

// last finishes the error of the last attempt: err itself when it was the only
// attempt, a *RetryError otherwise.
func (e *RetryError) last(err error, reason string) error {
	if e == nil || e.Attempts == 0 {
		return err
	}
	e.Attempts++
	e.Err, e.Reason = err, reason
	return e
}

// attempt makes one request. a, when not nil, receives the answer's status and
// headers and whether the request provably was not sent.
func (c *Client) attempt(ctx context.Context, refreshToken string, opts []RequestOption, a *RetryAttempt) (*Tokens, error) {
	var tr *attemptTrace
	if a != nil && c != nil && ctx != nil {
		ctx, tr = c.traced(ctx)
	}
	req, err := c.NewRequest(ctx, refreshToken, opts...)
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
	return c.ParseResponse(resp)
}

// serverRetryAfter is the wait the token endpoint asked for with the answer that
// err reports, or 0.
func serverRetryAfter(err error) time.Duration {
	var oe *OAuthError
	var re *ResponseError
	switch {
	case errors.As(err, &oe):
		return oe.RetryAfter
	case errors.As(err, &re):
		return re.RetryAfter
	}
	return 0
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

// retryString describes the retry settings that differ from their defaults, for
// Client.String.
func (c *Client) retryString() string {
	var b strings.Builder
	if c.MaxAttempts != 0 {
		fmt.Fprintf(&b, ", MaxAttempts:%d", c.MaxAttempts)
	}
	if c.MaxRetryWait != 0 {
		fmt.Fprintf(&b, ", MaxRetryWait:%s", c.MaxRetryWait)
	}
	if c.CheckRetry != nil {
		b.WriteString(", CheckRetry:set")
	}
	if c.Backoff != nil {
		b.WriteString(", Backoff:set")
	}
	return b.String()
}
