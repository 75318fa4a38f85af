package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultLeeway is how long before expiry a [Source] refreshes when no
// [WithLeeway] option is given.
const DefaultLeeway = 30 * time.Second

// DefaultRefreshTimeout bounds one refresh run by a [Source], store calls
// included, when no [WithRefreshTimeout] option is given. The refresh runs on a
// context detached from the callers that wait for it, so this is its only limit.
const DefaultRefreshTimeout = time.Minute

// After a failed refresh a Source makes no new request for a backoff that starts
// at minBackoff and doubles with each further failure up to maxBackoff.
const (
	minBackoff = time.Second
	maxBackoff = time.Minute
)

// SourceOption configures a [Source]; see [NewSource].
type SourceOption func(*sourceOptions)

type sourceOptions struct {
	leeway  time.Duration
	store   Store
	logger  *slog.Logger
	timeout time.Duration
	reqOpts []RequestOption
	hooks   Hooks
}

// WithLeeway sets how long before its expiry a token is refreshed (default
// [DefaultLeeway]). The leeway used for a token is at most half of its lifetime,
// so a short-lived token is never treated as expired from the start. A negative
// leeway counts as zero.
func WithLeeway(d time.Duration) SourceOption {
	return func(o *sourceOptions) { o.leeway = max(d, 0) }
}

// WithStore makes the Source persist every new set of tokens to st before any
// caller sees them, and load from st before each refresh so that tokens rotated
// by another process are used instead of a spent refresh token. When st is a
// [SharedStore] (MemoryStore, redisstore, pgstore), each refresh runs under
// the grant's lease, so that replicas sharing st never present one refresh
// token twice; see [Source].
func WithStore(st Store) SourceOption {
	return func(o *sourceOptions) { o.store = st }
}

// WithLogger sends the Source's refresh events (started, succeeded, failed, store
// failures, a run abandoned after its timeout) to l, with durations, the reason
// the run was made (a [Reason]: "first_use", "expiry", "rejected" after a
// resource's 401, "save_retry", "set_tokens") and without secrets. For metrics,
// see [WithHooks]. Nil logs nothing, the
// default. To name the grant in every line, give the Source a logger that
// carries it: WithLogger(logger.With("grant", userID)).
func WithLogger(l *slog.Logger) SourceOption {
	return func(o *sourceOptions) { o.logger = l }
}

