package refresh

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Store keeps tokens across restarts and across the replicas of a service. A
// [Source] calls Load before each refresh, to pick up tokens that another process
// rotated, and Save with every new set of tokens before any caller sees them.
// Implementations must be safe for concurrent use; the tokens passed to Save must
// not be modified. A Store's errors reach [StoreError] texts and the Source's log
// lines as they are: keep tokens out of them.
type Store interface {
	// Load returns the stored tokens, or nil, nil when nothing is stored.
	Load(ctx context.Context) (*Tokens, error)
	// Save stores t, replacing what was stored.
	Save(ctx context.Context, t *Tokens) error
}

// SharedStore is a [Store] that several processes (the replicas of a service)
// share for one grant. A [Source] given one never lets two of them present the
// same refresh token: before it refreshes it takes the grant's lease with
// Acquire, loads the tokens again under the lease (and uses them, sending
// nothing, when another replica has saved fresh ones), refreshes with a deadline
// inside the lease's TTL, saves through the lease, and releases it.
//
// Implementations must keep these rules, which the redisstore and pgstore
// packages and [MemoryStore] follow:
//   - one lease at a time per grant, held by its owner until Release or until its
//     TTL has passed;
//   - Acquire waits while another owner holds the lease, and is woken when that
//     owner saves or releases (or its TTL passes), never by polling at a fixed
//     interval; it returns ctx's error when ctx ends first;
//   - every write is fenced: [Lease.Save] is a compare-and-swap on a version that
//     each write increments, so an owner whose lease has lapsed can never replace
//     tokens written after its [Lease.Load];
//   - errors, and the texts of errors, hold no token.
//
// Load and Save of the Store interface stay available without a lease (Save
// increments the version too, so that it fences out a lease holder).
//
// A Lease.Save before any Lease.Load succeeds only when nothing was stored
// when the lease was taken and nothing has been written since. The storetest
// package of this repository (internal/storetest) checks every rule above
// against a store; its cases are the checklist for a store of your own.
type SharedStore interface {
	Store
	// Acquire takes the grant's lease for ttl, waiting while another owner holds
	// it, until ctx ends.
	Acquire(ctx context.Context, ttl time.Duration) (Lease, error)
}

// Lease is a held lease on a [SharedStore]'s grant. It is used by one goroutine
// at a time, for the span of one refresh.
type Lease interface {
	// Load returns the stored tokens, or nil, nil when none are stored, and
	// remembers their version for Save.
	Load(ctx context.Context) (*Tokens, error)
	// Save stores t, or clears the stored tokens when t is nil, if the stored
	// version is still the one the last Load saw (for a Save without a Load: if
	// nothing was stored when the lease was taken). Otherwise it stores nothing
	// and returns an error that wraps [ErrVersionConflict].
	Save(ctx context.Context, t *Tokens) error
	// Release frees the lease and wakes the owners waiting for it. After the TTL
	// has passed it frees nothing another owner holds.
	Release(ctx context.Context) error
}

// StoreFunc adapts a save callback to a [Store] whose Load finds nothing: the
// Source hands it every new set of tokens, and starts from the tokens given to
// [NewSource].
type StoreFunc func(ctx context.Context, t *Tokens) error

// Load returns nil, nil: a StoreFunc only saves.
func (f StoreFunc) Load(context.Context) (*Tokens, error) { return nil, nil }

// Save calls f(ctx, t).
func (f StoreFunc) Save(ctx context.Context, t *Tokens) error { return f(ctx, t) }

// MemoryStore is a [SharedStore] in memory, for tests and for sharing tokens
// between Sources of one process: Sources that share one MemoryStore never
// present one refresh token twice. The zero value is empty and ready to use; it
// is safe for concurrent use. Load and Save copy the Tokens value, so later
// changes to a loaded or saved value do not reach the store.
//
// Its lease lives in the process: Acquire waits on a channel that Release
// closes (or until the holder's TTL passes), and every write, a plain Save
// included, increments the version that [Lease.Save] compares.
type MemoryStore struct {
	mu      sync.Mutex
	t       *Tokens
	version uint64        // incremented by every write
	holder  *memoryLease  // the lease's owner, or nil; it may have lapsed
	freed   chan struct{} // closed when holder releases; nil when nobody waits
}

