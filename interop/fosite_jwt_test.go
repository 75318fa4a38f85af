package interop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/tokenrefresh/refresh"
)

// TestFositePrivateKeyJWT refreshes with private_key_jwt against fosite,
// which wants the token endpoint as the assertion's audience (WithAudience),
// and refuses an assertion signed by another key.
func TestFositePrivateKeyJWT(t *testing.T) {
	es, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		alg string
		key crypto.Signer
	}{{"ES256", es}, {"RS256", rs}} {
		t.Run(k.alg, func(t *testing.T) {
			s := fosNewServer(t)
			id := "jwt-client-" + k.alg
			s.store.Clients[id] = &fosite.DefaultOpenIDConnectClient{
				DefaultClient: &fosite.DefaultClient{
					ID: id, RedirectURIs: []string{"http://127.0.0.1/callback"},
					GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
					Scopes: []string{"offline", "offline_access", "read", "write"},
				},
				JSONWebKeys:                       &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.key.Public(), KeyID: "k1", Algorithm: k.alg, Use: "sig"}}},
				TokenEndpointAuthMethod:           "private_key_jwt",
				TokenEndpointAuthSigningAlgorithm: k.alg,
			}
			c := s.client(refresh.PrivateKeyJWT(id, k.key, refresh.WithKeyID("k1"), refresh.WithAudience(s.tokenURL)), nil)
			tok := s.mint(t, id, fosMintOpts{})
			for range 3 { // rotation: a new assertion with its own jti each time
				next, err := c.Refresh(t.Context(), tok.RefreshToken)
				if err != nil {
					t.Fatalf("Refresh: %v", err)
				}
				tok = next
			}
			_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
			bad := s.client(refresh.PrivateKeyJWT(id, otherKey, refresh.WithAudience(s.tokenURL)), nil)
			if _, err := bad.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, refresh.ErrInvalidClient) {
				t.Errorf("another key: %v, want invalid_client", err)
			}
		})
	}
}
