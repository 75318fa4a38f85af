package refresh

// Tests of Source, MemoryStore and StoreFunc (source.go).
//
// Most tests run in a testing/synctest bubble, where time is fake: time.Sleep
// moves the clock at once, and synctest.Wait returns when every other goroutine
// of the bubble is blocked. The token endpoint there is a fake behind an
// http.RoundTripper (srcEndpoint), since real sockets do not block durably. One
// test runs over a real loopback httptest server with an injected clock.
//
// Every top-level name in this file starts with "src" (or "TestSource",
// "TestMemoryStore", "TestStoreFunc"), so that it cannot clash with the helpers
// of other test files of package refresh.

import (
	"bytes"
	"context"
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
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// srcTokenURL is where the fake token endpoint pretends to be: a loopback
// address, so that the Client accepts http. Nothing listens there.
const srcTokenURL = "http://127.0.0.1/oauth2/token"

// srcClientSecret is the client secret every test Client sends.
const srcClientSecret = "client-secret-Zq81"

// srcIgnoreRaw compares Tokens by their exported fields.
var srcIgnoreRaw = cmpopts.IgnoreUnexported(Tokens{})

// srcRoundTripFunc is an http.RoundTripper made of a function.
type srcRoundTripFunc func(*http.Request) (*http.Response, error)

func (f srcRoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// srcAnswer is one answer of the fake token endpoint.
type srcAnswer struct {
	status      int
	contentType string
	body        string
}

// srcGrant is a token response; an empty rt sends no refresh token, an empty
// scope no scope.
func srcGrant(at, rt string, expiresIn int, scope string) srcAnswer {
	m := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": expiresIn}
	if rt != "" {
		m["refresh_token"] = rt
	}
	if scope != "" {
		m["scope"] = scope
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return srcAnswer{status: http.StatusOK, contentType: "application/json", body: string(b)}
}

// srcOAuthFailure is an OAuth error response (RFC 6749 §5.2).
func srcOAuthFailure(status int, code string) srcAnswer {
	return srcAnswer{status: status, contentType: "application/json", body: `{"error":"` + code + `"}`}
}

// srcRotating answers the n-th request with access token at-n and refresh
// token rt-n, valid for an hour.
func srcRotating(n int, _ string) srcAnswer {
	return srcGrant(fmt.Sprintf("at-%d", n), fmt.Sprintf("rt-%d", n), 3600, "")
}

// srcEndpoint is a fake token endpoint behind an http.RoundTripper. It counts
// the requests, records the refresh token each one carried, and answers with
// answer(n, refreshToken) for the n-th request (from 1). After hold, requests
// wait at the endpoint until release (or until their context ends).
type srcEndpoint struct {
	answer func(n int, refreshToken string) srcAnswer

	n atomic.Int32 // requests received

	mu   sync.Mutex
	rts  []string          // the refresh_token of each request, in order
	ctxs []context.Context // the context of each request, in order
	gate chan struct{}     // non-nil: requests wait until it is closed
}

func srcNewEndpoint(answer func(n int, refreshToken string) srcAnswer) *srcEndpoint {
	return &srcEndpoint{answer: answer}
}

// client returns a Client of e, with client_secret_post authentication.
func (e *srcEndpoint) client() *Client {
	return &Client{
		TokenURL:   srcTokenURL,
		Auth:       ClientSecretPost("client-1", srcClientSecret),
		HTTPClient: &http.Client{Transport: srcRoundTripFunc(e.roundTrip)},
	}
}

func (e *srcEndpoint) hold() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gate = make(chan struct{})
}

func (e *srcEndpoint) release() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gate != nil {
		close(e.gate)
		e.gate = nil
	}
}

func (e *srcEndpoint) requests() int { return int(e.n.Load()) }

// sent returns the refresh token of each request so far.
func (e *srcEndpoint) sent() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.rts...)
}

// lastContext returns the context of the last request.
func (e *srcEndpoint) lastContext() context.Context {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.ctxs) == 0 {
		return nil
	}
	return e.ctxs[len(e.ctxs)-1]
}

func (e *srcEndpoint) roundTrip(req *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, err
	}
	rt := form.Get("refresh_token")
	n := int(e.n.Add(1))
	e.mu.Lock()
	e.rts = append(e.rts, rt)
	e.ctxs = append(e.ctxs, req.Context())
	gate := e.gate
	e.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	a := e.answer(n, rt)
	h := http.Header{}
	if a.contentType != "" {
		h.Set("Content-Type", a.contentType)
	}
	return &http.Response{
		StatusCode:    a.status,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(a.body)),
		ContentLength: int64(len(a.body)),
		Request:       req,
	}, nil
}

// srcTokens returns Bearer tokens issued at issued that live for life.
func srcTokens(at, rt string, issued time.Time, life time.Duration) *Tokens {
	return &Tokens{AccessToken: at, TokenType: "Bearer", RefreshToken: rt, IssuedAt: issued, ExpiresAt: issued.Add(life)}
}

// srcExpired returns tokens whose access token expired an hour ago.
func srcExpired(at, rt string) *Tokens {
	return srcTokens(at, rt, time.Now().Add(-2*time.Hour), time.Hour)
}

// srcResult is what one Token call returned.
type srcResult struct {
	tok *Tokens
	err error
}

// srcCallers is a group of goroutines calling Token once each.
type srcCallers struct {
	wg   sync.WaitGroup
	done atomic.Int32 // calls that have returned
	res  []srcResult
}

// srcCall starts n goroutines that each call src.Token(ctx) once.
func srcCall(ctx context.Context, src *Source, n int) *srcCallers {
	g := &srcCallers{res: make([]srcResult, n)}
	for i := range n {
		g.wg.Go(func() {
			tok, err := src.Token(ctx)
			g.res[i] = srcResult{tok, err}
			g.done.Add(1)
		})
	}
	return g
}

func (g *srcCallers) returned() int { return int(g.done.Load()) }

// wait waits for every call and returns their results.
func (g *srcCallers) wait() []srcResult {
	g.wg.Wait()
	return g.res
}

// srcAccessToken is tok's access token, or "" for nil.
func srcAccessToken(tok *Tokens) string {
	if tok == nil {
		return ""
	}
	return tok.AccessToken
}

// srcMustToken calls src.Token and stops the test on an error.
func srcMustToken(t *testing.T, src *Source) *Tokens {
	t.Helper()
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

// srcWantRequests checks how many requests e received.
func srcWantRequests(t *testing.T, e *srcEndpoint, want int) {
	t.Helper()
	if got := e.requests(); got != want {
		t.Errorf("token requests = %d, want %d (refresh tokens sent: %q)", got, want, e.sent())
	}
}

// srcWantSent checks the refresh tokens e received, in order.
func srcWantSent(t *testing.T, e *srcEndpoint, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, e.sent(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("refresh tokens sent to the endpoint (-want +got):\n%s", diff)
	}
}

// srcStore wraps a MemoryStore: it counts the calls, can fail them, can hold
// Save, and runs onLoad after each Load.
type srcStore struct {
	mem *MemoryStore

	loads, saves atomic.Int32

	mu       sync.Mutex
	saveErr  error         // Save fails with it when non-nil
	loadErr  error         // Load fails with it when non-nil
	saveGate chan struct{} // non-nil: Save waits until it is closed
	saved    []*Tokens     // what Save was given, in order
	onLoad   func(n int)   // called after the n-th Load (from 1)
}

var (
	errSrcSave = errors.New("test store: save failed")
	errSrcLoad = errors.New("test store: load failed")
)

func srcNewStore(initial *Tokens) *srcStore { return &srcStore{mem: NewMemoryStore(initial)} }

func (s *srcStore) Load(ctx context.Context) (*Tokens, error) {
	n := int(s.loads.Add(1))
	s.mu.Lock()
	err, onLoad := s.loadErr, s.onLoad
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t, err := s.mem.Load(ctx)
	if onLoad != nil {
		onLoad(n)
	}
	return t, err
}

func (s *srcStore) Save(ctx context.Context, t *Tokens) error {
	s.saves.Add(1)
	s.mu.Lock()
	c := *t
	s.saved = append(s.saved, &c)
	err, gate := s.saveErr, s.saveGate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if err != nil {
		return err
	}
	return s.mem.Save(ctx, t)
}

func (s *srcStore) setSaveErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saveErr = err
}

func (s *srcStore) setLoadErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadErr = err
}

func (s *srcStore) holdSave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saveGate = make(chan struct{})
}

func (s *srcStore) releaseSave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saveGate != nil {
		close(s.saveGate)
		s.saveGate = nil
	}
}

func (s *srcStore) savedTokens() []*Tokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Tokens(nil), s.saved...)
}

