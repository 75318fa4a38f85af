package oauth2adapter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/oauth2adapter"
	"golang.org/x/oauth2"
)

// A refresh.Source behind an oauth2.Transport, as an API that takes an
// oauth2.TokenSource would use it (a Google API client, gRPC credentials). The
// Source refreshes rt-1 once, saves the rotated rt-2 to its Store, and the
// protected resource accepts the access token.
func ExampleTokenSource() {
	p := newProvider(authBasic) // a fake provider on 127.0.0.1
	defer p.Close()

	c := &refresh.Client{
		TokenURL: p.URL + "/token",
		Auth:     refresh.ClientSecretBasic(testClientID, testClientSecret),
	}
	store := refresh.NewMemoryStore(nil)
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-1"}, refresh.WithStore(store))

	// ctx bounds each Token call's wait: the lifetime of what owns ts.
	ctx := context.Background()
	ts := oauth2adapter.TokenSource(ctx, src)
	hc := &http.Client{Transport: &oauth2.Transport{Source: ts}}

	resp, err := hc.Get(p.URL + "/api")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.Status, ": ", string(body))

	tok, err := ts.Token()
	if err != nil {
		fmt.Println(err)
		return
	}
	// Fake values: never print real tokens.
	fmt.Println("type:", tok.Type(), "expires in:", tok.ExpiresIn, "id_token:", tok.Extra("id_token"))
	fmt.Println("instance_url:", tok.Extra("instance_url"))
	saved, _ := store.Load(ctx)
	fmt.Println("stored refresh token:", saved.RefreshToken, "token requests:", p.TokenRequests())
	// Output:
	// 200 OK: hello
	// type: Bearer expires in: 3600 id_token: idt-1
	// instance_url: https://eu1.example.com
	// stored refresh token: rt-2 token requests: 1
}

// An x/oauth2 Config and a saved, expired Token become a refresh.Source: the
// first request refreshes with client_secret_post (AuthStyleInParams), and a
// refresh.Transport sends the new token.
func ExampleNewSource() {
	p := newProvider(authPost)
	defer p.Close()

	conf := &oauth2.Config{
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		Endpoint: oauth2.Endpoint{
			TokenURL:  p.URL + "/token",
			AuthStyle: oauth2.AuthStyleInParams, // AuthStyleAutoDetect is refused: name the style
		},
	}
	saved := &oauth2.Token{
		AccessToken:  "at-0",
		TokenType:    "Bearer",
		RefreshToken: "rt-1",
		Expiry:       time.Now().Add(-time.Minute),
	}
	src, err := oauth2adapter.NewSource(conf, saved)
	if err != nil {
		fmt.Println(err)
		return
	}
	hc := &http.Client{Transport: &refresh.Transport{Source: src}}
	resp, err := hc.Get(p.URL + "/api")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)

	tok, err := src.Token(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.AccessToken, tok.RefreshToken, tok.IDToken) // fake values
	// Output:
	// 200 OK
	// at-1 rt-2 idt-1
}

// Endpoint.AuthStyle left at its zero value, AuthStyleAutoDetect, is an error:
// detecting the style means posting the refresh token twice.
func ExampleAuth() {
	conf := &oauth2.Config{
		ClientID:     "my-app",
		ClientSecret: "s3cret",
		Endpoint:     oauth2.Endpoint{TokenURL: "https://example.com/token"},
	}
	_, err := oauth2adapter.Auth(conf)
	fmt.Println(errors.Is(err, oauth2adapter.ErrAuthStyleAutoDetect))

	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	auth, err := oauth2adapter.Auth(conf)
	fmt.Println(auth, err)
	// Output:
	// true
	// refresh.ClientSecretBasic{ClientID:"my-app", ClientSecret:[redacted]} <nil>
}

// ToToken keeps every field of the token response as an extra, as x/oauth2
// does, and ExpiresIn as the lifetime the server granted.
func ExampleToToken() {
	c := &refresh.Client{}
	resp := &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"access_token":"at","token_type":"bearer","expires_in":28800,` +
			`"refresh_token":"rt","refresh_token_expires_in":15811200,"id_token":"idt"}`)),
	}
	t, err := c.ParseResponse(resp)
	if err != nil {
		fmt.Println(err)
		return
	}
	tok := oauth2adapter.ToToken(t)
	fmt.Println(tok.Type(), tok.ExpiresIn, tok.Expiry.Equal(t.ExpiresAt))
	fmt.Println(tok.Extra("id_token"), tok.Extra("refresh_token_expires_in"))
	// Output:
	// Bearer 28800 true
	// idt 1.58112e+07
}
