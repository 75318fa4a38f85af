package refresh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// trT0 is the injected clock's time in these tests.
var trT0 = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

func trNow() time.Time { return trT0 }

// trOldTokens are stored tokens whose access token "old" is valid for an hour
// at trT0, so that a Source starting from them makes no request until told to.
func trOldTokens() *Tokens {
	return &Tokens{AccessToken: "old", TokenType: "Bearer", RefreshToken: "rt-0", ExpiresAt: trT0.Add(time.Hour), IssuedAt: trT0}
}

const trInvalidToken = `Bearer error="invalid_token", error_description="The access token expired"`

// trEndpoint is a token endpoint on loopback. It issues at-1, at-2, ... (with
// refresh tokens rt-1, rt-2, ...) valid for an hour, and counts its requests.
// Set the exported fields before trTokenServer starts it.
type trEndpoint struct {
	TokenType   string // token_type sent; "" means "Bearer"
	AccessToken string // the access token issued every time; "" means at-<n>
	Fail        bool   // answer every request with 400 invalid_grant

	hits atomic.Int32
}

// trTokenServer starts e and returns a Client for it whose clock stands at trT0.
func trTokenServer(t *testing.T, e *trEndpoint) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := e.hits.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if e.Fail {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"refresh token revoked"}`)
			return
		}
		tokenType, accessToken := e.TokenType, e.AccessToken
		if tokenType == "" {
			tokenType = "Bearer"
		}
		if accessToken == "" {
			accessToken = fmt.Sprintf("at-%d", n)
		}
		fmt.Fprintf(w, `{"access_token":%q,"token_type":%q,"expires_in":3600,"refresh_token":"rt-%d"}`, accessToken, tokenType, n)
	}))
	t.Cleanup(srv.Close)
	return &Client{TokenURL: srv.URL + "/token", HTTPClient: srv.Client(), Now: trNow}
}

// trSource returns a Source over a fresh token endpoint e, starting from initial.
func trSource(t *testing.T, e *trEndpoint, initial *Tokens) *Source {
	t.Helper()
	return NewSource(trTokenServer(t, e), initial)
}

// trSeen is one request as a test resource server saw it.
type trSeen struct {
	Server        string
	Method        string
	Path          string
	Authorization string // the Authorization values, joined with " | "
	ContentLength int64
	Body          string
}

// trLog records the requests of one or more test resource servers, in order.
type trLog struct {
	mu   sync.Mutex
	seen []trSeen
}

func (l *trLog) add(s trSeen) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, s)
}

func (l *trLog) all() []trSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]trSeen(nil), l.seen...)
}

// trAuthorizations returns the Authorization each logged request carried.
func (l *trLog) trAuthorizations() []string {
	var a []string
	for _, s := range l.all() {
		a = append(a, s.Authorization)
	}
	return a
}

// trServer starts a resource server called name on loopback. It reads each
// request's body, records the request in log, and lets answer reply.
func trServer(t *testing.T, name string, log *trLog, answer func(w http.ResponseWriter, r *http.Request, s trSeen)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("%s: reading the request body: %v", name, err)
		}
		s := trSeen{
			Server:        name,
			Method:        r.Method,
			Path:          r.URL.Path,
			Authorization: strings.Join(r.Header.Values("Authorization"), " | "),
			ContentLength: r.ContentLength,
			Body:          string(b),
		}
		log.add(s)
		answer(w, r, s)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// trReply is how a test resource server answers: a status and the
// WWW-Authenticate challenges, one header line each.
type trReply struct {
	Status     int
	Challenges []string
}

// trByToken answers a request carrying "Bearer old" with old and any other with
// fresh; the body is "reply to <Authorization>".
func trByToken(old, fresh trReply) func(http.ResponseWriter, *http.Request, trSeen) {
	return func(w http.ResponseWriter, _ *http.Request, s trSeen) {
		a := fresh
		if s.Authorization == "Bearer old" {
			a = old
		}
		for _, c := range a.Challenges {
			w.Header().Add("WWW-Authenticate", c)
		}
		w.WriteHeader(a.Status)
		io.WriteString(w, "reply to "+s.Authorization)
	}
}

// trAPI starts a resource server answering as trByToken(old, fresh) does.
func trAPI(t *testing.T, old, fresh trReply) (*httptest.Server, *trLog) {
	t.Helper()
	log := new(trLog)
	return trServer(t, "api", log, trByToken(old, fresh)), log
}

// trBase returns an http.Transport of the test's own, with room for many idle
// connections to one host.
func trBase(t *testing.T) *http.Transport {
	t.Helper()
	b := &http.Transport{MaxIdleConnsPerHost: 256}
	t.Cleanup(b.CloseIdleConnections)
	return b
}

// trRoundTripFunc is a RoundTripper made of a function.
type trRoundTripFunc func(*http.Request) (*http.Response, error)

func (f trRoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// trRequestView is what a RoundTripper must leave as it was in the caller's
// request. Header values are kept up to their capacity, so that a write into a
// value's spare capacity shows.
type trRequestView struct {
	Method        string
	URL           string
	Host          string
	Header        map[string][]string
	ContentLength int64
	HasGetBody    bool
}

func trView(r *http.Request) trRequestView {
	v := trRequestView{Method: r.Method, URL: r.URL.String(), Host: r.Host, ContentLength: r.ContentLength, HasGetBody: r.GetBody != nil}
	if r.Header != nil {
		v.Header = make(map[string][]string, len(r.Header))
		for k, vals := range r.Header {
			v.Header[k] = append([]string(nil), vals[:cap(vals)]...)
		}
	}
	return v
}

// trRoundTrip calls tr.RoundTrip(req) and checks the RoundTripper contract on
// the outcome: a response or an error, never both and never neither, and req
// left as it was (its Body the same value). It returns the response with its
// body read and closed.
func trRoundTrip(t *testing.T, tr *Transport, req *http.Request) (*http.Response, string, error) {
	t.Helper()
	before, body := trView(req), req.Body
	resp, err := tr.RoundTrip(req)
	if (resp == nil) == (err == nil) {
		t.Errorf("RoundTrip = %v, %v: want a response or an error", resp, err)
	}
	if diff := cmp.Diff(before, trView(req)); diff != "" {
		t.Errorf("RoundTrip modified the caller's request (-before +after):\n%s", diff)
	}
	if req.Body != body {
		t.Errorf("RoundTrip replaced the caller's request body %T with %T", body, req.Body)
	}
	if resp == nil {
		return nil, "", err
	}
	b, rerr := io.ReadAll(resp.Body)
	if rerr != nil {
		t.Errorf("reading the response body: %v", rerr)
	}
	resp.Body.Close()
	return resp, string(b), err
}

// trBodies counts what happens to a request body and to the copies its
// GetBody makes.
type trBodies struct {
	closes     atomic.Int32 // Close calls on the original body
	gets       atomic.Int32 // GetBody calls
	copies     atomic.Int32 // copies GetBody returned
	copyCloses atomic.Int32 // Close calls on those copies, all together
}

// trCountingBody is a request or response body that counts its Close calls.
type trCountingBody struct {
	io.Reader
	closes *atomic.Int32
}

func (b *trCountingBody) Close() error {
	b.closes.Add(1)
	return nil
}

// trOnlyReader hides every method of its reader but Read, as a pipe or a
// network stream would.
type trOnlyReader struct{ r io.Reader }

func (o trOnlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// trBodyRequest returns a POST of body to url whose body and GetBody copies count
// their Close calls. Without replayable the body is a plain stream and GetBody
// is nil.
func trBodyRequest(t *testing.T, ctx context.Context, url, body string, replayable bool) (*http.Request, *trBodies) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := new(trBodies)
	req.Header.Set("Content-Type", "text/plain")
	req.ContentLength = int64(len(body))
	req.Body = &trCountingBody{Reader: trOnlyReader{strings.NewReader(body)}, closes: &b.closes}
	if replayable {
		req.GetBody = func() (io.ReadCloser, error) {
			b.gets.Add(1)
			b.copies.Add(1)
			return &trCountingBody{Reader: strings.NewReader(body), closes: &b.copyCloses}, nil
		}
	}
	return req, b
}

func TestTransportSetsTheAuthorizationHeader(t *testing.T) {
	fromEndpoint := func() *Tokens { return &Tokens{RefreshToken: "rt-0"} } // the first request refreshes
	tests := []struct {
		name        string
		initial     *Tokens // the Source's starting tokens
		tokenType   string  // token_type sent by the token endpoint
		callerAuthz string  // an Authorization the caller set, if any
		nilHeader   bool    // the caller's request has a nil Header map
		appending   bool    // the base transport appends to the header values it gets
		want        string
	}{
		{name: "a token type bearer from the token endpoint is sent as Bearer", initial: fromEndpoint(), tokenType: "bearer", want: "Bearer at-1"},
		{name: "a token type BEARER from the token endpoint is sent as Bearer", initial: fromEndpoint(), tokenType: "BEARER", want: "Bearer at-1"},
		{name: "a token type Bearer is sent as it is", initial: fromEndpoint(), tokenType: "Bearer", want: "Bearer at-1"},
		{name: "a stored token without a token type is sent as Bearer", initial: &Tokens{AccessToken: "stored", RefreshToken: "rt-0", ExpiresAt: trT0.Add(time.Hour)}, want: "Bearer stored"},
		{name: "a stored token of type bEaReR is sent as Bearer", initial: &Tokens{AccessToken: "stored", TokenType: "bEaReR"}, want: "Bearer stored"},
		{name: "an odd token type (eBay's) is sent as Bearer", initial: fromEndpoint(), tokenType: "User Access Token", want: "Bearer at-1"},
		{name: "an Authorization the caller set is replaced, not added to", initial: fromEndpoint(), tokenType: "bearer", callerAuthz: "Basic dXNlcjpwYXNz", want: "Bearer at-1"},
		{name: "a request with a nil Header map is sent with the token and keeps its nil map", initial: trOldTokens(), nilHeader: true, want: "Bearer old"},
		{name: "a base transport that appends to header values cannot write into the caller's", initial: trOldTokens(), appending: true, want: "Bearer old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &trEndpoint{TokenType: tt.tokenType}
			src := trSource(t, e, tt.initial)
			srv, log := trAPI(t, trReply{Status: http.StatusOK}, trReply{Status: http.StatusOK})
			var base http.RoundTripper = trBase(t)
			if tt.appending {
				inner := base
				base = trRoundTripFunc(func(r *http.Request) (*http.Response, error) {
					// Not allowed of a RoundTripper, but it must not reach the caller.
					r.Header["X-Multi"] = append(r.Header["X-Multi"], "from-base")
					r.Header.Set("X-Base", "1")
					return inner.RoundTrip(r)
				})
			}
			tr := &Transport{Source: src, Base: base}

			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/items?q=a%20b&page=2", strings.NewReader("name=widget"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept", "application/json")
			req.Header["X-Multi"] = append(make([]string, 0, 4), "a", "b") // spare capacity
			if tt.callerAuthz != "" {
				req.Header.Set("Authorization", tt.callerAuthz)
			}
			if tt.nilHeader {
				req.Header = nil
			}

			resp, _, err := trRoundTrip(t, tr, req)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status = %d, want 200", resp.StatusCode)
			}
			want := []trSeen{{Server: "api", Method: "POST", Path: "/v1/items", Authorization: tt.want, ContentLength: 11, Body: "name=widget"}}
			if diff := cmp.Diff(want, log.all()); diff != "" {
				t.Errorf("the resource server saw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTransportRefreshesAndReplaysOnceAfter401(t *testing.T) {
	ok := trReply{Status: http.StatusOK}
	tests := []struct {
		name          string
		old, fresh    trReply // the resource's answers to the old token and to any other
		wantStatus    int
		wantBody      string
		wantRefreshes int32
		wantAuthz     []string // the Authorization of each request the resource saw
	}{
		{
			name:       "an invalid_token challenge gets one refresh and one replay with the new token",
			old:        trReply{Status: 401, Challenges: []string{trInvalidToken}},
			fresh:      ok,
			wantStatus: 200, wantBody: "reply to Bearer at-1", wantRefreshes: 1, wantAuthz: []string{"Bearer old", "Bearer at-1"},
		},
		{
			name:       "a resource that always answers 401 gets one refresh and one replay, then its 401 is returned",
			old:        trReply{Status: 401, Challenges: []string{trInvalidToken}},
			fresh:      trReply{Status: 401, Challenges: []string{trInvalidToken}},
			wantStatus: 401, wantBody: "reply to Bearer at-1", wantRefreshes: 1, wantAuthz: []string{"Bearer old", "Bearer at-1"},
		},
		{
			name:       "a bare 401 without WWW-Authenticate gets a refresh and a replay",
			old:        trReply{Status: 401},
			fresh:      ok,
			wantStatus: 200, wantBody: "reply to Bearer at-1", wantRefreshes: 1, wantAuthz: []string{"Bearer old", "Bearer at-1"},
		},
		{
			name:       "a Bearer challenge that names no error gets a refresh and a replay",
			old:        trReply{Status: 401, Challenges: []string{`Bearer realm="api"`}},
			fresh:      ok,
			wantStatus: 200, wantBody: "reply to Bearer at-1", wantRefreshes: 1, wantAuthz: []string{"Bearer old", "Bearer at-1"},
		},
		{
			name:       "a lower-case bearer challenge naming invalid_token gets a refresh and a replay",
			old:        trReply{Status: 401, Challenges: []string{`bearer realm="api", error="invalid_token"`}},
			fresh:      ok,
			wantStatus: 200, wantBody: "reply to Bearer at-1", wantRefreshes: 1, wantAuthz: []string{"Bearer old", "Bearer at-1"},
		},
		{
			name:       "invalid_token in the second of two challenge headers gets a refresh and a replay",
			old:        trReply{Status: 401, Challenges: []string{`Basic realm="api"`, trInvalidToken}},
			fresh:      ok,
			wantStatus: 200, wantBody: "reply to Bearer at-1", wantRefreshes: 1, wantAuthz: []string{"Bearer old", "Bearer at-1"},
		},
		{
			name:       "an insufficient_scope challenge gets no refresh and its 401 is returned",
			old:        trReply{Status: 401, Challenges: []string{`Bearer error="insufficient_scope", scope="admin"`}},
			fresh:      ok,
			wantStatus: 401, wantBody: "reply to Bearer old", wantRefreshes: 0, wantAuthz: []string{"Bearer old"},
		},
		{
			name:       "a Basic challenge gets no refresh and its 401 is returned",
			old:        trReply{Status: 401, Challenges: []string{`Basic realm="api"`}},
			fresh:      ok,
			wantStatus: 401, wantBody: "reply to Bearer old", wantRefreshes: 0, wantAuthz: []string{"Bearer old"},
		},
		{
			name:       "a 403 naming invalid_token gets no refresh",
			old:        trReply{Status: 403, Challenges: []string{trInvalidToken}},
			fresh:      ok,
			wantStatus: 403, wantBody: "reply to Bearer old", wantRefreshes: 0, wantAuthz: []string{"Bearer old"},
		},
		{
			name:       "a bare 403 gets no refresh",
			old:        trReply{Status: 403},
			fresh:      ok,
			wantStatus: 403, wantBody: "reply to Bearer old", wantRefreshes: 0, wantAuthz: []string{"Bearer old"},
		},
		{
			name:       "a 500 gets no refresh",
			old:        trReply{Status: 500},
			fresh:      ok,
			wantStatus: 500, wantBody: "reply to Bearer old", wantRefreshes: 0, wantAuthz: []string{"Bearer old"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &trEndpoint{}
			srv, log := trAPI(t, tt.old, tt.fresh)
			tr := &Transport{Source: trSource(t, e, trOldTokens()), Base: trBase(t)}
			const body = "order=42&qty=3"
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/orders", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}

			resp, got, err := trRoundTrip(t, tr, req)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			if resp.StatusCode != tt.wantStatus || got != tt.wantBody {
				t.Errorf("response = %d %q, want %d %q", resp.StatusCode, got, tt.wantStatus, tt.wantBody)
			}
			if n := e.hits.Load(); n != tt.wantRefreshes {
				t.Errorf("token requests = %d, want %d", n, tt.wantRefreshes)
			}
			if diff := cmp.Diff(tt.wantAuthz, log.trAuthorizations()); diff != "" {
				t.Errorf("Authorization of the requests the resource saw (-want +got):\n%s", diff)
			}
			for i, s := range log.all() {
				if s.Body != body {
					t.Errorf("request %d had body %q, want %q", i, s.Body, body)
				}
			}
		})
	}
}

func TestTransportReplaysTheSameBody(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   func() io.Reader // the body given to http.NewRequest
		want   string
	}{
		{name: "a strings.Reader POST body", method: "POST", body: func() io.Reader { return strings.NewReader("a=1&b=2") }, want: "a=1&b=2"},
		{name: "a bytes.Reader PUT body with binary bytes", method: "PUT", body: func() io.Reader { return bytes.NewReader([]byte{0, 1, 2, 0xff, '\n'}) }, want: "\x00\x01\x02\xff\n"},
		{name: "a bytes.Buffer PATCH body", method: "PATCH", body: func() io.Reader { return bytes.NewBufferString(`{"op":"replace"}`) }, want: `{"op":"replace"}`},
		{name: "a 64 KiB body", method: "POST", body: func() io.Reader { return strings.NewReader(strings.Repeat("0123456789abcdef", 4<<10)) }, want: strings.Repeat("0123456789abcdef", 4<<10)},
		{name: "an empty strings.Reader body", method: "POST", body: func() io.Reader { return strings.NewReader("") }, want: ""},
		{name: "a GET without a body", method: "GET", body: func() io.Reader { return nil }, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &trEndpoint{}
			srv, log := trAPI(t, trReply{Status: 401, Challenges: []string{trInvalidToken}}, trReply{Status: 200})
			tr := &Transport{Source: trSource(t, e, trOldTokens()), Base: trBase(t)}
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+"/v1/things", tt.body())
			if err != nil {
				t.Fatal(err)
			}

			resp, _, err := trRoundTrip(t, tr, req)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			if resp.StatusCode != 200 {
				t.Errorf("status = %d, want 200", resp.StatusCode)
			}
			first := trSeen{Server: "api", Method: tt.method, Path: "/v1/things", Authorization: "Bearer old", ContentLength: int64(len(tt.want)), Body: tt.want}
			replay := first
			replay.Authorization = "Bearer at-1"
			if diff := cmp.Diff([]trSeen{first, replay}, log.all()); diff != "" {
				t.Errorf("the resource server saw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTransportReturnsThe401WhenItCannotReplay(t *testing.T) {
	tests := []struct {
		name      string
		endpoint  *trEndpoint
		getBody   func() (io.ReadCloser, error) // replaces the request's GetBody when set
		wantAuthz []string
	}{
		{
			name:      "the refresh fails: the first 401 is returned, its body intact",
			endpoint:  &trEndpoint{Fail: true},
			wantAuthz: []string{"Bearer old"},
		},
		{
			name:      "the token endpoint issues the same access token again: no replay",
			endpoint:  &trEndpoint{AccessToken: "old"},
			wantAuthz: []string{"Bearer old"},
		},
		{
			name:      "GetBody fails: no replay",
			endpoint:  &trEndpoint{},
			getBody:   func() (io.ReadCloser, error) { return nil, errors.New("trGetBody: the body is gone") },
			wantAuthz: []string{"Bearer old"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, log := trAPI(t, trReply{Status: 401, Challenges: []string{trInvalidToken}}, trReply{Status: 200})
			tr := &Transport{Source: trSource(t, tt.endpoint, trOldTokens()), Base: trBase(t)}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/orders", strings.NewReader("order=42"))
			if err != nil {
				t.Fatal(err)
			}
			if tt.getBody != nil {
				req.GetBody = tt.getBody
			}

			resp, got, err := trRoundTrip(t, tr, req)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			if resp.StatusCode != 401 || got != "reply to Bearer old" {
				t.Errorf("response = %d %q, want 401 %q", resp.StatusCode, got, "reply to Bearer old")
			}
			if n := tt.endpoint.hits.Load(); n != 1 {
				t.Errorf("token requests = %d, want 1", n)
			}
			if diff := cmp.Diff(tt.wantAuthz, log.trAuthorizations()); diff != "" {
				t.Errorf("Authorization of the requests the resource saw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTransportDoesNotReplayABodyWithoutGetBody(t *testing.T) {
	e := &trEndpoint{}
	src := trSource(t, e, trOldTokens())
	srv, log := trAPI(t, trReply{Status: 401, Challenges: []string{trInvalidToken}}, trReply{Status: 200})
	tr := &Transport{Source: src, Base: trBase(t)}
	req, bodies := trBodyRequest(t, t.Context(), srv.URL+"/upload", "streamed bytes", false)

	resp, got, err := trRoundTrip(t, tr, req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if resp.StatusCode != 401 || got != "reply to Bearer old" {
		t.Errorf("response = %d %q, want 401 %q", resp.StatusCode, got, "reply to Bearer old")
	}
	if n := bodies.closes.Load(); n != 1 {
		t.Errorf("the body was closed %d times, want 1", n)
	}
	want := []trSeen{{Server: "api", Method: "POST", Path: "/upload", Authorization: "Bearer old", ContentLength: 14, Body: "streamed bytes"}}
	if diff := cmp.Diff(want, log.all()); diff != "" {
		t.Errorf("the resource server saw (-want +got):\n%s", diff)
	}

	// The token is invalidated all the same, without a token request yet: the
	// next request refreshes first and goes out with the new token only.
	if n := e.hits.Load(); n != 0 {
		t.Errorf("token requests after the 401 = %d, want 0", n)
	}
	get, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/upload", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err = trRoundTrip(t, tr, get)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("next request = %v, %v; want 200", resp, err)
	}
	if diff := cmp.Diff([]string{"Bearer old", "Bearer at-1"}, log.trAuthorizations()); diff != "" {
		t.Errorf("Authorization of the requests the resource saw (-want +got):\n%s", diff)
	}
	if n := e.hits.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

func TestTransportReplaysWithATokenAnotherCallerRefreshed(t *testing.T) {
	e := &trEndpoint{}
	src := trSource(t, e, trOldTokens())
	var once sync.Once
	log := new(trLog)
	srv := trServer(t, "api", log, func(w http.ResponseWriter, r *http.Request, s trSeen) {
		if s.Authorization == "Bearer old" {
			// Before this 401 reaches the Transport, another caller has the old
			// token rejected and refreshed: at-1 is cached.
			once.Do(func() {
				src.Invalidate(&Tokens{AccessToken: "old"})
				if tok, err := src.Token(r.Context()); err != nil || tok.AccessToken != "at-1" {
					t.Errorf("the other caller's Token = %v, %v; want at-1", tok, err)
				}
			})
			w.Header().Set("WWW-Authenticate", trInvalidToken)
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(200)
	})
	tr := &Transport{Source: src, Base: trBase(t)}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/orders", strings.NewReader("order=42"))
	if err != nil {
		t.Fatal(err)
	}

	resp, _, err := trRoundTrip(t, tr, req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("RoundTrip = %v, %v; want 200", resp, err)
	}
	if n := e.hits.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1 (the other caller's)", n)
	}
	if diff := cmp.Diff([]string{"Bearer old", "Bearer at-1"}, log.trAuthorizations()); diff != "" {
		t.Errorf("Authorization of the requests the resource saw (-want +got):\n%s", diff)
	}
}

func TestTransportManyRequestsRejectedTogetherCauseOneRefresh(t *testing.T) {
	const n = 50
	e := &trEndpoint{}
	var rejected atomic.Int32
	allSent := make(chan struct{})
	log := new(trLog)
	srv := trServer(t, "api", log, func(w http.ResponseWriter, r *http.Request, s trSeen) {
		if s.Authorization == "Bearer old" {
			// Hold every 401 until all n requests went out with the old token.
			if rejected.Add(1) == n {
				close(allSent)
			}
			<-allSent
			w.Header().Set("WWW-Authenticate", trInvalidToken)
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(200)
	})
	hc := &http.Client{Transport: &Transport{Source: trSource(t, e, trOldTokens()), Base: trBase(t)}}

	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := hc.Post(srv.URL+"/v1/orders", "text/plain", strings.NewReader(fmt.Sprint("order=", i)))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()

	for i, s := range statuses {
		if s != 200 {
			t.Errorf("request %d: status %d, want 200", i, s)
		}
	}
	if got := e.hits.Load(); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
	count := map[string]int{}
	for _, a := range log.trAuthorizations() {
		count[a]++
	}
	if diff := cmp.Diff(map[string]int{"Bearer old": n, "Bearer at-1": n}, count); diff != "" {
		t.Errorf("requests per Authorization (-want +got):\n%s", diff)
	}
}

func TestTransportOneTokenRequestForManyRequestsAtExpiry(t *testing.T) {
	const n = 200
	e := &trEndpoint{}
	expired := &Tokens{AccessToken: "old", TokenType: "Bearer", RefreshToken: "rt-0", IssuedAt: trT0.Add(-time.Hour), ExpiresAt: trT0}
	srv, log := trAPI(t, trReply{Status: 401, Challenges: []string{trInvalidToken}}, trReply{Status: 200})
	hc := &http.Client{Transport: &Transport{Source: trSource(t, e, expired), Base: trBase(t)}}

	start := make(chan struct{})
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := hc.Get(srv.URL + "/v1/items")
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()

	for i, s := range statuses {
		if s != 200 {
			t.Errorf("request %d: status %d, want 200", i, s)
		}
	}
	if got := e.hits.Load(); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
	for i, a := range log.trAuthorizations() {
		if a != "Bearer at-1" {
			t.Errorf("resource request %d had Authorization %q, want %q", i, a, "Bearer at-1")
		}
	}
}

func TestTransportSendsNoTokenOnARedirectToAnotherHost(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   []trSeen
	}{
		{
			name: "a 302 to the same host keeps the token", method: "GET", path: "/same-302",
			want: []trSeen{
				{Server: "A", Method: "GET", Path: "/same-302", Authorization: "Bearer old"},
				{Server: "A", Method: "GET", Path: "/final", Authorization: "Bearer old"},
			},
		},
		{
			name: "a 302 to another host gets no token", method: "GET", path: "/cross-302",
			want: []trSeen{
				{Server: "A", Method: "GET", Path: "/cross-302", Authorization: "Bearer old"},
				{Server: "B", Method: "GET", Path: "/final"},
			},
		},
		{
			name: "a 307 POST to another host gets its body but no token", method: "POST", path: "/cross-307", body: "secret=no",
			want: []trSeen{
				{Server: "A", Method: "POST", Path: "/cross-307", Authorization: "Bearer old", ContentLength: 9, Body: "secret=no"},
				{Server: "B", Method: "POST", Path: "/final", ContentLength: 9, Body: "secret=no"},
			},
		},
		{
			name: "a chain that leaves the host gets the token again only back at the original host", method: "GET", path: "/cross-then-back",
			want: []trSeen{
				{Server: "A", Method: "GET", Path: "/cross-then-back", Authorization: "Bearer old"},
				{Server: "B", Method: "GET", Path: "/back"},
				{Server: "A", Method: "GET", Path: "/final", Authorization: "Bearer old"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := new(trLog)
			var aURL atomic.Pointer[string] // set once A runs, before any request
			b := trServer(t, "B", log, func(w http.ResponseWriter, r *http.Request, _ trSeen) {
				if r.URL.Path == "/back" {
					http.Redirect(w, r, *aURL.Load()+"/final", http.StatusFound)
					return
				}
				io.WriteString(w, "done")
			})
			a := trServer(t, "A", log, func(w http.ResponseWriter, r *http.Request, _ trSeen) {
				switch r.URL.Path {
				case "/same-302":
					http.Redirect(w, r, "/final", http.StatusFound)
				case "/cross-302", "/cross-then-back":
					to := map[string]string{"/cross-302": "/final", "/cross-then-back": "/back"}[r.URL.Path]
					http.Redirect(w, r, b.URL+to, http.StatusFound)
				case "/cross-307":
					http.Redirect(w, r, b.URL+"/final", http.StatusTemporaryRedirect)
				default:
					io.WriteString(w, "done")
				}
			})
			aURL.Store(&a.URL)

			e := &trEndpoint{}
			hc := &http.Client{Transport: &Transport{Source: trSource(t, e, trOldTokens()), Base: trBase(t)}}
			req, err := http.NewRequestWithContext(t.Context(), tt.method, a.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != "done" {
				t.Errorf("response = %d %q, want 200 %q", resp.StatusCode, got, "done")
			}
			if diff := cmp.Diff(tt.want, log.all()); diff != "" {
				t.Errorf("the servers saw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTransportRedirectOriginThroughTheBaseTransport(t *testing.T) {
	tests := []struct {
		name       string
		start      string
		location   string
		setRequest bool // the base transport sets resp.Request, as http.Transport does
		want       []string
	}{
		{
			name: "an https redirect on the same host keeps the token", start: "https://api.example/start", location: "https://api.example/final", setRequest: true,
			want: []string{"https://api.example/start Bearer old", "https://api.example/final Bearer old"},
		},
		{
			name: "a redirect from https down to http on the same host gets no token", start: "https://api.example/start", location: "http://api.example/final", setRequest: true,
			want: []string{"https://api.example/start Bearer old", "http://api.example/final "},
		},
		{
			name: "a redirect to another port of the same host gets no token", start: "https://api.example/start", location: "https://api.example:8443/final", setRequest: true,
			want: []string{"https://api.example/start Bearer old", "https://api.example:8443/final "},
		},
		{
			name: "a redirect to a host that differs only in case keeps the token", start: "https://api.example/start", location: "https://API.Example/final", setRequest: true,
			want: []string{"https://api.example/start Bearer old", "https://API.Example/final Bearer old"},
		},
		{
			name: "a same-host redirect through a base that leaves resp.Request nil gets no token", start: "https://api.example/start", location: "https://api.example/final", setRequest: false,
			want: []string{"https://api.example/start Bearer old", "https://api.example/final "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			base := trRoundTripFunc(func(r *http.Request) (*http.Response, error) {
				mu.Lock()
				seen = append(seen, r.URL.String()+" "+r.Header.Get("Authorization"))
				mu.Unlock()
				resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}
				if r.URL.Path == "/start" {
					resp.StatusCode = http.StatusFound
					resp.Header.Set("Location", tt.location)
				}
				if tt.setRequest {
					resp.Request = r
				}
				return resp, nil
			})
			e := &trEndpoint{}
			hc := &http.Client{Transport: &Transport{Source: trSource(t, e, trOldTokens()), Base: base}}
			resp, err := hc.Get(tt.start)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("status = %d, want 200", resp.StatusCode)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(tt.want, seen); diff != "" {
				t.Errorf("the base transport saw (-want +got):\n%s", diff)
			}
		})
	}
}

var errTrBase = errors.New("trBase: connection reset")

func TestTransportRoundTripContract(t *testing.T) {
	type trCase struct {
		tr     *Transport
		req    *http.Request
		bodies *trBodies
		check  func(t *testing.T) // further checks after RoundTrip, or nil
	}
	rejectOld := trReply{Status: 401, Challenges: []string{trInvalidToken}}
	ok := trReply{Status: 200}
	tests := []struct {
		name       string
		build      func(t *testing.T) trCase
		wantStatus int              // 0: want an error
		wantErr    func(error) bool // with wantStatus 0
		wantGets   int32            // GetBody calls
	}{
		{
			name: "a 200: the body is closed once",
			build: func(t *testing.T) trCase {
				srv, _ := trAPI(t, ok, ok)
				req, b := trBodyRequest(t, t.Context(), srv.URL, "payload", true)
				return trCase{tr: &Transport{Source: trSource(t, &trEndpoint{}, trOldTokens()), Base: trBase(t)}, req: req, bodies: b}
			},
			wantStatus: 200,
		},
		{
			name: "a 401 replayed: the body and its GetBody copy are each closed once",
			build: func(t *testing.T) trCase {
				srv, _ := trAPI(t, rejectOld, ok)
				req, b := trBodyRequest(t, t.Context(), srv.URL, "payload", true)
				return trCase{tr: &Transport{Source: trSource(t, &trEndpoint{}, trOldTokens()), Base: trBase(t)}, req: req, bodies: b}
			},
			wantStatus: 200, wantGets: 1,
		},
		{
			name: "a 401 with a body that cannot be replayed: the 401 and the body closed once",
			build: func(t *testing.T) trCase {
				srv, _ := trAPI(t, rejectOld, ok)
				req, b := trBodyRequest(t, t.Context(), srv.URL, "payload", false)
				return trCase{tr: &Transport{Source: trSource(t, &trEndpoint{}, trOldTokens()), Base: trBase(t)}, req: req, bodies: b}
			},
			wantStatus: 401,
		},
		{
			name: "a 401 after which the refresh fails: the 401 and the body closed once",
			build: func(t *testing.T) trCase {
				srv, _ := trAPI(t, rejectOld, ok)
				req, b := trBodyRequest(t, t.Context(), srv.URL, "payload", true)
				return trCase{tr: &Transport{Source: trSource(t, &trEndpoint{Fail: true}, trOldTokens()), Base: trBase(t)}, req: req, bodies: b}
			},
			wantStatus: 401,
		},
		{
			name: "a 401 whose GetBody fails: the 401 and the body closed once",
			build: func(t *testing.T) trCase {
				srv, _ := trAPI(t, rejectOld, ok)
				req, b := trBodyRequest(t, t.Context(), srv.URL, "payload", true)
				req.GetBody = func() (io.ReadCloser, error) {
					b.gets.Add(1)
					return nil, errors.New("trGetBody: the body is gone")
				}
				return trCase{tr: &Transport{Source: trSource(t, &trEndpoint{}, trOldTokens()), Base: trBase(t)}, req: req, bodies: b}
			},
			wantStatus: 401, wantGets: 1,
		},
		{
			name: "a Source that cannot get a token: its error, nothing sent, the body closed once",
			build: func(t *testing.T) trCase {
				srv, log := trAPI(t, ok, ok)
				req, b := trBodyRequest(t, t.Context(), srv.URL, "payload", true)
				src := trSource(t, &trEndpoint{Fail: true}, &Tokens{RefreshToken: "rt-0"})
				check := func(t *testing.T) {
					if got := log.all(); len(got) != 0 {
						t.Errorf("the resource server saw %v, want nothing", got)
					}
				}
				return trCase{tr: &Transport{Source: src, Base: trBase(t)}, req: req, bodies: b, check: check}
			},
			wantErr: func(err error) bool { return errors.Is(err, ErrInvalidGrant) },
		},
		{
			name: "a nil Source: a ConfigError and the body closed once",
			build: func(t *testing.T) trCase {
				req, b := trBodyRequest(t, t.Context(), "http://127.0.0.1:1/never", "payload", true)
				return trCase{tr: &Transport{}, req: req, bodies: b}
			},
			wantErr: func(err error) bool {
				var ce *ConfigError
				return errors.As(err, &ce) && ce.Field == "Transport.Source"
			},
		},
		{
			name: "a base transport that cannot connect: its error and the body closed once",
			build: func(t *testing.T) trCase {
				srv, _ := trAPI(t, ok, ok)
				srv.Close() // nothing listens there any more
				req, b := trBodyRequest(t, t.Context(), srv.URL, "payload", true)
				return trCase{tr: &Transport{Source: trSource(t, &trEndpoint{}, trOldTokens()), Base: trBase(t)}, req: req, bodies: b}
			},
			wantErr: func(err error) bool { return err != nil },
		},
		{
			name: "a replay that fails in the base transport: its error, the 401's body and both request bodies closed once",
			build: func(t *testing.T) trCase {
				var calls, respCloses atomic.Int32
				base := trRoundTripFunc(func(r *http.Request) (*http.Response, error) {
					if r.Body != nil { // as the RoundTripper contract asks
						io.Copy(io.Discard, r.Body)
						r.Body.Close()
					}
					if calls.Add(1) > 1 {
						return nil, errTrBase
					}
					return &http.Response{
						StatusCode: 401,
						Header:     http.Header{"Www-Authenticate": {trInvalidToken}},
						Body:       &trCountingBody{Reader: strings.NewReader("token expired"), closes: &respCloses},
						Request:    r,
					}, nil
				})
				req, b := trBodyRequest(t, t.Context(), "https://api.example/v1/orders", "payload", true)
				check := func(t *testing.T) {
					if n := calls.Load(); n != 2 {
						t.Errorf("base round trips = %d, want 2", n)
					}
					if n := respCloses.Load(); n != 1 {
						t.Errorf("the 401's body was closed %d times, want 1", n)
					}
				}
				return trCase{tr: &Transport{Source: trSource(t, &trEndpoint{}, trOldTokens()), Base: base}, req: req, bodies: b, check: check}
			},
			wantErr:  func(err error) bool { return errors.Is(err, errTrBase) },
			wantGets: 1,
		},
		{
			name: "a redirect hop to another host: sent as it is, without asking the Source",
			build: func(t *testing.T) trCase {
				srv, log := trAPI(t, ok, ok)
				first, err := http.NewRequest(http.MethodPost, "https://origin.example/start", nil)
				if err != nil {
					t.Fatal(err)
				}
				req, b := trBodyRequest(t, t.Context(), srv.URL+"/hop", "payload", true)
				req.Response = &http.Response{StatusCode: http.StatusTemporaryRedirect, Request: first}
				e := &trEndpoint{Fail: true}
				src := trSource(t, e, &Tokens{RefreshToken: "rt-0"}) // asking it would fail
				check := func(t *testing.T) {
					if n := e.hits.Load(); n != 0 {
						t.Errorf("token requests = %d, want 0", n)
					}
					if diff := cmp.Diff([]string{""}, log.trAuthorizations()); diff != "" {
						t.Errorf("Authorization the resource saw (-want +got):\n%s", diff)
					}
				}
				return trCase{tr: &Transport{Source: src, Base: trBase(t)}, req: req, bodies: b, check: check}
			},
			wantStatus: 200,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.build(t)
			resp, _, err := trRoundTrip(t, c.tr, c.req)
			switch {
			case tt.wantStatus == 0 && !tt.wantErr(err):
				t.Errorf("RoundTrip = %v, %v; want another error", resp, err)
			case tt.wantStatus != 0 && (err != nil || resp.StatusCode != tt.wantStatus):
				t.Errorf("RoundTrip = %v, %v; want status %d", resp, err, tt.wantStatus)
			}
			if n := c.bodies.closes.Load(); n != 1 {
				t.Errorf("the request body was closed %d times, want 1", n)
			}
			if n := c.bodies.gets.Load(); n != tt.wantGets {
				t.Errorf("GetBody was called %d times, want %d", n, tt.wantGets)
			}
			if n, copies := c.bodies.copyCloses.Load(), c.bodies.copies.Load(); n != copies {
				t.Errorf("GetBody's %d copies were closed %d times, want once each", copies, n)
			}
			if c.check != nil {
				c.check(t)
			}
		})
	}
}

// trTokenStub is an in-memory token endpoint for a Client, for tests inside a
// synctest bubble: it issues at-1, at-2, ... once gate is closed.
type trTokenStub struct {
	gate chan struct{}
	hits atomic.Int32
	// ctxValue is the trCtxKey value of the context the first token request was
	// made with.
	ctxValue atomic.Value
}

type trCtxKey struct{}

func (s *trTokenStub) client() *Client {
	rt := trRoundTripFunc(func(r *http.Request) (*http.Response, error) {
		n := s.hits.Add(1)
		if n == 1 {
			s.ctxValue.Store(fmt.Sprint(r.Context().Value(trCtxKey{})))
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		<-s.gate
		if err := r.Context().Err(); err != nil {
			return nil, err // the refresh was cancelled
		}
		body := fmt.Sprintf(`{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, n)
		return &http.Response{
			StatusCode:    200,
			Header:        http.Header{"Content-Type": {"application/json"}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)),
			Request:       r,
		}, nil
	})
	return &Client{TokenURL: "https://auth.example/token", HTTPClient: &http.Client{Transport: rt}}
}

