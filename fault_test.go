package refresh_test

// The fault-injection suite: one table of faults, each played by a token
// endpoint on a raw loopback listener that misbehaves on purpose, against a
// Client and then a Source. docs/RELIABILITY.md shows the table; run
//
//	go test -run '^TestFaults$' -v .
//
// to print it from the test itself. Every top-level name here starts with
// "fault" or "TestFaults".

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
)

// faultKind is how the server misbehaves.
type faultKind string

const (
	faultNone            faultKind = "none"
	faultRefused         faultKind = "connection refused"
	faultResetBefore     faultKind = "reset before response headers"
	faultResetMidBody    faultKind = "reset mid-body"
	faultNeverAnswers    faultKind = "never answers"
	faultTrickle         faultKind = "body trickles slower than the timeout"
	faultTruncatedJSON   faultKind = "truncated JSON"
	faultHTML502         faultKind = "HTML 502 from a proxy"
	fault429Seconds      faultKind = "429, Retry-After: 1"
	fault429Date         faultKind = "429, Retry-After: an HTTP date 1 s ahead"
	fault503             faultKind = "503"
	fault307             faultKind = "307 redirect"
	faultOverCap         faultKind = "body over the 1 MiB cap"
	faultInvalidGrant    faultKind = "400 invalid_grant"
	faultInvalidClient   faultKind = "401 invalid_client"
	faultErrorWith200    faultKind = "200 with an error body"
	faultDNS             faultKind = "DNS failure"
	faultHold            faultKind = "holds the request until the caller's ctx is cancelled"
	faultDropAfterRotate faultKind = "rotates the token, then drops the connection"
)

// faultClock is the Client's clock: a fixed start moved by the test.
type faultClock struct{ off atomic.Int64 }

var faultT0 = time.Date(2031, time.May, 6, 7, 8, 9, 0, time.UTC)

func (c *faultClock) now() time.Time          { return faultT0.Add(time.Duration(c.off.Load())) }
func (c *faultClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// faultServer is a rotating token endpoint on a loopback listener. Each valid
// refresh issues at-N and rt-N and retires the refresh token it got. With grace
// (strict false), the refresh token it retired last is accepted again until the
// new one is used, as servers with a reuse grace period do; strict, a reuse
// revokes the whole token family (RFC 9700 §4.14.2).
type faultServer struct {
	t      *testing.T
	ln     net.Listener
	url    string
	strict bool
	clock  *faultClock
	// pick, when set, chooses a fault for each request while none is set, and
	// refuse, when set, whether a dial is refused (the soak test's random
	// faults). Set them before the first request.
	pick   func() faultKind
	refuse func() bool

	mu       sync.Mutex
	fault    faultKind
	once     bool     // the fault ends after one request
	live     string   // the refresh token that works
	prev     string   // the one retired last, accepted again with grace
	issued   int      // tokens issued so far
	seen     []string // the refresh token of every request the server read
	injected map[faultKind]int
	conns    map[net.Conn]struct{}
	serving  faultCount    // connections being served: the client has not closed them
	holding  faultCount    // requests held now
	release  chan struct{} // closed when held requests may proceed
	received chan struct{} // a request was held
	closing  chan struct{}
	wg       sync.WaitGroup
}

func faultNewServer(t *testing.T, clock *faultClock, strict bool) *faultServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &faultServer{
		t: t, ln: ln, url: "http://" + ln.Addr().String() + "/oauth2/token", strict: strict, clock: clock,
		fault: faultNone, conns: map[net.Conn]struct{}{}, injected: map[faultKind]int{},
		release: make(chan struct{}), received: make(chan struct{}, 16), closing: make(chan struct{}),
	}
	s.grant()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[conn] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			s.serving.add(1)
			go s.serve(conn)
		}
	}()
	return s
}

// grant starts a new token family, as when the user signs in again, and
// returns its tokens.
func (s *faultServer) grant() *refresh.Tokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issued++
	s.live, s.prev = fmt.Sprintf("rt-%d", s.issued), ""
	now := s.clock.now()
	return &refresh.Tokens{AccessToken: fmt.Sprintf("at-%d", s.issued), TokenType: "Bearer",
		RefreshToken: s.live, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
}

func (s *faultServer) setFault(f faultKind, once bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault, s.once = f, once
}

// recover ends the fault and lets held requests proceed.
func (s *faultServer) recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = faultNone
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

