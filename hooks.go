package refresh

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Hooks are the functions a [Source] calls when something worth counting or
// timing happens: a run starts and ends, a run waits for a [SharedStore]'s
// lease, a store call fails, a DPoP nonce makes a request go again. Give them to
// a Source with [WithHooks]; the otelrefresh module turns them into
// OpenTelemetry metrics and spans.
//
// Every field is optional: a nil func is never called, and a Source without
// hooks does no work for them. Reading a valid cached token ([Source.Token],
// [Transport] with a token that needs no refresh) calls no hook at all.
//
// The hooks are called synchronously on the goroutine of the run or request
// they report, so they must be fast and safe for concurrent use; a run's
// waiters are released after OnRefreshEnd returns. A panic in a hook is
// recovered: it is logged (with [WithLogger]) and never reaches the process,
// the run or its callers.
//
// No event carries a token, a secret, a refresh token, an error value or its
// text, or anything that names the user or the grant: only the reason, the
// outcome, a typed [ErrorKind], durations, the client authentication method's
// name and whether DPoP is on. Nor does it say which grant it concerns: a
// program that needs that can give each Source hooks of its own, but should
// keep user identifiers out of metric attributes.
type Hooks struct {
	// OnRefreshStart is called when a run starts: a refresh, which may end by
	// adopting tokens from the Store without a request, or a save of tokens
	// the Store has not taken yet.
	OnRefreshStart func(RefreshStart)

	// OnRefreshEnd is called once for every run OnRefreshStart reported, when
	// it ends, before its waiters are released.
	OnRefreshEnd func(RefreshEnd)

	// OnLeaseWait is called when a run with a [SharedStore] has taken the
	// grant's lease, or failed to, with how long Acquire took: about nothing
	// when no other owner held it.
	OnLeaseWait func(LeaseWait)

	// OnStoreFailure is called for every Store or Lease call that fails (or
	// panics), a fenced save's version conflict included, whether a run or
	// [Source.Revoke] made it.
	OnStoreFailure func(StoreFailure)

	// OnNonceRetry is called before a request is sent again with the new nonce
	// a server asked for (RFC 9449 §8, §9): a refresh made by the Source, or a
	// request to a resource made by a [Transport] over it. Refreshes made
	// directly with [Client.Refresh] and revocations report none.
	OnNonceRetry func(NonceRetry)
}

// WithHooks makes the Source call h's functions; see [Hooks]. A later
// WithHooks replaces an earlier one.
func WithHooks(h Hooks) SourceOption {
	return func(o *sourceOptions) { o.hooks = h }
}

// Reason says why a Source started a run, for its log and its [Hooks].
type Reason string

// The reasons of a run. Tokens adopted from the Store are an outcome, not a
// reason: see [OutcomeAdopted].
const (
	ReasonFirstUse  Reason = "first_use"  // no access token yet
	ReasonExpiry    Reason = "expiry"     // the token is expiring or expired
	ReasonRejected  Reason = "rejected"   // a resource answered 401 ([Source.Invalidate])
	ReasonSaveRetry Reason = "save_retry" // tokens the Store has not taken yet
	ReasonSetTokens Reason = "set_tokens" // [Source.SetTokens] saving new tokens
)

// reasonRevoke marks the flight of [Source.Revoke], which holds the Source
// but is no refresh run: its hooks see nothing of it, its log line says it.
const reasonRevoke Reason = "revoke"

// Outcome says how a run of a Source ended.
type Outcome string

// The outcomes of a run.
const (
	OutcomeRefreshed Outcome = "refreshed" // a token request got new tokens, saved when there is a Store
	OutcomeAdopted   Outcome = "adopted"   // tokens another process saved in the Store were taken; no request
	OutcomeSaved     Outcome = "saved"     // tokens the Store had not taken were saved
	OutcomeUnsaved   Outcome = "unsaved"   // new tokens are in use, but the Store failed to save them
	OutcomeFailed    Outcome = "failed"    // the callers waiting got an error
	OutcomeAbandoned Outcome = "abandoned" // the run did not return within its timeout
)

// ErrorKind sorts the error of a run without its text, which may quote what a
// server or a Store said.
type ErrorKind string

// The kinds of error, checked in this order.
const (
	ErrorKindNone         ErrorKind = ""              // no error
	ErrorKindPanic        ErrorKind = "panic"         // a [*PanicError]: a Store, Auth, policy or logger panicked
	ErrorKindStore        ErrorKind = "store"         // a [*StoreError]
	ErrorKindInvalidGrant ErrorKind = "invalid_grant" // [ErrInvalidGrant] or GitHub's bad_refresh_token: final
	ErrorKindOAuth        ErrorKind = "oauth"         // another [*OAuthError]
	ErrorKindResponse     ErrorKind = "response"      // a [*ResponseError]: not a usable token response
	ErrorKindConfig       ErrorKind = "config"        // a [*ConfigError], no refresh token included: nothing was sent
	ErrorKindTimeout      ErrorKind = "timeout"       // the run's deadline passed
	ErrorKindTransport    ErrorKind = "transport"     // anything else: the request did not get an answer
)

