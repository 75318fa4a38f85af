package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
// by another process are used instead of a spent refresh token.
func WithStore(st Store) SourceOption {
	return func(o *sourceOptions) { o.store = st }
}

// WithLogger sends the Source's refresh events (started, succeeded, failed, store
// failures) to l, with durations and without secrets. Nil logs nothing, the
// default.
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

// Source hands out a valid access token to any number of goroutines and refreshes
// it through a [Client] when it is about to expire.
//
// Reading a valid cached token takes no lock. When the token comes within the
// leeway of its expiry, the first caller starts one refresh in the background and
// every caller keeps getting the still-valid token; callers wait only when no
// valid token is left, each for as long as its own context allows. The refresh
// itself runs on a context detached from the callers' cancellation, bounded by
// [WithRefreshTimeout], so a caller that gives up never fails the refresh others
// wait for.
//
// A refresh token issued with new tokens replaces the old one; when none is issued
// the old one is kept (RFC 6749 §6). With [WithStore], new tokens are saved before
// any caller sees them. A failed refresh answers all its waiters with the same
// error, and for a backoff that grows from 1 s to 1 min after repeated failures
// (longer when the server's Retry-After asks for more, up to 1 min), callers
// without a valid token get that error without a new request. An
// invalid_grant (or GitHub's bad_refresh_token) is final: the refresh token is
// never sent again, until [Source.SetTokens] or a Store with different tokens
// supplies new ones.
//
// A Source is safe for concurrent use. Create it with [NewSource].
type Source struct {
	client  *Client
	store   Store
	logger  *slog.Logger
	leeway  time.Duration
	timeout time.Duration

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
	// time runs. It sits here, beside final, to keep Source at 160 bytes.
	running atomic.Bool
}

// cached is one published state of a Source. It is never modified once published.
type cached struct {
	tok     *Tokens
	authz   []string  // the Authorization header value for tok; nil without an access token
	dpop    bool      // tok is a DPoP token, which Transport cannot send
	soft    time.Time // refresh ahead from here; zero: never
	hard    time.Time // unusable from here; zero: never
	stale   bool      // rejected by a resource server: refresh before use
	unsaved bool      // Store.Save failed: save again on the next call
}

// usable reports whether the access token may still be sent.
func (c *cached) usable(now time.Time) bool {
	return c != nil && c.authz != nil && !c.stale && (c.hard.IsZero() || now.Before(c.hard))
}

// fresh reports whether the access token is usable and needs no work yet.
func (c *cached) fresh(now time.Time) bool {
	return c.usable(now) && !c.unsaved && (c.soft.IsZero() || now.Before(c.soft))
}

// flight is one run of a Source: a refresh, a store load, or a save.
type flight struct {
	done chan struct{} // closed when c and err are set
	c    *cached       // the state published by a successful run
	err  error
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
	s := &Source{client: c, store: o.store, logger: o.logger, leeway: o.leeway, timeout: o.timeout}
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

// authScheme is the Authorization scheme for a token type. Only bearer tokens
// (RFC 6750) can be sent as they are: any spelling of bearer, no type at all and
// the odd types some providers send (eBay, Weibo) are sent as "Bearer". A DPoP
// token (RFC 9449) keeps its scheme; Transport refuses it, since it needs a proof
// with every request.
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
// error, a [*ConfigError]), a [*StoreError], or ctx's error, wrapped, when ctx ends
// before a refresh this call waits for.
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
	// A run can end without an access token (SetTokens with a refresh token
	// only): then go round once more, which starts a refresh.
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
			if s.blocked(now) {
				err := s.lastErr
				s.mu.Unlock()
				if c.usable(now) {
					return c, nil
				}
				return nil, err
			}
			f = s.startLocked(ctx, c)
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
			if f.c != nil && f.c.authz != nil && !f.c.stale {
				return f.c, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("refresh: waiting for a token: %w", context.Cause(ctx))
		}
	}
	return nil, &ConfigError{Field: "Source", Reason: "no access token after refreshing", Err: ErrNoRefreshToken}
}

// blocked reports whether a failure forbids a new run now. s.mu is held.
func (s *Source) blocked(now time.Time) bool {
	if s.lastErr == nil {
		return false
	}
	if s.final && s.store == nil {
		return true
	}
	return now.Before(s.retryAt)
}

