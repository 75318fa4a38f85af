package bench

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
)

// The grant manager (refresh.Manager): memory per grant, a cold grant's first
// token, and the hot path through its Transport.

// manyGrants is the number of grants BenchmarkManagerMemory makes active, then
// lets go idle.
const manyGrants = 100_000

// benchClock is a clock the benchmarks move by hand, for Client.Now.
type benchClock struct{ ns atomic.Int64 }

func newBenchClock() *benchClock {
	c := &benchClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *benchClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *benchClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// loadCountingStore is a plain Store (no lease) over a MemoryStore that counts
// its loads.
type loadCountingStore struct {
	st    *refresh.MemoryStore
	loads *atomic.Int64
}

func (s loadCountingStore) Load(ctx context.Context) (*refresh.Tokens, error) {
	s.loads.Add(1)
	return s.st.Load(ctx)
}

func (s loadCountingStore) Save(ctx context.Context, t *refresh.Tokens) error {
	return s.st.Save(ctx, t)
}

// loadCountingSharedStore is a MemoryStore, lease included, that counts the loads
// made under its lease.
type loadCountingSharedStore struct {
	*refresh.MemoryStore
	loads *atomic.Int64
}

func (s loadCountingSharedStore) Acquire(ctx context.Context, ttl time.Duration) (refresh.Lease, error) {
	l, err := s.MemoryStore.Acquire(ctx, ttl)
	if err != nil {
		return nil, err
	}
	return loadCountingLease{l, s.loads}, nil
}

type loadCountingLease struct {
	refresh.Lease
	loads *atomic.Int64
}

func (l loadCountingLease) Load(ctx context.Context) (*refresh.Tokens, error) {
	l.loads.Add(1)
	return l.Lease.Load(ctx)
}

// grantTokens returns the stored tokens of grant i, valid for a day.
func grantTokens(i int, now time.Time) *refresh.Tokens {
	return &refresh.Tokens{AccessToken: fmt.Sprintf("gho_%036d", i), TokenType: "bearer",
		RefreshToken: fmt.Sprintf("ghr_%076d", i), ExpiresAt: now.Add(24 * time.Hour), IssuedAt: now}
}

// BenchmarkManagerMemory makes manyGrants grants active through one Manager
// (each asked for its token once, which loads it from the grant's Store),
// then lets them all go idle past the idle limit and has one more call sweep
// them. It reports the heap each active grant holds in the Manager (its
// Source, the tokens loaded into it, its map entry) and what each evicted one
// still holds (target 0), and how long the call that sweeps them out takes
// (sweep-ns; every other call waits for it). The Stores and keys, which are the caller's, are
// made beforehand and not counted; ns/op is the time to activate them all.
func BenchmarkManagerMemory(b *testing.B) {
	clock := newBenchClock()
	c := ourClient(cannedTokenURL, &http.Client{Transport: &cannedTransport{}})
	c.Now = clock.Now
	keys := make([]string, manyGrants)
	stores := make(map[string]refresh.Store, manyGrants)
	var loads atomic.Int64
	for i := range manyGrants {
		keys[i] = fmt.Sprintf("user-%06d", i)
		stores[keys[i]] = loadCountingStore{refresh.NewMemoryStore(grantTokens(i, clock.Now())), &loads}
	}
	grants := func(key string) (refresh.Grant, error) { return refresh.Grant{Store: stores[key]}, nil }
	ctx := context.Background()
	var active, evicted, sweep float64
	for b.Loop() {
		b.StopTimer()
		m, err := refresh.NewManager(c, grants, refresh.WithIdleLimit(time.Minute))
		if err != nil {
			b.Fatal(err)
		}
		heap0, _ := heapAndGoroutines()
		b.StartTimer()
		for _, key := range keys {
			if _, err := m.Token(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		heap1, _ := heapAndGoroutines()
		clock.Advance(2 * time.Minute)
		start := time.Now()
		if _, err := m.Token(ctx, keys[0]); err != nil { // sweeps the others out
			b.Fatal(err)
		}
		sweep += float64(time.Since(start).Nanoseconds())
		heap2, _ := heapAndGoroutines()
		if n := m.Len(); n != 1 {
			b.Fatalf("Len = %d after the sweep, want 1", n)
		}
		runtime.KeepAlive(m)
		active += float64(int64(heap1)-int64(heap0)) / manyGrants
		// The one grant still active costs what an active grant does.
		evicted += (float64(int64(heap2)-int64(heap0)) - float64(int64(heap1)-int64(heap0))/manyGrants) / (manyGrants - 1)
		b.StartTimer()
	}
	b.ReportMetric(active/float64(b.N), "B/active-grant")
	b.ReportMetric(evicted/float64(b.N), "B/evicted-grant")
	b.ReportMetric(float64(loads.Load())/float64(b.N)/(manyGrants+1), "store-loads/grant")
	b.ReportMetric(sweep/float64(b.N), "sweep-ns")
}

// BenchmarkManagerColdGrant is the time to a first token for a grant the
// Manager does not hold: it makes the grant's Source and loads its tokens,
// still valid, from the Store, so no token request is made. store=plain is a
// Store without a lease; store=shared a MemoryStore, whose load runs under
// the grant's lease as redisstore's and pgstore's do. It reports the store
// loads and the token requests per cold grant (targets 1 and 0).
func BenchmarkManagerColdGrant(b *testing.B) {
	for _, shared := range []bool{false, true} {
		b.Run(fmt.Sprintf("store=%s", map[bool]string{false: "plain", true: "shared"}[shared]), func(b *testing.B) {
			clock := newBenchClock()
			tr := &cannedTransport{}
			c := ourClient(cannedTokenURL, &http.Client{Transport: tr})
			c.Now = clock.Now
			var loads atomic.Int64
			mem := refresh.NewMemoryStore(grantTokens(1, clock.Now()))
			var st refresh.Store = loadCountingStore{mem, &loads}
			if shared {
				st = loadCountingSharedStore{mem, &loads}
			}
			m, err := refresh.NewManager(c, func(string) (refresh.Grant, error) { return refresh.Grant{Store: st}, nil })
			if err != nil {
				b.Fatal(err)
			}
			keys := make([]string, b.N)
			for i := range keys {
				keys[i] = fmt.Sprint("user-", i)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := m.Token(ctx, keys[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(loads.Load())/float64(b.N), "store-loads/grant")
			b.ReportMetric(float64(tr.calls.Load())/float64(b.N), "requests/grant")
		})
	}
}

// BenchmarkManagerTransportHotPath is a request with a valid cached token
// through the Manager's Transport, against a bare Source's Transport (the
// same benchmark as BenchmarkTransportHotPath's lib=refresh), from
// b.RunParallel goroutines. grants=1: every request names one grant;
// grants=1000: the goroutines spread their requests over 1000 active grants.
func BenchmarkManagerTransportHotPath(b *testing.B) {
	canned := &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: http.NoBody}
	base := stubRoundTripper{canned}
	now := time.Now()
	c := ourClient(cannedTokenURL, &http.Client{Transport: &cannedTransport{}})
	newRequest := func(b *testing.B, ctx context.Context) *http.Request {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example/v1/items?page=2", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "bench")
		return req
	}
	run := func(b *testing.B, rt http.RoundTripper, reqs []*http.Request) {
		for _, req := range reqs { // warm: every grant holds its token
			if resp, err := rt.RoundTrip(req); err != nil || resp != canned {
				b.Fatalf("RoundTrip = %v, %v", resp, err)
			}
		}
		var next atomic.Int64
		b.ReportAllocs()
		defer cpuPerOp(b)()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			req := reqs[int(next.Add(1))%len(reqs)]
			for i := 0; pb.Next(); i++ {
				if len(reqs) > 1 {
					req = reqs[int(next.Add(1))%len(reqs)]
				}
				resp, err := rt.RoundTrip(req)
				if err != nil || resp != canned {
					b.Errorf("RoundTrip = %v, %v", resp, err)
					return
				}
			}
		})
	}
	b.Run("lib=source", func(b *testing.B) {
		src := refresh.NewSource(c, grantTokens(0, now))
		run(b, &refresh.Transport{Source: src, Base: base}, []*http.Request{newRequest(b, context.Background())})
	})
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("lib=manager/grants=%d", n), func(b *testing.B) {
			stores := make(map[string]refresh.Store, n)
			reqs := make([]*http.Request, n)
			for i := range n {
				key := fmt.Sprint("user-", i)
				stores[key] = refresh.NewMemoryStore(grantTokens(i, now))
				reqs[i] = newRequest(b, refresh.WithGrantKey(context.Background(), key))
			}
			m, err := refresh.NewManager(c, func(key string) (refresh.Grant, error) { return refresh.Grant{Store: stores[key]}, nil })
			if err != nil {
				b.Fatal(err)
			}
			run(b, &refresh.ManagerTransport{Manager: m, Base: base}, reqs)
		})
	}
}
