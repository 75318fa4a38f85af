package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// installHint says how to get the server the tests need.
const installHint = "the redisstore tests need redis-server on PATH: " +
	"apt-get install -y redis-server (Debian); bash scripts/test.sh installs it when missing"

// redisServer is a redis-server the test started on a free loopback port, in
// a directory of its own, with persistence off; Cleanup stops it.
type redisServer struct {
	Addr string
	dir  string
	args []string // further arguments of redis-server
	// conf is a configuration file, the first argument, or ""; ready is the
	// log line that says the server is up ("" for a data server's).
	conf, ready string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// startRedis starts a redis-server for t, with args added to its command
// line, and stops it when t ends. It fails t when the server cannot start,
// saying how to install it.
func startRedis(t testing.TB, args ...string) *redisServer {
	return start(t, &redisServer{args: args})
}

// startSentinel starts a Sentinel that monitors master as "main", and
// returns a failover client that finds the master through it.
func startSentinel(t testing.TB, master *redisServer) *redis.Client {
	t.Helper()
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(master.Addr)
	conf := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(conf, []byte("sentinel monitor main "+host+" "+port+" 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, &redisServer{conf: conf, args: []string{"--sentinel"}, ready: "+monitor master main"})
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "main", SentinelAddrs: []string{s.Addr}})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// start starts r on a free port, in a directory of t's, and stops it when t
// ends.
func start(t testing.TB, r *redisServer) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("%s (%v)", installHint, err)
	}
	r.dir = t.TempDir()
	var err error
	for range 3 { // another process may take the free port before redis-server binds it
		var port int
		if port, err = freePort(); err != nil {
			break
		}
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = r.Start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("starting redis-server: %v (%s)", err, installHint)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stopping redis-server: %v", err)
		}
	})
	return r
}

// Client returns a client of the server, closed when t ends.
func (r *redisServer) Client(t testing.TB) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts redis-server on r.Addr and returns once it accepts
// connections, as its log says.
func (r *redisServer) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return errors.New("redis-server is already running")
	}
	_, port, _ := net.SplitHostPort(r.Addr)
	var args []string
	if r.conf != "" {
		args = append(args, r.conf)
	}
	args = append(args, "--port", port, "--bind", "127.0.0.1", "--dir", r.dir, "--logfile", "", "--daemonize", "no")
	ready := r.ready
	if ready == "" {
		ready = "Ready to accept connections"
		args = append(args, "--save", "", "--appendonly", "no")
	}
	cmd := exec.Command("redis-server", append(args, r.args...)...)
	cmd.SysProcAttr = dieWithParent()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	up := make(chan error, 1)
	go func() {
		var log strings.Builder
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), ready) {
				up <- nil
				for sc.Scan() { // keep reading, so that the server never blocks on its log
				}
				return
			}
			log.WriteString(sc.Text() + "\n")
		}
		up <- fmt.Errorf("redis-server exited before it was ready:\n%s", log.String())
	}()
	select {
	case err = <-up:
	case <-time.After(20 * time.Second): // a bound on failure only
		err = errors.New("redis-server not ready after 20s")
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	r.cmd = cmd
	return nil
}

// Stop kills the server, as a crash would, and waits for it to exit.
func (r *redisServer) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return nil
	}
	cmd := r.cmd
	r.cmd = nil
	if err := cmd.Process.Kill(); err != nil {
		return err
	}
	err := cmd.Wait()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return nil // killed, as asked
	}
	return err
}

// startCluster starts a one-node Redis Cluster that serves every slot, and
// returns a Cluster client of it, closed when t ends.
func startCluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	r := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	node := r.Client(t)
	ctx := context.Background()
	if err := node.ClusterAddSlotsRange(ctx, 0, 16383).Err(); err != nil {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second) // a bound on failure only
	for !strings.Contains(node.ClusterInfo(ctx).Val(), "cluster_state:ok") {
		if time.Now().After(deadline) {
			t.Fatal("the one-node cluster did not reach cluster_state:ok")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{r.Addr}})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
