package jws

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// keys returns a signer of every supported kind with the alg it must sign with.
func keys(t *testing.T) []struct {
	name string
	key  crypto.Signer
	pss  bool
	alg  string
} {
	t.Helper()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	return []struct {
		name string
		key  crypto.Signer
		pss  bool
		alg  string
	}{
		{"P-256", p256, false, "ES256"},
		{"P-384", p384, false, "ES384"},
		{"P-521", p521, false, "ES512"},
		{"RSA", rsaKey, false, "RS256"},
		{"RSA with PSS", rsaKey, true, "PS256"},
		{"Ed25519", edKey, false, "EdDSA"},
	}
}

// verify checks sig over input with pub, as RFC 7518 defines alg, using the
// standard library's verifiers.
func verify(t *testing.T, alg string, pub crypto.PublicKey, input, sig []byte) bool {
	t.Helper()
	switch alg {
	case "ES256", "ES384", "ES512":
		k := pub.(*ecdsa.PublicKey)
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			t.Errorf("%s signature of %d bytes, want %d (r || s)", alg, len(sig), 2*size)
			return false
		}
		var d []byte
		switch alg {
		case "ES256":
			h := sha256.Sum256(input)
			d = h[:]
		case "ES384":
			h := sha512.Sum384(input)
			d = h[:]
		default:
			h := sha512.Sum512(input)
			d = h[:]
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, d, r, s)
	case "RS256":
		h := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig) == nil
	case "PS256":
		h := sha256.Sum256(input)
		return rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	case "EdDSA":
		return ed25519.Verify(pub.(ed25519.PublicKey), input, sig)
	}
	t.Fatalf("no verifier for %s", alg)
	return false
}

// publicFromJWK rebuilds the public key a JWK describes.
func publicFromJWK(t *testing.T, jwk string) crypto.PublicKey {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(jwk), &m); err != nil {
		t.Fatalf("JWK %s: %v", jwk, err)
	}
	dec := func(name string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(m[name])
		if err != nil {
			t.Fatalf("JWK member %s: %v", name, err)
		}
		return b
	}
	switch m["kty"] {
	case "EC":
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		k, err := ecdsa.ParseUncompressedPublicKey(curves[m["crv"]], append(append([]byte{4}, dec("x")...), dec("y")...))
		if err != nil {
			t.Fatalf("JWK %s: %v", jwk, err)
		}
		return k
	case "RSA":
		return &rsa.PublicKey{N: new(big.Int).SetBytes(dec("n")), E: int(new(big.Int).SetBytes(dec("e")).Int64())}
	case "OKP":
		return ed25519.PublicKey(dec("x"))
	}
	t.Fatalf("JWK of kty %q", m["kty"])
	return nil
}

func TestSignVerifiesWithTheKeysAlgorithm(t *testing.T) {
	header := []byte(`{"alg":"x","typ":"JWT"}`)
	claims := []byte(`{"iss":"client-1","n":1}`)
	for _, k := range keys(t) {
		t.Run(k.name+" signs "+k.alg, func(t *testing.T) {
			s, err := New(k.key, k.pss)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if s.Alg() != k.alg {
				t.Errorf("Alg() = %q, want %q", s.Alg(), k.alg)
			}
			compact, err := s.Sign(header, claims)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			parts := strings.Split(compact, ".")
			if len(parts) != 3 {
				t.Fatalf("compact JWS has %d parts, want 3", len(parts))
			}
			gotHeader, _ := base64.RawURLEncoding.DecodeString(parts[0])
			gotClaims, _ := base64.RawURLEncoding.DecodeString(parts[1])
			if diff := cmp.Diff([]string{string(header), string(claims)}, []string{string(gotHeader), string(gotClaims)}); diff != "" {
				t.Errorf("header and payload (-want +got):\n%s", diff)
			}
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			if err != nil {
				t.Fatalf("signature is not base64url: %v", err)
			}
			if !verify(t, k.alg, k.key.Public(), []byte(parts[0]+"."+parts[1]), sig) {
				t.Errorf("the signature does not verify with the key's public half")
			}
			if verify(t, k.alg, k.key.Public(), []byte(parts[0]+".e30"), sig) {
				t.Errorf("the signature verifies over another payload")
			}
		})
	}
}

