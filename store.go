package refresh

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
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

// StoreFunc adapts a save callback to a [Store] whose Load finds nothing: the
// Source hands it every new set of tokens, and starts from the tokens given to
// [NewSource].
type StoreFunc func(ctx context.Context, t *Tokens) error

// Load returns nil, nil: a StoreFunc only saves.
func (f StoreFunc) Load(context.Context) (*Tokens, error) { return nil, nil }

// Save calls f(ctx, t).
func (f StoreFunc) Save(ctx context.Context, t *Tokens) error { return f(ctx, t) }

// MemoryStore is a [Store] in memory, for tests and for sharing tokens between
// Sources of one process. The zero value is empty and ready to use; it is safe for
// concurrent use. Load and Save copy the Tokens value, so later changes to a
// loaded or saved value do not reach the store.
type MemoryStore struct {
	mu sync.Mutex
	t  *Tokens
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

// Save stores a copy of t; a nil t empties the store.
func (s *MemoryStore) Save(_ context.Context, t *Tokens) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t = copyTokens(t)
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
