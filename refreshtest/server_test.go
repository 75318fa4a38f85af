package refreshtest

// Tests of the fake server over plain HTTP: they speak the protocol by hand,
// so that they check the server against RFC 6749 rather than against the
// client package it is meant to test.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Registered clients of most tests. The ids and secrets hold characters that
// form-encoding changes, so that a server that skips the decoding fails.
var (
	tBasic  = Client{ID: "basic:app", Secret: "s3 cr+t%", Method: AuthClientSecretBasic}
	tRaw    = Client{ID: "raw-app", Secret: "raw:secret", Method: AuthClientSecretBasicRaw}
	tPost   = Client{ID: "post-app", Secret: "post secret", Method: AuthClientSecretPost}
	tPublic = Client{ID: "public-app", Method: AuthNone}
)

func tNewServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	opts = append([]Option{WithClient(tBasic), WithClient(tRaw), WithClient(tPost), WithClient(tPublic)}, opts...)
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// tResponse is a token endpoint response as the tests look at it.
type tResponse struct {
	Status int
	Header http.Header
	Body   map[string]any
}

// tRefresh sends form to the token endpoint, authenticated as c with the method
// as (which may differ from c's registration).
func tRefresh(t *testing.T, s *Server, c Client, as AuthMethod, form url.Values) tResponse {
	t.Helper()
	r, err := tTryRefresh(s, c, as, form)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tTryRefresh is tRefresh for goroutines other than the test's: it returns the
// error instead of stopping the test.
func tTryRefresh(s *Server, c Client, as AuthMethod, form url.Values) (tResponse, error) {
	req, err := tNewRequest(s.TokenURL(), c, as, form)
	if err != nil {
		return tResponse{}, err
	}
	return tTryDo(s.Client(), req)
}

func tNewRequest(tokenURL string, c Client, as AuthMethod, form url.Values) (*http.Request, error) {
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	switch as {
	case AuthClientSecretPost:
		f.Set("client_id", c.ID)
		f.Set("client_secret", c.Secret)
	case AuthNone:
		f.Set("client_id", c.ID)
	}
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(f.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch as {
	case AuthClientSecretBasic:
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	case AuthClientSecretBasicRaw:
		req.SetBasicAuth(c.ID, c.Secret)
	}
	return req, nil
}

func tDo(t *testing.T, hc *http.Client, req *http.Request) tResponse {
	t.Helper()
	r, err := tTryDo(hc, req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tTryDo(hc *http.Client, req *http.Request) (tResponse, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return tResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return tResponse{}, err
	}
	out := tResponse{Status: resp.StatusCode, Header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &out.Body); err != nil {
			return out, fmt.Errorf("response body %q: %v", body, err)
		}
		return out, nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return out, fmt.Errorf("response body %q: %v", body, err)
	}
	out.Body = map[string]any{}
	for k := range vals {
		out.Body[k] = vals.Get(k)
	}
	return out, nil
}

func tGrantForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

// tErr is the error code of a response, "" for a success.
func (r tResponse) tErr() string {
	code, _ := r.Body["error"].(string)
	return code
}

func (r tResponse) str(name string) string {
	v, _ := r.Body[name].(string)
	return v
}

func TestClientAuthentication(t *testing.T) {
	s := tNewServer(t)
	tests := []struct {
		name       string
		client     Client
		as         AuthMethod
		wantStatus int
		wantErr    string
		wantBasic  bool // a WWW-Authenticate: Basic challenge
	}{
		{"client_secret_basic form-encodes the credentials", tBasic, AuthClientSecretBasic, 200, "", false},
		{"client_secret_basic refuses raw credentials", tBasic, AuthClientSecretBasicRaw, 401, "invalid_client", true},
		{"client_secret_basic refuses client_secret_post", tBasic, AuthClientSecretPost, 401, "invalid_client", true},
		{"client_secret_basic refuses a wrong secret", Client{ID: tBasic.ID, Secret: "wrong"}, AuthClientSecretBasic, 401, "invalid_client", true},
		{"client_secret_basic_raw takes raw credentials", tRaw, AuthClientSecretBasicRaw, 200, "", false},
		{"client_secret_basic_raw refuses client_secret_post", tRaw, AuthClientSecretPost, 401, "invalid_client", true},
		{"client_secret_post takes the secret in the body", tPost, AuthClientSecretPost, 200, "", false},
		{"client_secret_post refuses Basic", tPost, AuthClientSecretBasic, 401, "invalid_client", true},
		{"client_secret_post refuses a wrong secret", Client{ID: tPost.ID, Secret: "wrong"}, AuthClientSecretPost, 401, "invalid_client", false},
		{"client_secret_post refuses a missing secret", tPost, AuthNone, 401, "invalid_client", false},
		{"a public client sends its id", tPublic, AuthNone, 200, "", false},
		{"a public client refuses a secret", Client{ID: tPublic.ID, Secret: "x"}, AuthClientSecretPost, 401, "invalid_client", false},
		{"an unknown client is refused", Client{ID: "nobody", Secret: "x"}, AuthClientSecretBasic, 401, "invalid_client", true},
		{"no authentication at all is refused", tPublic, "", 401, "invalid_client", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := s.IssueRefreshToken(tt.client.ID, "read")
			got := tRefresh(t, s, tt.client, tt.as, tGrantForm(rt))
			if got.Status != tt.wantStatus || got.tErr() != tt.wantErr {
				t.Errorf("got %d %q (%s), want %d %q", got.Status, got.tErr(), got.str("error_description"), tt.wantStatus, tt.wantErr)
			}
			if challenge := got.Header.Get("WWW-Authenticate"); strings.HasPrefix(challenge, "Basic ") != tt.wantBasic {
				t.Errorf("WWW-Authenticate: %q, want a Basic challenge: %v", challenge, tt.wantBasic)
			}
			wantState := Active // a failed authentication must not spend the token
			if tt.wantErr == "" {
				wantState = Spent
			}
			if st := s.State(rt); st != wantState {
				t.Errorf("State(refresh token) = %v, want %v", st, wantState)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	s := tNewServer(t)
	rt := s.IssueRefreshToken(tPost.ID, "read")
	good := "grant_type=refresh_token&refresh_token=" + rt + "&client_id=" + url.QueryEscape(tPost.ID) + "&client_secret=" + url.QueryEscape(tPost.Secret)
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		basic       bool
		authz       string
		wantStatus  int
		wantErr     string
	}{
		{"GET is refused", "GET", "", "", false, "", 400, "invalid_request"},
		{"a JSON body is refused", "POST", "application/json", `{"grant_type":"refresh_token"}`, false, "", 400, "invalid_request"},
		{"a repeated parameter is refused", "POST", "application/x-www-form-urlencoded", good + "&scope=read&scope=read", false, "", 400, "invalid_request"},
		{"a malformed form is refused", "POST", "application/x-www-form-urlencoded", good + "&%zz", false, "", 400, "invalid_request"},
		{"two authentication methods are refused", "POST", "application/x-www-form-urlencoded", good, true, "", 400, "invalid_request"},
		{"a Bearer Authorization is not client authentication", "POST", "application/x-www-form-urlencoded", good, false, "Bearer abc", 401, "invalid_client"},
		{"another grant type is unsupported", "POST", "application/x-www-form-urlencoded", strings.Replace(good, "grant_type=refresh_token", "grant_type=password", 1), false, "", 400, "unsupported_grant_type"},
		{"a missing grant type is invalid_request", "POST", "application/x-www-form-urlencoded", strings.Replace(good, "grant_type=refresh_token&", "", 1), false, "", 400, "invalid_request"},
		{"a missing refresh token is invalid_request", "POST", "application/x-www-form-urlencoded", strings.Replace(good, "refresh_token="+rt+"&", "", 1), false, "", 400, "invalid_request"},
		{"an unknown refresh token is invalid_grant", "POST", "application/x-www-form-urlencoded", strings.Replace(good, rt, "rt_nope", 1), false, "", 400, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, s.TokenURL(), strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.basic {
				req.SetBasicAuth(tPost.ID, tPost.Secret)
			}
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			got := tDo(t, s.Client(), req)
			if got.Status != tt.wantStatus || got.tErr() != tt.wantErr {
				t.Errorf("got %d %q (%s), want %d %q", got.Status, got.tErr(), got.str("error_description"), tt.wantStatus, tt.wantErr)
			}
		})
	}
	if st := s.State(rt); st != Active {
		t.Errorf("after only bad requests, State(refresh token) = %v, want Active", st)
	}
	if st := s.State("rt_nope"); st != Unknown {
		t.Errorf("State(never issued) = %v, want Unknown", st)
	}
}

func TestRefreshTokenOfAnotherClient(t *testing.T) {
	s := tNewServer(t)
	rt := s.IssueRefreshToken(tBasic.ID)
	got := tRefresh(t, s, tPost, AuthClientSecretPost, tGrantForm(rt))
	if got.tErr() != "invalid_grant" {
		t.Errorf("got %d %v, want invalid_grant", got.Status, got.Body)
	}
	if st := s.State(rt); st != Active {
		t.Errorf("State = %v, want Active", st)
	}
}

func TestSuccessResponse(t *testing.T) {
	clock := NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	tests := []struct {
		name   string
		opts   []Option
		scope  string
		want   map[string]any
		sameRT bool // the response's refresh_token is the one sent
	}{
		{
			name: "rotation by default, the whole grant's scope",
			want: map[string]any{"access_token": "AT", "token_type": "Bearer", "expires_in": 3600.0, "refresh_token": "RT", "scope": "read write"},
		},
		{
			name:  "a narrowed scope",
			scope: "write",
			want:  map[string]any{"access_token": "AT", "token_type": "Bearer", "expires_in": 3600.0, "refresh_token": "RT", "scope": "write"},
		},
		{
			name: "kept refresh tokens are not sent",
			opts: []Option{WithRotation(KeepRefreshTokens)},
			want: map[string]any{"access_token": "AT", "token_type": "Bearer", "expires_in": 3600.0, "scope": "read write"},
		},
		{
			name:   "echoed refresh tokens are sent unchanged",
			opts:   []Option{WithRotation(EchoRefreshTokens)},
			want:   map[string]any{"access_token": "AT", "token_type": "Bearer", "expires_in": 3600.0, "refresh_token": "RT", "scope": "read write"},
			sameRT: true,
		},
		{
			name: "lifetimes",
			opts: []Option{WithAccessTokenLifetime(90 * time.Second), WithRefreshTokenLifetime(48 * time.Hour)},
			want: map[string]any{"access_token": "AT", "token_type": "Bearer", "expires_in": 90.0, "refresh_token": "RT", "refresh_token_expires_in": 172800.0, "scope": "read write"},
		},
		{
			name: "access tokens without expiry",
			opts: []Option{WithAccessTokenLifetime(0)},
			want: map[string]any{"access_token": "AT", "token_type": "Bearer", "refresh_token": "RT", "scope": "read write"},
		},
		{
			name: "numbers as strings and a lowercase token type",
			opts: []Option{WithQuirks(Quirks{NumbersAsStrings: true, TokenType: "bearer"}), WithRefreshTokenLifetime(time.Hour)},
			want: map[string]any{"access_token": "AT", "token_type": "bearer", "expires_in": "3600", "refresh_token": "RT", "refresh_token_expires_in": "3600", "scope": "read write"},
		},
		{
			name: "a form-encoded body",
			opts: []Option{WithQuirks(Quirks{FormEncoded: true})},
			want: map[string]any{"access_token": "AT", "token_type": "Bearer", "expires_in": "3600", "refresh_token": "RT", "scope": "read write"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tNewServer(t, append([]Option{WithClock(clock.Now)}, tt.opts...)...)
			rt := s.IssueRefreshToken(tBasic.ID, "read", "write")
			form := tGrantForm(rt)
			if tt.scope != "" {
				form.Set("scope", tt.scope)
			}
			got := tRefresh(t, s, tBasic, AuthClientSecretBasic, form)
			if got.Status != 200 {
				t.Fatalf("status %d, body %v", got.Status, got.Body)
			}
			for _, h := range []string{"Cache-Control: no-store", "Pragma: no-cache"} {
				name, value, _ := strings.Cut(h, ": ")
				if got.Header.Get(name) != value {
					t.Errorf("header %s: %q, want %q", name, got.Header.Get(name), value)
				}
			}
			at, newRT := got.str("access_token"), got.str("refresh_token")
			if s.State(at) != Active {
				t.Errorf("State(access token) = %v, want Active", s.State(at))
			}
			if newRT != "" && (newRT == rt) != tt.sameRT {
				t.Errorf("refresh token sent back unchanged: %v, want %v", newRT == rt, tt.sameRT)
			}
			// Tokens are random: compare their presence, not their values.
			body := got.Body
			for name, placeholder := range map[string]string{"access_token": "AT", "refresh_token": "RT"} {
				if _, ok := body[name]; ok {
					body[name] = placeholder
				}
			}
			if diff := cmp.Diff(tt.want, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRotationAndReuse(t *testing.T) {
	type step struct {
		advance time.Duration
		use     string // "first", "second": which refresh token the step sends
		wantErr string
	}
	tests := []struct {
		name string
		opts []Option
		// After the first refresh (first → second), the steps run in order.
		steps []step
		// The States of the first and second refresh tokens at the end, and of
		// the first access token.
		wantFirst, wantSecond, wantAccess TokenState
	}{
		{
			name:      "reuse revokes the grant",
			steps:     []step{{use: "first", wantErr: "invalid_grant"}, {use: "second", wantErr: "invalid_grant"}},
			wantFirst: Revoked, wantSecond: Revoked, wantAccess: Revoked,
		},
		{
			name:      "without reuse detection, reuse is refused and nothing revoked",
			opts:      []Option{WithReuseDetection(false)},
			steps:     []step{{use: "first", wantErr: "invalid_grant"}, {use: "second"}},
			wantFirst: Spent, wantSecond: Spent, wantAccess: Active,
		},
		{
			name:      "reuse within the grace period answers with the current refresh token",
			opts:      []Option{WithReuseGrace(time.Minute)},
			steps:     []step{{advance: 59 * time.Second, use: "first"}, {use: "second"}},
			wantFirst: Spent, wantSecond: Spent, wantAccess: Active,
		},
		{
			name:      "reuse after the grace period revokes the grant",
			opts:      []Option{WithReuseGrace(time.Minute)},
			steps:     []step{{advance: time.Minute, use: "first", wantErr: "invalid_grant"}},
			wantFirst: Revoked, wantSecond: Revoked, wantAccess: Revoked,
		},
		{
			name:      "kept refresh tokens can be used again",
			opts:      []Option{WithRotation(KeepRefreshTokens)},
			steps:     []step{{use: "first"}, {use: "first"}},
			wantFirst: Active, wantSecond: Active, wantAccess: Active,
		},
		{
			name:      "refresh tokens expire",
			opts:      []Option{WithRefreshTokenLifetime(time.Hour)},
			steps:     []step{{advance: 2 * time.Hour, use: "second", wantErr: "invalid_grant"}},
			wantFirst: Spent, wantSecond: Expired, wantAccess: Expired,
		},
		{
			name:      "access tokens expire, refresh tokens do not",
			steps:     []step{{advance: time.Hour, use: "second"}},
			wantFirst: Spent, wantSecond: Spent, wantAccess: Expired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
			s := tNewServer(t, append([]Option{WithClock(clock.Now)}, tt.opts...)...)
			first := s.IssueRefreshToken(tPublic.ID, "read")
			r := tRefresh(t, s, tPublic, AuthNone, tGrantForm(first))
			if r.Status != 200 {
				t.Fatalf("first refresh: %d %v", r.Status, r.Body)
			}
			access := r.str("access_token")
			second := r.str("refresh_token")
			if second == "" {
				second = first
			}
			for i, st := range tt.steps {
				clock.Advance(st.advance)
				rt := map[string]string{"first": first, "second": second}[st.use]
				r := tRefresh(t, s, tPublic, AuthNone, tGrantForm(rt))
				if r.tErr() != st.wantErr {
					t.Fatalf("step %d: got %d %v, want error %q", i, r.Status, r.Body, st.wantErr)
				}
				if st.wantErr == "" && s.rotation == RotateRefreshTokens && st.use == "first" && r.str("refresh_token") != second {
					t.Errorf("step %d: reuse within the grace period did not answer the current refresh token", i)
				}
			}
			got := []TokenState{s.State(first), s.State(second), s.State(access)}
			want := []TokenState{tt.wantFirst, tt.wantSecond, tt.wantAccess}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("States of first, second, access (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScopeNarrowing(t *testing.T) {
	s := tNewServer(t, WithRotation(KeepRefreshTokens))
	rt := s.IssueRefreshToken(tPublic.ID, "read", "write")
	for _, tt := range []struct {
		scope, wantScope, wantErr string
	}{
		{"read", "read", ""},
		{"write read", "write read", ""},
		{"read admin", "", "invalid_scope"},
		{" ", "read write", ""}, // an empty scope asks for the whole grant, which narrowing did not shrink
		{"", "read write", ""},  // no scope parameter: the same
	} {
		form := tGrantForm(rt)
		if tt.scope != "" {
			form.Set("scope", tt.scope)
		}
		r := tRefresh(t, s, tPublic, AuthNone, form)
		if r.tErr() != tt.wantErr || r.str("scope") != tt.wantScope {
			t.Errorf("scope %q: got %d %v, want scope %q error %q", tt.scope, r.Status, r.Body, tt.wantScope, tt.wantErr)
		}
	}
}

func TestGitHubQuirks(t *testing.T) {
	s := tNewServer(t, WithQuirks(GitHubQuirks()))
	for _, tt := range []struct {
		name    string
		client  Client
		rt      string
		wantErr string
	}{
		{"a bad refresh token", tPost, "rt_nope", "bad_refresh_token"},
		{"wrong credentials", Client{ID: tPost.ID, Secret: "wrong"}, s.IssueRefreshToken(tPost.ID), "incorrect_client_credentials"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tRefresh(t, s, tt.client, AuthClientSecretPost, tGrantForm(tt.rt))
			if r.Status != 200 || r.tErr() != tt.wantErr {
				t.Errorf("got %d %v, want 200 with error %q", r.Status, r.Body, tt.wantErr)
			}
			if h := r.Header.Get("WWW-Authenticate"); h != "" {
				t.Errorf("a 200 carries WWW-Authenticate %q", h)
			}
		})
	}
	// Without Accept: application/json, GitHub answers with a form body.
	req, err := tNewRequest(s.TokenURL(), tPost, AuthClientSecretPost, tGrantForm("rt_nope"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ accept, wantCT string }{
		{"", "application/x-www-form-urlencoded"},
		{"text/html, */*", "application/x-www-form-urlencoded"},
		{"application/json", "application/json"},
		{"text/plain;q=0.5, application/json;q=0.9", "application/json"},
	} {
		req := req.Clone(t.Context())
		req.Body, _ = req.GetBody()
		if tt.accept != "" {
			req.Header.Set("Accept", tt.accept)
		}
		r := tDo(t, s.Client(), req)
		if ct := r.Header.Get("Content-Type"); ct != tt.wantCT || r.tErr() != "bad_refresh_token" {
			t.Errorf("Accept %q: %s %v, want %s with bad_refresh_token", tt.accept, ct, r.Body, tt.wantCT)
		}
	}
	s.SetQuirks(Quirks{})
	if r := tRefresh(t, s, tPost, AuthClientSecretPost, tGrantForm("rt_nope")); r.Status != 400 || r.tErr() != "invalid_grant" {
		t.Errorf("after SetQuirks(Quirks{}): got %d %v, want 400 invalid_grant", r.Status, r.Body)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name        string
		fault       Fault
		wantStatus  int
		wantCT      string
		wantBody    string // a prefix
		wantState   TokenState
		wantNetwork bool // the client sees a transport error
	}{
		{"a status with an OAuth error", StatusFault(503, "temporarily_unavailable"), 503, "application/json", `{"error":"temporarily_unavailable"}`, Active, false},
		{"an empty fault is a 500", Fault{}, 500, "", "", Active, false},
		{"an HTML page from a proxy", HTMLFault(502), 502, "text/html; charset=utf-8", "<html><head><title>502 Bad Gateway", Active, false},
		{"truncated JSON", TruncatedJSONFault(), 200, "application/json", `{"access_token":"at_`, Active, false},
		{"a closed connection", CloseConnectionFault(), 0, "", "", Active, true},
		{"a response lost after the refresh", Fault{CloseConnection: true, AfterRefresh: true}, 0, "", "", Spent, true},
	}
	for _, tt := range tests {
		for _, inMemory := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/in memory %v", tt.name, inMemory), func(t *testing.T) {
				var s *Server
				if inMemory {
					s = NewInMemoryServer(WithClient(tPublic))
				} else {
					s = tNewServer(t)
				}
				rt := s.IssueRefreshToken(tPublic.ID)
				s.FailNext(1, tt.fault)
				req, err := tNewRequest(s.TokenURL(), tPublic, AuthNone, tGrantForm(rt))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := s.Client().Do(req)
				if tt.wantNetwork {
					if err == nil {
						resp.Body.Close()
						t.Fatalf("got a response %d, want a transport error", resp.StatusCode)
					}
				} else {
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tt.wantStatus || resp.Header.Get("Content-Type") != tt.wantCT && tt.wantCT != "" || !strings.HasPrefix(string(body), tt.wantBody) {
						t.Errorf("got %d %q %q, want %d %q %q…", resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.wantStatus, tt.wantCT, tt.wantBody)
					}
				}
				if st := s.State(rt); st != tt.wantState {
					t.Errorf("State(refresh token) = %v, want %v", st, tt.wantState)
				}
				// The fault was for one request only, and it was recorded.
				if n := len(s.Requests()); n != 1 {
					t.Errorf("%d requests recorded, want 1", n)
				}
				if tt.wantState == Active {
					if r := tRefresh(t, s, tPublic, AuthNone, tGrantForm(rt)); r.Status != 200 {
						t.Errorf("the request after the fault: %d %v", r.Status, r.Body)
					}
				}
			})
		}
	}
}

func TestFailNextCounts(t *testing.T) {
	s := tNewServer(t, WithRotation(KeepRefreshTokens))
	rt := s.IssueRefreshToken(tPublic.ID)
	s.FailNext(1, StatusFault(503, ""))
	s.FailNext(2, StatusFault(429, "slow_down"))
	var got []int
	for range 4 {
		got = append(got, tRefresh(t, s, tPublic, AuthNone, tGrantForm(rt)).Status)
	}
	if diff := cmp.Diff([]int{503, 429, 429, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestLatency(t *testing.T) {
	// In a synctest bubble time is fake: the delay is exact, and the test does
	// not wait for it.
	synctest.Test(t, func(t *testing.T) {
		s := NewInMemoryServer(WithClient(tPublic), WithQuirks(Quirks{Latency: 3 * time.Second}))
		s.FailNext(1, Fault{Status: 503, Delay: 2 * time.Second})
		rt := s.IssueRefreshToken(tPublic.ID)
		start := time.Now()
		if r := tRefresh(t, s, tPublic, AuthNone, tGrantForm(rt)); r.Status != 503 {
			t.Errorf("status %d, want 503", r.Status)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("a fault's delay after the latency took %v, want 5s", d)
		}
		start = time.Now()
		if r := tRefresh(t, s, tPublic, AuthNone, tGrantForm(rt)); r.Status != 200 {
			t.Errorf("status %d, want 200", r.Status)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("a response with latency took %v, want 3s", d)
		}
	})
}

func TestLatencyEndsWithTheClient(t *testing.T) {
	// Over a real socket: a client that gives up does not wait for the
	// latency, and Close does not hang on the handler.
	s := tNewServer(t, WithQuirks(Quirks{Latency: time.Hour}))
	req, err := tNewRequest(s.TokenURL(), tPublic, AuthNone, tGrantForm(s.IssueRefreshToken(tPublic.ID)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	resp, err := s.Client().Do(req.WithContext(ctx))
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
}

func TestRequestsRecorded(t *testing.T) {
	clock := NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	s := tNewServer(t, WithClock(clock.Now))
	rt1 := s.IssueRefreshToken(tBasic.ID, "read")
	rt2 := s.IssueRefreshToken(tRaw.ID)
	rt3 := s.IssueRefreshToken(tPost.ID)
	tRefresh(t, s, tBasic, AuthClientSecretBasic, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}, "scope": {"read"}})
	clock.Advance(time.Second)
	tRefresh(t, s, tRaw, AuthClientSecretBasicRaw, tGrantForm(rt2))
	tRefresh(t, s, tPost, AuthClientSecretPost, tGrantForm(rt3))
	tRefresh(t, s, Client{ID: tBasic.ID, Secret: "wrong"}, AuthClientSecretBasic, tGrantForm(rt1))
	t0 := clock.Now().Add(-time.Second)
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	}
	want := []Request{
		{Time: t0, Method: "POST", Path: "/token", AuthMethod: AuthClientSecretBasic, ClientID: tBasic.ID, ClientSecret: tBasic.Secret,
			Header: http.Header{"Authorization": {basic("basic%3Aapp", "s3+cr%2Bt%25")}},
			Form:   url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}, "scope": {"read"}}},
		{Time: t0.Add(time.Second), Method: "POST", Path: "/token", AuthMethod: AuthClientSecretBasicRaw, ClientID: tRaw.ID, ClientSecret: tRaw.Secret,
			Header: http.Header{"Authorization": {basic(tRaw.ID, tRaw.Secret)}},
			Form:   tGrantForm(rt2)},
		{Time: t0.Add(time.Second), Method: "POST", Path: "/token", AuthMethod: AuthClientSecretPost, ClientID: tPost.ID, ClientSecret: tPost.Secret,
			Header: http.Header{},
			Form:   url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt3}, "client_id": {tPost.ID}, "client_secret": {tPost.Secret}}},
		{Time: t0.Add(time.Second), Method: "POST", Path: "/token", AuthMethod: AuthClientSecretBasic, ClientID: tBasic.ID, ClientSecret: "wrong",
			Header: http.Header{"Authorization": {basic("basic%3Aapp", "wrong")}},
			Form:   tGrantForm(rt1)},
	}
	got := s.Requests()
	// Compare only the headers that the test set; the body by its form.
	onlyAuthz := cmp.Transformer("onlyAuthz", func(h http.Header) http.Header {
		out := http.Header{}
		if v, ok := h["Authorization"]; ok {
			out["Authorization"] = v
		}
		return out
	})
	if diff := cmp.Diff(want, got, onlyAuthz, cmpopts.IgnoreFields(Request{}, "Body")); diff != "" {
		t.Errorf("Requests (-want +got):\n%s", diff)
	}
	// Requests returns copies.
	got[0].Form.Set("scope", "changed")
	got[0].Header.Set("Authorization", "changed")
	if again := s.Requests(); again[0].Form.Get("scope") != "read" || again[0].Header.Get("Authorization") == "changed" {
		t.Error("changing what Requests returned changed the server's record")
	}
}

func TestNoSecretInText(t *testing.T) {
	s := tNewServer(t)
	rt := s.IssueRefreshToken(tPost.ID)
	r := tRefresh(t, s, tPost, AuthClientSecretPost, tGrantForm(rt))
	reuse := tRefresh(t, s, tPost, AuthClientSecretPost, tGrantForm(rt)) // reuse: an error that mentions the token
	wrong := tRefresh(t, s, tBasic, AuthClientSecretBasic, tGrantForm(r.str("refresh_token")))
	secrets := []string{tPost.Secret, rt, r.str("refresh_token"), r.str("access_token")}
	var texts []string
	for _, req := range s.Requests() {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			texts = append(texts, fmt.Sprintf(verb, req), fmt.Sprintf(verb, &req))
		}
	}
	for _, c := range []Client{tPost, tBasic} {
		texts = append(texts, fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c))
	}
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		l := slog.New(h)
		for _, req := range s.Requests() {
			l.Info("request", "req", req, "ptr", &req)
		}
		l.Info("clients", "post", tPost, "basic", &tBasic)
	}
	texts = append(texts, logs.String())
	if !strings.Contains(logs.String(), "client_secret_post") {
		t.Errorf("the log shows no request or client: %s", logs.String())
	}
	texts = append(texts, s.String(), fmt.Sprint(reuse.Body), fmt.Sprint(wrong.Body))
	for _, text := range texts {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%q shows a secret", text)
			}
		}
	}
	if !strings.Contains(texts[0], "client_secret") {
		t.Errorf("a Request's text %q does not name its form parameters", texts[0])
	}
}

func TestResource(t *testing.T) {
	clock := NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	s := tNewServer(t, WithClock(clock.Now), WithRotation(KeepRefreshTokens))
	rt := s.IssueRefreshToken(tPublic.ID, "read", "write")
	token := func(scope string) string {
		form := tGrantForm(rt)
		if scope != "" {
			form.Set("scope", scope)
		}
		return tRefresh(t, s, tPublic, AuthNone, form).str("access_token")
	}
	expiring, revoked, narrowed := token(""), token(""), token("read")
	clock.Advance(time.Hour - time.Second) // expiring and revoked: one second left
	fresh := token("")
	s.Revoke(revoked)
	clock.Advance(time.Second)

	tests := []struct {
		name          string
		authorization string
		wantStatus    int
		wantChallenge string
		wantBody      string
	}{
		{"a valid token", "Bearer " + fresh, 200, "", `{"client_id":"public-app","scope":"read write"}`},
		{"the scheme in any case", "bearer " + fresh, 200, "", `{"client_id":"public-app","scope":"read write"}`},
		{"a narrowed token", "Bearer " + narrowed, 401, `Bearer realm="refreshtest", error="invalid_token", error_description="the access token expired"`, ""},
		{"no Authorization", "", 401, `Bearer realm="refreshtest"`, ""},
		{"another scheme", "Basic " + fresh, 401, `Bearer realm="refreshtest"`, ""},
		{"an expired token", "Bearer " + expiring, 401, `Bearer realm="refreshtest", error="invalid_token", error_description="the access token expired"`, ""},
		{"a revoked token", "Bearer " + revoked, 401, `Bearer realm="refreshtest", error="invalid_token", error_description="the access token was revoked"`, ""},
		{"an unknown token", "Bearer at_nope", 401, `Bearer realm="refreshtest", error="invalid_token", error_description="the access token is unknown"`, ""},
		{"a refresh token", "Bearer " + rt, 401, `Bearer realm="refreshtest", error="invalid_token", error_description="the access token is unknown"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.ResourceURL(), nil)
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := []string{fmt.Sprint(resp.StatusCode), resp.Header.Get("WWW-Authenticate")}
			want := []string{fmt.Sprint(tt.wantStatus), tt.wantChallenge}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("status, challenge (-want +got):\n%s", diff)
			}
			if tt.wantBody != "" && strings.TrimSpace(string(body)) != tt.wantBody {
				t.Errorf("body %s, want %s", body, tt.wantBody)
			}
		})
	}
}

func TestResourceWrapsAHandler(t *testing.T) {
	s := NewInMemoryServer(WithClient(tPublic))
	rt := s.IssueRefreshToken(tPublic.ID, "read")
	r := tRefresh(t, s, tPublic, AuthNone, tGrantForm(rt))
	var got TokenInfo
	h := s.Resource(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = TokenInfoFromContext(r.Context())
	}))
	req, _ := http.NewRequest("GET", "http://api.example/v1", nil)
	req.Header.Set("Authorization", "Bearer "+r.str("access_token"))
	h.ServeHTTP(discard{http.Header{}}, req)
	want := TokenInfo{ClientID: tPublic.ID, Scopes: []string{"read"}, ExpiresAt: s.Requests()[0].Time.Add(DefaultAccessTokenLifetime)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TokenInfo (-want +got):\n%s", diff)
	}
	if _, ok := TokenInfoFromContext(context.Background()); ok {
		t.Error("TokenInfoFromContext found a TokenInfo in an empty context")
	}
}

type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

func TestUnknownPath(t *testing.T) {
	s := tNewServer(t)
	resp, err := s.Client().Get(s.URL + "/authorize")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("status %d, want 404", resp.StatusCode)
	}
}

func TestRevoke(t *testing.T) {
	s := tNewServer(t, WithRotation(KeepRefreshTokens))
	rt := s.IssueRefreshToken(tPublic.ID)
	other := s.IssueRefreshToken(tPublic.ID)
	at := tRefresh(t, s, tPublic, AuthNone, tGrantForm(rt)).str("access_token")
	if !s.Revoke(rt) || s.Revoke("rt_nope") {
		t.Error("Revoke did not report which tokens it knew")
	}
	got := []TokenState{s.State(rt), s.State(at), s.State(other)}
	if diff := cmp.Diff([]TokenState{Revoked, Revoked, Active}, got); diff != "" {
		t.Errorf("States of the revoked refresh token, its access token, another grant (-want +got):\n%s", diff)
	}
	if r := tRefresh(t, s, tPublic, AuthNone, tGrantForm(rt)); r.tErr() != "invalid_grant" {
		t.Errorf("refresh with a revoked token: %d %v", r.Status, r.Body)
	}
	req, _ := http.NewRequest("GET", s.ResourceURL(), nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := `Bearer realm="refreshtest", error="invalid_token", error_description="the access token was revoked"`; resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != want {
		t.Errorf("the resource, given an access token of the revoked grant: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// TestBasicWithAnotherClientID: a body client_id that differs from the Basic
// credentials is a malformed request, not a second identity.
func TestBasicWithAnotherClientID(t *testing.T) {
	s := tNewServer(t)
	rt := s.IssueRefreshToken(tBasic.ID)
	for _, tt := range []struct{ clientID, wantErr string }{
		{tBasic.ID, ""},
		{tPost.ID, "invalid_request"},
	} {
		form := tGrantForm(rt)
		form.Set("client_id", tt.clientID)
		if r := tRefresh(t, s, tBasic, AuthClientSecretBasic, form); r.tErr() != tt.wantErr {
			t.Errorf("Basic as %s with client_id %s: %d %v, want error %q", tBasic.ID, tt.clientID, r.Status, r.Body, tt.wantErr)
		}
	}
}

// TestConcurrentReuse races many refreshes of one rotating refresh token:
// exactly one wins, the others are reuse, and the grant ends revoked.
func TestConcurrentReuse(t *testing.T) {
	s := tNewServer(t)
	rt := s.IssueRefreshToken(tPublic.ID)
	const n = 8
	var wg sync.WaitGroup
	codes := make([]string, n)
	for i := range n {
		wg.Go(func() {
			r, err := tTryRefresh(s, tPublic, AuthNone, tGrantForm(rt))
			if err != nil {
				t.Error(err)
			}
			codes[i] = r.tErr()
		})
	}
	wg.Wait()
	wins := 0
	for _, c := range codes {
		switch c {
		case "":
			wins++
		case "invalid_grant":
		default:
			t.Errorf("unexpected error %q", c)
		}
	}
	if wins != 1 {
		t.Errorf("%d refreshes succeeded, want 1: %q", wins, codes)
	}
	if st := s.State(rt); st != Revoked {
		t.Errorf("State = %v, want Revoked", st)
	}
	if n := len(s.Requests()); n != 8 {
		t.Errorf("%d requests recorded, want 8", n)
	}
}

func TestStrings(t *testing.T) {
	got := []string{
		RotateRefreshTokens.String(), KeepRefreshTokens.String(), EchoRefreshTokens.String(), Rotation(9).String(),
		Unknown.String(), Active.String(), Spent.String(), Expired.String(), Revoked.String(), TokenState(9).String(),
		Client{ID: "x"}.String(),
	}
	want := []string{
		"RotateRefreshTokens", "KeepRefreshTokens", "EchoRefreshTokens", "Rotation(9)",
		"Unknown", "Active", "Spent", "Expired", "Revoked", "TokenState(9)",
		`refreshtest.Client{ID:"x", Method:"client_secret_basic"}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(start)
	c.Advance(time.Minute)
	if got := c.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Errorf("after Advance: %v", got)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("after Set: %v", got)
	}
	var zero Clock
	if !zero.Now().IsZero() {
		t.Error("the zero Clock does not read the zero time")
	}
}

func TestCloseEndsLatency(t *testing.T) {
	// A response held back for an hour, with a client that waits for it:
	// Close must not wait out the hour. The test's own timeout bounds a hang.
	s := NewServer(WithClient(tPublic), WithQuirks(Quirks{Latency: time.Hour}))
	req, err := tNewRequest(s.TokenURL(), tPublic, AuthNone, tGrantForm(s.IssueRefreshToken(tPublic.ID)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		resp, err := s.Client().Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	for len(s.Requests()) == 0 { // wait until the request is held back
		runtime.Gosched()
	}
	s.Close()
	s.Close() // twice is fine
	// The response is sent at once, or the connection closes under it: either
	// way the client is not left waiting.
	if code := <-done; code != 200 && code != 0 {
		t.Errorf("the held-back response: status %d, want 200 or a transport error", code)
	}
}

// TestStandardLibraryOnly keeps the package importable from package refresh's
// own tests: it must not import refresh (an import cycle), nor anything outside
// the standard library.
func TestStandardLibraryOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path := strings.Trim(imp.Path.Value, `"`); strings.Contains(strings.SplitN(path, "/", 2)[0], ".") {
				t.Errorf("%s imports %s", name, path)
			}
		}
		checked++
	}
	if checked < 5 {
		t.Errorf("checked %d files, want all of the package's", checked)
	}
}
