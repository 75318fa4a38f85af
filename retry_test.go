package refresh_test

// Tests of the retry policy (retry.go): the policies as functions, the retry
// loop of Client.Refresh in a testing/synctest bubble (fake time, so waits cost
// nothing and are exact), and the classification of "not sent" over real
// loopback sockets. Every top-level name here starts with "retry" or
// "TestRetry"/"ExampleRetry".

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
)

// retryRoundTripFunc is an http.RoundTripper made of a function.
type retryRoundTripFunc func(*http.Request) (*http.Response, error)

func (f retryRoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// retryAnswer is one scripted answer: an error, or a response.
type retryAnswer struct {
	err     error
	status  int
	header  http.Header
	body    string
	bodyErr error // the body fails with this after body
}

// retryOK is a token response.
var retryOK = retryAnswer{status: 200, header: http.Header{"Content-Type": {"application/json"}},
	body: `{"access_token":"at-1","token_type":"Bearer","refresh_token":"rt-1"}`}

func retryStatus(status int, header http.Header, body string) retryAnswer {
	return retryAnswer{status: status, header: header, body: body}
}

// retryBody is a response body that records whether it was closed and can fail
// after its content.
type retryBody struct {
	r      io.Reader
	err    error
	closed *atomic.Int32
}

func (b *retryBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *retryBody) Close() error { b.closed.Add(1); return nil }

// retryScript is a token endpoint that answers the n-th request with
// answers[n-1] (the last one again after the end) and records what it got.
type retryScript struct {
	answers []retryAnswer
	mu      sync.Mutex
	bodies  []string
	closed  atomic.Int32 // response bodies closed
}

func (s *retryScript) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	req.Body.Close()
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	a := s.answers[min(len(s.bodies), len(s.answers))-1]
	s.mu.Unlock()
	if a.err != nil {
		return nil, a.err
	}
	h := a.header
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: a.status, Header: h.Clone(), ContentLength: -1, Request: req,
		Body: &retryBody{r: strings.NewReader(a.body), err: a.bodyErr, closed: &s.closed}}, nil
}

func (s *retryScript) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// retryClient returns a Client of s whose Auth adds a fresh jti to every
// request it builds, as a private_key_jwt assertion must.
func retryClient(s *retryScript) *refresh.Client {
	var jti atomic.Int32
	return &refresh.Client{
		TokenURL:   "https://as.example.com/token",
		HTTPClient: &http.Client{Transport: s},
		Now:        func() time.Time { return t0 },
		Auth: refresh.AuthFunc(func(r *refresh.AuthRequest) error {
			return r.SetParam("client_assertion", fmt.Sprintf("jti-%d", jti.Add(1)))
		}),
	}
}

// retryAttempts returns the attempts an error of Refresh reports: the
// RetryError's count, or 1 for any other error.
func retryAttempts(err error) int {
	var re *refresh.RetryError
	if errors.As(err, &re) {
		return re.Attempts
	}
	return 1
}

// retryDialRefused is what an *http.Transport returns when nothing listens.
var retryDialRefused = &net.OpError{Op: "dial", Net: "tcp", Err: &net.OpError{Err: syscall.ECONNREFUSED}}

func retryURLError(err error) error {
	return &url.Error{Op: "Post", URL: "https://as.example.com/token", Err: err}
}

