package refresh

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// ErrNoRefreshToken is wrapped by the [*ConfigError] that refuses a refresh without
// a refresh token.
var ErrNoRefreshToken = errors.New("refresh: no refresh token")

// ErrVersionConflict is wrapped by the error of a fenced write, [Lease.Save],
// that found the stored tokens changed since its Load: another owner wrote
// after this lease's holder read them.
var ErrVersionConflict = errors.New("refresh: the stored tokens changed since they were loaded")

// ConfigError reports a refresh refused before anything was sent: a missing or
// malformed setting of the [Client], a bad argument, or an [Auth] that could not
// build its credentials. Its text names what was wrong and never shows a secret.
type ConfigError struct {
	Field  string // what was wrong: "TokenURL", "refreshToken", "WithParam", ...
	Reason string // why, in words
	Err    error  // an underlying cause such as ErrNoRefreshToken, or nil
}

// Error returns "refresh: <Field>: <Reason>".
func (e *ConfigError) Error() string { return "refresh: " + e.Field + ": " + e.Reason }

// Format writes Error for every verb (%q quotes it).
func (e *ConfigError) Format(f fmt.State, verb rune) { formatText(f, verb, e.Error()) }

// Unwrap returns the underlying cause, if any.
func (e *ConfigError) Unwrap() error { return e.Err }

// ErrorCode is an OAuth error code (RFC 6749 §5.2) as a value for errors.Is: an
// [*OAuthError] matches the ErrorCode equal to its Code. The package defines the
// codes of RFC 6749 (ErrInvalidGrant and the others); write
// ErrorCode("use_dpop_nonce") for any other.
type ErrorCode string

// Error returns "refresh: oauth2 error <code>".
func (c ErrorCode) Error() string { return "refresh: oauth2 error " + string(c) }

// The error codes of RFC 6749 §5.2, for errors.Is. They compare the code only:
// a provider's own code (GitHub's bad_refresh_token) matches none of them; use
// ErrorCode for it.
var (
	// ErrInvalidGrant matches invalid_grant: the refresh token is invalid,
	// expired, revoked, already used, or was issued to another client. The user
	// must sign in again.
	ErrInvalidGrant error = ErrorCode("invalid_grant")
	// ErrInvalidClient matches invalid_client: client authentication failed
	// (unknown client, wrong secret, or a method the server does not accept).
	ErrInvalidClient error = ErrorCode("invalid_client")
	// ErrInvalidRequest matches invalid_request: the request is malformed or
	// misses a parameter.
	ErrInvalidRequest error = ErrorCode("invalid_request")
	// ErrInvalidScope matches invalid_scope: the scope asked for exceeds the
	// scope granted.
	ErrInvalidScope error = ErrorCode("invalid_scope")
	// ErrUnauthorizedClient matches unauthorized_client: the client may not use
	// the refresh_token grant.
	ErrUnauthorizedClient error = ErrorCode("unauthorized_client")
	// ErrUnsupportedGrantType matches unsupported_grant_type: the server does
	// not support refresh tokens.
	ErrUnsupportedGrantType error = ErrorCode("unsupported_grant_type")
)

// OAuthError is an error answered by the token endpoint (RFC 6749 §5.2), whatever
// the HTTP status: GitHub sends its errors with 200. Match the code with errors.Is
// and an [ErrorCode] such as [ErrInvalidGrant]; use errors.As for the details.
type OAuthError struct {
	Code        string // error, such as "invalid_grant"
	Description string // error_description, as sent (any secret the request carried removed)
	URI         string // error_uri, as sent
	StatusCode  int    // the HTTP status it came with

	// RetryAfter is the wait the server asked for in Retry-After (seconds or an
	// HTTP date), or 0.
	RetryAfter time.Duration
	// WWWAuthenticate is the WWW-Authenticate header as sent, which names the
	// scheme expected after a 401 invalid_client.
	WWWAuthenticate string
}

// Error returns the code, the status and a short, cleaned description.
func (e *OAuthError) Error() string {
	var b strings.Builder
	b.WriteString("refresh: token endpoint error ")
	b.WriteString(strconv.Quote(clip(e.Code, 64)))
	fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(clip(e.Description, 200))
	}
	return b.String()
}