// stored returns the access and refresh token the store holds, "" when empty.
func (s *srcStore) stored(t *testing.T) (at, rt string) {
	t.Helper()
	tok, err := s.mem.Load(t.Context())
	if err != nil {
		t.Fatalf("MemoryStore.Load: %v", err)
	}
	if tok == nil {
		return "", ""
	}
	return tok.AccessToken, tok.RefreshToken
}

func TestSourceOneRefreshForManyGoroutines(t *testing.T) {
	const callers = 1000

	t.Run("1000 goroutines at expiry wait for one request and all get its token", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			e.hold()
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"))

			g := srcCall(t.Context(), src, callers)
			synctest.Wait()
			srcWantRequests(t, e, 1)
			if n := g.returned(); n != 0 {
				t.Errorf("%d callers returned while the refresh was at the server, want 0", n)
			}
			e.release()
			res := g.wait()

			srcWantRequests(t, e, 1)
			srcWantSent(t, e, "rt-0")
			first := res[0].tok
			for i, r := range res {
				if r.err != nil {
					t.Fatalf("caller %d: Token: %v", i, r.err)
				}
				if r.tok != first || r.tok.AccessToken != "at-1" {
					t.Fatalf("caller %d got access token %q (%p), want the shared at-1 (%p)", i, r.tok.AccessToken, r.tok, first)
				}
			}
			if got := srcMustToken(t, src); got != first {
				t.Errorf("a later Token returned %q, want the cached at-1", got.AccessToken)
			}
			srcWantRequests(t, e, 1)
		})
	})

	t.Run("1000 goroutines over a loopback httptest server make one request", func(t *testing.T) {
		t0 := time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)
		var requests atomic.Int32
		gate := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
			if err := r.ParseForm(); err != nil {
				t.Errorf("token endpoint: ParseForm: %v", err)
			}
			if got := r.PostForm.Get("refresh_token"); got != "rt-0" {
				t.Errorf("token endpoint: refresh_token = %q, want rt-0", got)
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1"}`)
		}))
		t.Cleanup(srv.Close)
		c := &Client{TokenURL: srv.URL + "/token", HTTPClient: srv.Client(), Now: func() time.Time { return t0 }}
		src := NewSource(c, srcTokens("at-0", "rt-0", t0.Add(-2*time.Hour), time.Hour))

		var started sync.WaitGroup
		started.Add(callers)
		g := &srcCallers{res: make([]srcResult, callers)}
		for i := range callers {
			g.wg.Go(func() {
				started.Done()
				tok, err := src.Token(t.Context())
				g.res[i] = srcResult{tok, err}
			})
		}
		started.Wait()
		close(gate)
		res := g.wait()

		if got := requests.Load(); got != 1 {
			t.Errorf("token requests at the server = %d, want 1", got)
		}
		for i, r := range res {
			if r.err != nil || srcAccessToken(r.tok) != "at-1" {
				t.Fatalf("caller %d: Token = %q, %v; want at-1, nil", i, srcAccessToken(r.tok), r.err)
			}
		}
	})
}

func TestSourceFailedRefreshAnswersAllWaiters(t *testing.T) {
	const waiters = 100
	tests := []struct {
		name    string
		failure srcAnswer
		check   func(t *testing.T, err error)
	}{
		{
			name:    "an HTTP 500 without an OAuth body is one *ResponseError for all",
			failure: srcAnswer{status: http.StatusInternalServerError, contentType: "text/html", body: "<html>down</html>"},
			check: func(t *testing.T, err error) {
				var re *ResponseError
				if !errors.As(err, &re) || re.StatusCode != http.StatusInternalServerError {
					t.Errorf("error = %v (%T), want a *ResponseError with status 500", err, err)
				}
			},
		},
		{
			name:    "an HTTP 400 invalid_request is one *OAuthError for all",
			failure: srcOAuthFailure(http.StatusBadRequest, "invalid_request"),
			check: func(t *testing.T, err error) {
				var oe *OAuthError
				if !errors.As(err, &oe) || oe.Code != "invalid_request" {
					t.Errorf("error = %v (%T), want an *OAuthError invalid_request", err, err)
				}
				if !errors.Is(err, ErrInvalidRequest) {
					t.Errorf("errors.Is(%v, ErrInvalidRequest) = false, want true", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Two failures, then the endpoint recovers.
				e := srcNewEndpoint(func(n int, rt string) srcAnswer {
					if n <= 2 {
						return tt.failure
					}
					return srcGrant("at-3", "rt-3", 3600, "")
				})
				e.hold()
				src := NewSource(e.client(), srcExpired("at-0", "rt-0"))

				g := srcCall(t.Context(), src, waiters)
				synctest.Wait()
				srcWantRequests(t, e, 1)
				e.release()
				res := g.wait()
				srcWantRequests(t, e, 1)
				first := res[0].err
				if first == nil {
					t.Fatalf("Token succeeded with %q, want an error", srcAccessToken(res[0].tok))
				}
				tt.check(t, first)
				for i, r := range res {
					if r.tok != nil || r.err != first {
						t.Fatalf("waiter %d got (%v, %v), want (nil, the shared error %v)", i, r.tok, r.err, first)
					}
				}

				// Within the first backoff (1 s): the same error, no request.
				time.Sleep(minBackoff / 2)
				if _, err := src.Token(t.Context()); err != first {
					t.Errorf("Token within the backoff: error = %v, want the shared error", err)
				}
				srcWantRequests(t, e, 1)

				// After it: a new request, which fails again.
				time.Sleep(minBackoff / 2)
				if _, err := src.Token(t.Context()); err == nil {
					t.Errorf("Token after the backoff succeeded, want the second failure")
				} else {
					tt.check(t, err)
				}
				srcWantRequests(t, e, 2)

				// The backoff has doubled to 2 s: nothing new after 1 s.
				time.Sleep(minBackoff)
				if _, err := src.Token(t.Context()); err == nil {
					t.Errorf("Token 1 s into the doubled backoff succeeded, want the second failure")
				}
				srcWantRequests(t, e, 2)

				time.Sleep(minBackoff)
				if got := srcAccessToken(srcMustToken(t, src)); got != "at-3" {
					t.Errorf("Token after the doubled backoff = %q, want at-3", got)
				}
				srcWantRequests(t, e, 3)
				srcWantSent(t, e, "rt-0", "rt-0", "rt-0")
			})
		})
	}
}

func TestSourceBackoffGrowsToAMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := srcNewEndpoint(func(int, string) srcAnswer {
			return srcAnswer{status: http.StatusServiceUnavailable, contentType: "text/plain", body: "busy"}
		})
		c := e.client()
		c.MaxAttempts = 1 // one request per run: the Client would retry a 503
		src := NewSource(c, srcExpired("at-0", "rt-0"))
		backoffs := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
		for i, b := range backoffs {
			b *= time.Second
			if _, err := src.Token(t.Context()); err == nil {
				t.Fatalf("failure %d: Token succeeded, want an error", i+1)
			}
			srcWantRequests(t, e, i+1)
			time.Sleep(b - time.Millisecond)
			if _, err := src.Token(t.Context()); err == nil {
				t.Fatalf("failure %d: Token within the backoff succeeded, want an error", i+1)
			}
			if got := e.requests(); got != i+1 {
				t.Fatalf("after failure %d, a call %v later made a request; want a backoff of %v", i+1, b-time.Millisecond, b)
			}
			time.Sleep(time.Millisecond)
		}
	})
}

func TestSourceCancelledWaiter(t *testing.T) {
	tests := []struct {
		name string
		// ctx returns the first waiter's context and what ends its wait.
		ctx  func(parent context.Context) (context.Context, func())
		want error
	}{
		{
			name: "a waiter whose context is cancelled returns context.Canceled at once",
			ctx: func(parent context.Context) (context.Context, func()) {
				ctx, cancel := context.WithCancel(parent)
				return ctx, cancel
			},
			want: context.Canceled,
		},
		{
			name: "a waiter whose deadline passes returns context.DeadlineExceeded",
			ctx: func(parent context.Context) (context.Context, func()) {
				ctx, cancel := context.WithTimeout(parent, 5*time.Second)
				return ctx, func() { time.Sleep(6 * time.Second); cancel() }
			},
			want: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(srcRotating)
				e.hold()
				src := NewSource(e.client(), srcExpired("at-0", "rt-0"))

				// The waiter that gives up is the one that starts the refresh.
				ctx, end := tt.ctx(t.Context())
				quitter := srcCall(ctx, src, 1)
				synctest.Wait()
				srcWantRequests(t, e, 1)
				others := srcCall(t.Context(), src, 10)
				synctest.Wait()

				end()
				synctest.Wait()
				if quitter.returned() != 1 {
					t.Fatalf("the waiter whose context ended has not returned while the refresh is at the server")
				}
				q := quitter.wait()[0]
				if q.tok != nil || !errors.Is(q.err, tt.want) {
					t.Errorf("the waiter whose context ended got (%v, %v), want an error wrapping %v", q.tok, q.err, tt.want)
				}
				if n := others.returned(); n != 0 {
					t.Errorf("%d other waiters returned before the refresh did, want 0", n)
				}
				if err := e.lastContext().Err(); err != nil {
					t.Errorf("the refresh request's context ended with the waiter's: %v", err)
				}

				e.release()
				for i, r := range others.wait() {
					if r.err != nil || srcAccessToken(r.tok) != "at-1" {
						t.Errorf("other waiter %d got (%q, %v), want at-1", i, srcAccessToken(r.tok), r.err)
					}
				}
				if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
					t.Errorf("a later Token = %q, want at-1", got)
				}
				srcWantRequests(t, e, 1)
			})
		})
	}
}