// WithRefreshTimeout bounds each refresh run by the Source, store calls included
// (default [DefaultRefreshTimeout]). Zero or a negative d keeps the default.
func WithRefreshTimeout(d time.Duration) SourceOption {
	return func(o *sourceOptions) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithRequestOptions applies opts (scopes, an RFC 8707 resource, an Origin
// header, ...) to every refresh the Source makes. An invalid option is reported
// by [Source.Token] as the [*ConfigError] the refresh returns.
func WithRequestOptions(opts ...RequestOption) SourceOption {
	return func(o *sourceOptions) { o.reqOpts = append(o.reqOpts, opts...) }
}

// minRefreshInterval is the least time between a successful refresh and the
// next one that is not forced by expiry: a resource that rejects every token
// (an always-401 endpoint) then costs one refresh every few seconds, not one
// per request.
const minRefreshInterval = 5 * time.Second

// abandonGrace is how long after its refresh timeout a run may take to return
// before its waiters are released without it: a Store or Auth that honours ctx
// returns well within it.
const abandonGrace = time.Second

// Source hands out a valid access token to any number of goroutines and refreshes
// it through a [Client] when it is about to expire.
//
// Reading a valid cached token takes no lock. When the token comes within the
// leeway of its expiry, the first caller starts one refresh in the background and
// every caller keeps getting the still-valid token; callers wait only when no
// valid token is left, each for as long as its own context allows. The refresh
// itself runs on a context of its own that carries none of the callers' values or
// cancellation, bounded by [WithRefreshTimeout], so a caller that gives up never
// fails the refresh others wait for. A run that has not returned a second after
// that timeout (a Store or Auth that ignores ctx) is abandoned: its waiters get
// an error, a new run may start, and the log says so.
//
// A panic in code the run calls (a Store, an Auth, Client.CheckRetry or Backoff,
// a slog handler) does not kill the process: the run recovers it and every
// waiting caller gets a [*PanicError] with the panic's value and stack.
//
// A refresh token issued with new tokens replaces the old one; when none is issued
// the old one is kept (RFC 6749 §6). With [WithStore], new tokens are saved before
// any caller sees them. A failed refresh answers all its waiters with the same
// error, and for a backoff that grows from 1 s to 1 min after repeated failures
// (longer when the server's Retry-After asks for more, up to 1 min), callers
// without a valid token get that error without a new request. An
// invalid_grant (or GitHub's bad_refresh_token) is final: the refresh token is
// never sent again, until [Source.SetTokens] or a Store with different tokens
// supplies new ones. A store that fails never keeps the Source from refreshing
// with the refresh token it holds.
//
// With a [SharedStore] (see [WithStore]), the Source takes the grant's lease
// before a run does anything else, loads the tokens again under it and uses
// them without a request when another replica has saved fresh ones; it never
// presents a refresh token it read before taking the lease. The lease's TTL is
// twice the refresh timeout, and the timeout counts from when the lease is
// held, so no refresh is sent after the lease may have lapsed. New tokens are
// saved through the lease (a fenced write, tried again while the store fails
// until the run's deadline), and the lease is released at the end of the run,
// which wakes the replicas waiting for it. An invalid_grant loads again under
// the lease: a changed refresh token is adopted, an unchanged one is final,
// and the stored tokens are never deleted. A run waits for another replica's
// lease as long as the store makes it wait (at most that holder's TTL); each
// caller waits as long as its own ctx allows and then gets a [*StoreError]
// with Op "acquire". A store that fails (a time-out included) is a
// [*StoreError] and stops that run: without the lease nothing is sent, so a
// store outage is an error for callers whose access token has expired, while
// callers with a valid cached token get it as before. Reading a valid cached
// token never touches the store.
//
// A Source refreshes at most once every few seconds unless its token has
// expired: a resource rejecting a token that was refreshed moments ago gets its
// 401 back rather than another refresh, and a token that is already expired
// when it arrives is an error, never handed out as valid.
//
// A Source is safe for concurrent use. Create it with [NewSource].
type Source struct {
	client  *Client
	store   Store
	logger  *slog.Logger
	leeway  time.Duration
	timeout time.Duration
	reqOpts []RequestOption
	hooks   Hooks

	// cur is the published state; readers load it without a lock.
	cur atomic.Pointer[cached]

	mu       sync.Mutex // guards the fields below and serialises publishing to cur
	flight   *flight    // the run in progress, or nil
	lastErr  error      // the error of the last failed run
	failures int        // runs failed in a row
	retryAt  time.Time  // no new run before this after a failure
	deadRT   string     // a refresh token the server refused for good
	final    bool       // lastErr is final until new tokens arrive

	// running mirrors flight != nil (it is set beside it, under mu), so that
	// callers holding a usable token need no lock while a refresh ahead of
	// time runs.
	running atomic.Bool
}

// cached is one published state of a Source. It is never modified once published.
type cached struct {
	tok     *Tokens
	authz   []string  // the Authorization header value for tok; nil without an access token
	dpop    bool      // tok is a DPoP token: Transport sends it with a proof of Client.DPoP
	soft    time.Time // refresh ahead from here; zero: never
	hard    time.Time // unusable from here; zero: never
	settled time.Time // a resource's rejection is taken from here; zero: at once
	stale   bool      // rejected by a resource server: refresh before use
	unsaved bool      // not in the Store yet: save on the next call
}

// usable reports whether the access token may still be sent.
func (c *cached) usable(now time.Time) bool {
	return c != nil && c.authz != nil && !c.stale && (c.hard.IsZero() || now.Before(c.hard))
}

// fresh reports whether the access token is usable and needs no work yet.
func (c *cached) fresh(now time.Time) bool {
	return c.usable(now) && !c.unsaved && (c.soft.IsZero() || now.Before(c.soft))
}

// flight is one run of a Source: a refresh, a store load, or a save. Its fields
// but done are guarded by Source.mu until done is closed.
type flight struct {
	done      chan struct{} // closed when c and err are set
	c         *cached       // the state published by a successful run
	err       error
	reason    Reason
	rotated   *Tokens // tokens a refresh got, from before they are saved
	abandoned bool    // released at its timeout while still running

	leasing atomic.Bool // waiting for a SharedStore's lease
}

func (c *cached) reason() Reason {
	switch {
	case c == nil || c.authz == nil:
		return ReasonFirstUse
	case c.unsaved:
		return ReasonSaveRetry
	case c.stale:
		return ReasonRejected
	}
	return ReasonExpiry
}

// NewSource returns a Source that refreshes through c, starting from initial: a
// full set of [Tokens] saved earlier, or just &Tokens{RefreshToken: rt}, in which
// case the first [Source.Token] refreshes. A nil initial with [WithStore] means
// that the first call loads the tokens from the store.
//
// NewSource keeps initial as it is; do not modify it afterwards. It makes no
// request; errors, a nil c included, are reported by [Source.Token].
func NewSource(c *Client, initial *Tokens, opts ...SourceOption) *Source {
	o := sourceOptions{leeway: DefaultLeeway, timeout: DefaultRefreshTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	s := &Source{client: c, store: o.store, logger: o.logger, leeway: o.leeway, timeout: o.timeout, reqOpts: o.reqOpts, hooks: o.hooks}
	if initial != nil {
		s.cur.Store(s.newCached(initial, false))
	}
	return s
}

func (s *Source) now() time.Time {
	if s.client != nil {
		return s.client.now()
	}
	return time.Now()
}

// newCached prepares t for publishing: its Authorization value and its refresh
// and expiry times under the leeway.
func (s *Source) newCached(t *Tokens, unsaved bool) *cached {
	c := &cached{tok: t, unsaved: unsaved}
	if t.AccessToken != "" {
		scheme := authScheme(t.TokenType)
		c.authz = []string{scheme + " " + t.AccessToken}
		c.dpop = scheme == "DPoP"
	}
	if !t.ExpiresAt.IsZero() {
		c.hard = t.ExpiresAt
		life := t.Lifetime()
		if life == 0 {
			life = t.ExpiresAt.Sub(s.now())
		}
		c.soft = t.ExpiresAt.Add(-min(s.leeway, max(life/2, 0)))
	}
	return c
}

// refreshed is newCached for tokens a refresh made for reason just got:
// refresh-ahead starts no new refresh within minRefreshInterval, and neither
// does a resource's rejection when these tokens replace rejected ones.
func (s *Source) refreshed(t *Tokens, unsaved bool, reason Reason) *cached {
	c := s.newCached(t, unsaved)
	settled := s.now().Add(minRefreshInterval)
	if reason == ReasonRejected {
		c.settled = settled
	}
	if !c.soft.IsZero() && c.soft.Before(settled) {
		c.soft = settled
		if c.hard.Before(c.soft) {
			c.soft = c.hard
		}
	}
	return c
}

// authScheme is the Authorization scheme for a token type. Only bearer tokens
// (RFC 6750) can be sent as they are: any spelling of bearer, no type at all and
// the odd types some providers send (eBay, Weibo) are sent as "Bearer". A DPoP
// token (RFC 9449) keeps its scheme: Transport sends it with a proof of
// Client.DPoP on every request, and refuses it when the Client has no DPoP key.
func authScheme(tokenType string) string {
	if strings.EqualFold(tokenType, "DPoP") {
		return "DPoP"
	}
	return "Bearer"
}

// Token returns a valid access token, refreshing when the cached one is expired
// or expiring, as described on [Source]. The returned Tokens is shared by every
// caller: treat it as read-only.
//
// The error is the refresh's error ([*OAuthError], [*ResponseError], a transport
// error, a [*ConfigError]), a [*StoreError], a [*PanicError], or ctx's error,
// wrapped, when ctx ends before a refresh this call waits for.
func (s *Source) Token(ctx context.Context) (*Tokens, error) {
	c, err := s.state(ctx)
	if err != nil {
		return nil, err
	}
	return c.tok, nil
}

// state returns a usable published state, as Token does.
func (s *Source) state(ctx context.Context) (*cached, error) {
	if s == nil {
		return nil, &ConfigError{Field: "Source", Reason: "nil"}
	}
	if c := s.cur.Load(); c != nil {
		if now := s.now(); c.fresh(now) || c.usable(now) && s.running.Load() {
			// Fresh, or usable while a run is under way: slowState would
			// return c without starting anything.
			return c, nil
		}
	}
	return s.slowState(ctx)
}

func (s *Source) slowState(ctx context.Context) (*cached, error) {
	if s.client == nil {
		return nil, &ConfigError{Field: "Source", Reason: "created with a nil Client"}
	}
	if ctx == nil {
		return nil, &ConfigError{Field: "ctx", Reason: "nil Context"}
	}
	// A run can end without a usable access token (SetTokens with a refresh
	// token only, or expired tokens loaded from the Store): then go round once
	// more, which starts a refresh.
	for range 3 {
		s.mu.Lock()
		now := s.now()
		c := s.cur.Load()
		if c.fresh(now) {
			s.mu.Unlock()
			return c, nil
		}
		f := s.flight
		if f == nil {
			if s.blocked(now, c) {
				err := s.lastErr
				s.mu.Unlock()
				if c.usable(now) {
					return c, nil
				}
				return nil, err
			}
			f = s.startLocked(c, c.reason(), false)
		}
		s.mu.Unlock()
		if c.usable(now) {
			// Refresh-ahead or a save retry runs in the background.
			return c, nil
		}
		select {
		case <-f.done:
			if f.err != nil {
				return nil, f.err
			}
			if f.c.usable(s.now()) {
				return f.c, nil
			}
		case <-ctx.Done():
			if f.leasing.Load() {
				return nil, leaseWaitError(ctx)
			}
			return nil, fmt.Errorf("refresh: waiting for a token: %w", context.Cause(ctx))
		}
	}
	return nil, &ConfigError{Field: "Source", Reason: "no access token after refreshing", Err: ErrNoRefreshToken}
}

// blocked reports whether a failure forbids a new run now for state c. s.mu is
// held.
func (s *Source) blocked(now time.Time, c *cached) bool {
	if s.lastErr == nil {
		return false
	}
	if s.final && s.store == nil {
		return true
	}
	var se *StoreError
	_, shared := s.store.(SharedStore)
	if !shared && errors.As(s.lastErr, &se) && !c.usable(now) && c != nil && c.tok.RefreshToken != "" {
		// A plain Store's outage never keeps the Source from refreshing with
		// the refresh token it holds. A SharedStore's does: without its lease
		// nothing is sent, so a run now would only call the failing store
		// again; the backoff applies.
		return false
	}
	return now.Before(s.retryAt)
}

// outcome is what a run's work produced: the state to publish (nil: keep the
// current one), how it got it (empty when no request was made and nothing
// changed), and the error for the waiters.
type outcome struct {
	next *cached
	how  string
	err  error
}

// startLocked starts a run for state c; saveOnly runs only save it (SetTokens).
// s.mu is held. The run works on a context of its own, bounded by the refresh
// timeout (counted from when it holds the lease, with a SharedStore); when it
// has not returned abandonGrace after that, its waiters are released and a new
// run may start.
func (s *Source) startLocked(c *cached, reason Reason, saveOnly bool) *flight {
	f := &flight{done: make(chan struct{}), reason: reason}
	if _, ok := s.store.(SharedStore); ok {
		f.leasing.Store(true) // until the run holds the lease
	}
	s.flight = f
	s.running.Store(true)
	dead, lastErr := s.deadRT, s.lastErr
	go func() {
		start := time.Now()
		s.started(f)
		// With a SharedStore the run first waits for the grant's lease, for
		// as long as the store makes it wait; the timeout starts once it is
		// held, and the lease outlives it.
		st, lease, err := s.runStore(f)
		if err != nil {
			s.finish(context.Background(), f, c, outcome{err: err}, time.Since(start))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		res := make(chan outcome, 1)
		go func() {
			var o outcome
			defer func() {
				if p := recover(); p != nil {
					o = outcome{err: newPanicError(p)}
				}
				if lease != nil {
					s.release(lease, f.reason)
				}
				res <- o
			}()
			o = s.work(ctx, f, c, st, lease != nil, dead, lastErr, saveOnly)
		}()
		var o outcome
		select {
		case o = <-res:
		case <-ctx.Done():
			select {
			case o = <-res:
			case <-time.After(abandonGrace):
				s.abandon(ctx, f, time.Since(start))
				return
			}
		}
		s.finish(ctx, f, c, o, time.Since(start))
	}()
	return f
}

// How a run ended without an error.
const (
	ranRefresh = "refreshed" // a token request was made
	ranLoad    = "loaded"    // newer tokens were taken from the Store
	ranSave    = "saved"     // unsaved tokens were saved
)

// expiredOnArrival is the error of a refresh whose access token had already
// expired when it arrived.
func expiredOnArrival() error {
	return &ResponseError{StatusCode: http.StatusOK, Field: "expires_in",
		Reason: "the access token expired before it could be used"}
}

// finish publishes the outcome of a run for state c and releases its waiters.
func (s *Source) finish(ctx context.Context, f *flight, c *cached, o outcome, elapsed time.Duration) {
	next, how, err := o.next, o.how, o.err
	if err == nil && how == ranRefresh && !next.usable(s.now()) {
		err = expiredOnArrival()
	}
	s.mu.Lock()
	if next != nil {
		if cur := s.cur.Load(); (how != ranRefresh || err != nil) && cur != nil && cur.stale &&
			next.tok.AccessToken == cur.tok.AccessToken {
			// A resource server rejected this access token, and the run did not
			// replace it with a new one: it stays rejected.
			n := *next
			n.stale = true
			next = &n
		}
		s.cur.Store(next)
	}
	var se *StoreError
	saveFailed := errors.As(err, &se) && se.Op == "save" && next != nil
	switch {
	case err == nil || saveFailed:
		// New tokens (saved or not) replace any failure.
		s.lastErr, s.failures, s.retryAt, s.deadRT, s.final = nil, 0, time.Time{}, "", false
		if err != nil {
			// Keep trying to save, but not on every call.
			s.lastErr, s.retryAt = err, s.now().Add(minBackoff)
		}
	default:
		s.failLocked(err)
	}
	failures, retryIn := s.failures, s.retryAt.Sub(s.now())
	s.flight = nil
	s.running.Store(false)
	f.c, f.err = next, err
	s.mu.Unlock()
	// Waiters are released after the run's log line is written, so that a
	// caller that returns from Token (and a program that then exits, or a test
	// that then reads its log) sees the line. A panic in the logger reaches the
	// waiters too, unless they already have an error.
	defer close(f.done)
	if perr := s.logOutcome(ctx, f.reason, c, o, err, saveFailed, elapsed, failures, retryIn); perr != nil && f.err == nil {
		f.err = perr
	}
	s.ended(f, runOutcome(how, err, saveFailed), err, how == ranRefresh, elapsed)
}

// runOutcome is the Outcome of a run that ended as how, with err.
func runOutcome(how string, err error, saveFailed bool) Outcome {
	switch {
	case saveFailed:
		return OutcomeUnsaved
	case err != nil:
		return OutcomeFailed
	case how == ranLoad:
		return OutcomeAdopted
	case how == ranSave:
		return OutcomeSaved
	}
	return OutcomeRefreshed
}

// failLocked records a failed run. s.mu is held.
func (s *Source) failLocked(err error) {
	s.failures++
	s.lastErr = err
	backoff := max(minBackoff<<min(s.failures-1, 6), serverRetryAfter(err))
	if _, ok := errors.AsType[*StoreError](err); ok {
		// The token endpoint did not fail: the store is tried again each
		// minBackoff, so that a Source is back soon after its store is.
		backoff = minBackoff
	}
	s.retryAt = s.now().Add(min(backoff, maxBackoff))
	if isFinal(err) {
		s.final = true
		if cur := s.cur.Load(); cur != nil {
			s.deadRT = cur.tok.RefreshToken
		}
	}
}

// abandon releases the waiters of a run that did not return within its timeout,
// keeping any tokens it got from a refresh, and lets a new run start. The run's
// goroutine is left to end on its own.
func (s *Source) abandon(ctx context.Context, f *flight, elapsed time.Duration) {
	err := fmt.Errorf("refresh: the refresh run did not return within its timeout (%s); a Store or Auth may ignore ctx: %w",
		s.timeout, context.DeadlineExceeded)
	s.mu.Lock()
	f.abandoned = true
	kept := f.rotated != nil // read under mu: the run's goroutine may still call keep
	if kept {
		s.cur.Store(s.refreshed(f.rotated, true, f.reason))
	}
	s.failLocked(err)
	s.flight = nil
	s.running.Store(false)
	f.err = err
	s.mu.Unlock()
	defer close(f.done)
	defer s.ended(f, OutcomeAbandoned, err, kept, elapsed)
	defer func() { _ = recover() }() // a panicking logger: the waiters have their error already
	s.log(ctx, slog.LevelError, "refresh: run abandoned after its timeout; its goroutine is still running",
		slog.String("reason", string(f.reason)), slog.Duration("duration", elapsed),
		slog.Bool("tokens_kept", kept))
}

// keep records tokens a refresh got before they are saved, so that abandoning
// the run cannot lose them. A run already abandoned publishes them itself,
// unless another run has replaced the refresh token they came from.
func (s *Source) keep(f *flight, spent string, t *Tokens) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.rotated = t
	if cur := s.cur.Load(); f.abandoned && (cur == nil || cur.tok.RefreshToken == spent) {
		s.cur.Store(s.refreshed(t, true, f.reason))
	}
}

// logOutcome writes the line for a finished run. It returns a *PanicError when
// the logger panicked.
func (s *Source) logOutcome(ctx context.Context, reason Reason, c *cached, o outcome, err error,
	saveFailed bool, elapsed time.Duration, failures int, retryIn time.Duration) (perr error) {
	if s.logger == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			perr = newPanicError(p)
		}
	}()
	why := slog.String("reason", string(reason))
	switch {
	case err == nil && o.how == ranRefresh:
		s.logger.LogAttrs(ctx, slog.LevelInfo, "refresh: token refreshed", why,
			slog.Duration("duration", elapsed),
			slog.Duration("expires_in", o.next.tok.Lifetime()),
			slog.Bool("refresh_token_rotated", c == nil || c.tok.RefreshToken != o.next.tok.RefreshToken))
	case err == nil && o.how == ranLoad:
		s.logger.LogAttrs(ctx, slog.LevelInfo, "refresh: tokens loaded from the store", why,
			slog.Duration("duration", elapsed))
	case err == nil:
		s.logger.LogAttrs(ctx, slog.LevelInfo, "refresh: tokens saved", why,
			slog.Duration("duration", elapsed))
	case saveFailed:
		s.logger.LogAttrs(ctx, slog.LevelError, "refresh: new tokens kept in memory, store failed", why,
			slog.Duration("duration", elapsed), slog.String("error", err.Error()))
	case o.how == "":
		// Nothing was sent: the refresh token is known to be dead, or a save
		// retry failed.
		s.logger.LogAttrs(ctx, slog.LevelDebug, "refresh: still failing, no request sent", why,
			slog.String("error", err.Error()), slog.Int("failures", failures),
			slog.Duration("retry_in", max(retryIn, 0)))
	default:
		s.logger.LogAttrs(ctx, slog.LevelWarn, "refresh: refresh failed", why,
			slog.Duration("duration", elapsed), slog.String("error", err.Error()),
			slog.Int("failures", failures), slog.Duration("retry_in", max(retryIn, 0)),
			slog.Bool("final", isFinal(err)))
	}
	return nil
}

// log writes one line when there is a logger. Its callers recover a panic of
// the logger.
func (s *Source) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if s.logger != nil {
		s.logger.LogAttrs(ctx, level, msg, attrs...)
	}
}

