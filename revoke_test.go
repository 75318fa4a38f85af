package refresh_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// revocationServer is a refreshtest server with one client per method.
func revocationServer(t *testing.T) *refreshtest.Server {
	t.Helper()
	srv := refreshtest.NewServer(
		refreshtest.WithClient(refreshtest.Client{ID: "basic", Secret: "basic-secret", Method: refreshtest.AuthClientSecretBasic}),
		refreshtest.WithClient(refreshtest.Client{ID: "post", Secret: "post-secret", Method: refreshtest.AuthClientSecretPost}),
		refreshtest.WithClient(refreshtest.Client{ID: "public", Method: refreshtest.AuthNone}),
	)
	t.Cleanup(srv.Close)
	return srv
}

func TestRevokeAgainstRefreshtest(t *testing.T) {
	srv := revocationServer(t)
	for _, tt := range []struct {
		id         string
		auth       refresh.Auth
		wantMethod refreshtest.AuthMethod
	}{
		{"basic", refresh.ClientSecretBasic("basic", "basic-secret"), refreshtest.AuthClientSecretBasic},
		{"post", refresh.ClientSecretPost("post", "post-secret"), refreshtest.AuthClientSecretPost},
		{"public", refresh.PublicClient("public"), refreshtest.AuthNone},
	} {
		c := &refresh.Client{TokenURL: srv.TokenURL(), RevocationURL: srv.RevocationURL(), Auth: tt.auth}
		t.Run(tt.id+": a revoked refresh token then gets invalid_grant, and its grant's access token 401", func(t *testing.T) {
			rt := srv.IssueRefreshToken(tt.id, "read")
			tok, err := c.Refresh(t.Context(), rt)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			before := len(srv.RevocationRequests())
			if err := c.Revoke(t.Context(), tok.RefreshToken, "refresh_token"); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			reqs := srv.RevocationRequests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("%d revocation requests, want 1", len(reqs))
			}
			got := reqs[0]
			want := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
			for _, name := range []string{"client_id", "client_secret"} {
				if v, ok := got.Form[name]; ok {
					want[name] = v // client authentication's, checked through AuthMethod
				}
			}
			if diff := cmp.Diff(want, got.Form); diff != "" {
				t.Errorf("form (-want +got):\n%s", diff)
			}
			if got.AuthMethod != tt.wantMethod || got.ClientID != tt.id || got.Method != http.MethodPost ||
				got.Header.Get("Accept") != "application/json" || got.Header.Get("User-Agent") != refresh.DefaultUserAgent {
				t.Errorf("request %v with Accept %q, User-Agent %q; want %s by %s with the refresh's headers",
					got, got.Header.Get("Accept"), got.Header.Get("User-Agent"), tt.wantMethod, tt.id)
			}
			if st := srv.State(tok.RefreshToken); st != refreshtest.Revoked {
				t.Errorf("State(refresh token) = %v, want Revoked", st)
			}
			if st := srv.State(tok.AccessToken); st != refreshtest.Revoked {
				t.Errorf("State(access token) = %v, want Revoked", st)
			}
			if _, err := c.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, refresh.ErrInvalidGrant) {
				t.Errorf("Refresh with the revoked token: %v, want invalid_grant", err)
			}
		})
	}

	c := &refresh.Client{TokenURL: srv.TokenURL(), RevocationURL: srv.RevocationURL(), Auth: refresh.ClientSecretBasic("basic", "basic-secret")}
	t.Run("a revoked access token gets 401 at the resource, and the refresh token still works", func(t *testing.T) {
		rt := srv.IssueRefreshToken("basic")
		tok, err := c.Refresh(t.Context(), rt)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if err := c.Revoke(t.Context(), tok.AccessToken, "access_token"); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.ResourceURL(), nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("resource answered %d to the revoked access token, want 401", resp.StatusCode)
		}
		if _, err := c.Refresh(t.Context(), tok.RefreshToken); err != nil {
			t.Errorf("Refresh after revoking the access token: %v", err)
		}
	})
	t.Run("an unknown token is a success, and no hint sends none", func(t *testing.T) {
		before := len(srv.RevocationRequests())
		if err := c.Revoke(t.Context(), "never-issued", ""); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		reqs := srv.RevocationRequests()[before:]
		if len(reqs) != 1 || reqs[0].Form.Has("token_type_hint") {
			t.Errorf("requests %v; want one without token_type_hint", reqs)
		}
	})
	t.Run("a wrong client secret is invalid_client, and the token stays valid", func(t *testing.T) {
		rt := srv.IssueRefreshToken("basic")
		bad := *c
		bad.Auth = refresh.ClientSecretBasic("basic", "wrong")
		err := bad.Revoke(t.Context(), rt, "refresh_token")
		var oe *refresh.OAuthError
		if !errors.Is(err, refresh.ErrInvalidClient) || !errors.As(err, &oe) || oe.StatusCode != http.StatusUnauthorized {
			t.Errorf("Revoke = %v; want invalid_client with HTTP 401", err)
		}
		if st := srv.State(rt); st != refreshtest.Active {
			t.Errorf("State = %v, want Active", st)
		}
	})
	t.Run("another client's token is refused and stays valid", func(t *testing.T) {
		rt := srv.IssueRefreshToken("post")
		if err := c.Revoke(t.Context(), rt, "refresh_token"); !errors.Is(err, refresh.ErrInvalidRequest) {
			t.Errorf("Revoke = %v; want invalid_request", err)
		}
		if st := srv.State(rt); st != refreshtest.Active {
			t.Errorf("State = %v, want Active", st)
		}
	})
}

