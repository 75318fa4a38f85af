package bench

// Replicas that share one grant through one Store, in one process: each
// replica is a Source with its own Client and HTTP client, and all of them
// cross the expiry of their shared token at once. This file uses only API that
// predates the SharedStore contract, so that it also runs, unchanged, on the
// code before it (issue 13's "before" figure): there MemoryStore is a plain
// Store without a lease.

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

var replicaClient = refreshtest.Client{ID: "replica", Method: refreshtest.AuthNone}

// replicaSet is a token server with rotation and reuse detection on a fake
// clock, and Sources sharing one MemoryStore (through plainStore when plain).
type replicaSet struct {
	clock *refreshtest.Clock
	srv   *refreshtest.Server
	store *refresh.MemoryStore
	srcs  []*refresh.Source
}

// plainStore hides every method of a MemoryStore but Load and Save: a plain
// Store, without a lease.
type plainStore struct{ m *refresh.MemoryStore }

func (p plainStore) Load(ctx context.Context) (*refresh.Tokens, error) { return p.m.Load(ctx) }
func (p plainStore) Save(ctx context.Context, t *refresh.Tokens) error { return p.m.Save(ctx, t) }

func newReplicaSet(b *testing.B, n int, plain bool) *replicaSet {
	clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := refreshtest.NewServer(refreshtest.WithClient(replicaClient), refreshtest.WithClock(clock.Now),
		refreshtest.WithRotation(refreshtest.RotateRefreshTokens), refreshtest.WithReuseDetection(true),
		refreshtest.WithAccessTokenLifetime(time.Hour))
	b.Cleanup(srv.Close)
	rs := &replicaSet{clock: clock, srv: srv,
		store: refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: srv.IssueRefreshToken(replicaClient.ID)})}
	for range n {
		c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient(replicaClient.ID),
			HTTPClient: &http.Client{Transport: &http.Transport{}}, Now: clock.Now}
		var st refresh.Store = rs.store
		if plain {
			st = plainStore{rs.store}
		}
		rs.srcs = append(rs.srcs, refresh.NewSource(c, nil, refresh.WithStore(st)))
	}
	return rs
}

// roundResult is what one expiry round did.
type roundResult struct {
	requests int
	revoked  bool
	waits    []time.Duration
}

// round moves the clock past the tokens' expiry and has goroutines callers per
// replica ask for a token at once. When the server revoked the grant (reuse
// detection), it signs in again: a new refresh token for every replica.
func (rs *replicaSet) round(b *testing.B, goroutines int) roundResult {
	rs.clock.Advance(2 * time.Hour)
	before := len(rs.srv.Requests())
	var mu sync.Mutex
	var res roundResult
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, src := range rs.srcs {
		for range goroutines {
			wg.Go(func() {
				<-start
				t0 := time.Now()
				_, err := src.Token(context.Background())
				mu.Lock()
				defer mu.Unlock()
				res.waits = append(res.waits, time.Since(t0))
				if errors.Is(err, refresh.ErrInvalidGrant) {
					res.revoked = true
				} else if err != nil {
					b.Errorf("Token: %v", err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	res.requests = len(rs.srv.Requests()) - before
	if t, _ := rs.store.Load(context.Background()); t == nil || rs.srv.State(t.RefreshToken) == refreshtest.Revoked {
		res.revoked = true
	}
	if res.revoked {
		rt := rs.srv.IssueRefreshToken(replicaClient.ID)
		for _, src := range rs.srcs {
			if err := src.SetTokens(context.Background(), &refresh.Tokens{RefreshToken: rt}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return res
}

// BenchmarkReplicaRevocations is issue 13's before-and-after figure: 4 busy
// replicas (8 callers each) share one Store over 200 rotations, and it reports
// at how many of them the server's reuse detection revoked the grant.
// store=memory is a MemoryStore (a SharedStore since issue 13, a plain Store
// before); store=plain hides its lease. Run it once: -benchtime=1x.
func BenchmarkReplicaRevocations(b *testing.B) {
	const replicas, goroutines, rotations = 4, 8, 200
	for _, plain := range []bool{false, true} {
		name := "store=memory"
		if plain {
			name = "store=plain"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				rs := newReplicaSet(b, replicas, plain)
				revocations, requests := 0, 0
				for range rotations {
					r := rs.round(b, goroutines)
					requests += r.requests
					if r.revoked {
						revocations++
					}
				}
				b.ReportMetric(float64(revocations), "revocations/200-rotations")
				b.ReportMetric(float64(requests)/rotations, "requests/rotation")
			}
		})
	}
}

// BenchmarkSharedHerd is the in-process herd: 8 Sources sharing one
// MemoryStore, 100 callers each, at expiry; one op is one round. It reports
// the token requests per round, the revocations, and the p50 and p99 time a
// caller waited.
func BenchmarkSharedHerd(b *testing.B) {
	const replicas, goroutines = 8, 100
	rs := newReplicaSet(b, replicas, false)
	var waits []time.Duration
	requests, revocations, rounds := 0, 0, 0
	for b.Loop() {
		r := rs.round(b, goroutines)
		requests += r.requests
		if r.revoked {
			revocations++
		}
		waits = append(waits, r.waits...)
		rounds++
	}
	slices.Sort(waits)
	b.ReportMetric(float64(requests)/float64(rounds), "requests/round")
	b.ReportMetric(float64(revocations)/float64(rounds), "revocations/round")
	reportWaits(b, waits)
}
