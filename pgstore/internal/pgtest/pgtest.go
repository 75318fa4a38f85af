// Package pgtest starts a PostgreSQL server of the tests' own, in a temporary
// directory, on a free loopback port, for pgstore's tests. As root it runs the
// server as the user "postgres" (or "nobody"), since PostgreSQL refuses to run
// as root.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// InstallHint is how to get PostgreSQL, for a test that could not start it.
const InstallHint = "install PostgreSQL (Debian: apt-get install -y postgresql; scripts/test.sh does this) or put its bin directory (initdb, postgres) on PATH"

// Server is a PostgreSQL server in a temporary directory, on a loopback port.
// Its methods are for one goroutine at a time.
type Server struct {
	bin  string // the directory of initdb and postgres
	dir  string // the temporary directory: data/, the socket, log
	port int
	cred *syscall.Credential // nil unless run as root
	cmd  *exec.Cmd           // the running postmaster, or nil
	exit chan error          // cmd's Wait result
}

// New makes a new cluster and starts it. Its error says what failed; add
// [InstallHint] when telling a user.
func New() (*Server, error) {
	bin, err := findPostgres()
	if err != nil {
		return nil, err
	}
	p := &Server{bin: bin}
	if p.dir, err = os.MkdirTemp("", "pgstore-test-"); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if p.cred, err = unprivileged(); err != nil {
			p.Remove()
			return nil, err
		}
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			p.Remove()
			return nil, err
		}
	}
	initdb := p.command("initdb", "-D", filepath.Join(p.dir, "data"), "-U", "refresh", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		p.Remove()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if p.port, err = FreePort(); err != nil {
		p.Remove()
		return nil, err
	}
	if err := p.Start(); err != nil {
		p.Remove()
		return nil, err
	}
	return p, nil
}

// findPostgres finds the directory that holds initdb and postgres: on PATH, or
// Debian's /usr/lib/postgresql/<version>/bin, the newest version first.
func findPostgres() (string, error) {
	if path, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
		return filepath.Dir(path), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no initdb on PATH or in /usr/lib/postgresql/*/bin")
}

// version is the major version in a /usr/lib/postgresql/<version>/bin path.
func version(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

// unprivileged is the user PostgreSQL runs as when the tests run as root.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New(`running as root, and there is no user "postgres" or "nobody" to run PostgreSQL as`)
}

// FreePort is a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// command runs one of the server's programs as the server's user.
func (p *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

// ConnString is the address of the server's database, for pgxpool.New.
func (p *Server) ConnString() string {
	return fmt.Sprintf("postgres://refresh@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Start runs the postmaster again, on the same port with the same data, after
// [Server.Stop], and waits until it accepts connections.
func (p *Server) Start() error {
	log, err := os.OpenFile(filepath.Join(p.dir, "log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := p.command("postgres", "-D", filepath.Join(p.dir, "data"), "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+p.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		pool, err := pgxpool.New(ctx, p.ConnString())
		if err == nil {
			err = pool.Ping(ctx)
			pool.Close()
		}
		cancel()
		if err == nil {
			p.cmd, p.exit = cmd, exited
			return nil
		}
		select {
		case werr := <-exited:
			out, _ := os.ReadFile(filepath.Join(p.dir, "log"))
			return fmt.Errorf("postgres exited at start (%v):\n%s", werr, out)
		case <-time.After(50 * time.Millisecond): // set-up only: the server gives no other sign
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return fmt.Errorf("postgres did not accept connections within a minute: %w", err)
		}
	}
}

// Stop shuts the server down (fast shutdown: sessions are ended) and waits.
// Stopping a stopped server does nothing.
func (p *Server) Stop() error {
	if p.cmd == nil {
		return nil
	}
	cmd := p.cmd
	p.cmd = nil
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		return err
	}
	select {
	case <-p.exit:
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-p.exit
		return errors.New("postgres did not stop within 30s of SIGINT: killed")
	}
}

// Running reports whether the server runs (between Start and Stop).
func (p *Server) Running() bool { return p.cmd != nil }

// Remove stops the server and deletes its directory.
func (p *Server) Remove() {
	_ = p.Stop()
	_ = os.RemoveAll(p.dir)
}
