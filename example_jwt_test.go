package refresh_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tokenrefresh/refresh"
)

// exampleKey is a fixed Ed25519 key, so that the examples' output does not
// change. Real code loads its key, or uses a KMS key through crypto.Signer.
var exampleKey = ed25519.NewKeyFromSeed([]byte("an example seed of 32 bytes long"))

// claimsOf decodes the payload of a compact JWS without verifying it: the
// examples only show what is sent. A server verifies it (refreshtest does).
func claimsOf(jws string) map[string]any {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

// This client authenticates with a JWT signed by its private key. The audience
// is the Issuer, as draft-ietf-oauth-rfc7523bis requires.
func ExamplePrivateKeyJWT() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		c := claimsOf(r.PostForm.Get("client_assertion"))
		fmt.Println("client_assertion_type:", r.PostForm.Get("client_assertion_type"))
		fmt.Println("iss:", c["iss"], "sub:", c["sub"], "aud:", c["aud"])
		fmt.Println("lifetime:", c["exp"].(float64)-c["iat"].(float64), "s")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"at-2","token_type":"Bearer","expires_in":3600}`)
	}))
	defer srv.Close()

	c := &refresh.Client{
		TokenURL: srv.URL + "/token",
		Issuer:   "https://auth.example.com",
		Auth:     refresh.PrivateKeyJWT("my-service", exampleKey, refresh.WithKeyID("key-2025")),
	}
	t, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("access token:", t.AccessToken)
	fmt.Println(c.Auth)
	// Output:
	// client_assertion_type: urn:ietf:params:oauth:client-assertion-type:jwt-bearer
	// iss: my-service sub: my-service aud: https://auth.example.com
	// lifetime: 60 s
	// access token: at-2
	// refresh.PrivateKeyJWT{ClientID:"my-service", Alg:EdDSA, KeyID:"key-2025"}
}

// With Client.DPoP, every token request carries a proof of the key, and the
// server's nonce is learnt and used: here it asks for one on the first request,
// which is retried once with it.
func ExampleNewDPoP() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := claimsOf(r.Header.Get("DPoP"))
		fmt.Printf("proof: htm=%v nonce=%v\n", c["htm"], c["nonce"])
		w.Header().Set("DPoP-Nonce", "n-1")
		w.Header().Set("Content-Type", "application/json")
		if c["nonce"] != "n-1" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"use_dpop_nonce"}`)
			return
		}
		io.WriteString(w, `{"access_token":"at-2","token_type":"DPoP","expires_in":3600}`)
	}))
	defer srv.Close()

	d, err := refresh.NewDPoP(exampleKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("dpop_jkt:", d.Thumbprint())
	c := &refresh.Client{TokenURL: srv.URL + "/token", Auth: refresh.PublicClient("my-spa"), DPoP: d}
	t, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("token type:", t.TokenType)
	// Output:
	// dpop_jkt: d4SRQ8asVN6-wJusnmoXfkgq99mxMkyPqn8QGY7d50c
	// proof: htm=POST nonce=<nil>
	// proof: htm=POST nonce=n-1
	// token type: DPoP
}

// TLSClientAuth sends only client_id: the certificate that authenticates the
// client is the one its HTTPClient presents.
func ExampleTLSClientAuth() {
	c := &refresh.Client{
		TokenURL: "https://mtls.auth.example.com/token",
		Auth:     refresh.TLSClientAuth("my-service"),
		// HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		// 	Certificates: []tls.Certificate{clientCert}}}},
	}
	req, err := c.NewRequest(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(req.Body)
	fmt.Println(string(body))
	// Output:
	// grant_type=refresh_token&refresh_token=rt-1&client_id=my-service
}
