package refreshtest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// A test of code that calls refresh.Client.Refresh: register the client, mint
// the refresh token a sign-in would have left, and point the Client at the
// server's token endpoint.
func Example() {
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{
		ID: "my-app", Secret: "s3cret", Method: refreshtest.AuthClientSecretBasic,
	}))
	defer srv.Close()
	rt := srv.IssueRefreshToken("my-app", "read", "write")

	c := &refresh.Client{
		TokenURL: srv.TokenURL(),
		Auth:     refresh.ClientSecretBasic("my-app", "s3cret"),
	}
	tok, err := c.Refresh(context.Background(), rt, refresh.WithScopes("read"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("scopes:", tok.Scopes, "lifetime:", tok.Lifetime().Round(time.Minute))
	fmt.Println("rotated:", tok.RefreshToken != rt, "old token:", srv.State(rt))

	// What the server received, secrets included, for the test to check.
	req := srv.Requests()[0]
	fmt.Println(req.AuthMethod, req.ClientID, req.ClientSecret == "s3cret", req.Form.Get("scope"))

	// Reusing the rotated token looks like theft: the grant is revoked.
	_, err = c.Refresh(context.Background(), rt)
	fmt.Println(errors.Is(err, refresh.ErrInvalidGrant), srv.State(tok.RefreshToken))
	// Output:
	// scopes: [read] lifetime: 1h0m0s
	// rotated: true old token: Spent
	// client_secret_basic my-app true read
	// true Revoked
}

// A refresh.Transport against the server's protected resource: when the
// access token expires on the server's clock, the resource answers 401
// invalid_token and the Transport refreshes and retries.
func Example_transport() {
	clock := refreshtest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	srv := refreshtest.NewServer(
		refreshtest.WithClient(refreshtest.Client{ID: "cli", Method: refreshtest.AuthNone}),
		refreshtest.WithClock(clock.Now),
		refreshtest.WithAccessTokenLifetime(10*time.Minute),
	)
	defer srv.Close()

	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient("cli")}
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken("cli", "api")})
	hc := &http.Client{Transport: &refresh.Transport{Source: src}}

	get := func() {
		resp, err := hc.Get(srv.ResourceURL())
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s", resp.StatusCode, body)
	}
	get()
	// The server's clock moves on; the Client's clock does not, so the
	// Source still believes its token is valid and learns otherwise from
	// the 401.
	clock.Advance(time.Hour)
	get()
	fmt.Println("token requests:", len(srv.Requests()))
	// Output:
	// 200 {"client_id":"cli","scope":"api"}
	// 200 {"client_id":"cli","scope":"api"}
	// token requests: 2
}

// Misbehaving on demand: the next request gets a proxy's HTML 502, and the
// server answers GitHub-style, with errors in an HTTP 200.
func ExampleServer_FailNext() {
	srv := refreshtest.NewServer(
		refreshtest.WithClient(refreshtest.Client{ID: "gh", Secret: "x", Method: refreshtest.AuthClientSecretPost}),
		refreshtest.WithQuirks(refreshtest.GitHubQuirks()),
	)
	defer srv.Close()
	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.ClientSecretPost("gh", "x")}
	rt := srv.IssueRefreshToken("gh")

	srv.FailNext(1, refreshtest.HTMLFault(http.StatusBadGateway))
	_, err := c.Refresh(context.Background(), rt)
	var re *refresh.ResponseError
	fmt.Println("response error:", errors.As(err, &re), re.StatusCode)

	_, err = c.Refresh(context.Background(), "not-a-token")
	var oe *refresh.OAuthError
	fmt.Println("oauth error:", errors.As(err, &oe), oe.Code, oe.StatusCode)
	// Output:
	// response error: true 502
	// oauth error: true bad_refresh_token 200
}

// Reuse of a rotated refresh token within a grace period: a client whose
// response was lost retries with the token it sent, and gets the grant's
// current refresh token instead of a revoked session.
func ExampleWithReuseGrace() {
	srv := refreshtest.NewServer(
		refreshtest.WithClient(refreshtest.Client{ID: "spa", Method: refreshtest.AuthNone}),
		refreshtest.WithReuseGrace(30*time.Second),
	)
	defer srv.Close()
	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient("spa")}
	rt := srv.IssueRefreshToken("spa")

	// The server rotates the token, but the response never arrives.
	srv.FailNext(1, refreshtest.Fault{AfterRefresh: true, CloseConnection: true})
	_, err := c.Refresh(context.Background(), rt)
	fmt.Println("lost response:", err != nil, "token sent:", srv.State(rt))

	tok, err := c.Refresh(context.Background(), rt)
	fmt.Println("retry:", err, "new token:", srv.State(tok.RefreshToken))
	// Output:
	// lost response: true token sent: Spent
	// retry: <nil> new token: Active
}

// Resource protects a handler of your own with the server's access tokens,
// and tells it which client and scopes the token carries.
func ExampleServer_Resource() {
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{ID: "app", Secret: "x"}))
	defer srv.Close()
	api := httptest.NewServer(srv.Resource(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ti, _ := refreshtest.TokenInfoFromContext(r.Context())
		fmt.Fprintf(w, "hello %s, you may %v", ti.ClientID, ti.Scopes)
	})))
	defer api.Close()

	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.ClientSecretBasic("app", "x")}
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken("app", "read")})
	hc := &http.Client{Transport: &refresh.Transport{Source: src}}
	for _, client := range []*http.Client{api.Client(), hc} { // without a token, then with one
		resp, err := client.Get(api.URL)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"), strings.TrimSpace(string(body)))
	}
	// Output:
	// 401 Bearer realm="refreshtest" 401 Unauthorized
	// 200  hello app, you may [read]
}

// A server without a socket: its Client serves requests in memory, so a test
// in a testing/synctest bubble (or one that wants no network) can use it. The
// Clock drives expiry by hand.
func ExampleNewInMemoryServer() {
	clock := refreshtest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	srv := refreshtest.NewInMemoryServer(
		refreshtest.WithClient(refreshtest.Client{ID: "job", Secret: "x", Method: refreshtest.AuthClientSecretPost}),
		refreshtest.WithClock(clock.Now),
		refreshtest.WithRotation(refreshtest.KeepRefreshTokens),
	)
	c := &refresh.Client{
		TokenURL:   srv.TokenURL(),
		Auth:       refresh.ClientSecretPost("job", "x"),
		HTTPClient: srv.Client(),
		Now:        clock.Now,
	}
	rt := srv.IssueRefreshToken("job")
	tok, err := c.Refresh(context.Background(), rt)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("expires:", tok.ExpiresAt.Format(time.TimeOnly), "new refresh token:", tok.RefreshToken != "")
	clock.Advance(time.Hour)
	fmt.Println("access token:", srv.State(tok.AccessToken), "refresh token:", srv.State(rt))
	// Output:
	// expires: 04:04:05 new refresh token: false
	// access token: Expired refresh token: Active
}
