package refresh

// Tests of Transport (transport.go). Every top-level name here starts with "tr"
// or "TestTransport", so that it cannot clash with other test files' helpers.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// trOldTokens are stored tokens whose access token "old" is valid for an hour,
// so that a Source starting from them makes no request until told to.
func trOldTokens() *Tokens {
	return &Tokens{AccessToken: "old", TokenType: "Bearer", RefreshToken: "rt-0", ExpiresAt: time.Now().Add(time.Hour), IssuedAt: time.Now()}
}

const trInvalidToken = `Bearer error="invalid_token", error_description="The access token expired"`

// trEndpoint is an in-memory token endpoint. It issues at-1, at-2, ... valid
// for an hour, and counts its requests.
type trEndpoint struct {
	TokenType   string        // token_type sent; "" means "Bearer"
	AccessToken string        // the access token issued every time; "" means at-<n>
	Fail        bool          // answer every request with 400 invalid_grant
	gate        chan struct{} // if set, each answer waits until it is closed

	hits atomic.Int32
}

// source returns a Source over e, starting from initial.
func (e *trEndpoint) source(initial *Tokens) *Source { return NewSource(e.client(), initial) }

// client returns a Client for e.
func (e *trEndpoint) client() *Client {
	rt := trRoundTripFunc(func(r *http.Request) (*http.Response, error) {
		n := e.hits.Add(1)
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if e.gate != nil {
			<-e.gate
		}
		if err := r.Context().Err(); err != nil {
			return nil, err // the refresh was cancelled
		}
		tokenType, accessToken := e.TokenType, e.AccessToken
		if tokenType == "" {
			tokenType = "Bearer"
		}
		if accessToken == "" {
			accessToken = fmt.Sprintf("at-%d", n)
		}
		status, body := 200, fmt.Sprintf(`{"access_token":%q,"token_type":%q,"expires_in":3600,"refresh_token":"rt-%d"}`, accessToken, tokenType, n)
		if e.Fail {
			status, body = 400, `{"error":"invalid_grant","error_description":"refresh token revoked"}`
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})
	return &Client{TokenURL: "https://auth.example/token", HTTPClient: &http.Client{Transport: rt}}
}

// trSeen is one request as a test resource server saw it.
type trSeen struct {
	Method        string
	Path          string
	Authorization string // the Authorization values, joined with " | "
	ContentLength int64
	Body          string
}

// trLog records the requests of a test resource server, in order.
type trLog struct {
	mu   sync.Mutex
	seen []trSeen
}

func (l *trLog) all() []trSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]trSeen(nil), l.seen...)
}

// authorizations returns the Authorization each logged request carried.
func (l *trLog) authorizations() []string {
	var a []string
	for _, s := range l.all() {
		a = append(a, s.Authorization)
	}
	return a
}

// trServer starts a resource server on loopback. It reads each request's body,
// records the request in the log it returns, and lets answer reply.
func trServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, s trSeen)) (*httptest.Server, *trLog) {
	t.Helper()
	log := new(trLog)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the request body: %v", err)
		}
		s := trSeen{Method: r.Method, Path: r.URL.Path, Authorization: strings.Join(r.Header.Values("Authorization"), " | "), ContentLength: r.ContentLength, Body: string(b)}
		log.mu.Lock()
		log.seen = append(log.seen, s)
		log.mu.Unlock()
		answer(w, r, s)
	}))
	t.Cleanup(srv.Close)
	return srv, log
}

// trReply is how a test resource server answers: a status (0 means 200) and
// the WWW-Authenticate challenges, one header line each.
type trReply struct {
	Status     int
	Challenges []string
}