func TestRetryPolicies(t *testing.T) {
	oauth := func(status int, code string) error {
		return &refresh.OAuthError{Code: code, StatusCode: status}
	}
	resp := func(status int, reason string, err error) error {
		return &refresh.ResponseError{StatusCode: status, Reason: reason, Err: err}
	}
	var jsonErr error = &json.SyntaxError{}
	tests := []struct {
		name                  string
		a                     refresh.RetryAttempt
		cancelled             bool
		wantDefault, wantAmbi bool
	}{
		{name: "connection refused before sending", a: refresh.RetryAttempt{Err: retryURLError(retryDialRefused), NotSent: true}, wantDefault: true, wantAmbi: true},
		{name: "a DNS failure", a: refresh.RetryAttempt{Err: retryURLError(&net.DNSError{Err: "no such host", Name: "as.example.com"}), NotSent: true}, wantDefault: true, wantAmbi: true},
		{name: "a certificate the client does not trust", a: refresh.RetryAttempt{Err: retryURLError(x509.UnknownAuthorityError{}), NotSent: true}},
		{name: "429 without an OAuth body", a: refresh.RetryAttempt{StatusCode: 429, Err: resp(429, "error status without an OAuth error body", nil)}, wantDefault: true, wantAmbi: true},
		{name: "503 without an OAuth body", a: refresh.RetryAttempt{StatusCode: 503, Err: resp(503, "error status without an OAuth error body", nil)}, wantDefault: true, wantAmbi: true},
		{name: "503 temporarily_unavailable", a: refresh.RetryAttempt{StatusCode: 503, Err: oauth(503, "temporarily_unavailable")}, wantDefault: true, wantAmbi: true},
		{name: "429 with invalid_grant", a: refresh.RetryAttempt{StatusCode: 429, Err: oauth(429, "invalid_grant")}},
		{name: "400 invalid_grant", a: refresh.RetryAttempt{StatusCode: 400, Err: oauth(400, "invalid_grant")}},
		{name: "401 invalid_client", a: refresh.RetryAttempt{StatusCode: 401, Err: oauth(401, "invalid_client")}},
		{name: "an error with HTTP 200", a: refresh.RetryAttempt{StatusCode: 200, Err: oauth(200, "bad_refresh_token")}},
		{name: "a 502 page from a proxy", a: refresh.RetryAttempt{StatusCode: 502, Err: resp(502, "error status without an OAuth error body", nil)}, wantAmbi: true},
		{name: "a 504 page from a proxy", a: refresh.RetryAttempt{StatusCode: 504, Err: resp(504, "error status without an OAuth error body", nil)}, wantAmbi: true},
		{name: "a 500", a: refresh.RetryAttempt{StatusCode: 500, Err: resp(500, "error status without an OAuth error body", nil)}},
		{name: "a 307 redirect", a: refresh.RetryAttempt{StatusCode: 307, Err: resp(307, "redirect not followed", nil)}},
		{name: "a body over the cap", a: refresh.RetryAttempt{StatusCode: 200, Err: resp(200, "body larger than 10 bytes", refresh.ErrResponseTooLarge)}},
		{name: "malformed JSON", a: refresh.RetryAttempt{StatusCode: 200, Err: resp(200, "malformed JSON", jsonErr)}},
		{name: "a connection reset while the body came", a: refresh.RetryAttempt{StatusCode: 200, Err: resp(200, "reading body", &net.OpError{Op: "read", Err: syscall.ECONNRESET})}, wantAmbi: true},
		{name: "a body cut short", a: refresh.RetryAttempt{StatusCode: 200, Err: resp(200, "reading body", io.ErrUnexpectedEOF)}, wantAmbi: true},
		{name: "a reset before the answer, maybe after sending", a: refresh.RetryAttempt{Err: retryURLError(io.EOF)}, wantAmbi: true},
		{name: "an error of an unknown transport", a: refresh.RetryAttempt{Err: retryURLError(errors.New("no responder found"))}, wantAmbi: true},
		{name: "a dial refused, but ctx was cancelled", a: refresh.RetryAttempt{Err: retryURLError(retryDialRefused), NotSent: true}, cancelled: true},
		{name: "503, but ctx was cancelled", a: refresh.RetryAttempt{StatusCode: 503, Err: resp(503, "x", nil)}, cancelled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			tt.a.Attempt = 1
			if got := refresh.DefaultCheckRetry(ctx, tt.a); got != tt.wantDefault {
				t.Errorf("DefaultCheckRetry = %v, want %v", got, tt.wantDefault)
			}
			if got := refresh.RetryAmbiguous(ctx, tt.a); got != tt.wantAmbi {
				t.Errorf("RetryAmbiguous = %v, want %v", got, tt.wantAmbi)
			}
		})
	}
}

