package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// Discover reads the server's metadata, and Metadata.NewClient turns it into a
// Client after checking that the server accepts the client's authentication
// method. The refreshtest server publishes its metadata at its root.
func ExampleDiscover() {
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{
		ID: "my-app", Secret: "s3cret", Method: refreshtest.AuthClientSecretBasic}))
	defer srv.Close()
	ctx := context.Background()

	md, err := refresh.Discover(ctx, nil, srv.Issuer()) // nil: the library's default client
	if err != nil {
		fmt.Println("discovery:", err)
		return
	}
	fmt.Println("auth methods:", md.TokenEndpointAuthMethodsSupported)

	c, err := md.NewClient(refresh.ClientSecretBasic("my-app", "s3cret"))
	if err != nil {
		fmt.Println("client:", err)
		return
	}
	fmt.Println("token endpoint:", strings.TrimPrefix(c.TokenURL, srv.URL))
	fmt.Println("revocation endpoint:", strings.TrimPrefix(c.RevocationURL, srv.URL))

	tok, err := c.Refresh(ctx, srv.IssueRefreshToken("my-app", "read"))
	if err != nil {
		fmt.Println("refresh:", err)
		return
	}
	fmt.Println("scopes:", tok.Scopes)
	// Output:
	// auth methods: [client_secret_basic client_secret_post none private_key_jwt client_secret_jwt]
	// token endpoint: /token
	// revocation endpoint: /revoke
	// scopes: [read]
}

// Client.Revoke revokes a refresh token (RFC 7009); the server then refuses
// it, with invalid_grant.
func ExampleClient_Revoke() {
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{
		ID: "my-app", Secret: "s3cret", Method: refreshtest.AuthClientSecretBasic}))
	defer srv.Close()
	ctx := context.Background()
	c := &refresh.Client{
		TokenURL:      srv.TokenURL(),
		RevocationURL: srv.RevocationURL(),
		Auth:          refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	rt := srv.IssueRefreshToken("my-app", "read")

	if err := c.Revoke(ctx, rt, "refresh_token"); err != nil {
		fmt.Println("revoke:", err)
		return
	}
	fmt.Println("revoked")
	// A token the server does not know is no error (RFC 7009 §2.2).
	fmt.Println("unknown token:", c.Revoke(ctx, "never-issued", ""))

	_, err := c.Refresh(ctx, rt)
	fmt.Println("refresh with the revoked token is invalid_grant:", errors.Is(err, refresh.ErrInvalidGrant))
	// Output:
	// revoked
	// unknown token: <nil>
	// refresh with the revoked token is invalid_grant: true
}

// Source.Revoke signs a grant out: the refresh token is revoked at the server,
// and the Source and its Store forget the tokens. Token then fails with
// ErrNoRefreshToken until the user signs in again (SetTokens).
func ExampleSource_Revoke() {
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{
		ID: "my-app", Secret: "s3cret", Method: refreshtest.AuthClientSecretBasic}))
	defer srv.Close()
	ctx := context.Background()
	c := &refresh.Client{
		TokenURL:      srv.TokenURL(),
		RevocationURL: srv.RevocationURL(),
		Auth:          refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	store := refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: srv.IssueRefreshToken("my-app", "read")})
	src := refresh.NewSource(c, nil, refresh.WithStore(store))
	if _, err := src.Token(ctx); err != nil {
		fmt.Println("token:", err)
		return
	}

	if err := src.Revoke(ctx); err != nil {
		fmt.Println("revoke:", err)
		return
	}
	stored, _ := store.Load(ctx)
	fmt.Println("stored after sign-out:", stored)
	_, err := src.Token(ctx)
	fmt.Println("signed out:", errors.Is(err, refresh.ErrNoRefreshToken))

	// The user signs in again.
	if err := src.SetTokens(ctx, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken("my-app", "read")}); err != nil {
		fmt.Println("set tokens:", err)
		return
	}
	tok, err := src.Token(ctx)
	fmt.Println("signed in again:", err == nil && tok.AccessToken != "")
	// Output:
	// stored after sign-out: <nil>
	// signed out: true
	// signed in again: true
}

// Metadata.NewClient checks the client's authentication method against the
// server's token_endpoint_auth_methods_supported, without a request.
func ExampleMetadata_NewClient() {
	md := &refresh.Metadata{
		Issuer:                            "https://auth.example.com",
		TokenEndpoint:                     "https://auth.example.com/oauth2/token",
		RevocationEndpoint:                "https://auth.example.com/oauth2/revoke",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "private_key_jwt"},
	}
	_, err := md.NewClient(refresh.ClientSecretPost("my-app", "s3cret"))
	fmt.Println(err)

	c, err := md.NewClient(refresh.ClientSecretBasic("my-app", "s3cret"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.TokenURL, c.RevocationURL)
	// Output:
	// refresh: Auth: the method "client_secret_post" is not in the server's token_endpoint_auth_methods_supported ["client_secret_basic" "private_key_jwt"]
	// https://auth.example.com/oauth2/token https://auth.example.com/oauth2/revoke
}
