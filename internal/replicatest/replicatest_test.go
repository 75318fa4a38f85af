package replicatest_test

// The scenarios run here against a cross-process store of the test's own: a
// MemoryStore in the parent process, served over HTTP on loopback. It proves
// the harness (and the contract suite, over a network) before the Redis and
// PostgreSQL stores use them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/internal/replicatest"
	"github.com/tokenrefresh/refresh/internal/storetest"
)

func TestMain(m *testing.M) { replicatest.Main(m, openHTTPStore) }

func TestHTTPStoreContract(t *testing.T) {
	srv := startStoreServer(t)
	n := 0
	storetest.Run(t, func(t *testing.T) refresh.SharedStore {
		n++
		st, err := openHTTPStore(srv.addr, fmt.Sprintf("contract-%d", n))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestReplicas(t *testing.T) {
	srv := startStoreServer(t)
	b := replicatest.Backend{Addr: srv.addr, Open: openHTTPStore, Stop: srv.stop, Start: srv.start}
	t.Run("herd", func(t *testing.T) { replicatest.Herd(t, b) })
	t.Run("kill", func(t *testing.T) { replicatest.Kill(t, b) })
	if testing.Short() {
		t.Skip("the sustained and outage scenarios take about 20 s")
	}
	t.Run("sustained", func(t *testing.T) { replicatest.Sustained(t, b) })
	t.Run("outage", func(t *testing.T) { replicatest.Outage(t, b) })
}

func BenchmarkWakeup(b *testing.B) {
	srv := startStoreServer(b)
	replicatest.Wakeup(b, replicatest.Backend{Addr: srv.addr, Open: openHTTPStore, Stop: srv.stop, Start: srv.start})
}

// storeServer serves MemoryStores, one per key, and their leases over HTTP.
// Stop and start keep the stores and the leases, as a store server with
// durable storage does.
type storeServer struct {
	addr string

	mu     sync.Mutex
	http   *http.Server
	stores map[string]*refresh.MemoryStore
	leases map[string]refresh.Lease
	next   int
}

func startStoreServer(tb testing.TB) *storeServer {
	s := &storeServer{addr: "127.0.0.1:0", stores: map[string]*refresh.MemoryStore{}, leases: map[string]refresh.Lease{}}
	if err := s.start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.stop() })
	return s
}

func (s *storeServer) start() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.http = &http.Server{Handler: s}
	hs := s.http
	s.mu.Unlock()
	go func() { _ = hs.Serve(ln) }()
	return nil
}

func (s *storeServer) stop() error {
	s.mu.Lock()
	hs := s.http
	s.mu.Unlock()
	return hs.Close()
}

func (s *storeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Reading the whole body first lets the server see a client that goes
	// away: it cancels r.Context() only then, which ends a waiting Acquire.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	st := s.stores[q.Get("key")]
	if st == nil {
		st = refresh.NewMemoryStore(nil)
		s.stores[q.Get("key")] = st
	}
	lease := s.leases[q.Get("id")]
	s.mu.Unlock()
	ctx := r.Context()
	var out any
	switch r.URL.Path {
	case "/load":
		out, err = st.Load(ctx)
	case "/save":
		var t *refresh.Tokens
		if err = json.Unmarshal(body, &t); err == nil {
			err = st.Save(ctx, t)
		}
	case "/acquire":
		var ttl time.Duration
		if ttl, err = time.ParseDuration(q.Get("ttl")); err == nil {
			var l refresh.Lease
			if l, err = st.Acquire(ctx, ttl); err == nil {
				s.mu.Lock()
				s.next++
				id := strconv.Itoa(s.next)
				s.leases[id] = l
				s.mu.Unlock()
				out = id
			}
		}
	case "/lease/load", "/lease/save", "/lease/release":
		if lease == nil {
			http.Error(w, "no such lease", http.StatusNotFound)
			return
		}
		switch r.URL.Path {
		case "/lease/load":
			out, err = lease.Load(ctx)
		case "/lease/save":
			var t *refresh.Tokens
			if err = json.Unmarshal(body, &t); err == nil {
				err = lease.Save(ctx, t)
			}
		default:
			err = lease.Release(ctx)
		}
	default:
		http.NotFound(w, r)
		return
	}
	switch {
	case errors.Is(err, refresh.ErrVersionConflict):
		http.Error(w, "version conflict", http.StatusConflict)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	default:
		_ = json.NewEncoder(w).Encode(out)
	}
}

// httpStore is the client of a storeServer: a SharedStore for one key.
type httpStore struct {
	base, key string
	hc        *http.Client
}

func openHTTPStore(addr, key string) (refresh.SharedStore, error) {
	return &httpStore{base: "http://" + addr, key: key, hc: &http.Client{Transport: &http.Transport{}}}, nil
}

// call posts body to path and decodes the answer into out.
func (h *httpStore) call(ctx context.Context, path string, q url.Values, body, out any) error {
	q.Set("key", h.key)
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+path+"?"+q.Encode(), bytes.NewReader(data))
	if err != nil {
		return err
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return err
	case resp.StatusCode == http.StatusConflict:
		return fmt.Errorf("httpstore %s: %w", path, refresh.ErrVersionConflict)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("httpstore %s: %s: %s", path, resp.Status, bytes.TrimSpace(answer))
	case out == nil:
		return nil
	}
	return json.Unmarshal(answer, out)
}

func (h *httpStore) Load(ctx context.Context) (*refresh.Tokens, error) {
	var t *refresh.Tokens
	err := h.call(ctx, "/load", url.Values{}, nil, &t)
	return t, err
}

func (h *httpStore) Save(ctx context.Context, t *refresh.Tokens) error {
	return h.call(ctx, "/save", url.Values{}, t, nil)
}

func (h *httpStore) Acquire(ctx context.Context, ttl time.Duration) (refresh.Lease, error) {
	var id string
	if err := h.call(ctx, "/acquire", url.Values{"ttl": {ttl.String()}}, nil, &id); err != nil {
		return nil, err
	}
	return &httpLease{h, id}, nil
}

type httpLease struct {
	h  *httpStore
	id string
}

func (l *httpLease) Load(ctx context.Context) (*refresh.Tokens, error) {
	var t *refresh.Tokens
	err := l.h.call(ctx, "/lease/load", url.Values{"id": {l.id}}, nil, &t)
	return t, err
}

func (l *httpLease) Save(ctx context.Context, t *refresh.Tokens) error {
	return l.h.call(ctx, "/lease/save", url.Values{"id": {l.id}}, t, nil)
}

func (l *httpLease) Release(ctx context.Context) error {
	return l.h.call(ctx, "/lease/release", url.Values{"id": {l.id}}, nil, nil)
}