// trStubAPI is an in-memory resource server: 401 invalid_token for "Bearer old"
// and for no token at all, 200 for any other token. It records the
// Authorization of each request.
func trStubAPI(mu *sync.Mutex, seen *[]string) http.RoundTripper {
	return trRoundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		a := r.Header.Get("Authorization")
		mu.Lock()
		*seen = append(*seen, a)
		mu.Unlock()
		resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("reply to " + a)), Request: r}
		if a == "Bearer old" || a == "" {
			resp.StatusCode = 401
			resp.Header.Set("WWW-Authenticate", trInvalidToken)
		}
		return resp, nil
	})
}

type trResult struct {
	resp *http.Response
	err  error
}

func TestTransportCancelledRequestDoesNotCancelTheRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stub := &trTokenStub{gate: make(chan struct{})}
		var mu sync.Mutex
		var seen []string
		tr := &Transport{Source: NewSource(stub.client(), &Tokens{RefreshToken: "rt-0"}), Base: trStubAPI(&mu, &seen)}

		// The first request waits for the refresh it started, then is cancelled.
		ctx, cancel := context.WithCancel(context.WithValue(t.Context(), trCtxKey{}, "first request"))
		defer cancel()
		req, bodies := trBodyRequest(t, ctx, "https://api.example/v1/orders", "payload", true)
		cancelled := make(chan trResult, 1)
		go func() {
			resp, err := tr.RoundTrip(req)
			cancelled <- trResult{resp, err}
		}()
		synctest.Wait()
		if n := stub.hits.Load(); n != 1 {
			t.Fatalf("token requests = %d, want 1", n)
		}
		if got := stub.ctxValue.Load(); got != "<nil>" {
			t.Errorf("the token request's context has value %v of the request that started it, want none", got)
		}

		// A second request waits for the same refresh.
		other := make(chan trResult, 1)
		go func() {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://api.example/v1/items", nil)
			if err != nil {
				other <- trResult{nil, err}
				return
			}
			resp, err := tr.RoundTrip(req)
			other <- trResult{resp, err}
		}()
		synctest.Wait()

		cancel()
		synctest.Wait()
		select {
		case r := <-cancelled:
			if r.resp != nil || !errors.Is(r.err, context.Canceled) {
				t.Errorf("cancelled RoundTrip = %v, %v; want no response and an error wrapping context.Canceled", r.resp, r.err)
			}
			if n := bodies.closes.Load(); n != 1 {
				t.Errorf("the cancelled request's body was closed %d times, want 1", n)
			}
		default:
			t.Fatal("RoundTrip still blocked after its request's context was cancelled")
		}
		select {
		case r := <-other:
			t.Fatalf("the other request returned before the refresh: %v, %v", r.resp, r.err)
		default:
		}

		close(stub.gate)
		synctest.Wait()
		r := <-other
		if r.err != nil || r.resp.StatusCode != 200 {
			t.Fatalf("the other request = %v, %v; want 200", r.resp, r.err)
		}
		r.resp.Body.Close()
		if n := stub.hits.Load(); n != 1 {
			t.Errorf("token requests = %d, want 1", n)
		}
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff([]string{"Bearer at-1"}, seen); diff != "" {
			t.Errorf("Authorization of the requests the resource saw (-want +got):\n%s", diff)
		}
	})
}