func TestSourceRefreshTimeout(t *testing.T) {
	tests := []struct {
		name string
		opts []SourceOption
		want time.Duration
	}{
		{"a refresh stuck at the server ends after DefaultRefreshTimeout", nil, DefaultRefreshTimeout},
		{"WithRefreshTimeout sets the bound", []SourceOption{WithRefreshTimeout(5 * time.Second)}, 5 * time.Second},
		{"WithRefreshTimeout(0) keeps the default", []SourceOption{WithRefreshTimeout(0)}, DefaultRefreshTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(srcRotating)
				e.hold() // never released: only the timeout ends the request
				src := NewSource(e.client(), srcExpired("at-0", "rt-0"), tt.opts...)
				start := time.Now()
				g := srcCall(t.Context(), src, 3)
				for i, r := range g.wait() {
					if r.tok != nil || !errors.Is(r.err, context.DeadlineExceeded) {
						t.Errorf("waiter %d got (%v, %v), want an error wrapping context.DeadlineExceeded", i, r.tok, r.err)
					}
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("the waiters were answered after %v (fake time), want %v", got, tt.want)
				}
				srcWantRequests(t, e, 1)
			})
		})
	}
}

func TestSourceSavesBeforeTheTokenIsVisible(t *testing.T) {
	t.Run("callers without a valid token wait until Save returns, and Save gets the rotated refresh token", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			st := srcNewStore(nil)
			st.holdSave()
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"), WithStore(st))

			g := srcCall(t.Context(), src, 10)
			synctest.Wait()
			if got := st.saves.Load(); got != 1 {
				t.Fatalf("Save calls while the refresh is done = %d, want 1", got)
			}
			if n := g.returned(); n != 0 {
				t.Errorf("%d callers returned while Save was running, want 0", n)
			}
			saved := st.savedTokens()[0]
			if saved.AccessToken != "at-1" || saved.RefreshToken != "rt-1" {
				t.Errorf("Save got (%q, %q), want the new (at-1, rt-1)", saved.AccessToken, saved.RefreshToken)
			}

			st.releaseSave()
			for i, r := range g.wait() {
				if r.err != nil || srcAccessToken(r.tok) != "at-1" {
					t.Errorf("caller %d got (%q, %v), want at-1", i, srcAccessToken(r.tok), r.err)
				}
			}
			if at, rt := st.stored(t); at != "at-1" || rt != "rt-1" {
				t.Errorf("store holds (%q, %q), want (at-1, rt-1)", at, rt)
			}
		})
	})

	t.Run("during a refresh ahead callers keep getting the old token while Save runs", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			// Issued an hour ago, 10 s left: inside the 30 s leeway, still valid.
			initial := srcTokens("at-0", "rt-0", time.Now().Add(-time.Hour+10*time.Second), time.Hour)
			st := srcNewStore(initial)
			st.holdSave()
			src := NewSource(e.client(), initial, WithStore(st))

			if got := srcAccessToken(srcMustToken(t, src)); got != "at-0" {
				t.Fatalf("Token in the leeway = %q, want the still valid at-0", got)
			}
			synctest.Wait()
			if got := st.saves.Load(); got != 1 {
				t.Fatalf("Save calls = %d, want 1 (the background refresh is saving)", got)
			}
			for range 3 {
				if got := srcAccessToken(srcMustToken(t, src)); got != "at-0" {
					t.Fatalf("Token while Save runs = %q, want at-0: the new token is visible before it is saved", got)
				}
			}
			st.releaseSave()
			synctest.Wait()
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
				t.Errorf("Token after Save = %q, want at-1", got)
			}
			srcWantRequests(t, e, 1)
		})
	})

	t.Run("a StoreFunc sees every new set of tokens before Token returns it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			var saved []string
			var src *Source
			save := StoreFunc(func(ctx context.Context, tok *Tokens) error {
				// A Token call from inside Save still gets the old, valid token.
				got, err := src.Token(ctx)
				if err != nil || got.AccessToken == tok.AccessToken {
					t.Errorf("Token inside Save = (%q, %v), want the previous token", srcAccessToken(got), err)
				}
				saved = append(saved, tok.AccessToken+"/"+tok.RefreshToken)
				return nil
			})
			initial := srcTokens("at-0", "rt-0", time.Now().Add(-time.Hour+10*time.Second), time.Hour)
			src = NewSource(e.client(), initial, WithStore(save))
			for i := 1; i <= 2; i++ {
				srcMustToken(t, src)
				synctest.Wait()
				want := fmt.Sprintf("at-%d", i)
				if got := srcAccessToken(srcMustToken(t, src)); got != want {
					t.Fatalf("Token after refresh %d = %q, want %s", i, got, want)
				}
				time.Sleep(time.Hour - 10*time.Second) // into the next leeway
			}
			if diff := cmp.Diff([]string{"at-1/rt-1", "at-2/rt-2"}, saved); diff != "" {
				t.Errorf("tokens saved (-want +got):\n%s", diff)
			}
		})
	})
}

func TestSourceFailedSaveLosesNothing(t *testing.T) {
	t.Run("the caller gets a *StoreError, the new tokens are kept, and Save is retried after 1 s", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			initial := srcExpired("at-0", "rt-0")
			st := srcNewStore(initial)
			st.setSaveErr(errSrcSave)
			src := NewSource(e.client(), initial, WithStore(st))

			tok, err := src.Token(t.Context())
			var se *StoreError
			if !errors.As(err, &se) || se.Op != "save" || !errors.Is(err, errSrcSave) {
				t.Fatalf("Token = (%q, %v), want a *StoreError save wrapping the store's error", srcAccessToken(tok), err)
			}
			srcWantRequests(t, e, 1)

			// The new tokens are in memory: no request, no spent token sent.
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
				t.Errorf("Token after the failed save = %q, want the kept at-1", got)
			}
			if got := st.saves.Load(); got != 1 {
				t.Errorf("Save calls within the 1 s backoff = %d, want 1", got)
			}

			// The store works again; after the backoff the next call saves.
			st.setSaveErr(nil)
			time.Sleep(minBackoff)
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
				t.Errorf("Token after the backoff = %q, want at-1", got)
			}
			synctest.Wait()
			if got := st.saves.Load(); got != 2 {
				t.Errorf("Save calls after the backoff = %d, want 2", got)
			}
			if at, rt := st.stored(t); at != "at-1" || rt != "rt-1" {
				t.Errorf("store holds (%q, %q), want the kept (at-1, rt-1)", at, rt)
			}
			srcWantRequests(t, e, 1)

			// When at-1 expires, the refresh presents rt-1, never rt-0 again.
			time.Sleep(time.Hour)
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-2" {
				t.Errorf("Token after at-1 expired = %q, want at-2", got)
			}
			srcWantSent(t, e, "rt-0", "rt-1")
		})
	})

	t.Run("while saving keeps failing an expired token is refreshed with the unsaved refresh token", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			initial := srcExpired("at-0", "rt-0")
			st := srcNewStore(initial)
			st.setSaveErr(errSrcSave)
			src := NewSource(e.client(), initial, WithStore(st))

			if _, err := src.Token(t.Context()); !errors.As(err, new(*StoreError)) {
				t.Fatalf("Token error = %v, want a *StoreError", err)
			}
			time.Sleep(2 * time.Hour)
			_, err := src.Token(t.Context())
			if !errors.As(err, new(*StoreError)) {
				t.Errorf("Token after at-1 expired: error = %v, want a *StoreError (at-2 cannot be saved either)", err)
			}
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-2" {
				t.Errorf("Token = %q, want the kept at-2", got)
			}
			srcWantSent(t, e, "rt-0", "rt-1")
		})
	})

	t.Run("an invalid_grant for the unsaved refresh token does not make the Source present the spent one from the store", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// rt-0 is rotated into rt-1, which cannot be saved; later rt-1 is
			// revoked. The store still holds rt-0, which the Source itself spent:
			// presenting it again is reuse of a rotated refresh token, which
			// servers with reuse detection punish by revoking the whole grant.
			e := srcNewEndpoint(func(n int, rt string) srcAnswer {
				if n == 1 && rt == "rt-0" {
					return srcGrant("at-1", "rt-1", 3600, "")
				}
				return srcOAuthFailure(http.StatusBadRequest, "invalid_grant")
			})
			initial := srcExpired("at-0", "rt-0")
			st := srcNewStore(initial)
			st.setSaveErr(errSrcSave)
			src := NewSource(e.client(), initial, WithStore(st))

			if _, err := src.Token(t.Context()); !errors.As(err, new(*StoreError)) {
				t.Fatalf("Token error = %v, want a *StoreError", err)
			}
			time.Sleep(2 * time.Hour)
			if _, err := src.Token(t.Context()); !errors.Is(err, ErrInvalidGrant) {
				t.Errorf("Token after rt-1 was revoked: error = %v, want ErrInvalidGrant", err)
			}
			srcWantSent(t, e, "rt-0", "rt-1")
		})
	})
}

