package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// The clients the test server knows, one per authentication method.
var clients = []refreshtest.Client{
	{ID: "basic-app", Secret: "basic secret/1+2", Method: refreshtest.AuthClientSecretBasic},
	{ID: "raw-app", Secret: "raw-secret:%7", Method: refreshtest.AuthClientSecretBasicRaw},
	{ID: "post-app", Secret: "post-secret-3", Method: refreshtest.AuthClientSecretPost},
	{ID: "public-app", Method: refreshtest.AuthNone},
}

func newServer(t *testing.T, opts ...refreshtest.Option) *refreshtest.Server {
	t.Helper()
	for _, c := range clients {
		opts = append(opts, refreshtest.WithClient(c))
	}
	srv := refreshtest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

type env map[string]string

func (e env) get(name string) string { return e[name] }

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type result struct {
	code           int
	err            error
	stdout, stderr string
}

func runCLI(t *testing.T, e env, stdin string, args ...string) result {
	t.Helper()
	var out, logs lockedBuffer
	err := run(t.Context(), args, e.get, strings.NewReader(stdin), &out, &logs)
	return result{exitCode(err), err, out.String(), logs.String()}
}

// TestExitCodes runs the program once for each outcome and checks its exit
// code, and that no output shows a secret it was not asked to print.
func TestExitCodes(t *testing.T) {
	basic := clients[0]
	for _, tc := range []struct {
		name  string
		opts  []refreshtest.Option
		setup func(srv *refreshtest.Server) // before the run: faults
		// args and env, given the server and a live refresh token of basic-app
		args     func(srv *refreshtest.Server) []string
		env      func(rt string) env
		stdin    func(rt string) string
		wantCode int
		wantErr  string // in the error text
	}{
		{
			name: "refreshed", wantCode: exitOK,
		},
		{
			name: "secrets from stdin",
			args: func(srv *refreshtest.Server) []string {
				return append(baseArgs(srv), "-secret-stdin", "-refresh-token-stdin")
			},
			env:      func(string) env { return env{} },
			stdin:    func(rt string) string { return basic.Secret + "\n" + rt + "\n" },
			wantCode: exitOK,
		},
		{
			name:     "the result cannot be written",
			args:     func(srv *refreshtest.Server) []string { return append(baseArgs(srv), "-json") },
			wantCode: exitOutput, wantErr: "writing the result",
		},
		{
			name:     "no token URL is usage",
			args:     func(*refreshtest.Server) []string { return []string{"-client-id", basic.ID} },
			wantCode: exitUsage, wantErr: "-token-url is required",
		},
		{
			name:     "an unknown flag is usage",
			args:     func(*refreshtest.Server) []string { return []string{"-client-secret", "x"} },
			wantCode: exitUsage, wantErr: "flag provided but not defined",
		},
		{
			name:     "an unknown auth method is usage",
			args:     func(srv *refreshtest.Server) []string { return append(baseArgs(srv), "-auth", "jwt") },
			wantCode: exitUsage, wantErr: `-auth "jwt"`,
		},
		{
			name:     "a secret missing for basic is usage",
			env:      func(rt string) env { return env{"REFRESH_TOKEN": rt} },
			wantCode: exitUsage, wantErr: "needs a client secret",
		},
		{
			name:     "an empty stdin is usage",
			args:     func(srv *refreshtest.Server) []string { return append(baseArgs(srv), "-refresh-token-stdin") },
			stdin:    func(string) string { return "" },
			wantCode: exitUsage, wantErr: "reading the refresh token from stdin",
		},
		{
			name: "a secret as an argument is usage",
			args: func(srv *refreshtest.Server) []string {
				return append(baseArgs(srv), "some-secret")
			},
			wantCode: exitUsage, wantErr: "never in arguments",
		},
		{
			name: "an http URL that is not loopback is a ConfigError, usage",
			args: func(*refreshtest.Server) []string {
				return []string{"-token-url", "http://example.com/token", "-client-id", basic.ID}
			},
			wantCode: exitUsage, wantErr: "http is allowed only for loopback hosts",
		},
		{
			name:     "a scope with a quote is a ConfigError, usage",
			args:     func(srv *refreshtest.Server) []string { return append(baseArgs(srv), "-scope", `a"b`) },
			wantCode: exitUsage, wantErr: "WithScopes",
		},
		{
			name:     "a spent refresh token is invalid_grant",
			env:      func(rt string) env { return env{"CLIENT_SECRET": basic.Secret, "REFRESH_TOKEN": rt + "-unknown"} },
			wantCode: exitInvalidGrant, wantErr: `"invalid_grant" (HTTP 400)`,
		},
		{
			name:     "GitHub's bad_refresh_token with HTTP 200 is invalid_grant",
			opts:     []refreshtest.Option{refreshtest.WithQuirks(refreshtest.GitHubQuirks())},
			env:      func(rt string) env { return env{"CLIENT_SECRET": basic.Secret, "REFRESH_TOKEN": rt + "-unknown"} },
			wantCode: exitInvalidGrant, wantErr: `"bad_refresh_token" (HTTP 200)`,
		},
		{
			name:     "a wrong secret is invalid_client",
			env:      func(rt string) env { return env{"CLIENT_SECRET": "wrong", "REFRESH_TOKEN": rt} },
			wantCode: exitInvalidClient, wantErr: `"invalid_client" (HTTP 401)`,
		},
		{
			name:     "the wrong method is invalid_client",
			args:     func(srv *refreshtest.Server) []string { return append(baseArgs(srv), "-auth", "post") },
			wantCode: exitInvalidClient, wantErr: `"invalid_client"`,
		},
		{
			name:     "GitHub's incorrect_client_credentials is invalid_client",
			opts:     []refreshtest.Option{refreshtest.WithQuirks(refreshtest.GitHubQuirks())},
			env:      func(rt string) env { return env{"CLIENT_SECRET": "wrong", "REFRESH_TOKEN": rt} },
			wantCode: exitInvalidClient, wantErr: `"incorrect_client_credentials" (HTTP 200)`,
		},
		{
			name:     "a wider scope is another OAuth error",
			args:     func(srv *refreshtest.Server) []string { return append(baseArgs(srv), "-scope", "read admin") },
			wantCode: exitOAuthError, wantErr: `"invalid_scope"`,
		},
		{
			// The Client retries a 503 (three attempts in all); one that lasts
			// through every attempt ends as the OAuth error it carried.
			name: "temporarily_unavailable through every retry is another OAuth error",
			setup: func(srv *refreshtest.Server) {
				srv.FailNext(3, refreshtest.StatusFault(503, "temporarily_unavailable"))
			},
			wantCode: exitOAuthError, wantErr: `"temporarily_unavailable" (HTTP 503)`,
		},
		{
			name:     "a proxy's HTML page is a response error",
			setup:    func(srv *refreshtest.Server) { srv.FailNext(1, refreshtest.HTMLFault(502)) },
			wantCode: exitResponseError, wantErr: "HTTP 502",
		},
		{
			name:     "truncated JSON is a response error",
			setup:    func(srv *refreshtest.Server) { srv.FailNext(1, refreshtest.TruncatedJSONFault()) },
			wantCode: exitResponseError, wantErr: "malformed JSON",
		},
		{
			name:     "a closed connection is the network",
			setup:    func(srv *refreshtest.Server) { srv.FailNext(1, refreshtest.CloseConnectionFault()) },
			wantCode: exitNetwork, wantErr: "refresh: token request",
		},
		{
			name:     "a timeout is the network",
			setup:    func(srv *refreshtest.Server) { srv.FailNext(1, refreshtest.Fault{Delay: time.Minute}) },
			args:     func(srv *refreshtest.Server) []string { return append(baseArgs(srv), "-timeout", "100ms") },
			wantCode: exitNetwork, wantErr: "refresh: token request",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.opts...)
			rt := srv.IssueRefreshToken(basic.ID, "read", "write")
			args, e, stdin := baseArgs(srv), env{"CLIENT_SECRET": basic.Secret, "REFRESH_TOKEN": rt}, ""
			if tc.args != nil {
				args = tc.args(srv)
			}
			if tc.env != nil {
				e = tc.env(rt)
			}
			if tc.stdin != nil {
				stdin = tc.stdin(rt)
			}
			if tc.setup != nil {
				tc.setup(srv)
			}
			var out, logs lockedBuffer
			var stdout interface{ Write([]byte) (int, error) } = &out
			if tc.wantCode == exitOutput {
				stdout = failingWriter{}
			}
			err := run(t.Context(), args, e.get, strings.NewReader(stdin), stdout, &logs)
			if got := exitCode(err); got != tc.wantCode {
				t.Errorf("exit code %d (error %v), want %d", got, err, tc.wantCode)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want one with %q", err, tc.wantErr)
			}
			var newTokens []string
			for _, r := range srv.Requests() {
				newTokens = append(newTokens, r.Form.Get("refresh_token"))
			}
			texts := []string{out.String(), logs.String()}
			if err != nil {
				texts = append(texts, err.Error())
			}
			for _, text := range texts {
				for _, s := range append(newTokens, rt, basic.Secret) {
					if s != "" && strings.Contains(text, s) {
						t.Errorf("output shows a secret:\n%s", text)
					}
				}
			}
		})
	}
}