func TestRetryDefaultBackoffGrowsWithJitter(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 4: 4 * time.Second, 5: 8 * time.Second, 6: 8 * time.Second, 40: 8 * time.Second} {
		lo, hi := want, time.Duration(0)
		for range 2000 {
			d := refresh.DefaultBackoff(refresh.RetryAttempt{Attempt: attempt})
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo < want/2 || hi > want {
			t.Errorf("attempt %d: waits in [%v, %v], want within [%v, %v]", attempt, lo, hi, want/2, want)
		}
		if hi-lo < want/4 {
			t.Errorf("attempt %d: waits in [%v, %v]: no jitter", attempt, lo, hi)
		}
	}
}

func TestRetryLoop(t *testing.T) {
	ra := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	busy := retryStatus(503, nil, "busy")
	zero := func(refresh.RetryAttempt) time.Duration { return 0 }
	tests := []struct {
		name         string
		answers      []retryAnswer
		setup        func(c *refresh.Client)
		ctx          func(context.Context) (context.Context, context.CancelFunc)
		wantRequests int
		wantOK       bool
		check        func(t *testing.T, err error)
	}{
		{
			name: "a 503 and then tokens: the tokens, after two requests", answers: []retryAnswer{busy, retryOK},
			wantRequests: 2, wantOK: true,
		},
		{
			name: "connection refused twice and then tokens", answers: []retryAnswer{{err: retryDialRefused}, {err: retryDialRefused}, retryOK},
			wantRequests: 3, wantOK: true,
		},
		{
			name: "a persistent 503: three attempts, two waits, the last 503 inside a RetryError", answers: []retryAnswer{busy},
			wantRequests: 3,
			check: func(t *testing.T, err error) {
				var re *refresh.RetryError
				var rse *refresh.ResponseError
				if !errors.As(err, &re) || !errors.As(err, &rse) || rse.StatusCode != 503 {
					t.Fatalf("error = %v, want a *RetryError wrapping a 503 *ResponseError", err)
				}
				if re.Attempts != 3 || len(re.Waits) != 2 || re.Reason != refresh.RetryStopAttemptLimit {
					t.Errorf("RetryError = %d attempts, waits %v, reason %q; want 3, two waits, attempt limit", re.Attempts, re.Waits, re.Reason)
				}
			},
		},
		{
			name: "429 with Retry-After in seconds waits that long", answers: []retryAnswer{retryStatus(429, ra("3"), "slow down")},
			setup:        func(c *refresh.Client) { c.MaxAttempts, c.Backoff = 2, zero },
			wantRequests: 2,
			check:        retryWantWaits(3 * time.Second),
		},
		{
			name:         "503 with Retry-After as an HTTP date waits until then by the Client's clock",
			answers:      []retryAnswer{retryStatus(503, ra(t0.Add(5*time.Second).Format(http.TimeFormat)), "")},
			setup:        func(c *refresh.Client) { c.MaxAttempts, c.Backoff = 2, zero },
			wantRequests: 2,
			check:        retryWantWaits(5 * time.Second),
		},
		{
			name: "a Retry-After shorter than the backoff waits the backoff", answers: []retryAnswer{retryStatus(429, ra("1"), "")},
			setup: func(c *refresh.Client) {
				c.MaxAttempts, c.Backoff = 2, func(refresh.RetryAttempt) time.Duration { return 2 * time.Second }
			},
			wantRequests: 2,
			check:        retryWantWaits(2 * time.Second),
		},
		{
			name: "a Retry-After beyond MaxRetryWait ends at once with the plain error", answers: []retryAnswer{retryStatus(429, ra("3600"), "")},
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				var rse *refresh.ResponseError
				if !errors.As(err, &rse) || rse.RetryAfter != time.Hour || retryAttempts(err) != 1 {
					t.Errorf("error = %v, want the 429 *ResponseError itself, with RetryAfter 1h", err)
				}
				if errors.As(err, new(*refresh.RetryError)) {
					t.Errorf("error = %v: a RetryError after one attempt", err)
				}
			},
		},
		{
			name: "a Retry-After of centuries ends at once too", answers: []retryAnswer{retryStatus(503, ra("9999999999999"), "")},
			wantRequests: 1,
		},
		{
			name: "a Backoff of centuries after a first wait ends the retries", answers: []retryAnswer{busy},
			setup: func(c *refresh.Client) {
				c.Backoff = func(a refresh.RetryAttempt) time.Duration {
					if a.Attempt == 1 {
						return time.Second
					}
					return math.MaxInt64
				}
			},
			wantRequests: 2,
			check:        retryWantReason(2, refresh.RetryStopWaitLimit),
		},
		{
			name: "the waits stop at MaxRetryWait", answers: []retryAnswer{busy},
			setup: func(c *refresh.Client) {
				c.MaxAttempts, c.MaxRetryWait = 10, time.Second
				c.Backoff = func(refresh.RetryAttempt) time.Duration { return 600 * time.Millisecond }
			},
			wantRequests: 2,
			check:        retryWantReason(2, refresh.RetryStopWaitLimit),
		},
		{
			name: "no wait runs past ctx's deadline", answers: []retryAnswer{busy},
			setup: func(c *refresh.Client) {
				c.Backoff = func(refresh.RetryAttempt) time.Duration { return time.Second }
			},
			ctx: func(p context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(p, 1500*time.Millisecond)
			},
			wantRequests: 2,
			check:        retryWantReason(2, refresh.RetryStopDeadline),
		},
		{
			name: "ctx cancelled during a wait: a RetryError that matches context.Canceled and the last error", answers: []retryAnswer{busy},
			setup: func(c *refresh.Client) {
				c.MaxRetryWait = time.Hour
				c.Backoff = func(refresh.RetryAttempt) time.Duration { return time.Minute }
			},
			ctx: func(p context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(p)
				time.AfterFunc(time.Second, cancel)
				return ctx, cancel
			},
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				var re *refresh.RetryError
				if !errors.As(err, &re) || !errors.Is(err, context.Canceled) || !errors.As(err, new(*refresh.ResponseError)) {
					t.Fatalf("error = %v, want a *RetryError matching context.Canceled and a *ResponseError", err)
				}
				if re.Reason != refresh.RetryStopContextDone || re.Attempts != 1 || len(re.Waits) != 1 {
					t.Errorf("RetryError = %+v, want 1 attempt, 1 wait, context done", *re)
				}
			},
		},
		{
			name: "invalid_grant is never retried", answers: []retryAnswer{retryStatus(400, http.Header{"Content-Type": {"application/json"}}, `{"error":"invalid_grant"}`)},
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, refresh.ErrInvalidGrant) || retryAttempts(err) != 1 {
					t.Errorf("error = %v, want invalid_grant after one attempt", err)
				}
			},
		},
		{
			name: "invalid_grant after a retried 503 still matches ErrInvalidGrant", answers: []retryAnswer{busy, retryStatus(400, nil, `{"error":"invalid_grant"}`)},
			wantRequests: 2,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, refresh.ErrInvalidGrant) {
					t.Errorf("error = %v, want a match for ErrInvalidGrant", err)
				}
				retryWantReason(2, refresh.RetryStopNotRetryable)(t, err)
			},
		},
		{
			name: "an unknown transport's error is not taken as unsent", answers: []retryAnswer{{err: io.EOF}, retryOK},
			wantRequests: 1,
		},
		{
			name: "RetryAmbiguous retries an unknown transport's error", answers: []retryAnswer{{err: io.EOF}, retryOK},
			setup:        func(c *refresh.Client) { c.CheckRetry = refresh.RetryAmbiguous },
			wantRequests: 2, wantOK: true,
		},
		{
			name:         "the default does not retry a body cut short, RetryAmbiguous does",
			answers:      []retryAnswer{{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: `{"access_token":"at-1",`, bodyErr: io.ErrUnexpectedEOF}, retryOK},
			wantRequests: 1,
		},
		{
			name:         "RetryAmbiguous retries a body cut short",
			answers:      []retryAnswer{{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: `{"access_token":"at-1",`, bodyErr: io.ErrUnexpectedEOF}, retryOK},
			setup:        func(c *refresh.Client) { c.CheckRetry = refresh.RetryAmbiguous },
			wantRequests: 2, wantOK: true,
		},
		{
			name: "MaxAttempts 1 turns retries off", answers: []retryAnswer{busy, retryOK},
			setup:        func(c *refresh.Client) { c.MaxAttempts = 1 },
			wantRequests: 1,
		},
		{
			name: "a negative MaxAttempts is a ConfigError", answers: []retryAnswer{retryOK},
			setup:        func(c *refresh.Client) { c.MaxAttempts = -1 },
			wantRequests: 0,
			check:        func(t *testing.T, err error) { retryWantConfig(t, err, "MaxAttempts") },
		},
		{
			name: "a negative MaxRetryWait is a ConfigError", answers: []retryAnswer{retryOK},
			setup:        func(c *refresh.Client) { c.MaxRetryWait = -time.Second },
			wantRequests: 0,
			check:        func(t *testing.T, err error) { retryWantConfig(t, err, "MaxRetryWait") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &retryScript{answers: tt.answers}
				c := retryClient(s)
				if tt.setup != nil {
					tt.setup(c)
				}
				ctx, cancel := context.WithCancel(t.Context())
				if tt.ctx != nil {
					ctx, cancel = tt.ctx(t.Context())
				}
				defer cancel()
				tok, err := c.Refresh(ctx, "rt-0")
				if tt.wantOK {
					if err != nil || tok.AccessToken != "at-1" {
						t.Fatalf("Refresh = %v, %v; want at-1", tok, err)
					}
				} else if err == nil {
					t.Fatalf("Refresh succeeded, want an error")
				}
				if tt.check != nil {
					tt.check(t, err)
				}
				reqs := s.requests()
				if len(reqs) != tt.wantRequests {
					t.Fatalf("%d requests, want %d: %q", len(reqs), tt.wantRequests, reqs)
				}
				// Each attempt is built anew: its own client authentication.
				for i, body := range reqs {
					if want := fmt.Sprintf("client_assertion=jti-%d", i+1); !strings.Contains(body, want) {
						t.Errorf("request %d = %q, want a fresh %s", i+1, body, want)
					}
				}
				// Every response body is closed, the discarded ones included.
				var answered int32
				for i := range reqs {
					if tt.answers[min(i, len(tt.answers)-1)].err == nil {
						answered++
					}
				}
				if got := s.closed.Load(); got != answered {
					t.Errorf("%d response bodies closed, want %d", got, answered)
				}
			})
		})
	}
}

