// Package storetest checks that a [refresh.SharedStore] keeps the contract a
// [refresh.Source] relies on: the storage round trip, one lease at a time,
// waiters woken by Release, leases that lapse after their TTL, and fenced
// writes. Every store of this repository (MemoryStore, redisstore, pgstore)
// runs it from its tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) refresh.SharedStore {
//			return newStoreForAFreshKey(t) // cleaned up with t.Cleanup
//		})
//	}
//
// The suite asserts no timing: it waits on events, and its time limits only
// bound a failure (a waiter never woken fails after [Bound], not at once).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tokenrefresh/refresh"
)

// Bound is how long the suite waits for an event (a waiter woken, a lapsed
// lease taken over) before it fails. It is far longer than any store needs on
// loopback, and shorter than the TTL of the leases that must not lapse.
const Bound = 20 * time.Second

// longTTL is the TTL of leases that must not lapse during a test.
const longTTL = time.Minute

// shortTTL is the TTL of leases a test lets lapse.
const shortTTL = 300 * time.Millisecond

// blocked is how long an Acquire that must wait is given before its context
// ends: its failure to get the lease within it is what the test checks.
const blocked = 150 * time.Millisecond

// Run runs the contract suite. open returns a store for a new, empty grant (a
// fresh key) each time it is called, and cleans it up with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) refresh.SharedStore) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, st refresh.SharedStore)
	}{
		{"a new grant loads nothing", testEmpty},
		{"tokens come back as saved with every field", testRoundTrip},
		{"a lease excludes a second Acquire until Release", testExclusion},
		{"Release wakes a waiting Acquire which loads what the holder saved", testWakeup},
		{"Release without a save wakes a waiting Acquire", testReleaseWakes},
		{"Acquire takes over a lease whose TTL has passed", testLapse},
		{"Release after the TTL frees nothing the new owner holds", testLateRelease},
		{"Lease.Save after another owner wrote is a conflict and stores nothing", testConflict},
		{"a plain Save fences out the lease holder", testPlainSaveFences},
		{"Lease.Save without Load succeeds only on an empty grant", testSaveWithoutLoad},
		{"Lease.Save(nil) clears the stored tokens", testClear},
		{"Acquire returns the context's error when it ends", testAcquireContext},
		{"concurrent holders never lose a write", testCounter},
		{"no error shows a token", testErrorsHideTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, open(t))
		})
	}
}

// secret marks every token the suite stores, so that testErrorsHideTokens can
// look for it.
const secret = "storetest-secret-"

// tokens returns a full set of tokens numbered n, with every field of the
// storage encoding set, extras included.
func tokens(t *testing.T, n int) *refresh.Tokens {
	t.Helper()
	issued := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC).Add(time.Duration(n) * time.Hour)
	stored := map[string]any{
		"access_token":             fmt.Sprintf("%sAT-%d", secret, n),
		"token_type":               "Bearer",
		"refresh_token":            fmt.Sprintf("%sRT-%d", secret, n),
		"expires_at":               issued.Add(time.Hour),
		"refresh_token_expires_at": issued.Add(30 * 24 * time.Hour),
		"scope":                    "openid email offline_access",
		"id_token":                 fmt.Sprintf("%sID-%d", secret, n),
		"issued_at":                issued,
		"extra": map[string]any{
			"instance_url": "https://example.my.salesforce.com",
			"nested":       map[string]any{"a": []any{1, "two", nil, true}},
			"unicode":      "héllo ✓",
		},
	}
	data, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	var tok refresh.Tokens
	if err := json.Unmarshal(data, &tok); err != nil {
		t.Fatal(err)
	}
	return &tok
}

// diff compares tokens, their extras included.
func diff(want, got *refresh.Tokens) string {
	if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(refresh.Tokens{})); d != "" {
		return d
	}
	if want == nil || got == nil {
		return ""
	}
	return cmp.Diff(want.Fields(), got.Fields())
}

// ctx returns a context that ends after Bound, with the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), Bound)
	t.Cleanup(cancel)
	return c
}