func TestJWKDescribesThePublicKey(t *testing.T) {
	for _, k := range keys(t) {
		t.Run(k.name, func(t *testing.T) {
			s, err := New(k.key, k.pss)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			pub := publicFromJWK(t, s.JWK())
			if eq, ok := k.key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
				t.Errorf("the JWK %s describes another key", s.JWK())
			}
			sum := sha256.Sum256([]byte(s.JWK()))
			if want := base64.RawURLEncoding.EncodeToString(sum[:]); s.Thumbprint() != want {
				t.Errorf("Thumbprint() = %q, want %q", s.Thumbprint(), want)
			}
		})
	}
}

// TestThumbprintOfRFC7638Members checks the canonical JSON of RFC 7638 §3.2:
// the required members only, in lexicographic order, no whitespace.
func TestThumbprintOfRFC7638Members(t *testing.T) {
	ed := ed25519.PublicKey(bytes.Repeat([]byte{1}, 32))
	s, err := New(fixedSigner{ed}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"crv":"Ed25519","kty":"OKP","x":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"}`
	if s.JWK() != want {
		t.Errorf("JWK() = %s, want %s", s.JWK(), want)
	}
}

func TestHS256(t *testing.T) {
	secret := []byte("CS-SECRET-5e6f7081")
	s, err := NewHS256(secret)
	if err != nil {
		t.Fatal(err)
	}
	compact, err := s.Sign([]byte(`{"alg":"HS256"}`), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(compact, '.')
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(compact[:i]))
	if got, want := compact[i+1:], base64.RawURLEncoding.EncodeToString(m.Sum(nil)); got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
	if s.JWK() != "" || s.Thumbprint() != "" {
		t.Errorf("an HMAC key has a public JWK: %q", s.JWK())
	}
	if _, err := NewHS256(nil); err == nil {
		t.Errorf("NewHS256(nil) gives no error")
	}
}

// fixedSigner is a crypto.Signer with a given public key and no usable private
// half.
type fixedSigner struct{ pub crypto.PublicKey }

func (f fixedSigner) Public() crypto.PublicKey { return f.pub }
func (f fixedSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return []byte{0x30, 0x00}, nil // an empty ASN.1 SEQUENCE
}

// failingSigner is a KMS that is down.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("kms unavailable")
}

func TestNewRefusesOtherKeys(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	tests := []struct {
		name string
		key  crypto.Signer
		want string
	}{
		{"nil", nil, "nil key"},
		{"RSA 1024", small, "RSA key shorter than 2048 bits (RFC 7518 §3.3)"},
		{"P-224", p224, "ECDSA curve P-224: use P-256, P-384 or P-521"},
		{"X25519 public key", fixedSigner{x25519.PublicKey()}, "unsupported key type *ecdh.PublicKey: use ECDSA (P-256, P-384, P-521), RSA or Ed25519"},
		{"short Ed25519 key", fixedSigner{ed25519.PublicKey{1, 2}}, "Ed25519 public key of 2 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.key, false)
			if err == nil {
				t.Fatalf("New gives no error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignReportsTheSignersFailure(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tt := range []struct {
		name string
		key  crypto.Signer
		want string
	}{
		{"a signer that fails", failingSigner{p256}, "ES256 signing: kms unavailable"},
		{"a signer that returns no ASN.1 signature", fixedSigner{p256.Public()}, "the signer returned a malformed ECDSA signature"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.key, false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Sign([]byte(`{}`), []byte(`{}`))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Sign error = %v, want %q", err, tt.want)
			}
		})
	}
}
