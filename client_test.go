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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jarcoal/httpmock"

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

// setup starts a token endpoint on an httptest server, in the manner of
// go-github's tests: register handlers on mux; the returned Client points at
// tokenPath on that server, sends through the server's own http.Client and reads
// a clock stopped at t0.
func setup(t *testing.T) (*refresh.Client, *http.ServeMux) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := &refresh.Client{
		TokenURL:   srv.URL + tokenPath,
		HTTPClient: srv.Client(),
		Now:        func() time.Time { return t0 },
	}
	return c, mux
}

// seenRequest is what a test token endpoint received.
type seenRequest struct {
	Method string
	Path   string
	Header http.Header
	Body   string
}

// endpoint records the requests a test token endpoint received.
type endpoint struct {
	mu   sync.Mutex
	reqs []seenRequest
}

func (e *endpoint) requests() []seenRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seenRequest(nil), e.reqs...)
}

// serveTokenEndpoint registers on mux, for every path, a handler that records
// the request and answers with status, contentType and body.
func serveTokenEndpoint(t *testing.T, mux *http.ServeMux, status int, contentType, body string) *endpoint {
	t.Helper()
	e := &endpoint{}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("token endpoint: reading the request body: %v", err)
		}
		e.mu.Lock()
		e.reqs = append(e.reqs, seenRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(b)})
		e.mu.Unlock()
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
	return e
}

// countingTransport counts the round trips it passes to base; a nil base
// answers every request with an error.
type countingTransport struct {
	base        http.RoundTripper
	n           atomic.Int32
	hadDeadline atomic.Bool
}

var errNoBase = errors.New("countingTransport: no base transport")

func (ct *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ct.n.Add(1)
	if _, ok := req.Context().Deadline(); ok {
		ct.hadDeadline.Store(true)
	}
	if ct.base == nil {
		return nil, errNoBase
	}
	return ct.base.RoundTrip(req)
}

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

