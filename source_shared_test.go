package refresh_test

// Tests of a Source whose Store is a SharedStore: the lease taken first, the
// load under it, fenced saves, invalid_grant under the lease, store failures
// as *StoreError, and the hot path that never touches the store.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// sharedClient is the public client every shared-store test registers.
var sharedClient = refreshtest.Client{ID: "replica", Method: refreshtest.AuthNone}

// sharedServer starts a refreshtest server with rotation and reuse detection
// on its clock.
func sharedServer(t *testing.T, clock *refreshtest.Clock, opts ...refreshtest.Option) *refreshtest.Server {
	t.Helper()
	opts = append([]refreshtest.Option{refreshtest.WithClient(sharedClient), refreshtest.WithClock(clock.Now),
		refreshtest.WithRotation(refreshtest.RotateRefreshTokens), refreshtest.WithReuseDetection(true),
		refreshtest.WithAccessTokenLifetime(time.Hour)}, opts...)
	srv := refreshtest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

func sharedRefreshClient(srv *refreshtest.Server, clock *refreshtest.Clock, hc *http.Client) *refresh.Client {
	if hc == nil {
		hc = srv.Client()
	}
	return &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient(sharedClient.ID), HTTPClient: hc, Now: clock.Now}
}

// revoked reports whether the server revoked rt's grant, as reuse detection
// does.
func revoked(srv *refreshtest.Server, rt string) bool { return srv.State(rt) == refreshtest.Revoked }

func TestSharedSourcesOneRequestPerRound(t *testing.T) {
	// 8 Sources of one process share one MemoryStore, 100 goroutines each ask
	// for a token at expiry, over 10 rounds: one token request per round, and
	// the server never sees a refresh token twice.
	const sources, goroutines, rounds = 8, 100, 10
	clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := sharedServer(t, clock)
	first := srv.IssueRefreshToken(sharedClient.ID)
	store := refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: first})
	c := sharedRefreshClient(srv, clock, nil)
	srcs := make([]*refresh.Source, sources)
	for i := range srcs {
		srcs[i] = refresh.NewSource(c, nil, refresh.WithStore(store))
	}
	var perRound []int
	for range rounds {
		clock.Advance(2 * time.Hour) // every token has expired
		before := len(srv.Requests())
		var wg sync.WaitGroup
		errs := make(chan error, sources*goroutines)
		start := make(chan struct{})
		for _, src := range srcs {
			for range goroutines {
				wg.Go(func() {
					<-start
					tok, err := src.Token(t.Context())
					switch {
					case err != nil:
						errs <- err
					case !tok.ExpiresAt.After(clock.Now()):
						errs <- fmt.Errorf("Token returned an expired token")
					}
				})
			}
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		perRound = append(perRound, len(srv.Requests())-before)
	}
	want := make([]int, rounds)
	for i := range want {
		want[i] = 1
	}
	if d := cmp.Diff(want, perRound); d != "" {
		t.Errorf("token requests per round (-want +got):\n%s", d)
	}
	presented := map[string]bool{}
	for _, req := range srv.Requests() {
		rt := req.Form.Get("refresh_token")
		if presented[rt] {
			t.Error("a refresh token was presented twice")
		}
		presented[rt] = true
	}
	stored, _ := store.Load(t.Context())
	if got := srv.State(stored.RefreshToken); got != refreshtest.Active {
		t.Errorf("the stored refresh token is %v at the server, want Active (the grant revoked: %v)", got, revoked(srv, first))
	}
}

func TestSharedSourceNeverPresentsATokenReadBeforeTheLease(t *testing.T) {
	// Another replica rotated the grant and saved tokens whose access token
	// has expired too, stamped by a clock behind ours: under the lease the
	// Source must present the stored refresh token, not the one it holds.
	clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := sharedServer(t, clock)
	c := sharedRefreshClient(srv, clock, nil)
	rt1 := srv.IssueRefreshToken(sharedClient.ID)
	other, err := c.Refresh(t.Context(), rt1) // the other replica's refresh: rt1 is spent
	if err != nil {
		t.Fatal(err)
	}
	ours := &refresh.Tokens{AccessToken: "at-old", TokenType: "Bearer", RefreshToken: rt1,
		IssuedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
	skewed := *other
	skewed.IssuedAt = other.IssuedAt.Add(-10 * time.Minute)
	skewed.ExpiresAt = skewed.IssuedAt.Add(time.Hour)
	store := refresh.NewMemoryStore(&skewed)
	src := refresh.NewSource(c, ours, refresh.WithStore(store))
	clock.Advance(2 * time.Hour)
	before := len(srv.Requests())
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v (grant revoked: %v)", err, revoked(srv, rt1))
	}
	reqs := srv.Requests()[before:]
	if len(reqs) != 1 || reqs[0].Form.Get("refresh_token") != other.RefreshToken {
		t.Errorf("the Source sent %d requests; want one presenting the stored refresh token", len(reqs))
	}
	if srv.State(tok.RefreshToken) != refreshtest.Active {
		t.Errorf("the new refresh token is %v at the server, want Active", srv.State(tok.RefreshToken))
	}
}

