package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
)

// oidcDir holds the server script and its package-lock.json, relative to this
// package's directory (go test runs in it).
const oidcDir = "oidc"

// oidcWait bounds each wait on the Node process (start-up, one command). It only
// stops a hang: a loaded 2-core machine can take many seconds to start Node.
const oidcWait = 3 * time.Minute

// oidcNodeHelp says how to get what the tests need.
const oidcNodeHelp = "the oidc-provider interop tests need Node.js 20 or later and npm on PATH: " +
	"install Node.js, which comes with npm, from https://nodejs.org/ (a distribution's own package " +
	"may be too old: Debian 12 ships Node.js 18); the tests run `npm ci` in interop/oidc when its " +
	"node_modules is missing"

// oidcClient is one client registered at the server, as its ready line lists it.
type oidcClient struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
	Method string `json:"token_endpoint_auth_method"`
}

// oidcReady is the server's ready line.
type oidcReady struct {
	Type          string                `json:"type"`
	Issuer        string                `json:"issuer"`
	TokenEndpoint string                `json:"token_endpoint"`
	Resource      string                `json:"resource"`
	Rotate        bool                  `json:"rotate"`
	AccessTTL     int                   `json:"access_ttl"`
	Clients       map[string]oidcClient `json:"clients"`
}

// oidcEvent is one token endpoint outcome reported by the server. Detail is
// oidc-provider's internal reason, which clients never see.
type oidcEvent struct {
	Name         string `json:"name"`
	Error        string `json:"error,omitempty"`
	Detail       string `json:"detail,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"` // the one presented
}

// oidcReply is a server line answering a command.
type oidcReply struct {
	ID           int         `json:"id"`
	Error        string      `json:"error"`
	RefreshToken string      `json:"refresh_token"`
	Events       []oidcEvent `json:"events"`
}

// oidcServer is one running `node server.mjs`.
type oidcServer struct {
	oidcReady

	stdin   io.WriteCloser
	replies chan oidcReply
	exited  chan struct{} // closed when stdout ends
	stop    chan struct{} // closed when the test ends
	log     *oidcLog

	mu     sync.Mutex // one command at a time
	nextID int
}

// oidcLog collects the process's stderr and its stdout lines that are not
// protocol lines (oidc-provider's NOTICEs), to show when a test fails.
type oidcLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *oidcLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *oidcLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// oidcRequireNode fails the test when node or npm is missing or too old, and runs
// `npm ci` when interop/oidc/node_modules has no oidc-provider.
func oidcRequireNode(t *testing.T) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: %s", oidcNodeHelp)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v: %s", err, oidcNodeHelp)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _ := strconv.Atoi(strings.Split(v, ".")[0])
	if major < 20 {
		t.Fatalf("node %s is too old: %s", v, oidcNodeHelp)
	}
	if _, err := os.Stat(filepath.Join(oidcDir, "node_modules", "oidc-provider", "package.json")); err == nil {
		return
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("interop/oidc/node_modules is missing and npm is not on PATH: %s", oidcNodeHelp)
	}
	ctx, cancel := context.WithTimeout(t.Context(), oidcWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = oidcDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in interop/oidc: %v\n%s", err, out)
	}
}

// oidcStart starts `node server.mjs args...` and returns once it printed its
// ready line. The process is killed when t ends; its output is logged if t
// failed. It may run on any goroutine: it reports failure as an error, not
// through t.Fatal.
func oidcStart(t *testing.T, args ...string) (*oidcServer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", append([]string{"server.mjs"}, args...)...)
	cmd.Dir = oidcDir
	cmd.WaitDelay = 10 * time.Second
	s := &oidcServer{
		replies: make(chan oidcReply, 1),
		exited:  make(chan struct{}),
		stop:    make(chan struct{}),
		log:     new(oidcLog),
	}
	cmd.Stderr = s.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting node server.mjs: %w: %s", err, oidcNodeHelp)
	}
	waited := make(chan error, 1)
	t.Cleanup(func() {
		close(s.stop)
		s.stdin.Close() // the script exits at the end of its stdin
		cancel()        // and is killed if it has not
		<-waited
		if t.Failed() {
			t.Logf("node server.mjs %s output:\n%s", strings.Join(args, " "), s.log)
		}
	})

	ready := make(chan oidcReady, 1)
	go func() {
		defer close(s.exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var probe struct {
				Type string `json:"type"`
				ID   *int   `json:"id"`
			}
			if json.Unmarshal(line, &probe) != nil || (probe.Type != "ready" && probe.ID == nil) {
				fmt.Fprintf(s.log, "%s\n", line)
				continue
			}
			if probe.Type == "ready" {
				var r oidcReady
				if err := json.Unmarshal(line, &r); err != nil {
					fmt.Fprintf(s.log, "bad ready line: %v\n", err)
					continue
				}
				select {
				case ready <- r:
				default:
				}
				continue
			}
			var r oidcReply
			if err := json.Unmarshal(line, &r); err != nil {
				fmt.Fprintf(s.log, "bad reply line: %v\n", err)
				continue
			}
			select {
			case s.replies <- r:
			case <-s.stop:
			}
		}
	}()
	go func() { waited <- cmd.Wait() }()

	select {
	case s.oidcReady = <-ready:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("node server.mjs %s exited before it was ready:\n%s", strings.Join(args, " "), s.log)
	case <-time.After(oidcWait):
		return nil, fmt.Errorf("node server.mjs %s printed no ready line within %v:\n%s", strings.Join(args, " "), oidcWait, s.log)
	}
}

