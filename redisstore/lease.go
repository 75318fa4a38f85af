package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/refresh"
)

// acquireScript takes the lease with SET NX PX and, when it did, returns
// {1, version, whether tokens are stored}; otherwise {0, the lease's PTTL}.
// It also answers 1 when the lease already holds this owner token: go-redis
// retries a command whose reply was lost, and the first try may have set it.
//
// KEYS[1] the lease; KEYS[2] the data hash; ARGV[1] the owner token; ARGV[2]
// the TTL in milliseconds.
var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) or redis.call('GET', KEYS[1]) == ARGV[1] then
  return {1, redis.call('HGET', KEYS[2], 'v') or '0', redis.call('HEXISTS', KEYS[2], 'd')}
end
return {0, redis.call('PTTL', KEYS[1])}
`)

// releaseScript deletes the lease if the owner token is still its value, and
// then wakes the waiters; it returns 1 when it deleted it.
//
// KEYS[1] the lease; ARGV[1] the owner token; ARGV[2] the channel.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'release')
  return 1
end
return 0
`)

// Acquire takes the grant's lease for ttl (at least a millisecond). The
// uncontended case is one round trip. While another owner holds the lease it
// subscribes to the grant's channel and tries again on each save or release
// announced there, on a reconnection of the subscription, and when the holder's
// TTL (its PTTL) passes, never at a fixed interval. It returns ctx's error,
// wrapped, when ctx ends first.
func (s *Store) Acquire(ctx context.Context, ttl time.Duration) (refresh.Lease, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if ttl < time.Millisecond {
		return nil, &refresh.ConfigError{Field: "redisstore.Acquire ttl", Reason: "less than a millisecond: " + ttl.String()}
	}
	l := &lease{s: s, owner: randomID()}
	wait, err := l.try(ctx, ttl)
	if err != nil || wait == 0 {
		return l.result(ctx, err)
	}
	sub := s.rdb.Subscribe(ctx, s.channel)
	defer sub.Close()
	wake := sub.ChannelWithSubscriptions()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("redisstore: acquire %q: %w", s.key, ctx.Err())
		case <-wake: // subscribed (again), or a save or release
		case <-timer.C:
		}
		if wait, err = l.try(ctx, ttl); err != nil || wait == 0 {
			return l.result(ctx, err)
		}
		timer.Reset(wait)
	}
}

// try runs acquireScript once. It returns 0 when it took the lease, or how
// long the holder's lease has left.
func (l *lease) try(ctx context.Context, ttl time.Duration) (time.Duration, error) {
	s := l.s
	res, err := acquireScript.Run(ctx, s.rdb, []string{s.lease, s.data}, l.owner, ttl.Milliseconds()).Slice()
	if err != nil {
		return 0, err
	}
	if len(res) == 3 && res[0] == int64(1) {
		version, _ := res[1].(string)
		stored, _ := res[2].(int64)
		l.version, l.valid = version, stored == 0 // a Save before a Load expects no tokens
		return 0, nil
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("unexpected script reply")
	}
	pttl, _ := res[1].(int64)
	switch {
	case pttl == -2: // gone since the SET: try again at once
		return time.Nanosecond, nil
	case pttl < 0: // a lease without a TTL, not set by this package
		return ttl, nil
	}
	return time.Duration(pttl+1) * time.Millisecond, nil
}

// result finishes Acquire: the lease, or the error wrapped. After an error
// the SET may still have taken the lease (a reply lost to a time-out), so it
// releases it, within a second, rather than keep the others waiting for its
// TTL; the owner token is this call's alone, so this frees nothing else.
func (l *lease) result(ctx context.Context, err error) (refresh.Lease, error) {
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = l.Release(rctx)
		return nil, fmt.Errorf("redisstore: acquire %q: %w", l.s.key, err)
	}
	return l, nil
}

// lease is a held lease of a Store.
type lease struct {
	s     *Store
	owner string // the random owner token, the lease key's value
	// version is the version the last Load saw (or that was stored, with no
	// tokens, when the lease was taken), as Redis writes it; valid reports
	// whether there is one for Save to expect.
	version string
	valid   bool
}

// Load returns the stored tokens and remembers their version for Save.
func (l *lease) Load(ctx context.Context) (*refresh.Tokens, error) {
	t, version, err := l.s.load(ctx)
	if err != nil {
		l.valid = false
		return nil, err
	}
	l.version, l.valid = strconv.FormatInt(version, 10), true
	return t, nil
}

// Save stores t (nil clears) if the stored version is the one the last Load
// saw, in one round trip; otherwise it returns an error wrapping
// refresh.ErrVersionConflict.
func (l *lease) Save(ctx context.Context, t *refresh.Tokens) error {
	if !l.valid {
		if err := l.s.ready(ctx); err != nil {
			return err
		}
		return fmt.Errorf("redisstore: save %q: no version to expect (tokens were stored when the lease was taken, or its last Load failed): %w",
			l.s.key, refresh.ErrVersionConflict)
	}
	version, err := l.s.save(ctx, l.version, t)
	if err != nil {
		return err
	}
	l.version = strconv.FormatInt(version, 10)
	return nil
}

// Release deletes the lease if this owner still holds it, and wakes the
// waiters; after the TTL has passed it deletes nothing. One round trip.
func (l *lease) Release(ctx context.Context) error {
	s := l.s
	if err := s.ready(ctx); err != nil {
		return err
	}
	if err := releaseScript.Run(ctx, s.rdb, []string{s.lease}, l.owner, s.channel).Err(); err != nil {
		return fmt.Errorf("redisstore: release %q: %w", s.key, err)
	}
	return nil
}

// String describes the lease by its grant's key, never its owner token.
func (l *lease) String() string { return fmt.Sprintf("redisstore.lease{Key:%q}", l.s.key) }

// Format writes String for every verb (%q quotes it).
func (l *lease) Format(f fmt.State, verb rune) { formatText(f, verb, l.String()) }

// LogValue gives slog what String shows.
func (l *lease) LogValue() slog.Value { return slog.StringValue(l.String()) }