// A Store save retry that is in flight when a 401 comes back republishes the
// token it started with, and so undoes Invalidate: the Transport then sees the
// same token, returns the 401 and makes no refresh, and later requests go out
// with the rejected token again.
func TestTransportRecoversFromA401WhileASaveRetryIsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stub := &trTokenStub{gate: make(chan struct{})}
		close(stub.gate)
		saveGate := make(chan struct{})
		var saves atomic.Int32
		store := StoreFunc(func(ctx context.Context, _ *Tokens) error {
			switch saves.Add(1) {
			case 1:
				return errors.New("trStore: disk full")
			case 2:
				<-saveGate // the retry, held until the 401 is back
			}
			return nil
		})
		src := NewSource(stub.client(), nil, WithStore(store))
		var se *StoreError
		if err := src.SetTokens(t.Context(), trOldTokens()); !errors.As(err, &se) {
			t.Fatalf("SetTokens = %v, want a *StoreError", err)
		}
		var mu sync.Mutex
		var seen []string
		tr := &Transport{Source: src, Base: trStubAPI(&mu, &seen)}

		done := make(chan trResult, 1)
		go func() {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://api.example/v1/items", nil)
			if err != nil {
				done <- trResult{nil, err}
				return
			}
			resp, err := tr.RoundTrip(req)
			done <- trResult{resp, err}
		}()
		synctest.Wait() // the 401 is back; the save retry is held
		close(saveGate)
		synctest.Wait()
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		r.resp.Body.Close()
		if r.resp.StatusCode != 200 {
			t.Errorf("status = %d, want 200 after a refresh and a replay", r.resp.StatusCode)
		}
		if n := stub.hits.Load(); n != 1 {
			t.Errorf("token requests = %d, want 1", n)
		}
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff([]string{"Bearer old", "Bearer at-1"}, seen); diff != "" {
			t.Errorf("Authorization of the requests the resource saw (-want +got):\n%s", diff)
		}
	})
}