// startLocked starts a run for state c. s.mu is held.
func (s *Source) startLocked(ctx context.Context, c *cached) *flight {
	f := &flight{done: make(chan struct{})}
	s.flight = f
	s.running.Store(true)
	dead, lastErr := s.deadRT, s.lastErr
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	go func() {
		defer cancel()
		s.run(rctx, f, c, dead, lastErr)
	}()
	return f
}

// How a run ended without an error.
const (
	ranRefresh = "refreshed" // a token request was made
	ranLoad    = "loaded"    // newer tokens were taken from the Store
	ranSave    = "saved"     // unsaved tokens were saved
)

// run does the work for state c and publishes the outcome.
func (s *Source) run(ctx context.Context, f *flight, c *cached, dead string, lastErr error) {
	start := time.Now()
	next, how, err := s.work(ctx, c, dead, lastErr)
	elapsed := time.Since(start)

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
		s.failures++
		s.lastErr = err
		backoff := max(minBackoff<<min(s.failures-1, 6), serverRetryAfter(err))
		s.retryAt = s.now().Add(min(backoff, maxBackoff))
		if isFinal(err) {
			s.final = true
			if cur := s.cur.Load(); cur != nil {
				s.deadRT = cur.tok.RefreshToken
			}
		}
	}
	failures, retryIn := s.failures, s.retryAt.Sub(s.now())
	s.flight = nil
	s.running.Store(false)
	f.c, f.err = next, err
	s.mu.Unlock()
	// Waiters are released after the run's log line is written, so that a
	// caller that returns from Token (and a program that then exits, or a test
	// that then reads its log) sees the line.
	defer close(f.done)

	if s.logger == nil {
		return
	}
	switch {
	case err == nil && how == ranRefresh:
		s.logger.LogAttrs(ctx, slog.LevelInfo, "refresh: token refreshed",
			slog.Duration("duration", elapsed),
			slog.Duration("expires_in", next.tok.Lifetime()),
			slog.Bool("refresh_token_rotated", c == nil || c.tok.RefreshToken != next.tok.RefreshToken))
	case err == nil && how == ranLoad:
		s.logger.LogAttrs(ctx, slog.LevelInfo, "refresh: tokens loaded from the store",
			slog.Duration("duration", elapsed))
	case err == nil:
		s.logger.LogAttrs(ctx, slog.LevelInfo, "refresh: tokens saved after an earlier failure",
			slog.Duration("duration", elapsed))
	case saveFailed:
		s.logger.LogAttrs(ctx, slog.LevelError, "refresh: new tokens kept in memory, store failed",
			slog.Duration("duration", elapsed), slog.String("error", err.Error()))
	case how == "":
		// Nothing was sent: the refresh token is known to be dead, or a save
		// retry failed.
		s.logger.LogAttrs(ctx, slog.LevelDebug, "refresh: still failing, no request sent",
			slog.String("error", err.Error()), slog.Int("failures", failures),
			slog.Duration("retry_in", max(retryIn, 0)))
	default:
		s.logger.LogAttrs(ctx, slog.LevelWarn, "refresh: refresh failed",
			slog.Duration("duration", elapsed), slog.String("error", err.Error()),
			slog.Int("failures", failures), slog.Duration("retry_in", max(retryIn, 0)),
			slog.Bool("final", isFinal(err)))
	}
}

// isFinal reports whether err means the refresh token will never work again.
func isFinal(err error) bool {
	return errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrorCode("bad_refresh_token")) ||
		errors.Is(err, ErrNoRefreshToken)
}

