package redisstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"testing"
)

// FuzzOpen feeds what Load may find in Redis to the decoder: any bytes under
// no key ID, a known one or an unknown one. It must never panic, and whatever
// it accepts must encode back to the same tokens; sealing what it decoded
// must open again to the same.
func FuzzOpen(f *testing.F) {
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		f.Fatal(err)
	}
	s := New(nil, "fuzz")
	s.err = nil // no client: open and seal send nothing
	if err := WithAEAD("k1", aead)(s); err != nil {
		f.Fatal(err)
	}
	plain := []byte(`{"access_token":"a","token_type":"Bearer","refresh_token":"r","expires_at":"2026-01-01T00:00:00Z","scope":"x y","extra":{"n":1}}`)
	f.Add(plain, "")
	f.Add(sealData(aead, plain, "fuzz"), "k1")
	f.Add(sealData(aead, plain, "other grant"), "k1")
	f.Add([]byte("short"), "k1")
	f.Add(plain, "k2")
	f.Fuzz(func(t *testing.T, data []byte, keyID string) {
		tok, err := s.open(data, keyID)
		if err != nil {
			return
		}
		once, err := json.Marshal(tok)
		if err != nil {
			t.Fatalf("decoded tokens do not encode: %v", err)
		}
		sealed, id, err := s.seal(tok)
		if err != nil || id != "k1" {
			t.Fatalf("seal = %q, %v", id, err)
		}
		again, err := s.open(sealed, id)
		if err != nil {
			t.Fatalf("sealed tokens do not open: %v", err)
		}
		twice, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Errorf("the seal round trip changed the tokens:\n%s\n%s", once, twice)
		}
	})
}
