package refreshtest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// A test of a service that authenticates with private_key_jwt: register the
// client's public key.
func ExampleAuthPrivateKeyJWT() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{
		ID: "my-service", Method: refreshtest.AuthPrivateKeyJWT, PublicKey: key.Public(),
	}))
	defer srv.Close()

	c := &refresh.Client{TokenURL: srv.TokenURL(), Issuer: srv.URL, Auth: refresh.PrivateKeyJWT("my-service", key)}
	if _, err := c.Refresh(context.Background(), srv.IssueRefreshToken("my-service")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("method:", srv.Requests()[0].AuthMethod)
	// Output:
	// method: private_key_jwt
}

// A test of a public client with DPoP, against a server that requires nonces
// and changes them after every proof: the tokens are bound to the key, and
// Transport sends each request with a proof.
func ExampleWithDPoPNonces() {
	srv := refreshtest.NewServer(
		refreshtest.WithClient(refreshtest.Client{ID: "my-spa", Method: refreshtest.AuthNone}),
		refreshtest.WithDPoPNonces(1),
	)
	defer srv.Close()

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d, err := refresh.NewDPoP(key)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient("my-spa"), DPoP: d}
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken("my-spa", "read")})
	hc := &http.Client{Transport: &refresh.Transport{Source: src}}
	for range 2 {
		resp, err := hc.Get(srv.ResourceURL())
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(resp.StatusCode, " ", string(body))
	}
	for _, r := range srv.Requests() {
		fmt.Println("token request: proof by our key:", r.DPoPJKT == d.Thumbprint())
	}
	// Output:
	// 200 {"client_id":"my-spa","scope":"read"}
	// 200 {"client_id":"my-spa","scope":"read"}
	// token request: proof by our key: true
	// token request: proof by our key: true
}
