package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// mgrClientID is the public client of the manager tests' server.
const mgrClientID = "multi-app"

// mgrSetup is a refreshtest server and a Client on one hand-moved clock, and a
// MemoryStore per key holding a refresh token the server issued.
type mgrSetup struct {
	srv    *refreshtest.Server
	clock  *refreshtest.Clock
	client *refresh.Client

	mu     sync.Mutex
	stores map[string]*refresh.MemoryStore
	opened map[string]int // grant function calls by key
}

func newMgrSetup(t *testing.T) *mgrSetup {
	t.Helper()
	clock := refreshtest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{ID: mgrClientID, Method: refreshtest.AuthNone}),
		refreshtest.WithClock(clock.Now), refreshtest.WithAccessTokenLifetime(time.Hour))
	t.Cleanup(srv.Close)
	return &mgrSetup{srv: srv, clock: clock, stores: map[string]*refresh.MemoryStore{}, opened: map[string]int{},
		client: &refresh.Client{TokenURL: srv.TokenURL(), RevocationURL: srv.RevocationURL(),
			Auth: refresh.PublicClient(mgrClientID), Now: clock.Now}}
}

// store returns key's store, holding a new refresh token on first use.
func (s *mgrSetup) store(key string) *refresh.MemoryStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stores[key]
	if !ok {
		st = refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: s.srv.IssueRefreshToken(mgrClientID, "read", "write")})
		s.stores[key] = st
	}
	return st
}

// grants is the grant function: the key's MemoryStore, no options.
func (s *mgrSetup) grants(key string) (refresh.Grant, error) {
	s.mu.Lock()
	s.opened[key]++
	s.mu.Unlock()
	return refresh.Grant{Store: s.store(key)}, nil
}

func (s *mgrSetup) openedFor(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened[key]
}

func (s *mgrSetup) manager(t *testing.T, grants func(string) (refresh.Grant, error), opts ...refresh.ManagerOption) *refresh.Manager {
	t.Helper()
	if grants == nil {
		grants = s.grants
	}
	m, err := refresh.NewManager(s.client, grants, opts...)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	return m
}

// tokenRequests counts the refreshes the server got.
func (s *mgrSetup) tokenRequests() int {
	n := 0
	for _, r := range s.srv.Requests() {
		if r.Path == refreshtest.TokenPath {
			n++
		}
	}
	return n
}

func TestNewManagerRefusesBadInput(t *testing.T) {
	c := &refresh.Client{TokenURL: "https://auth.example.com/token"}
	grants := func(string) (refresh.Grant, error) { return refresh.Grant{}, nil }
	tests := []struct {
		name      string
		c         *refresh.Client
		grants    func(string) (refresh.Grant, error)
		opts      []refresh.ManagerOption
		wantField string
	}{
		{"a nil Client", nil, grants, nil, "Client"},
		{"a nil grant function", c, nil, nil, "grants"},
		{"a zero idle limit", c, grants, []refresh.ManagerOption{refresh.WithIdleLimit(0)}, "WithIdleLimit"},
		{"a negative idle limit", c, grants, []refresh.ManagerOption{refresh.WithIdleLimit(-time.Minute)}, "WithIdleLimit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := refresh.NewManager(tt.c, tt.grants, tt.opts...)
			var ce *refresh.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("NewManager error = %v (%T), want a *ConfigError", err, err)
			}
			if ce.Field != tt.wantField || m != nil {
				t.Errorf("Field = %q, Manager = %v; want %q and nil", ce.Field, m, tt.wantField)
			}
		})
	}
}

