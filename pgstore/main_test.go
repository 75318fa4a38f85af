package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tokenrefresh/refresh/pgstore"
)

// server is the tests' PostgreSQL, and pool a pool on its database, in which
// TestMain has created the default table.
var (
	server *pgServer
	pool   *pgxpool.Pool
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run starts PostgreSQL, runs the tests and stops it. Without a server every
// test fails: the run exits 1 and says how to install one.
func run(m *testing.M) int {
	var err error
	if server, err = startServer(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: pgstore tests: cannot start PostgreSQL: %v\n%s\n", err, installHint)
		return 1
	}
	defer server.remove()
	ctx := context.Background()
	if pool, err = pgxpool.New(ctx, server.ConnString()); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: pgstore tests:", err)
		return 1
	}
	defer pool.Close()
	if err := pgstore.CreateTable(ctx, pool); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: pgstore tests:", err)
		return 1
	}
	return m.Run()
}

// newKey is a fresh grant key, so that each test has a row of its own.
func newKey(t testing.TB) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return t.Name() + "/" + hex.EncodeToString(b[:])
}