func TestSourceRotation(t *testing.T) {
	rtExpiry := time.Date(2000, time.March, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		scopes []string // of the initial tokens
		first  srcAnswer
		// What the first refresh gives, and what the second one must send.
		wantRT       string
		wantScopes   []string
		wantRTExpiry time.Time
	}{
		{
			name:         "a new refresh token replaces the old one and is sent next time",
			scopes:       []string{"read", "write"},
			first:        srcGrant("at-1", "rt-1", 3600, "read"),
			wantRT:       "rt-1",
			wantScopes:   []string{"read"},
			wantRTExpiry: time.Time{},
		},
		{
			name:         "without a new refresh token the old one, its expiry and the scope are kept",
			scopes:       []string{"read", "write"},
			first:        srcGrant("at-1", "", 3600, ""),
			wantRT:       "rt-0",
			wantScopes:   []string{"read", "write"},
			wantRTExpiry: rtExpiry,
		},
		{
			name:         "a new scope without a new refresh token replaces the scope only",
			scopes:       []string{"read", "write"},
			first:        srcGrant("at-1", "", 3600, "read"),
			wantRT:       "rt-0",
			wantScopes:   []string{"read"},
			wantRTExpiry: rtExpiry,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(func(n int, rt string) srcAnswer {
					if n == 1 {
						return tt.first
					}
					return srcGrant("at-2", "", 3600, "")
				})
				st := srcNewStore(nil)
				initial := srcExpired("at-0", "rt-0")
				initial.Scopes = tt.scopes
				initial.RefreshTokenExpiresAt = rtExpiry
				src := NewSource(e.client(), initial, WithStore(st))

				tok := srcMustToken(t, src)
				type view struct {
					AccessToken, RefreshToken string
					Scopes                    []string
					RefreshTokenExpiresAt     time.Time
				}
				want := view{"at-1", tt.wantRT, tt.wantScopes, tt.wantRTExpiry}
				got := view{tok.AccessToken, tok.RefreshToken, tok.Scopes, tok.RefreshTokenExpiresAt}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("tokens after the first refresh (-want +got):\n%s", diff)
				}
				saved := st.savedTokens()
				if len(saved) != 1 {
					t.Fatalf("Save calls = %d, want 1", len(saved))
				}
				gotSaved := view{saved[0].AccessToken, saved[0].RefreshToken, saved[0].Scopes, saved[0].RefreshTokenExpiresAt}
				if diff := cmp.Diff(want, gotSaved); diff != "" {
					t.Errorf("tokens saved (-want +got):\n%s", diff)
				}

				time.Sleep(time.Hour)
				if got := srcAccessToken(srcMustToken(t, src)); got != "at-2" {
					t.Errorf("Token after at-1 expired = %q, want at-2", got)
				}
				srcWantSent(t, e, "rt-0", tt.wantRT)
			})
		})
	}
}

func TestSourceInvalidGrantIsFinal(t *testing.T) {
	refusals := []struct {
		name   string
		answer srcAnswer
		target error
	}{
		{"invalid_grant with HTTP 400", srcOAuthFailure(http.StatusBadRequest, "invalid_grant"), ErrInvalidGrant},
		{"GitHub's bad_refresh_token with HTTP 200", srcOAuthFailure(http.StatusOK, "bad_refresh_token"), ErrorCode("bad_refresh_token")},
	}
	stores := []struct {
		name  string
		store func(initial *Tokens) Store
	}{
		{"without a store", func(*Tokens) Store { return nil }},
		{"with a store holding the refused tokens", func(initial *Tokens) Store { return NewMemoryStore(initial) }},
	}
	for _, rf := range refusals {
		for _, sc := range stores {
			t.Run(rf.name+" "+sc.name+" is never retried until SetTokens", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					e := srcNewEndpoint(func(n int, rt string) srcAnswer {
						if rt == "rt-new" {
							return srcGrant("at-2", "rt-2", 3600, "")
						}
						return rf.answer
					})
					initial := srcExpired("at-0", "rt-0")
					var opts []SourceOption
					if st := sc.store(initial); st != nil {
						opts = append(opts, WithStore(st))
					}
					src := NewSource(e.client(), initial, opts...)

					if _, err := src.Token(t.Context()); !errors.Is(err, rf.target) {
						t.Fatalf("Token error = %v, want one matching %v", err, rf.target)
					}
					// Past every backoff, for hours: never another request.
					for _, d := range []time.Duration{time.Second, 2 * time.Second, time.Minute, time.Hour, 24 * time.Hour} {
						time.Sleep(d)
						if _, err := src.Token(t.Context()); !errors.Is(err, rf.target) {
							t.Errorf("Token %v later: error = %v, want one matching %v", d, err, rf.target)
						}
					}
					srcWantSent(t, e, "rt-0")

					// New tokens clear it: a fresh one is used as it is...
					fresh := srcTokens("at-new", "rt-new", time.Now(), time.Hour)
					if err := src.SetTokens(t.Context(), fresh); err != nil {
						t.Fatalf("SetTokens: %v", err)
					}
					if got := srcAccessToken(srcMustToken(t, src)); got != "at-new" {
						t.Errorf("Token after SetTokens = %q, want at-new", got)
					}
					srcWantRequests(t, e, 1)
					// ...and its refresh token refreshes when it expires.
					time.Sleep(time.Hour)
					if got := srcAccessToken(srcMustToken(t, src)); got != "at-2" {
						t.Errorf("Token after at-new expired = %q, want at-2", got)
					}
					srcWantSent(t, e, "rt-0", "rt-new")
				})
			})
		}
	}

	t.Run("a store that gets a different refresh token lifts it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(func(n int, rt string) srcAnswer {
				if rt == "rt-other" {
					return srcGrant("at-2", "rt-2", 3600, "")
				}
				return srcOAuthFailure(http.StatusBadRequest, "invalid_grant")
			})
			initial := srcExpired("at-0", "rt-0")
			st := NewMemoryStore(initial)
			src := NewSource(e.client(), initial, WithStore(st))
			if _, err := src.Token(t.Context()); !errors.Is(err, ErrInvalidGrant) {
				t.Fatalf("Token error = %v, want ErrInvalidGrant", err)
			}
			// Another process signs the user in again and stores its tokens.
			if err := st.Save(t.Context(), srcExpired("at-other", "rt-other")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(minBackoff)
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-2" {
				t.Errorf("Token after the store got new tokens = %q, want at-2", got)
			}
			srcWantSent(t, e, "rt-0", "rt-other")
		})
	})

	t.Run("an invalid_grant for a refresh token adopted from the store is final too", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(func(int, string) srcAnswer {
				return srcOAuthFailure(http.StatusBadRequest, "invalid_grant")
			})
			now := time.Now()
			initial := srcTokens("at-0", "rt-0", now.Add(-3*time.Hour), time.Hour)
			// Another process rotated rt-0 into rt-other, which is then revoked.
			st := NewMemoryStore(srcTokens("at-other", "rt-other", now.Add(-2*time.Hour), time.Hour))
			src := NewSource(e.client(), initial, WithStore(st))

			if _, err := src.Token(t.Context()); !errors.Is(err, ErrInvalidGrant) {
				t.Fatalf("Token error = %v, want ErrInvalidGrant", err)
			}
			for _, d := range []time.Duration{time.Second, 2 * time.Second, time.Minute, time.Hour} {
				time.Sleep(d)
				if _, err := src.Token(t.Context()); !errors.Is(err, ErrInvalidGrant) {
					t.Errorf("Token %v later: error = %v, want ErrInvalidGrant", d, err)
				}
			}
			srcWantSent(t, e, "rt-other")
		})
	})
}