// command sends one command and returns its reply.
func (s *oidcServer) command(t *testing.T, cmd map[string]any) oidcReply {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	cmd["id"] = s.nextID
	line, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.stdin.Write(append(line, '\n')); err != nil {
		t.Fatalf("writing to server.mjs: %v", err)
	}
	timeout := time.After(oidcWait)
	for {
		select {
		case r := <-s.replies:
			if r.ID != s.nextID {
				continue // an answer to an earlier command that timed out
			}
			if r.Error != "" {
				t.Fatalf("server.mjs %v: %s", cmd["op"], r.Error)
			}
			return r
		case <-s.exited:
			t.Fatalf("server.mjs exited during %v", cmd["op"])
		case <-timeout:
			t.Fatalf("server.mjs did not answer %v within %v", cmd["op"], oidcWait)
		}
	}
}

// mint returns a new refresh token for the client (basic, post or public) with
// the scope, in a grant of its own.
func (s *oidcServer) mint(t *testing.T, client, scope string) string {
	t.Helper()
	return s.command(t, map[string]any{"op": "mint", "client": client, "scope": scope}).RefreshToken
}

// mintExpired returns a refresh token whose exp has passed but which the server
// still stores.
func (s *oidcServer) mintExpired(t *testing.T, client, scope string) string {
	t.Helper()
	return s.command(t, map[string]any{"op": "mint", "client": client, "scope": scope, "expired": true}).RefreshToken
}

// details returns, for each token request that presented refreshToken, the
// server's internal reason for its error, or "ok" for a success, in order.
func (s *oidcServer) details(t *testing.T, refreshToken string) []string {
	t.Helper()
	var out []string
	for _, e := range s.command(t, map[string]any{"op": "events"}).Events {
		if e.RefreshToken != refreshToken {
			continue
		}
		switch {
		case e.Name == "grant.success":
			out = append(out, "ok")
		case e.Detail != "":
			out = append(out, e.Error+": "+e.Detail)
		default:
			out = append(out, e.Error)
		}
	}
	return out
}

// auth returns the client's registered authentication method.
func (s *oidcServer) auth(t *testing.T, name string) refresh.Auth {
	t.Helper()
	c, ok := s.Clients[name]
	if !ok {
		t.Fatalf("no client %q in the ready line", name)
	}
	switch c.Method {
	case "client_secret_basic":
		return refresh.ClientSecretBasic(c.ID, c.Secret)
	case "client_secret_post":
		return refresh.ClientSecretPost(c.ID, c.Secret)
	case "none":
		return refresh.PublicClient(c.ID)
	}
	t.Fatalf("client %q: unexpected method %q", name, c.Method)
	return nil
}

// client returns a refresh.Client for the server's token endpoint.
func (s *oidcServer) client(a refresh.Auth, hc *http.Client) *refresh.Client {
	return &refresh.Client{TokenURL: s.TokenEndpoint, Auth: a, HTTPClient: hc}
}

// resourceScope calls the protected resource with a Bearer access token and
// returns the HTTP status and the scope the server found on the token.
func (s *oidcServer) resourceScope(t *testing.T, accessToken string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.Resource, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Scope string `json:"scope"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, body.Scope
}

// oidcCall is one token request seen by an oidcRecorder.
type oidcCall struct {
	Presented string // the refresh_token sent
	Status    int    // 0 when no answer came
	Issued    string // the refresh_token in a 200 answer, if any
	Error     string // the error code in an error answer, or the transport's error
}

// oidcRecorder is an http.RoundTripper in front of the token endpoint that
// records which refresh token each request presented and what came back.
type oidcRecorder struct {
	base http.RoundTripper

	mu    sync.Mutex
	calls []oidcCall
}

func (r *oidcRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var call oidcCall
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			return nil, err
		}
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, err
		}
		call.Presented = form.Get("refresh_token")
	}
	resp, err := r.base.RoundTrip(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		var answer struct {
			RefreshToken string `json:"refresh_token"`
			Error        string `json:"error"`
		}
		_ = json.Unmarshal(b, &answer)
		call.Status, call.Issued, call.Error = resp.StatusCode, answer.RefreshToken, answer.Error
	}
	if err != nil {
		call.Error = err.Error()
	}
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// Calls returns the calls so far.
func (r *oidcRecorder) Calls() []oidcCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]oidcCall(nil), r.calls...)
}

// oidcCheckChain checks that calls form one rotation chain from first: each
// request succeeded and presented the refresh token that the one before it was
// issued, so no refresh token was presented twice and none was skipped.
func oidcCheckChain(calls []oidcCall, first string) error {
	prev := first
	var errs []error
	for i, c := range calls {
		switch {
		case c.Status != http.StatusOK:
			errs = append(errs, fmt.Errorf("refresh %d: HTTP %d %s", i, c.Status, c.Error))
		case c.Presented != prev:
			errs = append(errs, fmt.Errorf("refresh %d presented a refresh token other than the last one issued", i))
		case c.Issued == "" || c.Issued == c.Presented:
			errs = append(errs, fmt.Errorf("refresh %d: no new refresh token issued", i))
		}
		prev = c.Issued
	}
	return errors.Join(errs...)
}
