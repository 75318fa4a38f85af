package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// A service that calls an API on behalf of each of its users holds one grant
// per user in a Manager, with a Store per user (here MemoryStores; a redisstore
// or pgstore per key in production), and one http.Client whose
// ManagerTransport takes the user from each request's context.
func ExampleManager() {
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{ID: "saas", Method: refreshtest.AuthNone}))
	defer srv.Close()
	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient("saas")}

	var mu sync.Mutex
	stores := map[string]*refresh.MemoryStore{} // stands for a table of grants
	m, err := refresh.NewManager(c, func(user string) (refresh.Grant, error) {
		mu.Lock()
		defer mu.Unlock()
		if stores[user] == nil {
			stores[user] = refresh.NewMemoryStore(nil)
		}
		return refresh.Grant{Store: stores[user]}, nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	// Each user signed in: your authorization-code exchange gave their tokens.
	for _, user := range []string{"alice", "bob"} {
		if err := m.Put(ctx, user, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken("saas", "read")}); err != nil {
			fmt.Println(err)
			return
		}
	}

	api := &http.Client{Transport: &refresh.ManagerTransport{Manager: m}}
	for _, user := range []string{"alice", "bob", "alice"} {
		req, _ := http.NewRequestWithContext(refresh.WithGrantKey(ctx, user), http.MethodGet, srv.ResourceURL(), nil)
		resp, err := api.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(user, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Println("token requests:", len(srv.Requests()))

	// A request that names no user is never sent.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.ResourceURL(), nil)
	_, err = api.Do(req)
	fmt.Println(errors.Is(err, refresh.ErrNoGrantKey))
	// Output:
	// alice 200 OK {"client_id":"saas","scope":"read"}
	// bob 200 OK {"client_id":"saas","scope":"read"}
	// alice 200 OK {"client_id":"saas","scope":"read"}
	// token requests: 2
	// true
}

// The key is a grant's whole identity, request options included: one user's
// read-only calls get a key of their own, whose Grant narrows the scope, and
// never share a token with the user's other key.
func ExampleGrant() {
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{ID: "saas", Method: refreshtest.AuthNone}))
	defer srv.Close()
	c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient("saas")}
	ctx := context.Background()

	var mu sync.Mutex
	stores := map[string]*refresh.MemoryStore{}
	m, err := refresh.NewManager(c, func(key string) (refresh.Grant, error) {
		mu.Lock()
		defer mu.Unlock()
		if stores[key] == nil {
			stores[key] = refresh.NewMemoryStore(nil)
		}
		g := refresh.Grant{Store: stores[key]}
		if strings.HasSuffix(key, "/read-only") {
			g.Options = []refresh.SourceOption{refresh.WithRequestOptions(refresh.WithScopes("read"))}
		}
		return g, nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, key := range []string{"alice", "alice/read-only"} {
		// Each key holds a refresh token of its own.
		if err := m.Put(ctx, key, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken("saas", "read", "write")}); err != nil {
			fmt.Println(err)
			return
		}
		tok, err := m.Token(ctx, key)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(key, tok.Scopes)
	}
	// Output:
	// alice [read write]
	// alice/read-only [read]
}

// WithIdleLimit sets how long an unused grant keeps its Source in memory. A
// limit that is not positive is refused.
func ExampleWithIdleLimit() {
	c := &refresh.Client{TokenURL: "https://auth.example.com/token"}
	grants := func(string) (refresh.Grant, error) { return refresh.Grant{Store: refresh.NewMemoryStore(nil)}, nil }
	_, err := refresh.NewManager(c, grants, refresh.WithIdleLimit(0))
	fmt.Println(err)
	m, err := refresh.NewManager(c, grants, refresh.WithIdleLimit(5*time.Minute))
	fmt.Println(m, err)
	// Output:
	// refresh: WithIdleLimit: the idle limit must be positive
	// refresh.Manager{Client:refresh.Client{TokenURL:"https://auth.example.com/token", Auth:nil}, IdleLimit:5m0s} <nil>
}
