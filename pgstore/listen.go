package pgstore

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokenrefresh/refresh"
)

// notifier wakes a Store's waiting Acquire calls when a NOTIFY for its key
// arrives on the table's channel. One connection, made with the pool's
// settings, listens while at least one Acquire waits, and is closed when the
// last one leaves: a Store that nobody waits on holds no connection.
type notifier struct {
	mu    sync.Mutex
	users int       // Acquire calls between join and leave
	cur   *listener // the live listener, or nil
}

// listener is one LISTEN connection's life.
type listener struct {
	ready chan struct{} // closed when LISTEN has taken effect, or failed
	err   error         // why it failed or ended; set before ready or wake closes
	wake  chan struct{} // closed and replaced at each notification; closed when it ends
	dead  bool          // it has ended: wake stays closed
	stop  context.CancelFunc
}

// join counts an Acquire among the users; leave must follow.
func (n *notifier) join() {
	n.mu.Lock()
	n.users++
	n.mu.Unlock()
}

// leave ends a join, and stops the listener when no user is left.
func (n *notifier) leave() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.users--
	if n.users == 0 && n.cur != nil {
		n.cur.stop()
		n.cur = nil
	}
}

// wait returns a channel that is closed at the next notification for key (or
// when the listener ends), once a LISTEN connection is in place: a NOTIFY
// committed after wait returns closes it. It starts a listener if none is live.
func (n *notifier) wait(ctx context.Context, pool *pgxpool.Pool, channel, key string) (<-chan struct{}, error) {
	n.mu.Lock()
	l := n.cur
	if l == nil {
		lctx, stop := context.WithCancel(context.Background()) // ended by leave, not by one caller
		l = &listener{ready: make(chan struct{}), wake: make(chan struct{}), stop: stop}
		n.cur = l
		go n.run(lctx, l, pool, channel, key)
	}
	n.mu.Unlock()
	select {
	case <-l.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if l.dead {
		return nil, l.err
	}
	return l.wake, nil
}

// run listens on channel until ctx ends or the connection fails, waking the
// waiters at each notification whose payload is key.
func (n *notifier) run(ctx context.Context, l *listener, pool *pgxpool.Pool, channel, key string) {
	var err error
	defer func() {
		// The pool's BeforeConnect hook is the user's code: a panic in it
		// ends this listener, not the process.
		if p := recover(); p != nil {
			err = fmt.Errorf("pgstore: while listening: %w", &refresh.PanicError{Value: p, Stack: debug.Stack()})
		}
		n.end(l, err)
	}()
	err = n.listen(ctx, l, pool, channel, key)
}

// end marks l dead for err and wakes its waiters.
func (n *notifier) end(l *listener, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l.err = err
	l.dead = true
	close(l.wake)
	select {
	case <-l.ready:
	default:
		close(l.ready)
	}
	if n.cur == l {
		n.cur = nil
	}
}

// listen is run's connection: it returns why it stopped.
func (n *notifier) listen(ctx context.Context, l *listener, pool *pgxpool.Pool, channel, key string) error {
	// A connection of its own, with the pool's settings: outside the pool's
	// count, it never takes a connection that the waiters' queries (or a
	// holder's save) need, and the pool keeps its warm ones.
	cfg := pool.Config()
	if cfg.BeforeConnect != nil {
		if err := cfg.BeforeConnect(ctx, cfg.ConnConfig); err != nil {
			return fmt.Errorf("pgstore: the pool's BeforeConnect for the LISTEN connection: %w", err)
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return fmt.Errorf("pgstore: no connection to listen on: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("pgstore: LISTEN failed: %w", err)
	}
	close(l.ready)
	for {
		msg, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("pgstore: the LISTEN connection failed: %w", err)
		}
		if msg.Payload != key {
			continue
		}
		n.mu.Lock()
		close(l.wake)
		l.wake = make(chan struct{})
		n.mu.Unlock()
	}
}