// isFinal reports whether err means the refresh token will never work again.
func isFinal(err error) bool {
	return errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrorCode("bad_refresh_token")) ||
		errors.Is(err, ErrNoRefreshToken)
}

// work loads from st, saves unsaved tokens unless st holds newer ones, and
// refreshes, as state c needs. st is the Store, a held Lease (shared), or nil.
// Without an error, the outcome's state is what the waiters get.
//
// Under a lease the stored tokens are the truth: they are adopted whenever
// they differ from ours (but for unsaved tokens, which are kept unless the
// stored ones were issued after them), and a store that fails stops the run
// rather than let it present a refresh token read before the lease.
func (s *Source) work(ctx context.Context, f *flight, c *cached, st Store, shared bool, dead string, lastErr error, saveOnly bool) outcome {
	now := s.now()
	orig := c
	var stored *Tokens
	var loadErr error
	if st != nil {
		stored, loadErr = s.load(ctx, st)
		if loadErr != nil && (c == nil || shared) {
			return outcome{err: loadErr}
		}
		if loadErr != nil {
			s.log(ctx, slog.LevelWarn, "refresh: store load failed, going on with the tokens in memory",
				slog.String("error", loadErr.Error()))
		}
	}
	switch {
	case c != nil && c.unsaved:
		// A save that must not replace newer tokens: another replica, or the
		// user signing in again, may have stored some since.
		switch {
		case stored != nil && issuedAfter(stored, c.tok):
			c = s.newCached(stored, false)
			if saveOnly || c.fresh(now) {
				return outcome{c, ranLoad, nil}
			}
		case loadErr != nil:
			if saveOnly || c.usable(now) || c.tok.RefreshToken == "" {
				return outcome{err: loadErr}
			}
			// The access token is gone: refresh with the unsaved refresh
			// token rather than wait for the store.
		default:
			if err := s.save(ctx, st, c.tok); err != nil {
				if saveOnly || c.usable(now) || c.tok.RefreshToken == "" {
					return outcome{err: err}
				}
			} else {
				c = s.newCached(c.tok, false)
				if saveOnly || c.fresh(now) || (c.tok.RefreshToken == "" && c.usable(now)) {
					return outcome{c, ranSave, nil}
				}
			}
		}
	case stored != nil && (c == nil || newer(stored, c.tok) || shared && differ(stored, c.tok)):
		c = s.newCached(stored, false)
		if c.fresh(now) {
			return outcome{c, ranLoad, nil}
		}
	}
	if c == nil || c.tok.RefreshToken == "" {
		return outcome{err: &ConfigError{Field: "Source", Reason: "no refresh token to refresh with", Err: ErrNoRefreshToken}}
	}
	if dead != "" && c.tok.RefreshToken == dead {
		// Refused for good already: never present it again.
		return outcome{err: lastErr}
	}

	s.log(ctx, slog.LevelDebug, "refresh: refreshing token", slog.String("reason", string(f.reason)))
	base := c
	t, err := s.client.refresh(ctx, base.tok.RefreshToken, s.nonceRetried(), s.reqOpts...)
	if err != nil && isFinal(err) && st != nil {
		// Another process may have rotated the token after the load above.
		if again, lerr := s.load(ctx, st); lerr == nil && again != nil &&
			again.RefreshToken != "" && again.RefreshToken != base.tok.RefreshToken && (shared || newer(again, base.tok)) {
			base = s.newCached(again, false)
			if base.fresh(s.now()) {
				return outcome{base, ranLoad, nil}
			}
			t, err = s.client.refresh(ctx, base.tok.RefreshToken, s.nonceRetried(), s.reqOpts...)
		}
	}
	if err != nil {
		if base != orig {
			// Publish the tokens that were refused, saved or adopted, so that
			// a final error marks the refresh token that was really sent.
			return outcome{base, ranRefresh, err}
		}
		return outcome{nil, ranRefresh, err}
	}
	merge(t, base.tok)
	s.keep(f, base.tok.RefreshToken, t)
	save := s.save
	if shared {
		save = s.saveHeld
	}
	if err := save(ctx, st, t); err != nil {
		return outcome{s.refreshed(t, true, f.reason), ranRefresh, err}
	}
	return outcome{s.refreshed(t, false, f.reason), ranRefresh, nil}
}