func TestManagerRefusesBadKeysAndGrants(t *testing.T) {
	s := newMgrSetup(t)
	calls := map[string]*atomic.Int32{}
	grant := func(name string, f func(string) (refresh.Grant, error)) func(string) (refresh.Grant, error) {
		calls[name] = new(atomic.Int32)
		return func(key string) (refresh.Grant, error) {
			calls[name].Add(1)
			return f(key)
		}
	}
	failing := grant("fails", func(string) (refresh.Grant, error) { return refresh.Grant{}, errors.New("database down") })
	panicking := grant("panics", func(string) (refresh.Grant, error) { panic("grant table missing") })
	nilStore := grant("nil store", func(string) (refresh.Grant, error) { return refresh.Grant{}, nil })
	tests := []struct {
		name    string
		grants  func(string) (refresh.Grant, error)
		key     string
		wantErr string // the error's type and what it says
		is      error
	}{
		{"an empty key", s.grants, "", "*refresh.ConfigError refresh: key: empty grant key", refresh.ErrNoGrantKey},
		{"a grant function that fails", failing, "alice", "*refresh.StoreError refresh: store open: database down", nil},
		{"a grant function that panics", panicking, "alice", "*refresh.StoreError refresh: store open: refresh: panic in user code: grant table missing", nil},
		{"a Grant without a Store", nilStore, "alice", "*refresh.ConfigError refresh: Grant.Store: nil: the Manager needs the key's Store to evict its Source", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := s.manager(t, tt.grants)
			ops := map[string]func() error{
				"Token": func() error { _, err := m.Token(t.Context(), tt.key); return err },
				"Put": func() error {
					return m.Put(t.Context(), tt.key, &refresh.Tokens{RefreshToken: "rt"})
				},
				"Revoke": func() error { return m.Revoke(t.Context(), tt.key) },
			}
			for op, call := range ops {
				err := call()
				if got := fmt.Sprintf("%T %v", err, err); got != tt.wantErr {
					t.Errorf("%s error = %s, want %s", op, got, tt.wantErr)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("%s error does not match %v", op, tt.is)
				}
			}
			if m.Len() != 0 {
				t.Errorf("Len = %d after failures, want 0: a failed key is not kept", m.Len())
			}
		})
	}
	// A failed key is tried again on its next use: each of the three calls
	// above called the grant function.
	for name, n := range calls {
		if got := n.Load(); got != 3 {
			t.Errorf("grant function %q called %d times, want 3 (once per call)", name, got)
		}
	}
	if got := s.tokenRequests(); got != 0 {
		t.Errorf("token requests = %d, want 0", got)
	}
}

// mgrCountingTransport counts the requests it sends on.
type mgrCountingTransport struct {
	base http.RoundTripper
	n    atomic.Int32
}

func (c *mgrCountingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(req)
}

// closeRecorder is a request body that records being closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestManagerTransport(t *testing.T) {
	s := newMgrSetup(t)
	m := s.manager(t, nil)
	base := &mgrCountingTransport{base: http.DefaultTransport}
	hc := &http.Client{Transport: &refresh.ManagerTransport{Manager: m, Base: base}}
	get := func(ctx context.Context) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.ResourceURL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}

	t.Run("each user's requests carry that user's token", func(t *testing.T) {
		var got []string
		for _, user := range []string{"alice", "bob", "carol", "alice", "bob", "carol"} {
			status, err := get(refresh.WithGrantKey(t.Context(), user))
			if err != nil {
				t.Fatalf("GET as %s: %v", user, err)
			}
			got = append(got, fmt.Sprint(user, " ", status))
		}
		want := []string{"alice 200", "bob 200", "carol 200", "alice 200", "bob 200", "carol 200"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("answers (-want +got):\n%s", diff)
		}
		if n := s.tokenRequests(); n != 3 {
			t.Errorf("token requests = %d, want 3: one per user", n)
		}
		// Each user's Store holds that user's rotated refresh token.
		seen := map[string]bool{}
		for _, user := range []string{"alice", "bob", "carol"} {
			tok, err := s.store(user).Load(t.Context())
			if err != nil || tok == nil || tok.AccessToken == "" {
				t.Fatalf("%s's store: %v, %v", user, tok, err)
			}
			if seen[tok.AccessToken] {
				t.Errorf("%s's store holds another user's access token", user)
			}
			seen[tok.AccessToken] = true
		}
	})

	t.Run("a request without a grant key is never sent", func(t *testing.T) {
		before := base.n.Load()
		for _, ctx := range []context.Context{t.Context(), refresh.WithGrantKey(t.Context(), "")} {
			body := &closeRecorder{Reader: strings.NewReader("payload")}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.srv.ResourceURL(), body)
			if err != nil {
				t.Fatal(err)
			}
			_, err = (&refresh.ManagerTransport{Manager: m, Base: base}).RoundTrip(req)
			var ce *refresh.ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, refresh.ErrNoGrantKey) {
				t.Errorf("error = %v (%T), want a *ConfigError matching ErrNoGrantKey", err, err)
			}
			if !body.closed {
				t.Error("the request body was not closed")
			}
		}
		if n := base.n.Load() - before; n != 0 {
			t.Errorf("%d requests sent without a grant key, want 0", n)
		}
	})

	t.Run("a nil Manager is a ConfigError", func(t *testing.T) {
		req, err := http.NewRequestWithContext(refresh.WithGrantKey(t.Context(), "alice"), http.MethodGet, s.srv.ResourceURL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = (&refresh.ManagerTransport{Base: base}).RoundTrip(req)
		var ce *refresh.ConfigError
		if !errors.As(err, &ce) || ce.Field != "ManagerTransport.Manager" {
			t.Errorf("error = %v, want a *ConfigError for ManagerTransport.Manager", err)
		}
	})
}