func TestSourceSharedStore(t *testing.T) {
	t.Run("tokens another process stored are adopted without a request when fresh", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			now := time.Now()
			ours := srcTokens("at-0", "rt-0", now.Add(-2*time.Hour), time.Hour)
			st := NewMemoryStore(srcTokens("at-B", "rt-B", now.Add(-time.Minute), time.Hour))
			src := NewSource(e.client(), ours, WithStore(st))
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-B" {
				t.Errorf("Token = %q, want the stored at-B", got)
			}
			srcWantRequests(t, e, 0)
		})
	})

	t.Run("two Sources sharing a store never send a refresh token the other has spent", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			initial := srcExpired("at-0", "rt-0")
			st := NewMemoryStore(initial)
			a := NewSource(e.client(), initial, WithStore(st))
			b := NewSource(e.client(), initial, WithStore(st))

			if got := srcAccessToken(srcMustToken(t, a)); got != "at-1" {
				t.Fatalf("A.Token = %q, want at-1", got)
			}
			if got := srcAccessToken(srcMustToken(t, b)); got != "at-1" {
				t.Errorf("B.Token = %q, want at-1 adopted from the store", got)
			}
			srcWantSent(t, e, "rt-0")

			time.Sleep(time.Hour)
			if got := srcAccessToken(srcMustToken(t, b)); got != "at-2" {
				t.Errorf("B.Token after expiry = %q, want at-2", got)
			}
			if got := srcAccessToken(srcMustToken(t, a)); got != "at-2" {
				t.Errorf("A.Token after expiry = %q, want at-2 adopted from the store", got)
			}
			srcWantSent(t, e, "rt-0", "rt-1")
		})
	})

	tests := []struct {
		name       string
		otherFresh bool // the other process's access token is still valid
		want       string
		wantSent   []string
	}{
		{
			name:     "after invalid_grant the tokens another process rotated meanwhile are reloaded and refreshed once",
			want:     "at-2",
			wantSent: []string{"rt-0", "rt-B"},
		},
		{
			name:       "after invalid_grant fresh tokens another process rotated meanwhile are used as they are",
			otherFresh: true,
			want:       "at-B",
			wantSent:   []string{"rt-0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(func(n int, rt string) srcAnswer {
					if rt == "rt-B" {
						return srcGrant("at-2", "rt-2", 3600, "")
					}
					// rt-0 was spent by the other process.
					return srcOAuthFailure(http.StatusBadRequest, "invalid_grant")
				})
				initial := srcExpired("at-0", "rt-0")
				st := srcNewStore(initial)
				// Issued after ours; valid for an hour, or expired already.
				other := *srcTokens("at-B", "rt-B", time.Now(), time.Hour)
				if !tt.otherFresh {
					other.ExpiresAt = other.IssuedAt
				}
				st.onLoad = func(n int) {
					if n == 1 { // between our Load and our request
						if err := st.mem.Save(context.Background(), &other); err != nil {
							t.Error(err)
						}
					}
				}
				src := NewSource(e.client(), initial, WithStore(st))

				tok, err := src.Token(t.Context())
				if err != nil {
					t.Fatalf("Token: %v", err)
				}
				if tok.AccessToken != tt.want {
					t.Errorf("Token = %q, want %q", tok.AccessToken, tt.want)
				}
				srcWantSent(t, e, tt.wantSent...)
				if at, _ := st.stored(t); at != tt.want {
					t.Errorf("store holds %q, want %q", at, tt.want)
				}
				if got := srcAccessToken(srcMustToken(t, src)); got != tt.want {
					t.Errorf("a later Token = %q, want %q", got, tt.want)
				}
				srcWantSent(t, e, tt.wantSent...)
			})
		})
	}
}

func TestSourceLeeway(t *testing.T) {
	tests := []struct {
		name     string
		life     time.Duration
		opts     []SourceOption
		freshFor time.Duration // no refresh before this, one at it
	}{
		{"a one-hour token is refreshed 30 s before expiry by default", time.Hour, nil, time.Hour - 30*time.Second},
		{"a 20-second token with a 30-second leeway is used for its first 10 s", 20 * time.Second, []SourceOption{WithLeeway(30 * time.Second)}, 10 * time.Second},
		{"a 2-minute leeway on a one-hour token refreshes 2 min before expiry", time.Hour, []SourceOption{WithLeeway(2 * time.Minute)}, 58 * time.Minute},
		{"WithLeeway(0) uses a token until it expires", time.Hour, []SourceOption{WithLeeway(0)}, time.Hour},
		{"a negative leeway counts as zero", time.Hour, []SourceOption{WithLeeway(-time.Minute)}, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(func(n int, rt string) srcAnswer {
					if n == 1 {
						return srcGrant("at-1", "rt-1", int(tt.life/time.Second), "")
					}
					return srcRotating(n, rt)
				})
				src := NewSource(e.client(), &Tokens{RefreshToken: "rt-0"}, tt.opts...)
				if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
					t.Fatalf("first Token = %q, want at-1", got)
				}
				if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
					t.Errorf("Token right after = %q, want at-1", got)
				}
				time.Sleep(tt.freshFor - time.Millisecond)
				if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
					t.Errorf("Token %v after issue = %q, want at-1", tt.freshFor-time.Millisecond, got)
				}
				synctest.Wait()
				srcWantRequests(t, e, 1)

				time.Sleep(time.Millisecond)
				srcMustToken(t, src)
				synctest.Wait()
				srcWantRequests(t, e, 2)
			})
		})
	}

	t.Run("in the leeway callers get the valid token at once while one background refresh waits at the server", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			e.hold()
			initial := srcTokens("at-0", "rt-0", time.Now().Add(-time.Hour+15*time.Second), time.Hour)
			src := NewSource(e.client(), initial)

			g := srcCall(t.Context(), src, 100)
			synctest.Wait()
			if n := g.returned(); n != 100 {
				t.Errorf("%d of 100 callers returned while the refresh is at the server, want all", n)
			}
			srcWantRequests(t, e, 1)
			e.release()
			for i, r := range g.wait() {
				if r.err != nil || srcAccessToken(r.tok) != "at-0" {
					t.Errorf("caller %d got (%q, %v), want the valid at-0", i, srcAccessToken(r.tok), r.err)
				}
			}
			synctest.Wait()
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
				t.Errorf("Token after the background refresh = %q, want at-1", got)
			}
			srcWantRequests(t, e, 1)
		})
	})

	t.Run("in the leeway callers take no lock while the background refresh runs", func(t *testing.T) {
		// Real time here: synctest does not treat a goroutine blocked on a
		// mutex as idle. The timeout only bounds a hang.
		e := srcNewEndpoint(srcRotating)
		e.hold()
		initial := srcTokens("at-0", "rt-0", time.Now().Add(-time.Hour+15*time.Second), time.Hour)
		src := NewSource(e.client(), initial)
		if got := srcAccessToken(srcMustToken(t, src)); got != "at-0" {
			t.Fatalf("first Token = %q, want at-0", got)
		}
		got := make(chan string, 1)
		src.mu.Lock()
		go func() {
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Errorf("Token during the refresh: %v", err)
			}
			got <- srcAccessToken(tok)
		}()
		select {
		case at := <-got:
			if at != "at-0" {
				t.Errorf("Token during the refresh = %q, want at-0", at)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Token waited for the Source's lock although its token is valid and a refresh is running")
		}
		f := src.flight
		src.mu.Unlock()
		e.release()
		if f == nil {
			t.Fatal("no refresh running after the first Token in the leeway")
		}
		<-f.done
		if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
			t.Errorf("Token after the background refresh = %q, want at-1", got)
		}
		srcWantRequests(t, e, 1)
	})

	t.Run("a failed background refresh keeps the valid token in use and is retried after the backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(func(n int, rt string) srcAnswer {
				if n == 1 {
					return srcAnswer{status: http.StatusBadGateway, body: "bad gateway"}
				}
				return srcRotating(n, rt)
			})
			initial := srcTokens("at-0", "rt-0", time.Now().Add(-time.Hour+15*time.Second), time.Hour)
			src := NewSource(e.client(), initial)
			for range 3 {
				if got := srcAccessToken(srcMustToken(t, src)); got != "at-0" {
					t.Fatalf("Token = %q, want at-0", got)
				}
				synctest.Wait()
			}
			srcWantRequests(t, e, 1)
			time.Sleep(minBackoff)
			srcMustToken(t, src)
			synctest.Wait()
			srcWantRequests(t, e, 2)
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-2" {
				t.Errorf("Token = %q, want at-2", got)
			}
		})
	})

	t.Run("callers block when no valid token is left", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			e.hold()
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"))
			g := srcCall(t.Context(), src, 10)
			synctest.Wait()
			if n := g.returned(); n != 0 {
				t.Errorf("%d callers returned with no valid token and the refresh at the server, want 0", n)
			}
			e.release()
			for i, r := range g.wait() {
				if r.err != nil || srcAccessToken(r.tok) != "at-1" {
					t.Errorf("caller %d got (%q, %v), want at-1", i, srcAccessToken(r.tok), r.err)
				}
			}
		})
	})
}

