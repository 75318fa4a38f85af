package oauth2adapter_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/oauth2adapter"
	"golang.org/x/oauth2"
)

var (
	ignoreTokensRaw = cmpopts.IgnoreUnexported(refresh.Tokens{})
	ignoreTokenRaw  = cmpopts.IgnoreUnexported(oauth2.Token{})
)

// get sends GET url through hc and returns the status, or 0 after reporting
// the error. It may run on any goroutine.
func get(t *testing.T, hc *http.Client, url string) int {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestTokenRefreshedByUsIsAcceptedThroughOAuth2Transport runs our Source behind
// the adapter's TokenSource in an oauth2.Transport against a protected resource
// that accepts only the newest access token: the token is refreshed by us, once
// for many concurrent requests, and again after it expires.
func TestTokenRefreshedByUsIsAcceptedThroughOAuth2Transport(t *testing.T) {
	for _, method := range []clientAuthMethod{authBasic, authPost, authNone} {
		t.Run(string(method), func(t *testing.T) {
			p := newProvider(method)
			defer p.Close()
			clk := newClock()
			auth := map[clientAuthMethod]refresh.Auth{
				authBasic: refresh.ClientSecretBasic(testClientID, testClientSecret),
				authPost:  refresh.ClientSecretPost(testClientID, testClientSecret),
				authNone:  refresh.PublicClient(testClientID),
			}[method]
			c := &refresh.Client{TokenURL: p.URL + "/token", Auth: auth, HTTPClient: p.Client(), Now: clk.Now}
			src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-1"})
			hc := &http.Client{Transport: &oauth2.Transport{
				Source: oauth2adapter.TokenSource(t.Context(), src),
				Base:   p.Client().Transport,
			}}

			var wg sync.WaitGroup
			statuses := make([]int, 20)
			for i := range statuses {
				wg.Go(func() { statuses[i] = get(t, hc, p.URL+"/api") })
			}
			wg.Wait()
			for i, s := range statuses {
				if s != http.StatusOK {
					t.Errorf("request %d: status %d, want 200", i, s)
				}
			}
			if n := p.TokenRequests(); n != 1 {
				t.Errorf("token requests for 20 concurrent calls: %d, want 1", n)
			}

			clk.Advance(time.Hour) // at-1 has expired
			if s := get(t, hc, p.URL+"/api"); s != http.StatusOK {
				t.Errorf("after expiry: status %d, want 200", s)
			}
			if n := p.TokenRequests(); n != 2 {
				t.Errorf("token requests after expiry: %d, want 2", n)
			}
		})
	}
}

// TestOAuth2TokenIsRefreshedByUs converts an x/oauth2 Config and an expired
// Token into our Source, which refreshes it with the client authentication the
// AuthStyle names, and a refresh.Transport whose requests the resource accepts.
func TestOAuth2TokenIsRefreshedByUs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		style  oauth2.AuthStyle
		secret string
		method clientAuthMethod
	}{
		{"AuthStyleInHeader is client_secret_basic", oauth2.AuthStyleInHeader, testClientSecret, authBasic},
		{"AuthStyleInParams is client_secret_post", oauth2.AuthStyleInParams, testClientSecret, authPost},
		{"an empty secret is a public client", oauth2.AuthStyleInHeader, "", authNone},
		{"an empty secret is a public client even with auto-detect", oauth2.AuthStyleAutoDetect, "", authNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(tc.method)
			defer p.Close()
			conf := &oauth2.Config{
				ClientID:     testClientID,
				ClientSecret: tc.secret,
				Endpoint:     oauth2.Endpoint{TokenURL: p.URL + "/token", AuthStyle: tc.style},
			}
			expired := &oauth2.Token{
				AccessToken:  "at-0",
				TokenType:    "Bearer",
				RefreshToken: "rt-1",
				Expiry:       time.Now().Add(-time.Minute),
			}
			c, err := oauth2adapter.Client(conf)
			if err != nil {
				t.Fatal(err)
			}
			c.HTTPClient = p.Client()
			store := refresh.NewMemoryStore(nil)
			src := refresh.NewSource(c, oauth2adapter.FromToken(expired), refresh.WithStore(store))
			hc := &http.Client{Transport: &refresh.Transport{Source: src, Base: p.Client().Transport}}

			if s := get(t, hc, p.URL+"/api"); s != http.StatusOK {
				t.Fatalf("status %d, want 200", s)
			}
			if n := p.TokenRequests(); n != 1 {
				t.Errorf("token requests: %d, want 1", n)
			}
			saved, err := store.Load(t.Context())
			if err != nil || saved == nil {
				t.Fatalf("store: %v, %v", saved, err)
			}
			if saved.RefreshToken != "rt-2" {
				t.Errorf("stored refresh token %q, want the rotated rt-2", saved.RefreshToken)
			}
		})
	}
}