// newer reports whether stored tokens should replace ours. A different refresh
// token is adopted unless both sets carry IssuedAt and the stored one is older;
// the same refresh token with a different access token is adopted unless the
// stored one is older.
func newer(stored, ours *Tokens) bool {
	if stored.RefreshToken == "" && stored.AccessToken == "" {
		return false
	}
	if stored.RefreshToken == ours.RefreshToken && stored.AccessToken == ours.AccessToken {
		return false
	}
	if stored.IssuedAt.IsZero() || ours.IssuedAt.IsZero() {
		return true
	}
	return !stored.IssuedAt.Before(ours.IssuedAt)
}

// issuedAfter reports whether stored tokens are provably newer than ours: both
// carry IssuedAt and the stored one is later. Only such tokens stop a save.
func issuedAfter(stored, ours *Tokens) bool {
	return !stored.IssuedAt.IsZero() && !ours.IssuedAt.IsZero() && stored.IssuedAt.After(ours.IssuedAt)
}

// merge completes a refresh response from the tokens it replaces: the refresh
// token is kept when none was issued (RFC 6749 §6), and the scope when none was
// sent (RFC 6749 §5.1: then it is unchanged).
func merge(t, old *Tokens) {
	if t.RefreshToken == "" {
		t.RefreshToken = old.RefreshToken
		if t.RefreshTokenExpiresAt.IsZero() {
			t.RefreshTokenExpiresAt = old.RefreshTokenExpiresAt
		}
	}
	if t.Scopes == nil {
		t.Scopes = old.Scopes
	}
}

