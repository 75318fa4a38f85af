package refresh

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestNewClientPicksTheMTLSAliases(t *testing.T) {
	md := &Metadata{
		Issuer:                            "https://auth.example.com",
		TokenEndpoint:                     "https://auth.example.com/token",
		RevocationEndpoint:                "https://auth.example.com/revoke",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "tls_client_auth"},
		MTLSEndpointAliases: map[string]string{
			"token_endpoint":      "https://mtls.auth.example.com/token",
			"revocation_endpoint": "https://mtls.auth.example.com/revoke",
		},
	}
	onlyToken := *md
	onlyToken.MTLSEndpointAliases = map[string]string{"token_endpoint": "https://mtls.auth.example.com/token"}
	noAliases := *md
	noAliases.MTLSEndpointAliases = nil
	for _, tt := range []struct {
		name                    string
		md                      *Metadata
		auth                    Auth
		wantToken, wantRevoke   string
		wantErrAboutBothMethods bool
	}{
		{"an endpoint without an alias stays", &onlyToken, TLSClientAuth("id"),
			"https://mtls.auth.example.com/token", "https://auth.example.com/revoke", false},
		{"no aliases: the endpoints themselves", &noAliases, TLSClientAuth("id"),
			"https://auth.example.com/token", "https://auth.example.com/revoke", false},
		{"TLSClientAuth uses both aliases", md, TLSClientAuth("id"),
			"https://mtls.auth.example.com/token", "https://mtls.auth.example.com/revoke", false},
		{"a secret method never uses the aliases", md, ClientSecretBasic("id", "s"),
			"https://auth.example.com/token", "https://auth.example.com/revoke", false},
		{"a TLS method the server does not list", &Metadata{TokenEndpoint: "https://a/token", TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"}},
			TLSClientAuth("id"), "", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.md.NewClient(tt.auth)
			if tt.wantErrAboutBothMethods {
				var ce *ConfigError
				if !errors.As(err, &ce) || !strings.Contains(ce.Reason, `"tls_client_auth"`) || !strings.Contains(ce.Reason, `["private_key_jwt"]`) {
					t.Errorf("NewClient = %v, %v; want a *ConfigError naming both methods", c, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			if c.TokenURL != tt.wantToken || c.RevocationURL != tt.wantRevoke || c.Issuer != tt.md.Issuer {
				t.Errorf("TokenURL, RevocationURL, Issuer = %q, %q, %q; want %q, %q, %q",
					c.TokenURL, c.RevocationURL, c.Issuer, tt.wantToken, tt.wantRevoke, tt.md.Issuer)
			}
		})
	}
}

func TestBuiltInAuthsNameTheirMethod(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for auth, want := range map[Auth]string{
		PrivateKeyJWT("id", key):        "private_key_jwt",
		ClientSecretJWT("id", "s"):      "client_secret_jwt",
		TLSClientAuth("id"):             "tls_client_auth",
		ClientSecretBasic("id", "s"):    "client_secret_basic",
		ClientSecretBasicRaw("id", "s"): "client_secret_basic",
		ClientSecretPost("id", "s"):     "client_secret_post",
		PublicClient("id"):              "none",
	} {
		if got := auth.(authMethodNamer).endpointAuthMethod(); got != want {
			t.Errorf("%v names %q, want %q", auth, got, want)
		}
	}
}

// FuzzParseMetadata feeds any body to the metadata parser: it never panics,
// it accepts only a document whose issuer is the one asked for, every field
// it fills agrees with the member decoded on its own, every other member is
// in Fields, and an error is a *DiscoveryError that names a member, or none,
// and never quotes a value but the issuer's.
func FuzzParseMetadata(f *testing.F) {
	const issuer = "https://auth.example.com/tenant"
	for _, seed := range []string{
		`{"issuer":"https://auth.example.com/tenant","token_endpoint":"https://auth.example.com/tenant/token"}`,
		`{"issuer":"https://auth.example.com/tenant","token_endpoint_auth_methods_supported":["client_secret_basic","none"],"mtls_endpoint_aliases":{"token_endpoint":"https://mtls/t"},"tls_client_certificate_bound_access_tokens":true,"x":[1,{"a":null}]}`,
		`{"issuer":"https://evil.example","token_endpoint":"SECRET-VALUE"}`,
		`{"issuer":null}`,
		`{"issuer":"https://auth.example.com/tenant","scopes_supported":"openid"}`,
		`{"issuer":"https://auth.example.com/tenant","issuer":"https://other"}`,
		`[]`, `null`, ``, `{"issuer":"https://auth.example.com/tenant"`,
		"{\"issuer\":\"https://auth.example.com/tenant\",\"x\xff\":\"\xfe\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseMetadata(body, issuer)
		if err != nil {
			if m != nil {
				t.Fatalf("both metadata and error %v", err)
			}
			de, ok := err.(*DiscoveryError)
			if !ok {
				t.Fatalf("error %v is a %T, want a *DiscoveryError", err, err)
			}
			if de.Field != "" && !knownMember(de.Field) {
				t.Fatalf("error names %q, which is no member of Metadata", de.Field)
			}
			if strings.Contains(de.Error(), "SECRET-VALUE") && de.Field != "issuer" {
				t.Fatalf("error %q quotes a value", de.Error())
			}
			return
		}
		if m.Issuer != issuer {
			t.Fatalf("accepted issuer %q, asked for %q", m.Issuer, issuer)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			t.Fatalf("accepted a body encoding/json refuses: %v", err)
		}
		for _, mb := range metadataMembers {
			raw, ok := obj[mb.name]
			field := reflect.ValueOf(mb.dst(m)).Elem()
			if !ok || string(raw) == "null" {
				if !field.IsZero() {
					t.Fatalf("%s absent but the field holds %v", mb.name, field)
				}
				continue
			}
			want := reflect.New(field.Type())
			if err := json.Unmarshal(raw, want.Interface()); err != nil {
				t.Fatalf("%s: accepted a value encoding/json refuses: %v", mb.name, err)
			}
			if !reflect.DeepEqual(want.Elem().Interface(), field.Interface()) {
				t.Fatalf("%s = %#v, want %#v", mb.name, field, want.Elem())
			}
		}
		fields := m.Fields()
		for name := range obj {
			if knownMember(name) {
				if m.Extra(name) != nil {
					t.Fatalf("Extra(%q) is not nil for a member a field holds", name)
				}
				continue
			}
			if _, ok := fields[name]; !ok {
				t.Fatalf("member %q is not in Fields", name)
			}
		}
		if len(fields) != len(obj)-countKnown(obj) {
			t.Fatalf("Fields has %d members, the body %d others", len(fields), len(obj)-countKnown(obj))
		}
	})
}

func knownMember(name string) bool {
	for _, mb := range metadataMembers {
		if mb.name == name {
			return true
		}
	}
	return false
}

func countKnown(obj map[string]json.RawMessage) int {
	n := 0
	for name := range obj {
		if knownMember(name) {
			n++
		}
	}
	return n
}
