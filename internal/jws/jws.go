// Package jws signs compact JSON Web Signatures (RFC 7515) with the standard
// library, for client assertions (RFC 7523) and DPoP proofs (RFC 9449). It signs
// through crypto.Signer, so that a key held by a KMS or an HSM signs without
// being exported, and it encodes the public key as a JWK (RFC 7517) with its
// RFC 7638 thumbprint. It does not verify: tests do that with go-jose.
package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
)

// b64 is the base64url encoding without padding that JWS uses throughout.
var b64 = base64.RawURLEncoding

// Signer signs JWS with one key. The algorithm follows the key: ES256, ES384 or
// ES512 for an ECDSA key on P-256, P-384 or P-521; RS256 (or PS256) for RSA;
// EdDSA for Ed25519; HS256 for a shared secret. A Signer is safe for concurrent
// use when its crypto.Signer is.
type Signer struct {
	alg    string
	key    crypto.Signer // nil for HS256
	secret []byte        // HS256 only
	opts   crypto.SignerOpts
	size   int    // ECDSA: the byte length of r and of s in the signature
	jwk    string // the public key as a JWK with only its required members, in RFC 7638 order
}

// New returns a Signer for key. pss chooses PS256 over RS256 for an RSA key and
// is ignored for others. A key of any other type, an RSA key shorter than 2048
// bits (RFC 7518 §3.3) or an ECDSA key on another curve is an error.
func New(key crypto.Signer, pss bool) (*Signer, error) {
	if key == nil {
		return nil, errors.New("nil key")
	}
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		return newECDSA(key, pub)
	case *rsa.PublicKey:
		if pub.N == nil || pub.N.BitLen() < 2048 {
			return nil, errors.New("RSA key shorter than 2048 bits (RFC 7518 §3.3)")
		}
		s := &Signer{alg: "RS256", key: key, opts: crypto.SHA256}
		if pss {
			s.alg = "PS256"
			s.opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		}
		e := big.NewInt(int64(pub.E)).Bytes()
		s.jwk = `{"e":"` + b64.EncodeToString(e) + `","kty":"RSA","n":"` + b64.EncodeToString(pub.N.Bytes()) + `"}`
		return s, nil
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 public key of %d bytes", len(pub))
		}
		return &Signer{alg: "EdDSA", key: key, opts: crypto.Hash(0),
			jwk: `{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(pub) + `"}`}, nil
	default:
		return nil, fmt.Errorf("unsupported key type %T: use ECDSA (P-256, P-384, P-521), RSA or Ed25519", pub)
	}
}

func newECDSA(key crypto.Signer, pub *ecdsa.PublicKey) (*Signer, error) {
	if pub.Curve == nil {
		return nil, errors.New("ECDSA key without a curve")
	}
	s := &Signer{key: key}
	var crv string
	switch pub.Curve {
	case elliptic.P256():
		s.alg, crv, s.opts, s.size = "ES256", "P-256", crypto.SHA256, 32
	case elliptic.P384():
		s.alg, crv, s.opts, s.size = "ES384", "P-384", crypto.SHA384, 48
	case elliptic.P521():
		s.alg, crv, s.opts, s.size = "ES512", "P-521", crypto.SHA512, 66
	default:
		return nil, fmt.Errorf("ECDSA curve %s: use P-256, P-384 or P-521", pub.Curve.Params().Name)
	}
	point, err := pub.Bytes() // 0x04 || x || y, each of s.size bytes
	if err != nil || len(point) != 1+2*s.size {
		return nil, errors.New("invalid ECDSA public key")
	}
	s.jwk = `{"crv":"` + crv + `","kty":"EC","x":"` + b64.EncodeToString(point[1:1+s.size]) +
		`","y":"` + b64.EncodeToString(point[1+s.size:]) + `"}`
	return s, nil
}

// NewHS256 returns a Signer that signs with HMAC SHA-256 under secret, for
// client_secret_jwt. An empty secret is an error.
func NewHS256(secret []byte) (*Signer, error) {
	if len(secret) == 0 {
		return nil, errors.New("empty secret")
	}
	return &Signer{alg: "HS256", secret: secret}, nil
}

// Alg is the JWS "alg" the Signer signs with.
func (s *Signer) Alg() string { return s.alg }

// JWK is the public key as a JSON Web Key holding only the members RFC 7638
// requires, in lexicographic order: a "jwk" header value, and the input of the
// thumbprint. It is empty for HS256.
func (s *Signer) JWK() string { return s.jwk }

// Thumbprint is the RFC 7638 SHA-256 thumbprint of the public key, base64url
// without padding. It is empty for HS256.
func (s *Signer) Thumbprint() string {
	if s.jwk == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s.jwk))
	return b64.EncodeToString(sum[:])
}

// Sign returns the compact serialisation of a JWS whose protected header and
// payload are the JSON objects header and claims, as they are.
func (s *Signer) Sign(header, claims []byte) (string, error) {
	n := b64.EncodedLen(len(header)) + 1 + b64.EncodedLen(len(claims))
	out := make([]byte, 0, n+1+b64.EncodedLen(s.sigLen()))
	out = b64.AppendEncode(out, header)
	out = append(out, '.')
	out = b64.AppendEncode(out, claims)
	sig, err := s.sign(out)
	if err != nil {
		return "", err
	}
	out = append(out, '.')
	out = b64.AppendEncode(out, sig)
	return string(out), nil
}

// sigLen is the signature's length, when it is known before signing.
func (s *Signer) sigLen() int {
	switch {
	case s.size > 0:
		return 2 * s.size
	case s.alg == "EdDSA":
		return ed25519.SignatureSize
	case s.alg == "HS256":
		return sha256.Size
	}
	return 512 // RSA up to 4096 bits
}

// sign signs the JWS signing input.
func (s *Signer) sign(input []byte) ([]byte, error) {
	if s.alg == "HS256" {
		m := hmac.New(sha256.New, s.secret)
		m.Write(input)
		return m.Sum(nil), nil
	}
	msg := input // Ed25519 signs the message itself
	switch s.opts.HashFunc() {
	case crypto.SHA256:
		d := sha256.Sum256(input)
		msg = d[:]
	case crypto.SHA384:
		d := sha512.Sum384(input)
		msg = d[:]
	case crypto.SHA512:
		d := sha512.Sum512(input)
		msg = d[:]
	}
	sig, err := s.key.Sign(rand.Reader, msg, s.opts)
	if err != nil {
		return nil, fmt.Errorf("%s signing: %w", s.alg, err)
	}
	if s.size > 0 {
		return fixedSize(sig, s.size)
	}
	return sig, nil
}

// fixedSize turns an ASN.1 ECDSA signature, as crypto.Signer returns it, into
// the r || s of RFC 7518 §3.4, each left-padded to size bytes.
func fixedSize(der []byte, size int) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 ||
		rs.R.BitLen() > 8*size || rs.S.BitLen() > 8*size {
		return nil, errors.New("the signer returned a malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}
