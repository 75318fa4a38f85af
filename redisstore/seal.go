package redisstore

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// ErrUnknownKeyID is wrapped by the error of a Load that found tokens sealed
// under a key ID that neither [WithAEAD] nor [WithOldKey] gave.
var ErrUnknownKeyID = errors.New("redisstore: no key given for this key ID")

// errOpen is the error of sealed data that does not open: a wrong key under the
// right ID, data cut short, or data changed (or moved from another grant).
var errOpen = errors.New("redisstore: the sealed tokens do not open with the key given for their key ID")

// sealData seals plain with aead: a random nonce followed by the sealed bytes,
// with the grant's key as additional data.
func sealData(aead cipher.AEAD, plain []byte, grant string) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	rand.Read(nonce) // never fails (crypto/rand)
	return aead.Seal(nonce, nonce, plain, []byte(grant))
}

// openData opens what sealData made.
func openData(aead cipher.AEAD, data []byte, grant string) ([]byte, error) {
	n := aead.NonceSize()
	if len(data) < n {
		return nil, errOpen
	}
	plain, err := aead.Open(nil, data[:n], data[n:], []byte(grant))
	if err != nil {
		return nil, errOpen
	}
	return plain, nil
}