// NewMemoryStore returns a MemoryStore holding a copy of t (empty when t is nil).
func NewMemoryStore(t *Tokens) *MemoryStore {
	return &MemoryStore{t: copyTokens(t)}
}

// Load returns a copy of the stored tokens, or nil, nil when none are stored.
func (s *MemoryStore) Load(context.Context) (*Tokens, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyTokens(s.t), nil
}

// Save stores a copy of t; a nil t empties the store. It fences out a lease
// holder that loaded before it.
func (s *MemoryStore) Save(_ context.Context, t *Tokens) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t = copyTokens(t)
	s.version++
	return nil
}

// Acquire takes the store's lease for ttl, waiting while another owner holds it
// until that owner releases it, its TTL passes, or ctx ends; then the error
// wraps ctx's. A nil ctx or a ttl that is not positive is a [*ConfigError].
func (s *MemoryStore) Acquire(ctx context.Context, ttl time.Duration) (Lease, error) {
	if ctx == nil {
		return nil, &ConfigError{Field: "ctx", Reason: "nil Context"}
	}
	if ttl <= 0 {
		return nil, &ConfigError{Field: "ttl", Reason: "the lease TTL must be positive"}
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("refresh: MemoryStore: waiting for the lease: %w", context.Cause(ctx))
		}
		s.mu.Lock()
		now := time.Now()
		if s.holder == nil || !now.Before(s.holder.until) {
			l := &memoryLease{s: s, until: now.Add(ttl), seen: noVersion}
			if s.t == nil {
				l.seen = s.version
			}
			s.holder = l
			s.mu.Unlock()
			return l, nil
		}
		if s.freed == nil {
			s.freed = make(chan struct{})
		}
		freed, lapse := s.freed, time.NewTimer(s.holder.until.Sub(now))
		s.mu.Unlock()
		select {
		case <-freed:
		case <-lapse.C:
		case <-ctx.Done():
		}
		lapse.Stop()
	}
}

// noVersion is a lease's version before it has loaded anything, when tokens
// were stored as it was taken: no stored version matches it.
const noVersion = ^uint64(0)

// memoryLease is a MemoryStore's lease. seen is guarded by the store's mu.
type memoryLease struct {
	s     *MemoryStore
	until time.Time // its TTL passes here
	seen  uint64    // the version its last Load saw
}

func (l *memoryLease) Load(context.Context) (*Tokens, error) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	l.seen = l.s.version
	return copyTokens(l.s.t), nil
}

func (l *memoryLease) Save(_ context.Context, t *Tokens) error {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.version != l.seen {
		return fmt.Errorf("refresh: MemoryStore: %w", ErrVersionConflict)
	}
	l.s.t = copyTokens(t)
	l.s.version++
	l.seen = l.s.version
	return nil
}

func (l *memoryLease) Release(context.Context) error {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.holder != l {
		return nil // lapsed, and taken by another owner since
	}
	l.s.holder = nil
	if l.s.freed != nil {
		close(l.s.freed)
		l.s.freed = nil
	}
	return nil
}

// copyTokens copies t and its Scopes; nil stays nil.
func copyTokens(t *Tokens) *Tokens {
	if t == nil {
		return nil
	}
	c := *t
	c.Scopes = slices.Clone(t.Scopes)
	return &c
}

// describe gives the stored Tokens as they describe themselves.
func (s *MemoryStore) describe() (string, []printField) {
	if s == nil {
		return "refresh.MemoryStore(nil)", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var t any = word("nil")
	if s.t != nil {
		t = *s.t
	}
	return "refresh.MemoryStore", printFields{{"Tokens", t}}
}

// String describes the stored tokens without any token, as Tokens.String does.
func (s *MemoryStore) String() string { return render(s) }

// Format writes String for every verb (%q quotes it), so that no verb prints a
// token.
func (s *MemoryStore) Format(f fmt.State, verb rune) { formatText(f, verb, s.String()) }

// LogValue gives slog what String shows, as a group.
func (s *MemoryStore) LogValue() slog.Value { return logValue(s) }
