package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// The grant manager: one Source per grant key, made on first use from the
// key's Grant, forgotten when idle. Names: a "grant" is one user's (or
// tenant's) authorisation, a refresh token and what it was issued for; its
// "key" is the string the service names it by; the Manager is what holds the
// Sources of many of them, as Duende.AccessTokenManagement's user token
// management does in .NET.

// DefaultIdleLimit is how long a grant's Source stays in a [Manager] without
// being used when no [WithIdleLimit] option is given.
const DefaultIdleLimit = 15 * time.Minute

// ErrNoGrantKey is matched (errors.Is) by the error of a [ManagerTransport]
// request whose context carries no grant key, and of any [Manager] call given
// an empty key. Such a request is never sent.
var ErrNoGrantKey = errors.New("refresh: no grant key")

// Grant is what a [Manager] needs to make the [Source] of one grant key: where
// its tokens live, and how its refreshes are made.
type Grant struct {
	// Store holds the key's tokens: a redisstore or pgstore per key, or a
	// MemoryStore. Required. The Manager loads from it when it makes the
	// key's Source again after evicting it, so Load must return what Save
	// stored (a StoreFunc, which loads nothing, loses the grant on eviction).
	Store Store
	// Options configure the key's Source: WithRequestOptions (scopes, an RFC
	// 8707 resource, extra parameters), WithLeeway, WithLogger. A WithStore
	// among them is overridden by Store.
	Options []SourceOption
}

// ManagerOption configures a [Manager]; see [NewManager].
type ManagerOption func(*managerOptions)

type managerOptions struct {
	idle time.Duration
	err  error
}

// WithIdleLimit sets how long a grant's Source may go unused before the
// Manager evicts it (default [DefaultIdleLimit]). A d that is not positive
// makes NewManager return a [*ConfigError].
func WithIdleLimit(d time.Duration) ManagerOption {
	return func(o *managerOptions) {
		if d <= 0 {
			o.err = &ConfigError{Field: "WithIdleLimit", Reason: "the idle limit must be positive"}
			return
		}
		o.idle = d
	}
}

// Manager holds the [Source] of each of many grants, such as the users of a
// service that calls an API on their behalf, by a key the service chooses
// (a user ID, a tenant). It makes a key's Source on its first use, from the
// [Grant] that the function given to [NewManager] returns for the key, and
// concurrent first uses of one key make one Source, so that a grant is never
// refreshed twice at once.
//
// The key is the grant's whole identity: the Grant's Options, request options
// included, belong to its key, so two keys never share a Source or a token,
// and one key always refreshes with the same parameters. To send one user's
// requests with two sets of request options (two resources, narrower scopes),
// give them two keys ("alice", "alice/read-only") with a Grant each; a token
// obtained for one is never handed to the other. Each key holds its own
// refresh token: when the server rotates refresh tokens, two keys must not
// start from one.
//
// A Source left unused for the idle limit ([WithIdleLimit]) is evicted: the
// Manager forgets it and keeps nothing of it, and the key's next use makes a
// new Source, which loads the tokens from the key's Store. Eviction runs
// lazily, in the call that finds the last sweep an idle limit ago, so a
// Source goes within twice the limit after its last use; no goroutine runs
// for it and there is nothing to close. A Source is never evicted while a
// call uses it, while a refresh or store write of its own is under way, or
// while it holds tokens the Store has not taken yet (a failed save): those
// stay until they are saved. The clock is the Client's (Client.Now).
//
// A sweep holds the Manager's lock while it visits every Source held, so the
// calls of that moment wait for it: tens of milliseconds for 100,000 Sources
// on a small machine (BenchmarkManagerMemory in bench/, sweep-ns). A grant
// whose refresh token the server refused for good (invalid_grant) is evicted
// too: its new Source presents the stored refresh token once more and is
// refused again.
//
// The Manager hands out no Source: a request goes through [ManagerTransport],
// which finds the key in the request's context ([WithGrantKey]), and the
// other calls take the key. A Manager is safe for concurrent use. Create it
// with [NewManager].
type Manager struct {
	client *Client
	grants func(key string) (Grant, error)
	idle   time.Duration

	mu     sync.Mutex               // guards the fields below
	active map[string]*managedGrant // the Sources in memory, by key
	swept  time.Time                // when active was last swept of idle Sources
}

// managedGrant is one key's place in a Manager. users and lastUsed are
// guarded by Manager.mu; src and err are written once, by the call that made
// the entry, before it closes ready, and read only after ready is closed.
type managedGrant struct {
	ready    chan struct{} // closed when the Source is made or failed
	src      *Source
	err      error
	users    int       // calls using src now
	lastUsed time.Time // when the last of them started
}

