package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tokenrefresh/refresh"
)

// tokenPath is where the test servers serve their token endpoint.
const tokenPath = "/oauth2/token"

// t0 is the injected clock's time in these tests.
var t0 = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// tokenJSON is a full token response (RFC 6749 §5.1) and wantTokens what it
// parses to with a clock at t0.
const tokenJSON = `{"access_token":"at-2","token_type":"Bearer","expires_in":3600,` +
	`"refresh_token":"rt-2","refresh_token_expires_in":86400,"scope":"read write","id_token":"id-2"}`

var wantTokens = &refresh.Tokens{
	AccessToken:           "at-2",
	TokenType:             "Bearer",
	RefreshToken:          "rt-2",
	ExpiresAt:             t0.Add(time.Hour),
	RefreshTokenExpiresAt: t0.Add(24 * time.Hour),
	Scopes:                []string{"read", "write"},
	IDToken:               "id-2",
	IssuedAt:              t0,
}

// ignoreRaw compares Tokens by their exported fields.
var ignoreRaw = cmpopts.IgnoreUnexported(refresh.Tokens{})

// configErrorField returns the Field of the *refresh.ConfigError in err's
// chain, and stops the test when there is none.
func configErrorField(t *testing.T, err error) string {
	t.Helper()
	var ce *refresh.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *refresh.ConfigError", err, err)
	}
	return ce.Field
}

// readBody reads the whole body of req.
func readBody(t *testing.T, req *http.Request) string {
	t.Helper()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatalf("reading the request body: %v", err)
	}
	return string(b)
}

// countingTransport counts the round trips it gets and notes whether any had
// a deadline. It passes them to base, or answers tokenJSON when base is nil.
type countingTransport struct {
	base        http.RoundTripper
	n           atomic.Int32
	hadDeadline atomic.Bool
}

func (ct *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ct.n.Add(1)
	if _, ok := req.Context().Deadline(); ok {
		ct.hadDeadline.Store(true)
	}
	if ct.base != nil {
		return ct.base.RoundTrip(req)
	}
	io.Copy(io.Discard, req.Body)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(tokenJSON)), Request: req}, nil
}

// TestRefreshRequestOnTheWire checks the request as a token endpoint receives it,
// and that the expiry counts from before the request was sent.
func TestRefreshRequestOnTheWire(t *testing.T) {
	type wire struct{ Method, Path, ContentType, Accept, UserAgent, Authorization, Body string }
	seen := make(chan wire, 1)
	var served atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- wire{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Accept"),
			strings.Join(r.Header.Values("User-Agent"), "|"), r.Header.Get("Authorization"), string(b)}
		served.Store(true)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, tokenJSON)
	}))
	defer srv.Close()
	c := &refresh.Client{
		TokenURL: srv.URL + tokenPath,
		Auth:     refresh.ClientSecretPost("my client", "s3cr:t"),
		// An hour passes once the server has the request.
		Now: func() time.Time { return map[bool]time.Time{false: t0, true: t0.Add(time.Hour)}[served.Load()] },
	}
	got, err := c.Refresh(t.Context(), "rt/1 +&",
		refresh.WithScopes("read", "write"), refresh.WithParam("resource", "https://api.example.com/"))
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if diff := cmp.Diff(wantTokens, got, ignoreRaw); diff != "" {
		t.Errorf("Tokens (-want +got):\n%s", diff)
	}
	want := wire{Method: "POST", Path: tokenPath, ContentType: "application/x-www-form-urlencoded",
		Accept: "application/json", UserAgent: refresh.DefaultUserAgent,
		Body: "grant_type=refresh_token&refresh_token=rt%2F1+%2B%26&scope=read+write" +
			"&resource=https%3A%2F%2Fapi.example.com%2F&client_id=my+client&client_secret=s3cr%3At"}
	if diff := cmp.Diff(want, <-seen); diff != "" {
		t.Errorf("request as the server saw it (-want +got):\n%s", diff)
	}
}

