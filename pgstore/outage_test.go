package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
)

// TestOutage stops the server under a holder and a waiter: the waiter's
// Acquire fails instead of hanging, calls fail with the driver's error, and
// after the server starts again the same Store works, the lease and the tokens
// as they were.
func TestOutage(t *testing.T) {
	p := testPool(t)
	st := newStore(t)
	tok := &refresh.Tokens{AccessToken: "at-outage-secret", TokenType: "Bearer", RefreshToken: "rt-outage-secret"}
	if err := st.Save(ctxFor(t), tok); err != nil {
		t.Fatal(err)
	}
	holder, err := st.Acquire(ctxFor(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const before = 0
	waitListeners(t, p, before) // the listeners of earlier tests have gone
	waiter := make(chan error, 1)
	go func() {
		_, err := st.Acquire(ctxFor(t), time.Hour)
		waiter <- err
	}()
	waitListeners(t, p, before+1)

	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !server.Running() { // a failure before the restart below
			if err := server.Start(); err != nil {
				t.Errorf("restarting the server: %v", err)
			}
		}
		p.Reset()
	})
	select {
	case err := <-waiter:
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the waiting Acquire when the server stopped: %v, want the store's error", err)
		}
	case <-time.After(bound):
		t.Fatalf("the waiting Acquire did not return within %s of the server's stop", bound)
	}
	if _, err := st.Load(ctxFor(t)); err == nil {
		t.Error("Load with the server stopped succeeded")
	}
	if err := st.Save(ctxFor(t), tok); err == nil {
		t.Error("Save with the server stopped succeeded")
	}

	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	// The pool still holds connections the shutdown ended; pgx drops each at
	// its first failed use. Drop them now, so that the calls below see the
	// server as it is.
	p.Reset()
	got, err := st.Load(ctxFor(t))
	if err != nil {
		t.Fatalf("Load after the restart: %v", err)
	}
	if got == nil || got.RefreshToken != tok.RefreshToken {
		t.Errorf("Load after the restart = %v", got)
	}
	wantBlocked(t, st) // the holder's lease outlived the outage
	if _, err := holder.Load(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if err := holder.Save(ctxFor(t), tok); err != nil {
		t.Errorf("the holder's Save after the restart: %v", err)
	}
	release(t, holder)
	release(t, acquire(t, st))
}

// wantBlocked checks that an Acquire does not get the lease in a short while:
// its context ends first.
func wantBlocked(t *testing.T, st refresh.SharedStore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxFor(t), 200*time.Millisecond)
	defer cancel()
	if l, err := st.Acquire(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			_ = l.Release(ctxFor(t))
		}
		t.Errorf("Acquire of a held lease: %v, want context.DeadlineExceeded", err)
	}
}