func retryWantWaits(want ...time.Duration) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var re *refresh.RetryError
		if !errors.As(err, &re) {
			t.Fatalf("error = %v, want a *RetryError", err)
		}
		if diff := cmp.Diff(want, re.Waits); diff != "" {
			t.Errorf("Waits (-want +got):\n%s", diff)
		}
	}
}

func retryWantReason(attempts int, reason refresh.RetryReason) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var re *refresh.RetryError
		if !errors.As(err, &re) {
			t.Fatalf("error = %v, want a *RetryError", err)
		}
		if re.Attempts != attempts || re.Reason != reason || len(re.Waits) != attempts-1 {
			t.Errorf("RetryError = %d attempts, waits %v, reason %q; want %d attempts, %d waits, %q",
				re.Attempts, re.Waits, re.Reason, attempts, attempts-1, reason)
		}
	}
}

func retryWantConfig(t *testing.T, err error, field string) {
	t.Helper()
	var ce *refresh.ConfigError
	if !errors.As(err, &ce) || ce.Field != field {
		t.Errorf("error = %v, want a *ConfigError for %s", err, field)
	}
}

// TestRetryCheckRetrySeesEachAttempt checks what a policy is given.
func TestRetryCheckRetrySeesEachAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &retryScript{answers: []retryAnswer{
			{err: retryDialRefused},
			retryStatus(503, http.Header{"Retry-After": {"1"}}, "busy"),
			retryOK,
		}}
		c := retryClient(s)
		type seen struct {
			Attempt, Status int
			RetryAfter      string
			NotSent         bool
		}
		var got []seen
		c.CheckRetry = func(ctx context.Context, a refresh.RetryAttempt) bool {
			got = append(got, seen{a.Attempt, a.StatusCode, a.Header.Get("Retry-After"), a.NotSent})
			return refresh.DefaultCheckRetry(ctx, a)
		}
		var backoffs []int
		c.Backoff = func(a refresh.RetryAttempt) time.Duration {
			backoffs = append(backoffs, a.Attempt)
			return 0
		}
		if _, err := c.Refresh(t.Context(), "rt-0"); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		want := []seen{{Attempt: 1, NotSent: true}, {Attempt: 2, Status: 503, RetryAfter: "1"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("attempts given to CheckRetry (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]int{1, 2}, backoffs); diff != "" {
			t.Errorf("attempts given to Backoff (-want +got):\n%s", diff)
		}
	})
}