// TestValidOAuth2TokenIsUsedWithoutARefresh: a token that x/oauth2 obtained and
// that has not expired is used by our Transport as it is.
func TestValidOAuth2TokenIsUsedWithoutARefresh(t *testing.T) {
	p := newProvider(authBasic)
	defer p.Close()
	conf := &oauth2.Config{
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: p.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	// x/oauth2 refreshes rt-1 itself and gets at-1, which the resource accepts.
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, p.Client())
	theirs, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: "rt-1"}).Token()
	if err != nil {
		t.Fatal(err)
	}
	src, err := oauth2adapter.NewSource(conf, theirs)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &refresh.Transport{Source: src, Base: p.Client().Transport}}
	if s := get(t, hc, p.URL+"/api"); s != http.StatusOK {
		t.Fatalf("status %d, want 200", s)
	}
	if n := p.TokenRequests(); n != 1 {
		t.Errorf("token requests: %d, want only x/oauth2's one", n)
	}
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := &refresh.Tokens{
		AccessToken: "at-1", TokenType: "bearer", RefreshToken: "rt-2", IDToken: "idt-1",
		ExpiresAt: theirs.Expiry, IssuedAt: theirs.Expiry.Add(-time.Hour),
	}
	if diff := cmp.Diff(want, tok, ignoreTokensRaw); diff != "" {
		t.Errorf("Tokens (-want +got):\n%s", diff)
	}
}

// TestBasicCredentialsAreTheBytesOAuth2Sends compares the Authorization header
// of x/oauth2 (AuthStyleInHeader) with ours (ClientSecretBasic through
// oauth2adapter.Client) for credentials with characters the encoding changes.
func TestBasicCredentialsAreTheBytesOAuth2Sends(t *testing.T) {
	for _, tc := range []struct {
		name, id, secret string
		wantUser         string // the user-pass before base64, when checked
	}{
		{"letters and digits", "app1", "secret2", "app1:secret2"},
		{"unreserved characters", "a-b_c.d~e", "f-g_h.i~j", "a-b_c.d~e:f-g_h.i~j"},
		{"a space becomes a plus", "my app", "my secret", "my+app:my+secret"},
		{"colon, percent, plus, slash", "id:1", "p%2+/=", "id%3A1:p%252%2B%2F%3D"},
		{"star and quote", "a*b", `c"d'`, "a%2Ab:c%22d%27"},
		{"non-ASCII", "appé", "密码", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu   sync.Mutex
				seen []string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Header.Get("Authorization"))
				mu.Unlock()
				writeJSON(w, http.StatusOK, map[string]any{"access_token": "at", "token_type": "Bearer"})
			}))
			defer srv.Close()
			conf := &oauth2.Config{
				ClientID: tc.id, ClientSecret: tc.secret,
				Endpoint: oauth2.Endpoint{TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInHeader},
			}
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, srv.Client())
			if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: "rt"}).Token(); err != nil {
				t.Fatalf("x/oauth2: %v", err)
			}
			c, err := oauth2adapter.Client(conf)
			if err != nil {
				t.Fatal(err)
			}
			c.HTTPClient = srv.Client()
			if _, err := c.Refresh(t.Context(), "rt"); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if len(seen) != 2 {
				t.Fatalf("requests: %d, want 2", len(seen))
			}
			theirs, ours := seen[0], seen[1]
			if ours != theirs {
				t.Errorf("Authorization: ours %q, x/oauth2's %q", ours, theirs)
			}
			if tc.wantUser != "" {
				if want := "Basic " + base64.StdEncoding.EncodeToString([]byte(tc.wantUser)); ours != want {
					t.Errorf("Authorization %q, want %q (%s)", ours, want, tc.wantUser)
				}
			}
		})
	}
}