// NewManager returns a Manager that refreshes the grants through c, making
// the Source of a key from grants(key). It makes no request and does not call
// grants. A nil c or grants, or a bad option, is a [*ConfigError].
//
// grants must return the same Grant for a key each time it is called: it is
// called again when a key comes back after eviction. It is called for one key
// at a time, and concurrently for different keys. An error or a panic in
// it fails the call that needed the key, as a [*StoreError] with Op "open",
// and the key's next use calls it again.
func NewManager(c *Client, grants func(key string) (Grant, error), opts ...ManagerOption) (*Manager, error) {
	switch {
	case c == nil:
		return nil, &ConfigError{Field: "Client", Reason: "nil *Client"}
	case grants == nil:
		return nil, &ConfigError{Field: "grants", Reason: "nil func: the Manager needs a Grant for each key"}
	}
	o := managerOptions{idle: DefaultIdleLimit}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.err != nil {
		return nil, o.err
	}
	return &Manager{client: c, grants: grants, idle: o.idle, active: map[string]*managedGrant{}, swept: c.now()}, nil
}

// grantKey keys the grant key in a context.
type grantKey struct{}

// WithGrantKey returns a copy of ctx that names the grant whose token
// [ManagerTransport] puts on a request made with it:
//
//	req, err := http.NewRequestWithContext(refresh.WithGrantKey(ctx, userID), "GET", url, nil)
func WithGrantKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, grantKey{}, key)
}

// GrantKeyFrom returns the grant key that [WithGrantKey] put in ctx, and
// whether there is one.
func GrantKeyFrom(ctx context.Context) (string, bool) {
	key, ok := ctx.Value(grantKey{}).(string)
	return key, ok
}

// use returns the managed grant of key, making its Source on first use, and
// counts the caller as its user until done. It sweeps idle Sources first
// when the last sweep is an idle limit ago.
func (m *Manager) use(ctx context.Context, key string) (*managedGrant, error) {
	switch {
	case m == nil:
		return nil, &ConfigError{Field: "Manager", Reason: "nil"}
	case ctx == nil:
		return nil, &ConfigError{Field: "ctx", Reason: "nil Context"}
	case key == "":
		return nil, &ConfigError{Field: "key", Reason: "empty grant key", Err: ErrNoGrantKey}
	}
	m.mu.Lock()
	now := m.client.now()
	if now.Sub(m.swept) >= m.idle {
		m.sweepLocked(now)
	}
	g := m.active[key]
	made := g == nil
	if made {
		g = &managedGrant{ready: make(chan struct{})}
		m.active[key] = g
	}
	g.users++
	g.lastUsed = now
	m.mu.Unlock()
	if made {
		g.src, g.err = m.newSource(key)
		if g.err != nil {
			m.mu.Lock()
			if m.active[key] == g {
				delete(m.active, key) // the next use tries again
			}
			m.mu.Unlock()
		}
		close(g.ready)
	}
	select {
	case <-g.ready:
	default:
		select {
		case <-g.ready:
		case <-ctx.Done():
			m.done(g)
			return nil, fmt.Errorf("refresh: waiting for the grant's Source: %w", context.Cause(ctx))
		}
	}
	if g.err != nil {
		m.done(g)
		return nil, g.err
	}
	return g, nil
}

// done ends a use of g that [Manager.use] counted. It does not read the
// clock (a clock read costs more than the rest of the Manager's hot path on
// some machines): idle time counts from when the last use started, and no
// use is evicted while it lasts.
func (m *Manager) done(g *managedGrant) {
	m.mu.Lock()
	g.users--
	m.mu.Unlock()
}

// newSource makes the Source of key from its Grant, turning an error or a
// panic of m.grants into a *StoreError.
func (m *Manager) newSource(key string) (src *Source, err error) {
	defer func() {
		if p := recover(); p != nil {
			src, err = nil, &StoreError{Op: "open", Err: newPanicError(p)}
		}
	}()
	g, err := m.grants(key)
	switch {
	case err != nil:
		return nil, &StoreError{Op: "open", Err: err}
	case g.Store == nil:
		return nil, &ConfigError{Field: "Grant.Store", Reason: "nil: the Manager needs the key's Store to evict its Source"}
	}
	opts := append(g.Options[:len(g.Options):len(g.Options)], WithStore(g.Store))
	return NewSource(m.client, nil, opts...), nil
}