func TestSharedSourceWaitsForTheLease(t *testing.T) {
	clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := sharedServer(t, clock)
	rt := srv.IssueRefreshToken(sharedClient.ID)
	store := refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: rt})
	src := refresh.NewSource(sharedRefreshClient(srv, clock, nil), nil, refresh.WithStore(store))

	// Another owner holds the lease, well past the caller's patience: the
	// caller's error is a *StoreError that wraps its deadline.
	held, err := store.Acquire(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	_, err = src.Token(short)
	cancel()
	var se *refresh.StoreError
	if !errors.As(err, &se) || se.Op != "acquire" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Token while another owner holds the lease: got %v, want a *StoreError (acquire) wrapping context.DeadlineExceeded", err)
	}

	// A patient caller waits until the holder saves and releases, and takes
	// the holder's tokens without a request of its own.
	res := make(chan error, 1)
	var got *refresh.Tokens
	go func() {
		var err error
		got, err = src.Token(t.Context())
		res <- err
	}()
	if _, err := held.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	fresh := &refresh.Tokens{AccessToken: "at-holder", TokenType: "Bearer", RefreshToken: "rt-holder",
		IssuedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
	if err := held.Save(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	if err := held.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Fatalf("Token after the holder released: %v", err)
	}
	if got.AccessToken != fresh.AccessToken {
		t.Errorf("Token returned %v, want the holder's tokens", got)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d token requests, want 0", n)
	}

	// SetTokens' save needs the lease too.
	held, err = store.Acquire(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(t.Context())
	short, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	err = src.SetTokens(short, &refresh.Tokens{RefreshToken: "rt-signed-in-again"})
	cancel()
	if !errors.As(err, &se) || se.Op != "acquire" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SetTokens while another owner holds the lease: got %v, want a *StoreError (acquire) wrapping context.DeadlineExceeded", err)
	}
}

// spyStore is a SharedStore over a MemoryStore that counts calls, records the
// TTLs asked for, and fails where a test says.
type spyStore struct {
	inner *refresh.MemoryStore
	calls atomic.Int32

	mu       sync.Mutex
	ttls     []time.Duration
	acquired time.Time

	acquire func() (refresh.Lease, error) // replaces Acquire when set
	load    func(ctx context.Context) error
	save    func(ctx context.Context) error
	release func()
}

func (s *spyStore) Load(ctx context.Context) (*refresh.Tokens, error) {
	s.calls.Add(1)
	return s.inner.Load(ctx)
}

func (s *spyStore) Save(ctx context.Context, t *refresh.Tokens) error {
	s.calls.Add(1)
	return s.inner.Save(ctx, t)
}

func (s *spyStore) Acquire(ctx context.Context, ttl time.Duration) (refresh.Lease, error) {
	s.calls.Add(1)
	s.mu.Lock()
	s.ttls = append(s.ttls, ttl)
	s.mu.Unlock()
	if s.acquire != nil {
		return s.acquire()
	}
	l, err := s.inner.Acquire(ctx, ttl)
	s.mu.Lock()
	s.acquired = time.Now()
	s.mu.Unlock()
	return &spyLease{l, s}, err
}

type spyLease struct {
	refresh.Lease
	s *spyStore
}

func (l *spyLease) Load(ctx context.Context) (*refresh.Tokens, error) {
	l.s.calls.Add(1)
	if l.s.load != nil {
		if err := l.s.load(ctx); err != nil {
			return nil, err
		}
	}
	return l.Lease.Load(ctx)
}

func (l *spyLease) Save(ctx context.Context, t *refresh.Tokens) error {
	l.s.calls.Add(1)
	if l.s.save != nil {
		if err := l.s.save(ctx); err != nil {
			return err
		}
	}
	return l.Lease.Save(ctx, t)
}

func (l *spyLease) Release(ctx context.Context) error {
	l.s.calls.Add(1)
	err := l.Lease.Release(ctx)
	if l.s.release != nil {
		l.s.release()
	}
	return err
}