// load calls st.Load, turning an error or a panic into a *StoreError.
func (s *Source) load(ctx context.Context, st Store) (t *Tokens, err error) {
	defer func() {
		if p := recover(); p != nil {
			se := &StoreError{Op: "load", Err: newPanicError(p)}
			s.storeFailed(se)
			t, err = nil, se
		}
	}()
	if t, err = st.Load(ctx); err != nil {
		se := &StoreError{Op: "load", Err: err}
		s.storeFailed(se)
		return nil, se
	}
	return t, nil
}

// save calls st.Save, if there is a Store, turning an error or a panic into
// a *StoreError, so that the tokens are kept in memory either way.
func (s *Source) save(ctx context.Context, st Store, t *Tokens) (err error) {
	if st == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			se := &StoreError{Op: "save", Err: newPanicError(p)}
			s.storeFailed(se)
			err = se
		}
	}()
	if err := st.Save(ctx, t); err != nil {
		se := &StoreError{Op: "save", Err: err}
		s.storeFailed(se)
		return se
	}
	return nil
}

// lockIdle waits until no run is in flight and returns with s.mu held. When
// ctx ends first it returns, without the lock, ctx's cause: as a *StoreError
// when the run waited for the lease another process holds.
func (s *Source) lockIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		f := s.flight
		if f == nil {
			return nil
		}
		s.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			if f.leasing.Load() {
				return leaseWaitError(ctx)
			}
			return fmt.Errorf("refresh: waiting for a refresh in progress: %w", context.Cause(ctx))
		}
	}
}

