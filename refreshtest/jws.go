package refreshtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// This file verifies the compact JWS (RFC 7515) that clients send: client
// assertions (RFC 7523) and DPoP proofs (RFC 9449). It is the server's own
// small verifier, written apart from the library under test so that one cannot
// hide the other's mistakes.

var b64 = base64.RawURLEncoding

// jws is a parsed compact JWS whose signature is not checked yet.
type jws struct {
	header  jwsHeader
	payload []byte
	input   []byte // the signing input: the first two parts, as sent
	sig     []byte
}

type jwsHeader struct {
	Alg string          `json:"alg"`
	Typ string          `json:"typ"`
	Kid string          `json:"kid"`
	JWK json.RawMessage `json:"jwk"`
}

// jwtClaims are the claims the server reads, from an assertion or a proof.
type jwtClaims struct {
	Iss   string   `json:"iss"`
	Sub   string   `json:"sub"`
	Aud   audience `json:"aud"`
	Exp   *int64   `json:"exp"`
	Iat   *int64   `json:"iat"`
	Jti   string   `json:"jti"`
	Htm   string   `json:"htm"`
	Htu   string   `json:"htu"`
	Nonce string   `json:"nonce"`
	Ath   string   `json:"ath"`
}

// audience is "aud": one string or an array of them (RFC 7519 §4.1.3).
type audience []string

// UnmarshalJSON reads a string or an array of strings.
func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// parseJWS splits and decodes a compact JWS and its claims.
func parseJWS(compact string) (*jws, jwtClaims, error) {
	var c jwtClaims
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		return nil, c, fmt.Errorf("a compact JWS has 3 parts, not %d", len(parts))
	}
	var j jws
	head, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, c, errors.New("the JWS header is not base64url")
	}
	if err := json.Unmarshal(head, &j.header); err != nil {
		return nil, c, errors.New("the JWS header is not a JSON object")
	}
	if j.payload, err = b64.DecodeString(parts[1]); err != nil {
		return nil, c, errors.New("the JWS payload is not base64url")
	}
	if err := json.Unmarshal(j.payload, &c); err != nil {
		return nil, c, errors.New("the JWS payload is not a JSON object of JWT claims")
	}
	if j.sig, err = b64.DecodeString(parts[2]); err != nil {
		return nil, c, errors.New("the JWS signature is not base64url")
	}
	j.input = []byte(parts[0] + "." + parts[1])
	return &j, c, nil
}

