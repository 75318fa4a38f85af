package refresh_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// sharedStore is a refresh.SharedStore over a MemoryStore that records the
// calls made to it and its lease. block, when set, holds Acquire until it is
// closed, after closing acquired.
type sharedStore struct {
	refresh.MemoryStore
	mu          sync.Mutex
	calls       []string
	acquired    chan struct{}
	block       chan struct{}
	failAcquire error // returned by Acquire when set
	failRelease error // returned by Lease.Release when set
}

func (s *sharedStore) record(call string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
}

func (s *sharedStore) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *sharedStore) Acquire(ctx context.Context, ttl time.Duration) (refresh.Lease, error) {
	s.record("Acquire")
	if s.failAcquire != nil {
		return nil, s.failAcquire
	}
	if s.block != nil {
		close(s.acquired)
		<-s.block
	}
	return sharedLease{s}, nil
}

type sharedLease struct{ s *sharedStore }

func (l sharedLease) Load(ctx context.Context) (*refresh.Tokens, error) {
	l.s.record("Lease.Load")
	return l.s.MemoryStore.Load(ctx)
}

func (l sharedLease) Save(ctx context.Context, t *refresh.Tokens) error {
	if t == nil {
		l.s.record("Lease.Save(nil)")
	} else {
		l.s.record("Lease.Save")
	}
	return l.s.MemoryStore.Save(ctx, t)
}

func (l sharedLease) Release(context.Context) error {
	l.s.record("Release")
	return l.s.failRelease
}

// signedIn returns a refreshtest server, a Client of it, and tokens from a
// first refresh of a new grant.
func signedIn(t *testing.T) (*refreshtest.Server, *refresh.Client, *refresh.Tokens) {
	t.Helper()
	srv := revocationServer(t)
	c := &refresh.Client{TokenURL: srv.TokenURL(), RevocationURL: srv.RevocationURL(), Auth: refresh.ClientSecretBasic("basic", "basic-secret")}
	tok, err := c.Refresh(t.Context(), srv.IssueRefreshToken("basic", "read"))
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return srv, c, tok
}

// revokedTokens lists the tokens and hints of the server's revocation
// requests.
func revokedTokens(srv *refreshtest.Server) []string {
	var out []string
	for _, r := range srv.RevocationRequests() {
		out = append(out, r.Form.Get("token_type_hint")+":"+r.Form.Get("token"))
	}
	return out
}

// wantSignedOut checks that src's Token fails with ErrNoRefreshToken without
// a token request.
func wantSignedOut(t *testing.T, srv *refreshtest.Server, src *refresh.Source) {
	t.Helper()
	before := len(srv.Requests())
	for range 2 {
		if tok, err := src.Token(t.Context()); !errors.Is(err, refresh.ErrNoRefreshToken) {
			t.Errorf("Token after Revoke = %v, %v; want an error matching ErrNoRefreshToken", tok, err)
		}
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("%d token requests after Revoke, want 0", n)
	}
}

