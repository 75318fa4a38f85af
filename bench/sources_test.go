package bench

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"golang.org/x/oauth2"
)

const (
	manySources    = 100_000 // idle sources held at once
	concurrentRefs = 64      // refreshes in flight at once
)

// heapAndGoroutines collects garbage and returns the live heap and the number of
// goroutines.
func heapAndGoroutines() (uint64, int) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, runtime.NumGoroutine()
}

// BenchmarkManySources is the first half of workload 5: manySources token
// sources, each with its own valid token, each asked once. It reports the heap
// each source holds (the tokens themselves, made beforehand, are not counted)
// and the goroutines each idle source keeps; ns/op is the time to make and ask
// all of them.
func BenchmarkManySources(b *testing.B) {
	expiry := time.Now().Add(time.Hour)
	ours := make([]*refresh.Tokens, manySources)
	theirs := make([]*oauth2.Token, manySources)
	for i := range manySources {
		at, rt := fmt.Sprintf("gho_%036d", i), fmt.Sprintf("ghr_%076d", i)
		ours[i] = &refresh.Tokens{AccessToken: at, TokenType: "bearer", RefreshToken: rt, ExpiresAt: expiry}
		theirs[i] = &oauth2.Token{AccessToken: at, TokenType: "bearer", RefreshToken: rt, Expiry: expiry}
	}
	measure := func(b *testing.B, makeAll func() any) {
		var bytes, goroutines float64
		for b.Loop() {
			b.StopTimer()
			heap0, g0 := heapAndGoroutines()
			b.StartTimer()
			all := makeAll()
			b.StopTimer()
			heap1, g1 := heapAndGoroutines()
			runtime.KeepAlive(all)
			bytes += float64(int64(heap1)-int64(heap0)) / manySources
			goroutines += float64(g1-g0) / manySources
			b.StartTimer()
		}
		b.ReportMetric(bytes/float64(b.N), "B/source")
		b.ReportMetric(goroutines/float64(b.N), "goroutines/source")
	}
	b.Run("lib=refresh", func(b *testing.B) {
		c := ourClient(cannedTokenURL, &http.Client{Transport: &cannedTransport{}})
		ctx := context.Background()
		measure(b, func() any {
			srcs := make([]*refresh.Source, manySources)
			for i, t := range ours {
				srcs[i] = refresh.NewSource(c, t)
				if _, err := srcs[i].Token(ctx); err != nil {
					b.Fatal(err)
				}
			}
			return srcs
		})
	})
	b.Run("lib=oauth2", func(b *testing.B) {
		conf := theirConfig(cannedTokenURL)
		ctx := theirContext(&http.Client{Transport: &cannedTransport{}})
		measure(b, func() any {
			srcs := make([]oauth2.TokenSource, manySources)
			for i, t := range theirs {
				srcs[i] = conf.TokenSource(ctx, t)
				if _, err := srcs[i].Token(); err != nil {
					b.Fatal(err)
				}
			}
			return srcs
		})
	})
}

// BenchmarkConcurrentRefresh is the second half of workload 5: concurrentRefs
// goroutines refresh against one loopback token endpoint at once; ns/op is the
// inverse of the throughput. client=default leaves each library on its default
// HTTP client (x/oauth2: http.DefaultClient, which keeps 2 idle connections per
// host); client=explicit gives both an http.Client that keeps concurrentRefs.
// It reports refreshes per second and the connections opened per 1000
// refreshes.
func BenchmarkConcurrentRefresh(b *testing.B) {
	srv := newTokenServer(b, 0, "")
	tokenURL := srv.URL + "/oauth2/token"
	parallel := func(b *testing.B, refresh func() error) {
		b.SetParallelism((concurrentRefs + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		defer srv.reportConns(b)()
		start := time.Now()
		b.ReportAllocs()
		defer cpuPerOp(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := refresh(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "refreshes/s")
	}
	for _, client := range []string{"explicit", "default"} {
		b.Run("client="+client+"/lib=refresh", func(b *testing.B) {
			var hc *http.Client
			if client == "explicit" {
				hc = explicitClient(b, concurrentRefs)
			}
			c := ourClient(tokenURL, hc)
			ctx := context.Background()
			parallel(b, func() error {
				_, err := c.Refresh(ctx, benchRefreshToken)
				return err
			})
		})
		b.Run("client="+client+"/lib=oauth2", func(b *testing.B) {
			var hc *http.Client
			if client == "explicit" {
				hc = explicitClient(b, concurrentRefs)
			}
			conf, expired := theirConfig(tokenURL), expiredToken()
			ctx := theirContext(hc)
			parallel(b, func() error {
				_, err := conf.TokenSource(ctx, expired).Token()
				return err
			})
		})
	}
}
