package interop

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
)

// oidcTestDiscoverRevoke discovers oidc-provider's endpoints (it publishes
// only OpenID Connect's document, so Discover falls back to it), revokes with
// each client authentication method, and checks what the server then does
// with the revoked tokens.
func oidcTestDiscoverRevoke(t *testing.T, s *oidcServer) {
	ctx := t.Context()
	md, err := refresh.Discover(ctx, nil, s.Issuer)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	got := []string{md.Issuer, md.TokenEndpoint, md.RevocationEndpoint}
	if diff := cmp.Diff([]string{s.Issuer, s.TokenEndpoint, s.Issuer + "/token/revocation"}, got); diff != "" {
		t.Errorf("issuer, token and revocation endpoints (-want +got):\n%s", diff)
	}
	for _, m := range []string{"client_secret_basic", "client_secret_post", "none"} {
		if !slices.Contains(md.TokenEndpointAuthMethodsSupported, m) {
			t.Errorf("token_endpoint_auth_methods_supported %q lacks %s", md.TokenEndpointAuthMethodsSupported, m)
		}
	}
	client := func(t *testing.T, name string) *refresh.Client {
		t.Helper()
		c, err := md.NewClient(s.auth(t, name))
		if err != nil {
			t.Fatalf("NewClient: %v", err)
		}
		return c
	}

	for _, name := range []string{"basic", "post", "public"} {
		t.Run(name+": a revoked refresh token is invalid_grant, and its access token 401", func(t *testing.T) {
			c := client(t, name)
			tok, err := c.Refresh(ctx, s.mint(t, name, oidcScope))
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if err := c.Revoke(ctx, tok.RefreshToken, "refresh_token"); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			_, err = c.Refresh(ctx, tok.RefreshToken)
			if !errors.Is(err, refresh.ErrInvalidGrant) {
				t.Fatalf("Refresh with the revoked token: %v, want invalid_grant", err)
			}
			oidcNoSecrets(t, err, tok.RefreshToken)
			want := oidcFailure{Code: "invalid_grant", Status: http.StatusBadRequest, Description: "grant request is invalid",
				Detail: []string{"invalid_grant: refresh token not found"}}
			if diff := cmp.Diff(want, oidcFailureOf(t, s, tok.RefreshToken, err)); diff != "" {
				t.Errorf("refresh after the revocation (-want +got):\n%s", diff)
			}
			if status, _ := s.resourceScope(t, tok.AccessToken); status != http.StatusUnauthorized {
				t.Errorf("resource answered %d to the grant's access token, want 401", status)
			}
		})
	}

	c := client(t, "basic")
	t.Run("revoking an access token revokes its grant, refresh token included", func(t *testing.T) {
		tok, err := c.Refresh(ctx, s.mint(t, "basic", oidcScope))
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if err := c.Revoke(ctx, tok.AccessToken, "access_token"); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if status, _ := s.resourceScope(t, tok.AccessToken); status != http.StatusUnauthorized {
			t.Errorf("resource answered %d to the revoked access token, want 401", status)
		}
		if _, err := c.Refresh(ctx, tok.RefreshToken); !errors.Is(err, refresh.ErrInvalidGrant) {
			t.Errorf("Refresh after revoking the access token: %v, want invalid_grant", err)
		}
	})
	t.Run("an unknown token is a success", func(t *testing.T) {
		if err := c.Revoke(ctx, "never-issued", ""); err != nil {
			t.Errorf("Revoke: %v", err)
		}
	})
	t.Run("another client's token is invalid_request, and stays valid", func(t *testing.T) {
		rt := s.mint(t, "post", oidcScope)
		err := c.Revoke(ctx, rt, "refresh_token")
		var oe *refresh.OAuthError
		if !errors.Is(err, refresh.ErrInvalidRequest) || !errors.As(err, &oe) || oe.StatusCode != http.StatusBadRequest ||
			oe.Description != "client is not authorized to revoke the presented token" {
			t.Errorf("Revoke: %v, want invalid_request (HTTP 400) saying the client may not revoke it", err)
		}
		if _, err := client(t, "post").Refresh(ctx, rt); err != nil {
			t.Errorf("its own client's refresh: %v", err)
		}
	})
	t.Run("a wrong secret is invalid_client, and the token stays valid", func(t *testing.T) {
		rt := s.mint(t, "basic", oidcScope)
		bad := *c
		bad.Auth = refresh.ClientSecretBasic(s.Clients["basic"].ID, "wrong")
		err := bad.Revoke(ctx, rt, "refresh_token")
		var oe *refresh.OAuthError
		if !errors.Is(err, refresh.ErrInvalidClient) || !errors.As(err, &oe) || oe.StatusCode != http.StatusUnauthorized {
			t.Errorf("Revoke: %v, want invalid_client with HTTP 401", err)
		}
		if _, err := c.Refresh(ctx, rt); err != nil {
			t.Errorf("Refresh after the refused revocation: %v", err)
		}
	})
	t.Run("Source.Revoke signs out: the newest refresh token is revoked and the Store emptied", func(t *testing.T) {
		store := refresh.NewMemoryStore(nil)
		src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: s.mint(t, "basic", oidcScope)}, refresh.WithStore(store))
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
