package redisstore_test

import (
	"net/http"
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
