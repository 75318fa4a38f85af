package refresh_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tokenrefresh/refresh"
)

// An Auth may write Authorization under any spelling of the key: each counts
// towards the one-method rule, and the header goes out under its canonical name.
func TestAuthOneMethodUnderAnySpellingOfAuthorization(t *testing.T) {
	const basic = "Basic aWQ6c2VjcmV0"
	tests := []struct {
		name    string
		auth    refresh.AuthFunc
		wantErr bool
	}{
		{
			name: "a lower-case authorization key and client_secret are refused",
			auth: func(r *refresh.AuthRequest) error {
				r.Header["authorization"] = []string{basic}
				return r.SetParam("client_secret", "secret")
			},
			wantErr: true,
		},
		{
			name: "Authorization under two spellings is refused",
			auth: func(r *refresh.AuthRequest) error {
				r.Header["Authorization"] = []string{basic}
				r.Header["AUTHORIZATION"] = []string{basic}
				return nil
			},
			wantErr: true,
		},
		{
			name: "two Authorization values are refused",
			auth: func(r *refresh.AuthRequest) error {
				r.Header["Authorization"] = []string{basic, "Bearer x"}
				return nil
			},
			wantErr: true,
		},
		{
			name: "a lower-case authorization key alone is accepted",
			auth: func(r *refresh.AuthRequest) error {
				r.Header["authorization"] = []string{basic}
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent atomic.Int32
			var authz []string
			rt := oneMethodRoundTrip(func(r *http.Request) (*http.Response, error) {
				sent.Add(1)
				authz = r.Header["Authorization"]
				//lint:ignore SA1008 the test looks for a key that was not canonicalised
				if _, raw := r.Header["authorization"]; raw {
					authz = append(authz, "(also under a non-canonical key)")
				}
				r.Body.Close()
				body := `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`
				return &http.Response{
					StatusCode: 200,
					Header:     http.Header{"Content-Type": {"application/json"}},
					Body:       io.NopCloser(strings.NewReader(body)),
					Request:    r,
				}, nil
			})
			c := &refresh.Client{TokenURL: "https://auth.example/token", Auth: tt.auth, HTTPClient: &http.Client{Transport: rt}}
			_, err := c.Refresh(t.Context(), "rt-0")
			var ce *refresh.ConfigError
			switch {
			case tt.wantErr && !errors.As(err, &ce):
				t.Errorf("Refresh error = %v, want a *ConfigError", err)
			case tt.wantErr && sent.Load() != 0:
				t.Errorf("%d token requests sent, want none", sent.Load())
			case !tt.wantErr && err != nil:
				t.Errorf("Refresh: %v", err)
			case !tt.wantErr && (len(authz) != 1 || authz[0] != basic):
				t.Errorf("Authorization sent as %q, want the one value under the canonical key", authz)
			}
		})
	}
}

type oneMethodRoundTrip func(*http.Request) (*http.Response, error)

func (f oneMethodRoundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