// trAPI starts a resource server that answers a request carrying "Bearer old"
// with old and any other with fresh; the body is "reply to <Authorization>".
func trAPI(t *testing.T, old, fresh trReply) (*httptest.Server, *trLog) {
	t.Helper()
	return trServer(t, func(w http.ResponseWriter, _ *http.Request, s trSeen) {
		a := fresh
		if s.Authorization == "Bearer old" {
			a = old
		}
		for _, c := range a.Challenges {
			w.Header().Add("WWW-Authenticate", c)
		}
		if a.Status != 0 {
			w.WriteHeader(a.Status)
		}
		io.WriteString(w, "reply to "+s.Authorization)
	})
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

var errTrBase = errors.New("trBase: connection reset")

// trMemAPI is an in-memory resource server: 401 invalid_token for "Bearer old"
// and for no token at all, 200 for any other token. It records the
// Authorization of each request, counts the Close calls of the bodies of its
// responses, and fails every round trip from the failFrom'th on, if set.
type trMemAPI struct {
	failFrom int

	mu     sync.Mutex
	seen   []string
	bodies atomic.Int32 // response bodies made
	closes atomic.Int32 // Close calls on them, all together
}

func (a *trMemAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil { // as the RoundTripper contract asks
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	authz := r.Header.Get("Authorization")
	a.mu.Lock()
	a.seen = append(a.seen, authz)
	n := len(a.seen)
	a.mu.Unlock()
	if a.failFrom > 0 && n >= a.failFrom {
		return nil, errTrBase
	}
	a.bodies.Add(1)
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, Request: r,
		Body: &trCountingBody{Reader: strings.NewReader("reply to " + authz), closes: &a.closes}}
	if authz == "Bearer old" || authz == "" {
		resp.StatusCode = 401
		resp.Header.Set("WWW-Authenticate", trInvalidToken)
	}
	return resp, nil
}

func (a *trMemAPI) authorizations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.seen)
}

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

