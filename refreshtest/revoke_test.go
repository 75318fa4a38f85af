package refreshtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh/refreshtest"
)

// postForm posts form to u, with Basic credentials when id is not empty, and
// returns the status and the body.
func postForm(t *testing.T, u, id, secret string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := new(http.Client).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// refreshWith refreshes rt as the Basic client app, and returns the status
// and the decoded body.
func refreshWith(t *testing.T, srv *refreshtest.Server, rt string) (int, map[string]any) {
	t.Helper()
	status, body := postForm(t, srv.TokenURL(), "app", "s3cret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("token response %q: %v", body, err)
	}
	return status, m
}

func TestRevocationEndpoint(t *testing.T) {
	srv := refreshtest.NewServer(
		refreshtest.WithClient(refreshtest.Client{ID: "app", Secret: "s3cret"}),
		refreshtest.WithClient(refreshtest.Client{ID: "other", Secret: "x"}),
	)
	defer srv.Close()

	t.Run("a revoked refresh token revokes its grant: refresh is invalid_grant, the access token 401", func(t *testing.T) {
		rt := srv.IssueRefreshToken("app", "read")
		_, tok := refreshWith(t, srv, rt)
		newRT, at := tok["refresh_token"].(string), tok["access_token"].(string)
		status, body := postForm(t, srv.RevocationURL(), "app", "s3cret", url.Values{"token": {newRT}, "token_type_hint": {"refresh_token"}})
		if status != http.StatusOK || body != "" {
			t.Errorf("revocation answered %d %q, want 200 and no body", status, body)
		}
		for _, token := range []string{rt, newRT, at} {
			if st := srv.State(token); st != refreshtest.Revoked {
				t.Errorf("State = %v, want Revoked", st)
			}
		}
		status, errBody := refreshWith(t, srv, newRT)
		if status != http.StatusBadRequest || errBody["error"] != "invalid_grant" {
			t.Errorf("refresh with the revoked token: %d %v, want 400 invalid_grant", status, errBody)
		}
	})
	t.Run("a revoked access token is the only one revoked", func(t *testing.T) {
		rt := srv.IssueRefreshToken("app")
		_, tok := refreshWith(t, srv, rt)
		at, newRT := tok["access_token"].(string), tok["refresh_token"].(string)
		if status, _ := postForm(t, srv.RevocationURL(), "app", "s3cret", url.Values{"token": {at}}); status != http.StatusOK {
			t.Errorf("revocation answered %d, want 200", status)
		}
		if st, st2 := srv.State(at), srv.State(newRT); st != refreshtest.Revoked || st2 != refreshtest.Active {
			t.Errorf("States = %v, %v; want Revoked, Active", st, st2)
		}
	})
	for _, tt := range []struct {
		name       string
		id, secret string
		form       url.Values
		wantStatus int
		wantCode   string
	}{
		{"an unknown token is a success", "app", "s3cret", url.Values{"token": {"nope"}}, http.StatusOK, ""},
		{"a hint of any kind is no error", "app", "s3cret", url.Values{"token": {"nope"}, "token_type_hint": {"id_token"}}, http.StatusOK, ""},
		{"no token is invalid_request", "app", "s3cret", url.Values{}, http.StatusBadRequest, "invalid_request"},
		{"a repeated token is invalid_request", "app", "s3cret", url.Values{"token": {"a", "b"}}, http.StatusBadRequest, "invalid_request"},
		{"a wrong secret is invalid_client", "app", "wrong", url.Values{"token": {"nope"}}, http.StatusUnauthorized, "invalid_client"},
		{"no client authentication is invalid_client", "", "", url.Values{"token": {"nope"}}, http.StatusUnauthorized, "invalid_client"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postForm(t, srv.RevocationURL(), tt.id, tt.secret, tt.form)
			var got map[string]any
			_ = json.Unmarshal([]byte(body), &got)
			code, _ := got["error"].(string)
			if status != tt.wantStatus || code != tt.wantCode {
				t.Errorf("answered %d %q, want %d %q", status, body, tt.wantStatus, tt.wantCode)
			}
		})
	}
	t.Run("another client's token is refused and stays valid", func(t *testing.T) {
		rt := srv.IssueRefreshToken("other")
		status, body := postForm(t, srv.RevocationURL(), "app", "s3cret", url.Values{"token": {rt}})
		if status != http.StatusBadRequest || !strings.Contains(body, "invalid_request") || srv.State(rt) != refreshtest.Active {
			t.Errorf("answered %d %q, state %v; want 400 invalid_request and Active", status, body, srv.State(rt))
		}
	})
	t.Run("every request is recorded", func(t *testing.T) {
		reqs := srv.RevocationRequests()
		last := reqs[len(reqs)-1]
		if last.Path != refreshtest.RevocationPath || last.AuthMethod != refreshtest.AuthClientSecretBasic || last.ClientID != "app" {
			t.Errorf("last request %v, want a Basic request by app to %s", last, refreshtest.RevocationPath)
		}
	})
}

func TestMetadataDocument(t *testing.T) {
	srv := refreshtest.NewServer()
	defer srv.Close()
	resp, err := new(http.Client).Get(srv.MetadataURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	methods := []any{"client_secret_basic", "client_secret_post", "none", "private_key_jwt", "client_secret_jwt"}
	want := map[string]any{
		"issuer":                                     srv.URL,
		"token_endpoint":                             srv.URL + "/token",
		"revocation_endpoint":                        srv.URL + "/revoke",
		"grant_types_supported":                      []any{"refresh_token"},
		"token_endpoint_auth_methods_supported":      methods,
		"revocation_endpoint_auth_methods_supported": methods,
	}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" || srv.Issuer() != srv.URL {
		t.Errorf("Content-Type %q, Issuer %q; want application/json, %q", ct, srv.Issuer(), srv.URL)
	}
}