func TestRevokeRefusesBadInput(t *testing.T) {
	sent := 0
	hc := &http.Client{Transport: clientRoundTripFunc(func(*http.Request) (*http.Response, error) {
		sent++
		return nil, errors.New("nothing may be sent")
	})}
	good := refresh.Client{TokenURL: "https://auth.example.com/token", RevocationURL: "https://auth.example.com/revoke", HTTPClient: hc}
	with := func(f func(c *refresh.Client)) *refresh.Client {
		c := good
		f(&c)
		return &c
	}
	for _, tt := range []struct {
		name        string
		c           *refresh.Client
		token, hint string
		wantField   string
	}{
		{"an empty token", &good, "", "refresh_token", "token"},
		{"a hint of another kind", &good, "tok", "id_token", "hint"},
		{"no RevocationURL", with(func(c *refresh.Client) { c.RevocationURL = "" }), "tok", "", "RevocationURL"},
		{"an http RevocationURL on a host that is not loopback", with(func(c *refresh.Client) { c.RevocationURL = "http://auth.example.com/revoke" }), "tok", "", "RevocationURL"},
		{"a RevocationURL with user info", with(func(c *refresh.Client) { c.RevocationURL = "https://u:p@auth.example.com/revoke" }), "tok", "", "RevocationURL"},
		{"a RevocationURL that does not parse", with(func(c *refresh.Client) { c.RevocationURL = "https://auth.example.com/%zz" }), "tok", "", "RevocationURL"},
		{"an Auth that fails", with(func(c *refresh.Client) { c.Auth = refresh.ClientSecretPost("", "s") }), "tok", "", "ClientSecretPost"},
		{"a negative MaxResponseBytes", with(func(c *refresh.Client) { c.MaxResponseBytes = -1 }), "tok", "", "MaxResponseBytes"},
		{"a nil Client", nil, "tok", "", "Client"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Revoke(t.Context(), tt.token, tt.hint)
			var ce *refresh.ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.wantField {
				t.Errorf("Revoke = %v; want a *ConfigError for %s", err, tt.wantField)
			}
		})
	}
	t.Run("a nil ctx", func(t *testing.T) {
		//lint:ignore SA1012 a nil ctx is what is tested
		err := good.Revoke(nil, "tok", "") //nolint:staticcheck
		var ce *refresh.ConfigError
		if !errors.As(err, &ce) || ce.Field != "ctx" {
			t.Errorf("Revoke = %v; want a *ConfigError for ctx", err)
		}
	})
	if sent != 0 {
		t.Errorf("%d requests sent, want 0", sent)
	}
}

// answers is an http handler that gives each request the next of its
// answers, and counts them.
type answers struct {
	list []func(w http.ResponseWriter)
	n    atomic.Int32
}

func (a *answers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	i := int(a.n.Add(1)) - 1
	a.list[min(i, len(a.list)-1)](w)
}