// check reports a request body not closed exactly once, a GetBody called other
// than wantGets times, or a copy of it not closed exactly once.
func (b *trBodies) check(t *testing.T, wantGets int32) {
	t.Helper()
	if n := b.closes.Load(); n != 1 {
		t.Errorf("the request body was closed %d times, want 1", n)
	}
	if n := b.gets.Load(); n != wantGets {
		t.Errorf("GetBody was called %d times, want %d", n, wantGets)
	}
	if n, copies := b.copyCloses.Load(), b.copies.Load(); n != copies {
		t.Errorf("GetBody's %d copies were closed %d times, want once each", copies, n)
	}
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

// trGetBody says what a test request's GetBody does.
type trGetBody int

const (
	trCopies       trGetBody = iota // GetBody returns a copy of the body
	trNoGetBody                     // GetBody is nil: the body is a plain stream
	trGetBodyFails                  // GetBody returns an error
)

// trBodyRequest returns a POST of body to url whose body and GetBody copies count
// their Close calls.
func trBodyRequest(t *testing.T, ctx context.Context, url, body string, g trGetBody) (*http.Request, *trBodies) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := new(trBodies)
	req.Header.Set("Content-Type", "text/plain")
	req.ContentLength = int64(len(body))
	req.Body = &trCountingBody{Reader: trOnlyReader{strings.NewReader(body)}, closes: &b.closes}
	switch g {
	case trCopies:
		req.GetBody = func() (io.ReadCloser, error) {
			b.gets.Add(1)
			b.copies.Add(1)
			return &trCountingBody{Reader: strings.NewReader(body), closes: &b.copyCloses}, nil
		}
	case trGetBodyFails:
		req.GetBody = func() (io.ReadCloser, error) {
			b.gets.Add(1)
			return nil, errors.New("trGetBody: the body is gone")
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
		nilBase     bool    // Transport.Base is nil: http.DefaultTransport
		want        string
	}{
		{name: "a token type bearer from the token endpoint is sent as Bearer", initial: fromEndpoint(), tokenType: "bearer", want: "Bearer at-1"},
		{name: "a stored token without a token type is sent as Bearer", initial: &Tokens{AccessToken: "stored", RefreshToken: "rt-0", ExpiresAt: time.Now().Add(time.Hour)}, want: "Bearer stored"},
		{name: "a stored token of type bEaReR is sent as Bearer", initial: &Tokens{AccessToken: "stored", TokenType: "bEaReR"}, want: "Bearer stored"},
		{name: "an odd token type (eBay's) is sent as Bearer", initial: fromEndpoint(), tokenType: "User Access Token", want: "Bearer at-1"},
		{name: "an Authorization the caller set is replaced, not added to", initial: trOldTokens(), callerAuthz: "Basic dXNlcjpwYXNz", want: "Bearer old"},
		{name: "a request with a nil Header map is sent with the token and keeps its nil map", initial: trOldTokens(), nilHeader: true, want: "Bearer old"},
		{name: "a base transport that appends to header values cannot write into the caller's", initial: trOldTokens(), appending: true, want: "Bearer old"},
		{name: "a nil Base sends through http.DefaultTransport", initial: trOldTokens(), nilBase: true, want: "Bearer old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, log := trAPI(t, trReply{}, trReply{})
			tr := &Transport{Source: (&trEndpoint{TokenType: tt.tokenType}).source(tt.initial), Base: trBase(t)}
			if tt.appending {
				inner := tr.Base
				tr.Base = trRoundTripFunc(func(r *http.Request) (*http.Response, error) {
					// Not allowed of a RoundTripper, but it must not reach the caller.
					r.Header["X-Multi"] = append(r.Header["X-Multi"], "from-base")
					r.Header.Set("X-Base", "1")
					return inner.RoundTrip(r)
				})
			}
			if tt.nilBase {
				tr.Base = nil
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/items?q=a%20b", strings.NewReader("name=widget"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header["X-Multi"] = append(make([]string, 0, 4), "a", "b") // spare capacity
			if tt.callerAuthz != "" {
				req.Header.Set("Authorization", tt.callerAuthz)
			}
			if tt.nilHeader {
				req.Header = nil
			}

			resp, _, err := trRoundTrip(t, tr, req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("RoundTrip = %v, %v; want 200", resp, err)
			}
			want := []trSeen{{Method: "POST", Path: "/v1/items", Authorization: tt.want, ContentLength: 11, Body: "name=widget"}}
			if diff := cmp.Diff(want, log.all()); diff != "" {
				t.Errorf("the resource server saw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTransportRefreshesAndReplaysOnceAfter401(t *testing.T) {
	rejectOld := trReply{Status: 401, Challenges: []string{trInvalidToken}}
	replayed := []string{"Bearer old", "Bearer at-1"}
	returned := []string{"Bearer old"}
	tests := []struct {
		name          string
		old, fresh    trReply     // the resource's answers to the old token and to any other (200)
		endpoint      *trEndpoint // the token endpoint; nil means a working one
		getBody       trGetBody
		noBody        bool   // a GET without a body instead of a POST
		body          string // the POST body; "" means "order=42"
		wantStatus    int
		wantRefreshes int32
		wantAuthz     []string // the Authorization of each request the resource saw
		wantGets      int32    // GetBody calls
	}{
		{name: "an invalid_token challenge gets one refresh and one replay with the new token", old: rejectOld, wantStatus: 200, wantRefreshes: 1, wantAuthz: replayed, wantGets: 1},
		{name: "a resource that always answers 401 gets one replay, then its second 401 is returned", old: rejectOld, fresh: rejectOld, wantStatus: 401, wantRefreshes: 1, wantAuthz: replayed, wantGets: 1},
		{name: "a bare 401 without WWW-Authenticate gets a refresh and a replay", old: trReply{Status: 401}, wantStatus: 200, wantRefreshes: 1, wantAuthz: replayed, wantGets: 1},
		{name: "a Bearer challenge that names no error gets a refresh and a replay", old: trReply{Status: 401, Challenges: []string{`Bearer realm="api"`}}, wantStatus: 200, wantRefreshes: 1, wantAuthz: replayed, wantGets: 1},
		{name: "a lower-case bearer challenge naming invalid_token gets a refresh and a replay", old: trReply{Status: 401, Challenges: []string{`bearer realm="api", error="invalid_token"`}}, wantStatus: 200, wantRefreshes: 1, wantAuthz: replayed, wantGets: 1},
		{name: "invalid_token in the second of two challenge lines gets a refresh and a replay", old: trReply{Status: 401, Challenges: []string{`Basic realm="api"`, trInvalidToken}}, wantStatus: 200, wantRefreshes: 1, wantAuthz: replayed, wantGets: 1},
		{name: "a Bearer challenge after a Basic one on the same line gets a refresh and a replay", old: trReply{Status: 401, Challenges: []string{`Basic realm="api", Bearer realm="api"`}}, wantStatus: 200, wantRefreshes: 1, wantAuthz: replayed, wantGets: 1},
		{name: "an insufficient_scope challenge gets no refresh and its 401 is returned", old: trReply{Status: 401, Challenges: []string{`Bearer error="insufficient_scope", scope="admin"`}}, wantStatus: 401, wantAuthz: returned},
		{name: "a Basic challenge gets no refresh and its 401 is returned", old: trReply{Status: 401, Challenges: []string{`Basic realm="api"`}}, wantStatus: 401, wantAuthz: returned},
		{name: "a 403 naming invalid_token gets no refresh", old: trReply{Status: 403, Challenges: []string{trInvalidToken}}, wantStatus: 403, wantAuthz: returned},
		{name: "a failed refresh returns the first 401", old: rejectOld, endpoint: &trEndpoint{Fail: true}, wantStatus: 401, wantRefreshes: 1, wantAuthz: returned},
		{name: "a refresh that issues the same access token again returns the first 401", old: rejectOld, endpoint: &trEndpoint{AccessToken: "old"}, wantStatus: 401, wantRefreshes: 1, wantAuthz: returned},
		{name: "a refresh that yields a DPoP token returns the first 401", old: rejectOld, endpoint: &trEndpoint{TokenType: "DPoP"}, wantStatus: 401, wantRefreshes: 1, wantAuthz: returned},
		{name: "a failing GetBody returns the first 401", old: rejectOld, getBody: trGetBodyFails, wantStatus: 401, wantRefreshes: 1, wantAuthz: returned, wantGets: 1},
		{name: "a body without GetBody is not replayed and gets no refresh", old: rejectOld, getBody: trNoGetBody, wantStatus: 401, wantAuthz: returned},
		{name: "a GET without a body is replayed", old: rejectOld, noBody: true, wantStatus: 200, wantRefreshes: 1, wantAuthz: replayed},
		{name: "a 64 KiB body is replayed whole", old: rejectOld, body: strings.Repeat("0123456789abcdef", 4<<10), wantStatus: 200, wantRefreshes: 1, wantAuthz: replayed, wantGets: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.endpoint
			if e == nil {
				e = &trEndpoint{}
			}
			srv, log := trAPI(t, tt.old, tt.fresh)
			tr := &Transport{Source: e.source(trOldTokens()), Base: trBase(t)}
			body := tt.body
			if body == "" {
				body = "order=42"
			}
			req, bodies := trBodyRequest(t, t.Context(), srv.URL+"/v1/orders", body, tt.getBody)
			if tt.noBody {
				body = ""
				var err error
				if req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v1/orders", nil); err != nil {
					t.Fatal(err)
				}
			}

			resp, got, err := trRoundTrip(t, tr, req)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			// The body the caller reads is the reply to the last request sent.
			wantBody := "reply to " + tt.wantAuthz[len(tt.wantAuthz)-1]
			if resp.StatusCode != tt.wantStatus || got != wantBody {
				t.Errorf("response = %d %q, want %d %q", resp.StatusCode, got, tt.wantStatus, wantBody)
			}
			if n := e.hits.Load(); n != tt.wantRefreshes {
				t.Errorf("token requests = %d, want %d", n, tt.wantRefreshes)
			}
			var want []trSeen
			for _, a := range tt.wantAuthz {
				want = append(want, trSeen{Method: req.Method, Path: "/v1/orders", Authorization: a, ContentLength: int64(len(body)), Body: body})
			}
			if diff := cmp.Diff(want, log.all()); diff != "" {
				t.Errorf("the resource server saw (-want +got):\n%s", diff)
			}
			if !tt.noBody {
				bodies.check(t, tt.wantGets)
			}
		})
	}
}

// A 401 for a request that cannot be replayed still rejects its token: the next
// request refreshes first and goes out with the new token only.
func TestTransportInvalidatesATokenItCannotReplayWith(t *testing.T) {
	e, api := &trEndpoint{}, &trMemAPI{}
	tr := &Transport{Source: e.source(trOldTokens()), Base: api}
	req, _ := trBodyRequest(t, t.Context(), "https://api.example/upload", "streamed bytes", trNoGetBody)
	if resp, _, err := trRoundTrip(t, tr, req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("RoundTrip = %v, %v; want the 401", resp, err)
	}
	get, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://api.example/upload", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _, err := trRoundTrip(t, tr, get); err != nil || resp.StatusCode != 200 {
		t.Fatalf("next request = %v, %v; want 200", resp, err)
	}
	if diff := cmp.Diff([]string{"Bearer old", "Bearer at-1"}, api.authorizations()); diff != "" {
		t.Errorf("Authorization of the requests the resource saw (-want +got):\n%s", diff)
	}
	if n := e.hits.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

func TestTransportReplaysWithATokenAnotherCallerRefreshed(t *testing.T) {
	e, api := &trEndpoint{}, &trMemAPI{}
	src := e.source(trOldTokens())
	base := trRoundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") == "Bearer old" {
			// Before this 401 reaches the Transport, another caller has the old
			// token rejected and refreshed: at-1 is cached.
			src.Invalidate(&Tokens{AccessToken: "old"})
			if tok, err := src.Token(r.Context()); err != nil || tok.AccessToken != "at-1" {
				t.Errorf("the other caller's Token = %v, %v; want at-1", tok, err)
			}
		}
		return api.RoundTrip(r)
	})
	req, _ := trBodyRequest(t, t.Context(), "https://api.example/v1/orders", "order=42", trCopies)
	if resp, _, err := trRoundTrip(t, &Transport{Source: src, Base: base}, req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("RoundTrip = %v, %v; want 200", resp, err)
	}
	if n := e.hits.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1 (the other caller's)", n)
	}
	if diff := cmp.Diff([]string{"Bearer old", "Bearer at-1"}, api.authorizations()); diff != "" {
		t.Errorf("Authorization of the requests the resource saw (-want +got):\n%s", diff)
	}
}

func TestTransportManyRequestsRejectedTogetherCauseOneRefresh(t *testing.T) {
	const n = 50
	e := &trEndpoint{}
	var rejected atomic.Int32
	allSent := make(chan struct{})
	srv, log := trServer(t, func(w http.ResponseWriter, r *http.Request, s trSeen) {
		if s.Authorization == "Bearer old" {
			// Hold every 401 until all n requests went out with the old token.
			if rejected.Add(1) == n {
				close(allSent)
			}
			<-allSent
			w.Header().Set("WWW-Authenticate", trInvalidToken)
			w.WriteHeader(401)
		}
	})
	hc := &http.Client{Transport: &Transport{Source: e.source(trOldTokens()), Base: trBase(t)}}

	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := hc.Post(srv.URL+"/v1/orders", "text/plain", strings.NewReader(fmt.Sprint("order=", i)))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
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
	for _, a := range log.authorizations() {
		count[a]++
	}
	if diff := cmp.Diff(map[string]int{"Bearer old": n, "Bearer at-1": n}, count); diff != "" {
		t.Errorf("requests per Authorization (-want +got):\n%s", diff)
	}
}

// The redirects run through http.Client over a base transport in memory, which
// answers each hop with a redirect to the next.
func TestTransportSendsTheTokenOnlyToTheOriginalOrigin(t *testing.T) {
	tests := []struct {
		name          string
		method, body  string
		status        int      // the redirects' status; 0 means 302
		hops          []string // the first URL, then each redirect's Location
		noRespRequest bool     // the base transport leaves resp.Request nil
		want          []string // the Authorization each hop carried
	}{
		{name: "a redirect to the same host keeps the token", hops: []string{"https://api.example/start", "https://api.example/final"}, want: []string{"Bearer old", "Bearer old"}},
		{name: "a redirect to another host gets no token", hops: []string{"https://api.example/start", "https://other.example/final"}, want: []string{"Bearer old", ""}},
		{name: "a 307 POST to another host gets its body but no token", method: "POST", body: "secret=no", status: 307, hops: []string{"https://api.example/start", "https://other.example/final"}, want: []string{"Bearer old", ""}},
		{name: "a chain that leaves the host gets the token again back at the original host", hops: []string{"https://api.example/start", "https://other.example/back", "https://api.example/final"}, want: []string{"Bearer old", "", "Bearer old"}},
		{name: "a redirect from https down to http on the same host gets no token", hops: []string{"https://api.example/start", "http://api.example/final"}, want: []string{"Bearer old", ""}},
		{name: "a redirect to another port of the same host gets no token", hops: []string{"https://api.example/start", "https://api.example:8443/final"}, want: []string{"Bearer old", ""}},
		{name: "a redirect to a host that differs only in case keeps the token", hops: []string{"https://api.example/start", "https://API.Example/final"}, want: []string{"Bearer old", "Bearer old"}},
		{name: "a base that leaves resp.Request nil breaks the chain: no token", noRespRequest: true, hops: []string{"https://api.example/start", "https://api.example/final"}, want: []string{"Bearer old", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			var mu sync.Mutex
			var seen []string
			base := trRoundTripFunc(func(r *http.Request) (*http.Response, error) {
				var body []byte
				if r.Body != nil {
					body, _ = io.ReadAll(r.Body)
					r.Body.Close()
				}
				mu.Lock()
				seen = append(seen, fmt.Sprintf("%s %s %q %q", r.Method, r.URL, r.Header.Get("Authorization"), body))
				mu.Unlock()
				resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}
				if i := slices.Index(tt.hops, r.URL.String()); i >= 0 && i < len(tt.hops)-1 {
					resp.StatusCode = http.StatusFound
					if tt.status != 0 {
						resp.StatusCode = tt.status
					}
					resp.Header.Set("Location", tt.hops[i+1])
				}
				if !tt.noRespRequest {
					resp.Request = r
				}
				return resp, nil
			})
			hc := &http.Client{Transport: &Transport{Source: (&trEndpoint{}).source(trOldTokens()), Base: base}}
			req, err := http.NewRequestWithContext(t.Context(), method, tt.hops[0], strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("status = %d, want 200", resp.StatusCode)
			}
			var want []string
			for i, hop := range tt.hops {
				want = append(want, fmt.Sprintf("%s %s %q %q", method, hop, tt.want[i], tt.body))
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(want, seen); diff != "" {
				t.Errorf("the base transport saw (-want +got):\n%s", diff)
			}
		})
	}
}

// Every path of RoundTrip, the 401 paths over a real server included in
// TestTransportRefreshesAndReplaysOnceAfter401: the request body and every
// response body are closed once, and an error comes only without a response.
// Everything is in memory, in a synctest bubble, so that a RoundTrip that would
// wait for ever fails as a deadlock.
func TestTransportRoundTripContract(t *testing.T) {
	// source returns a Source over e, from the tokens of trOldTokens if old,
	// else from a refresh token alone, made inside the test's bubble.
	source := func(e *trEndpoint, old bool) func(t *testing.T) *Source {
		return func(t *testing.T) *Source {
			if old {
				return e.source(trOldTokens())
			}
			return e.source(&Tokens{RefreshToken: "rt-0"})
		}
	}
	failing := source(&trEndpoint{Fail: true}, false)
	held := func(t *testing.T) *Source { // its refresh waits for the test's end
		e := &trEndpoint{gate: make(chan struct{})}
		t.Cleanup(func() { close(e.gate) })
		return e.source(&Tokens{RefreshToken: "rt-0"})
	}
	configError := func(field string) func(error) bool {
		return func(err error) bool {
			var ce *ConfigError
			return errors.As(err, &ce) && ce.Field == field
		}
	}
	tests := []struct {
		name     string
		src      func(t *testing.T) *Source // nil: a Transport without a Source
		failFrom int                        // the base transport fails from this round trip on
		hop      bool                       // the request is a redirect hop from another host
		cancel   bool                       // the request's context is cancelled
		wantErr  func(error) bool           // nil: want a response
		wantSeen []string                   // the Authorization of each base round trip
		wantGets int32
	}{
		{name: "a 200", src: source(&trEndpoint{}, false), wantSeen: []string{"Bearer at-1"}},
		{name: "a 401 replayed", src: source(&trEndpoint{}, true), wantSeen: []string{"Bearer old", "Bearer at-1"}, wantGets: 1},
		{name: "a Source that cannot get a token: its error and nothing sent", src: failing, wantErr: func(err error) bool { return errors.Is(err, ErrInvalidGrant) }},
		{name: "a DPoP token: a ConfigError and nothing sent, since Transport makes no proof", src: source(&trEndpoint{TokenType: "DPoP"}, false), wantErr: configError("TokenType")},
		{name: "a request cancelled while its token is refreshed: its error and nothing sent", src: held, cancel: true, wantErr: func(err error) bool { return errors.Is(err, context.Canceled) }},
		{name: "a nil Source: a ConfigError", wantErr: configError("Transport.Source")},
		{name: "a base transport that fails: its error", src: source(&trEndpoint{}, true), failFrom: 1, wantErr: func(err error) bool { return errors.Is(err, errTrBase) }, wantSeen: []string{"Bearer old"}},
		{name: "a replay that fails in the base transport: its error", src: source(&trEndpoint{}, true), failFrom: 2, wantErr: func(err error) bool { return errors.Is(err, errTrBase) }, wantSeen: []string{"Bearer old", "Bearer at-1"}, wantGets: 1},
		{name: "a redirect hop to another host: sent as it is, without asking the Source", src: failing, hop: true, wantSeen: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := &trMemAPI{failFrom: tt.failFrom}
				tr := &Transport{Base: api}
				if tt.src != nil {
					tr.Source = tt.src(t)
				}
				ctx, cancel := context.WithCancel(t.Context())
				if tt.cancel {
					cancel()
				}
				defer cancel()
				req, bodies := trBodyRequest(t, ctx, "https://api.example/v1/orders", "payload", trCopies)
				if tt.hop {
					first, err := http.NewRequest(http.MethodPost, "https://origin.example/start", nil)
					if err != nil {
						t.Fatal(err)
					}
					req.Response = &http.Response{StatusCode: http.StatusTemporaryRedirect, Request: first}
				}
				resp, _, err := trRoundTrip(t, tr, req)
				if tt.wantErr == nil && err != nil || tt.wantErr != nil && !tt.wantErr(err) {
					t.Errorf("RoundTrip = %v, %v; want another outcome", resp, err)
				}
				if diff := cmp.Diff(tt.wantSeen, api.authorizations()); diff != "" {
					t.Errorf("Authorization of each base round trip (-want +got):\n%s", diff)
				}
				bodies.check(t, tt.wantGets)
				if made, n := api.bodies.Load(), api.closes.Load(); made != n {
					t.Errorf("the base transport's %d response bodies were closed %d times, want once each", made, n)
				}
			})
		})
	}
}