func TestGrantKeyFrom(t *testing.T) {
	if key, ok := refresh.GrantKeyFrom(t.Context()); ok || key != "" {
		t.Errorf("GrantKeyFrom(a context without a key) = %q, %v; want \"\", false", key, ok)
	}
	if key, ok := refresh.GrantKeyFrom(refresh.WithGrantKey(t.Context(), "alice")); !ok || key != "alice" {
		t.Errorf("GrantKeyFrom = %q, %v; want \"alice\", true", key, ok)
	}
}

func TestManagerConcurrentUsersMakeOneSourcePerKey(t *testing.T) {
	s := newMgrSetup(t)
	m := s.manager(t, nil)
	const keys, perKey = 40, 25
	var wg sync.WaitGroup
	errs := make(chan error, keys*perKey)
	tokens := make([][]string, keys)
	for k := range keys {
		tokens[k] = make([]string, perKey)
		for i := range perKey {
			wg.Go(func() {
				tok, err := m.Token(t.Context(), fmt.Sprint("user-", k))
				if err != nil {
					errs <- err
					return
				}
				tokens[k][i] = tok.AccessToken
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Token: %v", err)
	}
	if n := s.tokenRequests(); n != keys {
		t.Errorf("token requests = %d, want %d: one per key", n, keys)
	}
	for k := range keys {
		key := fmt.Sprint("user-", k)
		if n := s.openedFor(key); n != 1 {
			t.Errorf("%s: grant function called %d times, want 1", key, n)
		}
		for _, tok := range tokens[k] {
			if tok != tokens[k][0] {
				t.Errorf("%s: callers got different access tokens", key)
				break
			}
		}
	}
	if m.Len() != keys {
		t.Errorf("Len = %d, want %d", m.Len(), keys)
	}
}

func TestManagerKeysDifferingInRequestOptionsShareNothing(t *testing.T) {
	s := newMgrSetup(t)
	// One user, two keys: read-only calls and calls to a second resource.
	variants := map[string][]refresh.RequestOption{
		"alice/read":   {refresh.WithScopes("read")},
		"alice/api-b":  {refresh.WithParam("resource", "https://b.example.com")},
		"alice/openid": nil,
	}
	m := s.manager(t, func(key string) (refresh.Grant, error) {
		g, err := s.grants(key)
		g.Options = []refresh.SourceOption{refresh.WithRequestOptions(variants[key]...)}
		return g, err
	})
	got := map[string]string{}
	access := map[string]string{}
	for _, round := range []int{1, 2} {
		for key := range variants {
			tok, err := m.Token(t.Context(), key)
			if err != nil {
				t.Fatalf("round %d, Token(%s): %v", round, key, err)
			}
			if round == 1 {
				access[key] = tok.AccessToken
			} else if tok.AccessToken != access[key] {
				t.Errorf("%s: the second Token gave another access token", key)
			}
		}
	}
	for _, r := range s.srv.Requests() {
		if r.Path != refreshtest.TokenPath {
			continue
		}
		got[r.Form.Get("scope")+"|"+r.Form.Get("resource")] = r.Form.Get("refresh_token")
	}
	wantForms := []string{"read|", "|https://b.example.com", "|"}
	if len(got) != len(wantForms) {
		t.Errorf("token requests by scope|resource = %v, want one each of %q", keysOf(got), wantForms)
	}
	for _, f := range wantForms {
		if _, ok := got[f]; !ok {
			t.Errorf("no token request with scope|resource %q", f)
		}
	}
	seen := map[string]string{}
	for key, at := range access {
		if other, dup := seen[at]; dup {
			t.Errorf("%s and %s got the same access token", key, other)
		}
		seen[at] = key
	}
	if n := s.tokenRequests(); n != len(variants) {
		t.Errorf("token requests = %d, want %d: one per key", n, len(variants))
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// gateStore is a plain Store over a MemoryStore whose Load waits until its
// gate opens (when it has one), and whose Save fails while failSaves is set.
type gateStore struct {
	st        *refresh.MemoryStore
	gate      chan struct{}
	loading   chan struct{} // buffered: gets a value when a Load first waits at the gate
	failSaves atomic.Bool
}

func (g *gateStore) Load(ctx context.Context) (*refresh.Tokens, error) {
	if g.gate != nil {
		select {
		case g.loading <- struct{}{}:
		default:
		}
		<-g.gate
	}
	return g.st.Load(ctx)
}

func (g *gateStore) Save(ctx context.Context, t *refresh.Tokens) error {
	if g.failSaves.Load() {
		return errors.New("disk full")
	}
	return g.st.Save(ctx, t)
}

func TestManagerEviction(t *testing.T) {
	const idle = time.Minute

	t.Run("an idle Source is evicted and its key comes back from the Store", func(t *testing.T) {
		s := newMgrSetup(t)
		m := s.manager(t, nil, refresh.WithIdleLimit(idle))
		first, err := m.Token(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(idle)
		if _, err := m.Token(t.Context(), "bob"); err != nil { // sweeps: alice is idle
			t.Fatal(err)
		}
		if m.Len() != 1 {
			t.Errorf("Len = %d after alice went idle, want 1", m.Len())
		}
		again, err := m.Token(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if again.AccessToken != first.AccessToken {
			t.Error("alice's new Source did not take the stored access token")
		}
		if n := s.openedFor("alice"); n != 2 {
			t.Errorf("alice's grant function called %d times, want 2 (before and after eviction)", n)
		}
		if n := s.tokenRequests(); n != 2 {
			t.Errorf("token requests = %d, want 2 (alice and bob once each): the stored token is valid", n)
		}
	})

	t.Run("a Source used within the idle limit stays", func(t *testing.T) {
		s := newMgrSetup(t)
		m := s.manager(t, nil, refresh.WithIdleLimit(idle))
		for _, key := range []string{"alice", "bob"} {
			if _, err := m.Token(t.Context(), key); err != nil {
				t.Fatal(err)
			}
		}
		s.clock.Advance(idle - time.Second)
		if _, err := m.Token(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(time.Second) // bob idle for the limit, alice for a second
		if _, err := m.Token(t.Context(), "carol"); err != nil {
			t.Fatal(err)
		}
		if m.Len() != 2 {
			t.Errorf("Len = %d, want 2 (alice and carol)", m.Len())
		}
		if n := s.openedFor("alice"); n != 1 {
			t.Errorf("alice's grant function called %d times, want 1: she was not idle", n)
		}
	})

	t.Run("a Source whose run is under way is not evicted", func(t *testing.T) {
		s := newMgrSetup(t)
		gs := &gateStore{st: s.store("alice"), gate: make(chan struct{}), loading: make(chan struct{}, 1)}
		m := s.manager(t, func(key string) (refresh.Grant, error) {
			if key == "alice" {
				return refresh.Grant{Store: gs}, nil
			}
			return s.grants(key)
		}, refresh.WithIdleLimit(idle))
		done := make(chan error, 1)
		go func() {
			_, err := m.Token(t.Context(), "alice")
			done <- err
		}()
		<-gs.loading // alice's first Token waits in the Store
		s.clock.Advance(2 * idle)
		if _, err := m.Token(t.Context(), "bob"); err != nil {
			t.Fatal(err)
		}
		if m.Len() != 2 {
			t.Errorf("Len = %d while alice's Token runs, want 2", m.Len())
		}
		close(gs.gate)
		if err := <-done; err != nil {
			t.Fatalf("alice's Token: %v", err)
		}
		if n := s.tokenRequests(); n != 2 {
			t.Errorf("token requests = %d, want 2 (alice and bob once each)", n)
		}
	})

	t.Run("a Source whose request is in flight is not evicted", func(t *testing.T) {
		s := newMgrSetup(t)
		m := s.manager(t, nil, refresh.WithIdleLimit(idle))
		sending, gate := make(chan struct{}), make(chan struct{})
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			close(sending)
			<-gate
			return http.DefaultTransport.RoundTrip(req)
		})
		hc := &http.Client{Transport: &refresh.ManagerTransport{Manager: m, Base: base}}
		req, err := http.NewRequestWithContext(refresh.WithGrantKey(t.Context(), "alice"), http.MethodGet, s.srv.ResourceURL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			resp, err := hc.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		<-sending // alice's token is fetched; the request waits to be sent
		s.clock.Advance(2 * idle)
		if _, err := m.Token(t.Context(), "bob"); err != nil {
			t.Fatal(err)
		}
		if m.Len() != 2 {
			t.Errorf("Len = %d while alice's request is in flight, want 2", m.Len())
		}
		close(gate)
		if err := <-done; err != nil {
			t.Fatalf("alice's request: %v", err)
		}
		if n := s.openedFor("alice"); n != 1 {
			t.Errorf("alice's grant function called %d times, want 1", n)
		}
	})

	t.Run("a Source holding unsaved tokens is kept until they are saved", func(t *testing.T) {
		s := newMgrSetup(t)
		gs := &gateStore{st: s.store("alice")}
		gs.failSaves.Store(true)
		opened := 0
		m := s.manager(t, func(key string) (refresh.Grant, error) {
			if key == "alice" {
				opened++
				return refresh.Grant{Store: gs}, nil
			}
			return s.grants(key)
		}, refresh.WithIdleLimit(idle))
		// The refresh rotates alice's refresh token, and the Store refuses it.
		_, err := m.Token(t.Context(), "alice")
		var se *refresh.StoreError
		if !errors.As(err, &se) || se.Op != "save" {
			t.Fatalf("Token = %v, want a save *StoreError", err)
		}
		s.clock.Advance(2 * idle)
		if _, err := m.Token(t.Context(), "bob"); err != nil {
			t.Fatal(err)
		}
		if m.Len() != 2 {
			t.Fatalf("Len = %d, want 2: alice's rotated refresh token is only in memory", m.Len())
		}
		// The Store comes back. Once her access token has expired, alice's
		// next call waits while her Source saves and refreshes; then she may go.
		gs.failSaves.Store(false)
		s.clock.Advance(2 * time.Hour)
		if _, err := m.Token(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(2 * idle)
		if _, err := m.Token(t.Context(), "bob"); err != nil {
			t.Fatal(err)
		}
		if m.Len() != 1 {
			t.Errorf("Len = %d, want 1: alice's tokens are saved and she is idle", m.Len())
		}
		stored, err := gs.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st := s.srv.State(stored.RefreshToken); st != refreshtest.Active {
			t.Errorf("the stored refresh token is %v, want Active: the rotated one was lost", st)
		}
		before := s.tokenRequests()
		if _, err := m.Token(t.Context(), "alice"); err != nil {
			t.Fatalf("alice after eviction: %v", err)
		}
		if opened != 2 || s.tokenRequests() != before {
			t.Errorf("alice opened %d times, %d new token requests; want 2 and 0", opened, s.tokenRequests()-before)
		}
	})
}

func TestManagerPutAndRevoke(t *testing.T) {
	s := newMgrSetup(t)
	m := s.manager(t, nil)
	ctx := t.Context()
	// The sign-in: the service's own authorization-code exchange gave tokens.
	rt := s.srv.IssueRefreshToken(mgrClientID, "read")
	if err := m.Put(ctx, "dave", &refresh.Tokens{RefreshToken: rt}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	stored, err := s.store("dave").Load(ctx)
	if err != nil || stored == nil || stored.RefreshToken != rt {
		t.Fatalf("dave's Store after Put holds %v, %v; want the new refresh token", stored, err)
	}
	tok, err := m.Token(ctx, "dave")
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if diff := cmp.Diff([]string{"read"}, tok.Scopes); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
	stored, _ = s.store("dave").Load(ctx)
	if err := m.Revoke(ctx, "dave"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if st := s.srv.State(stored.RefreshToken); st != refreshtest.Revoked {
		t.Errorf("the refresh token is %v at the server after Revoke, want Revoked", st)
	}
	if m.Len() != 0 {
		t.Errorf("Len = %d after Revoke, want 0: the Source is forgotten", m.Len())
	}
	if _, err := m.Token(ctx, "dave"); !errors.Is(err, refresh.ErrNoRefreshToken) {
		t.Errorf("Token after Revoke = %v, want ErrNoRefreshToken", err)
	}
	// Signing in again.
	if err := m.Put(ctx, "dave", &refresh.Tokens{RefreshToken: s.srv.IssueRefreshToken(mgrClientID, "read")}); err != nil {
		t.Fatalf("Put after Revoke: %v", err)
	}
	if _, err := m.Token(ctx, "dave"); err != nil {
		t.Errorf("Token after signing in again: %v", err)
	}
}

func TestManagerEvictsUnderLoadWithoutDuplicateRefreshes(t *testing.T) {
	s := newMgrSetup(t)
	const idle = time.Second
	m := s.manager(t, nil, refresh.WithIdleLimit(idle))
	const keys, workers, calls = 30, 8, 60
	var wg sync.WaitGroup
	errs := make(chan error, workers*calls)
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				key := fmt.Sprint("user-", (w*calls+i)%keys)
				if _, err := m.Token(t.Context(), key); err != nil {
					errs <- fmt.Errorf("%s: %w", key, err)
				}
				if i%10 == 0 {
					s.clock.Advance(idle) // every Source may go idle: sweeps run among the calls
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Each key refreshed once; every Source made after an eviction loaded the
	// stored token, still valid.
	if n := s.tokenRequests(); n != keys {
		t.Errorf("token requests = %d, want %d: one per key", n, keys)
	}
	reopened := 0
	for k := range keys {
		reopened += s.openedFor(fmt.Sprint("user-", k)) - 1
	}
	if reopened == 0 {
		t.Error("no Source was evicted and made again: the test did not exercise eviction")
	}
}

func TestManagerCallerGivesUpWhileTheSourceIsMade(t *testing.T) {
	s := newMgrSetup(t)
	opening, open := make(chan struct{}), make(chan struct{})
	m := s.manager(t, func(key string) (refresh.Grant, error) {
		close(opening)
		<-open // a slow grant function: a database round trip
		return s.grants(key)
	})
	first := make(chan error, 1)
	go func() {
		_, err := m.Token(t.Context(), "alice")
		first <- err
	}()
	<-opening
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m.Token(ctx, "alice"); !errors.Is(err, context.Canceled) {
		t.Errorf("Token with a cancelled ctx while the Source is made = %v, want context.Canceled", err)
	}
	close(open)
	if err := <-first; err != nil {
		t.Fatalf("the first caller's Token: %v", err)
	}
	if _, err := m.Token(t.Context(), "alice"); err != nil {
		t.Fatalf("Token afterwards: %v", err)
	}
	if n, calls := s.tokenRequests(), s.openedFor("alice"); n != 1 || calls != 1 {
		t.Errorf("token requests = %d, grant function calls = %d; want 1 and 1", n, calls)
	}
}

func TestManagerRefusesANilContext(t *testing.T) {
	s := newMgrSetup(t)
	m := s.manager(t, nil)
	//lint:ignore SA1012 a nil Context is the bad input under test
	_, err := m.Token(nil, "alice")
	var ce *refresh.ConfigError
	if !errors.As(err, &ce) || ce.Field != "ctx" {
		t.Errorf("Token(nil, ...) = %v, want a *ConfigError for ctx", err)
	}
	var nilM *refresh.Manager
	if _, err := nilM.Token(t.Context(), "alice"); !errors.As(err, &ce) || ce.Field != "Manager" {
		t.Errorf("a nil Manager's Token = %v, want a *ConfigError for Manager", err)
	}
}
