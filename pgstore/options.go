package pgstore

import (
	"crypto/cipher"
	"fmt"
	"unicode/utf8"

	"github.com/tokenrefresh/refresh"
)

// DefaultTable is the table a [Store] uses when no [WithTable] option is given.
const DefaultTable = "refresh_tokens"

// Option configures a [Store] or [CreateTable].
type Option func(*config)

// config is what the options set; err is the first invalid option, which every
// call of the Store returns.
type config struct {
	table string
	keyID string                 // the key new rows are sealed with; "" stores them in the clear
	aeads map[string]cipher.AEAD // every key ID a row may name, keyID's included
	err   error
}

// newConfig applies opts over the defaults.
func newConfig(opts []Option) config {
	c := config{table: DefaultTable}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// fail keeps the first error of the options.
func (c *config) fail(field, reason string) {
	if c.err == nil {
		c.err = &refresh.ConfigError{Field: field, Reason: reason}
	}
}

// WithTable sets the table that holds the rows (default [DefaultTable]). The
// name is an unqualified SQL identifier: a letter or underscore, then letters,
// digits and underscores, at most 63 bytes (PostgreSQL's limit). It is used
// quoted, so case matters; the table is found on the connection's search_path.
// The name also names the LISTEN channel of the table's waiters.
func WithTable(name string) Option {
	return func(c *config) {
		if reason := badIdentifier(name); reason != "" {
			c.fail("pgstore.WithTable", reason)
			return
		}
		c.table = name
	}
}

// badIdentifier says why name is not an identifier WithTable accepts, or "".
func badIdentifier(name string) string {
	if name == "" {
		return "the table name is empty"
	}
	if len(name) > 63 {
		return fmt.Sprintf("the table name is %d bytes long; PostgreSQL allows 63", len(name))
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		letter := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || b == '_'
		if !letter && (i == 0 || b < '0' || b > '9') {
			return fmt.Sprintf("the table name has %q at byte %d; use letters, digits and underscores, not starting with a digit", clipRune(name[i:]), i)
		}
	}
	return ""
}

// clipRune is the first rune of s, for naming a bad character.
func clipRune(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	return string(r)
}

// WithAEAD encrypts the stored tokens with aead (AES-GCM from crypto/aes and
// crypto/cipher, say) and stores keyID beside them, in the row's key_id column,
// so that the key can rotate: rows sealed with another key are read with the
// key [WithOldKey] gives for their ID. Give it once. Each row is sealed with a fresh random
// nonce, and with the grant's key and the key ID as additional data, so that a
// sealed value copied to another row does not open. keyID is not secret: it is
// stored in the clear; it must be non-empty printable text of at most 200
// bytes. Rows stored in the clear (before encryption was turned on) are still
// read, and sealed on the next save.
func WithAEAD(keyID string, aead cipher.AEAD) Option {
	return func(c *config) {
		if c.keyID != "" {
			c.fail("pgstore.WithAEAD", "given twice; give older keys with WithOldKey")
			return
		}
		if c.addKey("pgstore.WithAEAD", keyID, aead) {
			c.keyID = keyID
		}
	}
}

// WithOldKey gives a key that only opens rows: those sealed under keyID before
// [WithAEAD] moved on to a new key. Give one for each key ID that rows may still
// name; a row whose key ID has no key fails to load with an error naming the ID.
func WithOldKey(keyID string, aead cipher.AEAD) Option {
	return func(c *config) { c.addKey("pgstore.WithOldKey", keyID, aead) }
}

// addKey records aead under keyID, or the reason it cannot.
func (c *config) addKey(field, keyID string, aead cipher.AEAD) bool {
	switch {
	case aead == nil:
		c.fail(field, "the cipher.AEAD is nil")
		return false
	case aead.NonceSize() < 1 || aead.NonceSize() > 1024 || aead.Overhead() < 0:
		c.fail(field, fmt.Sprintf("the cipher.AEAD's nonce size %d or overhead %d is out of range", aead.NonceSize(), aead.Overhead()))
		return false
	case keyID == "" || len(keyID) > 200:
		c.fail(field, fmt.Sprintf("the key ID must be 1 to 200 bytes, not %d", len(keyID)))
		return false
	case !printable(keyID):
		c.fail(field, "the key ID must be printable UTF-8 text")
		return false
	}
	if _, ok := c.aeads[keyID]; ok {
		c.fail(field, fmt.Sprintf("the key ID %q is given twice", keyID))
		return false
	}
	if c.aeads == nil {
		c.aeads = map[string]cipher.AEAD{}
	}
	c.aeads[keyID] = aead
	return true
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return false
		}
	}
	return true
}
