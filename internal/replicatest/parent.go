package replicatest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// client is the public client the token server registers for the workers.
var client = refreshtest.Client{ID: "replicatest", Method: refreshtest.AuthNone}

// fleet is the token server, the grant's store as the parent opens it, and the
// worker processes.
type fleet struct {
	tb    testing.TB
	srv   *refreshtest.Server
	store refresh.SharedStore
	reps  []*replica
}

// keys makes every fleet's grant key new, within a test binary and across runs.
var keys atomic.Int64

// newFleet starts a token server with rotation and reuse detection, seeds a
// new grant's store with its refresh token, and starts n workers.
func newFleet(tb testing.TB, b Backend, n int, opts ...refreshtest.Option) *fleet {
	tb.Helper()
	if b.Open == nil {
		tb.Fatal("replicatest: Backend.Open is nil")
	}
	srv := refreshtest.NewServer(append([]refreshtest.Option{refreshtest.WithClient(client),
		refreshtest.WithRotation(refreshtest.RotateRefreshTokens), refreshtest.WithReuseDetection(true)}, opts...)...)
	tb.Cleanup(srv.Close)
	key := fmt.Sprintf("replicatest-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), keys.Add(1))
	store, err := b.Open(b.Addr, key)
	if err != nil {
		tb.Fatalf("replicatest: opening the store: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := store.Save(ctx, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken(client.ID)}); err != nil {
		tb.Fatalf("replicatest: seeding the store: %v", err)
	}
	f := &fleet{tb: tb, srv: srv, store: store}
	for i := range n {
		f.reps = append(f.reps, f.spawn(workerConfig{TokenURL: srv.TokenURL(), ClientID: client.ID,
			StoreAddr: b.Addr, Key: key, Replica: i, RefreshTimeout: refreshTimeout}))
	}
	for _, r := range f.reps {
		r.expect("ready")
	}
	return f
}

// replica is a worker process seen from the parent.
type replica struct {
	tb    testing.TB
	id    int
	cmd   *exec.Cmd
	enc   *json.Encoder
	lines chan report // closed when the worker's stdout ends
}

func (f *fleet) spawn(cfg workerConfig) *replica {
	tb := f.tb
	tb.Helper()
	data, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envWorker+"="+string(data))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("replicatest: starting worker %d: %v", cfg.Replica, err)
	}
	r := &replica{tb: tb, id: cfg.Replica, cmd: cmd, enc: json.NewEncoder(stdin), lines: make(chan report, 16)}
	go r.read(stdout)
	tb.Cleanup(func() {
		_ = stdin.Close() // a worker ends at the end of its stdin
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return r
}

// read passes the worker's report lines on; other lines (a test binary's own
// output) are ignored.
func (r *replica) read(stdout io.Reader) {
	defer close(r.lines)
	in := bufio.NewScanner(stdout)
	for in.Scan() {
		var rep report
		if json.Unmarshal(in.Bytes(), &rep) == nil && rep.Event != "" {
			r.lines <- rep
		}
	}
}

func (r *replica) send(c command) {
	r.tb.Helper()
	if err := r.enc.Encode(c); err != nil {
		r.tb.Fatalf("replicatest: worker %d: sending %q: %v", r.id, c.Cmd, err)
	}
}

// expect waits for the worker's next report, which must be of event.
func (r *replica) expect(event string) report {
	r.tb.Helper()
	select {
	case rep, ok := <-r.lines:
		if !ok {
			r.tb.Fatalf("replicatest: worker %d exited before its %q report (its stderr is above)", r.id, event)
		}
		if rep.Event != event {
			r.tb.Fatalf("replicatest: worker %d reported %q, want %q", r.id, rep.Event, event)
		}
		return rep
	case <-time.After(bound):
		r.tb.Fatalf("replicatest: worker %d sent no %q report within %s", r.id, event, bound)
	}
	return report{}
}

// kill ends the worker with SIGKILL: no deferred function or handler runs, and
// the kernel closes its connections.
func (r *replica) kill() {
	r.tb.Helper()
	if err := r.cmd.Process.Kill(); err != nil {
		r.tb.Fatalf("replicatest: killing worker %d: %v", r.id, err)
	}
}

// all sends c to every worker in reps, then waits for a report of event from
// each ("" waits for none).
func all(reps []*replica, c command, event string) []report {
	for _, r := range reps {
		r.send(c)
	}
	if event == "" {
		return nil
	}
	var reps2 []report
	for _, r := range reps {
		reps2 = append(reps2, r.expect(event))
	}
	return reps2
}

// checkReports fails for every failure that is not a *refresh.StoreError, and
// for store errors too unless storeErrsOK, and returns the calls that worked.
func (f *fleet) checkReports(what string, reps []report, storeErrsOK bool) (ok, storeErrs int) {
	f.tb.Helper()
	for i, r := range reps {
		ok += r.OK
		storeErrs += r.StoreErrs
		if len(r.Errs) > 0 {
			f.tb.Errorf("%s: worker %d: %d calls (at least) failed with an error that is not a *refresh.StoreError; the first: %s",
				what, i, len(r.Errs), r.Errs[0])
		}
		if r.StoreErrs > 0 && !storeErrsOK {
			f.tb.Errorf("%s: worker %d: %d calls failed with a *refresh.StoreError", what, i, r.StoreErrs)
		}
	}
	return ok, storeErrs
}

// presentedTwice lists the refresh tokens that token requests presented more
// than once, leaving out the requests at the indexes in notCarriedOut (which
// the server held back without carrying them out).
func (f *fleet) presentedTwice(notCarriedOut ...int) int {
	seen := map[string]int{}
	for i, req := range f.srv.Requests() {
		if !slices.Contains(notCarriedOut, i) {
			seen[req.Form.Get("refresh_token")]++
		}
	}
	twice := 0
	for _, n := range seen {
		if n > 1 {
			twice++
		}
	}
	return twice
}

// storedState is what the token server knows of the stored refresh token.
func (f *fleet) storedState() refreshtest.TokenState {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	t, err := f.store.Load(ctx)
	if err != nil || t == nil {
		f.tb.Fatalf("replicatest: loading the stored tokens: %v (tokens: %v)", err, t)
	}
	return f.srv.State(t.RefreshToken)
}

// checkNoReuse fails when a refresh token was presented twice, or when the
// stored refresh token is not the server's current one (Active) once every
// run in flight is over.
func (f *fleet) checkNoReuse(notCarriedOut ...int) {
	f.tb.Helper()
	if n := f.presentedTwice(notCarriedOut...); n > 0 {
		f.tb.Errorf("%d refresh tokens were presented twice (reuse)", n)
	}
	// A refresh ahead of time may still be on its way when the callers
	// stop: wait for it to be saved (a failure bound, not a timing check).
	deadline := time.Now().Add(bound)
	for f.storedState() != refreshtest.Active && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := f.storedState(); st != refreshtest.Active {
		f.tb.Errorf("the stored refresh token is %v at the server, want Active (the current one)", st)
	}
}

// Herd has herdReplicas workers with herdGoroutines callers each ask for a
// token at once with every token expired, for herdRounds rounds: exactly one
// token request per round, and no refresh token presented twice.
func Herd(t *testing.T, b Backend) {
	f := newFleet(t, b, herdReplicas, refreshtest.WithAccessTokenLifetime(time.Hour))
	var perRound []int
	for round := range herdRounds {
		before := len(f.srv.Requests())
		reps := all(f.reps, command{Cmd: "round", Offset: 2 * time.Hour, Goroutines: herdGoroutines}, "round")
		f.checkReports(fmt.Sprintf("round %d", round), reps, false)
		perRound = append(perRound, len(f.srv.Requests())-before)
		if t.Failed() {
			t.Fatalf("token requests per round so far: %v", perRound)
		}
	}
	want := slices.Repeat([]int{1}, herdRounds)
	if !slices.Equal(perRound, want) {
		t.Errorf("token requests per round: got %v, want %v", perRound, want)
	}
	f.checkNoReuse()
}

// Sustained runs steadyReplicas workers for sustainedFor with tokens that live
// tokenLifetime: no refresh token presented twice, no failure, and the stored
// refresh token ends as the server's current one.
func Sustained(t *testing.T, b Backend) {
	f := newFleet(t, b, steadyReplicas, refreshtest.WithAccessTokenLifetime(tokenLifetime))
	all(f.reps, command{Cmd: "run", Goroutines: steadyGoroutines}, "")
	time.Sleep(sustainedFor)
	ok, _ := f.checkReports("sustained", all(f.reps, command{Cmd: "stop"}, "stopped"), false)
	t.Logf("%d tokens served, %d token requests (rotations) in %s", ok, len(f.srv.Requests()), sustainedFor)
	if ok == 0 {
		t.Error("no Token call succeeded")
	}
	f.checkNoReuse()
}

// Kill has the lease holder's token request held back by the server, SIGKILLs
// the holder, and checks that the server, which sees the connection drop,
// rotated nothing, and that the other workers refresh with the same refresh
// token once the dead holder's lease lapses, with no token presented twice.
func Kill(t *testing.T, b Backend) {
	f := newFleet(t, b, killReplicas, refreshtest.WithAccessTokenLifetime(time.Hour))
	held := refreshtest.StatusFault(503, "temporarily_unavailable")
	held.Delay = time.Hour // or until the client's connection drops
	f.srv.FailNext(1, held)
	all(f.reps, command{Cmd: "round", Goroutines: 10}, "")

	deadline := time.Now().Add(bound)
	for len(f.srv.Requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // waiting for the holder's request to arrive
	}
	reqs := f.srv.Requests()
	if len(reqs) == 0 {
		t.Fatal("no token request arrived")
	}
	holder, err := strconv.Atoi(reqs[0].Header.Get(replicaHeader))
	if err != nil || holder < 0 || holder >= len(f.reps) {
		t.Fatalf("the held request names no worker (%q)", reqs[0].Header.Get(replicaHeader))
	}
	f.reps[holder].kill()
	killed := time.Now()
	others := slices.Delete(slices.Clone(f.reps), holder, holder+1)
	var reps []report
	for _, r := range others {
		reps = append(reps, r.expect("round"))
	}
	t.Logf("the other workers had tokens %s after the kill (lease TTL %s)", time.Since(killed).Round(time.Millisecond), 2*refreshTimeout)
	f.checkReports("after the kill", reps, false)

	reqs = f.srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d token requests, want 2: the held one and one after the lease lapsed", len(reqs))
	}
	if first, second := reqs[0].Form.Get("refresh_token"), reqs[1].Form.Get("refresh_token"); first != second {
		t.Error("the request after the kill presented another refresh token than the held one: the store changed while the holder was dead")
	}
	if reqs[1].Header.Get(replicaHeader) == strconv.Itoa(holder) {
		t.Error("the second request came from the killed worker")
	}
	f.checkNoReuse(0)
}

// Outage stops the store server while steadyReplicas workers run, and starts
// it again: while it is down every failing Token call returns an error in
// which errors.As finds *refresh.StoreError (a valid cached token is still
// served); once it is back the workers get tokens again, with no rotation lost
// and no refresh token presented twice.
func Outage(t *testing.T, b Backend) {
	if b.Stop == nil || b.Start == nil {
		t.Fatal("replicatest: Outage needs Backend.Stop and Backend.Start")
	}
	f := newFleet(t, b, steadyReplicas, refreshtest.WithAccessTokenLifetime(tokenLifetime))
	all(f.reps, command{Cmd: "run", Goroutines: steadyGoroutines}, "")
	time.Sleep(2 * time.Second)
	if err := b.Stop(); err != nil {
		t.Fatalf("stopping the store: %v", err)
	}
	time.Sleep(3 * time.Second)
	ok, storeErrs := f.checkReports("during the outage", all(f.reps, command{Cmd: "stop"}, "stopped"), true)
	t.Logf("before and during the outage: %d tokens served, %d *refresh.StoreError", ok, storeErrs)
	if err := b.Start(); err != nil {
		t.Fatalf("starting the store again: %v", err)
	}

	all(f.reps, command{Cmd: "run", Goroutines: steadyGoroutines}, "")
	time.Sleep(3 * time.Second)
	reps := all(f.reps, command{Cmd: "stop"}, "stopped")
	ok, storeErrs = f.checkReports("after the outage", reps, true)
	t.Logf("after the outage: %d tokens served, %d *refresh.StoreError", ok, storeErrs)
	for i, r := range reps {
		if r.OK == 0 {
			t.Errorf("worker %d got no token after the store came back", i)
		}
	}
	f.checkNoReuse()
}

// Wakeup measures, on each iteration, the delay from a holder's Lease.Save to
// the return of a worker's Token call that was waiting for that lease, and
// reports its p50 and p99 as p50-ms and p99-ms. The holder is the parent, with
// its own store handle; the worker's clock moves past its token's expiry
// before each call, and the holder saves fresh tokens, so no token request is
// made.
func Wakeup(b *testing.B, be Backend) {
	f := newFleet(b, be, 1, refreshtest.WithAccessTokenLifetime(time.Hour))
	w := f.reps[0]
	f.checkReports("first token", all(f.reps, command{Cmd: "round", Goroutines: 1}, "round"), false)
	ctx := context.Background()
	var offset time.Duration
	var delays []time.Duration
	for i := 0; b.Loop(); i++ {
		offset += 2 * time.Hour
		l, err := f.store.Acquire(ctx, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		cur, err := l.Load(ctx)
		if err != nil || cur == nil {
			b.Fatalf("Lease.Load: %v, %v", cur, err)
		}
		w.send(command{Cmd: "token", Offset: 2 * time.Hour})
		w.expect("calling")
		time.Sleep(20 * time.Millisecond) // let the worker's run reach Acquire
		now := time.Now().Add(offset)
		fresh := &refresh.Tokens{AccessToken: fmt.Sprintf("at-wakeup-%d", i), TokenType: "Bearer",
			RefreshToken: cur.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		saved := time.Now()
		if err := l.Save(ctx, fresh); err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			b.Fatal(err)
		}
		rep := w.expect("returned")
		if rep.OK != 1 {
			b.Fatalf("the waiting Token call failed: %d store errors, %s", rep.StoreErrs, strings.Join(rep.Errs, "; "))
		}
		delays = append(delays, time.Unix(0, rep.At).Sub(saved))
	}
	if n := len(f.srv.Requests()); n != 1 {
		b.Errorf("%d token requests, want 1 (the first token): a woken replica must load, not refresh", n)
	}
	slices.Sort(delays)
	b.ReportMetric(ms(percentile(delays, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(delays, 0.99)), "p99-ms")
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(float64(len(sorted))*p), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