// work saves unsaved tokens, adopts newer stored tokens, and refreshes, as state c
// needs. It returns the state to publish (nil: keep the current one), how it got
// it (empty when no request was made and nothing changed), and the error for the
// waiters; without an error the state is what they get.
func (s *Source) work(ctx context.Context, c *cached, dead string, lastErr error) (*cached, string, error) {
	now := s.now()
	orig := c
	if c != nil && c.unsaved {
		if err := s.save(ctx, c.tok); err != nil {
			if c.usable(now) || c.tok.RefreshToken == "" {
				return nil, "", err
			}
			// The access token is gone: refresh with the unsaved refresh token
			// rather than wait for the store.
		} else {
			c = s.newCached(c.tok, false)
			if c.fresh(now) || (c.tok.RefreshToken == "" && c.usable(now)) {
				return c, ranSave, nil
			}
		}
	}

	if s.store != nil && (c == nil || !c.unsaved) {
		stored, err := s.store.Load(ctx)
		switch {
		case err != nil && c == nil:
			return nil, "", &StoreError{Op: "load", Err: err}
		case err != nil:
			if s.logger != nil {
				s.logger.LogAttrs(ctx, slog.LevelWarn, "refresh: store load failed, refreshing with the token in memory",
					slog.String("error", err.Error()))
			}
		case stored != nil && (c == nil || newer(stored, c.tok)):
			c = s.newCached(stored, false)
			if c.fresh(now) {
				return c, ranLoad, nil
			}
		}
	}
	if c == nil || c.tok.RefreshToken == "" {
		return nil, "", &ConfigError{Field: "Source", Reason: "no refresh token to refresh with", Err: ErrNoRefreshToken}
	}
	if dead != "" && c.tok.RefreshToken == dead {
		// Refused for good already: never present it again.
		return nil, "", lastErr
	}

	if s.logger != nil {
		s.logger.LogAttrs(ctx, slog.LevelDebug, "refresh: refreshing token")
	}
	base := c
	t, err := s.client.Refresh(ctx, base.tok.RefreshToken)
	if err != nil && isFinal(err) && s.store != nil {
		// Another process may have rotated the token after the load above.
		if stored, lerr := s.store.Load(ctx); lerr == nil && stored != nil &&
			stored.RefreshToken != "" && stored.RefreshToken != base.tok.RefreshToken && newer(stored, base.tok) {
			base = s.newCached(stored, false)
			if base.fresh(s.now()) {
				return base, ranLoad, nil
			}
			t, err = s.client.Refresh(ctx, base.tok.RefreshToken)
		}
	}
	if err != nil {
		if base != orig {
			// Publish the tokens that were refused, saved or adopted, so that
			// a final error marks the refresh token that was really sent.
			return base, ranRefresh, err
		}
		return nil, ranRefresh, err
	}
	merge(t, base.tok)
	if err := s.save(ctx, t); err != nil {
		return s.newCached(t, true), ranRefresh, err
	}
	return s.newCached(t, false), ranRefresh, nil
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

func (s *Source) save(ctx context.Context, t *Tokens) error {
	if s.store == nil {
		return nil
	}
	if err := s.store.Save(ctx, t); err != nil {
		return &StoreError{Op: "save", Err: err}
	}
	return nil
}

// SetTokens replaces the Source's tokens with t, for example after the user
// authorised again: it waits for a refresh in progress, saves t to the Store if
// there is one, and clears any failure, a final invalid_grant included. When
// saving fails, t is used anyway and saved again on a later call, and the error is
// a [*StoreError].
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
	for {
		s.mu.Lock()
		f := s.flight
		if f == nil {
			break
		}
		s.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return fmt.Errorf("refresh: waiting for a refresh in progress: %w", context.Cause(ctx))
		}
	}
	// Hold the flight slot while saving, so that no refresh starts meanwhile.
	f := &flight{done: make(chan struct{})}
	s.flight = f
	s.running.Store(true)
	s.mu.Unlock()

	err := s.save(ctx, t)

	s.mu.Lock()
	s.cur.Store(s.newCached(t, err != nil))
	s.lastErr, s.failures, s.retryAt, s.deadRT, s.final = nil, 0, time.Time{}, "", false
	s.flight = nil
	s.running.Store(false)
	f.c = s.cur.Load()
	s.mu.Unlock()
	close(f.done)
	return err
}

// Invalidate tells the Source that a resource server rejected t's access token
// (HTTP 401 invalid_token). If t is still the current token, the next
// [Source.Token] refreshes; if a newer token has replaced it already, Invalidate
// does nothing, so many requests rejected with the same old token cause one
// refresh. [Transport] calls it for you.
func (s *Source) Invalidate(t *Tokens) {
	if s == nil || t == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur.Load()
	if c == nil || c.stale || c.tok.AccessToken != t.AccessToken {
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
