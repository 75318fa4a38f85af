package bench

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"golang.org/x/oauth2"
)

const (
	herdSize    = 1000 // goroutines asking for a token at expiry
	failWaiters = 100  // goroutines asking while the endpoint fails
)

// herd starts n goroutines that call get at once and returns how long each call
// took and how many failed.
func herd(n int, get func() error) (waits []time.Duration, failed int) {
	waits = make([]time.Duration, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			errs[i] = get()
			waits[i] = time.Since(t0)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	return waits, failed
}

// herdStates are the token states the herd finds: expired (everyone must wait
// for the refresh), or expiring, still valid for 5 s of an 8 h lifetime, which
// both libraries refresh: refresh ahead of time in the background, x/oauth2 (whose
// early margin is 10 s) with every caller waiting.
var herdStates = []struct {
	name    string
	expires time.Duration
}{
	{"expired", -time.Minute},
	{"expiring", 5 * time.Second},
}

// BenchmarkHerd is workload 4: herdSize goroutines ask one token source for a
// token at once, at expiry, against a loopback token endpoint. It reports the
// token requests made per herd and the p50 and p99 time a caller waited.
func BenchmarkHerd(b *testing.B) {
	srv := newTokenServer(b, 0, "")
	tokenURL := srv.URL + "/oauth2/token"
	for _, st := range herdStates {
		b.Run("state="+st.name+"/lib=refresh", func(b *testing.B) {
			c := ourClient(tokenURL, explicitClient(b, 2))
			ctx := context.Background()
			var all []time.Duration
			before := srv.requests.Load()
			for b.Loop() {
				now := time.Now()
				src := refresh.NewSource(c, &refresh.Tokens{
					AccessToken: "old", TokenType: "bearer", RefreshToken: benchRefreshToken,
					IssuedAt: now.Add(-8 * time.Hour), ExpiresAt: now.Add(st.expires),
				})
				waits, failed := herd(herdSize, func() error {
					_, err := src.Token(ctx)
					return err
				})
				if failed > 0 {
					b.Fatalf("%d callers failed", failed)
				}
				// A refresh ahead of time ends in the background: wait for it,
				// so that its request is counted with this herd.
				for {
					t, err := src.Token(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if t.AccessToken == benchAccessToken {
						break
					}
					runtime.Gosched()
				}
				all = append(all, waits...)
			}
			b.ReportMetric(float64(srv.requests.Load()-before)/float64(b.N), "requests/op")
			reportWaits(b, all)
		})
		b.Run("state="+st.name+"/lib=oauth2", func(b *testing.B) {
			conf := theirConfig(tokenURL)
			ctx := theirContext(explicitClient(b, 2))
			var all []time.Duration
			before := srv.requests.Load()
			for b.Loop() {
				src := conf.TokenSource(ctx, &oauth2.Token{
					AccessToken: "old", TokenType: "bearer", RefreshToken: benchRefreshToken,
					Expiry: time.Now().Add(st.expires),
				})
				waits, failed := herd(herdSize, func() error {
					_, err := src.Token()
					return err
				})
				if failed > 0 {
					b.Fatalf("%d callers failed", failed)
				}
				all = append(all, waits...)
			}
			b.ReportMetric(float64(srv.requests.Load()-before)/float64(b.N), "requests/op")
			reportWaits(b, all)
		})
	}
}

// BenchmarkHerdFailing is the second half of workload 4: failWaiters goroutines
// ask at once for a token that must be refreshed while the endpoint answers 500
// server_error. It reports the token requests the herd made. The failure is one
// that neither library retries, so that the count shows how a herd shares one
// failure; a 503 would add our Client's own retries (two more requests within
// the one run, after waits of about a second) and measure the retry policy instead.
func BenchmarkHerdFailing(b *testing.B) {
	srv := newTokenServer(b, http.StatusInternalServerError, `{"error":"server_error"}`)
	tokenURL := srv.URL + "/oauth2/token"
	b.Run("lib=refresh", func(b *testing.B) {
		c := ourClient(tokenURL, explicitClient(b, 2))
		ctx := context.Background()
		before := srv.requests.Load()
		for b.Loop() {
			src := refresh.NewSource(c, &refresh.Tokens{AccessToken: "old", RefreshToken: benchRefreshToken, ExpiresAt: time.Now().Add(-time.Minute)})
			if _, failed := herd(failWaiters, func() error {
				_, err := src.Token(ctx)
				return err
			}); failed != failWaiters {
				b.Fatalf("%d of %d callers failed", failed, failWaiters)
			}
		}
		b.ReportMetric(float64(srv.requests.Load()-before)/float64(b.N), "requests/op")
	})
	b.Run("lib=oauth2", func(b *testing.B) {
		conf := theirConfig(tokenURL)
		ctx := theirContext(explicitClient(b, 2))
		before := srv.requests.Load()
		for b.Loop() {
			src := conf.TokenSource(ctx, &oauth2.Token{AccessToken: "old", RefreshToken: benchRefreshToken, Expiry: time.Now().Add(-time.Minute)})
			if _, failed := herd(failWaiters, func() error {
				_, err := src.Token()
				return err
			}); failed != failWaiters {
				b.Fatalf("%d of %d callers failed", failed, failWaiters)
			}
		}
		b.ReportMetric(float64(srv.requests.Load()-before)/float64(b.N), "requests/op")
	})
}