// TestRetryNotSentOverRealSockets classifies real failures of an
// *http.Transport, and of a transport whose trace hooks never run.
func TestRetryNotSentOverRealSockets(t *testing.T) {
	// A listener that accepts and closes at once: every TLS handshake fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })

	// An address where nothing listens.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()

	fast := func(refresh.RetryAttempt) time.Duration { return time.Millisecond }
	tests := []struct {
		name         string
		url          string
		wrap         bool // hide the *http.Transport behind a RoundTripper of our own
		wantAttempts int
		wantAccepted int32
	}{
		{name: "a failed TLS handshake is retried: the trace shows no connection was had", url: "https://" + ln.Addr().String() + "/token", wantAttempts: 3, wantAccepted: 3},
		{name: "behind an unknown RoundTripper the same failure is not retried", url: "https://" + ln.Addr().String() + "/token", wrap: true, wantAttempts: 1, wantAccepted: 1},
		{name: "connection refused is retried", url: "http://" + refused + "/token", wantAttempts: 3},
		{name: "connection refused is retried behind an unknown RoundTripper too: the dial error says so", url: "http://" + refused + "/token", wrap: true, wantAttempts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := accepted.Load()
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			var rt http.RoundTripper = tr
			if tt.wrap {
				rt = retryRoundTripFunc(tr.RoundTrip)
			}
			c := &refresh.Client{TokenURL: tt.url, HTTPClient: &http.Client{Transport: rt, Timeout: time.Minute}, Backoff: fast}
			_, err := c.Refresh(t.Context(), "rt-0")
			if err == nil {
				t.Fatal("Refresh succeeded, want an error")
			}
			if got := retryAttempts(err); got != tt.wantAttempts {
				t.Errorf("%d attempts, want %d: %v", got, tt.wantAttempts, err)
			}
			if got := accepted.Load() - before; tt.wantAccepted != 0 && got != tt.wantAccepted {
				t.Errorf("%d connections accepted, want %d", got, tt.wantAccepted)
			}
		})
	}
}

