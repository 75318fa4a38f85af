package refresh_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/tokenrefresh/refresh"
)

// managerRedactCases gives the rows of the Manager's types for the secret
// tests of redact_test.go: a Manager holding a Source with tokens, its
// Transport, a Grant and a ManagerOption, and the errors a Manager makes.
func managerRedactCases(t *testing.T, c *refresh.Client, tokens refresh.Tokens) []redactCase {
	t.Helper()
	store := refresh.NewMemoryStore(&tokens)
	grant := refresh.Grant{Store: store, Options: []refresh.SourceOption{
		refresh.WithRequestOptions(refresh.WithParam("audience", secretClient))}}
	m, err := refresh.NewManager(c, func(string) (refresh.Grant, error) { return grant, nil })
	if err != nil {
		t.Fatal(err)
	}
	// A Put makes the key's Source and leaves it holding the tokens.
	if err := m.Put(t.Context(), "user-1", &tokens); err != nil {
		t.Fatalf("Put: %v", err)
	}
	failing, err := refresh.NewManager(c, func(string) (refresh.Grant, error) {
		return refresh.Grant{}, errors.New("no row for the grant")
	})
	if err != nil {
		t.Fatal(err)
	}
	_, openErr := failing.Token(t.Context(), "user-1")
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://api.example.com/?key="+secretQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, noKey := (&refresh.ManagerTransport{Manager: m}).RoundTrip(req)
	return []redactCase{
		{name: "a *Manager holding a Source with tokens", value: m},
		{name: "a *ManagerTransport", value: &refresh.ManagerTransport{Manager: m}},
		{name: "a ManagerTransport value", value: refresh.ManagerTransport{Manager: m}},
		{name: "a Grant whose Store holds tokens", value: grant},
		{name: "a *Grant", value: &grant},
		{name: "a ManagerOption", value: refresh.WithIdleLimit(refresh.DefaultIdleLimit)},
		{name: "the *StoreError of a grant function that failed", value: mustErrorAs[*refresh.StoreError](t, "Token", openErr)},
		{name: "the *ConfigError of a request without a grant key", value: mustErrorAs[*refresh.ConfigError](t, "RoundTrip", noKey)},
	}
}
