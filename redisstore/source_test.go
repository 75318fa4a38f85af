package redisstore_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/redisstore"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// replicaClient is the public client registered at the token server.
var replicaClient = refreshtest.Client{ID: "replica", Method: refreshtest.AuthNone}

// tokenServer starts a refreshtest server with rotation and reuse detection,
// on clock.
func tokenServer(t testing.TB, clock *refreshtest.Clock) *refreshtest.Server {
	srv := refreshtest.NewServer(refreshtest.WithClient(replicaClient), refreshtest.WithClock(clock.Now),
		refreshtest.WithRotation(refreshtest.RotateRefreshTokens), refreshtest.WithReuseDetection(true),
		refreshtest.WithAccessTokenLifetime(time.Hour))
	t.Cleanup(srv.Close)
	return srv
}

// replicaSource is one replica's Source: its own Client, its own Redis
// client and its own Store of the shared grant.
func replicaSource(t testing.TB, srv *refreshtest.Server, clock *refreshtest.Clock, redisAddr string) *refresh.Source {
	rdb := (&redisServer{Addr: redisAddr}).Client(t)
	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient(replicaClient.ID),
		HTTPClient: &http.Client{Transport: srv.Client().Transport}, Now: clock.Now}
	return refresh.NewSource(c, nil, refresh.WithStore(redisstore.New(rdb, "shared-grant")))
}

// TestSourcesShareAGrant: 6 Sources, each with its own Redis client as a
// replica has, 50 goroutines each asking for a token at expiry, over 10
// rounds: one token request per round, and the server never sees a refresh
// token twice (reuse detection would revoke the grant).
func TestSourcesShareAGrant(t *testing.T) {
	const sources, goroutines, rounds = 6, 50, 10
	redisSrv := startRedis(t)
	clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := tokenServer(t, clock)
	first := srv.IssueRefreshToken(replicaClient.ID)
	if err := redisstore.New(redisSrv.Client(t), "shared-grant").Save(t.Context(), &refresh.Tokens{RefreshToken: first}); err != nil {
		t.Fatal(err)
	}
	srcs := make([]*refresh.Source, sources)
	for i := range srcs {
		srcs[i] = replicaSource(t, srv, clock, redisSrv.Addr)
	}
	var perRound []int
	for range rounds {
		clock.Advance(2 * time.Hour) // every token has expired
		before := len(srv.Requests())
		var wg sync.WaitGroup
		errs := make(chan error, sources*goroutines)
		start := make(chan struct{})
		for _, src := range srcs {
			for range goroutines {
				wg.Go(func() {
					<-start
					tok, err := src.Token(t.Context())
					switch {
					case err != nil:
						errs <- err
					case !tok.ExpiresAt.After(clock.Now()):
						errs <- fmt.Errorf("Token returned an expired token")
					}
				})
			}
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		perRound = append(perRound, len(srv.Requests())-before)
	}
	want := make([]int, rounds)
	for i := range want {
		want[i] = 1
	}
	if d := cmp.Diff(want, perRound); d != "" {
		t.Errorf("token requests per round (-want +got):\n%s", d)
	}
	stored, err := redisstore.New(redisSrv.Client(t), "shared-grant").Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.State(stored.RefreshToken); got != refreshtest.Active {
		t.Errorf("the stored refresh token is %v at the server, want Active (first token revoked: %v)",
			got, srv.State(first) == refreshtest.Revoked)
	}
}