func (s *faultServer) current() faultKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault
}

func (s *faultServer) liveToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

func (s *faultServer) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// close stops the server: the listener, every connection, every handler.
func (s *faultServer) close() {
	close(s.closing)
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// rotate answers a refresh with rt as the authorization server would, and
// commits it: a new token pair, or invalid_grant.
func (s *faultServer) rotate(rt string) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case rt != "" && rt == s.live:
		s.prev = s.live
	case rt != "" && rt == s.prev && !s.strict:
		// Within the grace period: the retired token works once more.
	default:
		if rt != "" && rt == s.prev {
			s.live, s.prev = "", "" // reuse detected: the family is revoked
		}
		return http.StatusBadRequest, `{"error":"invalid_grant","error_description":"refresh token is not valid"}`
	}
	s.issued++
	s.live = fmt.Sprintf("rt-%d", s.issued)
	b, _ := json.Marshal(map[string]any{"access_token": fmt.Sprintf("at-%d", s.issued), "token_type": "Bearer",
		"expires_in": 3600, "refresh_token": s.live})
	return http.StatusOK, string(b)
}

func (s *faultServer) serve(conn net.Conn) {
	defer s.wg.Done()
	defer s.serving.add(-1)
	defer func() {
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	br := bufio.NewReader(conn)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		form, _ := url.ParseQuery(string(body))
		rt := form.Get("refresh_token")
		s.mu.Lock()
		s.seen = append(s.seen, rt)
		fault := s.fault
		if s.once {
			s.fault, s.once = faultNone, false
		}
		if fault == faultNone && s.pick != nil {
			fault = s.pick()
		}
		if fault != faultNone {
			s.injected[fault]++
		}
		s.mu.Unlock()
		if !s.answer(conn, br, fault, rt) {
			return
		}
	}
}

// answer answers one request as fault says; false ends the connection.
func (s *faultServer) answer(conn net.Conn, br *bufio.Reader, fault faultKind, rt string) bool {
	const jsonType = "application/json"
	switch fault {
	case faultResetBefore:
		faultReset(conn)
		return false
	case faultDropAfterRotate:
		s.rotate(rt)
		faultReset(conn)
		return false
	case faultResetMidBody:
		_, body := s.rotate(rt)
		faultWrite(conn, 200, jsonType, nil, body, len(body), len(body)/2)
		faultReset(conn)
		return false
	case faultNeverAnswers:
		s.hold(conn, br, nil)
		return false
	case faultHold:
		if !s.hold(conn, br, s.release) {
			return false
		}
		status, body := s.rotate(rt)
		return faultWrite(conn, status, jsonType, nil, body, len(body), len(body))
	case faultTrickle:
		_, body := s.rotate(rt)
		if !faultWrite(conn, 200, jsonType, nil, "", len(body), 0) {
			return false
		}
		tick := time.NewTicker(30 * time.Millisecond) // a body of ~85 bytes takes 2.5 s
		defer tick.Stop()
		for i := range len(body) {
			select {
			case <-tick.C:
			case <-s.closing:
				return false
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return false
			}
		}
		return false
	case faultTruncatedJSON:
		_, body := s.rotate(rt)
		body = body[:len(body)/2]
		return faultWrite(conn, 200, jsonType, nil, body, len(body), len(body))
	case faultHTML502:
		body := "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
		return faultWrite(conn, 502, "text/html", nil, body, len(body), len(body))
	case fault429Seconds:
		return faultWrite(conn, 429, "text/plain", map[string]string{"Retry-After": "1"}, "slow down", 9, 9)
	case fault429Date:
		date := s.clock.now().Add(time.Second).Format(http.TimeFormat)
		return faultWrite(conn, 429, "text/plain", map[string]string{"Retry-After": date}, "slow down", 9, 9)
	case fault503:
		return faultWrite(conn, 503, "text/plain", nil, "overloaded", 10, 10)
	case fault307:
		return faultWrite(conn, 307, "", map[string]string{"Location": "http://127.0.0.1:1/elsewhere?code=x"}, "", 0, 0)
	case faultOverCap:
		_, body := s.rotate(rt)
		body = body[:len(body)-1] + `,"padding":"` + strings.Repeat("x", 2<<20) + `"}`
		faultWrite(conn, 200, jsonType, nil, body, len(body), len(body))
		return false
	case faultInvalidGrant:
		body := `{"error":"invalid_grant","error_description":"refresh token revoked"}`
		return faultWrite(conn, 400, jsonType, nil, body, len(body), len(body))
	case faultInvalidClient:
		body := `{"error":"invalid_client","error_description":"client authentication failed"}`
		return faultWrite(conn, 401, jsonType, map[string]string{"WWW-Authenticate": `Basic realm="token"`}, body, len(body), len(body))
	case faultErrorWith200:
		body := `{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired."}`
		return faultWrite(conn, 200, jsonType, nil, body, len(body), len(body))
	}
	status, body := s.rotate(rt)
	return faultWrite(conn, status, jsonType, nil, body, len(body), len(body))
}