func acquire(t *testing.T, st refresh.SharedStore, ttl time.Duration) refresh.Lease {
	t.Helper()
	l, err := st.Acquire(ctx(t), ttl)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return l
}

func release(t *testing.T, l refresh.Lease) {
	t.Helper()
	if err := l.Release(ctx(t)); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

func leaseLoad(t *testing.T, l refresh.Lease) *refresh.Tokens {
	t.Helper()
	got, err := l.Load(ctx(t))
	if err != nil {
		t.Fatalf("Lease.Load: %v", err)
	}
	return got
}

func leaseSave(t *testing.T, l refresh.Lease, tok *refresh.Tokens) {
	t.Helper()
	if err := l.Save(ctx(t), tok); err != nil {
		t.Fatalf("Lease.Save: %v", err)
	}
}

func save(t *testing.T, st refresh.Store, tok *refresh.Tokens) {
	t.Helper()
	if err := st.Save(ctx(t), tok); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

// wantStored checks what a plain Load finds.
func wantStored(t *testing.T, st refresh.Store, want *refresh.Tokens) {
	t.Helper()
	got, err := st.Load(ctx(t))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("stored tokens (-want +got):\n%s", d)
	}
}

// wantBlocked checks that an Acquire does not get the lease while another
// owner holds it: it must end with its context's error.
func wantBlocked(t *testing.T, st refresh.SharedStore) {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), blocked)
	defer cancel()
	l, err := st.Acquire(c, longTTL)
	if err == nil {
		_ = l.Release(ctx(t))
		t.Fatal("Acquire got the lease that another owner holds")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire while held: got %v, want an error wrapping context.DeadlineExceeded", err)
	}
}

func testEmpty(t *testing.T, st refresh.SharedStore) {
	wantStored(t, st, nil)
	l := acquire(t, st, longTTL)
	if got := leaseLoad(t, l); got != nil {
		t.Errorf("Lease.Load of a new grant: got %v, want nil", got)
	}
	release(t, l)
}

func testRoundTrip(t *testing.T, st refresh.SharedStore) {
	want := tokens(t, 1)
	save(t, st, want)
	wantStored(t, st, want)

	l := acquire(t, st, longTTL)
	if d := diff(want, leaseLoad(t, l)); d != "" {
		t.Errorf("Lease.Load after Save (-want +got):\n%s", d)
	}
	next := tokens(t, 2)
	next.Scopes = []string{} // empty but not nil survives too
	leaseSave(t, l, next)
	release(t, l)
	wantStored(t, st, next)

	bare := &refresh.Tokens{RefreshToken: secret + "RT-bare"}
	save(t, st, bare)
	wantStored(t, st, bare)
}

func testExclusion(t *testing.T, st refresh.SharedStore) {
	l := acquire(t, st, longTTL)
	wantBlocked(t, st)
	release(t, l)
	release(t, acquire(t, st, longTTL))
}

// waited is what a waiting owner got: the tokens it loaded under the lease.
type waited struct {
	tok *refresh.Tokens
	err error
}

// waitForLease starts an owner that waits for st's lease, loads under it and
// releases it. It returns once the owner has most likely begun to wait (the
// tests still pass if it has not: it then finds the lease free).
func waitForLease(t *testing.T, st refresh.SharedStore) <-chan waited {
	res := make(chan waited, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		l, err := st.Acquire(ctx(t), longTTL)
		if err != nil {
			res <- waited{err: fmt.Errorf("acquire: %w", err)}
			return
		}
		defer func() { _ = l.Release(context.Background()) }()
		tok, err := l.Load(ctx(t))
		res <- waited{tok, err}
	}()
	<-started
	time.Sleep(blocked)
	return res
}