// Before its replay, Transport reads what is left of a 401's body so that the
// connection can be reused, but does not wait for a body that trickles in.
func TestTransportDrainsA401BodyOnlyWhileItFlows(t *testing.T) {
	tests := []struct {
		name      string
		delay     time.Duration // before each of the 401 body's 20 bytes
		wantDrain bool          // read to its end before the replay
	}{
		{name: "a body that has arrived is read to its end", delay: 0, wantDrain: true},
		{name: "a body that trickles at a byte a second is closed without waiting", delay: time.Second, wantDrain: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 20
				pr, pw := io.Pipe()
				sent := make(chan int, 1) // bytes written before the end or the reader's Close
				go func() {
					i := 0
					for ; i < n; i++ {
						time.Sleep(tt.delay)
						if _, err := pw.Write([]byte("x")); err != nil {
							break
						}
					}
					pw.Close()
					sent <- i
				}()
				api := &trMemAPI{}
				base := trRoundTripFunc(func(r *http.Request) (*http.Response, error) {
					resp, err := api.RoundTrip(r)
					if resp.StatusCode == 401 {
						resp.Body, resp.ContentLength = pr, n
					}
					return resp, err
				})
				tr := &Transport{Source: (&trEndpoint{}).source(trOldTokens()), Base: base}
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://api.example/v1/items", nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp, _, err := trRoundTrip(t, tr, req); err != nil || resp.StatusCode != 200 {
					t.Fatalf("RoundTrip = %v, %v; want the replay's 200", resp, err)
				}
				if got := <-sent; (got == n) != tt.wantDrain {
					t.Errorf("the 401's body sent %d of its %d bytes before it was closed; want all of them: %t", got, n, tt.wantDrain)
				}
			})
		})
	}
}

