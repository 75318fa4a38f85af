package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

const (
	testClientID     = "api-client"
	testClientSecret = "api-secret-9f3k2"
)

// env is an environment for run.
type env map[string]string

func (e env) get(name string) string { return e[name] }

// setup starts a refreshtest server that knows the client, and returns it with
// a refresh token of a signed-in user and a token file path in a fresh
// directory.
func setup(t *testing.T) (srv *refreshtest.Server, rt, file string) {
	t.Helper()
	srv = refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{
		ID: testClientID, Secret: testClientSecret, Method: refreshtest.AuthClientSecretBasic,
	}))
	t.Cleanup(srv.Close)
	rt = srv.IssueRefreshToken(testClientID, "read")
	return srv, rt, filepath.Join(t.TempDir(), "tokens.json")
}

// lockedBuffer is a bytes.Buffer safe for concurrent use: the Source logs from
// its own goroutine, which may still be writing when run returns.
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

// runOnce runs the program and returns its error, stdout and stderr.
func runOnce(t *testing.T, e env, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, logs lockedBuffer
	err = run(t.Context(), args, e.get, &out, &logs)
	return out.String(), logs.String(), err
}

func args(srv *refreshtest.Server, file string, requests int) []string {
	return []string{"-token-url", srv.TokenURL(), "-client-id", testClientID, "-token-file", file,
		"-url", srv.ResourceURL(), "-requests", fmt.Sprint(requests)}
}

// readFile reads the token file as the program wrote it.
func readFile(t *testing.T, file string) *refresh.Tokens {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var tok refresh.Tokens
	if err := json.Unmarshal(b, &tok); err != nil {
		t.Fatal(err)
	}
	return &tok
}

// checkMode fails unless the file's permissions are exactly 0600.
func checkMode(t *testing.T, file string) {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("%s has mode %v, want 0600", file, m)
	}
}

// checkNoSecrets fails if any output shows a secret.
func checkNoSecrets(t *testing.T, outputs []string, secrets ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, s := range secrets {
			if s != "" && strings.Contains(out, s) {
				t.Errorf("output shows a secret %q:\n%s", s, out)
			}
		}
	}
}

// TestRunAcrossRestarts runs the program three times over one token file: the
// first run refreshes once for 20 concurrent requests and persists the rotated
// refresh token; the second (a restart) uses the saved access token without a
// token request; the third finds its access token revoked, gets 401
// invalid_token, refreshes once and persists the new rotation.
func TestRunAcrossRestarts(t *testing.T) {
	srv, rt, file := setup(t)
	var outputs []string
	first := env{"CLIENT_SECRET": testClientSecret, "REFRESH_TOKEN": rt}
	later := env{"CLIENT_SECRET": testClientSecret} // no REFRESH_TOKEN: the file must do

	// 1. The first run.
	stdout, stderr, err := runOnce(t, first, args(srv, file, 20)...)
	outputs = append(outputs, stdout, stderr)
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, stderr)
	}
	if want := strings.Repeat("request N: 200 OK\n", 20); numbersOut(stdout) != want {
		t.Errorf("stdout:\n%s\nwant 20 lines of 200 OK", stdout)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("token requests for 20 concurrent requests: %d, want 1", n)
	}
	checkMode(t, file)
	saved := readFile(t, file)
	if saved.RefreshToken == rt || srv.State(saved.RefreshToken) != refreshtest.Active {
		t.Errorf("saved refresh token: the one given: %t, state %v; want the rotated, active one",
			saved.RefreshToken == rt, srv.State(saved.RefreshToken))
	}
	if st := srv.State(rt); st != refreshtest.Spent {
		t.Errorf("the first refresh token is %v, want Spent", st)
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the token file (no temporary files left)", len(entries))
	}

	// 2. A restart: the saved access token is still valid.
	stdout, stderr, err = runOnce(t, later, args(srv, file, 3)...)
	outputs = append(outputs, stdout, stderr)
	if err != nil {
		t.Fatalf("restart: %v\n%s", err, stderr)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("token requests after the restart: %d, want still 1", n)
	}
	if diff := cmp.Diff(saved, readFile(t, file), cmpopts.IgnoreUnexported(refresh.Tokens{})); diff != "" {
		t.Errorf("the restart changed the file (-before +after):\n%s", diff)
	}

	// 3. The server revokes the access token: 401, one refresh, rotation saved.
	srv.Revoke(saved.AccessToken)
	stdout, stderr, err = runOnce(t, later, args(srv, file, 5)...)
	outputs = append(outputs, stdout, stderr)
	if err != nil {
		t.Fatalf("after revocation: %v\n%s", err, stderr)
	}
	if want := strings.Repeat("request N: 200 OK\n", 5); numbersOut(stdout) != want {
		t.Errorf("stdout:\n%s\nwant 5 lines of 200 OK", stdout)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("token requests after the 401: %d, want 2", n)
	}
	checkMode(t, file)
	again := readFile(t, file)
	if again.RefreshToken == saved.RefreshToken || srv.State(again.RefreshToken) != refreshtest.Active {
		t.Errorf("the second rotation was not saved: state of the saved token %v", srv.State(again.RefreshToken))
	}

	checkNoSecrets(t, outputs, testClientSecret, rt, saved.RefreshToken, saved.AccessToken,
		again.RefreshToken, again.AccessToken)
	// The log shows the tokens redacted. (The Source's own "token refreshed"
	// line comes from its goroutine and may follow run's return.)
	if !strings.Contains(outputs[1], "msg=done tokens.type=refresh.Tokens tokens.access_token=[redacted] tokens.token_type=Bearer tokens.refresh_token=[redacted]") {
		t.Errorf("the log does not describe the tokens:\n%s", outputs[1])
	}
}