func reply(status int, contentType, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestRevokeAnswers(t *testing.T) {
	const token = "RT-REVOKED-SECRET-77aa"
	oauthJSON := func(code string) string {
		return `{"error":"` + code + `","error_description":"cannot revoke ` + token + `"}`
	}
	tests := []struct {
		name         string
		answers      []func(w http.ResponseWriter)
		wantRequests int
		check        func(t *testing.T, err error)
	}{
		{
			name:         "200 with an empty body is success",
			answers:      []func(http.ResponseWriter){reply(200, "", "")},
			wantRequests: 1,
		},
		{
			name:         "200 with a body that is not JSON is success: the body is ignored",
			answers:      []func(http.ResponseWriter){reply(200, "text/html", "<p>ok</p>")},
			wantRequests: 1,
		},
		{
			name:         "204 is success too",
			answers:      []func(http.ResponseWriter){reply(204, "", "")},
			wantRequests: 1,
		},
		{
			name:         "unsupported_token_type is an *OAuthError that ErrUnsupportedTokenType matches",
			answers:      []func(http.ResponseWriter){reply(400, "application/json", oauthJSON("unsupported_token_type"))},
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				var oe *refresh.OAuthError
				if !errors.Is(err, refresh.ErrUnsupportedTokenType) || !errors.As(err, &oe) || oe.StatusCode != 400 {
					t.Errorf("error %v; want unsupported_token_type with HTTP 400", err)
				}
				if strings.Contains(oe.Description, token) {
					t.Errorf("Description %q shows the token", oe.Description)
				}
			},
		},
		{
			name:         "an OAuth error with HTTP 200 is an error",
			answers:      []func(http.ResponseWriter){reply(200, "application/json", oauthJSON("invalid_client"))},
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, refresh.ErrInvalidClient) {
					t.Errorf("error %v; want invalid_client", err)
				}
			},
		},
		{
			name:         "any other code matches its ErrorCode",
			answers:      []func(http.ResponseWriter){reply(400, "application/json", oauthJSON("invalid_token"))},
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, refresh.ErrorCode("invalid_token")) {
					t.Errorf("error %v; want invalid_token", err)
				}
			},
		},
		{
			name: "503 then 200 is retried, as a refresh is",
			answers: []func(http.ResponseWriter){
				reply(503, "application/json", oauthJSON("unsupported_token_type")),
				reply(200, "", ""),
			},
			wantRequests: 2,
		},
		{
			name:         "a 500 HTML page is a *ResponseError and is not retried",
			answers:      []func(http.ResponseWriter){reply(500, "text/html", "<h1>down for "+token+"</h1>")},
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				var re *refresh.ResponseError
				if !errors.As(err, &re) || re.StatusCode != 500 {
					t.Errorf("error %v; want a *ResponseError with HTTP 500", err)
				}
			},
		},
		{
			name: "a redirect is not followed",
			answers: []func(http.ResponseWriter){func(w http.ResponseWriter) {
				w.Header().Set("Location", "/elsewhere?t=1")
				w.WriteHeader(http.StatusTemporaryRedirect)
			}},
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				var re *refresh.ResponseError
				if !errors.As(err, &re) || !strings.Contains(re.Reason, "redirect not followed (to /elsewhere)") {
					t.Errorf("error %v; want a *ResponseError for the redirect", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &answers{list: tt.answers}
			srv := httptest.NewServer(a)
			defer srv.Close()
			c := &refresh.Client{RevocationURL: srv.URL + "/revoke", Auth: refresh.ClientSecretBasic("id", "secret"),
				Backoff: func(refresh.RetryAttempt) time.Duration { return 0 }}
			err := c.Revoke(t.Context(), token, "refresh_token")
			if got := int(a.n.Load()); got != tt.wantRequests {
				t.Errorf("%d requests, want %d", got, tt.wantRequests)
			}
			if tt.check == nil {
				if err != nil {
					t.Errorf("Revoke: %v, want success", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Revoke succeeded, want an error")
			}
			tt.check(t, err)
			if strings.Contains(fmt.Sprintf("%v %+v", err, err), token) {
				t.Errorf("error %v shows the token", err)
			}
		})
	}
}