// verify checks the signature with key: a []byte for HS256, or the public key
// of the asymmetric algorithm the header names.
func (j *jws) verify(key any) error {
	alg := j.header.Alg
	digest := func(h crypto.Hash) []byte {
		switch h {
		case crypto.SHA384:
			d := sha512.Sum384(j.input)
			return d[:]
		case crypto.SHA512:
			d := sha512.Sum512(j.input)
			return d[:]
		}
		d := sha256.Sum256(j.input)
		return d[:]
	}
	bad := fmt.Errorf("the %s signature does not verify", alg)
	switch k := key.(type) {
	case []byte:
		if alg != "HS256" {
			break
		}
		m := hmac.New(sha256.New, k)
		m.Write(j.input)
		if !hmac.Equal(m.Sum(nil), j.sig) {
			return bad
		}
		return nil
	case *ecdsa.PublicKey:
		want := map[string]struct {
			curve elliptic.Curve
			hash  crypto.Hash
		}{"ES256": {elliptic.P256(), crypto.SHA256}, "ES384": {elliptic.P384(), crypto.SHA384}, "ES512": {elliptic.P521(), crypto.SHA512}}[alg]
		if want.curve == nil || k.Curve != want.curve {
			break
		}
		size := (want.curve.Params().BitSize + 7) / 8
		if len(j.sig) != 2*size {
			return fmt.Errorf("the %s signature is not r || s of %d bytes each", alg, size)
		}
		r, s := new(big.Int).SetBytes(j.sig[:size]), new(big.Int).SetBytes(j.sig[size:])
		if !ecdsa.Verify(k, digest(want.hash), r, s) {
			return bad
		}
		return nil
	case *rsa.PublicKey:
		var err error
		switch alg {
		case "RS256":
			err = rsa.VerifyPKCS1v15(k, crypto.SHA256, digest(crypto.SHA256), j.sig)
		case "PS256":
			err = rsa.VerifyPSS(k, crypto.SHA256, digest(crypto.SHA256), j.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		default:
			return fmt.Errorf("alg %s does not go with an RSA key", alg)
		}
		if err != nil {
			return bad
		}
		return nil
	case ed25519.PublicKey:
		if alg != "EdDSA" {
			break
		}
		if !ed25519.Verify(k, j.input, j.sig) {
			return bad
		}
		return nil
	case nil:
		return errors.New("no key to verify with")
	}
	return fmt.Errorf("alg %q does not go with a key of type %T", alg, key)
}

// jwkMembers are the members of a public JWK the server reads.
type jwkMembers struct {
	Kty, Crv, X, Y, N, E, D string
}

// parseJWK reads a public JWK (RFC 7517) and returns the key and its RFC 7638
// thumbprint. A JWK with a private member is refused.
func parseJWK(raw json.RawMessage) (crypto.PublicKey, string, error) {
	var m jwkMembers
	if len(raw) == 0 {
		return nil, "", errors.New("no jwk")
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", errors.New("the jwk is not a JSON object")
	}
	if m.D != "" {
		return nil, "", errors.New("the jwk holds a private key")
	}
	dec := func(s string) []byte {
		b, err := b64.DecodeString(s)
		if err != nil {
			return nil
		}
		return b
	}
	var pub crypto.PublicKey
	switch m.Kty {
	case "EC":
		curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[m.Crv]
		if curve == nil {
			return nil, "", fmt.Errorf("EC curve %q", m.Crv)
		}
		k, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, dec(m.X)...), dec(m.Y)...))
		if err != nil {
			return nil, "", errors.New("the EC jwk is not a point on its curve")
		}
		pub = k
	case "RSA":
		n, e := dec(m.N), dec(m.E)
		if len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, "", errors.New("the RSA jwk has no valid n or e")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	case "OKP":
		x := dec(m.X)
		if m.Crv != "Ed25519" || len(x) != ed25519.PublicKeySize {
			return nil, "", errors.New("the OKP jwk is not an Ed25519 key")
		}
		pub = ed25519.PublicKey(x)
	default:
		return nil, "", fmt.Errorf("jwk kty %q", m.Kty)
	}
	thumb, err := Thumbprint(pub)
	return pub, thumb, err
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of a public key (ECDSA on
// P-256, P-384 or P-521, RSA, or Ed25519), base64url without padding: the jkt
// that binds DPoP tokens to the key (RFC 9449 §6).
func Thumbprint(pub crypto.PublicKey) (string, error) {
	var canonical bytes.Buffer
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		names := map[elliptic.Curve]string{elliptic.P256(): "P-256", elliptic.P384(): "P-384", elliptic.P521(): "P-521"}
		crv, ok := names[k.Curve]
		if !ok {
			return "", errors.New("refreshtest: unsupported curve")
		}
		point, err := k.Bytes()
		if err != nil {
			return "", fmt.Errorf("refreshtest: %w", err)
		}
		size := (len(point) - 1) / 2
		fmt.Fprintf(&canonical, `{"crv":"%s","kty":"EC","x":"%s","y":"%s"}`, crv, b64.EncodeToString(point[1:1+size]), b64.EncodeToString(point[1+size:]))
	case *rsa.PublicKey:
		fmt.Fprintf(&canonical, `{"e":"%s","kty":"RSA","n":"%s"}`, b64.EncodeToString(big.NewInt(int64(k.E)).Bytes()), b64.EncodeToString(k.N.Bytes()))
	case ed25519.PublicKey:
		fmt.Fprintf(&canonical, `{"crv":"Ed25519","kty":"OKP","x":"%s"}`, b64.EncodeToString(k))
	default:
		return "", fmt.Errorf("refreshtest: unsupported key type %T", pub)
	}
	sum := sha256.Sum256(canonical.Bytes())
	return b64.EncodeToString(sum[:]), nil
}