// numbersOut replaces the request numbers of run's output, whose lines come in
// order but whose statuses are checked as a whole.
func numbersOut(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if rest, ok := strings.CutPrefix(line, "request "); ok {
			_, status, _ := strings.Cut(rest, ":")
			line = "request N:" + status
		}
		b.WriteString(line)
	}
	return b.String()
}

// TestRunWithASpentRefreshToken: the server refuses the refresh token, every
// request fails with invalid_grant, and the file is left as it was.
func TestRunWithASpentRefreshToken(t *testing.T) {
	srv, rt, file := setup(t)
	spent := &refresh.Tokens{RefreshToken: "spent-" + rt}
	if err := (&FileStore{Path: file}).Save(t.Context(), spent); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runOnce(t, env{"CLIENT_SECRET": testClientSecret}, args(srv, file, 2)...)
	if err == nil || !strings.Contains(err.Error(), "2 of 2 requests failed") {
		t.Errorf("error %v, want 2 of 2 requests failed", err)
	}
	if !strings.Contains(stdout, `"invalid_grant"`) {
		t.Errorf("stdout does not name invalid_grant:\n%s", stdout)
	}
	if got := readFile(t, file); got.RefreshToken != spent.RefreshToken {
		t.Error("the file changed after a failed refresh")
	}
	checkNoSecrets(t, []string{stdout, stderr, err.Error()}, testClientSecret, spent.RefreshToken)
}

