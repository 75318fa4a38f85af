package refresh_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tokenrefresh/refresh"
)

var update = flag.Bool("update", false, "rewrite testdata/tokens.golden.json")

// goldenBody is a token response with every member and some extras.
const goldenBody = `{"access_token":"AT-SECRET-GOLD","token_type":"Bearer","refresh_token":"RT-SECRET-GOLD",` +
	`"expires_in":3599.5,"refresh_token_expires_in":86400,"scope":"openid email","id_token":"eyJhbGciOiJub25lIn0.e30.",` +
	`"instance_url":"https://na1.salesforce.com","expires_on":"1741968165","ratio":2.5,"nested":{"a":[true,null]}}`

// parsed parses a response body with the fixed clock, stopping the test on an error.
func parsed(t *testing.T, contentType, body string) *refresh.Tokens {
	t.Helper()
	tok, err := parse(t, 200, contentType, body)
	if err != nil {
		t.Fatalf("ParseResponse(%s): %v", body, err)
	}
	return tok
}

// roundTrip encodes tok in the storage encoding and decodes it again.
func roundTrip(t *testing.T, tok *refresh.Tokens) *refresh.Tokens {
	t.Helper()
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	var back refresh.Tokens
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", b, err)
	}
	return &back
}

// sameTokens compares Tokens by their members and by Fields.
func sameTokens(t *testing.T, want, got *refresh.Tokens) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(refresh.Tokens{})); diff != "" {
		t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
	}
	if (want.Scopes == nil) != (got.Scopes == nil) {
		t.Errorf("Scopes = %#v, want %#v", got.Scopes, want.Scopes)
	}
	if diff := cmp.Diff(want.Fields(), got.Fields()); diff != "" {
		t.Errorf("Fields mismatch (-want +got):\n%s", diff)
	}
}

func TestTokensStorageGolden(t *testing.T) {
	tok := parsed(t, "application/json", goldenBody)
	got, err := json.Marshal(tok)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "tokens.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestTokensStorageGolden -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the storage encoding changed; stored tokens would no longer read the same.\ngot:  %s\nwant: %s", got, want)
	}

	// What was stored reads back as the tokens it was made from.
	var back refresh.Tokens
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatalf("json.Unmarshal of the golden file: %v", err)
	}
	sameTokens(t, tok, &back)
}

func TestTokensStorageEncoding(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		tok  refresh.Tokens
		want string
	}{
		{"zero Tokens encode as an empty object", refresh.Tokens{}, `{}`},
		{
			"every member has its RFC 6749 name",
			refresh.Tokens{
				AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", IDToken: "idt",
				ExpiresAt: at(time.Hour), RefreshTokenExpiresAt: at(24 * time.Hour), IssuedAt: parseClock,
				Scopes: []string{"a", "b"},
			},
			`{"access_token":"at","token_type":"Bearer","refresh_token":"rt","expires_at":"2025-03-14T16:09:26Z",` +
				`"refresh_token_expires_at":"2025-03-15T15:09:26Z","scope":"a b","id_token":"idt","issued_at":"2025-03-14T15:09:26Z"}`,
		},
		{"empty strings and zero times are left out", refresh.Tokens{AccessToken: "at", ExpiresAt: time.Time{}}, `{"access_token":"at"}`},
		{"nil Scopes are left out", refresh.Tokens{AccessToken: "at", Scopes: nil}, `{"access_token":"at"}`},
		{"empty Scopes are an empty scope", refresh.Tokens{AccessToken: "at", Scopes: []string{}}, `{"access_token":"at","scope":""}`},
		{"times keep nanoseconds and their offset", refresh.Tokens{ExpiresAt: time.Date(2025, 3, 14, 16, 9, 26, 123456789, paris)}, `{"expires_at":"2025-03-14T16:09:26.123456789+01:00"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.tok)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("json.Marshal = %s\nwant           %s", got, tc.want)
			}
			// A pointer encodes the same.
			if p, _ := json.Marshal(&tc.tok); !bytes.Equal(p, got) {
				t.Errorf("json.Marshal of a *Tokens = %s, of a Tokens = %s", p, got)
			}
		})
	}
}

func TestTokensStorageRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		tok  *refresh.Tokens
	}{
		{"a JSON response keeps its extras", parsed(t, "application/json", goldenBody)},
		{"a form response keeps its extras as strings", parsed(t, "application/x-www-form-urlencoded", "access_token=AT-SECRET-F&token_type=bearer&expires=5183999&scope=a%2Cb&note=x+y")},
		{"a response without extras", parsed(t, "application/json", withAT(`"expires_in":60`))},
		{"hand-built Tokens with nil Scopes", &refresh.Tokens{AccessToken: "at", RefreshToken: "rt", IssuedAt: parseClock}},
		{"hand-built Tokens with empty Scopes", &refresh.Tokens{AccessToken: "at", Scopes: []string{}}},
		{"tokens with characters JSON escapes", &refresh.Tokens{AccessToken: "a<b>&\"c\"\\\u2028", TokenType: "Bearer"}},
		{"zero Tokens", &refresh.Tokens{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sameTokens(t, tc.tok, roundTrip(t, tc.tok))
		})
	}

	t.Run("Extra answers the same after a round trip", func(t *testing.T) {
		tok := parsed(t, "application/json", goldenBody)
		back := roundTrip(t, tok)
		for _, name := range []string{"instance_url", "ratio", "nested", "access_token", "scope", "absent"} {
			if diff := cmp.Diff(tok.Extra(name), back.Extra(name)); diff != "" {
				t.Errorf("Extra(%q) changed (-before +after):\n%s", name, diff)
			}
		}
		if got := back.Extra("ratio"); got != json.Number("2.5") {
			t.Errorf(`Extra("ratio") = %#v, want json.Number("2.5")`, got)
		}
	})
}