// Format writes Error for every verb (%q quotes it).
func (e *OAuthError) Format(f fmt.State, verb rune) { formatText(f, verb, e.Error()) }

// Is reports whether target is the ErrorCode equal to e.Code.
func (e *OAuthError) Is(target error) bool {
	c, ok := target.(ErrorCode)
	return ok && string(c) == e.Code
}

// ErrResponseTooLarge is wrapped by the [*ResponseError] for a body over
// Client.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("refresh: response body too large")

// ResponseError reports a token endpoint answer that is neither tokens nor an
// OAuth error: an HTML page from a proxy, a redirect, a body that is not JSON or
// form data, a token response that misses access_token or token_type or has a
// field of the wrong type, an oversized body, or a body cut short. Its text and
// fields never show a token.
type ResponseError struct {
	StatusCode  int    // HTTP status
	ContentType string // Content-Type as sent
	// Field is the response field at fault, such as "access_token" or
	// "expires_in", or empty when the fault is the response as a whole.
	Field string
	// Reason says what was wrong.
	Reason string
	// Excerpt is a short, cleaned piece of the body for diagnosis. For a JSON or
	// form body it lists only the field names, never values; for other bodies it
	// holds at most 200 printable characters with any secret the request
	// carried removed, or nothing when the body names a token or secret field.
	Excerpt string
	// RetryAfter is the wait the server asked for in Retry-After, or 0 (a 429 or
	// 503 often comes with it).
	RetryAfter time.Duration
	// Err is the underlying cause: a read error, ErrResponseTooLarge, a JSON
	// syntax error, or nil.
	Err error
}

// Error returns the status, content type, field, reason and excerpt.
func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "refresh: token endpoint response (HTTP %d", e.StatusCode)
	if e.ContentType != "" {
		b.WriteString(", ")
		b.WriteString(clip(e.ContentType, 80))
	}
	b.WriteString("): ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Err != nil && !errors.Is(e.Err, ErrResponseTooLarge) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Excerpt != "" {
		b.WriteString(": ")
		b.WriteString(e.Excerpt)
	}
	return b.String()
}

// Format writes Error for every verb (%q quotes it).
func (e *ResponseError) Format(f fmt.State, verb rune) { formatText(f, verb, e.Error()) }

// Unwrap returns the underlying cause.
func (e *ResponseError) Unwrap() error { return e.Err }

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
	// Reason says why no further attempt was made; when it is
	// [RetryStopContextDone], Unwrap also yields ctx's cause.
	Reason RetryReason

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
		b.WriteString(string(e.Reason))
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

// Format writes Error for every verb (%q quotes it).
func (e *RetryError) Format(f fmt.State, verb rune) { formatText(f, verb, e.Error()) }

// Unwrap returns the last attempt's error and, when the context ended during a
// wait, the context's cause.
func (e *RetryError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Err, e.cause}
	}
	return []error{e.Err}
}

// last finishes the error of the last attempt: err itself when it was the only
// attempt, a *RetryError otherwise.
func (e *RetryError) last(err error, reason RetryReason) error {
	if e == nil || e.Attempts == 0 {
		return err
	}
	e.Attempts++
	e.Err, e.Reason = err, reason
	return e
}

// StoreError reports that a [Store] failed. When Op is "save" the new tokens were
// kept in memory (the refresh token they replace may already be spent at the
// server) and the Source tries to save them again on a later call. With a
// [SharedStore], Op "acquire" means the grant's lease was not taken (the store
// failed, or the caller's context ended while another process held the lease):
// then nothing was sent.
type StoreError struct {
	Op  string // "load" or "save"; for a SharedStore's lease also "acquire" or "release"; "open" for a Manager's grant function
	Err error  // the Store's error
}

// Error returns "refresh: store <op>: " and the Store's error.
func (e *StoreError) Error() string { return "refresh: store " + e.Op + ": " + e.Err.Error() }

// Format writes Error for every verb (%q quotes it).
func (e *StoreError) Format(f fmt.State, verb rune) { formatText(f, verb, e.Error()) }