func TestRunUsage(t *testing.T) {
	srv, _, file := setup(t)
	for _, tc := range []struct {
		name string
		env  env
		args []string
		want string
	}{
		{"no token URL", env{}, []string{"-client-id", "x", "-url", "http://127.0.0.1/"}, "required"},
		{"no requests", env{}, args(srv, file, 0), "at least 1"},
		{"an extra argument", env{}, append(args(srv, file, 1), "extra"), `unexpected argument "extra"`},
		{"an unknown flag", env{}, []string{"-secret", "x"}, "flag provided but not defined"},
		{"no token file and no REFRESH_TOKEN", env{}, args(srv, file, 1), "set REFRESH_TOKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runOnce(t, tc.env, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
	if _, _, err := runOnce(t, env{}, "-h"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	issued := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tok := &refresh.Tokens{
		AccessToken: "at-1", TokenType: "Bearer", RefreshToken: "rt-1", IDToken: "idt",
		ExpiresAt: issued.Add(time.Hour), RefreshTokenExpiresAt: issued.Add(24 * time.Hour),
		IssuedAt: issued, Scopes: []string{"read", "write"},
	}

	t.Run("no file yet loads nothing", func(t *testing.T) {
		got, err := (&FileStore{Path: filepath.Join(t.TempDir(), "none.json")}).Load(ctx)
		if got != nil || err != nil {
			t.Errorf("Load: %v, %v; want nil, nil", got, err)
		}
	})
	t.Run("what Save writes Load reads", func(t *testing.T) {
		s := &FileStore{Path: filepath.Join(t.TempDir(), "t.json")}
		if err := s.Save(ctx, tok); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tok, got, cmpopts.IgnoreUnexported(refresh.Tokens{})); diff != "" {
			t.Errorf("loaded (-saved +loaded):\n%s", diff)
		}
		checkMode(t, s.Path)
	})
	t.Run("a file readable by others becomes 0600", func(t *testing.T) {
		s := &FileStore{Path: filepath.Join(t.TempDir(), "t.json")}
		if err := os.WriteFile(s.Path, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(s.Path, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, tok); err != nil {
			t.Fatal(err)
		}
		checkMode(t, s.Path)
	})
	t.Run("a malformed file is an error that shows none of it", func(t *testing.T) {
		s := &FileStore{Path: filepath.Join(t.TempDir(), "t.json")}
		if err := os.WriteFile(s.Path, []byte(`{"refresh_token": secret-value-123`), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load(ctx)
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("Load: %v; want an error without the file's content", err)
		}
	})
	t.Run("a missing directory is an error", func(t *testing.T) {
		s := &FileStore{Path: filepath.Join(t.TempDir(), "no", "t.json")}
		if err := s.Save(ctx, tok); err == nil {
			t.Error("Save into a missing directory succeeded")
		}
	})
	t.Run("a failed rename leaves no temporary file", func(t *testing.T) {
		dir := t.TempDir()
		s := &FileStore{Path: filepath.Join(dir, "t.json")}
		if err := os.Mkdir(s.Path, 0o700); err != nil { // a directory where the file should go
			t.Fatal(err)
		}
		if err := s.Save(ctx, tok); err == nil {
			t.Error("Save over a directory succeeded")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("directory holds %d entries, want only t.json", len(entries))
		}
	})
	t.Run("a done ctx stops Load and Save", func(t *testing.T) {
		s := &FileStore{Path: filepath.Join(t.TempDir(), "t.json")}
		if err := s.Save(ctx, tok); err != nil {
			t.Fatal(err)
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		if got, err := s.Load(done); got != nil || !errors.Is(err, context.Canceled) {
			t.Errorf("Load: %v, %v; want nil, context.Canceled", got, err)
		}
		newer := *tok
		newer.RefreshToken = "rt-2"
		if err := s.Save(done, &newer); !errors.Is(err, context.Canceled) {
			t.Errorf("Save: %v, want context.Canceled", err)
		}
		if got := readFile(t, s.Path); got.RefreshToken != tok.RefreshToken {
			t.Errorf("the file holds refresh token %q after a cancelled Save, want %q", got.RefreshToken, tok.RefreshToken)
		}
	})
	t.Run("a Save cancelled between any two steps leaves the old file and no temporary file", func(t *testing.T) {
		dir := t.TempDir()
		s := &FileStore{Path: filepath.Join(dir, "t.json")}
		if err := s.Save(ctx, tok); err != nil {
			t.Fatal(err)
		}
		newer := *tok
		newer.RefreshToken = "rt-2"
		for n := 0; n <= 10; n++ { // n: how many of Save's ctx checks pass
			err := s.Save(&doneAfter{Context: ctx, checks: n}, &newer)
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("after %d checks: the directory holds %d entries, want only t.json", n, len(entries))
			}
			got := readFile(t, s.Path)
			if err == nil {
				if n == 0 {
					t.Error("Save with a done ctx succeeded")
				}
				if got.RefreshToken != newer.RefreshToken {
					t.Errorf("after a Save: refresh token %q, want %q", got.RefreshToken, newer.RefreshToken)
				}
				return
			}
			if !errors.Is(err, context.Canceled) || got.RefreshToken != tok.RefreshToken {
				t.Fatalf("after %d checks: Save: %v, file holds %q; want context.Canceled and %q", n, err, got.RefreshToken, tok.RefreshToken)
			}
		}
		t.Error("Save never succeeded")
	})
	t.Run("a Save waiting for another gives up when its ctx is done", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := &FileStore{Path: filepath.Join(t.TempDir(), "t.json")}
			s.once.Do(func() { s.turn = make(chan struct{}, 1) })
			s.turn <- struct{}{} // a Save that is stuck, on a hung disk say
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := s.Save(ctx, tok); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Save: %v, want context.DeadlineExceeded", err)
			}
		})
	})
	t.Run("concurrent saves leave one whole version and no temporary file", func(t *testing.T) {
		dir := t.TempDir()
		s := &FileStore{Path: filepath.Join(dir, "t.json")}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				v := *tok
				v.RefreshToken = fmt.Sprintf("rt-%d", i)
				if err := s.Save(ctx, &v); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, err := s.Load(ctx)
		if err != nil || got == nil || !strings.HasPrefix(got.RefreshToken, "rt-") {
			t.Errorf("Load: %v, %v", got, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("directory holds %d entries, want 1", len(entries))
		}
	})
}

// doneAfter is a context whose Err reports context.Canceled once checks calls
// have passed, to stop a Save between any two of its steps.
type doneAfter struct {
	context.Context
	checks int
}

func (c *doneAfter) Err() error {
	if c.checks--; c.checks < 0 {
		return context.Canceled
	}
	return nil
}