// SetTokens replaces the Source's tokens with t, for example after the user
// authorised again: it waits for a run in progress, uses t from then on, clears
// any failure, a final invalid_grant included, and saves t to the Store if there
// is one, unless the Store holds tokens issued after t. A t without IssuedAt is
// stamped with the client's clock (on a copy; t itself is not modified). When
// saving fails, t is used anyway and saved again on a later call, and the error
// is a [*StoreError]; when ctx ends first, the save goes on in the background
// and the error is ctx's.
func (s *Source) SetTokens(ctx context.Context, t *Tokens) error {
	if s == nil {
		return &ConfigError{Field: "Source", Reason: "nil"}
	}
	if t == nil {
		return &ConfigError{Field: "tokens", Reason: "nil"}
	}
	if ctx == nil {
		return &ConfigError{Field: "ctx", Reason: "nil Context"}
	}
	if t.IssuedAt.IsZero() {
		c := *t
		c.IssuedAt = s.now()
		t = &c
	}
	if err := s.lockIdle(ctx); err != nil {
		return err
	}
	c := s.newCached(t, s.store != nil)
	s.cur.Store(c)
	s.lastErr, s.failures, s.retryAt, s.deadRT, s.final = nil, 0, time.Time{}, "", false
	if s.store == nil {
		s.mu.Unlock()
		return nil
	}
	f := s.startLocked(c, ReasonSetTokens, true)
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		if f.leasing.Load() {
			return leaseWaitError(ctx)
		}
		return fmt.Errorf("refresh: saving the tokens: %w", context.Cause(ctx))
	}
}

