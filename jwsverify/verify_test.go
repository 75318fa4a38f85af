package jwsverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
)

const (
	issuer   = "https://auth.example.com"
	tokenURL = issuer + "/oauth2/token"
)

// every is each algorithm refresh signs with, the key that makes it, and the
// key that verifies it.
type keyCase struct {
	alg    jose.SignatureAlgorithm
	signer crypto.Signer // nil for HS256
	pss    bool
	verify any
}

func keyCases(t *testing.T) []keyCase {
	t.Helper()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	return []keyCase{
		{alg: jose.ES256, signer: p256, verify: &p256.PublicKey},
		{alg: jose.ES384, signer: p384, verify: &p384.PublicKey},
		{alg: jose.ES512, signer: p521, verify: &p521.PublicKey},
		{alg: jose.RS256, signer: rsaKey, verify: &rsaKey.PublicKey},
		{alg: jose.PS256, signer: rsaKey, pss: true, verify: &rsaKey.PublicKey},
		{alg: jose.EdDSA, signer: edKey, verify: edPub},
	}
}

// build builds the refresh request of c and returns it with its form.
func build(t *testing.T, c *refresh.Client) (*http.Request, url.Values) {
	t.Helper()
	req, err := c.NewRequest(t.Context(), "rt-1")
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return req, form
}

// TestAssertionsVerifyWithGoJose signs a client assertion with every
// algorithm and checks it with go-jose: signature, alg, kid, iss, sub, aud,
// iat, exp, jti.
func TestAssertionsVerifyWithGoJose(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	type row struct {
		name   string
		auth   refresh.Auth
		alg    jose.SignatureAlgorithm
		verify any
	}
	var rows []row
	for _, k := range keyCases(t) {
		opts := []refresh.AssertionOption{refresh.WithKeyID("kid-1")}
		if k.pss {
			opts = append(opts, refresh.WithPSS())
		}
		rows = append(rows, row{"PrivateKeyJWT " + string(k.alg), refresh.PrivateKeyJWT("client-1", k.signer, opts...), k.alg, k.verify})
	}
	rows = append(rows, row{"ClientSecretJWT HS256", refresh.ClientSecretJWT("client-1", "a-client-secret-of-32-bytes-long", refresh.WithKeyID("kid-1")), jose.HS256, []byte("a-client-secret-of-32-bytes-long")})
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			c := &refresh.Client{TokenURL: tokenURL, Issuer: issuer, Auth: r.auth, Now: func() time.Time { return now }}
			_, form := build(t, c)
			if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
				t.Errorf("client_assertion_type = %q", form.Get("client_assertion_type"))
			}
			tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{r.alg})
			if err != nil {
				t.Fatalf("go-jose cannot parse the assertion as %s: %v", r.alg, err)
			}
			if kid := tok.Headers[0].KeyID; kid != "kid-1" {
				t.Errorf("kid = %q, want kid-1", kid)
			}
			var claims jwt.Claims
			if err := tok.Claims(r.verify, &claims); err != nil {
				t.Fatalf("go-jose does not verify the assertion: %v", err)
			}
			err = claims.ValidateWithLeeway(jwt.Expected{Issuer: "client-1", Subject: "client-1",
				AnyAudience: jwt.Audience{issuer}, Time: now}, 0)
			if err != nil {
				t.Errorf("claims %+v: %v", claims, err)
			}
			if got := claims.Expiry.Time().Sub(claims.IssuedAt.Time()); got != 60*time.Second {
				t.Errorf("exp - iat = %v, want 60s", got)
			}
			if len(claims.ID) < 22 {
				t.Errorf("jti %q", claims.ID)
			}
		})
	}
}

// dpopClaims are the claims of a DPoP proof (RFC 9449 §4.2).
type dpopClaims struct {
	ID    string `json:"jti"`
	Htm   string `json:"htm"`
	Htu   string `json:"htu"`
	Iat   int64  `json:"iat"`
	Nonce string `json:"nonce,omitempty"`
	Ath   string `json:"ath,omitempty"`
}