// TestRetryAddsNoAllocationOnSuccess compares a successful refresh with retries
// on (the default) and off, through a RoundTripper that is not an
// *http.Transport (so no trace is added).
func TestRetryAddsNoAllocationOnSuccess(t *testing.T) {
	allocs := func(maxAttempts int) float64 {
		c := &refresh.Client{
			TokenURL:    "https://example.com/oauth2/token",
			Auth:        refresh.ClientSecretBasic("client-id", "client-secret"),
			HTTPClient:  &http.Client{Transport: cannedTransport{benchBody}},
			MaxAttempts: maxAttempts,
		}
		ctx := context.Background()
		return testing.AllocsPerRun(200, func() {
			if _, err := c.Refresh(ctx, "rt"); err != nil {
				t.Fatal(err)
			}
		})
	}
	if on, off := allocs(0), allocs(1); on != off {
		t.Errorf("a successful refresh makes %v allocations with retries on, %v with them off", on, off)
	}
}

// TestRetryErrorText checks the text of a RetryError: counts, waits, reason and
// the last error.
func TestRetryErrorText(t *testing.T) {
	err := &refresh.RetryError{
		Attempts: 3, Waits: []time.Duration{300 * time.Millisecond, 700 * time.Millisecond},
		Err: errors.New("refresh: last"), Reason: refresh.RetryStopAttemptLimit,
	}
	want := "refresh: 3 attempts (waited 300ms, 700ms; attempt limit): refresh: last"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	cancelled := &refresh.RetryError{Attempts: 1, Waits: []time.Duration{time.Second}, Err: errors.New("refresh: last"), Reason: refresh.RetryStopContextDone}
	want = "refresh: 1 attempt (waited 1s; context done): refresh: last"
	if got := cancelled.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// The Client retries a 503 by itself; the error of a refresh that gave up says
// how often it tried.
func ExampleRetryError() {
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer busy.Close()

	c := &refresh.Client{
		TokenURL: busy.URL + "/token",
		Backoff:  func(refresh.RetryAttempt) time.Duration { return 10 * time.Millisecond }, // short, for the example
	}
	_, err := c.Refresh(context.Background(), "rt-1")
	var re *refresh.RetryError
	var rse *refresh.ResponseError
	if errors.As(err, &re) && errors.As(err, &rse) {
		fmt.Println("attempts:", re.Attempts, "waits:", len(re.Waits), "why stopped:", re.Reason)
		fmt.Println("last status:", rse.StatusCode)
	}
	// Output:
	// attempts: 3 waits: 2 why stopped: attempt limit
	// last status: 503
}

// RetryAmbiguous is for a server that accepts a refresh token again for a while
// after rotating it: there, a refresh whose answer was lost can simply be sent
// again.
func ExampleRetryAmbiguous() {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			// The first answer is lost: the proxy in front answers 502.
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"at-2","token_type":"Bearer","refresh_token":"rt-2"}`)
	}))
	defer srv.Close()

	c := &refresh.Client{
		TokenURL:   srv.URL + "/token",
		CheckRetry: refresh.RetryAmbiguous,
		Backoff:    func(refresh.RetryAttempt) time.Duration { return 10 * time.Millisecond }, // short, for the example
	}
	tok, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("requests:", n.Load(), "access token:", tok.AccessToken)

	// The default policy does not send a token the server may have spent.
	n.Store(0)
	c.CheckRetry = nil
	_, err = c.Refresh(context.Background(), "rt-1")
	fmt.Println("requests:", n.Load(), "error is a RetryError:", errors.As(err, new(*refresh.RetryError)))
	// Output:
	// requests: 2 access token: at-2
	// requests: 1 error is a RetryError: false
}

// TestRetrySourceHonoursRetryAfter: a Retry-After too long for the Client's
// retries still holds the Source back, up to its longest backoff of 1 min.
func TestRetrySourceHonoursRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		retryAfter string
		want       time.Duration
	}{
		{"30", 30 * time.Second},
		{"3600", time.Minute},
		{"", time.Second},
	} {
		t.Run("Retry-After "+tt.retryAfter, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := http.Header{}
				if tt.retryAfter != "" {
					h.Set("Retry-After", tt.retryAfter)
				}
				s := &retryScript{answers: []retryAnswer{retryStatus(429, h, "slow down"), retryOK}}
				c := retryClient(s)
				c.Now, c.MaxRetryWait = nil, time.Millisecond // the Client gives up at once
				src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: "rt-0"})
				if _, err := src.Token(t.Context()); err == nil {
					t.Fatal("Token succeeded, want the 429")
				}
				time.Sleep(tt.want - time.Millisecond)
				if _, err := src.Token(t.Context()); err == nil || len(s.requests()) != 1 {
					t.Fatalf("Token %v after the 429: %d requests, error %v; want no new request", tt.want-time.Millisecond, len(s.requests()), err)
				}
				time.Sleep(time.Millisecond)
				if tok, err := src.Token(t.Context()); err != nil || tok.AccessToken != "at-1" {
					t.Fatalf("Token %v after the 429 = %v, %v; want at-1", tt.want, tok, err)
				}
			})
		})
	}
}

// A policy of your own can wrap the default, here to see each failed attempt.
func ExampleDefaultCheckRetry() {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"at-2","token_type":"Bearer"}`)
	}))
	defer srv.Close()

	c := &refresh.Client{
		TokenURL: srv.URL + "/token",
		CheckRetry: func(ctx context.Context, a refresh.RetryAttempt) bool {
			retry := refresh.DefaultCheckRetry(ctx, a)
			fmt.Printf("attempt %d: HTTP %d, not sent: %v, retry: %v\n", a.Attempt, a.StatusCode, a.NotSent, retry)
			return retry
		},
		Backoff: func(refresh.RetryAttempt) time.Duration { return 10 * time.Millisecond }, // short, for the example
	}
	tok, err := c.Refresh(context.Background(), "rt-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("access token:", tok.AccessToken)
	// Output:
	// attempt 1: HTTP 429, not sent: false, retry: true
	// access token: at-2
}