func TestTokensStorageDecoding(t *testing.T) {
	tests := []struct {
		name       string
		json       string
		want       refresh.Tokens
		wantFields map[string]any
	}{
		{"an empty scope gives empty but not nil Scopes", `{"scope":""}`, refresh.Tokens{Scopes: []string{}}, nil},
		{"scope is split on spaces only", `{"scope":"a  b,c "}`, refresh.Tokens{Scopes: []string{"a", "b,c"}}, nil},
		{"null members are absent", `{"access_token":null,"scope":null,"expires_at":null,"extra":null}`, refresh.Tokens{}, nil},
		{"unknown members are ignored", `{"access_token":"at","AccessToken":"other","version":2}`, refresh.Tokens{AccessToken: "at"}, nil},
		{
			"extras named like a member are dropped: the member holds that field",
			`{"access_token":"at","extra":{"access_token":"other","expires_in":60,"instance_url":"https://x"}}`,
			refresh.Tokens{AccessToken: "at"}, map[string]any{"instance_url": "https://x"},
		},
		{"an empty extra gives no Fields", `{"extra":{}}`, refresh.Tokens{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got refresh.Tokens
			if err := json.Unmarshal([]byte(tc.json), &got); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(refresh.Tokens{})); diff != "" {
				t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
			}
			if (got.Scopes == nil) != (tc.want.Scopes == nil) {
				t.Errorf("Scopes = %#v, want %#v", got.Scopes, tc.want.Scopes)
			}
			if diff := cmp.Diff(tc.wantFields, got.Fields()); diff != "" {
				t.Errorf("Fields mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("decoding replaces every member", func(t *testing.T) {
		tok := parsed(t, "application/json", goldenBody)
		if err := json.Unmarshal([]byte(`{"access_token":"at-2"}`), tok); err != nil {
			t.Fatalf("json.Unmarshal: %v", err)
		}
		sameTokens(t, &refresh.Tokens{AccessToken: "at-2"}, tok)
	})

	t.Run("null leaves the tokens as they are", func(t *testing.T) {
		tok := parsed(t, "application/json", goldenBody)
		if err := json.Unmarshal([]byte(`null`), tok); err != nil {
			t.Fatalf("json.Unmarshal: %v", err)
		}
		sameTokens(t, parsed(t, "application/json", goldenBody), tok)
	})
}

func TestTokensStorageDecodingErrors(t *testing.T) {
	const secret = "AT-SECRET-STORED"
	tests := []struct {
		name, json, member string
	}{
		{"a numeric access_token", `{"access_token":12345678901}`, "access_token"},
		{"an access_token object", `{"access_token":{"v":"` + secret + `"}}`, "access_token"},
		{"a token_type array", `{"token_type":["` + secret + `"]}`, "token_type"},
		{"a boolean refresh_token", `{"refresh_token":true}`, "refresh_token"},
		{"an id_token number", `{"id_token":1}`, "id_token"},
		{"an expires_at that is not RFC 3339", `{"expires_at":"` + secret + `"}`, "expires_at"},
		{"a numeric expires_at", `{"expires_at":1741968165}`, "expires_at"},
		{"a refresh_token_expires_at object", `{"refresh_token_expires_at":{}}`, "refresh_token_expires_at"},
		{"an issued_at that is not a time", `{"issued_at":"yesterday ` + secret + `"}`, "issued_at"},
		{"a scope array", `{"scope":["` + secret + `"]}`, "scope"},
		{"an extra that is not an object", `{"extra":"` + secret + `"}`, "extra"},
		{"a JSON array", `["` + secret + `"]`, ""},
		{"a string", `"` + secret + `"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name+" is an error that names the member and shows no value", func(t *testing.T) {
			tok := refresh.Tokens{AccessToken: "kept"}
			err := json.Unmarshal([]byte(tc.json), &tok)
			if err == nil {
				t.Fatalf("json.Unmarshal(%s) gave no error", tc.json)
			}
			text := err.Error()
			if tc.member != "" && !strings.Contains(text, `"`+tc.member+`"`) {
				t.Errorf("error %q does not name %q", text, tc.member)
			}
			for _, value := range []string{secret, "12345678901", "1741968165"} {
				if strings.Contains(text, value) {
					t.Errorf("error %q shows the value %q", text, value)
				}
			}
			if tok.AccessToken != "kept" {
				t.Errorf("a failed decoding changed the tokens: AccessToken = %q", tok.AccessToken)
			}
		})
	}
}

func FuzzTokensJSON(f *testing.F) {
	golden, _ := os.ReadFile(filepath.Join("testdata", "tokens.golden.json"))
	for _, s := range []string{
		string(golden), `{}`, `null`, `{"scope":""}`, `{"scope":" a  b "}`, `{"extra":{"n":1e400,"s":"\ud800"}}`,
		`{"expires_at":"2025-03-14T16:09:26.123456789+01:00"}`, `{"access_token":1}`, `[]`, `{"extra":{"scope":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tok refresh.Tokens
		if json.Unmarshal(data, &tok) != nil {
			return
		}
		// What decodes encodes, and decodes again to the same tokens.
		sameTokens(t, &tok, roundTrip(t, &tok))
	})
}

func TestTokensLifetime(t *testing.T) {
	tests := []struct {
		name string
		tok  *refresh.Tokens
		want time.Duration
	}{
		{"a token with both times has their difference", &refresh.Tokens{IssuedAt: parseClock, ExpiresAt: at(time.Hour)}, time.Hour},
		{"a token without an expiry has lifetime 0", &refresh.Tokens{IssuedAt: parseClock}, 0},
		{"a token without an issue time has lifetime 0", &refresh.Tokens{ExpiresAt: at(time.Hour)}, 0},
		{"a parsed fractional expires_in is the lifetime", parsed(t, "application/json", withAT(`"expires_in":90.25`)), 90250 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tok.Lifetime(); got != tc.want {
				t.Errorf("Lifetime() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTokensExtraAndFields(t *testing.T) {
	t.Run("Extra and Fields of hand-built Tokens are nil", func(t *testing.T) {
		tok := &refresh.Tokens{AccessToken: "AT-SECRET-HAND", TokenType: "Bearer"}
		if v := tok.Extra("access_token"); v != nil {
			t.Errorf("Extra(access_token) = %#v, want nil", v)
		}
		if m := tok.Fields(); m != nil {
			t.Errorf("Fields() = %#v, want nil", m)
		}
	})

	t.Run("Fields of a JSON response decodes every other member, the last duplicate winning", func(t *testing.T) {
		got := parsed(t, "application/json",
			`{"access_token":"AT-SECRET-F1","token_type":"Bearer","expires_in":3600,"n":1,"n":2,"nested":{"a":[true,null]},"expires\u005fon":"1741968165"}`)
		want := map[string]any{
			"n":          json.Number("2"),
			"nested":     map[string]any{"a": []any{true, nil}},
			"expires_on": "1741968165",
		}
		if diff := cmp.Diff(want, got.Fields()); diff != "" {
			t.Errorf("Fields() mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Fields of a form response holds strings", func(t *testing.T) {
		got := parsed(t, "application/x-www-form-urlencoded", "access_token=AT-SECRET-F2&token_type=bearer&expires=5183999")
		if diff := cmp.Diff(map[string]any{"expires": "5183999"}, got.Fields()); diff != "" {
			t.Errorf("Fields() mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Fields returns a new map each time", func(t *testing.T) {
		got := parsed(t, "application/json", withAT(`"nested":{"a":1}`))
		got.Fields()["nested"].(map[string]any)["a"] = "changed"
		if diff := cmp.Diff(map[string]any{"a": json.Number("1")}, got.Extra("nested")); diff != "" {
			t.Errorf("a change to what Fields returned reached the Tokens (-want +got):\n%s", diff)
		}
	})

	t.Run("Extra finds an escaped key by its decoded name only", func(t *testing.T) {
		got := parsed(t, "application/json", withAT(`"a\u005fb":1`))
		if diff := cmp.Diff(any(json.Number("1")), got.Extra("a_b")); diff != "" {
			t.Errorf("Extra(a_b) mismatch (-want +got):\n%s", diff)
		}
		if v := got.Extra(`a\u005fb`); v != nil {
			t.Errorf(`Extra("a\\u005fb") = %#v, want nil: no field has that name`, v)
		}
	})
}
