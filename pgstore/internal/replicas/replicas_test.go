package replicas_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/internal/replicatest"
	"github.com/tokenrefresh/refresh/pgstore"
	"github.com/tokenrefresh/refresh/pgstore/internal/pgtest"
)

func TestMain(m *testing.M) { replicatest.Main(m, open) }

// pools holds this process's pool for each server address, shared by the
// Stores that open calls make.
var (
	poolsMu sync.Mutex
	pools   = map[string]*pgxpool.Pool{}
)

// open is the Store of grant key on the server at addr, a connection string.
func open(addr, key string) (refresh.SharedStore, error) {
	poolsMu.Lock()
	defer poolsMu.Unlock()
	p := pools[addr]
	if p == nil {
		var err error
		if p, err = pgxpool.New(context.Background(), addr); err != nil {
			return nil, err
		}
		pools[addr] = p
	}
	return pgstore.New(p, key), nil
}

// backend starts a PostgreSQL server for tb, with the table, and stops it
// when tb ends.
func backend(tb testing.TB) replicatest.Backend {
	tb.Helper()
	srv, err := pgtest.New()
	if err != nil {
		tb.Fatalf("cannot start PostgreSQL for the replica scenarios: %v\n%s", err, pgtest.InstallHint)
	}
	tb.Cleanup(srv.Remove)
	addr := srv.ConnString()
	p, err := pgxpool.New(context.Background(), addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer p.Close()
	if err := pgstore.CreateTable(context.Background(), p); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		poolsMu.Lock()
		defer poolsMu.Unlock()
		if p := pools[addr]; p != nil {
			p.Close()
			delete(pools, addr)
		}
	})
	return replicatest.Backend{Addr: addr, Open: open, Stop: srv.Stop, Start: srv.Start}
}

func TestReplicas(t *testing.T) {
	b := backend(t)
	t.Run("herd", func(t *testing.T) { replicatest.Herd(t, b) })
	t.Run("kill", func(t *testing.T) { replicatest.Kill(t, b) })
	t.Run("sustained", func(t *testing.T) { replicatest.Sustained(t, b) })
	t.Run("outage", func(t *testing.T) { replicatest.Outage(t, b) })
}

func BenchmarkWakeup(b *testing.B) {
	replicatest.Wakeup(b, backend(b))
}
