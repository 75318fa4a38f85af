package refresh_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokenrefresh/refresh"
)

// discoveryRedactCases returns the rows of redactCases for the types and
// errors of discovery and revocation.
func discoveryRedactCases(t *testing.T) []redactCase {
	t.Helper()
	srv, _ := discoveryServer(t, func(w http.ResponseWriter, r *http.Request, base string) {
		fmt.Fprint(w, metadataDoc("https://evil.example", base))
	})
	md := &refresh.Metadata{Issuer: "https://auth.example.com", TokenEndpoint: redactTokenURL,
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic"}}
	_, mismatch := refresh.Discover(t.Context(), srv.Client(), srv.URL)
	_, wrongMethod := md.NewClient(refresh.ClientSecretPost(redactID, secretClient))

	// The revocation endpoint echoes the token it was sent, and the client secret.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"unsupported_token_type","error_description":"cannot revoke %s for %s"}`, r.PostForm.Get("token"), secretClient)
	}))
	t.Cleanup(echo.Close)
	c := &refresh.Client{TokenURL: redactTokenURL, RevocationURL: echo.URL + "/revoke?key=" + secretQuery,
		Auth: refresh.ClientSecretPost(redactID, secretClient)}
	revokeErr := c.Revoke(t.Context(), secretRefresh, "refresh_token")
	badHint := c.Revoke(t.Context(), secretRefresh, secretAccess)
	return []redactCase{
		{name: "a *Metadata", value: md},
		{name: "a Metadata value", value: *md},
		{name: "a *DiscoveryError for another issuer", value: mustErrorAs[*refresh.DiscoveryError](t, "DiscoveryError", mismatch)},
		{name: "a *ConfigError for an auth method the server does not list", value: mustErrorAs[*refresh.ConfigError](t, "ConfigError", wrongMethod)},
		{name: "a *Client with a RevocationURL", value: c},
		{name: "an *OAuthError of a revocation that echoes the token and the client secret", value: mustErrorAs[*refresh.OAuthError](t, "OAuthError", revokeErr)},
		{name: "a *ConfigError for a token passed as the hint", value: mustErrorAs[*refresh.ConfigError](t, "ConfigError", badHint)},
	}
}