func TestRefreshEndToEnd(t *testing.T) {
	tests := []struct {
		name          string
		userAgent     string
		wantUserAgent string
	}{
		{
			name:          "a client without a UserAgent sends DefaultUserAgent",
			wantUserAgent: refresh.DefaultUserAgent,
		},
		{
			name:          "Client.UserAgent replaces the default User-Agent",
			userAgent:     "my-app/1.2 (+https://my-app.example)",
			wantUserAgent: "my-app/1.2 (+https://my-app.example)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setup(t)
			var served atomic.Bool
			e := &endpoint{}
			mux.HandleFunc(tokenPath, func(w http.ResponseWriter, r *http.Request) {
				served.Store(true)
				b, _ := io.ReadAll(r.Body)
				e.mu.Lock()
				e.reqs = append(e.reqs, seenRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(b)})
				e.mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tokenJSON)
			})
			// The clock moves an hour on once the server has the request: the
			// expiry must count from the time before the request was sent.
			c.Now = func() time.Time {
				if served.Load() {
					return t0.Add(time.Hour)
				}
				return t0
			}
			c.UserAgent = tt.userAgent
			c.Auth = refresh.ClientSecretPost("my client", "s3cr:t")

			got, err := c.Refresh(t.Context(), "rt/1 +&",
				refresh.WithScopes("read", "write"),
				refresh.WithParam("resource", "https://api.example.com/"))
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if diff := cmp.Diff(wantTokens, got, ignoreRaw); diff != "" {
				t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
			}

			reqs := e.requests()
			if len(reqs) != 1 {
				t.Fatalf("the server got %d requests, want 1", len(reqs))
			}
			type wire struct {
				Method, Path, ContentType, Accept, UserAgent, Authorization, Body string
			}
			r := reqs[0]
			gotWire := wire{
				Method:        r.Method,
				Path:          r.Path,
				ContentType:   r.Header.Get("Content-Type"),
				Accept:        r.Header.Get("Accept"),
				UserAgent:     strings.Join(r.Header.Values("User-Agent"), "|"),
				Authorization: r.Header.Get("Authorization"),
				Body:          r.Body,
			}
			wantWire := wire{
				Method:      http.MethodPost,
				Path:        tokenPath,
				ContentType: "application/x-www-form-urlencoded",
				Accept:      "application/json",
				UserAgent:   tt.wantUserAgent,
				Body: "grant_type=refresh_token&refresh_token=rt%2F1+%2B%26&scope=read+write" +
					"&resource=https%3A%2F%2Fapi.example.com%2F&client_id=my+client&client_secret=s3cr%3At",
			}
			if diff := cmp.Diff(wantWire, gotWire); diff != "" {
				t.Errorf("request as the server saw it (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestOptions(t *testing.T) {
	const head = "grant_type=refresh_token&refresh_token=rt-1"
	type testCase struct {
		name       string
		opts       []refresh.RequestOption
		wantBody   string      // when the request is sent
		wantHeader http.Header // a subset of the headers sent
		wantField  string      // the ConfigError's Field when it is refused
	}
	tests := []testCase{
		{
			name:     "WithScopes sends the scopes space-joined, in order, without duplicates",
			opts:     []refresh.RequestOption{refresh.WithScopes("write", "read", "write", "profile")},
			wantBody: head + "&scope=write+read+profile",
		},
		{
			name:     "WithScopes called with no scopes sends no scope parameter",
			opts:     []refresh.RequestOption{refresh.WithScopes()},
			wantBody: head,
		},
		{
			name:     "WithScopes form-encodes a URL scope",
			opts:     []refresh.RequestOption{refresh.WithScopes("https://graph.microsoft.com/.default", "offline_access")},
			wantBody: head + "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default+offline_access",
		},
		{
			name:     "WithParam sends a name given twice twice",
			opts:     []refresh.RequestOption{refresh.WithParam("resource", "https://a.example/"), refresh.WithParam("resource", "https://b.example/")},
			wantBody: head + "&resource=https%3A%2F%2Fa.example%2F&resource=https%3A%2F%2Fb.example%2F",
		},
		{
			name:     "scope comes before the WithParam parameters whatever the option order",
			opts:     []refresh.RequestOption{refresh.WithParam("audience", "api"), refresh.WithScopes("read")},
			wantBody: head + "&scope=read&audience=api",
		},
		{
			name:       "WithHeader sets Origin",
			opts:       []refresh.RequestOption{refresh.WithHeader("origin", "https://spa.example")},
			wantBody:   head,
			wantHeader: http.Header{"Origin": {"https://spa.example"}},
		},
		{
			name:       "WithHeader replaces User-Agent for one request",
			opts:       []refresh.RequestOption{refresh.WithHeader("user-agent", "per-call/1")},
			wantBody:   head,
			wantHeader: http.Header{"User-Agent": {"per-call/1"}},
		},
		{
			name:       "WithHeader given twice keeps the last value",
			opts:       []refresh.RequestOption{refresh.WithHeader("Origin", "https://a.example"), refresh.WithHeader("Origin", "https://b.example")},
			wantBody:   head,
			wantHeader: http.Header{"Origin": {"https://b.example"}},
		},
		{
			name:     "a nil option is ignored",
			opts:     []refresh.RequestOption{nil, refresh.WithParam("audience", "api"), nil},
			wantBody: head + "&audience=api",
		},
	}
	for _, s := range []struct{ what, scope string }{
		{"a space", "read write"},
		{"a double quote", `re"ad`},
		{"a backslash", `re\ad`},
		{"a control character", "re\tad"},
		{"DEL", "re\x7fad"},
		{"a non-ASCII character", "lecture-é"},
		{"nothing (the empty string)", ""},
	} {
		tests = append(tests, testCase{
			name:      "WithScopes refuses a scope holding " + s.what,
			opts:      []refresh.RequestOption{refresh.WithScopes("ok", s.scope)},
			wantField: "WithScopes",
		})
	}
	for _, name := range []string{"grant_type", "refresh_token", "scope", "client_id", "client_secret", "client_assertion", "client_assertion_type", ""} {
		tests = append(tests, testCase{
			name:      fmt.Sprintf("WithParam refuses the reserved name %q", name),
			opts:      []refresh.RequestOption{refresh.WithParam(name, "x")},
			wantField: "WithParam",
		})
	}
	for _, name := range []string{"Authorization", "authorization", "content-type", "CONTENT-LENGTH", "Host", "hOsT", "transfer-encoding", ""} {
		tests = append(tests, testCase{
			name:      fmt.Sprintf("WithHeader refuses %q", name),
			opts:      []refresh.RequestOption{refresh.WithHeader(name, "x")},
			wantField: "WithHeader",
		})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setup(t)
			e := serveTokenEndpoint(t, mux, http.StatusOK, "application/json", tokenJSON)
			_, err := c.Refresh(t.Context(), "rt-1", tt.opts...)
			reqs := e.requests()

			if tt.wantField != "" {
				if got := configErrorField(t, err); got != tt.wantField {
					t.Errorf("ConfigError.Field = %q, want %q", got, tt.wantField)
				}
				if len(reqs) != 0 {
					t.Errorf("the server got %d requests, want none", len(reqs))
				}
				return
			}
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if len(reqs) != 1 {
				t.Fatalf("the server got %d requests, want 1", len(reqs))
			}
			if diff := cmp.Diff(tt.wantBody, reqs[0].Body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			for name, want := range tt.wantHeader {
				if diff := cmp.Diff(want, reqs[0].Header.Values(name)); diff != "" {
					t.Errorf("header %s (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	tests := []struct {
		name         string
		client       func(c *refresh.Client) *refresh.Client // changes the working client
		nilCtx       bool
		refreshToken string
		wantField    string
		wantIs       error
	}{
		{
			name:      "an empty refresh token is refused with ErrNoRefreshToken",
			wantField: "refreshToken",
			wantIs:    refresh.ErrNoRefreshToken,
		},
		{
			name:         "an empty TokenURL is refused",
			client:       func(c *refresh.Client) *refresh.Client { c.TokenURL = ""; return c },
			refreshToken: "rt-1",
			wantField:    "TokenURL",
		},
		{
			name:         "an unparsable TokenURL is refused",
			client:       func(c *refresh.Client) *refresh.Client { c.TokenURL += "/%zz"; return c },
			refreshToken: "rt-1",
			wantField:    "TokenURL",
		},
		{
			name:         "a relative TokenURL is refused",
			client:       func(c *refresh.Client) *refresh.Client { c.TokenURL = tokenPath; return c },
			refreshToken: "rt-1",
			wantField:    "TokenURL",
		},
		{
			name: "an ftp TokenURL is refused",
			client: func(c *refresh.Client) *refresh.Client {
				c.TokenURL = "ftp" + strings.TrimPrefix(c.TokenURL, "http")
				return c
			},
			refreshToken: "rt-1",
			wantField:    "TokenURL",
		},
		{
			name:         "an http TokenURL on a host that is not loopback is refused",
			client:       func(c *refresh.Client) *refresh.Client { c.TokenURL = "http://auth.example.com" + tokenPath; return c },
			refreshToken: "rt-1",
			wantField:    "TokenURL",
		},
		{
			name: "a TokenURL with user info is refused",
			client: func(c *refresh.Client) *refresh.Client {
				c.TokenURL = strings.Replace(c.TokenURL, "http://", "http://user:pass@", 1)
				return c
			},
			refreshToken: "rt-1",
			wantField:    "TokenURL",
		},
		{
			name:         "a TokenURL with a fragment is refused",
			client:       func(c *refresh.Client) *refresh.Client { c.TokenURL += "#frag"; return c },
			refreshToken: "rt-1",
			wantField:    "TokenURL",
		},
		{
			name:         "a negative MaxResponseBytes is refused",
			client:       func(c *refresh.Client) *refresh.Client { c.MaxResponseBytes = -1; return c },
			refreshToken: "rt-1",
			wantField:    "MaxResponseBytes",
		},
		{
			name:         "a nil *Client is refused without a panic",
			client:       func(*refresh.Client) *refresh.Client { return nil },
			refreshToken: "rt-1",
			wantField:    "Client",
		},
		{
			name:         "a nil context is refused",
			nilCtx:       true,
			refreshToken: "rt-1",
			wantField:    "ctx",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setup(t)
			e := serveTokenEndpoint(t, mux, http.StatusOK, "application/json", tokenJSON)
			ct := &countingTransport{base: c.HTTPClient.Transport}
			c.HTTPClient = &http.Client{Transport: ct}
			if tt.client != nil {
				c = tt.client(c)
			}
			ctx := t.Context()
			if tt.nilCtx {
				ctx = nil
			}

			got, err := c.Refresh(ctx, tt.refreshToken)
			if got != nil {
				t.Errorf("Refresh returned tokens %v with its error", got)
			}
			if field := configErrorField(t, err); field != tt.wantField {
				t.Errorf("ConfigError.Field = %q, want %q (error %q)", field, tt.wantField, err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantIs)
			}
			if n := ct.n.Load(); n != 0 {
				t.Errorf("the transport made %d round trips, want none", n)
			}
			if n := len(e.requests()); n != 0 {
				t.Errorf("the server got %d requests, want none", n)
			}
		})
	}
}

func TestTokenURLSchemeAndHost(t *testing.T) {
	tests := []struct {
		name              string
		tokenURL          string
		allowInsecureHTTP bool
		wantRefused       bool
	}{
		{name: "https on any host is allowed", tokenURL: "https://auth.example.com/token"},
		{name: "https with a query is allowed", tokenURL: "https://auth.example.com/token?tenant=t1"},
		{name: "http on 127.0.0.1 is allowed", tokenURL: "http://127.0.0.1:8080/token"},
		{name: "http on another 127.0.0.0/8 address is allowed", tokenURL: "http://127.0.0.2:8080/token"},
		{name: "http on localhost is allowed", tokenURL: "http://localhost:8080/token"},
		{name: "http on LOCALHOST in capitals is allowed", tokenURL: "http://LOCALHOST/token"},
		{name: "http on [::1] is allowed", tokenURL: "http://[::1]:8080/token"},
		{name: "http on a public host is refused", tokenURL: "http://auth.example.com/token", wantRefused: true},
		{name: "http on a name that starts with localhost is refused", tokenURL: "http://localhost.example.com/token", wantRefused: true},
		{name: "http on a name that starts with 127.0.0.1 is refused", tokenURL: "http://127.0.0.1.nip.io/token", wantRefused: true},
		{name: "http on a private address is refused", tokenURL: "http://10.0.0.1/token", wantRefused: true},
		{name: "http on a public host is allowed with AllowInsecureHTTP", tokenURL: "http://auth.internal.test/token", allowInsecureHTTP: true},
		{name: "ftp stays refused with AllowInsecureHTTP", tokenURL: "ftp://auth.internal.test/token", allowInsecureHTTP: true, wantRefused: true},
		{name: "user info stays refused with AllowInsecureHTTP", tokenURL: "http://id:secret@auth.internal.test/token", allowInsecureHTTP: true, wantRefused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &refresh.Client{TokenURL: tt.tokenURL, AllowInsecureHTTP: tt.allowInsecureHTTP}
			req, err := c.NewRequest(t.Context(), "rt-1")
			if tt.wantRefused {
				if field := configErrorField(t, err); field != "TokenURL" {
					t.Errorf("ConfigError.Field = %q, want TokenURL", field)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			if got := req.URL.String(); got != tt.tokenURL {
				t.Errorf("request URL = %q, want %q", got, tt.tokenURL)
			}
		})
	}
}

// clientSnapshot is what a caller's *http.Client looks like from outside.
type clientSnapshot struct {
	Transport     string // the RoundTripper's identity
	CheckRedirect uintptr
	Jar           string
	Timeout       time.Duration
}

func snapshot(hc *http.Client) clientSnapshot {
	return clientSnapshot{
		Transport:     fmt.Sprintf("%T %p", hc.Transport, hc.Transport),
		CheckRedirect: reflect.ValueOf(hc.CheckRedirect).Pointer(),
		Jar:           fmt.Sprintf("%T %p", hc.Jar, hc.Jar),
		Timeout:       hc.Timeout,
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	for _, code := range []int{
		http.StatusMovedPermanently,
		http.StatusFound,
		http.StatusSeeOther,
		http.StatusTemporaryRedirect,
		http.StatusPermanentRedirect,
	} {
		t.Run(fmt.Sprintf("a %d from the token endpoint is an error and reaches no other server", code), func(t *testing.T) {
			var elsewhere atomic.Int32
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				elsewhere.Add(1)
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tokenJSON)
			}))
			t.Cleanup(other.Close)

			c, mux := setup(t)
			mux.HandleFunc(tokenPath, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+tokenPath, code)
			})
			var redirectPolicyCalls atomic.Int32
			hc := &http.Client{
				Transport: c.HTTPClient.Transport,
				CheckRedirect: func(*http.Request, []*http.Request) error {
					redirectPolicyCalls.Add(1)
					return nil // would follow every redirect
				},
				Timeout: 42 * time.Second,
			}
			c.HTTPClient = hc
			before := snapshot(hc)

			tok, err := c.Refresh(t.Context(), "rt-1", refresh.WithScopes("read"))
			if tok != nil {
				t.Errorf("Refresh returned tokens %v", tok)
			}
			var re *refresh.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("error = %v (%T), want a *refresh.ResponseError", err, err)
			}
			if re.StatusCode != code {
				t.Errorf("ResponseError.StatusCode = %d, want %d", re.StatusCode, code)
			}
			if n := elsewhere.Load(); n != 0 {
				t.Errorf("the redirect target got %d requests, want none", n)
			}
			if n := redirectPolicyCalls.Load(); n != 0 {
				t.Errorf("the caller's CheckRedirect was called %d times, want never", n)
			}
			if diff := cmp.Diff(before, snapshot(hc)); diff != "" {
				t.Errorf("the caller's http.Client changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestCallersHTTPClientIsUsed(t *testing.T) {
	c, mux := setup(t)
	serveTokenEndpoint(t, mux, http.StatusOK, "application/json", tokenJSON)
	ct := &countingTransport{base: c.HTTPClient.Transport}
	c.HTTPClient = &http.Client{Transport: ct} // no Timeout: the context gets no deadline

	got, err := c.Refresh(t.Context(), "rt-1")
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if diff := cmp.Diff(wantTokens, got, ignoreRaw); diff != "" {
		t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
	}
	if n := ct.n.Load(); n != 1 {
		t.Errorf("the caller's transport made %d round trips, want 1", n)
	}
	if ct.hadDeadline.Load() {
		t.Error("the request had a deadline, but the caller's http.Client has no Timeout")
	}
}

// TestNilHTTPClient swaps http.DefaultTransport and http.DefaultClient's
// transport for counting ones, so it must not run in parallel.
func TestNilHTTPClient(t *testing.T) {
	c, mux := setup(t)
	serveTokenEndpoint(t, mux, http.StatusOK, "application/json", tokenJSON)
	c.HTTPClient = nil

	defaultTransport := &countingTransport{base: http.DefaultTransport}
	defaultClientTransport := &countingTransport{} // fails every request
	oldTransport, oldClientTransport := http.DefaultTransport, http.DefaultClient.Transport
	http.DefaultTransport = defaultTransport
	http.DefaultClient.Transport = defaultClientTransport
	t.Cleanup(func() {
		http.DefaultTransport = oldTransport
		http.DefaultClient.Transport = oldClientTransport
	})

	got, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if diff := cmp.Diff(wantTokens, got, ignoreRaw); diff != "" {
		t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
	}
	t.Run("the request goes through http.DefaultTransport", func(t *testing.T) {
		if n := defaultTransport.n.Load(); n != 1 {
			t.Errorf("http.DefaultTransport made %d round trips, want 1", n)
		}
	})
	t.Run("http.DefaultClient is not used", func(t *testing.T) {
		if n := defaultClientTransport.n.Load(); n != 0 {
			t.Errorf("http.DefaultClient's transport made %d round trips, want none", n)
		}
	})
	t.Run("a request without a context deadline gets the default timeout", func(t *testing.T) {
		if !defaultTransport.hadDeadline.Load() {
			t.Error("the request had no deadline; want DefaultTimeout applied")
		}
	})
}

func TestTransportErrorsKeepTheirCause(t *testing.T) {
	t.Run("a cancelled context gives an error that is context.Canceled", func(t *testing.T) {
		c, mux := setup(t)
		serveTokenEndpoint(t, mux, http.StatusOK, "application/json", tokenJSON)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		tok, err := c.Refresh(ctx, "rt-1")
		if tok != nil {
			t.Errorf("Refresh returned tokens %v", tok)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want one that is context.Canceled", err)
		}
		var ce *refresh.ConfigError
		if errors.As(err, &ce) {
			t.Errorf("error = %v, a *ConfigError; want the transport's error", err)
		}
	})

	t.Run("an expired context gives an error that is context.DeadlineExceeded", func(t *testing.T) {
		c, mux := setup(t)
		serveTokenEndpoint(t, mux, http.StatusOK, "application/json", tokenJSON)
		ctx, cancel := context.WithDeadline(t.Context(), time.Unix(0, 0))
		defer cancel()
		_, err := c.Refresh(ctx, "rt-1")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want one that is context.DeadlineExceeded", err)
		}
	})

	t.Run("a closed server gives a *url.Error without the TokenURL's query", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		// A refused connection is retried: without a wait, to keep the test fast.
		c := &refresh.Client{TokenURL: srv.URL + tokenPath + "?secret=xyz", Backoff: func(refresh.RetryAttempt) time.Duration { return 0 }}
		tok, err := c.Refresh(t.Context(), "rt-1")
		if tok != nil {
			t.Errorf("Refresh returned tokens %v", tok)
		}
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Fatalf("error = %v (%T), want one that holds a *url.Error", err, err)
		}
		if want := srv.URL + tokenPath; ue.URL != want {
			t.Errorf("url.Error.URL = %q, want %q", ue.URL, want)
		}
		for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), ue.Error()} {
			if strings.Contains(text, "xyz") {
				t.Errorf("error text %q shows the TokenURL's query", text)
			}
		}
	})
}