func TestSourceInitialTokens(t *testing.T) {
	tests := []struct {
		name     string
		client   bool             // false: NewSource(nil, ...)
		initial  func() *Tokens   // nil: a nil initial
		store    func() *srcStore // nil: no store
		wantAT   string
		wantErr  func(t *testing.T, err error)
		wantSent []string
	}{
		{
			name:    "nil initial with a store holding a fresh token uses it without a request",
			client:  true,
			store:   func() *srcStore { return srcNewStore(srcTokens("at-S", "rt-S", time.Now(), time.Hour)) },
			wantAT:  "at-S",
			wantErr: nil,
		},
		{
			name:     "nil initial with a store holding an expired token refreshes with the stored refresh token",
			client:   true,
			store:    func() *srcStore { return srcNewStore(srcExpired("at-S", "rt-S")) },
			wantAT:   "at-1",
			wantSent: []string{"rt-S"},
		},
		{
			name:    "nil initial with an empty store is an error wrapping ErrNoRefreshToken",
			client:  true,
			store:   func() *srcStore { return srcNewStore(nil) },
			wantErr: srcWantConfigError(ErrNoRefreshToken),
		},
		{
			name:    "nil initial with a failing store is a *StoreError load",
			client:  true,
			store:   func() *srcStore { s := srcNewStore(nil); s.setLoadErr(errSrcLoad); return s },
			wantErr: srcWantStoreError("load", errSrcLoad),
		},
		{
			name:    "nil initial without a store is an error wrapping ErrNoRefreshToken",
			client:  true,
			wantErr: srcWantConfigError(ErrNoRefreshToken),
		},
		{
			name:   "initial tokens without a refresh token and expired are an error wrapping ErrNoRefreshToken",
			client: true,
			initial: func() *Tokens {
				return &Tokens{AccessToken: "at-0", TokenType: "Bearer", ExpiresAt: time.Now().Add(-time.Minute)}
			},
			wantErr: srcWantConfigError(ErrNoRefreshToken),
		},
		{
			name:    "initial tokens without expiry are used as they are",
			client:  true,
			initial: func() *Tokens { return &Tokens{AccessToken: "at-0", TokenType: "Bearer", RefreshToken: "rt-0"} },
			wantAT:  "at-0",
		},
		{
			name:    "a nil Client is a *ConfigError, not a panic",
			initial: func() *Tokens { return &Tokens{RefreshToken: "rt-0"} },
			wantErr: srcWantConfigError(nil),
		},
		{
			name:    "a nil Client with a store is a *ConfigError too",
			store:   func() *srcStore { return srcNewStore(srcExpired("at-S", "rt-S")) },
			wantErr: srcWantConfigError(nil),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(srcRotating)
				var c *Client
				if tt.client {
					c = e.client()
				}
				var opts []SourceOption
				if tt.store != nil {
					opts = append(opts, WithStore(tt.store()))
				}
				var initial *Tokens
				if tt.initial != nil {
					initial = tt.initial()
				}
				src := NewSource(c, initial, opts...)
				for i := range 2 { // the second call answers the same way
					tok, err := src.Token(t.Context())
					if tt.wantErr != nil {
						if tok != nil {
							t.Errorf("call %d: Token returned %q with the error, want nil", i+1, tok.AccessToken)
						}
						tt.wantErr(t, err)
						continue
					}
					if err != nil {
						t.Fatalf("call %d: Token: %v", i+1, err)
					}
					if tok.AccessToken != tt.wantAT {
						t.Errorf("call %d: Token = %q, want %q", i+1, tok.AccessToken, tt.wantAT)
					}
				}
				srcWantSent(t, e, tt.wantSent...)
			})
		})
	}

	t.Run("nil initial with an empty store adopts tokens stored later, after the backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			st := NewMemoryStore(nil)
			src := NewSource(e.client(), nil, WithStore(st))
			if _, err := src.Token(t.Context()); !errors.Is(err, ErrNoRefreshToken) {
				t.Fatalf("Token error = %v, want ErrNoRefreshToken", err)
			}
			if err := st.Save(t.Context(), srcTokens("at-S", "rt-S", time.Now(), time.Hour)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(minBackoff)
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-S" {
				t.Errorf("Token = %q, want the stored at-S", got)
			}
			srcWantRequests(t, e, 0)
		})
	})
}

// srcWantConfigError checks for a *ConfigError that wraps cause (when non-nil).
func srcWantConfigError(cause error) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("error = %v (%T), want a *ConfigError", err, err)
		}
		if cause != nil && !errors.Is(err, cause) {
			t.Errorf("error = %v, want one wrapping %v", err, cause)
		}
	}
}

// srcWantStoreError checks for a *StoreError of op that wraps cause.
func srcWantStoreError(op string, cause error) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var se *StoreError
		if !errors.As(err, &se) || se.Op != op || !errors.Is(err, cause) {
			t.Errorf("error = %v (%T), want a *StoreError %s wrapping %v", err, err, op, cause)
		}
	}
}

func TestSourceInvalidate(t *testing.T) {
	t.Run("after Invalidate of the current token the next Token refreshes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			src := NewSource(e.client(), srcTokens("at-0", "rt-0", time.Now(), time.Hour))
			tok := srcMustToken(t, src)
			src.Invalidate(tok)
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
				t.Errorf("Token after Invalidate = %q, want at-1", got)
			}
			srcWantSent(t, e, "rt-0")
		})
	})

	t.Run("Invalidate of a token a newer one has replaced does nothing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			src := NewSource(e.client(), srcTokens("at-0", "rt-0", time.Now(), time.Hour))
			old := srcMustToken(t, src)
			src.Invalidate(old)
			srcMustToken(t, src) // at-1
			src.Invalidate(old)
			src.Invalidate(&Tokens{AccessToken: "some other token"})
			src.Invalidate(nil)
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
				t.Errorf("Token = %q, want at-1", got)
			}
			srcWantRequests(t, e, 1)
		})
	})

	t.Run("Invalidate of a token still waiting to be saved makes the next Token refresh", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// at-1 could not be saved; a resource server then rejects it. The
			// save retry must not put the rejected token back in use.
			e := srcNewEndpoint(srcRotating)
			initial := srcExpired("at-0", "rt-0")
			st := srcNewStore(initial)
			st.setSaveErr(errSrcSave)
			src := NewSource(e.client(), initial, WithStore(st))
			if _, err := src.Token(t.Context()); !errors.As(err, new(*StoreError)) {
				t.Fatalf("Token error = %v, want a *StoreError", err)
			}
			rejected := srcMustToken(t, src)
			if rejected.AccessToken != "at-1" {
				t.Fatalf("Token = %q, want the unsaved at-1", rejected.AccessToken)
			}
			st.setSaveErr(nil)
			src.Invalidate(rejected)
			time.Sleep(minBackoff)
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-2" {
				t.Errorf("Token after Invalidate = %q, want at-2 from a new refresh", got)
			}
			srcWantSent(t, e, "rt-0", "rt-1")
		})
	})

	t.Run("Invalidate on a Source without tokens does nothing", func(t *testing.T) {
		src := NewSource(nil, nil)
		src.Invalidate(&Tokens{AccessToken: "at-0"})
	})

	t.Run("50 goroutines invalidating the same token cause one refresh", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			e.hold()
			src := NewSource(e.client(), srcTokens("at-0", "rt-0", time.Now(), time.Hour))
			old := srcMustToken(t, src)
			res := make([]srcResult, 50)
			var wg sync.WaitGroup
			for i := range res {
				wg.Go(func() {
					src.Invalidate(old)
					tok, err := src.Token(t.Context())
					res[i] = srcResult{tok, err}
				})
			}
			synctest.Wait()
			srcWantRequests(t, e, 1)
			e.release()
			wg.Wait()
			for i, r := range res {
				if r.err != nil || srcAccessToken(r.tok) != "at-1" {
					t.Errorf("goroutine %d got (%q, %v), want at-1", i, srcAccessToken(r.tok), r.err)
				}
			}
			srcWantRequests(t, e, 1)
		})
	})
}