func TestSharedStoreFailuresAreStoreErrors(t *testing.T) {
	errDown := errors.New("store down")
	tests := []struct {
		name      string
		spy       func() *spyStore
		wantOp    string
		wantIs    error
		wantPanic bool
		wantSent  int
	}{
		{"Acquire fails: no request without the lease", func() *spyStore { return &spyStore{acquire: func() (refresh.Lease, error) { return nil, errDown }} },
			"acquire", errDown, false, 0},
		{"Acquire panics", func() *spyStore {
			return &spyStore{acquire: func() (refresh.Lease, error) { panic("acquire exploded") }}
		},
			"acquire", nil, true, 0},
		{"Acquire returns neither a Lease nor an error", func() *spyStore { return &spyStore{acquire: func() (refresh.Lease, error) { return nil, nil }} },
			"acquire", nil, false, 0},
		{"Load under the lease fails: no request with the token held in memory",
			func() *spyStore { return &spyStore{load: func(context.Context) error { return errDown }} }, "load", errDown, false, 0},
		{"Save under the lease fails", func() *spyStore { return &spyStore{save: func(context.Context) error { return errDown }} },
			"save", errDown, false, 1},
		{"Save under the lease times out", func() *spyStore {
			return &spyStore{save: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
		},
			"save", context.DeadlineExceeded, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			srv := sharedServer(t, clock)
			rt := srv.IssueRefreshToken(sharedClient.ID)
			spy := tt.spy()
			spy.inner = refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: rt})
			src := refresh.NewSource(sharedRefreshClient(srv, clock, nil), &refresh.Tokens{RefreshToken: rt},
				refresh.WithStore(spy), refresh.WithRefreshTimeout(200*time.Millisecond))
			_, err := src.Token(t.Context())
			var se *refresh.StoreError
			if !errors.As(err, &se) || se.Op != tt.wantOp {
				t.Fatalf("Token: got %v, want a *StoreError with Op %q", err, tt.wantOp)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Token: got %v, want it to wrap %v", err, tt.wantIs)
			}
			var pe *refresh.PanicError
			if got := errors.As(err, &pe); got != tt.wantPanic {
				t.Errorf("Token: got %v; a *PanicError in it: %v, want %v", err, got, tt.wantPanic)
			}
			if got := len(srv.Requests()); got != tt.wantSent {
				t.Errorf("%d token requests, want %d", got, tt.wantSent)
			}
			if tt.wantSent == 0 {
				// Nothing was sent, and at the same instant nothing is tried
				// again: the failing store is not called in a loop.
				calls := spy.calls.Load()
				if _, err := src.Token(t.Context()); !errors.As(err, &se) {
					t.Errorf("Token again: got %v, want the *StoreError", err)
				}
				if got := spy.calls.Load(); got != calls {
					t.Errorf("Token again called the store %d more times, want 0 within the backoff", got-calls)
				}
			}
		})
	}
}

func TestSharedInvalidGrant(t *testing.T) {
	t.Run("a refresh token changed under the lease is adopted", func(t *testing.T) {
		clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		// Without reuse detection the spent token is only refused, as by a
		// server that does not revoke the grant.
		srv := sharedServer(t, clock, refreshtest.WithReuseDetection(false))
		rt1 := srv.IssueRefreshToken(sharedClient.ID)
		store := refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: rt1})
		plain := sharedRefreshClient(srv, clock, nil)
		var once sync.Once
		// While the Source's request is on its way, someone with no lease
		// (a sign-in saving with a plain Save) rotates the grant.
		hc := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			once.Do(func() {
				t2, err := plain.Refresh(req.Context(), rt1)
				if err == nil {
					err = store.Save(req.Context(), t2)
				}
				if err != nil {
					t.Error(err)
				}
			})
			return srv.Client().Transport.RoundTrip(req)
		})}
		src := refresh.NewSource(sharedRefreshClient(srv, clock, hc), nil, refresh.WithStore(store))
		tok, err := src.Token(t.Context())
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		if srv.State(tok.RefreshToken) != refreshtest.Active {
			t.Errorf("the Source's refresh token is %v at the server, want Active", srv.State(tok.RefreshToken))
		}
		stored, _ := store.Load(t.Context())
		if stored.RefreshToken != tok.RefreshToken {
			t.Error("the store does not hold the Source's new refresh token")
		}
	})
	t.Run("an unchanged refresh token makes the error final and the row stays", func(t *testing.T) {
		clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		srv := sharedServer(t, clock)
		rt := srv.IssueRefreshToken(sharedClient.ID)
		srv.Revoke(rt)
		want := &refresh.Tokens{RefreshToken: rt}
		store := refresh.NewMemoryStore(want)
		src := refresh.NewSource(sharedRefreshClient(srv, clock, nil), nil, refresh.WithStore(store))
		for i := range 2 {
			if _, err := src.Token(t.Context()); !errors.Is(err, refresh.ErrInvalidGrant) {
				t.Fatalf("Token %d: got %v, want invalid_grant", i, err)
			}
			clock.Advance(2 * time.Minute) // past the backoff
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d token requests, want 1: the refused token is never sent again", n)
		}
		stored, _ := store.Load(t.Context())
		if d := cmp.Diff(want, stored, ignoreRaw); d != "" {
			t.Errorf("stored tokens (-want +got):\n%s", d)
		}
	})
}