// errorKind sorts err.
func errorKind(err error) ErrorKind {
	switch {
	case err == nil:
		return ErrorKindNone
	case isA[*PanicError](err):
		return ErrorKindPanic
	case isA[*StoreError](err):
		return ErrorKindStore
	case errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrorCode("bad_refresh_token")):
		return ErrorKindInvalidGrant
	case isA[*OAuthError](err):
		return ErrorKindOAuth
	case isA[*ResponseError](err):
		return ErrorKindResponse
	case isA[*ConfigError](err):
		return ErrorKindConfig
	case errors.Is(err, context.DeadlineExceeded):
		return ErrorKindTimeout
	}
	return ErrorKindTransport
}

// isA reports whether err's chain holds an E.
func isA[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}

// RefreshStart is the event of a run that starts.
type RefreshStart struct {
	Reason     Reason
	AuthMethod string // the Auth's RFC 7591 name ("client_secret_basic", ...); empty for nil or a user's own Auth
	DPoP       bool   // Client.DPoP is set
}

// RefreshEnd is the event of a run that ended.
type RefreshEnd struct {
	Reason     Reason
	Outcome    Outcome
	ErrorKind  ErrorKind     // ErrorKindNone unless the run's callers got an error (OutcomeUnsaved: the Store's)
	Sent       bool          // a token request was made (OutcomeAbandoned: its new tokens had arrived)
	Duration   time.Duration // from the start of the run, any lease wait included
	AuthMethod string
	DPoP       bool
}

// LeaseWait is the event of a run's Acquire of a [SharedStore]'s lease.
type LeaseWait struct {
	Reason   Reason
	Duration time.Duration
	Acquired bool // false: Acquire failed, and the run ended with a [*StoreError]
}

// StoreFailure is the event of a Store or Lease call that failed.
type StoreFailure struct {
	Op       string // as in [StoreError]: "load", "save", "acquire" or "release"
	Conflict bool   // a fenced save found a newer version: errors.Is(err, [ErrVersionConflict])
}

// NonceRetry is the event of a request sent again with a new DPoP nonce.
type NonceRetry struct {
	Endpoint string // "token" for a refresh, "resource" for a Transport's request
}

// emit calls fn with e when fn is set. A panic in fn is logged, with the
// event's name, and goes no further.
func emit[E any](s *Source, name string, fn func(E), e E) {
	if fn == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			defer func() { _ = recover() }() // a panicking logger too
			s.log(context.Background(), slog.LevelError, "refresh: a hook panicked; the panic was recovered",
				slog.String("event", name))
		}
	}()
	fn(e)
}

// authMethod names the Client's authentication method for the events.
func (s *Source) authMethod() string {
	if n, ok := s.client.Auth.(authMethodNamer); ok {
		return n.endpointAuthMethod()
	}
	return ""
}

// started reports the start of run f.
func (s *Source) started(f *flight) {
	if s.hooks.OnRefreshStart != nil {
		emit(s, "refresh_start", s.hooks.OnRefreshStart, RefreshStart{Reason: f.reason, AuthMethod: s.authMethod(), DPoP: s.client.DPoP != nil})
	}
}

// ended reports the end of run f.
func (s *Source) ended(f *flight, o Outcome, err error, sent bool, elapsed time.Duration) {
	if s.hooks.OnRefreshEnd != nil {
		emit(s, "refresh_end", s.hooks.OnRefreshEnd, RefreshEnd{Reason: f.reason, Outcome: o, ErrorKind: errorKind(err), Sent: sent,
			Duration: elapsed, AuthMethod: s.authMethod(), DPoP: s.client.DPoP != nil})
	}
}

// storeFailed reports the error of a store call, a *StoreError.
func (s *Source) storeFailed(err error) {
	if se, ok := errors.AsType[*StoreError](err); ok && s.hooks.OnStoreFailure != nil {
		emit(s, "store_failure", s.hooks.OnStoreFailure, StoreFailure{Op: se.Op, Conflict: errors.Is(err, ErrVersionConflict)})
	}
}

// nonceRetried is the callback of a refresh's nonce retry, or nil without a
// hook.
func (s *Source) nonceRetried() func() {
	if s.hooks.OnNonceRetry == nil {
		return nil
	}
	return func() { emit(s, "nonce_retry", s.hooks.OnNonceRetry, NonceRetry{Endpoint: "token"}) }
}