func TestSourceSetTokens(t *testing.T) {
	t.Run("nil tokens are a *ConfigError", func(t *testing.T) {
		src := NewSource(nil, nil)
		if err := src.SetTokens(t.Context(), nil); !errors.As(err, new(*ConfigError)) {
			t.Errorf("SetTokens(nil) = %v, want a *ConfigError", err)
		}
	})

	t.Run("the tokens set are saved and used without a request", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			st := srcNewStore(nil)
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"), WithStore(st))
			if err := src.SetTokens(t.Context(), srcTokens("at-set", "rt-set", time.Now(), time.Hour)); err != nil {
				t.Fatalf("SetTokens: %v", err)
			}
			if at, rt := st.stored(t); at != "at-set" || rt != "rt-set" {
				t.Errorf("store holds (%q, %q), want (at-set, rt-set)", at, rt)
			}
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-set" {
				t.Errorf("Token = %q, want at-set", got)
			}
			srcWantRequests(t, e, 0)
		})
	})

	t.Run("SetTokens waits for a refresh in progress and wins over it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			e.hold()
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"))
			g := srcCall(t.Context(), src, 1)
			synctest.Wait()
			var setDone atomic.Bool
			var setErr error
			var wg sync.WaitGroup
			wg.Go(func() {
				setErr = src.SetTokens(t.Context(), srcTokens("at-set", "rt-set", time.Now(), time.Hour))
				setDone.Store(true)
			})
			synctest.Wait()
			if setDone.Load() {
				t.Errorf("SetTokens returned while a refresh was in progress")
			}
			e.release()
			wg.Wait()
			if setErr != nil {
				t.Fatalf("SetTokens: %v", setErr)
			}
			if r := g.wait()[0]; srcAccessToken(r.tok) != "at-1" {
				t.Errorf("the waiter got (%q, %v), want at-1", srcAccessToken(r.tok), r.err)
			}
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-set" {
				t.Errorf("Token after SetTokens = %q, want at-set", got)
			}
		})
	})

	t.Run("a refresh token alone set while a caller waits is refreshed for that caller", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			st := srcNewStore(nil)
			st.holdSave()
			src := NewSource(e.client(), nil, WithStore(st))
			var wg sync.WaitGroup
			wg.Go(func() {
				if err := src.SetTokens(t.Context(), &Tokens{RefreshToken: "rt-new"}); err != nil {
					t.Errorf("SetTokens: %v", err)
				}
			})
			synctest.Wait() // SetTokens is saving
			g := srcCall(t.Context(), src, 1)
			synctest.Wait()
			if g.returned() != 0 {
				t.Errorf("the caller returned while SetTokens was saving")
			}
			st.releaseSave()
			wg.Wait()
			if r := g.wait()[0]; r.err != nil || srcAccessToken(r.tok) != "at-1" {
				t.Errorf("the caller got (%q, %v), want at-1", srcAccessToken(r.tok), r.err)
			}
			srcWantSent(t, e, "rt-new")
		})
	})

	t.Run("a failing Save in SetTokens is a *StoreError, the tokens are used and saved later", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			st := srcNewStore(nil)
			st.setSaveErr(errSrcSave)
			src := NewSource(e.client(), nil, WithStore(st))
			err := src.SetTokens(t.Context(), srcTokens("at-set", "rt-set", time.Now(), time.Hour))
			srcWantStoreError("save", errSrcSave)(t, err)
			st.setSaveErr(nil)
			time.Sleep(minBackoff) // a failed save is tried again after a backoff
			if got := srcAccessToken(srcMustToken(t, src)); got != "at-set" {
				t.Errorf("Token = %q, want at-set", got)
			}
			synctest.Wait()
			if at, _ := st.stored(t); at != "at-set" {
				t.Errorf("store holds %q, want at-set saved again", at)
			}
			srcWantRequests(t, e, 0)
		})
	})

	t.Run("SetTokens gives up waiting when its context ends", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			e.hold()
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"))
			g := srcCall(t.Context(), src, 1)
			synctest.Wait()
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := src.SetTokens(ctx, srcTokens("at-set", "rt-set", time.Now(), time.Hour)); !errors.Is(err, context.Canceled) {
				t.Errorf("SetTokens = %v, want context.Canceled", err)
			}
			e.release()
			g.wait()
		})
	})
}

// srcLogBuffer collects log output from any goroutine.
type srcLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *srcLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *srcLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSourceLogsEventsWithoutSecrets(t *testing.T) {
	// Long values, so that the client's redaction of echoed secrets applies.
	secrets := []string{
		"access-secret-0", "access-secret-1", "access-secret-2",
		"access-secret-3", "refresh-secret-0", "refresh-secret-1", "refresh-secret-2", "refresh-secret-3",
		srcClientSecret,
	}
	handlers := []struct {
		name string
		new  func(io.Writer) slog.Handler
	}{
		{"text", func(w io.Writer) slog.Handler {
			return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
		}},
		{"JSON", func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
		}},
	}
	for _, h := range handlers {
		t.Run("the "+h.name+" handler gets every event and no secret", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(func(n int, rt string) srcAnswer {
					switch n {
					case 2: // an error that echoes the refresh token and client secret
						return srcAnswer{status: http.StatusBadRequest, contentType: "application/json",
							body: `{"error":"invalid_request","error_description":"bad ` + rt + ` for ` + srcClientSecret + `"}`}
					case 3:
						return srcGrant("access-secret-2", "refresh-secret-2", 3600, "")
					}
					return srcGrant("access-secret-1", "refresh-secret-1", 3600, "")
				})
				var buf srcLogBuffer
				st := srcNewStore(nil)
				initial := srcExpired("access-secret-0", "refresh-secret-0")
				src := NewSource(e.client(), initial, WithStore(st), WithLogger(slog.New(h.new(&buf))))

				srcMustToken(t, src) // refreshed
				time.Sleep(time.Hour)
				st.setLoadErr(errSrcLoad)
				if _, err := src.Token(t.Context()); err == nil { // load failed, refresh failed
					t.Fatal("second Token succeeded, want the endpoint's error")
				}
				st.setLoadErr(nil)
				st.setSaveErr(errSrcSave)
				time.Sleep(minBackoff)
				if _, err := src.Token(t.Context()); err == nil { // store failed
					t.Fatal("third Token succeeded, want a *StoreError")
				}
				st.setSaveErr(nil)
				time.Sleep(minBackoff)
				srcMustToken(t, src) // saved after the failure, in the background
				synctest.Wait()
				// Another process stores newer tokens; ours are rejected.
				if err := st.mem.Save(t.Context(), srcTokens("access-secret-3", "refresh-secret-3", time.Now(), time.Hour)); err != nil {
					t.Fatal(err)
				}
				src.Invalidate(srcMustToken(t, src))
				if got := srcMustToken(t, src); got.AccessToken != "access-secret-3" { // loaded
					t.Errorf("Token after Invalidate did not adopt the stored tokens")
				}
				synctest.Wait()

				out := buf.String()
				// The events, by words of their messages.
				for _, event := range []string{
					"refreshing token",
					"token refreshed",
					"refresh failed",
					"store load failed",
					"kept in memory",
					"refresh: tokens saved",
					"loaded from the store",
					"duration",
					"invalid_request",
					errSrcLoad.Error(),
					errSrcSave.Error(),
				} {
					if !strings.Contains(out, event) {
						t.Errorf("log output lacks %q", event)
					}
				}
				for _, s := range secrets {
					if strings.Contains(out, s) {
						t.Errorf("log output shows the secret %q", s)
					}
				}
				if t.Failed() {
					t.Logf("log output:\n%s", out)
				}
			})
		})
	}

	t.Run("without WithLogger nothing is logged through slog.Default", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var buf srcLogBuffer
			prev := slog.Default()
			slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
			defer slog.SetDefault(prev)
			e := srcNewEndpoint(srcRotating)
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"), WithLogger(nil))
			srcMustToken(t, src)
			synctest.Wait()
			if out := buf.String(); out != "" {
				t.Errorf("slog.Default got %q, want nothing", out)
			}
		})
	})
}