// hold keeps a request waiting until release is closed (true) or the client
// goes away or the server closes (false). A nil release never comes.
func (s *faultServer) hold(conn net.Conn, br *bufio.Reader, release chan struct{}) bool {
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		br.Peek(1) // returns when the client closes the connection
	}()
	s.holding.add(1)
	defer s.holding.add(-1)
	s.received <- struct{}{}
	select {
	case <-release:
		// Unblock the watcher, then let the connection serve again.
		conn.SetReadDeadline(time.Unix(1, 0))
		<-gone
		conn.SetReadDeadline(time.Time{})
		return true
	case <-gone:
	case <-s.closing:
	}
	return false
}

// faultWrite writes a response whose Content-Length is length and of whose body
// it sends the first n bytes; false when the connection failed.
func faultWrite(conn net.Conn, status int, contentType string, header map[string]string, body string, length, n int) bool {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	if contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", length)
	b.WriteString(body[:n])
	_, err := io.WriteString(conn, b.String())
	return err == nil
}

// faultReset closes conn with a TCP reset.
func faultReset(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// faultTransport is the suite's http.Transport: it dials the server, a closed
// port while the fault is "connection refused", and fails the name lookup
// while the fault is "DNS failure".
func faultTransport(t *testing.T, s *faultServer) *http.Transport {
	t.Helper()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := closed.Addr().String()
	closed.Close()
	// A resolver with no reachable name server, asked for a name that never
	// resolves (RFC 6761): the lookup fails as it does without DNS.
	noDNS := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no name server reachable")
	}}
	var d net.Dialer
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			s.mu.Lock()
			refuse := s.refuse != nil && s.refuse()
			if refuse {
				s.injected[faultRefused]++
			}
			s.mu.Unlock()
			switch s.current() {
			case faultRefused:
				addr = refusedAddr
			case faultNone:
				if refuse {
					addr = refusedAddr
				}
			case faultDNS:
				if _, err := noDNS.LookupHost(ctx, "token.invalid"); err != nil {
					return nil, err
				}
				return nil, errors.New("token.invalid resolved")
			}
			return d.DialContext(ctx, network, addr)
		},
	}
}

// faultEvents receives a Source's log messages, to know when a refresh run
// has ended.
type faultEvents struct{ ch chan string }

func (e *faultEvents) Enabled(context.Context, slog.Level) bool { return true }
func (e *faultEvents) Handle(_ context.Context, r slog.Record) error {
	e.ch <- r.Message
	return nil
}
func (e *faultEvents) WithAttrs([]slog.Attr) slog.Handler { return e }
func (e *faultEvents) WithGroup(string) slog.Handler      { return e }

// runEnded waits for the message that ends a refresh run and returns it.
func (e *faultEvents) runEnded(t *testing.T) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case m := <-e.ch:
			if m != "refresh: refreshing token" && !strings.Contains(m, "store load failed") {
				return m
			}
		case <-timeout:
			t.Fatal("no refresh run ended within a minute")
			return ""
		}
	}
}

// faultErrorKind names the type of err as the table does.
func faultErrorKind(err error) string {
	var oe *refresh.OAuthError
	var re *refresh.ResponseError
	var ue *url.Error
	var op *net.OpError
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, context.Canceled):
		return "context.Canceled"
	case errors.As(err, &oe):
		return "*OAuthError " + oe.Code
	case errors.As(err, &re):
		return fmt.Sprintf("*ResponseError %d", re.StatusCode)
	case errors.As(err, new(*net.DNSError)):
		return "*net.DNSError"
	case errors.As(err, &op) && op.Op == "dial":
		return "*net.OpError dial"
	case errors.As(err, &ue) && ue.Timeout():
		return "*url.Error timeout"
	case errors.As(err, &ue):
		return "*url.Error"
	}
	return fmt.Sprintf("%T", err)
}

