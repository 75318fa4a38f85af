package refresh_test

// The soak test: many refreshes and Transport requests through one Source
// while the token endpoint fails at random. It is opt-in, since it takes a
// while:
//
//	REFRESH_SOAK=1 go test -run '^TestSoak$' -v .
//	go test -run '^TestSoak$' -v . -soak
//
// Every top-level name here starts with "soak" or "TestSoak".

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
)

var soakFlag = flag.Bool("soak", false, "run the soak test (or set REFRESH_SOAK=1)")

// The soak's size: at least this many token refreshes and Transport requests.
const (
	soakRefreshes = 10_000
	soakRequests  = 100_000
	soakWorkers   = 8
)

// soakFaults are the faults the token endpoint picks at random. The slow ones
// (a server that never answers, a trickling body) and the final ones
// (invalid_grant) are left to TestFaults.
var soakFaults = []faultKind{
	faultResetBefore, faultResetMidBody, faultTruncatedJSON, faultHTML502,
	fault503, faultInvalidClient, faultDropAfterRotate, fault307, faultOverCap,
}

func TestSoak(t *testing.T) {
	if !*soakFlag && os.Getenv("REFRESH_SOAK") == "" {
		t.Skip("the soak test is opt-in: set REFRESH_SOAK=1 or pass -soak")
	}
	base := runtime.NumGoroutine()
	start := time.Now()
	clock := &faultClock{}
	srv := faultNewServer(t, clock, false)
	// A token request fails one time in 20, at the dial one time in 100.
	srv.pick = func() faultKind {
		if rand.N(20) == 0 {
			return soakFaults[rand.N(len(soakFaults))]
		}
		return faultNone
	}
	srv.refuse = func() bool { return rand.N(100) == 0 }
	tokenTransport := faultTransport(t, srv)

	// The resource server accepts the access tokens issued and, one request in
	// 200, rejects one as a server that revoked it would (401 invalid_token).
	var api struct {
		mu       sync.Mutex
		rejected int
		unknown  []string
	}
	apiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		if !strings.HasPrefix(authz, "Bearer at-") {
			api.mu.Lock()
			api.unknown = append(api.unknown, authz)
			api.mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if rand.N(200) == 0 {
			api.mu.Lock()
			api.rejected++
			api.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	apiTransport := &http.Transport{MaxIdleConnsPerHost: soakWorkers * 2}

	c := &refresh.Client{
		TokenURL:   srv.url,
		Auth:       refresh.ClientSecretBasic("soak-client", "soak-secret-5d1e"),
		HTTPClient: &http.Client{Transport: tokenTransport, Timeout: 10 * time.Second},
		Now:        clock.now,
		Backoff:    func(refresh.RetryAttempt) time.Duration { return time.Millisecond },
	}
	store := refresh.NewMemoryStore(nil)
	first := srv.grant()
	src := refresh.NewSource(c, first, refresh.WithStore(store), refresh.WithLogger(slog.New(slog.DiscardHandler)))
	hc := &http.Client{Transport: &refresh.Transport{Source: src, Base: apiTransport}}
	issuedAtStart := soakIssued(srv)

	// Workers send requests; every 8th request moves the clock an hour on, so
	// that the token expires and the next request refreshes it.
	var sent, failed atomic.Int64
	var errMu sync.Mutex
	errKinds := map[string]int{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	for range soakWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := sent.Add(1)
				if n > soakRequests && soakIssued(srv)-issuedAtStart >= soakRefreshes {
					return
				}
				if n%8 == 0 {
					clock.advance(time.Hour)
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, apiSrv.URL+"/resource", nil)
				resp, err := hc.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					errKinds[faultErrorKind(err)]++
					errMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the soak did not finish within 20 minutes")
	}
	elapsed := time.Since(start)

	// The server recovers; the Source must hold the working refresh token.
	srv.mu.Lock()
	srv.pick, srv.refuse = nil, nil
	srv.mu.Unlock()
	clock.advance(2 * time.Hour)
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token after the soak: %v", err)
	}
	stored, _ := store.Load(t.Context())
	live := srv.liveToken()
	if tok.RefreshToken != live || stored == nil || stored.RefreshToken != live {
		t.Errorf("the Source holds %q and the Store %v; the server's working refresh token is %q", tok.RefreshToken, stored, live)
	}
	api.mu.Lock()
	if len(api.unknown) > 0 {
		t.Errorf("the resource server got %d requests without an issued token, such as %q", len(api.unknown), api.unknown[0])
	}
	rejected := api.rejected
	api.mu.Unlock()

	apiTransport.CloseIdleConnections()
	apiSrv.Close()
	faultNoLeak(t, base, srv, tokenTransport)
	goroutines := runtime.NumGoroutine()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	srv.mu.Lock()
	injected, tokenRequests := srv.injected, len(srv.seen)
	srv.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %v, %d Transport requests by %d workers, %d token requests read, %d refreshes (tokens issued), %d 401 invalid_token from the resource server\n",
		elapsed.Round(time.Millisecond), sent.Load()-soakWorkers, soakWorkers, tokenRequests, soakIssued(srv)-issuedAtStart, rejected)
	fmt.Fprintf(&b, "faults injected at the token endpoint:\n")
	for _, k := range slices.Sorted(maps.Keys(injected)) {
		fmt.Fprintf(&b, "  %-45s %6d\n", k, injected[k])
	}
	fmt.Fprintf(&b, "Transport requests that failed: %d, by error:\n", failed.Load())
	for _, k := range slices.Sorted(maps.Keys(errKinds)) {
		fmt.Fprintf(&b, "  %-45s %6d\n", k, errKinds[k])
	}
	fmt.Fprintf(&b, "goroutines: %d before, %d after; memory after GC: heap in use %d KiB, heap objects %d, total allocated %d MiB, sys %d MiB, GC cycles %d",
		base, goroutines, ms.HeapInuse>>10, ms.HeapObjects, ms.TotalAlloc>>20, ms.Sys>>20, ms.NumGC)
	t.Log(b.String())
}

func soakIssued(s *faultServer) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}
