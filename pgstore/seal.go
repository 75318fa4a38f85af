package pgstore

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tokenrefresh/refresh"
)

// ErrUnknownKeyID is wrapped by the error of a load that found tokens sealed
// under a key ID that neither [WithAEAD] nor [WithOldKey] gave.
var ErrUnknownKeyID = errors.New("pgstore: no key given for this key ID")

// The data column holds the Tokens storage encoding (their JSON), in the clear
// when the row's key_id is NULL, and otherwise sealed: the AEAD's nonce, then
// its ciphertext of the JSON, with the grant's key and the key ID as
// additional data.

// seal encodes t for the row of key: the data column's bytes and the key_id
// column's value (nil when stored in the clear). A nil t is no data.
func (c *config) seal(key string, t *refresh.Tokens) (data []byte, keyID *string, err error) {
	if t == nil {
		return nil, nil, nil
	}
	plain, err := json.Marshal(t)
	if err != nil {
		return nil, nil, errors.New("pgstore: the tokens do not encode") // the error could quote a value
	}
	if c.keyID == "" {
		return plain, nil, nil
	}
	aead := c.aeads[c.keyID]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("pgstore: no random nonce: %w", err)
	}
	id := c.keyID
	return aead.Seal(nonce, nonce, plain, additionalData(key, id)), &id, nil
}

// open decodes a row's data and key_id columns for key. No data is nil tokens.
func (c *config) open(key string, data []byte, keyID *string) (*refresh.Tokens, error) {
	if data == nil {
		return nil, nil
	}
	plain := data
	if keyID != nil {
		aead, ok := c.aeads[*keyID]
		if !ok {
			return nil, fmt.Errorf("pgstore: the stored tokens are sealed with key ID %q: %w", *keyID, ErrUnknownKeyID)
		}
		n := aead.NonceSize()
		if len(data) < n+aead.Overhead() {
			return nil, fmt.Errorf("pgstore: the stored tokens sealed with key ID %q are too short to open", *keyID)
		}
		var err error
		if plain, err = aead.Open(nil, data[:n], data[n:], additionalData(key, *keyID)); err != nil {
			return nil, fmt.Errorf("pgstore: the stored tokens do not open with key ID %q: %w", *keyID, err)
		}
	}
	t := new(refresh.Tokens)
	if err := t.UnmarshalJSON(plain); err != nil {
		return nil, fmt.Errorf("pgstore: %w", err) // its text names a member, never a value
	}
	return t, nil
}

// additionalData binds a sealed value to its grant and its key ID: the key's
// length, the key, then the key ID.
func additionalData(key, keyID string) []byte {
	b := fmt.Appendf(nil, "%d:", len(key))
	b = append(b, key...)
	return append(b, keyID...)
}
