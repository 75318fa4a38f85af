package pgstore_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tokenrefresh/refresh/pgstore"
	"github.com/tokenrefresh/refresh/pgstore/internal/pgtest"
)

// The tests' PostgreSQL starts at the first test that needs it, and TestMain
// stops it after the run.
var (
	serverOnce sync.Once
	server     *pgtest.Server
	sharedPool *pgxpool.Pool // a pool on server's database, with the default table
	serverErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedPool != nil {
		sharedPool.Close()
	}
	if server != nil {
		server.Remove()
	}
	os.Exit(code)
}

// testPool returns the pool on the tests' server, starting the server if it is
// not running yet. A test that cannot start one fails and says how to install
// PostgreSQL.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	p, err := startShared()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startShared starts the tests' server once, and returns the pool on it.
func startShared() (*pgxpool.Pool, error) {
	serverOnce.Do(func() {
		if server, serverErr = pgtest.New(); serverErr != nil {
			serverErr = fmt.Errorf("cannot start PostgreSQL for the pgstore tests: %w\n%s", serverErr, pgtest.InstallHint)
			return
		}
		ctx := context.Background()
		if sharedPool, serverErr = pgxpool.New(ctx, server.ConnString()); serverErr != nil {
			return
		}
		serverErr = pgstore.CreateTable(ctx, sharedPool)
	})
	return sharedPool, serverErr
}

// newStore is a Store of the tests' server for a fresh grant key.
func newStore(t testing.TB, opts ...pgstore.Option) *pgstore.Store {
	return pgstore.New(testPool(t), newKey(t), opts...)
}

// newKey is a fresh grant key, so that each test has a row of its own.
func newKey(t testing.TB) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%x", t.Name(), b)
}

// newAEAD is an AES-256-GCM with a random key.
func newAEAD(t testing.TB) cipher.AEAD {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return newAEADWithKey(t, key)
}

// newAEADWithKey is an AES-GCM with key.
func newAEADWithKey(t testing.TB, key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}