// verifyProof checks a DPoP proof with go-jose against the jwk in its own
// header, as a server does (RFC 9449 §4.3), and returns its claims and the
// jwk's thumbprint.
//
// It reports with Errorf, never Fatal: it runs in server handlers too, off
// the test goroutine.
func verifyProof(t *testing.T, proof string, alg jose.SignatureAlgorithm) (dpopClaims, string) {
	t.Helper()
	sig, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{alg})
	if err != nil {
		t.Errorf("go-jose cannot parse the proof as %s: %v", alg, err)
		return dpopClaims{}, ""
	}
	h := sig.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		t.Errorf("typ = %q, want dpop+jwt", typ)
	}
	jwk := h.JSONWebKey
	if jwk == nil || !jwk.IsPublic() || !jwk.Valid() {
		t.Errorf("the proof's jwk is not a valid public key: %+v", jwk)
		return dpopClaims{}, ""
	}
	payload, err := sig.Verify(jwk)
	if err != nil {
		t.Errorf("go-jose does not verify the proof with its jwk: %v", err)
		return dpopClaims{}, ""
	}
	var c dpopClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Error(err)
		return dpopClaims{}, ""
	}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Error(err)
		return dpopClaims{}, ""
	}
	return c, base64.RawURLEncoding.EncodeToString(thumb)
}

// TestDPoPProofsVerifyWithGoJose checks the token request's proof for every
// asymmetric algorithm, and that Thumbprint is go-jose's RFC 7638 thumbprint.
func TestDPoPProofsVerifyWithGoJose(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	for _, k := range keyCases(t) {
		if k.pss {
			continue // NewDPoP signs RSA with RS256
		}
		t.Run(string(k.alg), func(t *testing.T) {
			d, err := refresh.NewDPoP(k.signer)
			if err != nil {
				t.Fatal(err)
			}
			c := &refresh.Client{TokenURL: tokenURL + "?tenant=1", DPoP: d, Now: func() time.Time { return now }}
			req, _ := build(t, c)
			claims, thumb := verifyProof(t, req.Header.Get("DPoP"), k.alg)
			if thumb != d.Thumbprint() {
				t.Errorf("Thumbprint() = %s, go-jose says %s", d.Thumbprint(), thumb)
			}
			want := dpopClaims{ID: claims.ID, Htm: "POST", Htu: tokenURL, Iat: now.Unix()}
			if diff := cmp.Diff(want, claims); diff != "" || len(claims.ID) < 22 {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTransportProofsVerifyWithGoJose runs a resource server of ours that
// checks every proof the Transport sends with go-jose: signature, jwk bound to
// the token (cnf.jkt), htm, htu, ath, a fresh jti, and its own rotating nonce.
func TestTransportProofsVerifyWithGoJose(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d, err := refresh.NewDPoP(key)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	jtis := map[string]bool{}
	nonce := 0
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests++
		claims, thumb := verifyProof(t, r.Header.Get("DPoP"), jose.ES256)
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
		ath := sha256.Sum256([]byte(tok))
		switch {
		case thumb != d.Thumbprint():
			t.Errorf("proof by another key")
		case claims.Htm != r.Method || claims.Htu != "http://"+r.Host+r.URL.Path:
			t.Errorf("htm %q htu %q for %s %s", claims.Htm, claims.Htu, r.Method, r.URL)
		case claims.Ath != base64.RawURLEncoding.EncodeToString(ath[:]):
			t.Errorf("ath %q is not the hash of the token", claims.Ath)
		case jtis[claims.ID]:
			t.Errorf("jti %q used twice", claims.ID)
		}
		jtis[claims.ID] = true
		want := fmt.Sprint("n", nonce)
		nonce++
		w.Header().Set("DPoP-Nonce", fmt.Sprint("n", nonce))
		if claims.Nonce != want {
			w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tokens := &refresh.Tokens{AccessToken: "at-1", TokenType: "DPoP", ExpiresAt: time.Now().Add(time.Hour)}
	src := refresh.NewSource(&refresh.Client{TokenURL: srv.URL + "/token", DPoP: d}, tokens)
	hc := &http.Client{Transport: &refresh.Transport{Source: src}}
	for i := range 5 {
		resp, err := hc.Get(srv.URL + "/api/items?page=" + fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %d: %d", i, resp.StatusCode)
		}
	}
	if requests != 6 {
		t.Errorf("%d requests for 5 GETs, want 6 (one replay to learn the first nonce)", requests)
	}
}
