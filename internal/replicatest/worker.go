package replicatest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenrefresh/refresh"
)

// workerConfig is what a worker is told in its environment.
type workerConfig struct {
	TokenURL       string        `json:"token_url"`
	ClientID       string        `json:"client_id"`
	StoreAddr      string        `json:"store_addr"`
	Key            string        `json:"key"`
	Replica        int           `json:"replica"`
	RefreshTimeout time.Duration `json:"refresh_timeout"`
}

// command is one line the parent writes to a worker's stdin.
type command struct {
	// Cmd is "round" (Goroutines callers ask for a token at once), "run"
	// (Goroutines callers ask again and again until "stop"), "stop", or
	// "token" (one call, with its return time reported).
	Cmd        string        `json:"cmd"`
	Offset     time.Duration `json:"offset,omitempty"` // the worker's clock runs this far ahead of real time from now on
	Goroutines int           `json:"goroutines,omitempty"`
}

// report is one line a worker writes to its stdout.
type report struct {
	Event     string   `json:"event"` // "ready", "round", "stopped", "calling", "returned"
	OK        int      `json:"ok,omitempty"`
	StoreErrs int      `json:"store_errs,omitempty"` // errors in which errors.As finds *refresh.StoreError
	Errs      []string `json:"errs,omitempty"`       // the first few other failures
	At        int64    `json:"at,omitempty"`         // "returned": the wall clock, Unix nanoseconds
}

// replicaHeader carries the worker's number on its token requests, so that
// the parent knows which process sent one.
const replicaHeader = "X-Replica"

// runWorker is a worker process: one Source on the shared store, driven by
// commands on stdin.
func runWorker(cfgJSON string, open func(addr, key string) (refresh.SharedStore, error)) error {
	var cfg workerConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	store, err := open(cfg.StoreAddr, cfg.Key)
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	hc := &http.Client{Transport: headerTransport{strconv.Itoa(cfg.Replica), &http.Transport{}}, Timeout: time.Minute}
	c := &refresh.Client{TokenURL: cfg.TokenURL, Auth: refresh.PublicClient(cfg.ClientID), HTTPClient: hc, Now: now}
	w := &worker{src: refresh.NewSource(c, nil, refresh.WithStore(store), refresh.WithRefreshTimeout(cfg.RefreshTimeout)), now: now}
	w.out = json.NewEncoder(os.Stdout)
	w.send(report{Event: "ready"})

	var steady *steadyRun
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var cmd command
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			return fmt.Errorf("command: %w", err)
		}
		if cmd.Offset != 0 {
			offset.Add(int64(cmd.Offset))
		}
		switch cmd.Cmd {
		case "round":
			w.send(w.round(cmd.Goroutines))
		case "run":
			steady = w.run(cmd.Goroutines)
		case "stop":
			if steady != nil {
				w.send(steady.stop())
				steady = nil
			}
		case "token":
			w.send(report{Event: "calling"})
			_, err := w.src.Token(context.Background())
			r := report{Event: "returned", At: time.Now().UnixNano()}
			r.add(err)
			w.send(r)
		default:
			return fmt.Errorf("unknown command %q", cmd.Cmd)
		}
	}
	return in.Err()
}

type worker struct {
	src *refresh.Source
	now func() time.Time
	mu  sync.Mutex // serialises writes to out
	out *json.Encoder
}

func (w *worker) send(r report) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.out.Encode(r)
}

// call asks for a token once and checks that a token it gets is valid.
func (w *worker) call() error {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	tok, err := w.src.Token(ctx)
	if err == nil && !tok.ExpiresAt.IsZero() && !w.now().Before(tok.ExpiresAt) {
		err = errors.New("replicatest: Token returned an expired access token")
	}
	return err
}

// round has n goroutines ask for a token at once.
func (w *worker) round(n int) report {
	r := report{Event: "round"}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			err := w.call()
			mu.Lock()
			r.add(err)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return r
}

// add counts the outcome of one call.
func (r *report) add(err error) {
	var se *refresh.StoreError
	switch {
	case err == nil:
		r.OK++
	case errors.As(err, &se):
		r.StoreErrs++
	case len(r.Errs) < 10:
		r.Errs = append(r.Errs, err.Error())
	}
}

// steadyRun is a "run" in progress.
type steadyRun struct {
	quit chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	r    report
}

// run has n goroutines ask for tokens, pausing a little between calls, until
// stop.
func (w *worker) run(n int) *steadyRun {
	s := &steadyRun{quit: make(chan struct{}), r: report{Event: "stopped"}}
	for range n {
		s.wg.Go(func() {
			for {
				select {
				case <-s.quit:
					return
				case <-time.After(5 * time.Millisecond):
				}
				err := w.call()
				s.mu.Lock()
				s.r.add(err)
				s.mu.Unlock()
			}
		})
	}
	return s
}

func (s *steadyRun) stop() report {
	close(s.quit)
	s.wg.Wait()
	return s.r
}

// headerTransport marks every request with the worker's number.
type headerTransport struct {
	replica string
	base    http.RoundTripper
}

func (t headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(replicaHeader, t.replica)
	return t.base.RoundTrip(req)
}