// TestAuth maps each kind of x/oauth2 Config to our client authentication.
func TestAuth(t *testing.T) {
	const secret = "very-secret-value-77"
	conf := func(id, secret string, style oauth2.AuthStyle) *oauth2.Config {
		return &oauth2.Config{ClientID: id, ClientSecret: secret,
			Endpoint: oauth2.Endpoint{TokenURL: "https://example.com/token", AuthStyle: style}}
	}
	for _, tc := range []struct {
		name      string
		conf      *oauth2.Config
		want      string // the Auth as it prints itself; "<nil>" for none
		wantField string // the ConfigError's Field, for an error
		wantIs    error
	}{
		{"AuthStyleInHeader is ClientSecretBasic", conf("app", secret, oauth2.AuthStyleInHeader),
			`refresh.ClientSecretBasic{ClientID:"app", ClientSecret:[redacted]}`, "", nil},
		{"AuthStyleInParams is ClientSecretPost", conf("app", secret, oauth2.AuthStyleInParams),
			`refresh.ClientSecretPost{ClientID:"app", ClientSecret:[redacted]}`, "", nil},
		{"no secret in header style is a public client", conf("app", "", oauth2.AuthStyleInHeader),
			`refresh.PublicClient{ClientID:"app"}`, "", nil},
		{"no secret in params style is a public client", conf("app", "", oauth2.AuthStyleInParams),
			`refresh.PublicClient{ClientID:"app"}`, "", nil},
		{"no secret with auto-detect is a public client", conf("app", "", oauth2.AuthStyleAutoDetect),
			`refresh.PublicClient{ClientID:"app"}`, "", nil},
		{"no client at all is no authentication", conf("", "", oauth2.AuthStyleInHeader), "<nil>", "", nil},
		{"auto-detect with a secret is refused", conf("app", secret, oauth2.AuthStyleAutoDetect),
			"", "oauth2.Endpoint.AuthStyle", oauth2adapter.ErrAuthStyleAutoDetect},
		{"an unknown style is refused", conf("app", secret, oauth2.AuthStyle(7)),
			"", "oauth2.Endpoint.AuthStyle", nil},
		{"a secret without a client ID is refused", conf("", secret, oauth2.AuthStyleInHeader),
			"", "oauth2.Config.ClientID", nil},
		{"a nil Config is refused", nil, "", "oauth2.Config", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := oauth2adapter.Auth(tc.conf)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("error %v, want %s", err, tc.want)
				}
				if got := fmt.Sprint(a); got != tc.want {
					t.Errorf("Auth %s, want %s", got, tc.want)
				}
				return
			}
			var ce *refresh.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.wantField {
				t.Fatalf("error %v (Auth %v), want a *refresh.ConfigError for %s", err, a, tc.wantField)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(%v, %v) is false", err, tc.wantIs)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the secret: %v", err)
			}
			// Client and NewSource refuse the same Config with the same error.
			if _, cerr := oauth2adapter.Client(tc.conf); fmt.Sprint(cerr) != err.Error() {
				t.Errorf("Client: %v, want %v", cerr, err)
			}
			if _, serr := oauth2adapter.NewSource(tc.conf, &oauth2.Token{RefreshToken: "rt"}); fmt.Sprint(serr) != err.Error() {
				t.Errorf("NewSource: %v, want %v", serr, err)
			}
		})
	}
}

func TestClientNeedsATokenURL(t *testing.T) {
	_, err := oauth2adapter.Client(&oauth2.Config{ClientID: "app", Endpoint: oauth2.Endpoint{AuthStyle: oauth2.AuthStyleInHeader}})
	var ce *refresh.ConfigError
	if !errors.As(err, &ce) || ce.Field != "oauth2.Endpoint.TokenURL" {
		t.Errorf("error %v, want a *refresh.ConfigError for oauth2.Endpoint.TokenURL", err)
	}
}

// parse turns a token response body into Tokens, as a refresh would.
func parse(t *testing.T, contentType, body string, now time.Time) *refresh.Tokens {
	t.Helper()
	c := &refresh.Client{Now: func() time.Time { return now }}
	tok, err := c.ParseResponse(&http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {contentType}},
		Body:       io.NopCloser(strings.NewReader(body)),
	})
	if err != nil {
		t.Fatalf("ParseResponse(%s): %v", body, err)
	}
	return tok
}

