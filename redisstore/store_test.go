package redisstore_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/redisstore"
)

// The secrets of these tests, which no error text or rendering may show.
const (
	secretAccess  = "AT-SECRET-3e9d0c1b"
	secretRefresh = "RT-SECRET-77a1f0e2"
	secretID      = "IDT-SECRET-5b6c7d8e"
	secretExtra   = "EXTRA-SECRET-0f1e2d"
)

// fullTokens is a Tokens with every field and an extra field, built from the
// storage encoding.
func fullTokens(t testing.TB) *refresh.Tokens {
	t.Helper()
	const stored = `{"access_token":"` + secretAccess + `","token_type":"Bearer",` +
		`"refresh_token":"` + secretRefresh + `","expires_at":"2026-03-14T16:09:26.5Z",` +
		`"refresh_token_expires_at":"2026-09-14T16:09:26Z","scope":"openid email",` +
		`"id_token":"` + secretID + `","issued_at":"2026-03-14T15:09:26Z",` +
		`"extra":{"instance_url":"https://example.com","n":3,"secret":"` + secretExtra + `"}}`
	tok := new(refresh.Tokens)
	if err := json.Unmarshal([]byte(stored), tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

// diffTokens compares two Tokens, extra fields included.
func diffTokens(want, got *refresh.Tokens) string {
	if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(refresh.Tokens{})); d != "" {
		return d
	}
	if want == nil || got == nil {
		return ""
	}
	return cmp.Diff(want.Fields(), got.Fields())
}

// newStore returns a store of a new grant on srv.
func newStore(t testing.TB, rdb redis.UniversalClient, opts ...redisstore.Option) *redisstore.Store {
	return redisstore.New(rdb, "grant-"+t.Name(), opts...)
}

// noSecret fails t when err's text shows a token.
func noSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{secretAccess, secretRefresh, secretID, secretExtra} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error shows a token: %v", err)
		}
	}
}

func TestStoreLoadSave(t *testing.T) {
	rdb := startRedis(t).Client(t)
	ctx := t.Context()
	s := newStore(t, rdb)
	got, err := s.Load(ctx)
	if err != nil || got != nil {
		t.Fatalf("Load of a new grant = %v, %v; want nil, nil", got, err)
	}
	want := fullTokens(t)
	if err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	// Another Store of the same grant, as another replica holds.
	got, err = redisstore.New(rdb, "grant-"+t.Name()).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffTokens(want, got); d != "" {
		t.Errorf("Load after Save (-want +got):\n%s", d)
	}
	other, err := redisstore.New(rdb, "another-grant").Load(ctx)
	if err != nil || other != nil {
		t.Errorf("another grant's Load = %v, %v; want nil, nil", other, err)
	}
	if err := s.Save(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx); err != nil || got != nil {
		t.Errorf("Load after Save(nil) = %v, %v; want nil, nil", got, err)
	}
}

// TestStoreKeys checks the Redis keys: one hash tag for both, so that a
// Cluster keeps them in one slot, and the lease's TTL.
func TestStoreKeys(t *testing.T) {
	rdb := startRedis(t).Client(t)
	ctx := t.Context()
	s := redisstore.New(rdb, "user:42")
	if err := s.Save(ctx, fullTokens(t)); err != nil {
		t.Fatal(err)
	}
	l, err := s.Acquire(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"refresh:{user:42}:lease", "refresh:{user:42}:tokens"}, keys, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("keys (-want +got):\n%s", d)
	}
	if ttl := rdb.PTTL(ctx, "refresh:{user:42}:lease").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("the lease's PTTL is %v; want at most the minute asked for", ttl)
	}
	if ttl := rdb.PTTL(ctx, "refresh:{user:42}:tokens").Val(); ttl != -1 {
		t.Errorf("the tokens' PTTL is %v; want none (-1)", ttl)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, "refresh:{user:42}:lease").Val(); n != 0 {
		t.Error("the lease key remains after Release")
	}
}

