package interop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// oidcTLS is a CA made in the test, the server's certificate and two client
// certificates, as PEM files and as tls values.
type oidcTLS struct {
	dir                 string
	pool                *x509.CertPool
	client, otherClient tls.Certificate
}

func newOIDCTLS(t *testing.T) *oidcTLS {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "interop test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	o := &oidcTLS{dir: t.TempDir(), pool: x509.NewCertPool()}
	o.pool.AddCert(ca)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	}
	_, serverPEM, serverKey := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	o.client, _, _ = issue(3, "interop-mtls", x509.ExtKeyUsageClientAuth)
	o.otherClient, _, _ = issue(4, "someone-else", x509.ExtKeyUsageClientAuth)
	for name, b := range map[string][]byte{
		"server.pem": serverPEM, "server.key": serverKey,
		"ca.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
	} {
		if err := os.WriteFile(filepath.Join(o.dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// transport presents cert and trusts the test CA.
func (o *oidcTLS) transport(cert tls.Certificate) *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: o.pool, Certificates: []tls.Certificate{cert}}}
}

// TestOIDCTLSClientAuth refreshes with tls_client_auth over https against
// oidc-provider, which asks for client certificates signed by a CA made here,
// and uses the certificate-bound access token through Transport: with the same
// certificate the resource answers, with another it refuses the token.
func TestOIDCTLSClientAuth(t *testing.T) {
	oidcRequireNode(t)
	o := newOIDCTLS(t)
	clients, _ := json.Marshal(map[string]any{"mtls": map[string]any{
		"client_id": "interop-mtls", "token_endpoint_auth_method": "tls_client_auth",
		"tls_client_auth_subject_dn": "CN=interop-mtls", "tls_client_certificate_bound_access_tokens": true,
	}})
	path := filepath.Join(o.dir, "clients.json")
	if err := os.WriteFile(path, clients, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := oidcStart(t, "--extra-clients="+path, "--tls-cert="+filepath.Join(o.dir, "server.pem"),
		"--tls-key="+filepath.Join(o.dir, "server.key"), "--tls-ca="+filepath.Join(o.dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	mtls := o.transport(o.client)
	defer mtls.CloseIdleConnections()
	c := &refresh.Client{TokenURL: s.TokenEndpoint, Auth: refresh.TLSClientAuth("interop-mtls"), HTTPClient: &http.Client{Transport: mtls}}
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: s.mint(t, "mtls", "openid offline_access read")})
	get := func(base http.RoundTripper) int {
		t.Helper()
		resp, err := (&http.Client{Transport: &refresh.Transport{Source: src, Base: base}}).Get(s.Resource)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(mtls); code != http.StatusOK {
		t.Errorf("the resource with the same certificate: %d, want 200", code)
	}
	other := o.transport(o.otherClient)
	defer other.CloseIdleConnections()
	if code := get(other); code != http.StatusUnauthorized {
		t.Errorf("the resource with another certificate: %d, want 401", code)
	}
	wrong := &refresh.Client{TokenURL: s.TokenEndpoint, Auth: refresh.TLSClientAuth("interop-mtls"), HTTPClient: &http.Client{Transport: other}}
	if _, err := wrong.Refresh(t.Context(), s.mint(t, "mtls", "openid offline_access read")); !errors.Is(err, refresh.ErrInvalidClient) {
		t.Errorf("tls_client_auth with another certificate: %v, want invalid_client", err)
	}
}