func TestSourceRevoke(t *testing.T) {
	t.Run("it revokes the refresh token, and Token fails until SetTokens", func(t *testing.T) {
		srv, c, tok := signedIn(t)
		src := refresh.NewSource(c, tok)
		if err := src.Revoke(t.Context()); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if diff := cmp.Diff([]string{"refresh_token:" + tok.RefreshToken}, revokedTokens(srv)); diff != "" {
			t.Errorf("revoked (-want +got):\n%s", diff)
		}
		if st := srv.State(tok.RefreshToken); st != refreshtest.Revoked {
			t.Errorf("State = %v, want Revoked", st)
		}
		wantSignedOut(t, srv, src)
		// The user signs in again.
		if err := src.SetTokens(t.Context(), &refresh.Tokens{RefreshToken: srv.IssueRefreshToken("basic")}); err != nil {
			t.Fatalf("SetTokens: %v", err)
		}
		if _, err := src.Token(t.Context()); err != nil {
			t.Errorf("Token after SetTokens: %v", err)
		}
	})
	t.Run("without a refresh token it revokes the access token", func(t *testing.T) {
		srv, c, tok := signedIn(t)
		src := refresh.NewSource(c, &refresh.Tokens{AccessToken: tok.AccessToken, TokenType: "Bearer"})
		if err := src.Revoke(t.Context()); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if diff := cmp.Diff([]string{"access_token:" + tok.AccessToken}, revokedTokens(srv)); diff != "" {
			t.Errorf("revoked (-want +got):\n%s", diff)
		}
		wantSignedOut(t, srv, src)
	})
	t.Run("it clears a Store", func(t *testing.T) {
		srv, c, tok := signedIn(t)
		store := refresh.NewMemoryStore(tok)
		src := refresh.NewSource(c, nil, refresh.WithStore(store))
		if err := src.Revoke(t.Context()); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if got, _ := store.Load(t.Context()); got != nil {
			t.Errorf("the Store holds %v after Revoke, want nothing", got)
		}
		if diff := cmp.Diff([]string{"refresh_token:" + tok.RefreshToken}, revokedTokens(srv)); diff != "" {
			t.Errorf("revoked (-want +got):\n%s", diff)
		}
		wantSignedOut(t, srv, src)
	})
	t.Run("it revokes the Store's newer tokens rather than its own", func(t *testing.T) {
		srv, c, tok := signedIn(t)
		// Another replica rotates the refresh token and stores the result.
		newer, err := c.Refresh(t.Context(), tok.RefreshToken)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		src := refresh.NewSource(c, tok, refresh.WithStore(refresh.NewMemoryStore(newer)))
		if err := src.Revoke(t.Context()); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if diff := cmp.Diff([]string{"refresh_token:" + newer.RefreshToken}, revokedTokens(srv)); diff != "" {
			t.Errorf("revoked (-want +got):\n%s", diff)
		}
		if st := srv.State(newer.RefreshToken); st != refreshtest.Revoked {
			t.Errorf("State(newest refresh token) = %v, want Revoked", st)
		}
	})
	t.Run("a SharedStore is cleared under its lease", func(t *testing.T) {
		srv, c, tok := signedIn(t)
		store := &sharedStore{}
		_ = store.MemoryStore.Save(t.Context(), tok)
		src := refresh.NewSource(c, tok, refresh.WithStore(store))
		if err := src.Revoke(t.Context()); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if diff := cmp.Diff([]string{"Acquire", "Lease.Load", "Lease.Save(nil)", "Release"}, store.Calls()); diff != "" {
			t.Errorf("store calls (-want +got):\n%s", diff)
		}
		if got, _ := store.MemoryStore.Load(t.Context()); got != nil {
			t.Errorf("the store holds %v after Revoke, want nothing", got)
		}
		if st := srv.State(tok.RefreshToken); st != refreshtest.Revoked {
			t.Errorf("State = %v, want Revoked", st)
		}
	})
	t.Run("a SharedStore whose lease cannot be taken is cleared without it", func(t *testing.T) {
		srv, c, tok := signedIn(t)
		store := &sharedStore{failAcquire: errors.New("lease service down")}
		_ = store.MemoryStore.Save(t.Context(), tok)
		src := refresh.NewSource(c, tok, refresh.WithStore(store))
		err := src.Revoke(t.Context())
		var se *refresh.StoreError
		if !errors.As(err, &se) || se.Op != "acquire" {
			t.Errorf("Revoke = %v; want a *StoreError for acquire", err)
		}
		if got, _ := store.MemoryStore.Load(t.Context()); got != nil {
			t.Errorf("the store holds %v after Revoke, want nothing", got)
		}
		if st := srv.State(tok.RefreshToken); st != refreshtest.Revoked {
			t.Errorf("State = %v, want Revoked", st)
		}
		wantSignedOut(t, srv, src)
	})
	t.Run("a lease that cannot be released is a *StoreError after the sign-out", func(t *testing.T) {
		srv, c, tok := signedIn(t)
		store := &sharedStore{failRelease: errors.New("lease service down")}
		src := refresh.NewSource(c, tok, refresh.WithStore(store))
		err := src.Revoke(t.Context())
		var se *refresh.StoreError
		if !errors.As(err, &se) || se.Op != "release" {
			t.Errorf("Revoke = %v; want a *StoreError for release", err)
		}
		if diff := cmp.Diff([]string{"Acquire", "Lease.Load", "Lease.Save(nil)", "Release"}, store.Calls()); diff != "" {
			t.Errorf("store calls (-want +got):\n%s", diff)
		}
		wantSignedOut(t, srv, src)
	})
	t.Run("Token during Revoke waits for it and sends no refresh", func(t *testing.T) {
		srv, c, tok := signedIn(t)
		store := &sharedStore{acquired: make(chan struct{}), block: make(chan struct{})}
		src := refresh.NewSource(c, tok, refresh.WithStore(store))
		done := make(chan error)
		go func() { done <- src.Revoke(context.Background()) }()
		<-store.acquired // Revoke holds the Source now
		got := make(chan error)
		go func() {
			_, err := src.Token(context.Background())
			got <- err
		}()
		close(store.block)
		if err := <-done; err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if err := <-got; !errors.Is(err, refresh.ErrNoRefreshToken) {
			t.Errorf("Token during Revoke: %v; want an error matching ErrNoRefreshToken, not the revoked token", err)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d token requests, want 1 (the sign-in's)", n)
		}
	})
	t.Run("a failed revocation still signs out, and says so", func(t *testing.T) {
		srv, c, tok := signedIn(t)
		bad := *c
		bad.Auth = refresh.ClientSecretBasic("basic", "wrong")
		store := refresh.NewMemoryStore(tok)
		src := refresh.NewSource(&bad, tok, refresh.WithStore(store))
		if err := src.Revoke(t.Context()); !errors.Is(err, refresh.ErrInvalidClient) {
			t.Errorf("Revoke = %v; want invalid_client", err)
		}
		if got, _ := store.Load(t.Context()); got != nil {
			t.Errorf("the Store holds %v, want nothing", got)
		}
		wantSignedOut(t, srv, src)
	})
	t.Run("a Store that fails to clear is a *StoreError", func(t *testing.T) {
		srv, c, tok := signedIn(t)
		src := refresh.NewSource(c, tok, refresh.WithStore(refresh.StoreFunc(func(context.Context, *refresh.Tokens) error {
			return errors.New("disk full")
		})))
		err := src.Revoke(t.Context())
		var se *refresh.StoreError
		if !errors.As(err, &se) || se.Op != "save" {
			t.Errorf("Revoke = %v; want a *StoreError for save", err)
		}
		if st := srv.State(tok.RefreshToken); st != refreshtest.Revoked {
			t.Errorf("State = %v, want Revoked", st)
		}
	})
	t.Run("a panicking Store is a *PanicError, and the Source stays usable", func(t *testing.T) {
		srv, c, tok := signedIn(t)
		src := refresh.NewSource(c, tok, refresh.WithStore(refresh.StoreFunc(func(_ context.Context, t *refresh.Tokens) error {
			_ = t.RefreshToken // a callback that does not expect nil
			return nil
		})))
		err := src.Revoke(t.Context())
		var pe *refresh.PanicError
		if !errors.As(err, &pe) {
			t.Errorf("Revoke = %v; want a *PanicError", err)
		}
		wantSignedOut(t, srv, src)
		if err := src.SetTokens(t.Context(), &refresh.Tokens{RefreshToken: srv.IssueRefreshToken("basic")}); err != nil {
			t.Fatalf("SetTokens: %v", err)
		}
	})
	t.Run("without a RevocationURL it is a *ConfigError and changes nothing", func(t *testing.T) {
		_, c, tok := signedIn(t)
		noURL := *c
		noURL.RevocationURL = ""
		src := refresh.NewSource(&noURL, tok)
		var ce *refresh.ConfigError
		if err := src.Revoke(t.Context()); !errors.As(err, &ce) || ce.Field != "RevocationURL" {
			t.Errorf("Revoke = %v; want a *ConfigError for RevocationURL", err)
		}
		if got, err := src.Token(t.Context()); err != nil || got.AccessToken != tok.AccessToken {
			t.Errorf("Token = %v, %v; want the tokens held before", got, err)
		}
	})
	t.Run("with no tokens anywhere it sends nothing and signs out", func(t *testing.T) {
		srv, c, _ := signedIn(t)
		src := refresh.NewSource(c, nil, refresh.WithStore(new(refresh.MemoryStore)))
		if err := src.Revoke(t.Context()); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if got := revokedTokens(srv); len(got) != 0 {
			t.Errorf("revoked %v, want nothing", got)
		}
		wantSignedOut(t, srv, src)
	})
}
