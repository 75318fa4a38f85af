package refresh

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

// Revoke asks the server to revoke token at RevocationURL (RFC 7009): a refresh
// token, which also ends the access tokens of its grant at servers that track
// them (RFC 7009 §2.1), or an access token. hint is the token_type_hint:
// "refresh_token", "access_token", or "" to send none.
//
// The request is built and sent as a refresh is: the same client
// authentication (Auth), headers, transport rules (https, no redirect
// followed, a capped body) and retry policy (CheckRetry, by default only when
// the request provably did not reach the server, or after a 429 or 503).
//
// An answer of HTTP 200 is success, also for a token the server did not know
// (RFC 7009 §2.2), and its body is ignored unless it carries an OAuth error.
// An error answer is an [*OAuthError] whatever its code: errors.Is matches
// [ErrUnsupportedTokenType] (the server does not revoke that type of token),
// [ErrInvalidClient] and the others. Other answers are a [*ResponseError]; bad
// input (an empty token, another hint, no RevocationURL) is a [*ConfigError]
// and sends nothing. No error shows the token.
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	switch {
	case c == nil:
		return &ConfigError{Field: "Client", Reason: "nil *Client"}
	case ctx == nil:
		return &ConfigError{Field: "ctx", Reason: "nil context"}
	case token == "":
		return &ConfigError{Field: "token", Reason: "empty token"}
	case hint != "" && hint != "refresh_token" && hint != "access_token":
		// The hint is not quoted: a token passed in its place would show.
		return &ConfigError{Field: "hint", Reason: `must be "refresh_token", "access_token" or empty`}
	case c.RevocationURL == "":
		return &ConfigError{Field: "RevocationURL", Reason: "empty: Revoke needs the server's revocation endpoint"}
	case c.MaxResponseBytes < 0:
		return &ConfigError{Field: "MaxResponseBytes", Reason: "negative"}
	}
	own := []param{{"token", token}}
	if hint != "" {
		own = append(own, param{"token_type_hint", hint})
	}
	_, err := c.do(ctx, exchange{
		build: func(ctx context.Context) (*http.Request, error) {
			return c.newFormRequest(ctx, "RevocationURL", c.RevocationURL, token, own, requestOptions{})
		},
		parse: func(resp *http.Response) (*Tokens, error) { return nil, c.parseRevocation(resp) },
	})
	return err
}

// parseRevocation reads the answer to a revocation request: a 2xx is success
// unless its body carries an OAuth error code; an OAuth error body is an
// *OAuthError whatever the status; anything else a *ResponseError.
func (c *Client) parseRevocation(resp *http.Response) error {
	var p parser
	err := c.readAnswer(resp, &p)
	success := resp != nil && resp.StatusCode >= 200 && resp.StatusCode < 300
	if err != nil {
		if success {
			return nil // the body of a success is not needed (RFC 7009 §2.2)
		}
		return err
	}
	readErr := p.read(new(map[string]rawJSON))
	if readErr == nil {
		if code, ok := p.f.get("error").text(); ok && code != "" {
			return p.oauthError(code)
		}
	}
	switch s := resp.StatusCode; {
	case success:
		return nil
	case s >= 300 && s < 400:
		return p.redirect()
	case readErr != nil:
		return readErr
	}
	return p.fail("", "error status without an OAuth error body", nil)
}