// Unwrap returns the Store's error.
func (e *StoreError) Unwrap() error { return e.Err }

// RetryReason says why [Client.Refresh] made no further attempt; it is the
// Reason of a [*RetryError].
type RetryReason string

// The reasons a [*RetryError] gives.
const (
	// RetryStopNotRetryable: Client.CheckRetry refused to retry the last
	// attempt's error.
	RetryStopNotRetryable RetryReason = "not retryable"
	// RetryStopAttemptLimit: Client.MaxAttempts attempts were made.
	RetryStopAttemptLimit RetryReason = "attempt limit"
	// RetryStopWaitLimit: the next wait (a long Retry-After, say) would exceed
	// what is left of Client.MaxRetryWait.
	RetryStopWaitLimit RetryReason = "retry wait limit"
	// RetryStopDeadline: the next wait would not end before ctx's deadline.
	RetryStopDeadline RetryReason = "context deadline"
	// RetryStopContextDone: ctx ended during a wait.
	RetryStopContextDone RetryReason = "context done"
)

// PanicError is the error a [Source]'s callers get when code that its refresh
// run called panicked: a [Store], an [Auth], Client.CheckRetry or Backoff, or a
// slog handler. The run recovers the panic, so the process goes on; a Store's
// panic comes wrapped in a [*StoreError], and tokens a refresh got are kept.
// Its text shows the panic's value, as the panicking code chose to word it.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the stack of the panicking goroutine, as runtime/debug.Stack gives it
}

func newPanicError(v any) *PanicError { return &PanicError{Value: v, Stack: debug.Stack()} }

// Error returns "refresh: panic in user code: " and the panic's value: the
// code of a Store, an Auth, a retry policy, a logger, a hook or a grant function.
func (e *PanicError) Error() string {
	return "refresh: panic in user code: " + clip(fmt.Sprint(e.Value), 200)
}

// Format writes Error for every verb (%q quotes it); the stack is not printed.
func (e *PanicError) Format(f fmt.State, verb rune) { formatText(f, verb, e.Error()) }

// Unwrap returns the panic's value when it is an error, or nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Errors of discovery and revocation (discover.go, revoke.go).

// ErrUnsupportedTokenType matches unsupported_token_type (RFC 7009 §2.2.1): the
// revocation endpoint does not revoke tokens of the type presented.
var ErrUnsupportedTokenType error = ErrorCode("unsupported_token_type")

// ErrIssuerMismatch is wrapped by the [*DiscoveryError] for a metadata document
// whose issuer is not exactly the issuer asked for (RFC 8414 §3.3): using it
// could send the credentials meant for one server to another (a mix-up attack).
var ErrIssuerMismatch = errors.New("refresh: the metadata's issuer is not the issuer asked for")

// DiscoveryError reports that [Discover] found no usable metadata at a
// metadata URL: an error status, a redirect (never followed), a body that is not
// a JSON object or is over the cap, a member of the wrong type, or an issuer that
// does not match. When both well-known URLs failed, it is the second URL's
// error, and Err holds the first's unless the second has a cause of its own.
type DiscoveryError struct {
	URL        string // the metadata URL asked, without query
	StatusCode int    // the HTTP status of its answer
	// Field is the member at fault, such as "issuer" or "token_endpoint", or
	// empty when the fault is the answer as a whole.
	Field  string
	Reason string // what was wrong
	// Err is the underlying cause: ErrIssuerMismatch, ErrResponseTooLarge, a
	// read error, the first URL's error, or nil.
	Err error
}

// Error returns "refresh: discovery: <URL> (HTTP <status>): <field>: <reason>"
// and the cause.
func (e *DiscoveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "refresh: discovery: %s (HTTP %d): ", clip(e.URL, 200), e.StatusCode)
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Err != nil && e.Err != ErrResponseTooLarge && e.Err != ErrIssuerMismatch {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Format writes Error for every verb (%q quotes it).
func (e *DiscoveryError) Format(f fmt.State, verb rune) { formatText(f, verb, e.Error()) }

// Unwrap returns the underlying cause.
func (e *DiscoveryError) Unwrap() error { return e.Err }
