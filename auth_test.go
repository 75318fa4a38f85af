package refresh_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
)

// authTokenURL is the token endpoint of the requests built here; nothing is sent.
const authTokenURL = "https://auth.example.com" + tokenPath

// bareBody is the body of a refresh of "rt-1" without options or credentials.
const bareBody = "grant_type=refresh_token&refresh_token=rt-1"

// built is what client authentication changed in a request.
type built struct {
	Authorization string
	Body          string
}

// buildWith builds the refresh request of "rt-1" with auth, at t0.
func buildWith(t *testing.T, auth refresh.Auth) (built, error) {
	t.Helper()
	c := &refresh.Client{TokenURL: authTokenURL, Auth: auth, Now: func() time.Time { return t0 }}
	req, err := c.NewRequest(t.Context(), "rt-1")
	if err != nil {
		if req != nil {
			t.Errorf("NewRequest returned a request with its error %v", err)
		}
		return built{}, err
	}
	return built{Authorization: strings.Join(req.Header.Values("Authorization"), "|"), Body: readBody(t, req)}, nil
}

func basic(credentials string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(credentials))
}

func TestBuiltInAuth(t *testing.T) {
	tests := []struct {
		name      string
		auth      refresh.Auth
		want      built
		wantField string // the ConfigError's Field when refused
	}{
		{
			name: "ClientSecretBasic form-encodes a ':' in the ID and the secret (RFC 6749 §2.3.1)",
			auth: refresh.ClientSecretBasic("a:b", "c:d"),
			want: built{Authorization: "Basic YSUzQWI6YyUzQWQ=", Body: bareBody},
		},
		{
			name: "ClientSecretBasic encodes spaces as '+'",
			auth: refresh.ClientSecretBasic("my client", "p a s s"),
			want: built{Authorization: basic("my+client:p+a+s+s"), Body: bareBody},
		},
		{
			name: "ClientSecretBasic percent-encodes % & / + = ? #",
			auth: refresh.ClientSecretBasic("id", "%&/+=?#"),
			want: built{Authorization: basic("id:%25%26%2F%2B%3D%3F%23"), Body: bareBody},
		},
		{
			name: "ClientSecretBasic percent-encodes the UTF-8 bytes of non-ASCII characters",
			auth: refresh.ClientSecretBasic("ünï", "ç"),
			want: built{Authorization: basic("%C3%BCn%C3%AF:%C3%A7"), Body: bareBody},
		},
		{
			name: "ClientSecretBasic leaves letters, digits and -._~ as they are",
			auth: refresh.ClientSecretBasic("abc-_.~", "XYZ019"),
			want: built{Authorization: "Basic YWJjLV8ufjpYWVowMTk=", Body: bareBody},
		},
		{
			name:      "ClientSecretBasicRaw refuses a client ID with ':', which raw Basic cannot carry",
			auth:      refresh.ClientSecretBasicRaw("a:b", "c:d"),
			wantField: "ClientSecretBasicRaw",
		},
		{
			name: "ClientSecretBasicRaw sends the ID and secret bytes as they are",
			auth: refresh.ClientSecretBasicRaw("abc", "c:d%"),
			want: built{Authorization: "Basic YWJjOmM6ZCU=", Body: bareBody},
		},
		{
			name: "ClientSecretPost puts client_id and client_secret in the body and sends no Authorization",
			auth: refresh.ClientSecretPost("my client", "s&=+"),
			want: built{Body: bareBody + "&client_id=my+client&client_secret=s%26%3D%2B"},
		},
		{
			name: "PublicClient sends client_id only",
			auth: refresh.PublicClient("spa-app"),
			want: built{Body: bareBody + "&client_id=spa-app"},
		},
		{
			name: "a nil Auth sends no client authentication at all",
			want: built{Body: bareBody},
		},
		{name: "ClientSecretBasic refuses an empty client ID", auth: refresh.ClientSecretBasic("", "s"), wantField: "ClientSecretBasic"},
		{name: "ClientSecretBasicRaw refuses an empty client ID", auth: refresh.ClientSecretBasicRaw("", "s"), wantField: "ClientSecretBasicRaw"},
		{name: "ClientSecretPost refuses an empty client ID", auth: refresh.ClientSecretPost("", "s"), wantField: "ClientSecretPost"},
		{name: "PublicClient refuses an empty client ID", auth: refresh.PublicClient(""), wantField: "PublicClient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := buildWith(t, tt.auth)
			if tt.wantField != "" {
				if field := configErrorField(t, err); field != tt.wantField {
					t.Errorf("ConfigError.Field = %q, want %q", field, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClientSecretBasicRoundTrip decodes the header the way a server following
// RFC 6749 §2.3.1 does and expects the ID and secret back.
func TestClientSecretBasicRoundTrip(t *testing.T) {
	tests := []struct{ id, secret string }{
		{"a:b", "c:d"},
		{"my client", "with spaces  twice"},
		{"id%41", "100%"},
		{"a&b=c", "x/y+z?w#v"},
		{"urn:example:client", `"quoted" \back\`},
		{"ünïcödé", "日本語"},
		{"plain", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("ID %q and secret %q come back after decoding", tt.id, tt.secret), func(t *testing.T) {
			got, err := buildWith(t, refresh.ClientSecretBasic(tt.id, tt.secret))
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			b64, ok := strings.CutPrefix(got.Authorization, "Basic ")
			if !ok {
				t.Fatalf("Authorization = %q, want Basic", got.Authorization)
			}
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatalf("decoding %q: %v", b64, err)
			}
			if n := strings.Count(string(raw), ":"); n != 1 {
				t.Fatalf("credentials %q hold %d ':', want exactly the separator", raw, n)
			}
			encID, encSecret, _ := strings.Cut(string(raw), ":")
			id, err := url.QueryUnescape(encID)
			if err != nil {
				t.Fatalf("QueryUnescape(%q): %v", encID, err)
			}
			secret, err := url.QueryUnescape(encSecret)
			if err != nil {
				t.Fatalf("QueryUnescape(%q): %v", encSecret, err)
			}
			if diff := cmp.Diff([2]string{tt.id, tt.secret}, [2]string{id, secret}); diff != "" {
				t.Errorf("decoded [ID, secret] (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthFunc(t *testing.T) {
	t.Run("an AuthFunc sees TokenURL and the client's clock and adds a client assertion", func(t *testing.T) {
		type seen struct {
			TokenURL string
			Time     time.Time
		}
		var got seen
		auth := refresh.AuthFunc(func(r *refresh.AuthRequest) error {
			got = seen{TokenURL: r.TokenURL, Time: r.Time}
			if err := r.SetParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"); err != nil {
				return err
			}
			return r.SetParam("client_assertion", fmt.Sprintf("aud=%s;iat=%d", r.TokenURL, r.Time.Unix()))
		})
		b, err := buildWith(t, auth)
		if err != nil {
			t.Fatalf("NewRequest: %v", err)
		}
		if diff := cmp.Diff(seen{TokenURL: authTokenURL, Time: t0}, got); diff != "" {
			t.Errorf("AuthRequest (-want +got):\n%s", diff)
		}
		want := built{Body: bareBody +
			"&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer" +
			"&client_assertion=aud%3Dhttps%3A%2F%2Fauth.example.com%2Foauth2%2Ftoken%3Biat%3D" + fmt.Sprint(t0.Unix())}
		if diff := cmp.Diff(want, b); diff != "" {
			t.Errorf("request (-want +got):\n%s", diff)
		}
	})

	t.Run("an AuthFunc is called once for every request built", func(t *testing.T) {
		var calls atomic.Int32
		auth := refresh.AuthFunc(func(r *refresh.AuthRequest) error {
			n := calls.Add(1)
			return r.SetParam("client_assertion", fmt.Sprintf("jti-%d", n))
		})
		var bodies []string
		for range 2 {
			b, err := buildWith(t, auth)
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			bodies = append(bodies, b.Body)
		}
		want := []string{bareBody + "&client_assertion=jti-1", bareBody + "&client_assertion=jti-2"}
		if diff := cmp.Diff(want, bodies); diff != "" {
			t.Errorf("bodies (-want +got):\n%s", diff)
		}
	})

	for _, name := range []string{"grant_type", "refresh_token", "scope", ""} {
		t.Run(fmt.Sprintf("SetParam refuses %q", name), func(t *testing.T) {
			var setErr error
			auth := refresh.AuthFunc(func(r *refresh.AuthRequest) error {
				setErr = r.SetParam(name, "x")
				return setErr
			})
			_, err := buildWith(t, auth)
			if field := configErrorField(t, setErr); field != "AuthRequest.SetParam" {
				t.Errorf("SetParam's ConfigError.Field = %q, want AuthRequest.SetParam", field)
			}
			configErrorField(t, err) // NewRequest refuses the request too
		})
	}

	// RFC 6749 §2.3: one client authentication method per request.
	methods := map[string]func(r *refresh.AuthRequest) error{
		"Authorization": func(r *refresh.AuthRequest) error {
			r.Header.Set("Authorization", basic("id:secret"))
			return nil
		},
		"client_secret": func(r *refresh.AuthRequest) error {
			if err := r.SetParam("client_id", "id"); err != nil {
				return err
			}
			return r.SetParam("client_secret", "secret")
		},
		"client_assertion": func(r *refresh.AuthRequest) error {
			return r.SetParam("client_assertion", "eyJ.x.y")
		},
	}
	for _, tt := range []struct {
		name    string
		methods []string
		wantErr bool
	}{
		{name: "an AuthFunc that sets only Authorization is accepted", methods: []string{"Authorization"}},
		{name: "an AuthFunc that sets only client_secret is accepted", methods: []string{"client_secret"}},
		{name: "an AuthFunc that sets only client_assertion is accepted", methods: []string{"client_assertion"}},
		{name: "an AuthFunc that sets Authorization and client_secret is refused", methods: []string{"Authorization", "client_secret"}, wantErr: true},
		{name: "an AuthFunc that sets Authorization and client_assertion is refused", methods: []string{"Authorization", "client_assertion"}, wantErr: true},
		{name: "an AuthFunc that sets client_secret and client_assertion is refused", methods: []string{"client_secret", "client_assertion"}, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			auth := refresh.AuthFunc(func(r *refresh.AuthRequest) error {
				for _, m := range tt.methods {
					if err := methods[m](r); err != nil {
						return err
					}
				}
				return nil
			})
			_, err := buildWith(t, auth)
			if !tt.wantErr {
				if err != nil {
					t.Errorf("NewRequest: %v", err)
				}
				return
			}
			if field := configErrorField(t, err); field != "Auth" {
				t.Errorf("ConfigError.Field = %q, want Auth", field)
			}
		})
	}

	t.Run("an AuthFunc's own error becomes a *ConfigError that wraps it", func(t *testing.T) {
		errSigner := errors.New("signer unavailable")
		_, err := buildWith(t, refresh.AuthFunc(func(*refresh.AuthRequest) error { return errSigner }))
		if field := configErrorField(t, err); field != "Auth" {
			t.Errorf("ConfigError.Field = %q, want Auth", field)
		}
		if !errors.Is(err, errSigner) {
			t.Errorf("errors.Is(%v, errSigner) = false, want true", err)
		}
	})
}
