package pgstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenrefresh/refresh"
)

// FuzzOpen feeds open, the decoder of a row's data and key_id columns, bytes
// a database might hold: it must return tokens or an error, never panic, and
// tokens it returns must come back the same through seal and open, in the
// clear and sealed.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","token_type":"Bearer","refresh_token":"r","scope":"x y","extra":{"n":1}}`), "", false, "grant")
	f.Add([]byte(`{"access_token":7}`), "", false, "grant")
	f.Add([]byte(`null`), "", false, "g")
	f.Add([]byte{0x01, 0x02}, "k1", true, "grant")
	f.Add([]byte(`{"expires_at":"2025-03-14T16:09:26.5Z"}`), "k0", true, "")
	block, err := aes.NewCipher(bytes.Repeat([]byte{7}, 16))
	if err != nil {
		f.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		f.Fatal(err)
	}
	clear := newConfig(nil)
	sealed := newConfig([]Option{WithAEAD("k1", aead)})
	f.Fuzz(func(t *testing.T, data []byte, keyID string, hasKeyID bool, key string) {
		var id *string
		if hasKeyID {
			id = &keyID
		}
		for _, c := range []config{clear, sealed} {
			tok, err := c.open(key, data, id)
			if err != nil || tok == nil {
				continue
			}
			for _, c2 := range []config{clear, sealed} {
				d, id2, err := c2.seal(key, tok)
				if err != nil {
					t.Fatalf("seal of opened tokens: %v", err)
				}
				back, err := c2.open(key, d, id2)
				if err != nil {
					t.Fatalf("open of sealed tokens: %v", err)
				}
				if diff := cmp.Diff(tok, back, cmp.AllowUnexported(refresh.Tokens{})); diff != "" {
					t.Errorf("seal and open changed the tokens (-opened +again):\n%s", diff)
				}
			}
		}
	})
}