// woken returns what the waiting owner loaded once it holds the lease. The
// lease's TTL is longer than Bound, so only the holder's Release can free it
// in time.
func woken(t *testing.T, res <-chan waited) *refresh.Tokens {
	t.Helper()
	select {
	case g := <-res:
		if g.err != nil {
			t.Fatal(g.err)
		}
		return g.tok
	case <-time.After(Bound):
		t.Fatalf("the waiting Acquire was not woken by Release within %s", Bound)
		return nil
	}
}

func testWakeup(t *testing.T, st refresh.SharedStore) {
	holder := acquire(t, st, longTTL)
	leaseLoad(t, holder)
	res := waitForLease(t, st)
	want := tokens(t, 3)
	leaseSave(t, holder, want)
	release(t, holder)
	if d := diff(want, woken(t, res)); d != "" {
		t.Errorf("the woken owner loaded (-want +got):\n%s", d)
	}
}

// testReleaseWakes checks that Release alone wakes a waiter: a holder that
// saves nothing (its refresh failed) must not leave the others waiting for
// its TTL.
func testReleaseWakes(t *testing.T, st refresh.SharedStore) {
	want := tokens(t, 4)
	save(t, st, want)
	holder := acquire(t, st, longTTL)
	leaseLoad(t, holder)
	res := waitForLease(t, st)
	release(t, holder)
	if d := diff(want, woken(t, res)); d != "" {
		t.Errorf("the woken owner loaded (-want +got):\n%s", d)
	}
}

func testLapse(t *testing.T, st refresh.SharedStore) {
	acquire(t, st, shortTTL) // never released
	release(t, acquire(t, st, longTTL))
}

func testLateRelease(t *testing.T, st refresh.SharedStore) {
	old := acquire(t, st, shortTTL)
	owner := acquire(t, st, longTTL) // after the lapse
	_ = old.Release(ctx(t))          // an error is fine; freeing owner's lease is not
	wantBlocked(t, st)
	release(t, owner)
}

func testConflict(t *testing.T, st refresh.SharedStore) {
	first := tokens(t, 1)
	save(t, st, first)
	old := acquire(t, st, shortTTL)
	leaseLoad(t, old)
	owner := acquire(t, st, longTTL) // after the lapse
	leaseLoad(t, owner)
	newer := tokens(t, 2)
	leaseSave(t, owner, newer)
	release(t, owner)

	err := old.Save(ctx(t), tokens(t, 3))
	if !errors.Is(err, refresh.ErrVersionConflict) {
		t.Fatalf("Lease.Save after another owner wrote: got %v, want an error wrapping ErrVersionConflict", err)
	}
	wantStored(t, st, newer)
	err = old.Save(ctx(t), nil)
	if !errors.Is(err, refresh.ErrVersionConflict) {
		t.Fatalf("Lease.Save(nil) after another owner wrote: got %v, want an error wrapping ErrVersionConflict", err)
	}
	wantStored(t, st, newer)
}

func testPlainSaveFences(t *testing.T, st refresh.SharedStore) {
	save(t, st, tokens(t, 1))
	l := acquire(t, st, longTTL)
	leaseLoad(t, l)
	other := tokens(t, 2)
	save(t, st, other)
	if err := l.Save(ctx(t), tokens(t, 3)); !errors.Is(err, refresh.ErrVersionConflict) {
		t.Fatalf("Lease.Save after a plain Save: got %v, want an error wrapping ErrVersionConflict", err)
	}
	wantStored(t, st, other)
	// Loading again under the lease sees the new version, and a Save then works.
	if d := diff(other, leaseLoad(t, l)); d != "" {
		t.Errorf("Lease.Load after the plain Save (-want +got):\n%s", d)
	}
	last := tokens(t, 4)
	leaseSave(t, l, last)
	release(t, l)
	wantStored(t, st, last)
}

func testSaveWithoutLoad(t *testing.T, st refresh.SharedStore) {
	l := acquire(t, st, longTTL)
	first := tokens(t, 1)
	leaseSave(t, l, first) // nothing was stored when the lease was taken
	release(t, l)
	wantStored(t, st, first)

	l = acquire(t, st, longTTL)
	if err := l.Save(ctx(t), tokens(t, 2)); !errors.Is(err, refresh.ErrVersionConflict) {
		t.Fatalf("Lease.Save without Load over stored tokens: got %v, want an error wrapping ErrVersionConflict", err)
	}
	release(t, l)
	wantStored(t, st, first)
}