func TestMockingWithHTTPMock(t *testing.T) {
	const mockURL = "https://auth.example.com" + tokenPath
	errDown := errors.New("network is down")
	tests := []struct {
		name      string
		responder func(t *testing.T) httpmock.Responder
		want      *refresh.Tokens
		wantErrIs error
	}{
		{
			name: "a responder that checks the form gets the tokens back to the caller",
			responder: func(t *testing.T) httpmock.Responder {
				return func(req *http.Request) (*http.Response, error) {
					if err := req.ParseForm(); err != nil {
						t.Errorf("ParseForm: %v", err)
					}
					wantForm := url.Values{
						"grant_type":    {"refresh_token"},
						"refresh_token": {"rt-1"},
						"scope":         {"read write"},
					}
					if diff := cmp.Diff(wantForm, req.PostForm); diff != "" {
						t.Errorf("form (-want +got):\n%s", diff)
					}
					if id, secret, ok := req.BasicAuth(); !ok || id != "app" || secret != "app-secret" {
						t.Errorf("BasicAuth() = %q, %q, %t; want app, app-secret, true", id, secret, ok)
					}
					resp := httpmock.NewStringResponse(http.StatusOK, tokenJSON)
					resp.Header.Set("Content-Type", "application/json")
					return resp, nil
				}
			},
			want: wantTokens,
		},
		{
			name: "an error responder surfaces as the transport's error",
			responder: func(*testing.T) httpmock.Responder {
				return httpmock.NewErrorResponder(errDown)
			},
			wantErrIs: errDown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// What a user of the library writes: their own *http.Client,
			// mocked, handed to the Client.
			hc := &http.Client{}
			httpmock.ActivateNonDefault(hc)
			t.Cleanup(httpmock.DeactivateAndReset)
			httpmock.RegisterResponder(http.MethodPost, mockURL, tt.responder(t))

			c := &refresh.Client{
				TokenURL:   mockURL,
				Auth:       refresh.ClientSecretBasic("app", "app-secret"),
				HTTPClient: hc,
				Now:        func() time.Time { return t0 },
			}
			got, err := c.Refresh(t.Context(), "rt-1", refresh.WithScopes("read", "write"))

			if calls := httpmock.GetCallCountInfo()["POST "+mockURL]; calls != 1 {
				t.Errorf("httpmock saw %d calls to POST %s, want 1", calls, mockURL)
			}
			if tt.wantErrIs != nil {
				if !errors.Is(err, tt.wantErrIs) {
					t.Errorf("error = %v, want one that is %v", err, tt.wantErrIs)
				}
				var ue *url.Error
				if !errors.As(err, &ue) {
					t.Errorf("error = %v (%T), want one that holds a *url.Error", err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, ignoreRaw); diff != "" {
				t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestBodyIsReplayable(t *testing.T) {
	tests := []struct {
		name string
		auth refresh.Auth
		opts []refresh.RequestOption
	}{
		{name: "a bare request can be replayed"},
		{
			name: "a request with scopes, parameters and a body credential can be replayed",
			auth: refresh.ClientSecretPost("app", "app secret"),
			opts: []refresh.RequestOption{refresh.WithScopes("a", "b"), refresh.WithParam("resource", "https://r.example/")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &refresh.Client{TokenURL: "https://auth.example.com" + tokenPath, Auth: tt.auth}
			req, err := c.NewRequest(t.Context(), "rt-1", tt.opts...)
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			if req.GetBody == nil {
				t.Fatal("GetBody is nil")
			}
			first := readBody(t, req)
			if !strings.HasPrefix(first, "grant_type=refresh_token&refresh_token=rt-1") {
				t.Errorf("body = %q, want the refresh request", first)
			}
			if req.ContentLength != int64(len(first)) {
				t.Errorf("ContentLength = %d, want %d, the body's length", req.ContentLength, len(first))
			}
			for i := range 2 {
				rc, err := req.GetBody()
				if err != nil {
					t.Fatalf("GetBody: %v", err)
				}
				b, err := io.ReadAll(rc)
				if err != nil {
					t.Fatalf("reading GetBody's body: %v", err)
				}
				if diff := cmp.Diff(first, string(b)); diff != "" {
					t.Errorf("GetBody call %d (-Body +GetBody):\n%s", i+1, diff)
				}
			}
		})
	}
}
