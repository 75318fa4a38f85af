package redisstore_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/internal/replicatest"
	"github.com/tokenrefresh/refresh/redisstore"
)

// TestMain lets the test binary run as a replicatest worker: a replica in a
// process of its own.
func TestMain(m *testing.M) { replicatest.Main(m, openReplica) }

// openReplica opens a replica's store of grant key on the Redis server at
// addr, with a client of its own.
func openReplica(addr, key string) (refresh.SharedStore, error) {
	return redisstore.New(redis.NewClient(&redis.Options{Addr: addr}), key), nil
}

// replicaBackend starts a redis-server for the replica scenarios. It runs
// with every write fsynced to its append-only file, as the package doc asks
// of a Redis that holds tokens: Stop kills it, and Start brings it back with
// what it held.
func replicaBackend(t testing.TB) replicatest.Backend {
	srv := startRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	return replicatest.Backend{Addr: srv.Addr, Open: openReplica, Stop: srv.Stop, Start: srv.Start}
}

// TestReplicas runs the replica scenarios, each replica a separate process,
// against a real redis-server and a refreshtest server with rotation and
// reuse detection.
func TestReplicas(t *testing.T) {
	t.Run("herd", func(t *testing.T) { replicatest.Herd(t, replicaBackend(t)) })
	t.Run("sustained", func(t *testing.T) { replicatest.Sustained(t, replicaBackend(t)) })
	t.Run("kill", func(t *testing.T) { replicatest.Kill(t, replicaBackend(t)) })
	t.Run("outage", func(t *testing.T) { replicatest.Outage(t, replicaBackend(t)) })
}

// BenchmarkReplicaWakeup measures, across processes, the delay from the lease
// holder's save to a waiting replica's Token return (p50-ms, p99-ms).
func BenchmarkReplicaWakeup(b *testing.B) { replicatest.Wakeup(b, replicaBackend(b)) }
