package refresh_test

// End-to-end tests of the assertion methods and DPoP against refreshtest,
// whose verifier is its own (it does not use internal/jws).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

func TestE2EClientAssertions(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name     string
		client   refreshtest.Client
		auth     refresh.Auth
		issuer   bool // set Client.Issuer to the server's URL
		clock    time.Duration
		wantCode string
	}{
		{name: "private_key_jwt ES256 with aud = Issuer", client: refreshtest.Client{ID: "es", Method: refreshtest.AuthPrivateKeyJWT, PublicKey: p256.Public()},
			auth: refresh.PrivateKeyJWT("es", p256), issuer: true},
		{name: "private_key_jwt ES512 with aud = TokenURL", client: refreshtest.Client{ID: "es", Method: refreshtest.AuthPrivateKeyJWT, PublicKey: p521.Public()},
			auth: refresh.PrivateKeyJWT("es", p521)},
		{name: "private_key_jwt RS256", client: refreshtest.Client{ID: "rs", Method: refreshtest.AuthPrivateKeyJWT, PublicKey: rsaKey.Public()},
			auth: refresh.PrivateKeyJWT("rs", rsaKey), issuer: true},
		{name: "private_key_jwt PS256", client: refreshtest.Client{ID: "rs", Method: refreshtest.AuthPrivateKeyJWT, PublicKey: rsaKey.Public()},
			auth: refresh.PrivateKeyJWT("rs", rsaKey, refresh.WithPSS())},
		{name: "private_key_jwt EdDSA", client: refreshtest.Client{ID: "ed", Method: refreshtest.AuthPrivateKeyJWT, PublicKey: edKey.Public()},
			auth: refresh.PrivateKeyJWT("ed", edKey, refresh.WithExplicitTyp()), issuer: true},
		{name: "client_secret_jwt HS256", client: refreshtest.Client{ID: "hs", Secret: "hs-secret", Method: refreshtest.AuthClientSecretJWT},
			auth: refresh.ClientSecretJWT("hs", "hs-secret"), issuer: true},
		{name: "another key is invalid_client", client: refreshtest.Client{ID: "ed", Method: refreshtest.AuthPrivateKeyJWT, PublicKey: edKey.Public()},
			auth: refresh.PrivateKeyJWT("ed", otherKey), wantCode: "invalid_client"},
		{name: "a wrong secret is invalid_client", client: refreshtest.Client{ID: "hs", Secret: "hs-secret", Method: refreshtest.AuthClientSecretJWT},
			auth: refresh.ClientSecretJWT("hs", "not-it"), wantCode: "invalid_client"},
		{name: "an audience of another server is invalid_client", client: refreshtest.Client{ID: "ed", Method: refreshtest.AuthPrivateKeyJWT, PublicKey: edKey.Public()},
			auth: refresh.PrivateKeyJWT("ed", edKey, refresh.WithAudience("https://other.example.com")), wantCode: "invalid_client"},
		{name: "an assertion already expired on the server's clock is invalid_client", client: refreshtest.Client{ID: "ed", Method: refreshtest.AuthPrivateKeyJWT, PublicKey: edKey.Public()},
			auth: refresh.PrivateKeyJWT("ed", edKey), clock: -2 * time.Minute, wantCode: "invalid_client"},
		{name: "private_key_jwt for a client registered with a secret is invalid_client", client: refreshtest.Client{ID: "ed", Secret: "x", Method: refreshtest.AuthClientSecretPost},
			auth: refresh.PrivateKeyJWT("ed", edKey), wantCode: "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := e2eServer(t, refreshtest.WithClient(tt.client))
			c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: tt.auth, Now: func() time.Time { return time.Now().Add(tt.clock) }}
			if tt.issuer {
				c.Issuer = srv.URL
			}
			_, err := c.Refresh(t.Context(), srv.IssueRefreshToken(tt.client.ID))
			if got := e2eCode(err); got != tt.wantCode {
				t.Fatalf("error %v, want code %q", err, tt.wantCode)
			}
			reqs := srv.Requests()
			want := refreshtest.AuthPrivateKeyJWT
			if tt.client.Method == refreshtest.AuthClientSecretJWT {
				want = refreshtest.AuthClientSecretJWT
			}
			if got := reqs[len(reqs)-1]; got.AuthMethod != want || got.ClientID != tt.client.ID || got.ClientSecret != "" {
				t.Errorf("recorded %v with secret %t, want method %s", got, got.ClientSecret != "", want)
			}
		})
	}
}

