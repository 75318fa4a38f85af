package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/redisstore"
)

// dropProxy forwards connections to a Redis server. When armed, it lets the
// next script call (EVALSHA) through to the server, swallows its reply and
// closes the connection, as a network fault after the server acted would.
type dropProxy struct {
	ln    net.Listener
	to    string
	armed atomic.Bool
	wg    sync.WaitGroup
}

func startDropProxy(t *testing.T, to string) *dropProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, to: to}
	p.wg.Go(p.accept)
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *dropProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		var drop atomic.Bool // the reply now coming is the one to swallow
		p.wg.Go(func() {
			defer s.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if bytes.Contains(bytes.ToLower(buf[:n]), []byte("evalsha")) && p.armed.CompareAndSwap(true, false) {
						drop.Store(true)
					}
					if _, err := s.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
		p.wg.Go(func() {
			defer c.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := s.Read(buf)
				if drop.Load() { // the server has acted; the client never hears of it
					s.Close()
					return
				}
				if n > 0 {
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
}

// TestLostReplies: go-redis sends a script again when its reply is lost, and
// the scripts answer a repeat as the first try did: an Acquire gets the lease
// that its first try took (rather than wait for its own TTL), and a Save that
// was applied reports success and writes once.
func TestLostReplies(t *testing.T) {
	srv := startRedis(t)
	p := startDropProxy(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: p.ln.Addr().String()})
	t.Cleanup(func() { rdb.Close() })
	direct := srv.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // a bound on failure only
	defer cancel()
	s := redisstore.New(rdb, "lost")
	tok := fullTokens(t)
	// Load every script, so that the dropped reply is of a script that ran.
	l, err := s.Acquire(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Save(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	version := func() string { return direct.HGet(ctx, "refresh:{lost}:tokens", "v").Val() }

	p.armed.Store(true)
	l, err = s.Acquire(ctx, time.Hour)
	if err != nil {
		t.Fatalf("Acquire whose reply was lost: %v", err)
	}
	if p.armed.Load() {
		t.Fatal("the proxy dropped no reply")
	}
	if _, err := l.Load(ctx); err != nil {
		t.Fatal(err)
	}

	before := version()
	p.armed.Store(true)
	if err := l.Save(ctx, tok); err != nil {
		t.Fatalf("Lease.Save whose reply was lost = %v; want success", err)
	}
	if got := version(); got != "2" || before != "1" {
		t.Errorf("version %s before and %s after one Lease.Save; want 1 and 2", before, got)
	}
	if err := l.Save(ctx, tok); err != nil {
		t.Fatalf("a second Lease.Save after the lost reply: %v", err)
	}

	p.armed.Store(true)
	if err := s.Save(ctx, tok); err != nil {
		t.Fatalf("Save whose reply was lost = %v; want success", err)
	}
	if got := version(); got != "4" {
		t.Errorf("version %s after two more saves; want 4", got)
	}
	if err := l.Save(ctx, tok); !errors.Is(err, refresh.ErrVersionConflict) {
		t.Errorf("Lease.Save after a plain Save = %v; want ErrVersionConflict", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n := direct.Exists(ctx, "refresh:{lost}:lease").Val(); n != 0 {
		t.Error("the lease remains after Release")
	}
}