func TestSourceStringShowsNoSecret(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := srcNewEndpoint(srcRotating)
		initial := srcTokens("access-secret-0", "refresh-secret-0", time.Now(), time.Hour)
		initial.IDToken = "id-token-secret-0"
		src := NewSource(e.client(), initial, WithStore(NewMemoryStore(initial)))
		srcMustToken(t, src)
		secrets := []string{"access-secret-0", "refresh-secret-0", "id-token-secret-0", srcClientSecret}

		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("source", "src", src)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("source", "src", src)
		renderings := map[string]string{
			"String":      src.String(),
			"slog text":   text.String(),
			"slog JSON":   js.String(),
			"Sprint":      fmt.Sprint(src),
			"Sprint list": fmt.Sprint([]*Source{src}),
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			renderings[verb] = fmt.Sprintf(verb, src)
		}
		for name, s := range renderings {
			for _, secret := range secrets {
				if strings.Contains(s, secret) {
					t.Errorf("%s of a Source shows the secret %q: %s", name, secret, s)
				}
			}
		}
		if got := src.String(); !strings.HasPrefix(got, "refresh.Source{") || !strings.Contains(got, srcTokenURL) {
			t.Errorf("String() = %q, want refresh.Source{...} naming the token endpoint", got)
		}
		if got, want := fmt.Sprintf("%v|%#v", (*Source)(nil), (*Source)(nil)), "refresh.Source(nil)|refresh.Source(nil)"; got != want {
			t.Errorf("a nil *Source prints %q, want %q", got, want)
		}
		if got := NewSource(nil, nil).String(); !strings.HasPrefix(got, "refresh.Source{") {
			t.Errorf("String() of a Source without Client = %q", got)
		}
	})
}

func TestMemoryStore(t *testing.T) {
	ctx := t.Context()
	tokens := func() *Tokens {
		return &Tokens{AccessToken: "at-0", TokenType: "Bearer", RefreshToken: "rt-0", Scopes: []string{"read"}}
	}
	load := func(t *testing.T, s *MemoryStore) *Tokens {
		t.Helper()
		got, err := s.Load(ctx)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		return got
	}

	t.Run("the zero value and NewMemoryStore(nil) are empty: Load returns nil, nil", func(t *testing.T) {
		for name, s := range map[string]*MemoryStore{"zero value": new(MemoryStore), "NewMemoryStore(nil)": NewMemoryStore(nil)} {
			if got, err := s.Load(ctx); got != nil || err != nil {
				t.Errorf("%s: Load = (%v, %v), want (nil, nil)", name, got, err)
			}
		}
	})

	t.Run("NewMemoryStore keeps a copy of its argument", func(t *testing.T) {
		in := tokens()
		s := NewMemoryStore(in)
		in.AccessToken = "changed"
		if diff := cmp.Diff(tokens(), load(t, s), srcIgnoreRaw); diff != "" {
			t.Errorf("Load (-want +got):\n%s", diff)
		}
	})

	t.Run("Load returns a new copy each time", func(t *testing.T) {
		s := NewMemoryStore(tokens())
		a := load(t, s)
		a.AccessToken = "changed"
		b := load(t, s)
		if a == b {
			t.Errorf("two Loads returned the same *Tokens")
		}
		if diff := cmp.Diff(tokens(), b, srcIgnoreRaw); diff != "" {
			t.Errorf("Load after changing a loaded value (-want +got):\n%s", diff)
		}
	})

	t.Run("Save keeps a copy and replaces what was stored", func(t *testing.T) {
		s := NewMemoryStore(&Tokens{AccessToken: "old"})
		in := tokens()
		if err := s.Save(ctx, in); err != nil {
			t.Fatalf("Save: %v", err)
		}
		in.RefreshToken = "changed"
		got := load(t, s)
		if got == in {
			t.Errorf("Load returned the pointer given to Save")
		}
		if diff := cmp.Diff(tokens(), got, srcIgnoreRaw); diff != "" {
			t.Errorf("Load after Save (-want +got):\n%s", diff)
		}
	})

	t.Run("the scopes are copied too", func(t *testing.T) {
		in := tokens()
		s := NewMemoryStore(in)
		in.Scopes[0] = "changed by the caller of NewMemoryStore"
		got := load(t, s)
		got.Scopes[0] = "changed by the caller of Load"
		saved := tokens()
		if err := s.Save(ctx, saved); err != nil {
			t.Fatalf("Save: %v", err)
		}
		saved.Scopes[0] = "changed by the caller of Save"
		if diff := cmp.Diff([]string{"read"}, load(t, s).Scopes); diff != "" {
			t.Errorf("stored scopes (-want +got):\n%s", diff)
		}
		s = NewMemoryStore(tokens())
		load(t, s).Scopes[0] = "changed by the caller of Load"
		if diff := cmp.Diff([]string{"read"}, load(t, s).Scopes); diff != "" {
			t.Errorf("stored scopes after changing a loaded value (-want +got):\n%s", diff)
		}
	})

	t.Run("Save(nil) empties the store", func(t *testing.T) {
		s := NewMemoryStore(tokens())
		if err := s.Save(ctx, nil); err != nil {
			t.Fatalf("Save(nil): %v", err)
		}
		if got := load(t, s); got != nil {
			t.Errorf("Load after Save(nil) = %v, want nil", got)
		}
	})

	t.Run("concurrent Load and Save are safe", func(t *testing.T) {
		var s MemoryStore
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for j := range 100 {
					if err := s.Save(ctx, &Tokens{AccessToken: fmt.Sprint(i, j)}); err != nil {
						t.Error(err)
					}
					if _, err := s.Load(ctx); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
	})
}

func TestStoreFunc(t *testing.T) {
	t.Run("Load finds nothing and does not call the function", func(t *testing.T) {
		called := false
		f := StoreFunc(func(context.Context, *Tokens) error { called = true; return nil })
		if got, err := f.Load(t.Context()); got != nil || err != nil {
			t.Errorf("Load = (%v, %v), want (nil, nil)", got, err)
		}
		if called {
			t.Errorf("Load called the save function")
		}
	})

	t.Run("Save passes its context and tokens to the function and returns its error", func(t *testing.T) {
		type key struct{}
		ctx := context.WithValue(t.Context(), key{}, "v")
		in := &Tokens{AccessToken: "at-0"}
		var gotCtx context.Context
		var gotTok *Tokens
		f := StoreFunc(func(ctx context.Context, tok *Tokens) error {
			gotCtx, gotTok = ctx, tok
			return errSrcSave
		})
		if err := f.Save(ctx, in); err != errSrcSave {
			t.Errorf("Save = %v, want the function's error", err)
		}
		if gotTok != in || gotCtx == nil || gotCtx.Value(key{}) != "v" {
			t.Errorf("the function got (%v, %v), want Save's arguments", gotCtx, gotTok)
		}
	})

	t.Run("as a Source's store it starts from the initial tokens and receives each new set", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := srcNewEndpoint(srcRotating)
			var saved []string
			src := NewSource(e.client(), srcExpired("at-0", "rt-0"), WithStore(StoreFunc(func(_ context.Context, tok *Tokens) error {
				saved = append(saved, tok.RefreshToken)
				return nil
			})))
			for range 2 {
				srcMustToken(t, src)
				time.Sleep(time.Hour)
			}
			srcWantSent(t, e, "rt-0", "rt-1")
			if diff := cmp.Diff([]string{"rt-1", "rt-2"}, saved); diff != "" {
				t.Errorf("refresh tokens saved (-want +got):\n%s", diff)
			}
		})
	})
}

func TestSourceNilReceiverAndArgumentsAreErrors(t *testing.T) {
	var nilSource *Source
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"Token on a nil Source", func() error { _, err := nilSource.Token(context.Background()); return err }, "Source"},
		{"SetTokens on a nil Source", func() error { return nilSource.SetTokens(context.Background(), &Tokens{}) }, "Source"},
		{"SetTokens with nil tokens", func() error {
			return NewSource(&Client{TokenURL: "https://example.com/token"}, nil).SetTokens(context.Background(), nil)
		}, "tokens"},
		{"Token with a nil context when a refresh is needed", func() error {
			//lint:ignore SA1012 a nil context is the bad input under test
			_, err := NewSource(&Client{TokenURL: "https://example.com/token"}, &Tokens{RefreshToken: "rt"}).Token(nil)
			return err
		}, "ctx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ce *ConfigError
			if err := tt.call(); !errors.As(err, &ce) || ce.Field != tt.field {
				t.Errorf("error = %v, want a *ConfigError for %s", err, tt.field)
			}
		})
	}
	nilSource.Invalidate(&Tokens{AccessToken: "at"}) // must not panic
}

func TestSourceLogsBeforeReleasingWaiters(t *testing.T) {
	// A caller that returns from Token finds the run's log line already written:
	// the buffer is read with no lock and no wait, which the race detector
	// reports if the line is still being written.
	for i := range 20 {
		e := srcNewEndpoint(func(n int, rt string) srcAnswer {
			return srcGrant("access-secret-1", "refresh-secret-1", 3600, "")
		})
		var buf bytes.Buffer
		src := NewSource(e.client(), srcExpired("access-secret-0", "refresh-secret-0"),
			WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
		srcMustToken(t, src)
		if out := buf.String(); !strings.Contains(out, "token refreshed") {
			t.Fatalf("run %d: after Token returned the log holds %q, want the \"token refreshed\" line", i, out)
		}
	}
}