// TestNewRequestOptions checks the body and headers the options produce, and
// that the body can be replayed.
func TestNewRequestOptions(t *testing.T) {
	const head = "grant_type=refresh_token&refresh_token=rt-1"
	tests := []struct {
		name       string
		opts       []refresh.RequestOption
		wantBody   string
		wantHeader http.Header // a subset of the headers, with Client.UserAgent "my-app/1.2"
	}{
		{"WithScopes sends the scopes space-joined, in order, without duplicates",
			[]refresh.RequestOption{refresh.WithScopes("write", "read", "write", "profile")}, head + "&scope=write+read+profile", nil},
		{"WithScopes with no scopes sends no scope", []refresh.RequestOption{refresh.WithScopes()}, head, nil},
		{"WithScopes form-encodes a URL scope", []refresh.RequestOption{refresh.WithScopes("https://graph.microsoft.com/.default")},
			head + "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default", nil},
		{"WithParam sends a name given twice twice",
			[]refresh.RequestOption{refresh.WithParam("resource", "https://a.example/"), refresh.WithParam("resource", "b")},
			head + "&resource=https%3A%2F%2Fa.example%2F&resource=b", nil},
		{"scope comes before the parameters whatever the option order, and a nil option is ignored",
			[]refresh.RequestOption{nil, refresh.WithParam("audience", "api"), refresh.WithScopes("read")}, head + "&scope=read&audience=api", nil},
		{"WithHeader sets Origin, the last value winning",
			[]refresh.RequestOption{refresh.WithHeader("origin", "https://a.example"), refresh.WithHeader("Origin", "https://b.example")},
			head, http.Header{"Origin": {"https://b.example"}, "Accept": {"application/json"}}},
		{"Client.UserAgent replaces the default User-Agent", nil, head, http.Header{"User-Agent": {"my-app/1.2"}}},
		{"WithHeader replaces User-Agent for one request", []refresh.RequestOption{refresh.WithHeader("user-agent", "per-call/1")},
			head, http.Header{"User-Agent": {"per-call/1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &refresh.Client{TokenURL: "https://auth.example.com" + tokenPath, UserAgent: "my-app/1.2"}
			req, err := c.NewRequest(t.Context(), "rt-1", tt.opts...)
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			body := readBody(t, req)
			if diff := cmp.Diff(tt.wantBody, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			for name, want := range tt.wantHeader {
				if diff := cmp.Diff(want, req.Header.Values(name)); diff != "" {
					t.Errorf("header %s (-want +got):\n%s", name, diff)
				}
			}
			if req.ContentLength != int64(len(body)) {
				t.Errorf("ContentLength = %d, want %d", req.ContentLength, len(body))
			}
			for range 2 { // a redirect or retry by the caller's transport replays it
				if req.GetBody == nil {
					t.Fatal("GetBody is nil")
				}
				rc, err := req.GetBody()
				if err != nil {
					t.Fatalf("GetBody: %v", err)
				}
				if b, _ := io.ReadAll(rc); string(b) != body {
					t.Errorf("GetBody gives %q, want %q", b, body)
				}
			}
		})
	}
}

// TestTokenURL checks which token endpoints are used and which are refused
// before anything is sent.
func TestTokenURL(t *testing.T) {
	tests := []struct {
		url      string
		insecure bool // AllowInsecureHTTP
		refused  bool
	}{
		{url: "https://auth.example.com/token"},
		{url: "https://auth.example.com/token?tenant=t1"},
		{url: "http://127.0.0.1:8080/token"},
		{url: "http://127.0.0.2:8080/token"},
		{url: "http://localhost:8080/token"},
		{url: "http://LOCALHOST/token"},
		{url: "http://[::1]:8080/token"},
		{url: "http://auth.internal.test/token", insecure: true},
		{url: "http://auth.example.com/token", refused: true},
		{url: "http://localhost.example.com/token", refused: true},
		{url: "http://127.0.0.1.nip.io/token", refused: true},
		{url: "http://10.0.0.1/token", refused: true},
		{url: "ftp://auth.example.com/token", refused: true},
		{url: "ftp://auth.internal.test/token", insecure: true, refused: true},
		{url: "https://id:secret@auth.example.com/token", refused: true},
		{url: "http://id:secret@auth.internal.test/token", insecure: true, refused: true},
		{url: "https://auth.example.com/token#frag", refused: true},
		{url: "https://auth.example.com/%zz", refused: true},
		{url: "/token", refused: true},
		{url: "", refused: true},
	}
	for _, tt := range tests {
		verdict := map[bool]string{false: "used", true: "refused"}[tt.refused]
		t.Run(fmt.Sprintf("%q with AllowInsecureHTTP %t is %s", tt.url, tt.insecure, verdict), func(t *testing.T) {
			ct := &countingTransport{}
			var sentTo string
			hc := &http.Client{Transport: clientRoundTripFunc(func(r *http.Request) (*http.Response, error) {
				sentTo = r.URL.String()
				return ct.RoundTrip(r)
			})}
			c := &refresh.Client{TokenURL: tt.url, AllowInsecureHTTP: tt.insecure, HTTPClient: hc}
			_, err := c.Refresh(t.Context(), "rt-1")
			if tt.refused {
				if field := configErrorField(t, err); field != "TokenURL" || ct.n.Load() != 0 {
					t.Errorf("ConfigError.Field = %q after %d round trips, want TokenURL and none", field, ct.n.Load())
				}
				return
			}
			// The caller's http.Client is used as it is: no deadline added.
			if err != nil || sentTo != tt.url || ct.hadDeadline.Load() {
				t.Errorf("Refresh: %v, sent to %q, deadline %t; want success at %q without one", err, sentTo, ct.hadDeadline.Load(), tt.url)
			}
		})
	}
}

// clientRoundTripFunc is an http.RoundTripper made of a function.
type clientRoundTripFunc func(*http.Request) (*http.Response, error)

func (f clientRoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRefusedBeforeSending covers the other input that gives a *ConfigError
// and sends nothing.
func TestRefusedBeforeSending(t *testing.T) {
	type testCase struct {
		name      string
		client    func(*refresh.Client) *refresh.Client
		nilCtx    bool
		noToken   bool // an empty refresh token
		opts      []refresh.RequestOption
		wantField string
		wantIs    error
	}
	set := func(f func(*refresh.Client)) func(*refresh.Client) *refresh.Client {
		return func(c *refresh.Client) *refresh.Client { f(c); return c }
	}
	tests := []testCase{
		{name: "an empty refresh token, with ErrNoRefreshToken", noToken: true, wantField: "refreshToken", wantIs: refresh.ErrNoRefreshToken},
		{name: "a nil *Client, without a panic", client: func(*refresh.Client) *refresh.Client { return nil }, wantField: "Client"},
		{name: "a nil context", nilCtx: true, wantField: "ctx"},
		{name: "a negative MaxResponseBytes", client: set(func(c *refresh.Client) { c.MaxResponseBytes = -1 }), wantField: "MaxResponseBytes"},
		{name: "a negative MaxAttempts", client: set(func(c *refresh.Client) { c.MaxAttempts = -1 }), wantField: "MaxAttempts"},
		{name: "a negative MaxRetryWait", client: set(func(c *refresh.Client) { c.MaxRetryWait = -time.Second }), wantField: "MaxRetryWait"},
	}
	for _, s := range []string{"read write", `re"ad`, `re\ad`, "re\tad", "re\x7fad", "lecture-é", ""} {
		tests = append(tests, testCase{name: fmt.Sprintf("WithScopes(%q)", s),
			opts: []refresh.RequestOption{refresh.WithScopes("ok", s)}, wantField: "WithScopes"})
	}
	for _, name := range []string{"grant_type", "refresh_token", "scope", "client_id", "client_secret", "client_assertion", "client_assertion_type", ""} {
		tests = append(tests, testCase{name: fmt.Sprintf("WithParam(%q)", name),
			opts: []refresh.RequestOption{refresh.WithParam(name, "x")}, wantField: "WithParam"})
	}
	for _, name := range []string{"Authorization", "authorization", "content-type", "CONTENT-LENGTH", "hOsT", "transfer-encoding", ""} {
		tests = append(tests, testCase{name: fmt.Sprintf("WithHeader(%q)", name),
			opts: []refresh.RequestOption{refresh.WithHeader(name, "x")}, wantField: "WithHeader"})
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			ct := &countingTransport{}
			c := &refresh.Client{TokenURL: "https://auth.example.com/token", HTTPClient: &http.Client{Transport: ct}}
			if tt.client != nil {
				c = tt.client(c)
			}
			ctx, rt := t.Context(), "rt-1"
			if tt.nilCtx {
				ctx = nil
			}
			if tt.noToken {
				rt = ""
			}
			tok, err := c.Refresh(ctx, rt, tt.opts...)
			if field := configErrorField(t, err); field != tt.wantField {
				t.Errorf("ConfigError.Field = %q, want %q (error %q)", field, tt.wantField, err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantIs)
			}
			if tok != nil || ct.n.Load() != 0 {
				t.Errorf("Refresh returned %v after %d round trips, want nil and none", tok, ct.n.Load())
			}
		})
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, tokenJSON)
	}))
	defer other.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprintf("a %d is a *ResponseError and the caller's http.Client is untouched", code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+tokenPath, code)
			}))
			defer srv.Close()
			var policyCalls atomic.Int32
			hc := &http.Client{
				Transport:     srv.Client().Transport,
				CheckRedirect: func(*http.Request, []*http.Request) error { policyCalls.Add(1); return nil },
				Timeout:       42 * time.Second,
			}
			snapshot := func() string {
				return fmt.Sprintf("%p %x %v", hc.Transport, reflect.ValueOf(hc.CheckRedirect).Pointer(), hc.Timeout)
			}
			before := snapshot()
			c := &refresh.Client{TokenURL: srv.URL + tokenPath, HTTPClient: hc}
			_, err := c.Refresh(t.Context(), "rt-1")
			var re *refresh.ResponseError
			if !errors.As(err, &re) || re.StatusCode != code {
				t.Fatalf("error = %v (%T), want a *ResponseError with status %d", err, err, code)
			}
			if elsewhere.Load() != 0 || policyCalls.Load() != 0 {
				t.Errorf("the target got %d requests, the caller's CheckRedirect %d calls; want none", elsewhere.Load(), policyCalls.Load())
			}
			if after := snapshot(); after != before {
				t.Errorf("the caller's http.Client changed from %s to %s", before, after)
			}
		})
	}
}

