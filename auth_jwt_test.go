package refresh_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
)

// decodeJWS checks a compact JWS's signature with verify and returns its
// header and claims.
//
// It reports with Errorf, never Fatal: it runs in server handlers too, off
// the test goroutine.
func decodeJWS(t *testing.T, compact string, verify func(input, sig []byte) bool) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		t.Errorf("JWS with %d parts", len(parts))
		return nil, nil
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Errorf("JWS part %d: %v", i, err)
			return nil, nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Errorf("JWS part %d: %v", i, err)
			return nil, nil
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Errorf("JWS signature: %v", err)
		return nil, nil
	}
	if !verify([]byte(parts[0]+"."+parts[1]), sig) {
		t.Errorf("the JWS signature does not verify")
	}
	return header, claims
}

func verifyEd25519(pub ed25519.PublicKey) func(input, sig []byte) bool {
	return func(input, sig []byte) bool { return ed25519.Verify(pub, input, sig) }
}

func verifyES256(pub *ecdsa.PublicKey) func(input, sig []byte) bool {
	return func(input, sig []byte) bool {
		d := sha256.Sum256(input)
		return len(sig) == 64 && ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	}
}

func verifyHS256(secret string) func(input, sig []byte) bool {
	return func(input, sig []byte) bool {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(input)
		return hmac.Equal(m.Sum(nil), sig)
	}
}

// formOf builds the refresh request of "rt-1" through c and returns its body.
func formOf(t *testing.T, c *refresh.Client) url.Values {
	t.Helper()
	req, err := c.NewRequest(t.Context(), "rt-1")
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	form, err := url.ParseQuery(readBody(t, req))
	if err != nil {
		t.Fatal(err)
	}
	return form
}

