package pgstore_test

import (
	"context"
	"crypto/cipher"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/pgstore"
)

// bound limits a wait that must end on an event; reaching it is a failure.
const bound = 20 * time.Second

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	t.Cleanup(cancel)
	return ctx
}

// listeners counts the server's sessions that wait in LISTEN on the default
// table's channel.
func listeners(t *testing.T, p *pgxpool.Pool) int {
	t.Helper()
	var n int
	err := p.QueryRow(ctxFor(t), `SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN "refresh_tokens"' AND state = 'idle'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitListeners waits until n sessions listen; the server shows no event for
// it, so this looks again every few milliseconds, until bound.
func waitListeners(t *testing.T, p *pgxpool.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for listeners(t, p) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions listen after %s; want %d", listeners(t, p), bound, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReleaseAloneWakesAWaiter(t *testing.T) {
	p := testPool(t)
	st := newStore(t)
	holder, err := st.Acquire(ctxFor(t), time.Hour) // only Release can free it in time
	if err != nil {
		t.Fatal(err)
	}
	const before = 0
	waitListeners(t, p, before) // the listeners of earlier tests have gone
	got := make(chan error, 1)
	go func() {
		l, err := st.Acquire(ctxFor(t), time.Hour)
		if err == nil {
			err = l.Release(context.Background())
		}
		got <- err
	}()
	waitListeners(t, p, before+1) // the waiter is listening
	if err := holder.Release(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(bound):
		t.Fatalf("Release did not wake the waiting Acquire within %s", bound)
	}
	waitListeners(t, p, before) // and its LISTEN connection is gone
}

func TestSaveWakesAWaiterThatTriesAgain(t *testing.T) {
	p := testPool(t)
	st := newStore(t)
	holder, err := st.Acquire(ctxFor(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const before = 0
	waitListeners(t, p, before) // the listeners of earlier tests have gone
	ctx, cancel := context.WithCancel(ctxFor(t))
	defer cancel()
	got := make(chan error, 1)
	go func() {
		_, err := st.Acquire(ctx, time.Hour)
		got <- err
	}()
	waitListeners(t, p, before+1)
	if _, err := holder.Load(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if err := holder.Save(ctxFor(t), &refresh.Tokens{AccessToken: "a", TokenType: "Bearer"}); err != nil {
		t.Fatal(err)
	}
	// The waiter woke, found the lease still held, and waits again.
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire while held after a save: %v, want context.Canceled", err)
	}
	_ = holder.Release(ctxFor(t))
}

func TestManyWaitersOneListener(t *testing.T) {
	p := testPool(t)
	st := newStore(t)
	holder, err := st.Acquire(ctxFor(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const before = 0
	waitListeners(t, p, before) // the listeners of earlier tests have gone
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			l, err := st.Acquire(ctxFor(t), time.Hour)
			if err == nil {
				err = l.Release(ctxFor(t))
			}
			errs <- err
		})
	}
	waitListeners(t, p, before+1)
	if err := holder.Release(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := listeners(t, p); got > before+1 {
		t.Errorf("%d sessions listened for one Store's %d waiters; want 1", got, n)
	}
}

func TestWaitersOfOtherGrantsSleepOn(t *testing.T) {
	p := testPool(t)
	a, b := newStore(t), newStore(t)
	holder, err := b.Acquire(ctxFor(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const before = 0
	waitListeners(t, p, before) // the listeners of earlier tests have gone
	ctx, cancel := context.WithCancel(ctxFor(t))
	got := make(chan error, 1)
	go func() {
		_, err := b.Acquire(ctx, time.Hour)
		got <- err
	}()
	waitListeners(t, p, before+1)
	release(t, acquire(t, a)) // notifies a's key only
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("b's waiter after a's release: %v, want context.Canceled", err)
	}
	_ = holder.Release(ctxFor(t))
}

func acquire(t *testing.T, st refresh.SharedStore) refresh.Lease {
	t.Helper()
	l, err := st.Acquire(ctxFor(t), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func release(t *testing.T, l refresh.Lease) {
	t.Helper()
	if err := l.Release(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
}

func TestBadConfiguration(t *testing.T) {
	p := testPool(t)
	aead := newAEAD(t)
	tests := []struct {
		name      string
		pool      *pgxpool.Pool
		key       string
		opts      []pgstore.Option
		wantField string
		wantIn    string
	}{
		{"a nil pool", nil, "k", nil, "pgstore.New pool", "nil"},
		{"an empty key", p, "", nil, "pgstore.New key", "1 to 1000 bytes"},
		{"a key too long for a NOTIFY payload", p, strings.Repeat("k", 1001), nil, "pgstore.New key", "not 1001"},
		{"a key with NUL", p, "a\x00b", nil, "pgstore.New key", "NUL"},
		{"a key that is not UTF-8", p, "a\xffb", nil, "pgstore.New key", "UTF-8"},
		{"an empty table name", p, "k", []pgstore.Option{pgstore.WithTable("")}, "pgstore.WithTable", "empty"},
		{"a table name with a dot", p, "k", []pgstore.Option{pgstore.WithTable("public.tokens")}, "pgstore.WithTable", `"." at byte 6`},
		{"a table name with a quote", p, "k", []pgstore.Option{pgstore.WithTable(`t"; DROP TABLE x; --`)}, "pgstore.WithTable", `"\"" at byte 1`},
		{"a table name starting with a digit", p, "k", []pgstore.Option{pgstore.WithTable("1t")}, "pgstore.WithTable", "at byte 0"},
		{"a table name over 63 bytes", p, "k", []pgstore.Option{pgstore.WithTable(strings.Repeat("t", 64))}, "pgstore.WithTable", "64 bytes"},
		{"a nil AEAD", p, "k", []pgstore.Option{pgstore.WithAEAD("k1", nil)}, "pgstore.WithAEAD", "nil"},
		{"an empty key ID", p, "k", []pgstore.Option{pgstore.WithAEAD("", aead)}, "pgstore.WithAEAD", "key ID"},
		{"a key ID with a newline", p, "k", []pgstore.Option{pgstore.WithAEAD("k\n1", aead)}, "pgstore.WithAEAD", "printable"},
		{"WithAEAD twice", p, "k", []pgstore.Option{pgstore.WithAEAD("k1", aead), pgstore.WithAEAD("k2", aead)}, "pgstore.WithAEAD", "twice"},
		{"one key ID for two keys", p, "k", []pgstore.Option{pgstore.WithAEAD("k1", aead), pgstore.WithOldKey("k1", aead)}, "pgstore.WithOldKey", "twice"},
		{"a nil old key", p, "k", []pgstore.Option{pgstore.WithOldKey("k0", nil)}, "pgstore.WithOldKey", "nil"},
		{"an AEAD without a nonce", p, "k", []pgstore.Option{pgstore.WithAEAD("k1", noNonce{aead})}, "pgstore.WithAEAD", "nonce size 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := pgstore.New(tt.pool, tt.key, tt.opts...)
			ctx := ctxFor(t)
			_, loadErr := st.Load(ctx)
			_, acqErr := st.Acquire(ctx, time.Minute)
			for op, err := range map[string]error{
				"Load":    loadErr,
				"Save":    st.Save(ctx, &refresh.Tokens{AccessToken: "a"}),
				"Acquire": acqErr,
			} {
				var ce *refresh.ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("%s: %v, want a *refresh.ConfigError", op, err)
				}
				if ce.Field != tt.wantField || !strings.Contains(ce.Reason, tt.wantIn) {
					t.Errorf("%s: Field %q Reason %q; want Field %q and a Reason with %q", op, ce.Field, ce.Reason, tt.wantField, tt.wantIn)
				}
			}
		})
	}
	t.Run("a TTL that is not positive", func(t *testing.T) {
		_, err := newStore(t).Acquire(ctxFor(t), 0)
		var ce *refresh.ConfigError
		if !errors.As(err, &ce) || ce.Field != "pgstore.Acquire ttl" {
			t.Errorf("Acquire(ctx, 0) = %v, want a *refresh.ConfigError for the ttl", err)
		}
	})
	t.Run("CreateTable with a bad table name", func(t *testing.T) {
		err := pgstore.CreateTable(ctxFor(t), p, pgstore.WithTable("a-b"))
		var ce *refresh.ConfigError
		if !errors.As(err, &ce) || ce.Field != "pgstore.WithTable" {
			t.Errorf("CreateTable = %v, want a *refresh.ConfigError for WithTable", err)
		}
	})
}

func TestCreateTable(t *testing.T) {
	p := testPool(t)
	const table = "Tokens_Of_Another_App" // case matters: it is quoted
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = pgstore.CreateTable(ctxFor(t), p, pgstore.WithTable(table)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("CreateTable %d of %d at once: %v", i, len(errs), err)
		}
	}
	if err := pgstore.CreateTable(ctxFor(t), p, pgstore.WithTable(table)); err != nil {
		t.Errorf("CreateTable when it exists: %v", err)
	}
	st := pgstore.New(p, newKey(t), pgstore.WithTable(table))
	want := &refresh.Tokens{AccessToken: "a", TokenType: "Bearer"}
	if err := st.Save(ctxFor(t), want); err != nil {
		t.Fatal(err)
	}
	got, err := pgstore.New(p, "", pgstore.WithTable(table)).Load(ctxFor(t))
	if err == nil || got != nil {
		t.Errorf("Load with an empty key = %v, %v", got, err)
	}
	got, err = st.Load(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(refresh.Tokens{})); d != "" {
		t.Error(d)
	}
	var n int
	if err := p.QueryRow(ctxFor(t), `SELECT count(*) FROM "Tokens_Of_Another_App"`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in the table = %d, %v; want 1", n, err)
	}
}

func TestMissingTable(t *testing.T) {
	st := pgstore.New(testPool(t), newKey(t), pgstore.WithTable("no_such_table"))
	_, err := st.Load(ctxFor(t))
	if err == nil || !strings.Contains(err.Error(), `"no_such_table" does not exist`) {
		t.Errorf("Load from a missing table: %v, want the server's error naming it", err)
	}
	if _, err := st.Acquire(ctxFor(t), time.Minute); err == nil || !strings.HasPrefix(err.Error(), "pgstore: acquire: ") {
		t.Errorf("Acquire on a missing table: %v", err)
	}
}

// noNonce is an AEAD that claims to need no nonce.
type noNonce struct{ cipher.AEAD }

func (noNonce) NonceSize() int { return 0 }

func TestListenerUsesThePoolsBeforeConnect(t *testing.T) {
	testPool(t) // starts the server
	cfg, err := pgxpool.ParseConfig(server.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
		cc.RuntimeParams["application_name"] = "set-by-hook" // a hook may set a fresh password this way
		return nil
	}
	p, err := pgxpool.NewWithConfig(ctxFor(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	st := pgstore.New(p, newKey(t))
	holder := acquire(t, st)
	ctx, cancel := context.WithCancel(ctxFor(t))
	got := make(chan error, 1)
	go func() {
		_, err := st.Acquire(ctx, time.Minute)
		got <- err
	}()
	deadline := time.Now().Add(bound)
	for {
		var n int
		err := p.QueryRow(ctxFor(t), `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND application_name = 'set-by-hook'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no LISTEN session with the hook's application_name within %s", bound)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-got
	release(t, holder)
}