// faultCount counts what is in progress, and tells when none is. A WaitGroup
// would not do: its Add may not race with a Wait while the count is zero, and
// here a new connection or held request may start at any time.
type faultCount struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0; nil while nobody waits
}

func (c *faultCount) add(d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += d
	if c.n == 0 && c.zero != nil {
		close(c.zero)
		c.zero = nil
	}
}

// idle returns a channel that is closed once the count is zero.
func (c *faultCount) idle() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.zero == nil {
		c.zero = make(chan struct{})
		if c.n == 0 {
			close(c.zero)
			ch := c.zero
			c.zero = nil
			return ch
		}
	}
	return c.zero
}

// faultWait waits until c is zero. The minute only bounds a hang.
func faultWait(t *testing.T, what string, c *faultCount) {
	t.Helper()
	select {
	case <-c.idle():
	case <-time.After(time.Minute):
		t.Errorf("%s: still waiting after a minute", what)
	}
}

// faultNoLeak ends a test against s: it closes the client's idle connections,
// waits until the server has seen every connection closed by the client (a
// response body left open would keep one), stops the server, and checks that
// no more goroutines run than base.
//
// The goroutine count cannot be waited for by an event: the goroutines left
// (the Transport's connection loops, a Source's finished run) have done their
// last work, which the waits above observed, and only need to be scheduled to
// return. So this yields, and never sleeps, until they have, with a deadline
// that only bounds a leak. Real sockets keep these tests out of synctest.
func faultNoLeak(t *testing.T, base int, s *faultServer, trs ...*http.Transport) {
	t.Helper()
	for _, tr := range trs {
		tr.CloseIdleConnections()
	}
	faultWait(t, "connections the client did not close", &s.serving)
	s.close()
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(time.Minute); n > base && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		runtime.Gosched()
	}
	if n > base {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after the test, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

// TestFaults plays each fault against Client.Refresh and then against a
// Source, and checks after each: the error and attempts documented, what the
// Source serves, that it recovers once the server does, that the Store holds
// the refresh token that works at the server (no rotated token lost), and that
// no goroutine is left behind.
func TestFaults(t *testing.T) {
	type row struct {
		fault  faultKind
		once   bool // the fault hits one request only
		strict bool // the server revokes the family on reuse, no grace period
		policy string
		// timeout is the http.Client's timeout; 0 means 10 s, which only bounds
		// a hang.
		timeout time.Duration

		// What Client.Refresh does (MaxAttempts 2):
		wantErr      string // faultErrorKind of its error
		wantAttempts int    // attempts it made
		wantSeen     int    // requests the server read
		// What the Source does:
		wantFinal   bool   // its error is final: it recovers with SetTokens only
		wantServing string // what it serves while the fault lasts
	}
	const keeps = "the valid at-0, then the error"
	rows := []row{
		{fault: faultRefused, wantErr: "*net.OpError dial", wantAttempts: 2, wantSeen: 0, wantServing: keeps},
		{fault: faultResetBefore, wantErr: "*url.Error", wantAttempts: 1, wantSeen: 1, wantServing: keeps},
		{fault: faultResetMidBody, wantErr: "*ResponseError 200", wantAttempts: 1, wantSeen: 1, wantServing: keeps},
		{fault: faultNeverAnswers, timeout: time.Second, wantErr: "*url.Error timeout", wantAttempts: 1, wantSeen: 1, wantServing: keeps},
		{fault: faultTrickle, timeout: time.Second, wantErr: "*ResponseError 200", wantAttempts: 1, wantSeen: 1, wantServing: keeps},
		{fault: faultTruncatedJSON, wantErr: "*ResponseError 200", wantAttempts: 1, wantSeen: 1, wantServing: keeps},
		{fault: faultHTML502, wantErr: "*ResponseError 502", wantAttempts: 1, wantSeen: 1, wantServing: keeps},
		{fault: fault429Seconds, wantErr: "*ResponseError 429", wantAttempts: 2, wantSeen: 2, wantServing: keeps},
		{fault: fault429Date, wantErr: "*ResponseError 429", wantAttempts: 2, wantSeen: 2, wantServing: keeps},
		{fault: fault503, wantErr: "*ResponseError 503", wantAttempts: 2, wantSeen: 2, wantServing: keeps},
		{fault: fault307, wantErr: "*ResponseError 307", wantAttempts: 1, wantSeen: 1, wantServing: keeps},
		{fault: faultOverCap, wantErr: "*ResponseError 200", wantAttempts: 1, wantSeen: 1, wantServing: keeps},
		{fault: faultInvalidGrant, wantErr: "*OAuthError invalid_grant", wantAttempts: 1, wantSeen: 1, wantFinal: true, wantServing: keeps + " (final)"},
		{fault: faultInvalidClient, wantErr: "*OAuthError invalid_client", wantAttempts: 1, wantSeen: 1, wantServing: keeps},
		{fault: faultErrorWith200, wantErr: "*OAuthError bad_refresh_token", wantAttempts: 1, wantSeen: 1, wantFinal: true, wantServing: keeps + " (final)"},
		{fault: faultDNS, wantErr: "*net.DNSError", wantAttempts: 2, wantSeen: 0, wantServing: keeps},
		{fault: faultHold, wantErr: "context.Canceled", wantAttempts: 1, wantSeen: 1, wantServing: "a cancelled caller gets context.Canceled; the refresh goes on for the others"},
		{fault: faultDropAfterRotate, once: true, wantErr: "*url.Error", wantAttempts: 1, wantSeen: 1, wantServing: keeps},
		{fault: faultDropAfterRotate, once: true, policy: "RetryAmbiguous", wantErr: "none", wantAttempts: 2, wantSeen: 2, wantServing: "new tokens: the retry within the grace period succeeds"},
		{fault: faultDropAfterRotate, once: true, strict: true, policy: "RetryAmbiguous", wantErr: "*OAuthError invalid_grant", wantAttempts: 2, wantSeen: 2, wantFinal: true, wantServing: keeps + " (final): the retry was a reuse, the family is revoked"},
	}
	var table strings.Builder
	table.WriteString("\n| fault | server | policy | Client.Refresh error | attempts | requests seen | Source serves |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		server := "grace"
		if r.strict {
			server = "strict"
		}
		policy := r.policy
		if policy == "" {
			policy = "default"
		}
		name := fmt.Sprintf("%s, %s server, %s policy", r.fault, server, policy)
		t.Run(name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			clock := &faultClock{}
			srv := faultNewServer(t, clock, r.strict)
			tr := faultTransport(t, srv)
			timeout := r.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			c := &refresh.Client{
				TokenURL:    srv.url,
				Auth:        refresh.ClientSecretPost("fault-client", "fault-secret-91c2"),
				HTTPClient:  &http.Client{Transport: tr, Timeout: timeout},
				Now:         clock.now,
				MaxAttempts: 2,
				Backoff:     func(refresh.RetryAttempt) time.Duration { return time.Millisecond },
			}
			if r.policy == "RetryAmbiguous" {
				c.CheckRetry = refresh.RetryAmbiguous
			}
			defer faultNoLeak(t, base, srv, tr)

			// Client.Refresh under the fault.
			rt0 := srv.liveToken()
			srv.setFault(r.fault, r.once)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if r.fault == faultHold {
				go func() {
					select {
					case <-srv.received:
						cancel()
					case <-ctx.Done():
					}
				}()
			}
			tok, err := c.Refresh(ctx, rt0)
			if got := faultErrorKind(err); got != r.wantErr {
				t.Errorf("Refresh error = %s (%v), want %s", got, err, r.wantErr)
			}
			attempts := retryAttempts(err)
			if err == nil {
				attempts = srv.requests()
			}
			if attempts != r.wantAttempts {
				t.Errorf("Refresh made %d attempts, want %d", attempts, r.wantAttempts)
			}
			if got := srv.requests(); got != r.wantSeen {
				t.Errorf("the server read %d requests, want %d", got, r.wantSeen)
			}
			known := rt0
			if err == nil {
				known = tok.RefreshToken
				if known != srv.liveToken() {
					t.Errorf("Refresh returned refresh token %q, the server's live one is %q", known, srv.liveToken())
				}
			}
			// A held request ends when its client goes.
			faultWait(t, "a held request after its client went", &srv.holding)

			// A Source under the fault, from at-0: valid for 2 s more, due for
			// refresh from 1 s (the leeway is at most half the lifetime).
			store := refresh.NewMemoryStore(nil)
			events := &faultEvents{ch: make(chan string, 64)}
			start := clock.now()
			src := refresh.NewSource(c, &refresh.Tokens{AccessToken: "at-0", TokenType: "Bearer", RefreshToken: known,
				IssuedAt: start, ExpiresAt: start.Add(2 * time.Second)},
				refresh.WithStore(store), refresh.WithLogger(slog.New(events)))
			srv.setFault(r.fault, r.once)
			seenBefore := srv.requests()
			serving := ""
			if r.fault == faultHold {
				// The caller must wait (at-0 has expired) and gives up; the
				// refresh goes on.
				clock.advance(3 * time.Second)
				wctx, wcancel := context.WithCancel(t.Context())
				go func() { <-srv.received; wcancel() }()
				if _, err := src.Token(wctx); !errors.Is(err, context.Canceled) {
					t.Errorf("a cancelled caller's Token error = %v, want context.Canceled", err)
				}
				wcancel()
				srv.recover()
				if m := events.runEnded(t); m != "refresh: token refreshed" {
					t.Errorf("the refresh the caller gave up on ended with %q, want success", m)
				}
				serving = r.wantServing
			} else {
				clock.advance(1500 * time.Millisecond)
				if got, err := src.Token(t.Context()); err != nil || got.AccessToken != "at-0" {
					t.Fatalf("Token at refresh-ahead time = %v, %v; want at-0", got, err)
				}
				switch m := events.runEnded(t); {
				case r.wantErr == "none":
					if m != "refresh: token refreshed" {
						t.Errorf("the refresh run ended with %q, want success", m)
					}
					got, err := src.Token(t.Context())
					if err != nil || got.AccessToken == "at-0" {
						t.Errorf("Token after the run = %v, %v; want new tokens", got, err)
					}
					serving = r.wantServing
				case m != "refresh: refresh failed":
					t.Errorf("the refresh run ended with %q, want a failure", m)
				default:
					if got, err := src.Token(t.Context()); err != nil || got.AccessToken != "at-0" {
						t.Errorf("Token after the failed run = %v, %v; want the still valid at-0", got, err)
					}
					// at-0 expires within the backoff: callers get the error,
					// and no request is made.
					seen := srv.requests()
					clock.advance(600 * time.Millisecond)
					_, err := src.Token(t.Context())
					if got := faultErrorKind(err); got != r.wantErr {
						t.Errorf("Token after at-0 expired: error %s (%v), want %s", got, err, r.wantErr)
					}
					if srv.requests() != seen {
						t.Errorf("Token within the backoff made a request")
					}
					serving = keeps
					if r.wantFinal {
						serving += " (final)"
					}
					if r.strict {
						serving += ": the retry was a reuse, the family is revoked"
					}
				}
			}
			if serving != r.wantServing {
				t.Errorf("the Source served %q, want %q", serving, r.wantServing)
			}
			sourceSeen := srv.requests() - seenBefore

			// The server recovers; so does the Source, by itself or, after a
			// final error, once the user signs in again.
			srv.recover()
			c.HTTPClient.Timeout = 10 * time.Second // no run is in flight; a loaded machine may be slow
			clock.advance(2 * time.Minute)
			seen := srv.requests()
			got, err := src.Token(t.Context())
			if r.wantFinal {
				if err == nil || srv.requests() != seen {
					t.Errorf("after a final error: Token = %v, %v with %d requests; want the error and no request", got, err, srv.requests()-seen)
				}
				if err := src.SetTokens(t.Context(), srv.grant()); err != nil {
					t.Fatalf("SetTokens: %v", err)
				}
				clock.advance(2 * time.Hour) // the new access token expires: refresh it
				got, err = src.Token(t.Context())
			}
			if err != nil || got.AccessToken == "at-0" {
				t.Fatalf("Token after the server recovered = %v, %v; want new tokens", got, err)
			}
			stored, _ := store.Load(t.Context())
			if live := srv.liveToken(); stored == nil || stored.RefreshToken != live || got.RefreshToken != live {
				t.Errorf("the Store holds %v and the Source %q; the server's working refresh token is %q", stored, got.RefreshToken, live)
			}
			fmt.Fprintf(&table, "| %s | %s | %s | %s | %d | %d | %s (%d requests) |\n",
				r.fault, server, policy, r.wantErr, r.wantAttempts, r.wantSeen, r.wantServing, sourceSeen)
		})
	}
	t.Log(table.String())
}