// Invalidate tells the Source that a resource server rejected t's access token
// (HTTP 401 invalid_token). If t is still the current token, the next
// [Source.Token] refreshes; if a newer token has replaced it already, Invalidate
// does nothing, so many requests rejected with the same old token cause one
// refresh. Nor does it when t itself came, seconds ago, from a refresh that
// replaced a rejected token: a resource that rejects every token costs one
// refresh every few seconds, not one per request. [Transport] calls it for you.
func (s *Source) Invalidate(t *Tokens) {
	if s == nil || t == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur.Load()
	if c == nil || c.stale || c.tok.AccessToken != t.AccessToken || s.now().Before(c.settled) {
		return
	}
	n := *c
	n.stale = true
	s.cur.Store(&n)
}

// describe gives the Source's Client.
func (s *Source) describe() (string, []printField) {
	if s == nil {
		return "refresh.Source(nil)", nil
	}
	var c any = word("nil")
	if s.client != nil {
		c = s.client
	}
	return "refresh.Source", printFields{{"Client", c}}
}

// String describes the Source without secrets: its Client.
func (s *Source) String() string { return render(s) }

// Format writes String for every verb (%q quotes it), so that no verb prints a
// token.
func (s *Source) Format(f fmt.State, verb rune) { formatText(f, verb, s.String()) }

// LogValue gives slog what String shows, as a group.
func (s *Source) LogValue() slog.Value { return logValue(s) }

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
