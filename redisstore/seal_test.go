package redisstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh/redisstore"
)

func TestSeal(t *testing.T) {
	rdb := startRedis(t).Client(t)
	ctx := t.Context()
	k1, k2 := newAEAD(t, 1), newAEAD(t, 2)
	tok := fullTokens(t)
	hash := func(grant string) map[string]string {
		return rdb.HGetAll(ctx, "refresh:{"+grant+"}:tokens").Val()
	}

	t.Run("sealed tokens hold no token text, and name their key ID", func(t *testing.T) {
		if err := redisstore.New(rdb, "sealed", redisstore.WithAEAD("k1", k1)).Save(ctx, tok); err != nil {
			t.Fatal(err)
		}
		h := hash("sealed")
		if h["k"] != "k1" {
			t.Errorf("stored key ID %q; want k1", h["k"])
		}
		for _, s := range []string{secretAccess, secretRefresh, secretID, secretExtra, "Bearer"} {
			if strings.Contains(h["d"], s) {
				t.Errorf("the stored data shows %q", s)
			}
		}
	})

	t.Run("keys rotate: the old key opens, the new one seals", func(t *testing.T) {
		if err := redisstore.New(rdb, "rotate", redisstore.WithAEAD("k1", k1)).Save(ctx, tok); err != nil {
			t.Fatal(err)
		}
		s := redisstore.New(rdb, "rotate", redisstore.WithAEAD("k2", k2), redisstore.WithOldKey("k1", k1))
		got, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffTokens(tok, got); d != "" {
			t.Errorf("Load of tokens sealed with the old key (-want +got):\n%s", d)
		}
		if err := s.Save(ctx, got); err != nil {
			t.Fatal(err)
		}
		if k := hash("rotate")["k"]; k != "k2" {
			t.Errorf("stored key ID %q after a save; want k2", k)
		}
		got, err = redisstore.New(rdb, "rotate", redisstore.WithAEAD("k2", k2)).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffTokens(tok, got); d != "" {
			t.Errorf("Load with only the new key (-want +got):\n%s", d)
		}
	})

	t.Run("plain tokens are read, and sealed by the next save", func(t *testing.T) {
		if err := redisstore.New(rdb, "plain").Save(ctx, tok); err != nil {
			t.Fatal(err)
		}
		s := redisstore.New(rdb, "plain", redisstore.WithAEAD("k1", k1))
		got, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffTokens(tok, got); d != "" {
			t.Errorf("Load of plain tokens (-want +got):\n%s", d)
		}
		if err := s.Save(ctx, got); err != nil {
			t.Fatal(err)
		}
		if k := hash("plain")["k"]; k != "k1" {
			t.Errorf("stored key ID %q after a save; want k1", k)
		}
	})

	failures := []struct {
		name    string
		grant   string
		load    *redisstore.Store
		tamper  func(grant string)
		wantErr error
	}{
		{
			name:    "a key ID no option gives",
			grant:   "fail-0",
			load:    redisstore.New(rdb, "fail-0", redisstore.WithAEAD("k2", k2)),
			wantErr: redisstore.ErrUnknownKeyID,
		},
		{
			name:  "the wrong key under the right ID",
			grant: "fail-1",
			load:  redisstore.New(rdb, "fail-1", redisstore.WithAEAD("k1", k2)),
		},
		{
			name:  "changed data",
			grant: "fail-2",
			load:  redisstore.New(rdb, "fail-2", redisstore.WithAEAD("k1", k1)),
			tamper: func(g string) {
				d := []byte(hash(g)["d"])
				d[len(d)/2] ^= 1
				rdb.HSet(ctx, "refresh:{"+g+"}:tokens", "d", d)
			},
		},
		{
			name:   "data cut short",
			grant:  "fail-3",
			load:   redisstore.New(rdb, "fail-3", redisstore.WithAEAD("k1", k1)),
			tamper: func(g string) { rdb.HSet(ctx, "refresh:{"+g+"}:tokens", "d", hash(g)["d"][:5]) },
		},
		{
			name:  "data moved from another grant",
			grant: "fail-4",
			load:  redisstore.New(rdb, "fail-4", redisstore.WithAEAD("k1", k1)),
			tamper: func(g string) {
				rdb.HSet(ctx, "refresh:{"+g+"}:tokens", "d", hash("sealed")["d"])
			},
		},
	}
	for _, tc := range failures {
		t.Run(tc.name+" fails Load without showing a token", func(t *testing.T) {
			grant := tc.grant
			if err := redisstore.New(rdb, grant, redisstore.WithAEAD("k1", k1)).Save(ctx, tok); err != nil {
				t.Fatal(err)
			}
			if tc.tamper != nil {
				tc.tamper(grant)
			}
			got, err := tc.load.Load(ctx)
			if err == nil || got != nil {
				t.Fatalf("Load = %v, %v; want an error", got, err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Load = %v; want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), grant) {
				t.Errorf("the error %q does not name the grant", err)
			}
			noSecret(t, err)
		})
	}

	t.Run("a lease's fenced Save seals too", func(t *testing.T) {
		s := redisstore.New(rdb, "lease-sealed", redisstore.WithAEAD("k1", k1))
		l, err := s.Acquire(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		if err := l.Save(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if k := hash("lease-sealed")["k"]; k != "k1" {
			t.Errorf("stored key ID %q; want k1", k)
		}
		got, err := l.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffTokens(tok, got); d != "" {
			t.Errorf("Lease.Load (-want +got):\n%s", d)
		}
	})
}
