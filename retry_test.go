package refresh_test

// Tests of the retry policy (retry.go) and of the attempt loop of
// Client.Refresh: the policies as functions, the loop in a testing/synctest
// bubble (fake time, so waits cost nothing and are exact), and the "not sent"
// classification over real loopback sockets.

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

// retryAnswer is one scripted answer: an error, or a response whose body fails
// with bodyErr after body.
type retryAnswer struct {
	err     error
	status  int
	header  http.Header
	body    string
	bodyErr error
}

var retryJSON = http.Header{"Content-Type": {"application/json"}}

// retryOK is a token response.
var retryOK = retryAnswer{status: 200, header: retryJSON, body: `{"access_token":"at-1","token_type":"Bearer","refresh_token":"rt-1"}`}

func retryStatus(status int, header http.Header, body string) retryAnswer {
	return retryAnswer{status: status, header: header, body: body}
}

// retryBody is a response body that counts its Close calls and can fail after
// its content.
type retryBody struct {
	io.Reader
	err    error
	closed *atomic.Int32
}

func (b *retryBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *retryBody) Close() error { b.closed.Add(1); return nil }

// retryScript is a token endpoint that answers the n-th request with
// answers[n-1] (the last one again after the end) and records the bodies.
type retryScript struct {
	answers []retryAnswer
	mu      sync.Mutex
	bodies  []string
	closed  atomic.Int32 // response bodies closed
}