// TestRetryConnectionHadMeansMaybeSent: an *http.Transport replays a request
// that carries an Idempotency-Key by itself after a connection fails; when its
// new dial then fails, the dial error must not pass for "not sent", since the
// request went out on the first connection.
func TestRetryConnectionHadMeansMaybeSent(t *testing.T) {
	clock := &faultClock{}
	srv := faultNewServer(t, clock, false)
	defer srv.close()
	var dials atomic.Int32
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) > 1 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
		}
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	c := &refresh.Client{TokenURL: srv.url, HTTPClient: &http.Client{Transport: tr, Timeout: time.Minute}, Now: clock.now,
		Backoff: func(refresh.RetryAttempt) time.Duration { return time.Millisecond }}
	tok, err := c.Refresh(t.Context(), srv.liveToken()) // leaves an idle connection
	if err != nil {
		t.Fatal(err)
	}
	srv.setFault(faultResetBefore, false)
	_, err = c.Refresh(t.Context(), tok.RefreshToken, refresh.WithHeader("Idempotency-Key", "key-1"))
	if err == nil {
		t.Fatal("Refresh succeeded, want an error")
	}
	if got := faultErrorKind(err); got != "*net.OpError dial" {
		t.Fatalf("error = %s (%v); want the transport's second dial, refused", got, err)
	}
	if got := srv.requests(); got != 2 {
		t.Fatalf("the server read %d requests, want 2: the premise of this test failed", got)
	}
	if got := retryAttempts(err); got != 1 {
		t.Errorf("%d attempts, want 1: the request was sent on the first connection (%v)", got, err)
	}
}
