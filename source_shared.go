package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The lease path of a Source whose Store is a [SharedStore]: take the grant's
// lease before a run does anything, and let it go when the run is over. The
// run's work then loads and saves through the Lease (see work).

// leaseTTL is the TTL of the lease a run takes: twice the refresh timeout, so
// that the run, bounded by the timeout from when it holds the lease, never
// sends a refresh after the lease may have lapsed.
func (s *Source) leaseTTL() time.Duration { return 2 * s.timeout }

// runStore returns what run f loads from and saves to: the Store, or with a
// SharedStore the Store and the grant's lease, taken for leaseTTL. Waiting for
// the lease has no deadline of the run's own (another replica holds it for at
// most its TTL); callers stop waiting when their own contexts end.
func (s *Source) runStore(f *flight) (Store, Lease, error) {
	ss, ok := s.store.(SharedStore)
	if !ok {
		return s.store, nil, nil
	}
	defer f.leasing.Store(false) // set by startLocked
	start := time.Now()
	l, err := acquire(context.Background(), ss, s.leaseTTL())
	if s.hooks.OnLeaseWait != nil {
		emit(s, "lease_wait", s.hooks.OnLeaseWait, LeaseWait{Reason: f.reason, Duration: time.Since(start), Acquired: err == nil})
	}
	if err != nil {
		s.storeFailed(err)
		return nil, nil, err
	}
	return l, l, nil
}

// acquire calls ss.Acquire, turning an error, a panic or a nil Lease into a
// *StoreError.
func acquire(ctx context.Context, ss SharedStore, ttl time.Duration) (l Lease, err error) {
	defer func() {
		if p := recover(); p != nil {
			l, err = nil, &StoreError{Op: "acquire", Err: newPanicError(p)}
		}
	}()
	l, err = ss.Acquire(ctx, ttl)
	switch {
	case err != nil:
		return nil, &StoreError{Op: "acquire", Err: err}
	case l == nil:
		return nil, &StoreError{Op: "acquire", Err: fmt.Errorf("%T.Acquire returned no Lease and no error", ss)}
	}
	return l, nil
}

// releaseLease frees l within abandonGrace, turning an error or a panic into
// a *StoreError: the lease then lapses at its TTL.
func releaseLease(l Lease) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), abandonGrace)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = &StoreError{Op: "release", Err: newPanicError(p)}
		}
	}()
	if err := l.Release(ctx); err != nil {
		return &StoreError{Op: "release", Err: err}
	}
	return nil
}

// release frees the lease a run held. A failure is only reported and logged.
func (s *Source) release(l Lease, reason Reason) {
	defer func() { _ = recover() }() // a panicking logger
	if err := releaseLease(l); err != nil {
		s.storeFailed(err)
		s.log(context.Background(), slog.LevelWarn, "refresh: store release failed; the lease lapses at its TTL",
			slog.String("reason", string(reason)), slog.String("error", err.Error()))
	}
}

// leaseWaitError is the error of a caller whose ctx ended while the run it
// waited for was waiting for the lease another replica holds.
func leaseWaitError(ctx context.Context) error {
	return &StoreError{Op: "acquire", Err: fmt.Errorf("waiting for the lease another process holds: %w", context.Cause(ctx))}
}

// differ reports whether stored tokens differ from ours in a way that makes
// them worth adopting under a lease.
func differ(stored, ours *Tokens) bool {
	if stored.RefreshToken == "" && stored.AccessToken == "" {
		return false
	}
	return stored.RefreshToken != ours.RefreshToken || stored.AccessToken != ours.AccessToken
}

// saveHeld saves the tokens a refresh under lease l got, and while the store
// fails tries again until ctx, the run's deadline inside the lease, ends: the
// lease is still this run's, so no other replica can have loaded the spent
// refresh token meanwhile, which it could once the lease is gone. A version
// conflict is not retried.
func (s *Source) saveHeld(ctx context.Context, l Store, t *Tokens) error {
	wait := 50 * time.Millisecond
	for {
		err := s.save(ctx, l, t)
		if err == nil || errors.Is(err, ErrVersionConflict) {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
		wait = min(2*wait, time.Second)
	}
}