func TestClientAssertionClaims(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edPub := edKey.Public().(ed25519.PublicKey)
	const issuer = "https://auth.example.com"
	tests := []struct {
		name       string
		auth       refresh.Auth
		issuer     string
		verify     func(input, sig []byte) bool
		wantHeader map[string]any
		wantAud    string
		wantLife   float64
	}{
		{
			name:       "PrivateKeyJWT names the token endpoint when there is no Issuer",
			auth:       refresh.PrivateKeyJWT("client-1", edKey),
			verify:     verifyEd25519(edPub),
			wantHeader: map[string]any{"alg": "EdDSA"},
			wantAud:    authTokenURL, wantLife: 60,
		},
		{
			name:       "PrivateKeyJWT names the Issuer when it is set (rfc7523bis)",
			auth:       refresh.PrivateKeyJWT("client-1", edKey, refresh.WithKeyID("k1")),
			issuer:     issuer,
			verify:     verifyEd25519(edPub),
			wantHeader: map[string]any{"alg": "EdDSA", "kid": "k1"},
			wantAud:    issuer, wantLife: 60,
		},
		{
			name:       "WithAudience wins over the Issuer; WithLifetime and WithExplicitTyp apply",
			auth:       refresh.PrivateKeyJWT("client-1", edKey, refresh.WithAudience(authTokenURL), refresh.WithLifetime(5*time.Minute), refresh.WithExplicitTyp()),
			issuer:     issuer,
			verify:     verifyEd25519(edPub),
			wantHeader: map[string]any{"alg": "EdDSA", "typ": "client-authentication+jwt"},
			wantAud:    authTokenURL, wantLife: 300,
		},
		{
			name:       "ClientSecretJWT signs with HS256 under the secret",
			auth:       refresh.ClientSecretJWT("client-1", "s3cret"),
			issuer:     issuer,
			verify:     verifyHS256("s3cret"),
			wantHeader: map[string]any{"alg": "HS256"},
			wantAud:    issuer, wantLife: 60,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &refresh.Client{TokenURL: authTokenURL, Issuer: tt.issuer, Auth: tt.auth, Now: func() time.Time { return t0 }}
			form := formOf(t, c)
			if got := form.Get("client_assertion_type"); got != refresh.AssertionType {
				t.Errorf("client_assertion_type = %q", got)
			}
			if form.Get("client_id") != "client-1" || form.Has("client_secret") {
				t.Errorf("form %v: want client_id and no client_secret", form)
			}
			header, claims := decodeJWS(t, form.Get("client_assertion"), tt.verify)
			if diff := cmp.Diff(tt.wantHeader, header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			jti, _ := claims["jti"].(string)
			if len(jti) < 22 {
				t.Errorf("jti %q is not 128 random bits", jti)
			}
			delete(claims, "jti")
			want := map[string]any{"iss": "client-1", "sub": "client-1", "aud": tt.wantAud,
				"iat": float64(t0.Unix()), "exp": float64(t0.Unix()) + tt.wantLife}
			if diff := cmp.Diff(want, claims); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClientAssertionIsNewOnEveryAttempt sends a refresh that the server
// answers 503 twice, then 200: each of the three requests must carry its own
// assertion, with its own jti.
func TestClientAssertionIsNewOnEveryAttempt(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var mu sync.Mutex
	var jtis []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		_, claims := decodeJWS(t, r.PostForm.Get("client_assertion"), verifyES256(&key.PublicKey))
		mu.Lock()
		jtis = append(jtis, claims["jti"].(string))
		n := len(jtis)
		mu.Unlock()
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"at","token_type":"Bearer"}`)
	}))
	defer srv.Close()
	c := &refresh.Client{TokenURL: srv.URL + tokenPath, Auth: refresh.PrivateKeyJWT("client-1", key),
		Backoff: func(refresh.RetryAttempt) time.Duration { return 0 }}
	if _, err := c.Refresh(t.Context(), "rt-1"); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if len(jtis) != 3 || jtis[0] == jtis[1] || jtis[1] == jtis[2] || jtis[0] == jtis[2] {
		t.Errorf("jtis of the three attempts: %q, want three different", jtis)
	}
}

// otherKey is a crypto.Signer of a kind no JWS algorithm uses.
type otherKey struct{}

func (otherKey) Public() crypto.PublicKey                                  { return struct{}{} }
func (otherKey) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, nil }

func TestAssertionAuthRefusals(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name string
		auth refresh.Auth
		want string
	}{
		{"a key of another type", refresh.PrivateKeyJWT("c", otherKey{}), "refresh: PrivateKeyJWT: key: unsupported key type struct {}: use ECDSA (P-256, P-384, P-521), RSA or Ed25519"},
		{"a nil key", refresh.PrivateKeyJWT("c", nil), "refresh: PrivateKeyJWT: key: nil key"},
		{"an RSA key of 1024 bits", refresh.PrivateKeyJWT("c", small), "refresh: PrivateKeyJWT: key: RSA key shorter than 2048 bits (RFC 7518 §3.3)"},
		{"an empty client ID", refresh.PrivateKeyJWT("", edKey), "refresh: PrivateKeyJWT: empty client ID"},
		{"a lifetime under a second", refresh.PrivateKeyJWT("c", edKey, refresh.WithLifetime(time.Millisecond)), "refresh: PrivateKeyJWT: assertion lifetime 1ms is under one second"},
		{"an empty secret", refresh.ClientSecretJWT("c", ""), "refresh: ClientSecretJWT: client secret: empty secret"},
		{"TLSClientAuth without a client ID", refresh.TLSClientAuth(""), "refresh: TLSClientAuth: empty client ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is a ConfigError", func(t *testing.T) {
			_, err := buildWith(t, tt.auth)
			var ce *refresh.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v (%T), want a *ConfigError", err, err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrorsHideTheAssertionAndTheProof has the server echo the assertion and
// the DPoP proof it received in its error_description.
func TestErrorsHideTheAssertionAndTheProof(t *testing.T) {
	var echoed []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		echoed = []string{r.PostForm.Get("client_assertion"), r.Header.Get("DPoP")}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client",
			"error_description": "bad assertion " + echoed[0] + " with proof " + echoed[1]})
	}))
	defer srv.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d, err := refresh.NewDPoP(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &refresh.Client{TokenURL: srv.URL + tokenPath, Auth: refresh.PrivateKeyJWT("c", key), DPoP: d}
	_, err = c.Refresh(t.Context(), "rt-1")
	if !errors.Is(err, refresh.ErrInvalidClient) {
		t.Fatalf("error = %v, want invalid_client", err)
	}
	for _, s := range echoed {
		if s == "" || strings.Contains(err.Error(), s) {
			t.Errorf("the error shows what the request carried (%d bytes): %v", len(s), err)
		}
	}
}

// testCA makes a CA and a certificate it signs, for a server or a client.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{"localhost"},
		IPAddresses: nil, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
	tmpl.IPAddresses = append(tmpl.IPAddresses, []byte{127, 0, 0, 1})
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// certThumbprint is x5t#S256 (RFC 8705 §3.1) of a TLS peer's certificate.
func certThumbprint(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestTLSClientAuthAndCertificateBoundTokens runs a token endpoint and a
// resource over https that ask for client certificates (RFC 8705): the token is
// bound to the certificate that refreshed it, and the resource takes it only
// from a client presenting that certificate.
func TestTLSClientAuthAndCertificateBoundTokens(t *testing.T) {
	ca := newTestCA(t)
	serverCert := ca.issue(t, "localhost", x509.ExtKeyUsageServerAuth)
	clientCert := ca.issue(t, "client-1", x509.ExtKeyUsageClientAuth)
	otherCert := ca.issue(t, "client-2", x509.ExtKeyUsageClientAuth)

	var mu sync.Mutex
	bound := map[string]string{} // access token → x5t#S256
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		thumb := certThumbprint(r)
		if r.URL.Path == tokenPath {
			r.ParseForm()
			if r.PostForm.Get("client_id") != "client-1" || thumb == "" {
				http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
				return
			}
			mu.Lock()
			bound["at-1"] = thumb
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`)
			return
		}
		mu.Lock()
		want, ok := bound[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		mu.Unlock()
		if !ok || want != thumb {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "hello client-1")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.pool}
	srv.StartTLS()
	defer srv.Close()

	withCert := func(cert tls.Certificate) *http.Transport {
		return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{cert}}}
	}
	mtls := withCert(clientCert)
	defer mtls.CloseIdleConnections()
	c := &refresh.Client{TokenURL: srv.URL + tokenPath, Auth: refresh.TLSClientAuth("client-1"), HTTPClient: &http.Client{Transport: mtls}}
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-1"})

	get := func(base http.RoundTripper) (int, string) {
		t.Helper()
		hc := &http.Client{Transport: &refresh.Transport{Source: src, Base: base}}
		resp, err := hc.Get(srv.URL + "/api")
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(mtls); code != http.StatusOK || body != "hello client-1" {
		t.Errorf("with the same certificate: %d %q, want 200", code, body)
	}
	other := withCert(otherCert)
	defer other.CloseIdleConnections()
	if code, _ := get(other); code != http.StatusUnauthorized {
		t.Errorf("with another certificate: %d, want 401", code)
	}
}