func TestStoreLease(t *testing.T) {
	rdb := startRedis(t).Client(t)
	ctx := t.Context()

	t.Run("a second Acquire waits until Release and is woken by it", func(t *testing.T) {
		s := newStore(t, rdb)
		l1, err := s.Acquire(ctx, time.Hour) // a TTL that cannot pass during the test
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			l2, err := s.Acquire(ctx, time.Hour)
			if err == nil {
				err = l2.Release(ctx)
			}
			got <- err
		}()
		// The waiter is subscribed once the channel has a subscriber.
		waitSubscribed(t, rdb, "refresh:{grant-"+t.Name()+"}:wake")
		select {
		case err := <-got:
			t.Fatalf("the second Acquire returned (%v) while the first lease is held", err)
		default:
		}
		if err := l1.Release(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second): // a bound on failure only
			t.Fatal("the waiting Acquire was not woken by Release")
		}
	})

	t.Run("an Acquire after the TTL has passed takes the lease, and the old owner's Release frees nothing", func(t *testing.T) {
		s := newStore(t, rdb)
		old, err := s.Acquire(ctx, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Acquire(ctx, time.Hour) // woken by the holder's PTTL
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Release(ctx); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := s.Acquire(short, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Acquire after the lapsed owner's Release = %v; want the new owner to hold it (DeadlineExceeded)", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a waiting Acquire does not poll: it tries once more after subscribing, and then only when woken", func(t *testing.T) {
		s := newStore(t, rdb)
		l, err := s.Acquire(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		before := scriptCalls(t, rdb)
		wait, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if _, err := s.Acquire(wait, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire = %v; want DeadlineExceeded", err)
		}
		if n := scriptCalls(t, rdb) - before; n != 2 {
			t.Errorf("the waiting Acquire ran %d scripts; want 2 (before and after subscribing)", n)
		}
	})

	t.Run("Acquire returns ctx's error when ctx ends", func(t *testing.T) {
		s := newStore(t, rdb)
		l, err := s.Acquire(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			waitSubscribed(t, rdb, "refresh:{grant-"+t.Name()+"}:wake")
			cancel()
		}()
		if _, err := s.Acquire(cctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Errorf("Acquire = %v; want context.Canceled", err)
		}
	})
}

// waitSubscribed returns once channel has a subscriber.
func waitSubscribed(t testing.TB, rdb *redis.Client, channel string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a bound on failure only
	for time.Now().Before(deadline) {
		n, err := rdb.PubSubNumSub(t.Context(), channel).Result()
		if err != nil {
			t.Error(err)
			return
		}
		if n[channel] > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Error("nobody subscribed to " + channel)
}

func TestStoreFencing(t *testing.T) {
	rdb := startRedis(t).Client(t)
	ctx := t.Context()
	tok := fullTokens(t)
	newer := fullTokens(t)
	newer.AccessToken = "newer"

	tests := []struct {
		name    string
		initial *refresh.Tokens // stored before the lease is taken
		// before runs with the lease held, after its Load (when load is set).
		before   func(s *redisstore.Store) error
		load     bool
		wantErr  error
		wantLast *refresh.Tokens // what Load returns at the end
	}{
		{name: "Lease.Save after Load stores", load: true, wantLast: tok},
		{name: "Lease.Save without Load of an empty grant stores", wantLast: tok},
		{
			name:    "Lease.Save without Load of a stored grant is a conflict",
			initial: newer, wantErr: refresh.ErrVersionConflict, wantLast: newer,
		},
		{
			name:    "Lease.Save after another write is a conflict and stores nothing",
			before:  func(s *redisstore.Store) error { return s.Save(ctx, newer) },
			load:    true,
			wantErr: refresh.ErrVersionConflict, wantLast: newer,
		},
		{
			name:    "plain Save(nil) fences out a lease holder too",
			before:  func(s *redisstore.Store) error { return s.Save(ctx, nil) },
			load:    true,
			wantErr: refresh.ErrVersionConflict, wantLast: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, rdb)
			if tc.initial != nil {
				if err := s.Save(ctx, tc.initial); err != nil {
					t.Fatal(err)
				}
			}
			l, err := s.Acquire(ctx, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release(ctx)
			if tc.load {
				if _, err := l.Load(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if tc.before != nil {
				if err := tc.before(s); err != nil {
					t.Fatal(err)
				}
			}
			err = l.Save(ctx, tok)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("Lease.Save = %v; want %v", err, tc.wantErr)
			}
			noSecret(t, err)
			got, err := s.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffTokens(tc.wantLast, got); d != "" {
				t.Errorf("stored (-want +got):\n%s", d)
			}
		})
	}

	t.Run("Lease.Save(nil) clears, and a second Save in the lease follows the first", func(t *testing.T) {
		s := newStore(t, rdb)
		if err := s.Save(ctx, tok); err != nil {
			t.Fatal(err)
		}
		l, err := s.Acquire(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		if _, err := l.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.Save(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Load(ctx); err != nil || got != nil {
			t.Errorf("Load after Lease.Save(nil) = %v, %v; want nil, nil", got, err)
		}
		if err := l.Save(ctx, newer); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffTokens(newer, got); d != "" {
			t.Errorf("stored (-want +got):\n%s", d)
		}
	})

	t.Run("a lapsed holder's Save is a conflict once the next holder wrote", func(t *testing.T) {
		s := newStore(t, rdb)
		old, err := s.Acquire(ctx, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.Load(ctx); err != nil {
			t.Fatal(err)
		}
		l, err := s.Acquire(ctx, time.Hour) // after the old TTL
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.Save(ctx, newer); err != nil {
			t.Fatal(err)
		}
		if err := old.Save(ctx, tok); !errors.Is(err, refresh.ErrVersionConflict) {
			t.Errorf("the lapsed holder's Save = %v; want ErrVersionConflict", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Load(ctx)
		if d := diffTokens(newer, got); d != "" {
			t.Errorf("stored (-want +got):\n%s", d)
		}
	})
}

func TestStoreBadInput(t *testing.T) {
	rdb := startRedis(t).Client(t)
	aead := newAEAD(t, 1)
	tests := []struct {
		name      string
		store     *redisstore.Store
		wantField string
	}{
		{"a nil client", redisstore.New(nil, "g"), "redisstore.New rdb"},
		{"an empty key", redisstore.New(rdb, ""), "redisstore.New key"},
		{"a key that would empty the hash tag", redisstore.New(rdb, "}user"), "redisstore.New key"},
		{"an empty key ID", redisstore.New(rdb, "g", redisstore.WithAEAD("", aead)), "redisstore.WithAEAD"},
		{"a nil AEAD", redisstore.New(rdb, "g", redisstore.WithOldKey("k", nil)), "redisstore.WithOldKey"},
		{"a key ID given twice", redisstore.New(rdb, "g", redisstore.WithAEAD("k", aead), redisstore.WithOldKey("k", aead)), "redisstore.WithOldKey"},
		{"two sealing keys", redisstore.New(rdb, "g", redisstore.WithAEAD("k1", aead), redisstore.WithAEAD("k2", aead)), "redisstore.WithAEAD"},
	}
	for _, tc := range tests {
		t.Run(tc.name+" is a ConfigError naming it", func(t *testing.T) {
			ctx := t.Context()
			_, loadErr := tc.store.Load(ctx)
			saveErr := tc.store.Save(ctx, fullTokens(t))
			_, acqErr := tc.store.Acquire(ctx, time.Second)
			for _, err := range []error{loadErr, saveErr, acqErr} {
				var ce *refresh.ConfigError
				if !errors.As(err, &ce) || ce.Field != tc.wantField {
					t.Errorf("got %v; want a *refresh.ConfigError for %s", err, tc.wantField)
				}
			}
		})
	}
	t.Run("a nil ctx or a nil Store is a ConfigError", func(t *testing.T) {
		s := newStore(t, rdb)
		l, err := s.Acquire(t.Context(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(t.Context())
		var nilStore *redisstore.Store
		var noCtx context.Context
		_, loadErr := s.Load(noCtx)
		_, acqErr := s.Acquire(noCtx, time.Second)
		_, leaseLoadErr := l.Load(noCtx)
		_, nilLoadErr := nilStore.Load(t.Context())
		for name, err := range map[string]error{
			"Load": loadErr, "Save": s.Save(noCtx, nil), "Acquire": acqErr,
			"Lease.Load": leaseLoadErr, "Lease.Save": l.Save(noCtx, nil), "Lease.Release": l.Release(noCtx),
			"Load of a nil Store": nilLoadErr,
		} {
			var ce *refresh.ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("%s = %v; want a *refresh.ConfigError", name, err)
			}
		}
	})
	t.Run("a TTL under a millisecond is a ConfigError", func(t *testing.T) {
		_, err := newStore(t, rdb).Acquire(t.Context(), time.Microsecond)
		var ce *refresh.ConfigError
		if !errors.As(err, &ce) || ce.Field != "redisstore.Acquire ttl" {
			t.Errorf("got %v; want a *refresh.ConfigError", err)
		}
	})
}

// newAEAD returns an AES-GCM AEAD whose key is 32 bytes of b.
func newAEAD(t testing.TB, b byte) cipher.AEAD {
	block, err := aes.NewCipher(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// scriptCalls returns how many scripts (EVALSHA and EVAL) the server has run.
func scriptCalls(t *testing.T, rdb *redis.Client) int {
	t.Helper()
	info, err := rdb.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(info, "\n") {
		for _, cmd := range []string{"cmdstat_evalsha:calls=", "cmdstat_eval:calls="} {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), cmd); ok {
				calls, _, _ := strings.Cut(rest, ",")
				c, err := strconv.Atoi(calls)
				if err != nil {
					t.Fatalf("INFO commandstats: %q", line)
				}
				n += c
			}
		}
	}
	return n
}

// TestClusterKeysWithBraces: whatever braces a grant key holds, its lease and
// tokens stay in one Cluster slot, so the scripts that use both run.
func TestClusterKeysWithBraces(t *testing.T) {
	rdb := startCluster(t)
	for _, key := range []string{"user:1", "a{b}c", "x}y", "{z", "{}", "a{}"} {
		t.Run(key, func(t *testing.T) {
			ctx := t.Context()
			s := redisstore.New(rdb, key)
			l, err := s.Acquire(ctx, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Save(ctx, fullTokens(t)); err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := s.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffTokens(fullTokens(t), got); d != "" {
				t.Errorf("Load (-want +got):\n%s", d)
			}
		})
	}
}
