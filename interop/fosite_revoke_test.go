package interop_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
)

// revoke is fosite's revocation endpoint (RFC 7009).
func (s *fosServer) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s.provider.WriteRevocationResponse(ctx, w, s.provider.NewRevocationRequest(ctx, r))
}

// metadata is an RFC 8414 document for the server. fosite has no discovery of
// its own (Ory Hydra, built on it, publishes one): this is what such a
// document says of these endpoints and clients.
func (s *fosServer) metadata(w http.ResponseWriter, _ *http.Request) {
	methods := []string{"client_secret_basic", "client_secret_post", "none"}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                     s.srv.URL,
		"token_endpoint":                             s.tokenURL,
		"revocation_endpoint":                        s.srv.URL + "/revoke",
		"grant_types_supported":                      []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported":      methods,
		"revocation_endpoint_auth_methods_supported": methods,
	})
}

// fosResourceStatus is the protected resource's answer to an access token.
func fosResourceStatus(t *testing.T, s *fosServer, accessToken string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.resourceURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fosRevokeClient discovers the server's metadata and makes a Client of it
// for auth.
func fosRevokeClient(t *testing.T, s *fosServer, auth refresh.Auth) *refresh.Client {
	t.Helper()
	md, err := refresh.Discover(t.Context(), s.srv.Client(), s.srv.URL)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	c, err := md.NewClient(auth)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	c.HTTPClient = s.srv.Client()
	return c
}

// TestFositeDiscoverAndRevoke discovers fosite's endpoints from an RFC 8414
// document, revokes with each client authentication method, and checks what
// fosite then does with the revoked tokens.
func TestFositeDiscoverAndRevoke(t *testing.T) {
	t.Parallel()
	s := fosNewServer(t)
	ctx := t.Context()

	t.Run("Discover finds the endpoints", func(t *testing.T) {
		md, err := refresh.Discover(ctx, s.srv.Client(), s.srv.URL)
		if err != nil {
			t.Fatalf("Discover: %v", err)
		}
		got := []string{md.Issuer, md.TokenEndpoint, md.RevocationEndpoint}
		if diff := cmp.Diff([]string{s.srv.URL, s.tokenURL, s.srv.URL + "/revoke"}, got); diff != "" {
			t.Errorf("issuer, token and revocation endpoints (-want +got):\n%s", diff)
		}
	})
	for _, a := range fosAuths {
		t.Run(a.name+": a revoked refresh token is invalid_grant, and its access token 401", func(t *testing.T) {
			c := fosRevokeClient(t, s, a.auth)
			tok, err := c.Refresh(ctx, s.mint(t, a.id, fosMintOpts{}).RefreshToken)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if err := c.Revoke(ctx, tok.RefreshToken, "refresh_token"); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			_, err = c.Refresh(ctx, tok.RefreshToken)
			var oe *refresh.OAuthError
			if !errors.Is(err, refresh.ErrInvalidGrant) || !errors.As(err, &oe) {
				t.Fatalf("Refresh with the revoked token: %v, want invalid_grant", err)
			}
			// fosite keeps a revoked refresh token as inactive, as it keeps a used one.
			if !strings.Contains(oe.Description, "The refresh token was already used.") {
				t.Errorf("description %q, want fosite's text for an inactive token", oe.Description)
			}
			if st := fosResourceStatus(t, s, tok.AccessToken); st != http.StatusUnauthorized {
				t.Errorf("resource answered %d to the grant's access token, want 401", st)
			}
		})
	}

	c := fosRevokeClient(t, s, refresh.ClientSecretBasic(fosBasicID, fosBasicSecret))
	t.Run("revoking an access token revokes its refresh token too", func(t *testing.T) {
		tok := s.mint(t, fosBasicID, fosMintOpts{})
		if err := c.Revoke(ctx, tok.AccessToken, "access_token"); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if st := fosResourceStatus(t, s, tok.AccessToken); st != http.StatusUnauthorized {
			t.Errorf("resource answered %d to the revoked access token, want 401", st)
		}
		// fosite revokes every token of the request the access token belongs to.
		if _, err := c.Refresh(ctx, tok.RefreshToken); !errors.Is(err, refresh.ErrInvalidGrant) {
			t.Errorf("Refresh after revoking the access token: %v, want invalid_grant", err)
		}
	})
	t.Run("an unknown token is a success", func(t *testing.T) {
		if err := c.Revoke(ctx, "ory_rt_never-issued", "refresh_token"); err != nil {
			t.Errorf("Revoke: %v", err)
		}
	})
	t.Run("another client's token: 200, and the token stays valid", func(t *testing.T) {
		tok := s.mint(t, fosPostID, fosMintOpts{})
		// fosite finds the token is another client's (unauthorized_client)
		// but answers every error other than invalid_request and
		// invalid_client with 200, as for an invalid token (RFC 7009 §2.2).
		if err := c.Revoke(ctx, tok.RefreshToken, "refresh_token"); err != nil {
			t.Errorf("Revoke: %v, want success", err)
		}
		post := fosRevokeClient(t, s, refresh.ClientSecretPost(fosPostID, fosPostSecret))
		if _, err := post.Refresh(ctx, tok.RefreshToken); err != nil {
			t.Errorf("its own client's refresh: %v", err)
		}
	})
	t.Run("a wrong secret is invalid_client, and the token stays valid", func(t *testing.T) {
		tok := s.mint(t, fosBasicID, fosMintOpts{})
		bad := *c
		bad.Auth = refresh.ClientSecretBasic(fosBasicID, "wrong")
		if err := bad.Revoke(ctx, tok.RefreshToken, "refresh_token"); !errors.Is(err, refresh.ErrInvalidClient) {
			t.Errorf("Revoke: %v, want invalid_client", err)
		}
		if _, err := c.Refresh(ctx, tok.RefreshToken); err != nil {
			t.Errorf("Refresh after the refused revocation: %v", err)
		}
	})
	t.Run("Source.Revoke signs out: the newest refresh token is revoked and the Store emptied", func(t *testing.T) {
		tok := s.mint(t, fosBasicID, fosMintOpts{})
		store := refresh.NewMemoryStore(nil)
		src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: tok.RefreshToken}, refresh.WithStore(store))
		got, err := src.Token(ctx) // the first refresh rotates the refresh token
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		newest := got.RefreshToken
		if err := src.Revoke(ctx); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if stored, _ := store.Load(ctx); stored != nil {
			t.Errorf("the Store holds %v, want nothing", stored)
		}
		if _, err := src.Token(ctx); !errors.Is(err, refresh.ErrNoRefreshToken) {
			t.Errorf("Token after Revoke: %v, want ErrNoRefreshToken", err)
		}
		if _, err := c.Refresh(ctx, newest); !errors.Is(err, refresh.ErrInvalidGrant) {
			t.Errorf("Refresh with the newest refresh token: %v, want invalid_grant", err)
		}
	})
}