// RFC 7235 §4.1 lets one WWW-Authenticate line hold several challenges. A Bearer
// challenge naming no error counts (see the table above) wherever it stands.
func TestTransportFindsABearerChallengeInAChallengeList(t *testing.T) {
	e := &trEndpoint{}
	srv, log := trAPI(t, trReply{Status: 401, Challenges: []string{`Basic realm="api", Bearer realm="api"`}}, trReply{Status: 200})
	tr := &Transport{Source: trSource(t, e, trOldTokens()), Base: trBase(t)}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v1/items", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := trRoundTrip(t, tr, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || e.hits.Load() != 1 {
		t.Errorf("status %d after %d token requests, want 200 after 1", resp.StatusCode, e.hits.Load())
	}
	if diff := cmp.Diff([]string{"Bearer old", "Bearer at-1"}, log.trAuthorizations()); diff != "" {
		t.Errorf("Authorization of the requests the resource saw (-want +got):\n%s", diff)
	}
}

func TestTransportWithNilBaseUsesTheDefaultTransport(t *testing.T) {
	e := &trEndpoint{}
	srv, log := trAPI(t, trReply{Status: 401, Challenges: []string{trInvalidToken}}, trReply{Status: 200})
	hc := &http.Client{Transport: &Transport{Source: trSource(t, e, trOldTokens())}}
	resp, err := hc.Post(srv.URL+"/v1/orders", "text/plain", strings.NewReader("order=42"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "reply to Bearer at-1" {
		t.Errorf("response = %d %q, want 200 %q", resp.StatusCode, body, "reply to Bearer at-1")
	}
	if diff := cmp.Diff([]string{"Bearer old", "Bearer at-1"}, log.trAuthorizations()); diff != "" {
		t.Errorf("Authorization of the requests the resource saw (-want +got):\n%s", diff)
	}
}

// BenchmarkTransportHotPath measures RoundTrip with a valid cached token, over a
// base transport that answers at once: the Transport's own cost per request.
func BenchmarkTransportHotPath(b *testing.B) {
	src := NewSource(&Client{TokenURL: "https://auth.example/token"}, &Tokens{
		AccessToken:  "gho_16C7e42F292c6912E7710c838347Ae178B4a",
		TokenType:    "bearer",
		RefreshToken: "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498",
		ExpiresAt:    time.Now().Add(100 * 365 * 24 * time.Hour),
	})
	canned := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: http.NoBody}
	tr := &Transport{Source: src, Base: trRoundTripFunc(func(*http.Request) (*http.Response, error) { return canned, nil })}
	req, err := http.NewRequest(http.MethodGet, "https://api.example/v1/items?page=2", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "bench")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := tr.RoundTrip(req)
			if err != nil || resp != canned {
				b.Errorf("RoundTrip = %v, %v", resp, err)
				return
			}
		}
	})
}

func TestTransportRefusesDPoPTokens(t *testing.T) {
	e := &trEndpoint{TokenType: "DPoP"}
	src := trSource(t, e, &Tokens{RefreshToken: "rt-0"})
	srv, log := trAPI(t, trReply{Status: http.StatusOK}, trReply{Status: http.StatusOK})
	tr := &Transport{Source: src, Base: trBase(t)}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v1/items", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if resp != nil {
		resp.Body.Close()
		t.Errorf("RoundTrip returned a response for a DPoP token")
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "TokenType" {
		t.Errorf("RoundTrip error = %v, want a *ConfigError for TokenType", err)
	}
	if got := log.all(); len(got) != 0 {
		t.Errorf("the resource server saw %d requests, want none: a DPoP token without a proof must not be sent", len(got))
	}
}
