package pgstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
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

// BenchmarkReleaseToAcquire measures, in one process, the delay from a
// holder's Release to the return of an Acquire that was waiting for it: the
// NOTIFY, the listener's wake-up and the claim. It reports p50-ms and p99-ms.
func BenchmarkReleaseToAcquire(b *testing.B) {
	p := testPool(b)
	st := pgstore.New(p, newKey(b))
	ctx := context.Background()
	var delays []time.Duration
	for b.Loop() {
		holder, err := st.Acquire(ctx, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		got := make(chan time.Time, 1)
		go func() {
			l, err := st.Acquire(ctx, time.Minute)
			if err != nil {
				b.Error(err)
				got <- time.Time{}
				return
			}
			got <- time.Now()
			_ = l.Release(ctx)
		}()
		for listening(b, p) == 0 { // the waiter is listening: set-up, not timed
			time.Sleep(time.Millisecond)
		}
		released := time.Now()
		if err := holder.Release(ctx); err != nil {
			b.Fatal(err)
		}
		at := <-got
		delays = append(delays, at.Sub(released))
		for listening(b, p) != 0 { // the waiter's listener has gone
			time.Sleep(time.Millisecond)
		}
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(delays[min(len(delays)*99/100, len(delays)-1)])/1e6, "p99-ms")
}

// listening counts the sessions listening on the default table's channel.
func listening(b *testing.B, p *pgxpool.Pool) int {
	var n int
	if err := p.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN "refresh_tokens"' AND state = 'idle'`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