// Revoke signs the Source's grant out: it revokes the refresh token at the
// server with [Client.Revoke] (the access token when there is no refresh
// token), forgets the tokens in memory and clears the Store, if there is one,
// with Save(ctx, nil). A [SharedStore] is cleared under its lease (Acquire,
// Lease.Load, Lease.Save(nil), Release), so that no replica refreshes the
// grant meanwhile; when the Store holds newer tokens than the Source, it is
// those that are revoked.
//
// It waits for a refresh in progress, and callers of [Source.Token] wait for
// it. Afterwards Token returns an error that matches
// errors.Is(err, [ErrNoRefreshToken]) until [Source.SetTokens] supplies new
// tokens (or, with a Store, until the Store holds tokens again, which another
// replica's SetTokens can do).
//
// The tokens are forgotten and the Store is cleared even when the server's
// answer is an error: signing out ends the local session either way. The error
// then says what failed: the revocation's error ([Client.Revoke]), a
// [*StoreError], or both joined; when the Store could not be cleared, calling
// Revoke again revokes what it holds. A missing Client.RevocationURL is a
// [*ConfigError] and changes nothing; a panic in the Store or the Auth is a
// [*PanicError].
func (s *Source) Revoke(ctx context.Context) (err error) {
	switch {
	case s == nil:
		return &ConfigError{Field: "Source", Reason: "nil"}
	case ctx == nil:
		return &ConfigError{Field: "ctx", Reason: "nil Context"}
	case s.client == nil:
		return &ConfigError{Field: "Source", Reason: "created with a nil Client"}
	case s.client.RevocationURL == "":
		return &ConfigError{Field: "RevocationURL", Reason: "empty: Revoke needs the server's revocation endpoint"}
	}
	// Hold the Source as a run of its own, so that no refresh starts with the
	// token being revoked, and Token's callers wait for the outcome.
	if err := s.lockIdle(ctx); err != nil {
		return err
	}
	f := &flight{done: make(chan struct{}), reason: reasonRevoke}
	s.flight = f
	s.running.Store(true)
	var ours *Tokens
	if c := s.cur.Load(); c != nil {
		ours = c.tok
	}
	// Empty tokens rather than none: a run abandoned earlier still publishes
	// what it got when nothing is held (see keep), but not over these.
	s.cur.Store(&cached{tok: &Tokens{}})
	s.mu.Unlock()

	signedOut := &ConfigError{Field: "Source", Reason: "signed out by Revoke: no tokens until SetTokens", Err: ErrNoRefreshToken}
	var revoked string // the refresh token revoked, never to be sent again
	defer func() {
		if p := recover(); p != nil {
			err = newPanicError(p)
		}
		s.mu.Lock()
		s.lastErr, s.failures, s.retryAt, s.deadRT, s.final = signedOut, 1, s.now().Add(minBackoff), revoked, true
		s.flight = nil
		s.running.Store(false)
		f.err = signedOut
		s.mu.Unlock()
		defer close(f.done)
		defer func() { _ = recover() }() // a panicking logger: the error is set already
		if err != nil {
			s.log(ctx, slog.LevelWarn, "refresh: signed out, but revoking or clearing the store failed", slog.String("error", err.Error()))
		} else {
			s.log(ctx, slog.LevelInfo, "refresh: signed out")
		}
	}()
	revoked, err = s.signOut(ctx, ours)
	return err
}

// signOut revokes the newest of ours and the stored tokens and clears the
// Store, under the lease of a SharedStore. It returns the refresh token it
// revoked, or tried to.
func (s *Source) signOut(ctx context.Context, ours *Tokens) (revoked string, err error) {
	var errs []error // every failure; the last deferred call, run last, returns them
	defer func() {
		if len(errs) == 1 {
			err = errs[0] // as it is, for errors.As and a type switch alike
		} else {
			err = errors.Join(errs...)
		}
	}()
	st := s.store // what is loaded and cleared: the Store, or the lease on it
	if shared, ok := s.store.(SharedStore); ok {
		// The lease outlives the work done under it, which ends with the
		// refresh timeout. Without the lease, the Store is cleared unfenced,
		// as SetTokens writes it.
		l, err := acquire(ctx, shared, s.leaseTTL())
		if err != nil {
			s.storeFailed(err)
			errs = append(errs, err)
		} else {
			st = l
			defer func() { // even after the work's timeout
				if err := releaseLease(l); err != nil {
					s.storeFailed(err)
					errs = append(errs, err)
				}
			}()
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.timeout)
			defer cancel()
		}
	}
	tok := ours
	if s.store != nil {
		stored, err := s.load(ctx, st)
		if err != nil {
			errs = append(errs, err)
		}
		if stored != nil && (tok == nil || newer(stored, tok)) {
			tok = stored
		}
	}
	if tok != nil {
		var err error
		switch {
		case tok.RefreshToken != "":
			revoked = tok.RefreshToken
			err = s.client.Revoke(ctx, tok.RefreshToken, "refresh_token")
		case tok.AccessToken != "":
			err = s.client.Revoke(ctx, tok.AccessToken, "access_token")
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.save(ctx, st, nil); err != nil {
		errs = append(errs, err)
	}
	return revoked, nil
}