// FuzzClientAssertion builds a ClientSecretJWT assertion for any client ID,
// secret, issuer and audience: it verifies under the secret, and its iss, sub
// and aud come back byte for byte, or the request is refused with a
// *ConfigError that does not show the secret.
func FuzzClientAssertion(f *testing.F) {
	f.Add("client-1", "s3cret", "https://auth.example.com", "")
	f.Add(`a"b\c`, "k", "", "https://as.example/token")
	f.Add("ünï\u2028code", "\x00", "https://x", "aud with spaces")
	f.Add("\xff", "s", "", "")
	f.Add("c", "", "", "")
	f.Fuzz(func(t *testing.T, clientID, secret, issuer, aud string) {
		if len(clientID)+len(secret)+len(issuer)+len(aud) > 600 {
			return
		}
		var opts []refresh.AssertionOption
		if aud != "" {
			opts = append(opts, refresh.WithAudience(aud))
		}
		c := &refresh.Client{TokenURL: authTokenURL, Issuer: issuer, Auth: refresh.ClientSecretJWT(clientID, secret, opts...)}
		req, err := c.NewRequest(t.Context(), "rt-1")
		if err != nil {
			var ce *refresh.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("NewRequest = %v, want a *ConfigError", err)
			}
			if len(secret) >= 6 && strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
			return
		}
		form, err := url.ParseQuery(readBody(t, req))
		if err != nil {
			t.Fatal(err)
		}
		_, claims := decodeJWS(t, form.Get("client_assertion"), verifyHS256(secret))
		want := aud
		if want == "" {
			want = issuer
		}
		if want == "" {
			want = authTokenURL
		}
		if claims["iss"] != clientID || claims["sub"] != clientID || claims["aud"] != want || form.Get("client_id") != clientID {
			t.Errorf("iss %q sub %q aud %q client_id %q; want %q and aud %q", claims["iss"], claims["sub"], claims["aud"], form.Get("client_id"), clientID, want)
		}
	})
}
