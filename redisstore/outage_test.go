package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/redisstore"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// TestSourcesSurviveAnOutage stops Redis (persistence on, as the package doc
// asks) under two replicas' Sources: a valid cached token is still served, an
// expired one gives a *refresh.StoreError, and once Redis is back both
// recover with one refresh and no reuse.
func TestSourcesSurviveAnOutage(t *testing.T) {
	redisSrv := startRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := tokenServer(t, clock)
	first := srv.IssueRefreshToken(replicaClient.ID)
	if err := redisstore.New(redisSrv.Client(t), "shared-grant").Save(t.Context(), &refresh.Tokens{RefreshToken: first}); err != nil {
		t.Fatal(err)
	}
	a := replicaSource(t, srv, clock, redisSrv.Addr)
	b := replicaSource(t, srv, clock, redisSrv.Addr)
	ctx := t.Context()
	if _, err := a.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if err := redisSrv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Token(ctx); err != nil {
		t.Errorf("Token with a valid cached token during the outage: %v", err)
	}
	clock.Advance(2 * time.Hour)
	for name, src := range map[string]*refresh.Source{"the replica that refreshed": a, "the other": b} {
		var se *refresh.StoreError
		if _, err := src.Token(ctx); !errors.As(err, &se) {
			t.Errorf("%s: Token with no valid token during the outage = %v; want a *refresh.StoreError", name, err)
		}
	}
	if err := redisSrv.Start(); err != nil {
		t.Fatal(err)
	}
	before := len(srv.Requests())
	clock.Advance(time.Minute) // past the Sources' backoff after the failed runs
	for name, src := range map[string]*refresh.Source{"the replica that refreshed": a, "the other": b} {
		tok, err := src.Token(ctx)
		if err != nil {
			t.Fatalf("%s: Token after Redis is back: %v", name, err)
		}
		if !tok.ExpiresAt.After(clock.Now()) {
			t.Errorf("%s: Token returned an expired token", name)
		}
	}
	if n := len(srv.Requests()) - before; n != 1 {
		t.Errorf("%d token requests after the outage; want 1", n)
	}
	stored, err := redisstore.New(redisSrv.Client(t), "shared-grant").Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.State(stored.RefreshToken); got != refreshtest.Active {
		t.Errorf("the stored refresh token is %v at the server; want Active", got)
	}
}