// oauth2Token has x/oauth2 fetch a token whose response is body.
func oauth2Token(t *testing.T, contentType, body string) *oauth2.Token {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	conf := &oauth2.Config{ClientID: "app", Endpoint: oauth2.Endpoint{TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInParams}}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, srv.Client())
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: "rt-old"}).Token()
	if err != nil {
		t.Fatalf("x/oauth2 on %s: %v", body, err)
	}
	return tok
}

// TestToToken converts parsed token responses and compares the result with
// what x/oauth2 makes of the same response: the same fields, ExpiresIn, and
// every extra.
func TestToToken(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		body   string
		want   *oauth2.Token // exported fields
		extras map[string]any
	}{
		{
			name: "every kind of field",
			body: `{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","id_token":"idt",` +
				`"scope":"a b","instance_url":"https://x.example","n":12.5,"big":12345678901,"ok":true,"none":null,` +
				`"list":[1,"two",{"three":3}],"obj":{"k":[4]}}`,
			want: &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", Expiry: now.Add(time.Hour), ExpiresIn: 3600},
			extras: map[string]any{
				"id_token": "idt", "scope": "a b", "instance_url": "https://x.example", "n": 12.5,
				"big": float64(12345678901), "ok": true, "none": nil, "expires_in": float64(3600),
				"list": []any{float64(1), "two", map[string]any{"three": float64(3)}},
				"obj":  map[string]any{"k": []any{float64(4)}},
			},
		},
		{
			name:   "lower-case bearer, no expiry, no refresh token",
			body:   `{"access_token":"at","token_type":"bearer"}`,
			want:   &oauth2.Token{AccessToken: "at", TokenType: "bearer"},
			extras: map[string]any{"token_type": "bearer", "id_token": nil},
		},
		{
			name: "expires_in as a string (Entra v1, PayPal)",
			body: `{"access_token":"at","token_type":"Bearer","expires_in":"7200","expires_on":"1767243600"}`,
			want: &oauth2.Token{AccessToken: "at", TokenType: "Bearer", Expiry: now.Add(2 * time.Hour), ExpiresIn: 7200},
			// expires_in comes back from the Tokens member, as a number.
			extras: map[string]any{"expires_in": float64(7200), "expires_on": "1767243600"},
		},
		{
			name:   "GitHub's refresh_token_expires_in",
			body:   `{"access_token":"ghu_x","token_type":"bearer","expires_in":28800,"refresh_token":"ghr_y","refresh_token_expires_in":15811200,"scope":""}`,
			want:   &oauth2.Token{AccessToken: "ghu_x", TokenType: "bearer", RefreshToken: "ghr_y", Expiry: now.Add(8 * time.Hour), ExpiresIn: 28800},
			extras: map[string]any{"refresh_token_expires_in": float64(15811200), "scope": ""},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := oauth2adapter.ToToken(parse(t, "application/json", tc.body, now))
			if diff := cmp.Diff(tc.want, got, ignoreTokenRaw); diff != "" {
				t.Errorf("Token (-want +got):\n%s", diff)
			}
			theirs := oauth2Token(t, "application/json", tc.body)
			if got.AccessToken != theirs.AccessToken || got.TokenType != theirs.TokenType || got.ExpiresIn != theirs.ExpiresIn {
				t.Errorf("ours %q %q %d, x/oauth2's %q %q %d", got.AccessToken, got.TokenType, got.ExpiresIn,
					theirs.AccessToken, theirs.TokenType, theirs.ExpiresIn)
			}
			if got.Type() != theirs.Type() {
				t.Errorf("Type(): ours %q, x/oauth2's %q", got.Type(), theirs.Type())
			}
			var all map[string]any
			if err := json.Unmarshal([]byte(tc.body), &all); err != nil {
				t.Fatal(err)
			}
			for k := range all {
				if _, own := tc.extras[k]; own {
					continue // checked below: a member's value, not x/oauth2's raw one
				}
				if diff := cmp.Diff(theirs.Extra(k), got.Extra(k)); diff != "" {
					t.Errorf("Extra(%q) (-x/oauth2 +ours):\n%s", k, diff)
				}
			}
			for k, want := range tc.extras {
				if diff := cmp.Diff(want, got.Extra(k)); diff != "" {
					t.Errorf("Extra(%q) (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}

func TestToTokenWithoutAResponse(t *testing.T) {
	exp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		in         *refresh.Tokens
		want       *oauth2.Token
		wantIDTok  any
		wantFields bool
	}{
		{"nil", nil, nil, nil, false},
		{"built by hand with an ID token", &refresh.Tokens{AccessToken: "at", TokenType: "DPoP", RefreshToken: "rt", ExpiresAt: exp, IDToken: "idt"},
			&oauth2.Token{AccessToken: "at", TokenType: "DPoP", RefreshToken: "rt", Expiry: exp}, "idt", false},
		{"a lifetime is ExpiresIn", &refresh.Tokens{AccessToken: "at", ExpiresAt: exp, IssuedAt: exp.Add(-90 * time.Second)},
			&oauth2.Token{AccessToken: "at", Expiry: exp, ExpiresIn: 90}, nil, false},
		{"a lifetime under a second is not unknown", &refresh.Tokens{AccessToken: "at", ExpiresAt: exp, IssuedAt: exp.Add(-time.Millisecond)},
			&oauth2.Token{AccessToken: "at", Expiry: exp, ExpiresIn: 1}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := oauth2adapter.ToToken(tc.in)
			if diff := cmp.Diff(tc.want, got, ignoreTokenRaw); diff != "" {
				t.Fatalf("Token (-want +got):\n%s", diff)
			}
			if got == nil {
				return
			}
			if diff := cmp.Diff(tc.wantIDTok, got.Extra("id_token")); diff != "" {
				t.Errorf("Extra(id_token) (-want +got):\n%s", diff)
			}
		})
	}
}

// TestToTokenFormBody: the other fields of a form-encoded response stay
// strings; the members' fields come back from the members.
func TestToTokenFormBody(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	got := oauth2adapter.ToToken(parse(t, "application/x-www-form-urlencoded",
		"access_token=at&token_type=bearer&expires_in=60&scope=repo%2Cgist&id_token=idt", now))
	want := &oauth2.Token{AccessToken: "at", TokenType: "bearer", Expiry: now.Add(time.Minute), ExpiresIn: 60}
	if diff := cmp.Diff(want, got, ignoreTokenRaw); diff != "" {
		t.Errorf("Token (-want +got):\n%s", diff)
	}
	for k, v := range map[string]any{"expires_in": float64(60), "scope": "repo gist", "id_token": "idt"} {
		if got.Extra(k) != v {
			t.Errorf("Extra(%q) = %#v, want %#v", k, got.Extra(k), v)
		}
	}
}

func TestFromToken(t *testing.T) {
	exp := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	base := func() *oauth2.Token {
		return &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", Expiry: exp, ExpiresIn: 3600}
	}
	issued := exp.Add(-time.Hour)
	for _, tc := range []struct {
		name string
		in   *oauth2.Token
		want *refresh.Tokens
	}{
		{"nil", nil, nil},
		{"fields and the issue time", base(),
			&refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", ExpiresAt: exp, IssuedAt: issued}},
		{"no expiry is unknown", &oauth2.Token{AccessToken: "at"}, &refresh.Tokens{AccessToken: "at"}},
		{"ExpiresIn without Expiry has no time base", &oauth2.Token{AccessToken: "at", ExpiresIn: 60},
			&refresh.Tokens{AccessToken: "at"}},
		{"an overflowing ExpiresIn is ignored", &oauth2.Token{AccessToken: "at", Expiry: exp, ExpiresIn: 1 << 62},
			&refresh.Tokens{AccessToken: "at", ExpiresAt: exp}},
		{"extras from JSON", base().WithExtra(map[string]any{
			"id_token": "idt", "scope": "read write", "refresh_token_expires_in": float64(600)}),
			&refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", ExpiresAt: exp, IssuedAt: issued,
				IDToken: "idt", Scopes: []string{"read", "write"}, RefreshTokenExpiresAt: issued.Add(10 * time.Minute)}},
		{"extras from a form", base().WithExtra(url.Values{
			"id_token": {"idt"}, "scope": {"repo,gist"}, "refresh_token_expires_in": {"600"}}),
			&refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", ExpiresAt: exp, IssuedAt: issued,
				IDToken: "idt", Scopes: []string{"repo", "gist"}, RefreshTokenExpiresAt: issued.Add(10 * time.Minute)}},
		{"Keycloak's refresh_expires_in as a string, Twitch's scope array", base().WithExtra(map[string]any{
			"scope": []any{"chat:read", "chat:edit"}, "refresh_expires_in": "1800"}),
			&refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", ExpiresAt: exp, IssuedAt: issued,
				Scopes: []string{"chat:read", "chat:edit"}, RefreshTokenExpiresAt: issued.Add(30 * time.Minute)}},
		{"refresh_expires_in 0 means no limit", base().WithExtra(map[string]any{"refresh_expires_in": float64(0)}),
			&refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", ExpiresAt: exp, IssuedAt: issued}},
		{"an empty scope is an empty list", base().WithExtra(map[string]any{"scope": ""}),
			&refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", ExpiresAt: exp, IssuedAt: issued, Scopes: []string{}}},
		{"id_token of the wrong type is ignored", base().WithExtra(map[string]any{"id_token": 5.0}),
			&refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", ExpiresAt: exp, IssuedAt: issued}},
		{"a negative refresh lifetime is ignored", base().WithExtra(map[string]any{"refresh_token_expires_in": -5.0}),
			&refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", ExpiresAt: exp, IssuedAt: issued}},
		{"an overflowing refresh lifetime is ignored", base().WithExtra(map[string]any{"refresh_token_expires_in": 1e300}),
			&refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", ExpiresAt: exp, IssuedAt: issued}},
		{"a scope array keeps its strings only", base().WithExtra(map[string]any{"scope": []any{"a", 1.0, "b"}}),
			&refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", ExpiresAt: exp, IssuedAt: issued, Scopes: []string{"a", "b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := oauth2adapter.FromToken(tc.in)
			if diff := cmp.Diff(tc.want, got, ignoreTokensRaw); diff != "" {
				t.Errorf("Tokens (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRoundTrip: ToToken then FromToken gives the Tokens back.
func TestRoundTrip(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	in := parse(t, "application/json", `{"access_token":"at","token_type":"bearer","expires_in":300,"refresh_token":"rt",`+
		`"refresh_token_expires_in":900,"id_token":"idt","scope":"a b"}`, now)
	got := oauth2adapter.FromToken(oauth2adapter.ToToken(in))
	if diff := cmp.Diff(in, got, ignoreTokensRaw); diff != "" {
		t.Errorf("Tokens (-in +out):\n%s", diff)
	}
}

// TestTokenSourceReusesItsConversion: the same Tokens give the same
// *oauth2.Token, a refresh gives a new one.
func TestTokenSourceReusesItsConversion(t *testing.T) {
	p := newProvider(authBasic)
	defer p.Close()
	clk := newClock()
	c := &refresh.Client{TokenURL: p.URL + "/token", Auth: refresh.ClientSecretBasic(testClientID, testClientSecret),
		HTTPClient: p.Client(), Now: clk.Now}
	ts := oauth2adapter.TokenSource(t.Context(), refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-1"}))
	first, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if first != again {
		t.Error("the same Tokens were converted twice")
	}
	clk.Advance(time.Hour)
	next, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if next == first || next.AccessToken != "at-2" || next.Extra("id_token") != "idt-2" {
		t.Errorf("after expiry: %q %v (same pointer: %t), want at-2 with id_token idt-2",
			next.AccessToken, next.Extra("id_token"), next == first)
	}
}

// TestTokenSourceErrors: the Source's errors come through unchanged (and
// through oauth2.Transport and http.Client), without a secret.
func TestTokenSourceErrors(t *testing.T) {
	p := newProvider(authBasic)
	defer p.Close()
	c := &refresh.Client{TokenURL: p.URL + "/token", Auth: refresh.ClientSecretBasic(testClientID, testClientSecret), HTTPClient: p.Client()}
	secrets := []string{testClientSecret, "rt-spent-0123456789", "at-0123456789"}
	check := func(t *testing.T, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("error %v, want one matching %v", err, want)
		}
		for _, s := range secrets {
			if err != nil && strings.Contains(err.Error(), s) {
				t.Errorf("error shows %q: %v", s, err)
			}
		}
	}

	t.Run("invalid_grant", func(t *testing.T) {
		ts := oauth2adapter.TokenSource(t.Context(), refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-spent-0123456789"}))
		_, err := ts.Token()
		check(t, err, refresh.ErrInvalidGrant)
		hc := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: p.Client().Transport}}
		_, err = hc.Get(p.URL + "/api")
		check(t, err, refresh.ErrInvalidGrant)
	})
	t.Run("DPoP tokens are refused", func(t *testing.T) {
		ts := oauth2adapter.TokenSource(t.Context(), refresh.NewSource(c, &refresh.Tokens{AccessToken: "at-0123456789", TokenType: "DPoP"}))
		_, err := ts.Token()
		var ce *refresh.ConfigError
		if !errors.As(err, &ce) || ce.Field != "TokenType" {
			t.Errorf("error %v, want a *refresh.ConfigError for TokenType", err)
		}
		check(t, err, err)
	})
	t.Run("a nil Source", func(t *testing.T) {
		_, err := oauth2adapter.TokenSource(t.Context(), nil).Token()
		var ce *refresh.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("error %v, want a *refresh.ConfigError", err)
		}
	})
	t.Run("a done ctx stops waits, not cached tokens", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		valid := &refresh.Tokens{AccessToken: "at-0123456789", TokenType: "Bearer", ExpiresAt: time.Now().Add(time.Hour)}
		tok, err := oauth2adapter.TokenSource(ctx, refresh.NewSource(c, valid)).Token()
		if err != nil || tok.AccessToken != valid.AccessToken {
			t.Errorf("valid cached token: %v, %v; want it without an error", tok, err)
		}
		// Nothing cached: the call must wait for a refresh, and ctx is done.
		// The refresh itself (it fails, rt-x is unknown) is not cancelled.
		_, err = oauth2adapter.TokenSource(ctx, refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-x"})).Token()
		if err == nil {
			t.Error("no error from a wait with a done ctx")
		}
		if !errors.Is(err, context.Canceled) && !errors.Is(err, refresh.ErrInvalidGrant) {
			t.Errorf("error %v, want context.Canceled (or the refresh's invalid_grant, if it won the race)", err)
		}
	})
}

// TestTokenSourcePrintsNoSecret prints the TokenSource every way, after it has
// cached a converted token.
func TestTokenSourcePrintsNoSecret(t *testing.T) {
	p := newProvider(authBasic)
	defer p.Close()
	c := &refresh.Client{TokenURL: p.URL + "/token", Auth: refresh.ClientSecretBasic(testClientID, testClientSecret), HTTPClient: p.Client()}
	ts := oauth2adapter.TokenSource(t.Context(), refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-1"}))
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("ts", "ts", ts)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("ts", "ts", ts)
	for _, out := range []string{
		fmt.Sprint(ts), fmt.Sprintf("%v %+v %#v %s %q", ts, ts, ts, ts, ts), logged.String(),
	} {
		for _, s := range []string{testClientSecret, "at-1", "rt-2", "idt-1", "rt-1"} {
			if strings.Contains(out, s) {
				t.Errorf("%q shows %q", out, s)
			}
		}
	}
	if want := `oauth2adapter.TokenSource{Source:refresh.Source{Client:refresh.Client{TokenURL:"` + p.URL + `/token"`; !strings.HasPrefix(fmt.Sprint(ts), want) {
		t.Errorf("String %q, want it to start with %q", fmt.Sprint(ts), want)
	}
}

// BenchmarkTokenSource measures a Token call on a valid cached token.
func BenchmarkTokenSource(b *testing.B) {
	now := time.Now()
	c := &refresh.Client{TokenURL: "https://example.com/token"}
	body := `{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","id_token":"idt","scope":"a b c","x":1}`
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body))}
	tok, err := (&refresh.Client{Now: func() time.Time { return now }}).ParseResponse(resp)
	if err != nil {
		b.Fatal(err)
	}
	ts := oauth2adapter.TokenSource(context.Background(), refresh.NewSource(c, tok))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.Token(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToToken measures one conversion, which TokenSource makes once per
// token.
func BenchmarkToToken(b *testing.B) {
	now := time.Now()
	body := `{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","id_token":"idt","scope":"a b c","x":1}`
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body))}
	tok, err := (&refresh.Client{Now: func() time.Time { return now }}).ParseResponse(resp)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		oauth2adapter.ToToken(tok)
	}
}
