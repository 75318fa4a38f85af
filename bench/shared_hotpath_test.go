package bench

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
)

// countingStore is a SharedStore over a MemoryStore that counts every call,
// its Lease's included.
type countingStore struct {
	*refresh.MemoryStore
	calls atomic.Int64
}

func (s *countingStore) Load(ctx context.Context) (*refresh.Tokens, error) {
	s.calls.Add(1)
	return s.MemoryStore.Load(ctx)
}

func (s *countingStore) Save(ctx context.Context, t *refresh.Tokens) error {
	s.calls.Add(1)
	return s.MemoryStore.Save(ctx, t)
}

func (s *countingStore) Acquire(ctx context.Context, ttl time.Duration) (refresh.Lease, error) {
	s.calls.Add(1)
	return s.MemoryStore.Acquire(ctx, ttl)
}

// BenchmarkTransportHotPathSharedStore is BenchmarkTransportHotPath's
// lib=refresh with no store and with a SharedStore: a request through
// Transport with a valid cached token is the same work either way, and makes
// no store call (store-calls/op, which must be 0).
func BenchmarkTransportHotPathSharedStore(b *testing.B) {
	canned := &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: http.NoBody}
	tokens := &refresh.Tokens{AccessToken: benchAccessToken, TokenType: "bearer", RefreshToken: benchRefreshToken,
		ExpiresAt: time.Now().Add(24 * time.Hour)}
	for _, tc := range []struct {
		name  string
		store *countingStore
	}{
		{"store=none", nil},
		{"store=shared", &countingStore{MemoryStore: refresh.NewMemoryStore(tokens)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var opts []refresh.SourceOption
			if tc.store != nil {
				opts = append(opts, refresh.WithStore(tc.store))
			}
			src := refresh.NewSource(ourClient(cannedTokenURL, &http.Client{Transport: &cannedTransport{}}), tokens, opts...)
			rt := &refresh.Transport{Source: src, Base: stubRoundTripper{canned}}
			req, err := http.NewRequest(http.MethodGet, "https://api.example/v1/items?page=2", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			defer cpuPerOp(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if resp, err := rt.RoundTrip(req); err != nil || resp != canned {
						b.Errorf("RoundTrip = %v, %v", resp, err)
						return
					}
				}
			})
			if tc.store != nil {
				b.ReportMetric(float64(tc.store.calls.Load())/float64(b.N), "store-calls/op")
			}
		})
	}
}
