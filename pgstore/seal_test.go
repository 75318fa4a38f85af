package pgstore_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/pgstore"
)

// row reads a grant's data and key_id columns as they are stored.
func row(t *testing.T, p *pgxpool.Pool, key string) (data []byte, keyID *string) {
	t.Helper()
	if err := p.QueryRow(ctxFor(t), "SELECT data, key_id FROM refresh_tokens WHERE key = $1", key).Scan(&data, &keyID); err != nil {
		t.Fatal(err)
	}
	return data, keyID
}

func sealedTokens() *refresh.Tokens {
	return &refresh.Tokens{AccessToken: "at-sealed-secret", TokenType: "Bearer", RefreshToken: "rt-sealed-secret", Scopes: []string{"a", "b"}}
}

func loadOK(t *testing.T, st refresh.Store, want *refresh.Tokens) {
	t.Helper()
	got, err := st.Load(ctxFor(t))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(refresh.Tokens{})); d != "" {
		t.Errorf("Load (-want +got):\n%s", d)
	}
}

func TestRowEncoding(t *testing.T) {
	p := testPool(t)
	tok := sealedTokens()
	t.Run("in the clear the data column is the Tokens storage encoding", func(t *testing.T) {
		key := newKey(t)
		if err := pgstore.New(p, key).Save(ctxFor(t), tok); err != nil {
			t.Fatal(err)
		}
		data, keyID := row(t, p, key)
		want, _ := json.Marshal(tok)
		if !bytes.Equal(data, want) || keyID != nil {
			t.Errorf("row = %s, key_id %v; want %s, NULL", data, keyID, want)
		}
	})
	t.Run("sealed the data column holds no token and key_id names the key", func(t *testing.T) {
		key := newKey(t)
		if err := pgstore.New(p, key, pgstore.WithAEAD("k1", newAEAD(t))).Save(ctxFor(t), tok); err != nil {
			t.Fatal(err)
		}
		data, keyID := row(t, p, key)
		if bytes.Contains(data, []byte("secret")) || bytes.Contains(data, []byte("Bearer")) {
			t.Errorf("the sealed row shows the tokens: %q", data)
		}
		if keyID == nil || *keyID != "k1" {
			t.Errorf("key_id = %v, want k1", keyID)
		}
	})
	t.Run("a cleared grant has no data", func(t *testing.T) {
		key := newKey(t)
		st := pgstore.New(p, key, pgstore.WithAEAD("k1", newAEAD(t)))
		if err := st.Save(ctxFor(t), tok); err != nil {
			t.Fatal(err)
		}
		if err := st.Save(ctxFor(t), nil); err != nil {
			t.Fatal(err)
		}
		if data, keyID := row(t, p, key); data != nil || keyID != nil {
			t.Errorf("row after Save(nil) = %q, %v; want NULL, NULL", data, keyID)
		}
		loadOK(t, st, nil)
	})
}

func TestKeyRotation(t *testing.T) {
	p := testPool(t)
	k1, k2 := newAEAD(t), newAEAD(t)
	tok := sealedTokens()
	key := newKey(t)
	if err := pgstore.New(p, key, pgstore.WithAEAD("k1", k1)).Save(ctxFor(t), tok); err != nil {
		t.Fatal(err)
	}
	rotated := pgstore.New(p, key, pgstore.WithAEAD("k2", k2), pgstore.WithOldKey("k1", k1))
	loadOK(t, rotated, tok)
	if err := rotated.Save(ctxFor(t), tok); err != nil {
		t.Fatal(err)
	}
	if _, keyID := row(t, p, key); keyID == nil || *keyID != "k2" {
		t.Errorf("key_id after a save with the new key = %v, want k2", keyID)
	}
	loadOK(t, pgstore.New(p, key, pgstore.WithAEAD("k2", k2)), tok)

	for _, tt := range []struct {
		name string
		st   *pgstore.Store
	}{
		{"a Store without keys", pgstore.New(p, key)},
		{"a Store with only the old key", pgstore.New(p, key, pgstore.WithAEAD("k1", k1))},
	} {
		t.Run(tt.name+" fails with ErrUnknownKeyID", func(t *testing.T) {
			got, err := tt.st.Load(ctxFor(t))
			if !errors.Is(err, pgstore.ErrUnknownKeyID) || got != nil {
				t.Errorf("Load = %v, %v; want nil and ErrUnknownKeyID", got, err)
			}
			if err != nil && !strings.Contains(err.Error(), `"k2"`) {
				t.Errorf("the error does not name the key ID: %v", err)
			}
		})
	}
}

