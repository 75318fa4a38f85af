package bench

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
)

// countingHooks is a refresh.Hooks whose every func counts its calls in n.
func countingHooks(n *atomic.Int64) refresh.Hooks {
	return refresh.Hooks{
		OnRefreshStart: func(refresh.RefreshStart) { n.Add(1) },
		OnRefreshEnd:   func(refresh.RefreshEnd) { n.Add(1) },
		OnLeaseWait:    func(refresh.LeaseWait) { n.Add(1) },
		OnStoreFailure: func(refresh.StoreFailure) { n.Add(1) },
		OnNonceRetry:   func(refresh.NonceRetry) { n.Add(1) },
	}
}

// BenchmarkTransportHotPathHooks is BenchmarkTransportHotPath's lib=refresh
// with and without hooks: a request with a valid cached token calls no hook,
// so both should cost the same (0 allocs/op beyond the request's copy). It
// fails if a hook was called.
func BenchmarkTransportHotPathHooks(b *testing.B) {
	canned := &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: http.NoBody}
	base := stubRoundTripper{canned}
	expiry := time.Now().Add(24 * time.Hour)
	for _, tc := range []struct {
		name  string
		hooks bool
	}{{"hooks=none", false}, {"hooks=all", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var calls atomic.Int64
			var opts []refresh.SourceOption
			if tc.hooks {
				opts = append(opts, refresh.WithHooks(countingHooks(&calls)))
			}
			src := refresh.NewSource(ourClient(cannedTokenURL, &http.Client{Transport: &cannedTransport{}}), &refresh.Tokens{
				AccessToken: benchAccessToken, TokenType: "bearer", RefreshToken: benchRefreshToken, ExpiresAt: expiry,
			}, opts...)
			rt := &refresh.Transport{Source: src, Base: base}
			req, err := http.NewRequest(http.MethodGet, "https://api.example/v1/items?page=2", nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Accept", "application/json")
			req.Header.Set("User-Agent", "bench")
			b.ReportAllocs()
			defer cpuPerOp(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := rt.RoundTrip(req)
					if err != nil || resp != canned {
						b.Errorf("RoundTrip = %v, %v", resp, err)
						return
					}
				}
			})
			if n := calls.Load(); n != 0 {
				b.Errorf("the hot path called hooks %d times, want 0", n)
			}
		})
	}
}

// BenchmarkRefreshRunHooks is one refresh run of a Source (SetTokens with an
// expired token, then Token refreshes through a canned transport) with and
// without hooks: the cost of the two events of a run.
func BenchmarkRefreshRunHooks(b *testing.B) {
	for _, tc := range []struct {
		name  string
		hooks bool
	}{{"hooks=none", false}, {"hooks=all", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var calls atomic.Int64
			var opts []refresh.SourceOption
			if tc.hooks {
				opts = append(opts, refresh.WithHooks(countingHooks(&calls)))
			}
			src := refresh.NewSource(ourClient(cannedTokenURL, &http.Client{Transport: &cannedTransport{}}), nil, opts...)
			expired := &refresh.Tokens{AccessToken: "old", TokenType: "bearer", RefreshToken: benchRefreshToken,
				ExpiresAt: time.Now().Add(-time.Hour), IssuedAt: time.Now().Add(-2 * time.Hour)}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := src.SetTokens(ctx, expired); err != nil {
					b.Fatal(err)
				}
				if _, err := src.Token(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if tc.hooks && calls.Load() != 2*int64(b.N) {
				b.Errorf("%d hook calls for %d runs, want 2 each", calls.Load(), b.N)
			}
		})
	}
}