// TestNilHTTPClient: a nil HTTPClient sends through http.DefaultTransport, not
// http.DefaultClient, with DefaultTimeout. It swaps both transports, so it must
// not run in parallel.
func TestNilHTTPClient(t *testing.T) {
	defaultTransport, clientTransport := &countingTransport{}, &countingTransport{}
	oldTransport, oldClientTransport := http.DefaultTransport, http.DefaultClient.Transport
	http.DefaultTransport, http.DefaultClient.Transport = defaultTransport, clientTransport
	defer func() { http.DefaultTransport, http.DefaultClient.Transport = oldTransport, oldClientTransport }()
	c := &refresh.Client{TokenURL: "https://auth.example.com/token"}
	if _, err := c.Refresh(context.Background(), "rt-1"); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if defaultTransport.n.Load() != 1 || !defaultTransport.hadDeadline.Load() || clientTransport.n.Load() != 0 {
		t.Errorf("DefaultTransport: %d round trips, deadline %t; DefaultClient: %d; want 1, true, 0",
			defaultTransport.n.Load(), defaultTransport.hadDeadline.Load(), clientTransport.n.Load())
	}
}

// TestTransportErrors: a transport's error is wrapped so that errors.Is and
// errors.As reach its cause and the *url.Error, whose URL has lost the query.
func TestTransportErrors(t *testing.T) {
	errDown := errors.New("network is down")
	expired, cancel := context.WithDeadline(t.Context(), time.Unix(0, 0))
	defer cancel()
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		rt   http.RoundTripper
		want error
	}{
		{"a cancelled context", cancelled, nil, context.Canceled},
		{"an expired context", expired, nil, context.DeadlineExceeded},
		{"a RoundTripper's own error", t.Context(), clientRoundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errDown }), errDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.NotFoundHandler())
			defer srv.Close()
			hc := srv.Client()
			if tt.rt != nil {
				hc = &http.Client{Transport: tt.rt}
			}
			c := &refresh.Client{TokenURL: srv.URL + tokenPath + "?secret=xyz", HTTPClient: hc}
			tok, err := c.Refresh(tt.ctx, "rt-1")
			var ue *url.Error
			if tok != nil || !errors.Is(err, tt.want) || !errors.As(err, &ue) || errors.As(err, new(*refresh.ConfigError)) {
				t.Fatalf("Refresh = %v, %v (%T); want an error that is %v and holds a *url.Error", tok, err, err, tt.want)
			}
			if want := srv.URL + tokenPath; ue.URL != want {
				t.Errorf("url.Error.URL = %q, want %q", ue.URL, want)
			}
			if text := fmt.Sprintf("%v %+v", err, ue); strings.Contains(text, "xyz") {
				t.Errorf("error text %q shows the TokenURL's query", text)
			}
		})
	}
}
