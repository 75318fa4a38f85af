package redisstore_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/internal/storetest"
	"github.com/tokenrefresh/refresh/redisstore"
)

// TestContract runs the SharedStore contract suite against a real
// redis-server: plain, with the tokens sealed, through a Cluster client of a
// one-node Redis Cluster (which refuses a script whose keys are in two slots),
// and through a Sentinel failover client.
func TestContract(t *testing.T) {
	srv := startRedis(t)
	var grants atomic.Int64
	run := func(t *testing.T, rdb redis.UniversalClient, opts ...redisstore.Option) {
		storetest.Run(t, func(t *testing.T) refresh.SharedStore {
			key := fmt.Sprintf("contract-%d", grants.Add(1))
			return redisstore.New(rdb, key, opts...)
		})
	}
	t.Run("plain", func(t *testing.T) { run(t, srv.Client(t)) })
	t.Run("sealed", func(t *testing.T) {
		run(t, srv.Client(t), redisstore.WithAEAD("k1", newAEAD(t, 1)))
	})
	t.Run("cluster", func(t *testing.T) { run(t, startCluster(t)) })
	t.Run("sentinel", func(t *testing.T) { run(t, startSentinel(t, srv)) })
}
