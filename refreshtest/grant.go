package refreshtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"
)

// grant is what a user's sign-in created: the family of every refresh and
// access token issued from one initial refresh token.
type grant struct {
	clientID string
	scopes   []string
	current  string // the newest refresh token of the family
	revoked  bool
}

type refreshToken struct {
	g         *grant
	expiresAt time.Time // zero: never
	spentAt   time.Time // zero: not rotated yet
}

type accessToken struct {
	g         *grant
	scopes    []string
	expiresAt time.Time // zero: never
	revoked   bool
}

// newToken returns an opaque random token: prefix, "_", 32 hex digits.
func newToken(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return prefix + "_" + hex.EncodeToString(b)
}

// IssueRefreshToken mints a refresh token for clientID with the given scopes,
// as a user's sign-in would, and returns it. It starts a new grant: reuse
// detection revokes grants, never more. The client need not be registered yet,
// but until it is, the token endpoint answers invalid_client for it. The
// scopes are the grant's: a refresh may ask for a subset of them.
func (s *Server) IssueRefreshToken(clientID string, scopes ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &grant{clientID: clientID, scopes: slices.Clone(scopes)}
	s.grants = append(s.grants, g)
	return s.newRefreshLocked(g, s.now())
}

func (s *Server) newRefreshLocked(g *grant, now time.Time) string {
	rt := newToken("rt")
	t := &refreshToken{g: g}
	if s.refreshLifetime > 0 {
		t.expiresAt = now.Add(s.refreshLifetime)
	}
	s.refresh[rt] = t
	g.current = rt
	return rt
}

func (s *Server) newAccessLocked(g *grant, scopes []string, now time.Time) string {
	at := newToken("at")
	t := &accessToken{g: g, scopes: scopes}
	if s.accessLifetime > 0 {
		t.expiresAt = now.Add(s.accessLifetime)
	}
	s.access[at] = t
	return at
}

// TokenState is what the server knows of a token: see [Server.State].
type TokenState int

const (
	// Unknown: the server never issued the token.
	Unknown TokenState = iota
	// Active: the token is valid now.
	Active
	// Spent: a refresh token that was rotated; using it again is reuse.
	Spent
	// Expired: the token's lifetime is over.
	Expired
	// Revoked: the token, or its whole grant, was revoked (by [Server.Revoke]
	// or by reuse detection).
	Revoked
)

// String returns the constant's name.
func (st TokenState) String() string {
	switch st {
	case Unknown:
		return "Unknown"
	case Active:
		return "Active"
	case Spent:
		return "Spent"
	case Expired:
		return "Expired"
	case Revoked:
		return "Revoked"
	}
	return fmt.Sprintf("TokenState(%d)", int(st))
}

// State reports what the server knows of token, a refresh or access token it
// issued, on its clock now. Revoked wins over Spent, and Spent over Expired.
func (s *Server) State(token string) TokenState {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if t, ok := s.refresh[token]; ok {
		switch {
		case t.g.revoked:
			return Revoked
		case !t.spentAt.IsZero():
			return Spent
		case expired(t.expiresAt, now):
			return Expired
		}
		return Active
	}
	if t, ok := s.access[token]; ok {
		switch {
		case t.revoked || t.g.revoked:
			return Revoked
		case expired(t.expiresAt, now):
			return Expired
		}
		return Active
	}
	return Unknown
}

// Revoke revokes token and reports whether the server knew it. Revoking a
// refresh token revokes its whole grant, every refresh and access token issued
// from it (RFC 7009 §2.1); revoking an access token revokes only that one, so
// that the resource rejects it and a client has to refresh.
func (s *Server) Revoke(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.refresh[token]; ok {
		t.g.revoked = true
		return true
	}
	if t, ok := s.access[token]; ok {
		t.revoked = true
		return true
	}
	return false
}

func expired(at, now time.Time) bool { return !at.IsZero() && !now.Before(at) }

// Clock is a clock that a test sets and advances by hand, for [WithClock] and
// for the clock of the code under test (refresh.Client.Now). The zero Clock
// reads the zero time. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (back, if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