func TestSharedSaveIsRetriedUnderTheLease(t *testing.T) {
	// The store fails twice when the rotated tokens are saved, then works: the
	// run saves them before it lets the lease go, so no other replica can
	// load the spent refresh token.
	clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := sharedServer(t, clock)
	rt := srv.IssueRefreshToken(sharedClient.ID)
	var fails atomic.Int32
	spy := &spyStore{inner: refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: rt}), save: func(context.Context) error {
		if fails.Add(1) <= 2 {
			return errors.New("store blip")
		}
		return nil
	}}
	src := refresh.NewSource(sharedRefreshClient(srv, clock, nil), nil, refresh.WithStore(spy))
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	stored, _ := spy.inner.Load(t.Context())
	if stored == nil || stored.RefreshToken != tok.RefreshToken {
		t.Error("the store does not hold the rotated refresh token")
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

func TestSharedLeaseTTLAndRefreshDeadline(t *testing.T) {
	tests := []struct {
		name    string
		opts    []refresh.SourceOption
		wantTTL time.Duration
	}{
		{"default: twice DefaultRefreshTimeout", nil, 2 * refresh.DefaultRefreshTimeout},
		{"a shorter refresh timeout shortens the lease", []refresh.SourceOption{refresh.WithRefreshTimeout(3 * time.Second)}, 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			srv := sharedServer(t, clock)
			rt := srv.IssueRefreshToken(sharedClient.ID)
			spy := &spyStore{inner: refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: rt})}
			var deadline time.Time
			hc := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
				deadline, _ = req.Context().Deadline()
				return srv.Client().Transport.RoundTrip(req)
			})}
			src := refresh.NewSource(sharedRefreshClient(srv, clock, hc), nil, append(tt.opts, refresh.WithStore(spy))...)
			if _, err := src.Token(t.Context()); err != nil {
				t.Fatal(err)
			}
			spy.mu.Lock()
			defer spy.mu.Unlock()
			if d := cmp.Diff([]time.Duration{tt.wantTTL}, spy.ttls); d != "" {
				t.Errorf("lease TTLs asked for (-want +got):\n%s", d)
			}
			if deadline.IsZero() || !deadline.Before(spy.acquired.Add(tt.wantTTL)) {
				t.Errorf("the token request's deadline %v is not inside the lease taken at %v for %v", deadline, spy.acquired, tt.wantTTL)
			}
		})
	}
}

func TestSharedHotPathTouchesNoStore(t *testing.T) {
	clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := sharedServer(t, clock)
	rt := srv.IssueRefreshToken(sharedClient.ID)
	spy := &spyStore{inner: refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: rt})}
	src := refresh.NewSource(sharedRefreshClient(srv, clock, nil), nil, refresh.WithStore(spy))
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := spy.calls.Load()
	hc := &http.Client{Transport: &refresh.Transport{Source: src, Base: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}, nil
	})}}
	for range 100 {
		if _, err := src.Token(t.Context()); err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get("http://resource.test/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := spy.calls.Load() - before; got != 0 {
		t.Errorf("%d store calls for valid cached tokens, want 0", got)
	}
}

func TestSharedReleasePanicIsContained(t *testing.T) {
	clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := sharedServer(t, clock)
	rt := srv.IssueRefreshToken(sharedClient.ID)
	spy := &spyStore{inner: refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: rt}), release: func() { panic("release exploded") }}
	src := refresh.NewSource(sharedRefreshClient(srv, clock, nil), nil, refresh.WithStore(spy))
	for range 2 {
		if _, err := src.Token(t.Context()); err != nil {
			t.Fatalf("Token: %v", err)
		}
		clock.Advance(2 * time.Hour)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

// roundTripFunc adapts a function to an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
