package pgstore_test

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"slices"
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
	key := newKey(t)
	holder, err := pgstore.New(p, key).Acquire(ctxFor(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release(ctxFor(t))
	tp, claims := tracedPool(t)
	ctx, cancel := context.WithCancel(ctxFor(t))
	defer cancel()
	got := make(chan error, 1)
	go func() {
		_, err := pgstore.New(tp, key).Acquire(ctx, time.Hour)
		got <- err
	}()
	// One claim before listening and one after: then it sleeps, listening.
	claims.waitFor(t, "the waiter to claim twice and sleep", atLeast(2))
	if _, err := holder.Load(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	claims.mark()
	if err := holder.Save(ctxFor(t), &refresh.Tokens{AccessToken: "a", TokenType: "Bearer"}); err != nil {
		t.Fatal(err)
	}
	// The save wakes the waiter: it claims once more, finds the lease still
	// held, and waits again.
	claims.waitMarked(t, "the holder's save to wake the waiter", 1)
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire while held after a save: %v, want context.Canceled", err)
	}
	if d := cmp.Diff([]int{3}, claims.perOwner()); d != "" {
		t.Errorf("lease claims per waiter (-want +got): one before listening, one after, one after the save:\n%s", d)
	}
}

func TestManyWaitersOneListener(t *testing.T) {
	p := testPool(t)
	key := newKey(t)
	holder, err := pgstore.New(p, key).Acquire(ctxFor(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const before = 0
	waitListeners(t, p, before) // the listeners of earlier tests have gone
	tp, claims := tracedPool(t)
	st := pgstore.New(tp, key) // one Store for all the waiters
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
	// A waiter's second claim follows its wait for the listener: once all n
	// made it, all n are listening, and asleep.
	claims.waitFor(t, fmt.Sprintf("%d waiters to claim twice each", n), func(c []int) bool {
		return len(c) == n && c[0] >= 2
	})
	if d := cmp.Diff(slices.Repeat([]int{2}, n), claims.perOwner()); d != "" {
		t.Errorf("lease claims per waiter before the release (-want +got):\n%s", d)
	}
	if got := listeners(t, p); got != before+1 {
		t.Errorf("%d sessions listen for one Store's %d waiters; want 1", got-before, n)
	}
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
}

func TestWaitersOfOtherGrantsSleepOn(t *testing.T) {
	p := testPool(t)
	a, key := newStore(t), newKey(t)
	holder, err := pgstore.New(p, key).Acquire(ctxFor(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release(ctxFor(t))
	const before = 0
	waitListeners(t, p, before) // the listeners of earlier tests have gone
	tp, claims := tracedPool(t)
	ctx, cancel := context.WithCancel(ctxFor(t))
	defer cancel()
	got := make(chan error, 1)
	go func() {
		_, err := pgstore.New(tp, key).Acquire(ctx, time.Hour)
		got <- err
	}()
	claims.waitFor(t, "b's waiter to claim twice and sleep", atLeast(2))
	waitListeners(t, p, before+1) // and the server shows it listening
	// A wrong wake by a's notifications shows only if one reaches the
	// listener before b's save, where it would merge with the right wake;
	// right after LISTEN they were seen to come late, so a releases often.
	for range 10 {
		release(t, acquire(t, a)) // notifies a's key only
	}
	// b's save, notified after a's releases on the same LISTEN connection,
	// wakes the waiter once: a claim for each wake by a's releases would come
	// on top of it. The claims it waits for start after the save is sent, so
	// that a claim made on a wake by a's releases cannot stand in for it.
	if _, err := holder.Load(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	claims.mark()
	if err := holder.Save(ctxFor(t), &refresh.Tokens{AccessToken: "b", TokenType: "Bearer"}); err != nil {
		t.Fatal(err)
	}
	claims.waitMarked(t, "b's save to wake b's waiter", 1)
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("b's waiter after a's releases: %v, want context.Canceled", err)
	}
	if d := cmp.Diff([]int{3}, claims.perOwner()); d != "" {
		t.Errorf("b's waiter's lease claims (-want +got): two before sleeping, none for a's releases, one for b's save:\n%s", d)
	}
}

// claimTracer is a [pgx.QueryTracer] that counts the lease claims (the
// "UPDATE ... SET owner = $2 ... RETURNING" of Acquire) sent on its pool, per
// owner token: one token per Acquire call.
type claimTracer struct {
	mu      sync.Mutex
	owners  map[string]int
	marked  int           // claims started since the last mark
	changed chan struct{} // closed and replaced at each claim
}

// tracedPool is a pool of its own on the tests' server, whose claims c counts.
func tracedPool(t *testing.T) (*pgxpool.Pool, *claimTracer) {
	t.Helper()
	testPool(t) // starts the server and makes the table
	cfg, err := pgxpool.ParseConfig(server.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	c := &claimTracer{owners: map[string]int{}, changed: make(chan struct{})}
	cfg.ConnConfig.Tracer = c
	p, err := pgxpool.NewWithConfig(ctxFor(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, c
}

func (c *claimTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !strings.HasPrefix(d.SQL, "UPDATE ") || !strings.Contains(d.SQL, " SET owner = $2") || len(d.Args) < 2 {
		return ctx
	}
	owner, _ := d.Args[1].(string)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.owners[owner]++
	c.marked++
	close(c.changed)
	c.changed = make(chan struct{})
	return ctx
}

func (*claimTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// perOwner is the claims so far of each owner, in ascending order.
func (c *claimTracer) perOwner() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.perOwnerLocked()
}

func (c *claimTracer) perOwnerLocked() []int {
	n := make([]int, 0, len(c.owners))
	for _, k := range c.owners {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// mark starts the count of claims that waitMarked waits for: claims sent
// after mark, and so caused by what the test does next (or by a bug).
func (c *claimTracer) mark() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.marked = 0
}

// waitFor returns once ok holds for the claims per owner (ascending), woken
// by each claim; reaching bound first is a failure.
func (c *claimTracer) waitFor(t *testing.T, what string, ok func([]int) bool) {
	t.Helper()
	c.wait(t, what, func(n []int, _ int) bool { return ok(n) })
}

// waitMarked returns once n claims have started since the last mark.
func (c *claimTracer) waitMarked(t *testing.T, what string, n int) {
	t.Helper()
	c.wait(t, what, func(_ []int, marked int) bool { return marked >= n })
}

func (c *claimTracer) wait(t *testing.T, what string, ok func(perOwner []int, marked int) bool) {
	t.Helper()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for {
		c.mu.Lock()
		n, marked, changed := c.perOwnerLocked(), c.marked, c.changed
		c.mu.Unlock()
		if ok(n, marked) {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("waited %s for %s; lease claims per owner: %v", bound, what, n)
		}
	}
}

// atLeast holds when one owner made all the claims, and at least n.
func atLeast(n int) func([]int) bool {
	return func(c []int) bool { return len(c) == 1 && c[0] >= n }
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
