package redisstore_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/refresh/redisstore"
)

// secretPassword is the Redis password of the client a Store is given.
const secretPassword = "REDIS-PW-SECRET-4a5b6c"

// TestNoSecretInText prints a Store (holding a client with a password and a
// sealing key) and a held lease with every fmt verb and both slog handlers,
// and looks for the password, the key and the lease's owner token.
func TestNoSecretInText(t *testing.T) {
	srv := startRedis(t, "--requirepass", secretPassword)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: secretPassword})
	t.Cleanup(func() { rdb.Close() })
	s := redisstore.New(rdb, "grant-1", redisstore.WithAEAD("k2", newAEAD(t, 0xAB)), redisstore.WithOldKey("k1", newAEAD(t, 0xCD)))
	if err := s.Save(t.Context(), fullTokens(t)); err != nil {
		t.Fatal(err)
	}
	l, err := s.Acquire(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	owner := rdb.Get(t.Context(), "refresh:{grant-1}:lease").Val()
	forbidden := []string{secretPassword, owner, strings.Repeat("ab", 8), strings.Repeat("\xab", 8), strings.Repeat("cd", 8)}

	values := []struct {
		name string
		v    any
		want string
	}{
		{"a Store", s, `redisstore.Store{Key:"grant-1", SealKeyID:"k2", KeyIDs:["k1" "k2"]}`},
		{"a lease", l, `redisstore.lease{Key:"grant-1"}`},
	}
	for _, tc := range values {
		t.Run(tc.name+" shows what it describes and no secret", func(t *testing.T) {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t"} {
				text := fmt.Sprintf(verb, tc.v)
				want := tc.want
				if verb == "%q" {
					want = fmt.Sprintf("%q", tc.want)
				}
				if text != want {
					t.Errorf("%s gives %s; want %s", verb, text, want)
				}
			}
			var js, txt bytes.Buffer
			slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", tc.v)
			slog.New(slog.NewTextHandler(&txt, nil)).Info("m", "v", tc.v)
			for _, text := range []string{fmt.Sprintf("%+v", []any{tc.v}), js.String(), txt.String()} {
				for _, f := range forbidden {
					if strings.Contains(strings.ToLower(text), strings.ToLower(f)) {
						t.Errorf("the text shows a secret: %s", text)
					}
				}
				if !strings.Contains(text, "grant-1") {
					t.Errorf("the text does not describe it: %s", text)
				}
			}
		})
	}
}