func TestSealedRowsDoNotOpenElsewhere(t *testing.T) {
	p := testPool(t)
	aead := newAEAD(t)
	tok := sealedTokens()
	from, to := newKey(t), newKey(t)
	if err := pgstore.New(p, from, pgstore.WithAEAD("k1", aead)).Save(ctxFor(t), tok); err != nil {
		t.Fatal(err)
	}
	t.Run("a wrong key under the row's key ID", func(t *testing.T) {
		_, err := pgstore.New(p, from, pgstore.WithAEAD("k1", newAEAD(t))).Load(ctxFor(t))
		if err == nil || !strings.Contains(err.Error(), `do not open with key ID "k1"`) {
			t.Errorf("Load = %v", err)
		}
	})
	t.Run("a sealed value copied into another grant's row", func(t *testing.T) {
		if _, err := p.Exec(ctxFor(t), "INSERT INTO refresh_tokens (key, data, key_id) SELECT $2, data, key_id FROM refresh_tokens WHERE key = $1", from, to); err != nil {
			t.Fatal(err)
		}
		_, err := pgstore.New(p, to, pgstore.WithAEAD("k1", aead)).Load(ctxFor(t))
		if err == nil || !strings.Contains(err.Error(), "do not open") {
			t.Errorf("Load = %v", err)
		}
	})
	t.Run("a sealed value cut short", func(t *testing.T) {
		key := newKey(t)
		if _, err := p.Exec(ctxFor(t), "INSERT INTO refresh_tokens (key, data, key_id) VALUES ($1, '\\x0102', 'k1')", key); err != nil {
			t.Fatal(err)
		}
		_, err := pgstore.New(p, key, pgstore.WithAEAD("k1", aead)).Load(ctxFor(t))
		if err == nil || !strings.Contains(err.Error(), "too short") {
			t.Errorf("Load = %v", err)
		}
	})
}

func TestSealingCanBeTurnedOn(t *testing.T) {
	p := testPool(t)
	tok := sealedTokens()
	key := newKey(t)
	if err := pgstore.New(p, key).Save(ctxFor(t), tok); err != nil {
		t.Fatal(err)
	}
	sealed := pgstore.New(p, key, pgstore.WithAEAD("k1", newAEAD(t)))
	l, err := sealed.Acquire(ctxFor(t), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Load(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(tok, got, cmp.AllowUnexported(refresh.Tokens{})); d != "" {
		t.Errorf("a row in the clear, loaded by a sealing Store (-want +got):\n%s", d)
	}
	if err := l.Save(ctxFor(t), got); err != nil {
		t.Fatal(err)
	}
	release(t, l)
	if _, keyID := row(t, p, key); keyID == nil || *keyID != "k1" {
		t.Errorf("key_id after the next save = %v, want k1", keyID)
	}
	loadOK(t, sealed, tok)
}

func TestUndecodableRow(t *testing.T) {
	p := testPool(t)
	key := newKey(t)
	if _, err := p.Exec(ctxFor(t), `INSERT INTO refresh_tokens (key, data) VALUES ($1, '{"access_token": 7, "refresh_token": "rt-raw-secret"}')`, key); err != nil {
		t.Fatal(err)
	}
	_, err := pgstore.New(p, key).Load(ctxFor(t))
	if err == nil || !strings.Contains(err.Error(), `"access_token"`) || strings.Contains(err.Error(), "secret") {
		t.Errorf("Load of a row that does not decode = %v; want an error naming the member, without a token", err)
	}
}
