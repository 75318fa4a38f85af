package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
)

// benchKey is a key of the DPoP and assertion benchmarks, made only by the
// benchmarks that use it (RSA key generation is slow and varies).
type benchKey struct {
	name string
	make func() crypto.Signer
	opts crypto.SignerOpts
}

var benchKeys = []benchKey{
	{"ES256", func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }, crypto.SHA256},
	{"EdDSA", func() crypto.Signer { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }, crypto.Hash(0)},
	{"RS256", func() crypto.Signer { k, _ := rsa.GenerateKey(rand.Reader, 2048); return k }, crypto.SHA256},
}

// BenchmarkDPoPTransport is the DPoP hot path: one request through Transport
// with a valid cached DPoP token, which signs one proof per request, next to
// the same request with a Bearer token (path=bearer, the same for every alg)
// and to one bare Sign by the same key (of a SHA-256 digest, or of a 200-byte
// message for Ed25519). The target is path=dpop at most 1.2 × (path=sign +
// path=bearer).
func BenchmarkDPoPTransport(b *testing.B) {
	canned := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}
	base := stubRoundTripper{canned}
	expiry := time.Now().Add(24 * time.Hour)
	req, err := http.NewRequest(http.MethodGet, "https://api.example/v1/items?page=2", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	run := func(b *testing.B, rt http.RoundTripper) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := rt.RoundTrip(req)
			if err != nil || resp != canned {
				b.Fatalf("RoundTrip = %v, %v", resp, err)
			}
		}
	}
	for _, k := range benchKeys {
		b.Run("alg="+k.name+"/path=bearer", func(b *testing.B) {
			src := refresh.NewSource(ourClient(cannedTokenURL, &http.Client{Transport: &cannedTransport{}}), &refresh.Tokens{
				AccessToken: benchAccessToken, TokenType: "Bearer", RefreshToken: benchRefreshToken, ExpiresAt: expiry,
			})
			run(b, &refresh.Transport{Source: src, Base: base})
		})
		b.Run("alg="+k.name+"/path=dpop", func(b *testing.B) {
			d, err := refresh.NewDPoP(k.make())
			if err != nil {
				b.Fatal(err)
			}
			c := ourClient(cannedTokenURL, &http.Client{Transport: &cannedTransport{}})
			c.DPoP = d
			src := refresh.NewSource(c, &refresh.Tokens{
				AccessToken: benchAccessToken, TokenType: "DPoP", RefreshToken: benchRefreshToken, ExpiresAt: expiry,
			})
			run(b, &refresh.Transport{Source: src, Base: base})
		})
		b.Run("alg="+k.name+"/path=sign", func(b *testing.B) {
			key := k.make()
			msg := make([]byte, 200) // about a proof's signing input
			digest := sha256.Sum256(msg)
			in := digest[:]
			if k.opts.HashFunc() == 0 {
				in = msg
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := key.Sign(rand.Reader, in, k.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAssertion is the cost of client authentication by assertion: one
// refresh request built with PrivateKeyJWT or ClientSecretJWT, which signs a
// new assertion, next to the same request with ClientSecretBasic.
func BenchmarkAssertion(b *testing.B) {
	build := func(b *testing.B, auth refresh.Auth) {
		c := &refresh.Client{TokenURL: "https://auth.example/token", Issuer: "https://auth.example", Auth: auth}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.NewRequest(ctx, benchRefreshToken); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("auth=ClientSecretBasic", func(b *testing.B) { build(b, refresh.ClientSecretBasic("client-1", "secret-1")) })
	b.Run("auth=ClientSecretJWT", func(b *testing.B) { build(b, refresh.ClientSecretJWT("client-1", "secret-1")) })
	for _, k := range benchKeys {
		b.Run("auth=PrivateKeyJWT/alg="+k.name, func(b *testing.B) { build(b, refresh.PrivateKeyJWT("client-1", k.make())) })
	}
}