func testClear(t *testing.T, st refresh.SharedStore) {
	save(t, st, tokens(t, 1))
	l := acquire(t, st, longTTL)
	leaseLoad(t, l)
	leaseSave(t, l, nil)
	release(t, l)
	wantStored(t, st, nil)

	l = acquire(t, st, longTTL)
	if got := leaseLoad(t, l); got != nil {
		t.Errorf("Lease.Load after clearing: got %v, want nil", got)
	}
	again := tokens(t, 2)
	leaseSave(t, l, again)
	release(t, l)
	wantStored(t, st, again)
}

func testAcquireContext(t *testing.T, st refresh.SharedStore) {
	l := acquire(t, st, longTTL)
	c, cancel := context.WithCancel(t.Context())
	res := make(chan error, 1)
	go func() {
		l, err := st.Acquire(c, longTTL)
		if err == nil {
			_ = l.Release(context.Background())
		}
		res <- err
	}()
	time.Sleep(blocked) // let it wait; a cancel before it waits must give the same error
	cancel()
	select {
	case err := <-res:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Acquire when its context is cancelled: got %v, want an error wrapping context.Canceled", err)
		}
	case <-time.After(Bound):
		t.Fatalf("Acquire did not return within %s of its context's cancellation", Bound)
	}
	wantBlocked(t, st) // context.DeadlineExceeded
	release(t, l)
}

// testCounter has several owners increment a counter kept in the access token:
// with one lease at a time and fenced writes, no increment is lost and no
// fenced write conflicts.
func testCounter(t *testing.T, st refresh.SharedStore) {
	const owners, rounds = 4, 5
	save(t, st, &refresh.Tokens{AccessToken: "0"})
	var wg sync.WaitGroup
	errs := make(chan error, owners*rounds)
	for range owners {
		wg.Go(func() {
			for range rounds {
				if err := increment(ctx(t), st); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantStored(t, st, &refresh.Tokens{AccessToken: fmt.Sprint(owners * rounds)})
}

func increment(c context.Context, st refresh.SharedStore) error {
	l, err := st.Acquire(c, longTTL)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	defer func() { _ = l.Release(context.Background()) }()
	tok, err := l.Load(c)
	if err != nil {
		return fmt.Errorf("lease load: %w", err)
	}
	var n int
	if _, err := fmt.Sscan(tok.AccessToken, &n); err != nil {
		return fmt.Errorf("stored counter %q: %w", tok.AccessToken, err)
	}
	if err := l.Save(c, &refresh.Tokens{AccessToken: fmt.Sprint(n + 1)}); err != nil {
		return fmt.Errorf("lease save: %w", err)
	}
	return l.Release(c)
}

func testErrorsHideTokens(t *testing.T, st refresh.SharedStore) {
	var errs []error
	save(t, st, tokens(t, 1))
	old := acquire(t, st, shortTTL)
	leaseLoad(t, old)
	owner := acquire(t, st, longTTL)
	leaseLoad(t, owner)
	leaseSave(t, owner, tokens(t, 2))
	errs = append(errs, old.Save(ctx(t), tokens(t, 3)), old.Release(ctx(t)))

	c, cancel := context.WithTimeout(t.Context(), blocked)
	_, err := st.Acquire(c, longTTL)
	cancel()
	errs = append(errs, err)
	release(t, owner)

	// A Save without Load over stored tokens.
	l := acquire(t, st, longTTL)
	errs = append(errs, l.Save(ctx(t), tokens(t, 4)))
	release(t, l)

	for _, err := range errs {
		if err == nil {
			continue
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			if text := fmt.Sprintf(verb, err); strings.Contains(text, secret) {
				t.Errorf("error printed with %s shows a token: %s", verb, text)
			}
		}
	}
}