// TestE2EAssertionReplay sends a recorded token request again, as an attacker
// who saw it would: the server refuses its jti.
func TestE2EAssertionReplay(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	srv := e2eServer(t, refreshtest.WithClient(refreshtest.Client{ID: "ed", Method: refreshtest.AuthPrivateKeyJWT, PublicKey: key.Public()}),
		refreshtest.WithRotation(refreshtest.KeepRefreshTokens))
	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PrivateKeyJWT("ed", key)}
	if _, err := c.Refresh(t.Context(), srv.IssueRefreshToken("ed")); err != nil {
		t.Fatal(err)
	}
	sent := srv.Requests()[0].Body
	resp, err := http.Post(srv.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader(sent))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "jti was already used") {
		t.Errorf("replay: %d %s, want 401 for the jti", resp.StatusCode, body)
	}
}

func newE2EDPoP(t *testing.T) *refresh.DPoP {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d, err := refresh.NewDPoP(key)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestE2EDPoP refreshes and calls the resource through Transport, with nonces
// that rotate after every accepted proof or every third one, for a public
// client (its refresh token is bound to the key) and a confidential one.
func TestE2EDPoP(t *testing.T) {
	for _, tt := range []struct {
		name   string
		client refreshtest.Client
		auth   refresh.Auth
		every  int
	}{
		{"a public client, a new nonce after every proof", e2ePublic, refresh.PublicClient(e2ePublic.ID), 1},
		{"a public client, a new nonce every third proof", e2ePublic, refresh.PublicClient(e2ePublic.ID), 3},
		{"a confidential client, a new nonce after every proof", e2ePost, refresh.ClientSecretPost(e2ePost.ID, e2ePost.Secret), 1},
		{"a confidential client without nonces", e2ePost, refresh.ClientSecretPost(e2ePost.ID, e2ePost.Secret), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := e2eServer(t, refreshtest.WithDPoPNonces(tt.every))
			d := newE2EDPoP(t)
			c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: tt.auth, DPoP: d}
			src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken(tt.client.ID, "read")})
			hc := &http.Client{Transport: &refresh.Transport{Source: src}}
			for i := range 4 {
				resp, err := hc.Get(srv.ResourceURL() + "?i=" + string(rune('0'+i)))
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %d: %d %s %q", i, resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
				}
			}
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "DPoP" {
				t.Errorf("TokenType %q, want DPoP", tok.TokenType)
			}
			// A second refresh through the Client proves the refresh token
			// (bound for a public client) with the same key.
			next, err := c.Refresh(t.Context(), tok.RefreshToken)
			if err != nil {
				t.Fatalf("second refresh: %v", err)
			}
			// The same refresh token with another key: refused for a bound one.
			other := &refresh.Client{TokenURL: srv.TokenURL(), Auth: tt.auth, DPoP: newE2EDPoP(t)}
			_, err = other.Refresh(t.Context(), next.RefreshToken)
			wantCode := ""
			if tt.client.Method == refreshtest.AuthNone {
				wantCode = "invalid_grant"
			}
			if got := e2eCode(err); got != wantCode {
				t.Errorf("refresh with another key: %v, want code %q", err, wantCode)
			}
			for _, r := range srv.Requests() {
				if r.DPoPJKT == "" {
					t.Errorf("a token request without a valid proof: %v", r)
				}
			}
		})
	}
}

// TestE2EDPoPTokenAsBearer sends a DPoP-bound token without its proof.
func TestE2EDPoPTokenAsBearer(t *testing.T) {
	srv := e2eServer(t)
	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient(e2ePublic.ID), DPoP: newE2EDPoP(t)}
	tok, err := c.Refresh(t.Context(), srv.IssueRefreshToken(e2ePublic.ID))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.ResourceURL(), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a DPoP-bound token as Bearer: %d, want 401", resp.StatusCode)
	}
}

// TestE2EThumbprintsAgree compares the library's thumbprint with the fake
// server's own.
func TestE2EThumbprintsAgree(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, k := range []crypto.Signer{edKey, rsaKey, p384} {
		d, err := refresh.NewDPoP(k)
		if err != nil {
			t.Fatal(err)
		}
		want, err := refreshtest.Thumbprint(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, d.Thumbprint()); diff != "" {
			t.Errorf("%T thumbprint (-refreshtest +refresh):\n%s", k, diff)
		}
	}
}
