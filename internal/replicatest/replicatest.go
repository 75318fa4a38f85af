// Package replicatest runs replicas of a service as real OS processes that
// share one grant through a [refresh.SharedStore], against a refreshtest token
// server with rotation and reuse detection, and checks that no refresh token
// is ever presented twice.
//
// The test binary re-executes itself as the workers: os.Args[0] with
// -test.run=^$ and an environment variable naming the worker's role and
// configuration. A store's test package wires it up with TestMain and one test
// per scenario:
//
//	func TestMain(m *testing.M) { replicatest.Main(m, open) }
//
//	func open(addr, key string) (refresh.SharedStore, error) { ... } // a store for key on the server at addr
//
//	func TestReplicas(t *testing.T) {
//		b := replicatest.Backend{Addr: addr, Open: open, Stop: stop, Start: start}
//		t.Run("herd", func(t *testing.T) { replicatest.Herd(t, b) })
//		t.Run("sustained", func(t *testing.T) { replicatest.Sustained(t, b) })
//		t.Run("kill", func(t *testing.T) { replicatest.Kill(t, b) })
//		t.Run("outage", func(t *testing.T) { replicatest.Outage(t, b) })
//	}
//
//	func BenchmarkWakeup(b *testing.B) { replicatest.Wakeup(b, backend) }
//
// The parent runs the token server on loopback and tells each worker its URL,
// the store's address and the grant's key in the environment. It drives the
// workers with JSON lines on their stdin (a herd round, a steady run, a single
// Token call) and reads their counts back as JSON lines on their stdout; a
// worker's stderr goes to the test's log. Reuse is what the token server
// sees: a refresh token presented twice, or the grant revoked.
//
// Each worker's Client runs on a clock the parent can move forward, so that a
// herd round starts with every replica's token expired at once, without
// waiting for it.
package replicatest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
)

// Backend is a store server that the replicas share.
type Backend struct {
	// Addr is how workers reach the store server; it is passed to Open.
	Addr string
	// Open opens the store of grant key on the server at addr. It is called
	// in the parent and in every worker.
	Open func(addr, key string) (refresh.SharedStore, error)
	// Stop stops the store server (the outage scenario).
	Stop func() error
	// Start starts it again on the same Addr, with the data it held.
	Start func() error
}

// Main is called from TestMain with the same open function as
// [Backend.Open]. In a worker process it runs the worker and exits; otherwise
// it runs the tests: os.Exit(m.Run()). Call it before anything else in
// TestMain, and start store servers inside the tests (stopping them with
// t.Cleanup), so that workers, which never return from Main, start none.
func Main(m *testing.M, open func(addr, key string) (refresh.SharedStore, error)) {
	if cfg := os.Getenv(envWorker); cfg != "" {
		if err := runWorker(cfg, open); err != nil {
			fmt.Fprintln(os.Stderr, "replicatest worker:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// envWorker names the environment variable that makes the test binary a
// worker; its value is the worker's configuration as JSON.
const envWorker = "REFRESH_REPLICATEST_WORKER"

// The scenarios' sizes, as issue 13 sets them.
const (
	herdReplicas   = 6
	herdGoroutines = 50
	herdRounds     = 10

	steadyReplicas   = 4
	steadyGoroutines = 4
	sustainedFor     = 10 * time.Second

	killReplicas = 3
)

// refreshTimeout is the workers' WithRefreshTimeout: their lease TTL is twice
// it, which bounds how long the Kill scenario waits for a dead holder's lease.
const refreshTimeout = 2 * time.Second

// tokenLifetime is the access token lifetime of the steady scenarios: a
// rotation about every second.
const tokenLifetime = time.Second

// bound is how long the parent waits for a worker's answer before it fails:
// far longer than anything takes on loopback, a lapsed lease included.
const bound = 60 * time.Second
