package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/pgstore"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// BenchmarkRefreshRoundTrips makes the calls of one refresh through the store,
// as a Source does under the lease, and reports the time of each round trip:
// acquire, load, the token request (refreshtest on loopback, rotating), save
// and release. ns/op is the whole refresh.
func BenchmarkRefreshRoundTrips(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []pgstore.Option
	}{
		{"clear", nil},
		{"sealed", []pgstore.Option{pgstore.WithAEAD("k1", newAEAD(b))}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{ID: "app", Method: refreshtest.AuthNone}),
				refreshtest.WithRotation(refreshtest.RotateRefreshTokens), refreshtest.WithReuseDetection(true))
			defer srv.Close()
			c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient("app"), HTTPClient: srv.Client()}
			st := pgstore.New(testPool(b), newKey(b), bc.opts...)
			ctx := context.Background()
			if err := st.Save(ctx, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken("app")}); err != nil {
				b.Fatal(err)
			}
			var phase [5]time.Duration
			lap := func(i int, start time.Time) time.Time {
				now := time.Now()
				phase[i] += now.Sub(start)
				return now
			}
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				l, err := st.Acquire(ctx, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				t0 = lap(0, t0)
				tok, err := l.Load(ctx)
				if err != nil {
					b.Fatal(err)
				}
				t0 = lap(1, t0)
				next, err := c.Refresh(ctx, tok.RefreshToken)
				if err != nil {
					b.Fatal(err)
				}
				t0 = lap(2, t0)
				if err := l.Save(ctx, next); err != nil {
					b.Fatal(err)
				}
				t0 = lap(3, t0)
				if err := l.Release(ctx); err != nil {
					b.Fatal(err)
				}
				lap(4, t0)
			}
			for i, name := range []string{"acquire", "load", "request", "save", "release"} {
				b.ReportMetric(float64(phase[i].Microseconds())/float64(b.N), name+"-µs/op")
			}
		})
	}
}
