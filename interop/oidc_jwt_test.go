package interop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenrefresh/refresh"
)

// publicJWK is key's public half as a JWK, for the server's client registration.
func publicJWK(t *testing.T, key crypto.Signer) map[string]string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		b, err := pub.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"kty": "EC", "crv": "P-256", "x": enc(b[1:33]), "y": enc(b[33:])}
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "n": enc(pub.N.Bytes()), "e": enc(big.NewInt(int64(pub.E)).Bytes())}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "crv": "Ed25519", "x": enc(pub)}
	}
	t.Fatalf("no JWK for %T", key)
	return nil
}

// oidcJWTKeys are the keys of the private_key_jwt clients.
type oidcJWTKeys struct{ es, rs, ed crypto.Signer }

// oidcStartJWT starts oidc-provider with private_key_jwt clients (ES256,
// RS256, EdDSA), a client_secret_jwt client, and DPoP clients: a public one,
// whose refresh tokens are bound to the key, and a client_secret_post one.
func oidcStartJWT(t *testing.T, nonces bool) (*oidcServer, oidcJWTKeys) {
	t.Helper()
	oidcRequireNode(t)
	es, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	keyed := func(id, alg string, key crypto.Signer) map[string]any {
		return map[string]any{"client_id": id, "token_endpoint_auth_method": "private_key_jwt",
			"token_endpoint_auth_signing_alg": alg, "jwks": map[string]any{"keys": []any{publicJWK(t, key)}}}
	}
	extra := map[string]any{
		"jwt-es256": keyed("interop-jwt-es256", "ES256", es),
		"jwt-rs256": keyed("interop-jwt-rs256", "RS256", rs),
		"jwt-eddsa": keyed("interop-jwt-eddsa", "EdDSA", ed),
		"jwt-hs256": map[string]any{"client_id": "interop-jwt-hs256", "client_secret": "a-client-secret-of-more-than-32-bytes!",
			"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS256"},
		"dpop-public": map[string]any{"client_id": "interop-dpop-public", "token_endpoint_auth_method": "none", "dpop_bound_access_tokens": true},
		"dpop-post": map[string]any{"client_id": "interop-dpop-post", "client_secret": "dpop-post-secret",
			"token_endpoint_auth_method": "client_secret_post", "dpop_bound_access_tokens": true},
	}
	b, err := json.Marshal(extra)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "clients.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	nonce := "off"
	if nonces {
		nonce = "on"
	}
	s, err := oidcStart(t, "--extra-clients="+path, "--dpop-nonce="+nonce)
	if err != nil {
		t.Fatal(err)
	}
	return s, oidcJWTKeys{es: es, rs: rs, ed: ed}
}

func TestOIDCClientAssertions(t *testing.T) {
	s, keys := oidcStartJWT(t, false)
	for _, tt := range []struct {
		name, client string
		auth         refresh.Auth
	}{
		{"private_key_jwt ES256", "jwt-es256", refresh.PrivateKeyJWT("interop-jwt-es256", keys.es)},
		{"private_key_jwt RS256", "jwt-rs256", refresh.PrivateKeyJWT("interop-jwt-rs256", keys.rs)},
		{"private_key_jwt EdDSA", "jwt-eddsa", refresh.PrivateKeyJWT("interop-jwt-eddsa", keys.ed)},
		{"client_secret_jwt HS256", "jwt-hs256", refresh.ClientSecretJWT("interop-jwt-hs256", "a-client-secret-of-more-than-32-bytes!")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &refresh.Client{TokenURL: s.TokenEndpoint, Issuer: s.Issuer, Auth: tt.auth}
			rt := s.mint(t, tt.client, "openid offline_access read")
			tok, err := c.Refresh(t.Context(), rt)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if code, scope := s.resourceScope(t, tok.AccessToken); code != http.StatusOK || scope == "" {
				t.Errorf("resource: %d %q", code, scope)
			}
			// Twice more with the rotated token: each assertion has its own jti.
			for range 2 {
				if tok, err = c.Refresh(t.Context(), tok.RefreshToken); err != nil {
					t.Fatalf("a later Refresh: %v", err)
				}
			}
		})
	}
	t.Run("private_key_jwt with another key is invalid_client", func(t *testing.T) {
		c := &refresh.Client{TokenURL: s.TokenEndpoint, Issuer: s.Issuer, Auth: refresh.PrivateKeyJWT("interop-jwt-es256", keys.ed)}
		_, err := c.Refresh(t.Context(), s.mint(t, "jwt-es256", "openid offline_access"))
		if !errors.Is(err, refresh.ErrInvalidClient) {
			t.Errorf("error %v, want invalid_client", err)
		}
	})
}

// resourceJKT is the cnf.jkt oidc-provider holds for a DPoP access token.
func (s *oidcServer) resourceJKT(t *testing.T, accessToken string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.Resource, nil)
	req.Header.Set("Authorization", "DPoP "+accessToken)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		JKT string `json:"jkt"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return body.JKT
}

// TestOIDCDPoP refreshes with DPoP against oidc-provider that requires nonces:
// a public client, whose refresh token is bound to the key, and a confidential
// one. The first request learns the nonce from use_dpop_nonce; later ones
// reuse the nonce of the last answer.
func TestOIDCDPoP(t *testing.T) {
	s, _ := oidcStartJWT(t, true)
	for _, tt := range []struct {
		name, client string
		auth         refresh.Auth
		bound        bool
	}{
		{"a public client", "dpop-public", refresh.PublicClient("interop-dpop-public"), true},
		{"a confidential client", "dpop-post", refresh.ClientSecretPost("interop-dpop-post", "dpop-post-secret"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			d, err := refresh.NewDPoP(key)
			if err != nil {
				t.Fatal(err)
			}
			rec := &oidcRecorder{base: http.DefaultTransport}
			c := &refresh.Client{TokenURL: s.TokenEndpoint, Auth: tt.auth, DPoP: d, HTTPClient: &http.Client{Transport: rec}}
			cmd := map[string]any{"op": "mint", "client": tt.client, "scope": "openid offline_access read"}
			if tt.bound {
				cmd["jkt"] = d.Thumbprint()
			}
			tok, err := c.Refresh(t.Context(), s.command(t, cmd).RefreshToken)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if tok.TokenType != "DPoP" {
				t.Errorf("TokenType %q, want DPoP", tok.TokenType)
			}
			if jkt := s.resourceJKT(t, tok.AccessToken); jkt != d.Thumbprint() {
				t.Errorf("the access token's cnf.jkt %q is not the key's thumbprint %q", jkt, d.Thumbprint())
			}
			if tok, err = c.Refresh(t.Context(), tok.RefreshToken); err != nil {
				t.Fatalf("second Refresh: %v", err)
			}
			calls := rec.Calls()
			var codes []string
			for _, call := range calls {
				codes = append(codes, call.Error)
			}
			if len(calls) != 3 || calls[0].Error != "use_dpop_nonce" || calls[1].Error != "" || calls[2].Error != "" {
				t.Errorf("token requests' errors %q, want one use_dpop_nonce, then two successes", codes)
			}
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			od, _ := refresh.NewDPoP(other)
			oc := &refresh.Client{TokenURL: s.TokenEndpoint, Auth: tt.auth, DPoP: od}
			_, err = oc.Refresh(t.Context(), tok.RefreshToken)
			if tt.bound && !errors.Is(err, refresh.ErrInvalidGrant) {
				t.Errorf("the bound refresh token with another key: %v, want invalid_grant", err)
			}
			if !tt.bound && err != nil {
				t.Errorf("a confidential client's refresh token with another key: %v, want tokens", err)
			}
		})
	}
}
