// Command multiuser is a small service that calls an API on behalf of each
// of its users, with package refresh's Manager holding one grant per user,
// against a fake provider it starts in-process on 127.0.0.1: no network, no
// flags.
//
//	go run ./examples/multiuser
//
// Each user signs in (the service's own authorization-code exchange, which
// this example skips, gives their tokens) and the service hands the tokens to
// Manager.Put, which saves them in that user's Store. From then on one
// http.Client, whose Transport is a refresh.ManagerTransport, calls the
// protected resource for every user: the user's key rides in each request's
// context (refresh.WithGrantKey), and the Manager refreshes each user's grant
// once, when it is first needed. Signing a user out revokes the grant at the
// provider (RFC 7009) and clears their Store. A request that names no user is
// never sent.
//
// The Stores are MemoryStores, one per user, standing for a redisstore or a
// pgstore per key; main_test.go beside this file checks the output.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// clientID is the service's registration at the provider: a public client.
const clientID = "multiuser-app"

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "multiuser:", err)
		os.Exit(1)
	}
}

// service calls the API for its users.
type service struct {
	grants *refresh.Manager
	api    *http.Client
	apiURL string
}

// grantTable stands for the service's table of grants: a Store per user.
type grantTable struct {
	mu     sync.Mutex
	stores map[string]*refresh.MemoryStore
}

// grant is the Manager's grant function: the user's Store.
func (g *grantTable) grant(user string) (refresh.Grant, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st, ok := g.stores[user]
	if !ok {
		st = refresh.NewMemoryStore(nil)
		g.stores[user] = st
	}
	return refresh.Grant{Store: st}, nil
}

// call gets the API's answer for user.
func (s *service) call(ctx context.Context, user string) (string, error) {
	if user != "" {
		ctx = refresh.WithGrantKey(ctx, user)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.apiURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := s.api.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.Status + " " + strings.TrimSpace(string(body)), err
}

func run(ctx context.Context, w io.Writer) error {
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{ID: clientID, Method: refreshtest.AuthNone}))
	defer srv.Close()
	client := &refresh.Client{
		TokenURL:      srv.TokenURL(), // https://… at a real provider
		RevocationURL: srv.RevocationURL(),
		Auth:          refresh.PublicClient(clientID),
	}
	table := &grantTable{stores: map[string]*refresh.MemoryStore{}}
	m, err := refresh.NewManager(client, table.grant)
	if err != nil {
		return err
	}
	svc := &service{grants: m, api: &http.Client{Transport: &refresh.ManagerTransport{Manager: m}}, apiURL: srv.ResourceURL()}
	users := []string{"alice", "bob", "carol"}

	fmt.Fprintln(w, "1. Three users sign in")
	scopes := map[string][]string{"alice": {"read"}, "bob": {"read", "write"}, "carol": {"write"}}
	for _, user := range users {
		// What your authorization-code exchange returned for the user.
		signIn := &refresh.Tokens{RefreshToken: srv.IssueRefreshToken(clientID, scopes[user]...)}
		if err := m.Put(ctx, user, signIn); err != nil {
			return err
		}
		fmt.Fprintln(w, "  ", user, "signed in")
	}

	fmt.Fprintln(w, "2. The service calls the API for each user, three times each, at once")
	answers := make([][]string, len(users))
	errs := make([]error, 3*len(users)) // one per call: the calls run at once
	var wg sync.WaitGroup
	for i, user := range users {
		answers[i] = make([]string, 3)
		for j := range 3 {
			wg.Go(func() {
				a, err := svc.call(ctx, user)
				answers[i][j] = a
				errs[3*i+j] = err
			})
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, user := range users {
		fmt.Fprintf(w, "   %s: %s (x%d)\n", user, answers[i][0], count(answers[i], answers[i][0]))
	}
	fmt.Fprintln(w, "   token requests:", len(srv.Requests()), "(one per user)")
	fmt.Fprintln(w, "   grants in memory:", m.Len())

	fmt.Fprintln(w, "3. Bob signs out")
	bobStore, _ := table.grant("bob")
	saved, err := bobStore.Store.Load(ctx)
	if err != nil {
		return err
	}
	if err := m.Revoke(ctx, "bob"); err != nil {
		return err
	}
	fmt.Fprintln(w, "   his refresh token at the provider:", srv.State(saved.RefreshToken))
	_, err = svc.call(ctx, "bob")
	fmt.Fprintln(w, "   calling for bob: errors.Is(err, refresh.ErrNoRefreshToken):", errors.Is(err, refresh.ErrNoRefreshToken))
	a, err := svc.call(ctx, "alice")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "   alice:", a)

	fmt.Fprintln(w, "4. A request that names no user is not sent")
	_, err = svc.call(ctx, "")
	fmt.Fprintln(w, "   errors.Is(err, refresh.ErrNoGrantKey):", errors.Is(err, refresh.ErrNoGrantKey))
	return nil
}

// count returns how many of xs are x.
func count(xs []string, x string) int {
	n := 0
	for _, s := range xs {
		if s == x {
			n++
		}
	}
	return n
}