// sweepLocked evicts the Sources idle since before now minus the idle limit
// that may go (see [Manager]). It copies the others into a new map: a Go map
// never shrinks, and the old one, with the room of every evicted key, is
// then garbage. m.mu is held.
func (m *Manager) sweepLocked(now time.Time) {
	m.swept = now
	keep := map[string]*managedGrant{}
	for key, g := range m.active {
		if g.users > 0 || now.Sub(g.lastUsed) < m.idle || !g.src.settled() {
			keep[key] = g
		}
	}
	m.active = keep
}

// settled reports whether s has nothing under way and nothing unsaved, so
// that a new Source loading from the same Store would start where s is.
// Without users (the Manager's lock is held), nothing can start a run.
func (s *Source) settled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur.Load()
	return s.flight == nil && (c == nil || !c.unsaved)
}

// Len returns the number of grants whose Source the Manager holds now: those
// in use or used within the idle limit, and the idle ones not yet swept or
// kept for their unsaved tokens.
func (m *Manager) Len() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.active)
}

// Token returns a valid access token for the grant key, as [Source.Token]
// does, making the key's Source on first use. An empty key is a
// [*ConfigError] that matches [ErrNoGrantKey].
func (m *Manager) Token(ctx context.Context, key string) (*Tokens, error) {
	g, err := m.use(ctx, key)
	if err != nil {
		return nil, err
	}
	defer m.done(g)
	return g.src.Token(ctx)
}

// Put stores the tokens of a grant, for example those of your
// authorization-code exchange when a user signs in, and uses them for key from
// now on, as [Source.SetTokens] does: saved to the key's Store, any earlier
// failure of the key cleared.
func (m *Manager) Put(ctx context.Context, key string, t *Tokens) error {
	g, err := m.use(ctx, key)
	if err != nil {
		return err
	}
	defer m.done(g)
	return g.src.SetTokens(ctx, t)
}

// Revoke signs the grant key out with [Source.Revoke] (RFC 7009 at the
// server, then the key's Store cleared) and forgets its Source, even when
// Revoke returns an error; the key's next use makes a new one, which finds
// the Store empty until [Manager.Put] fills it again.
func (m *Manager) Revoke(ctx context.Context, key string) error {
	g, err := m.use(ctx, key)
	if err != nil {
		return err
	}
	err = g.src.Revoke(ctx)
	m.mu.Lock()
	if m.active[key] == g {
		delete(m.active, key)
	}
	m.mu.Unlock()
	m.done(g)
	return err
}

// ManagerTransport is an [http.RoundTripper] that sends each request with the
// token of the grant whose key the request's context carries
// ([WithGrantKey]), through a [Transport] over that key's [Source]: the same
// header, redirect, 401 and DPoP rules. A request without a key, or with an
// empty one, is not sent: its error is a [*ConfigError] that matches
// [ErrNoGrantKey]. A ManagerTransport is safe for concurrent use.
//
//	hc := &http.Client{Transport: &refresh.ManagerTransport{Manager: m}}
//	req, _ := http.NewRequestWithContext(refresh.WithGrantKey(ctx, userID), "GET", url, nil)
//	resp, err := hc.Do(req)
type ManagerTransport struct {
	// Manager holds the grants. Required.
	Manager *Manager
	// Base sends the requests. Nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip authorises req with the token of the grant named by its context
// and sends it, as described on [ManagerTransport].
func (t *ManagerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key, ok := GrantKeyFrom(req.Context())
	if !ok {
		closeBody(req)
		return nil, &ConfigError{Field: "grant key", Reason: "the request's context names no grant: use refresh.WithGrantKey", Err: ErrNoGrantKey}
	}
	if t.Manager == nil {
		closeBody(req)
		return nil, &ConfigError{Field: "ManagerTransport.Manager", Reason: "nil"}
	}
	g, err := t.Manager.use(req.Context(), key)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	defer t.Manager.done(g)
	tr := Transport{Source: g.src, Base: t.Base}
	return tr.RoundTrip(req)
}

// describe gives the Manager's Client and idle limit; keys name users, so
// they are not shown.
func (m *Manager) describe() (string, []printField) {
	if m == nil {
		return "refresh.Manager(nil)", nil
	}
	return "refresh.Manager", printFields{{"Client", m.client}, {"IdleLimit", m.idle}}
}

// String describes the Manager without secrets or keys.
func (m *Manager) String() string { return render(m) }

// Format writes String for every verb (%q quotes it), so that no verb prints a
// token.
func (m *Manager) Format(f fmt.State, verb rune) { formatText(f, verb, m.String()) }

// LogValue gives slog what String shows, as a group.
func (m *Manager) LogValue() slog.Value { return logValue(m) }