func baseArgs(srv *refreshtest.Server) []string {
	return []string{"-token-url", srv.TokenURL(), "-client-id", clients[0].ID}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestEachAuthMethod refreshes with every -auth value against a client
// registered for it; the server checks the method and the credentials.
func TestEachAuthMethod(t *testing.T) {
	srv := newServer(t)
	for _, tc := range []struct {
		auth   string
		client refreshtest.Client
	}{
		{"basic", clients[0]},
		{"basic-raw", clients[1]},
		{"post", clients[2]},
		{"none", clients[3]},
	} {
		t.Run(tc.auth, func(t *testing.T) {
			rt := srv.IssueRefreshToken(tc.client.ID, "read")
			r := runCLI(t, env{"CLIENT_SECRET": tc.client.Secret, "REFRESH_TOKEN": rt}, "",
				"-token-url", srv.TokenURL(), "-client-id", tc.client.ID, "-auth", tc.auth)
			if r.code != exitOK {
				t.Fatalf("exit %d: %v\n%s", r.code, r.err, r.stderr)
			}
			last := srv.Requests()[len(srv.Requests())-1]
			if last.AuthMethod != tc.client.Method || last.ClientID != tc.client.ID || last.ClientSecret != tc.client.Secret {
				t.Errorf("request %v, want %s with the client's credentials", last, tc.client.Method)
			}
		})
	}
}

// TestOutput checks both outputs: redacted by default, the tokens with -json.
func TestOutput(t *testing.T) {
	srv := newServer(t)
	basic := clients[0]

	t.Run("redacted by default", func(t *testing.T) {
		rt := srv.IssueRefreshToken(basic.ID, "read", "write")
		r := runCLI(t, env{"CLIENT_SECRET": basic.Secret, "REFRESH_TOKEN": rt}, "", append(baseArgs(srv), "-scope", "read")...)
		if r.code != exitOK {
			t.Fatalf("exit %d: %v", r.code, r.err)
		}
		want := `tokens:        refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:X, Scopes:["read"]}
token type:    Bearer
expires in:    1h0m0s
refresh token: a new one was issued; the one sent may be spent (use -json to keep it)
scopes:        ["read"]
`
		got := r.stdout
		if i := strings.Index(got, "ExpiresAt:"); i >= 0 {
			if j := strings.Index(got[i:], ","); j >= 0 {
				got = got[:i] + "ExpiresAt:X" + got[i+j:]
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stdout (-want +got):\n%s", diff)
		}
		if !strings.Contains(r.stderr, "warning: the server issued a new refresh token") {
			t.Errorf("no warning about the unseen refresh token:\n%s", r.stderr)
		}
		if !strings.Contains(r.stderr, "msg=refreshed") {
			t.Errorf("no log of the refresh:\n%s", r.stderr)
		}
	})

	t.Run("the tokens with -json", func(t *testing.T) {
		rt := srv.IssueRefreshToken(basic.ID, "read")
		before := time.Now()
		r := runCLI(t, env{"CLIENT_SECRET": basic.Secret, "REFRESH_TOKEN": rt}, "", append(baseArgs(srv), "-json")...)
		if r.code != exitOK {
			t.Fatalf("exit %d: %v", r.code, r.err)
		}
		var got tokensJSON
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
		}
		if got.AccessToken == "" || srv.State(got.AccessToken) != refreshtest.Active ||
			got.RefreshToken == "" || srv.State(got.RefreshToken) != refreshtest.Active {
			t.Errorf("printed tokens are not the server's live ones: access %v, refresh %v",
				srv.State(got.AccessToken), srv.State(got.RefreshToken))
		}
		if got.TokenType != "Bearer" || got.ExpiresIn != 3600 || got.ExpiresAt == nil || got.ExpiresAt.Before(before) ||
			fmt.Sprint(got.Scope) != "[read]" {
			t.Errorf("printed %+v", got)
		}
		if strings.Contains(r.stderr, got.AccessToken) || strings.Contains(r.stderr, got.RefreshToken) {
			t.Errorf("the log shows a token:\n%s", r.stderr)
		}
	})
}
