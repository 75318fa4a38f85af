package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

const (
	testClientID     = "Iv1.0123456789abcdef"
	testClientSecret = "gh-app-secret-5d7e1"
	// refreshLifetime is about six months, as GitHub grants refresh tokens.
	refreshLifetime = 15811200 * time.Second
)

// gitHub is a refreshtest server that behaves like GitHub's token endpoint
// (errors with HTTP 200 and GitHub's codes, single-use refresh tokens with
// refresh_token_expires_in, client_secret_post), and an API whose /user
// answers {"login":"octocat"} to the server's valid access tokens.
type gitHub struct {
	*refreshtest.Server
	api *httptest.Server
}

func newGitHub(t *testing.T) *gitHub {
	t.Helper()
	srv := refreshtest.NewServer(
		refreshtest.WithClient(refreshtest.Client{ID: testClientID, Secret: testClientSecret, Method: refreshtest.AuthClientSecretPost}),
		refreshtest.WithQuirks(refreshtest.GitHubQuirks()),
		refreshtest.WithAccessTokenLifetime(8*time.Hour),
		refreshtest.WithRefreshTokenLifetime(refreshLifetime),
	)
	t.Cleanup(srv.Close)
	mux := http.NewServeMux()
	mux.Handle("GET /user", srv.Resource(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"login":"octocat","id":1}`))
	})))
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	return &gitHub{Server: srv, api: api}
}

type env map[string]string

func (e env) get(name string) string { return e[name] }

func (g *gitHub) run(t *testing.T, e env, file string, extra ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, logs bytes.Buffer
	args := append([]string{"-token-url", g.TokenURL(), "-api", g.api.URL, "-token-file", file}, extra...)
	err = run(t.Context(), args, e.get, &out, &logs)
	return out.String(), logs.String(), err
}

func readTokens(t *testing.T, file string) *refresh.Tokens {
	t.Helper()
	tok, err := loadTokens(file)
	if err != nil || tok == nil {
		t.Fatalf("token file: %v, %v", tok, err)
	}
	return tok
}

// TestGitHubRefreshCycle: the first run refreshes with client_secret_post and
// Accept: application/json, saves the single-use refresh token's successor
// with its expiry, and calls the API; the next run uses the saved access
// token; -force refreshes with the saved refresh token.
func TestGitHubRefreshCycle(t *testing.T) {
	g := newGitHub(t)
	rt := g.IssueRefreshToken(testClientID)
	file := filepath.Join(t.TempDir(), "tokens.json")
	creds := env{"GITHUB_CLIENT_ID": testClientID, "GITHUB_CLIENT_SECRET": testClientSecret}
	first := env{"GITHUB_REFRESH_TOKEN": rt}
	for k, v := range creds {
		first[k] = v
	}
	var outputs []string

	before := time.Now()
	stdout, stderr, err := g.run(t, first, file)
	after := time.Now()
	outputs = append(outputs, stdout, stderr)
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, stderr)
	}
	if stdout != "signed in as octocat\n" {
		t.Errorf("stdout %q", stdout)
	}
	reqs := g.Requests()
	if len(reqs) != 1 {
		t.Fatalf("token requests: %d, want 1", len(reqs))
	}
	if r := reqs[0]; r.AuthMethod != refreshtest.AuthClientSecretPost || r.ClientSecret != testClientSecret ||
		r.Header.Get("Accept") != "application/json" || r.Form.Get("refresh_token") != rt {
		t.Errorf("request: %v, Accept %q; want client_secret_post with the secret, Accept: application/json and the refresh token",
			r, r.Header.Get("Accept"))
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v; want mode 0600", fi, err)
	}
	saved := readTokens(t, file)
	if g.State(rt) != refreshtest.Spent || g.State(saved.RefreshToken) != refreshtest.Active {
		t.Errorf("states: first %v, saved %v; want Spent, Active", g.State(rt), g.State(saved.RefreshToken))
	}
	if exp := saved.RefreshTokenExpiresAt; exp.Before(before.Add(refreshLifetime-time.Second)) || exp.After(after.Add(refreshLifetime)) {
		t.Errorf("RefreshTokenExpiresAt %v, want about six months from now", exp)
	}
	if d := saved.Lifetime(); d != 8*time.Hour {
		t.Errorf("access token lifetime %v, want 8h", d)
	}

	// The next run: the access token has hours left.
	stdout, stderr, err = g.run(t, creds, file)
	outputs = append(outputs, stdout, stderr)
	if err != nil || stdout != "signed in as octocat\n" || len(g.Requests()) != 1 {
		t.Errorf("second run: %v, %q, %d token requests; want no refresh", err, stdout, len(g.Requests()))
	}

	// -force: refresh with the saved token, which rotates again.
	stdout, stderr, err = g.run(t, creds, file, "-force")
	outputs = append(outputs, stdout, stderr)
	if err != nil || len(g.Requests()) != 2 {
		t.Fatalf("forced run: %v, %d token requests\n%s", err, len(g.Requests()), stderr)
	}
	if sent := g.Requests()[1].Form.Get("refresh_token"); sent != saved.RefreshToken {
		t.Error("the forced refresh did not send the saved refresh token")
	}
	newest := readTokens(t, file)
	if newest.RefreshToken == saved.RefreshToken || g.State(newest.RefreshToken) != refreshtest.Active {
		t.Error("the second rotation was not saved")
	}

	for _, out := range outputs {
		for _, s := range []string{testClientSecret, rt, saved.RefreshToken, saved.AccessToken, newest.RefreshToken, newest.AccessToken} {
			if strings.Contains(out, s) {
				t.Errorf("output shows a secret:\n%s", out)
			}
		}
	}
}

// TestGitHubErrors: GitHub's errors arrive with HTTP 200 and its own codes,
// and each leaves the token file as it was.
func TestGitHubErrors(t *testing.T) {
	creds := env{"GITHUB_CLIENT_ID": testClientID, "GITHUB_CLIENT_SECRET": testClientSecret}
	for _, tc := range []struct {
		name     string
		setup    func(g *gitHub, file string) env // writes the token file, returns the environment
		wantIs   []error
		wantCode string // the OAuthError's code, sent with HTTP 200; empty: no request at all
	}{
		{
			name: "a spent refresh token is bad_refresh_token, and reusing it revokes the grant",
			setup: func(g *gitHub, file string) env {
				rt := g.IssueRefreshToken(testClientID)
				// Another copy of the program refreshed it already: rt is spent.
				if _, err := (&refresh.Client{TokenURL: g.TokenURL(), Auth: refresh.ClientSecretPost(testClientID, testClientSecret)}).Refresh(t.Context(), rt); err != nil {
					t.Fatal(err)
				}
				writeTokens(t, file, &refresh.Tokens{RefreshToken: rt})
				return creds
			},
			wantIs:   []error{errBadRefreshToken, errMustAuthorizeUser},
			wantCode: "bad_refresh_token",
		},
		{
			name: "a wrong client secret is incorrect_client_credentials",
			setup: func(g *gitHub, file string) env {
				writeTokens(t, file, &refresh.Tokens{RefreshToken: g.IssueRefreshToken(testClientID)})
				return env{"GITHUB_CLIENT_ID": testClientID, "GITHUB_CLIENT_SECRET": "wrong-secret"}
			},
			wantIs:   []error{errBadClientSecret},
			wantCode: "incorrect_client_credentials",
		},
		{
			name: "an expired refresh token is not sent",
			setup: func(g *gitHub, file string) env {
				writeTokens(t, file, &refresh.Tokens{RefreshToken: g.IssueRefreshToken(testClientID),
					RefreshTokenExpiresAt: time.Now().Add(-time.Hour)})
				return creds
			},
			wantIs: []error{errMustAuthorizeUser},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGitHub(t)
			file := filepath.Join(t.TempDir(), "tokens.json")
			e := tc.setup(g, file)
			before, _ := os.ReadFile(file)
			sent := len(g.Requests())

			stdout, stderr, err := g.run(t, e, file)
			for _, want := range tc.wantIs {
				if !errors.Is(err, want) {
					t.Errorf("error %v, want one matching %v", err, want)
				}
			}
			var oe *refresh.OAuthError
			switch {
			case tc.wantCode == "" && len(g.Requests()) != sent:
				t.Errorf("%d token requests sent, want none", len(g.Requests())-sent)
			case tc.wantCode != "" && (!errors.As(err, &oe) || oe.Code != tc.wantCode || oe.StatusCode != http.StatusOK):
				t.Errorf("error %v, want a *refresh.OAuthError %q with HTTP 200", err, tc.wantCode)
			}
			if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
				t.Error("the token file changed")
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			for _, out := range []string{stderr, err.Error()} {
				if strings.Contains(out, testClientSecret) || strings.Contains(out, readTokens(t, file).RefreshToken) {
					t.Errorf("output shows a secret: %s", out)
				}
			}
		})
	}
}

// TestGitHubReuseRevokesTheGrant shows why the program never sends a spent
// refresh token: GitHub-like reuse detection revokes the newer one as well.
func TestGitHubReuseRevokesTheGrant(t *testing.T) {
	g := newGitHub(t)
	rt := g.IssueRefreshToken(testClientID)
	file := filepath.Join(t.TempDir(), "tokens.json")
	e := env{"GITHUB_CLIENT_ID": testClientID, "GITHUB_CLIENT_SECRET": testClientSecret, "GITHUB_REFRESH_TOKEN": rt}
	if _, stderr, err := g.run(t, e, file); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	saved := readTokens(t, file)
	// A stale copy of the first token file (a backup restored) sends rt again.
	stale := filepath.Join(t.TempDir(), "stale.json")
	writeTokens(t, stale, &refresh.Tokens{RefreshToken: rt})
	if _, _, err := g.run(t, e, stale); !errors.Is(err, errBadRefreshToken) {
		t.Fatalf("reuse: %v, want bad_refresh_token", err)
	}
	if st := g.State(saved.RefreshToken); st != refreshtest.Revoked {
		t.Errorf("after the reuse, the newest refresh token is %v, want Revoked", st)
	}
}

func TestGitHubUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  env
		args []string
		want string
	}{
		{"no client credentials", env{}, nil, "set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET"},
		{"no token file and no refresh token", env{"GITHUB_CLIENT_ID": "a", "GITHUB_CLIENT_SECRET": "b"},
			[]string{"-token-file", filepath.Join(t.TempDir(), "none.json")}, "set GITHUB_REFRESH_TOKEN"},
		{"an extra argument", env{}, []string{"extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t.Context(), tc.args, tc.env.get, new(bytes.Buffer), new(bytes.Buffer))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
	if err := run(t.Context(), []string{"-h"}, env{}.get, new(bytes.Buffer), new(bytes.Buffer)); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

func writeTokens(t *testing.T, file string, tok *refresh.Tokens) {
	t.Helper()
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
