package refresh

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
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

// retryAfter reads Retry-After (RFC 9110 §10.2.3): delay seconds or an HTTP date.
func retryAfter(h http.Header, now func() time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > maxSeconds {
			n = maxSeconds
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now()); d > 0 {
			return d
		}
	}
	return 0
}
