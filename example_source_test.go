package refresh_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"

	"github.com/tokenrefresh/refresh"
)

// exampleProvider is an authorization server and a resource server in one
// httptest.Server on 127.0.0.1, so that the Source and Transport examples run
// offline. Its client is my-app (secret "s3cret").
//
// Refresh tokens rotate and each works once: rt-1 gives the access token at-1
// and the refresh token rt-2, rt-2 gives at-2 and rt-3, and so on. The token
// type is sent as "bearer", lower case, as Twitter and Twitch send it.
//
// A token request that asks for a scope or a resource (RFC 8707) prints them.
// Every path under /api/ prints the Authorization header (and any body) it
// received, and accepts only the newest access token; any other token gets 401
// with WWW-Authenticate: Bearer error="invalid_token" (RFC 6750 §3.1).
type exampleProvider struct {
	*httptest.Server

	mu       sync.Mutex
	live     string // the refresh token that works next
	access   string // the access token /api/ accepts
	issued   int
	requests int // token requests received
}

func startExampleProvider() *exampleProvider {
	p := &exampleProvider{live: "rt-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("/api/", p.api)
	p.Server = httptest.NewServer(mux)
	return p
}

// TokenRequests returns how many token requests the provider has received.
func (p *exampleProvider) TokenRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

func (p *exampleProvider) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if id, secret, ok := r.BasicAuth(); !ok || id != "my-app" || secret != "s3cret" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	if r.PostFormValue("grant_type") != "refresh_token" || r.PostFormValue("refresh_token") != p.live {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"refresh token is invalid, expired or already used"}`)
		return
	}
	if scope, res := r.PostFormValue("scope"), r.PostFormValue("resource"); scope != "" || res != "" {
		fmt.Printf("token request for scope %q and resource %q\n", scope, res)
	}
	p.issued++
	p.access = fmt.Sprintf("at-%d", p.issued)
	p.live = fmt.Sprintf("rt-%d", p.issued+1)
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": p.access, "token_type": "bearer", "expires_in": 3600, "refresh_token": p.live,
	})
}

func (p *exampleProvider) api(w http.ResponseWriter, r *http.Request) {
	authz := r.Header.Get("Authorization")
	if body, _ := io.ReadAll(r.Body); len(body) > 0 {
		fmt.Printf("%s got Authorization %q and body %q\n", r.URL.Path, authz, body)
	} else {
		fmt.Printf("%s got Authorization %q\n", r.URL.Path, authz)
	}
	p.mu.Lock()
	ok := p.access != "" && authz == "Bearer "+p.access
	p.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	io.WriteString(w, "hello, my-app user\n")
}

// A Source hands out one access token and refreshes it when it is about to
// expire. Here it starts from a refresh token alone, so the first Token
// refreshes and the second gets the cached token. With a Store, every rotated
// refresh token is saved before Token returns.
func ExampleNewSource() {
	p := startExampleProvider()
	defer p.Close()

	c := &refresh.Client{
		TokenURL: p.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	store := refresh.NewMemoryStore(nil) // a database or a secret manager in real code
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-1"},
		refresh.WithStore(store))

	ctx := context.Background()
	for range 2 {
		tok, err := src.Token(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("access token:", tok.AccessToken) // fake values: never print real tokens
	}
	fmt.Println("token requests:", p.TokenRequests())

	saved, err := store.Load(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stored refresh token:", saved.RefreshToken)
	// Output:
	// access token: at-1
	// access token: at-1
	// token requests: 1
	// stored refresh token: rt-2
}

// Any number of goroutines may call Token at once: when no valid token is
// cached, one refresh runs and every caller gets its result.
func ExampleSource_Token() {
	p := startExampleProvider()
	defer p.Close()

	c := &refresh.Client{
		TokenURL: p.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-1"})

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		tokens = map[string]int{} // access token → callers that got it
	)
	for range 100 {
		wg.Go(func() {
			tok, err := src.Token(context.Background())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				tokens[err.Error()]++
				return
			}
			tokens[tok.AccessToken]++
		})
	}
	wg.Wait()
	fmt.Println(tokens)
	fmt.Println("token requests:", p.TokenRequests())
	// Output:
	// map[at-1:100]
	// token requests: 1
}

// StoreFunc turns a save callback into a Store. The Source calls it with every
// new set of tokens before any caller sees them, so the rotated refresh token is
// stored before Token returns: a crash after the refresh cannot lose it. When the
// save fails, the caller gets a *StoreError, but nothing is lost: the server has
// spent the old refresh token already, so the Source keeps the new tokens in
// memory, hands them out, and saves them again on a later call (after 1 s at
// first).
func ExampleStoreFunc() {
	p := startExampleProvider()
	defer p.Close()

	c := &refresh.Client{
		TokenURL: p.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	save := refresh.StoreFunc(func(ctx context.Context, t *refresh.Tokens) error {
		// Real code writes t to durable storage here and returns its error.
		fmt.Println("saving refresh token", t.RefreshToken)
		return errors.New("database unavailable")
	})
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-1"}, refresh.WithStore(save))

	ctx := context.Background()
	_, err := src.Token(ctx)
	var storeErr *refresh.StoreError
	if errors.As(err, &storeErr) {
		fmt.Println("StoreError, op", storeErr.Op)
	}

	tok, err := src.Token(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("access token:", tok.AccessToken, "token requests:", p.TokenRequests())
	// Output:
	// saving refresh token rt-2
	// StoreError, op save
	// access token: at-1 token requests: 1
}

// Sources that share a Store share the tokens: a Source created with nil
// initial tokens, after a restart or in another replica, starts from the
// stored ones, and each Source loads the store before it refreshes, so it uses
// the tokens another Source saved instead of spending a refresh token twice.
// MemoryStore shares tokens within one process; replicas need a shared
// database behind the Store.
func ExampleMemoryStore() {
	p := startExampleProvider()
	defer p.Close()

	c := &refresh.Client{
		TokenURL: p.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	store := refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: "rt-1"})
	a := refresh.NewSource(c, nil, refresh.WithStore(store))
	b := refresh.NewSource(c, nil, refresh.WithStore(store))

	ctx := context.Background()
	show := func(name string, src *refresh.Source) *refresh.Tokens {
		tok, err := src.Token(ctx)
		if err != nil {
			fmt.Println(name, err)
			return nil
		}
		fmt.Printf("%s: %s (token requests: %d)\n", name, tok.AccessToken, p.TokenRequests())
		return tok
	}
	old := show("a", a) // refreshes with rt-1 and saves rt-2
	show("b", b)        // loads what a saved: no request

	// A resource server rejects at-1 (Transport calls Invalidate on a 401).
	// a refreshes with rt-2; b then finds at-2 in the store.
	a.Invalidate(old)
	b.Invalidate(old)
	show("a", a)
	show("b", b)
	// Output:
	// a: at-1 (token requests: 1)
	// b: at-1 (token requests: 1)
	// a: at-2 (token requests: 2)
	// b: at-2 (token requests: 2)
}

// An invalid_grant (the refresh token was revoked, expired or already used) is
// final: the Source never sends that refresh token again and answers every
// call with the same error, until it gets new tokens, here from a new sign-in.
func ExampleSource_SetTokens() {
	p := startExampleProvider()
	defer p.Close()

	c := &refresh.Client{
		TokenURL: p.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-revoked"})

	ctx := context.Background()
	for range 2 {
		_, err := src.Token(ctx)
		fmt.Println("invalid_grant:", errors.Is(err, refresh.ErrInvalidGrant))
	}
	fmt.Println("token requests:", p.TokenRequests())

	// The user signs in again; the authorization code grant gives new tokens.
	if err := src.SetTokens(ctx, &refresh.Tokens{RefreshToken: "rt-1"}); err != nil {
		fmt.Println(err)
		return
	}
	tok, err := src.Token(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("access token:", tok.AccessToken)
	fmt.Println("token requests:", p.TokenRequests())
	// Output:
	// invalid_grant: true
	// invalid_grant: true
	// token requests: 1
	// access token: at-1
	// token requests: 2
}

// A Transport in an http.Client authorises every request with the Source's
// access token (the provider sends the type as "bearer"; the header says
// "Bearer"). When a resource server answers 401 with invalid_token, Transport
// refreshes and sends the request once more, body included when the request can
// replay it (http.NewRequest sets GetBody for strings, bytes and their readers).
// Here the saved access token has no known expiry, and the resource server no
// longer accepts it.
func ExampleTransport() {
	p := startExampleProvider()
	defer p.Close()

	c := &refresh.Client{
		TokenURL: p.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	saved := &refresh.Tokens{AccessToken: "at-0", TokenType: "Bearer", RefreshToken: "rt-1"}
	src := refresh.NewSource(c, saved)
	hc := &http.Client{Transport: &refresh.Transport{Source: src}}

	for _, body := range []string{"buy milk", ""} {
		req, err := http.NewRequest(http.MethodPost, p.URL+"/api/notes", strings.NewReader(body))
		if err != nil {
			fmt.Println(err)
			return
		}
		resp, err := hc.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	fmt.Println("token requests:", p.TokenRequests())
	// Output:
	// /api/notes got Authorization "Bearer at-0" and body "buy milk"
	// /api/notes got Authorization "Bearer at-1" and body "buy milk"
	// 200 OK
	// /api/notes got Authorization "Bearer at-1"
	// 200 OK
	// token requests: 1
}

// WithRequestOptions sends request options with every refresh the Source
// makes: here a narrower scope and an RFC 8707 resource, so that the access
// token is meant for one API.
func ExampleWithRequestOptions() {
	p := startExampleProvider()
	defer p.Close()

	c := &refresh.Client{
		TokenURL: p.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-1"}, refresh.WithRequestOptions(
		refresh.WithScopes("notes.read"),
		refresh.WithParam("resource", "https://api.example.com/"),
	))
	ctx := context.Background()
	old, err := src.Token(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	src.Invalidate(old) // as Transport does after a 401: the next Token refreshes
	if _, err := src.Token(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// token request for scope "notes.read" and resource "https://api.example.com/"
	// token request for scope "notes.read" and resource "https://api.example.com/"
}

// WithLogger logs each refresh with the reason it ran (first_use, expiry,
// rejected after a resource's 401, save_retry, set_tokens) and never a secret.
// A logger made with With names the grant in every line. This handler drops
// the time and the duration, so that the output is stable.
func ExampleWithLogger() {
	p := startExampleProvider()
	defer p.Close()

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		},
	}))
	c := &refresh.Client{
		TokenURL: p.URL + "/token",
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-1"},
		refresh.WithLogger(logger.With("grant", "user-42")))
	ctx := context.Background()
	old, err := src.Token(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	src.Invalidate(old)
	if _, err := src.Token(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// level=INFO msg="refresh: token refreshed" grant=user-42 reason=first_use expires_in=1h0m0s refresh_token_rotated=true
	// level=INFO msg="refresh: token refreshed" grant=user-42 reason=rejected expires_in=1h0m0s refresh_token_rotated=true
}
