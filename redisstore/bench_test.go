package redisstore_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/redisstore"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// BenchmarkRefreshThroughStore is one refresh as a Source with a Store makes
// it, step by step against a redis-server and a refreshtest token server on
// loopback: take the lease, load under it, the token request, the fenced save,
// the release. It reports each step's mean in µs (lease-µs, load-µs,
// token-µs, save-µs, release-µs) beside ns/op for the whole.
func BenchmarkRefreshThroughStore(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []redisstore.Option
	}{
		{"plain", nil},
		{"sealed", []redisstore.Option{redisstore.WithAEAD("k1", newAEAD(b, 1))}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rdb := startRedis(b).Client(b)
			srv := refreshtest.NewServer(refreshtest.WithClient(replicaClient),
				refreshtest.WithRotation(refreshtest.RotateRefreshTokens))
			b.Cleanup(srv.Close)
			c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient(replicaClient.ID),
				HTTPClient: &http.Client{Transport: srv.Client().Transport}}
			s := redisstore.New(rdb, "bench", bc.opts...)
			ctx := b.Context()
			if err := s.Save(ctx, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken(replicaClient.ID)}); err != nil {
				b.Fatal(err)
			}
			var steps [5]time.Duration
			step := func(i int, start time.Time) time.Time {
				now := time.Now()
				steps[i] += now.Sub(start)
				return now
			}
			for b.Loop() {
				t0 := time.Now()
				l, err := s.Acquire(ctx, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				t0 = step(0, t0)
				stored, err := l.Load(ctx)
				if err != nil {
					b.Fatal(err)
				}
				t0 = step(1, t0)
				tok, err := c.Refresh(ctx, stored.RefreshToken)
				if err != nil {
					b.Fatal(err)
				}
				t0 = step(2, t0)
				if err := l.Save(ctx, tok); err != nil {
					b.Fatal(err)
				}
				t0 = step(3, t0)
				if err := l.Release(ctx); err != nil {
					b.Fatal(err)
				}
				step(4, t0)
			}
			for i, name := range []string{"lease-µs", "load-µs", "token-µs", "save-µs", "release-µs"} {
				b.ReportMetric(float64(steps[i].Microseconds())/float64(b.N), name)
			}
		})
	}
}

// BenchmarkWakeup measures, in one process with two Redis clients, the delay
// from a lease holder's Save to the moment a replica waiting in Acquire holds
// the lease and has loaded what was saved (the holder releases right after
// saving, as a Source does). It reports p50-ms and p99-ms.
func BenchmarkWakeup(b *testing.B) {
	srv := startRedis(b)
	holderRDB, waiterRDB := srv.Client(b), srv.Client(b)
	holder, waiter := redisstore.New(holderRDB, "wakeup"), redisstore.New(waiterRDB, "wakeup")
	ctx := b.Context()
	tok := fullTokens(b)
	var delays []time.Duration
	for b.Loop() {
		l, err := holder.Acquire(ctx, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		got := make(chan time.Time, 1)
		go func() {
			wl, err := waiter.Acquire(ctx, time.Minute)
			if err == nil {
				_, err = wl.Load(ctx)
			}
			if err != nil {
				b.Error(err)
			}
			got <- time.Now()
			if err == nil {
				wl.Release(ctx)
			}
		}()
		waitSubscribed(b, holderRDB, "refresh:{wakeup}:wake")
		if _, err := l.Load(ctx); err != nil {
			b.Fatal(err)
		}
		saved := time.Now()
		if err := l.Save(ctx, tok); err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			b.Fatal(err)
		}
		delays = append(delays, (<-got).Sub(saved))
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-ms")
}