// Closing an http.Transport body unblocks a pending Read: the replay goes out
// while a real server still holds back the rest of its 401's body.
func TestTransportDoesNotWaitForAStalled401BodyFromAServer(t *testing.T) {
	var stalledTooLong atomic.Bool
	srv, _ := trServer(t, func(w http.ResponseWriter, r *http.Request, s trSeen) {
		if s.Authorization != "Bearer old" {
			return
		}
		w.Header().Set("WWW-Authenticate", trInvalidToken)
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(401)
		io.WriteString(w, "x")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done(): // the client closed the connection
		case <-time.After(5 * time.Second): // a guard for a Transport that waits
			stalledTooLong.Store(true)
		}
	})
	tr := &Transport{Source: (&trEndpoint{}).source(trOldTokens()), Base: trBase(t)}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v1/items", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _, err := trRoundTrip(t, tr, req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("RoundTrip = %v, %v; want the replay's 200", resp, err)
	}
	if stalledTooLong.Load() {
		t.Error("the replay went out only after the server gave up on its stalled 401 body")
	}
}

// A Store save retry in flight when a 401 comes back must not republish the
// token it started with and so undo Invalidate: the Transport would then see
// the same token, return the 401 without a refresh, and send the rejected token
// again with later requests.
func TestTransportRecoversFromA401WhileASaveRetryIsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := &trEndpoint{}
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
		src := NewSource(e.client(), nil, WithStore(store))
		var se *StoreError
		if err := src.SetTokens(t.Context(), trOldTokens()); !errors.As(err, &se) {
			t.Fatalf("SetTokens = %v, want a *StoreError", err)
		}
		api := &trMemAPI{}
		tr := &Transport{Source: src, Base: api}

		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://api.example/v1/items", nil)
		if err != nil {
			t.Fatal(err)
		}
		var resp *http.Response
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err = tr.RoundTrip(req)
		}()
		synctest.Wait() // the 401 is back; the save retry is held
		close(saveGate)
		<-done
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status = %d, want 200 after a refresh and a replay", resp.StatusCode)
		}
		if n := e.hits.Load(); n != 1 {
			t.Errorf("token requests = %d, want 1", n)
		}
		if diff := cmp.Diff([]string{"Bearer old", "Bearer at-1"}, api.authorizations()); diff != "" {
			t.Errorf("Authorization of the requests the resource saw (-want +got):\n%s", diff)
		}
	})
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