func (s *retryScript) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	a := s.answers[min(len(s.bodies), len(s.answers))-1]
	s.mu.Unlock()
	if a.err != nil {
		return nil, a.err
	}
	return &http.Response{StatusCode: a.status, Header: a.header.Clone(), ContentLength: -1, Request: req,
		Body: &retryBody{strings.NewReader(a.body), a.bodyErr, &s.closed}}, nil
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
	cut := retryAnswer{status: 200, header: retryJSON, body: `{"access_token":"at-1",`, bodyErr: io.ErrUnexpectedEOF}
	invalidGrant := retryStatus(400, retryJSON, `{"error":"invalid_grant"}`)
	backoff := func(d time.Duration) func(refresh.RetryAttempt) time.Duration {
		return func(refresh.RetryAttempt) time.Duration { return d }
	}
	tests := []struct {
		name     string
		answers  []retryAnswer
		setup    func(c *refresh.Client)
		ctx      func(context.Context) (context.Context, context.CancelFunc)
		requests int
		ok       bool
		reason   refresh.RetryReason // the *RetryError's; "" when there must be none
		waits    []time.Duration     // the RetryError's waits, when not nil
		status   int                 // the *ResponseError's in the chain, when not 0
		is       error               // what errors.Is must find, when not nil
	}{
		{name: "a 503 and then tokens", answers: []retryAnswer{busy, retryOK}, requests: 2, ok: true},
		{name: "connection refused twice and then tokens", answers: []retryAnswer{{err: retryDialRefused}, {err: retryDialRefused}, retryOK}, requests: 3, ok: true},
		{name: "a persistent 503 stops at MaxAttempts", answers: []retryAnswer{busy}, requests: 3, reason: refresh.RetryStopAttemptLimit, status: 503},
		{name: "429 with Retry-After in seconds waits that long", answers: []retryAnswer{retryStatus(429, ra("3"), "")},
			setup:    func(c *refresh.Client) { c.MaxAttempts, c.Backoff = 2, backoff(0) },
			requests: 2, reason: refresh.RetryStopAttemptLimit, waits: []time.Duration{3 * time.Second}},
		{name: "503 with Retry-After as an HTTP date waits until then by the Client's clock",
			answers:  []retryAnswer{retryStatus(503, ra(t0.Add(5*time.Second).Format(http.TimeFormat)), "")},
			setup:    func(c *refresh.Client) { c.MaxAttempts, c.Backoff = 2, backoff(0) },
			requests: 2, reason: refresh.RetryStopAttemptLimit, waits: []time.Duration{5 * time.Second}},
		{name: "a Retry-After shorter than the backoff waits the backoff", answers: []retryAnswer{retryStatus(429, ra("1"), "")},
			setup:    func(c *refresh.Client) { c.MaxAttempts, c.Backoff = 2, backoff(2*time.Second) },
			requests: 2, reason: refresh.RetryStopAttemptLimit, waits: []time.Duration{2 * time.Second}},
		{name: "a Retry-After beyond MaxRetryWait ends at once with the plain error", answers: []retryAnswer{retryStatus(429, ra("3600"), "")},
			requests: 1, status: 429},
		{name: "a Retry-After of centuries ends at once too", answers: []retryAnswer{retryStatus(503, ra("9999999999999"), "")}, requests: 1},
		{name: "a Backoff of centuries after a first wait ends the retries", answers: []retryAnswer{busy},
			setup: func(c *refresh.Client) {
				c.Backoff = func(a refresh.RetryAttempt) time.Duration {
					return map[bool]time.Duration{true: time.Second, false: math.MaxInt64}[a.Attempt == 1]
				}
			},
			requests: 2, reason: refresh.RetryStopWaitLimit},
		{name: "the waits stop at MaxRetryWait", answers: []retryAnswer{busy},
			setup: func(c *refresh.Client) {
				c.MaxAttempts, c.MaxRetryWait, c.Backoff = 10, time.Second, backoff(600*time.Millisecond)
			},
			requests: 2, reason: refresh.RetryStopWaitLimit},
		{name: "no wait runs past ctx's deadline", answers: []retryAnswer{busy}, setup: func(c *refresh.Client) { c.Backoff = backoff(time.Second) },
			ctx: func(p context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(p, 1500*time.Millisecond)
			},
			requests: 2, reason: refresh.RetryStopDeadline},
		{name: "ctx cancelled during a wait: a RetryError that is context.Canceled and holds the last error", answers: []retryAnswer{busy},
			setup: func(c *refresh.Client) { c.MaxRetryWait, c.Backoff = time.Hour, backoff(time.Minute) },
			ctx: func(p context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(p)
				time.AfterFunc(time.Second, cancel)
				return ctx, cancel
			},
			requests: 1, reason: refresh.RetryStopContextDone, status: 503, is: context.Canceled},
		{name: "invalid_grant is never retried", answers: []retryAnswer{invalidGrant}, requests: 1, is: refresh.ErrInvalidGrant},
		{name: "invalid_grant after a retried 503 is still ErrInvalidGrant", answers: []retryAnswer{busy, invalidGrant},
			requests: 2, reason: refresh.RetryStopNotRetryable, is: refresh.ErrInvalidGrant},
		{name: "an unknown transport's error is not taken as unsent", answers: []retryAnswer{{err: io.EOF}, retryOK}, requests: 1, is: io.EOF},
		{name: "RetryAmbiguous retries an unknown transport's error", answers: []retryAnswer{{err: io.EOF}, retryOK},
			setup: func(c *refresh.Client) { c.CheckRetry = refresh.RetryAmbiguous }, requests: 2, ok: true},
		{name: "the default does not retry a body cut short", answers: []retryAnswer{cut, retryOK}, requests: 1, status: 200},
		{name: "RetryAmbiguous retries a body cut short", answers: []retryAnswer{cut, retryOK},
			setup: func(c *refresh.Client) { c.CheckRetry = refresh.RetryAmbiguous }, requests: 2, ok: true},
		{name: "MaxAttempts 1 turns retries off", answers: []retryAnswer{busy, retryOK},
			setup: func(c *refresh.Client) { c.MaxAttempts = 1 }, requests: 1, status: 503},
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
				if tt.ok != (err == nil) || tt.ok && tok.AccessToken != "at-1" {
					t.Fatalf("Refresh = %v, %v; want success %t", tok, err, tt.ok)
				}
				var re *refresh.RetryError
				switch isRetry := errors.As(err, &re); {
				case isRetry != (tt.reason != ""):
					t.Errorf("error = %v; want a *RetryError: %t", err, tt.reason != "")
				case isRetry:
					waits := tt.requests - 1
					if tt.reason == refresh.RetryStopContextDone {
						waits = tt.requests
					}
					if re.Reason != tt.reason || re.Attempts != tt.requests || len(re.Waits) != waits {
						t.Errorf("RetryError: %d attempts, waits %v, reason %q; want %d, %d waits, %q", re.Attempts, re.Waits, re.Reason, tt.requests, waits, tt.reason)
					}
					if diff := cmp.Diff(tt.waits, re.Waits); tt.waits != nil && diff != "" {
						t.Errorf("Waits (-want +got):\n%s", diff)
					}
				}
				var rse *refresh.ResponseError
				if tt.status != 0 && (!errors.As(err, &rse) || rse.StatusCode != tt.status) {
					t.Errorf("error = %v, want a *ResponseError with status %d", err, tt.status)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("error = %v, want one that is %v", err, tt.is)
				}
				reqs := s.requests()
				if len(reqs) != tt.requests {
					t.Fatalf("%d requests, want %d: %q", len(reqs), tt.requests, reqs)
				}
				answered := int32(0)
				for i, body := range reqs {
					// Each attempt is built anew: its own client authentication.
					if want := fmt.Sprintf("client_assertion=jti-%d", i+1); !strings.Contains(body, want) {
						t.Errorf("request %d = %q, want a fresh %s", i+1, body, want)
					}
					if tt.answers[min(i, len(tt.answers)-1)].err == nil {
						answered++
					}
				}
				if got := s.closed.Load(); got != answered {
					t.Errorf("%d response bodies closed, want %d: every one, the discarded ones included", got, answered)
				}
			})
		})
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
	// A plain HTTP server, where every TLS handshake fails.
	var accepted atomic.Int32
	plain := httptest.NewUnstartedServer(http.NotFoundHandler())
	plain.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			accepted.Add(1)
		}
	}
	plain.Start()
	defer plain.Close()
	// An address where nothing listens.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	fast := func(refresh.RetryAttempt) time.Duration { return time.Millisecond }
	tests := []struct {
		name         string
		url          string
		wrap         bool // hide the *http.Transport behind a RoundTripper of our own
		wantAttempts int
		wantAccepted int32
	}{
		{name: "a failed TLS handshake is retried: the trace shows no connection was had", url: "https://" + plain.Listener.Addr().String() + "/token", wantAttempts: 3, wantAccepted: 3},
		{name: "behind an unknown RoundTripper the same failure is not retried", url: "https://" + plain.Listener.Addr().String() + "/token", wrap: true, wantAttempts: 1, wantAccepted: 1},
		{name: "connection refused is retried", url: gone.URL + "/token", wantAttempts: 3},
		{name: "connection refused is retried behind an unknown RoundTripper too: the dial error says so", url: gone.URL + "/token", wrap: true, wantAttempts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := accepted.Load()
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			var rt http.RoundTripper = tr
			if tt.wrap {
				rt = clientRoundTripFunc(tr.RoundTrip)
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

func TestRetryErrorText(t *testing.T) {
	last := errors.New("refresh: last")
	for _, tt := range []struct {
		err  *refresh.RetryError
		want string
	}{
		{&refresh.RetryError{Attempts: 3, Waits: []time.Duration{300 * time.Millisecond, 700 * time.Millisecond}, Err: last, Reason: refresh.RetryStopAttemptLimit},
			"refresh: 3 attempts (waited 300ms, 700ms; attempt limit): refresh: last"},
		{&refresh.RetryError{Attempts: 1, Waits: []time.Duration{time.Second}, Err: last, Reason: refresh.RetryStopContextDone},
			"refresh: 1 attempt (waited 1s; context done): refresh: last"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// The Client retries a 503 by itself; the error of a refresh that gave up says
// how often it tried and why it stopped, and holds the last attempt's error.
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
		fmt.Println("attempts:", re.Attempts, "waits:", len(re.Waits), "last status:", rse.StatusCode)
		fmt.Println("stopped at the attempt limit:", re.Reason == refresh.RetryStopAttemptLimit)
	}
	// Output:
	// attempts: 3 waits: 2 last status: 503
	// stopped at the attempt limit: true
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
