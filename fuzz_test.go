package refresh_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tokenrefresh/refresh"
)

func FuzzParseResponse(f *testing.F) {
	seeds := []struct {
		status      int
		contentType string
		body        string
	}{
		{200, "application/json", `{"access_token":"AT-SECRET-F001","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-SECRET-F001","scope":"a b"}`},
		{200, "application/x-www-form-urlencoded", "access_token=AT-SECRET-F002&token_type=bearer&expires_in=28800&scope=repo%2Cgist"},
		{200, "text/plain", "access_token=AT-SECRET-F003&scope=&token_type=bearer&refresh_token_expires_in=15811200"},
		{200, "application/json", `{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired."}`},
		{200, "text/plain", "error=bad_refresh_token&error_description=expired"},
		{400, "application/json", `{"error":"invalid_grant","error_uri":"https://x/errors"}`},
		{502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"},
		{200, "application/json", `{"access_token":"AT-SECRET-F004","token_type":"Bea`},
		{200, "", `{"access_token":"AT-SECRET-F005","token_type":"Bearer","expires_in":"3599","expires_on":"1741968165","not_before":"1741964266"}`},
		{200, "application/json", `{"access_token":"AT-SECRET-F006","token_type":"bearer","scope":["chat:read","user:read:email"],"expires_in":14124}`},
		{200, "application/json", `[{"access_token":"AT-SECRET-F007"}]`},
		{200, "application/json", `"AT-SECRET-F008"`},
		{200, "application/json", `{"access_token":"AT-SECRET-F009","token_type":"Bearer","expires_in":3599.5,"refresh_expires_in":0}`},
		{200, "application/json", `{"access_token":"AT-SECRET-F010","token_type":"Bearer","expires_in":-1}`},
		{200, "application/json", `{"access_token":"AT-SECRET-F011","token_type":"Bearer","expires_in":1e300,"scope":null}`},
		{200, "application/json", `{"access\u005ftoken":"AT-SECRET-F012","token_type":"DPoP","access_token":"AT-SECRET-F013"}`},
		{302, "", ""},
		{204, "", ""},
		{200, "application/json", `{"access_token":"AT-SECRET-F014","token_type":"Bearer","instance_url":"https://na1.salesforce.com","issued_at":"1278448384422","meta":{"a":[1,{"b":null}]}}`},
		{200, "application/json", `{"access_token":12345678,"token_type":"Bearer","expires_in":"NaN"}`},
		{200, "application/x-www-form-urlencoded", "access_token=AT-SECRET-F015&token_type=b&x=%zz"},
		{500, "application/json", `{"error":42}`},
		{200, "application/json", `{"error":"","access_token":"AT-SECRET-F016","token_type":"Bearer","expires_in":"9223372036"}`},
	}
	for _, s := range seeds {
		f.Add(s.status, s.contentType, []byte(s.body))
	}

	clock := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	c := &refresh.Client{TokenURL: "https://as.example.com/token", Now: func() time.Time { return clock }}
	parseWith := func(status int, contentType string, body []byte, length int64) (*refresh.Tokens, error) {
		resp := &http.Response{
			StatusCode:    status,
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: length,
		}
		if contentType != "" {
			resp.Header.Set("Content-Type", contentType)
		}
		return c.ParseResponse(resp)
	}

	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		tok, err := parseWith(status, contentType, body, int64(len(body)))

		// Exactly one of tokens and error.
		if (tok == nil) == (err == nil) {
			t.Fatalf("ParseResponse returned tokens %v and error %v: want exactly one", tok, err)
		}

		// A known and an unknown Content-Length read the same body the same way.
		tok2, err2 := parseWith(status, contentType, body, -1)
		if diff := cmp.Diff(tok, tok2, cmpopts.IgnoreUnexported(refresh.Tokens{})); diff != "" {
			t.Errorf("tokens differ between a known and an unknown Content-Length (-known +unknown):\n%s", diff)
		}
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Errorf("errors differ between a known and an unknown Content-Length: %v / %v", err, err2)
		}

		if err == nil {
			if tok.AccessToken == "" || tok.TokenType == "" {
				t.Errorf("tokens with AccessToken %q and TokenType %q: both must be non-empty", tok.AccessToken, tok.TokenType)
			}
			if !tok.IssuedAt.Equal(clock) {
				t.Errorf("IssuedAt = %v, want the client's clock %v", tok.IssuedAt, clock)
			}
			if !tok.ExpiresAt.IsZero() && tok.ExpiresAt.Before(tok.IssuedAt) {
				t.Errorf("ExpiresAt %v is before IssuedAt %v", tok.ExpiresAt, tok.IssuedAt)
			}
			if !tok.RefreshTokenExpiresAt.IsZero() && tok.RefreshTokenExpiresAt.Before(tok.IssuedAt) {
				t.Errorf("RefreshTokenExpiresAt %v is before IssuedAt %v", tok.RefreshTokenExpiresAt, tok.IssuedAt)
			}
			// The fields the members hold are not extras.
			for _, name := range namedFields {
				if got := tok.Extra(name); got != nil {
					t.Errorf("Extra(%q) = %#v, want nil: a member holds it", name, got)
				}
			}
			checkStorageRoundTrip(t, tok)
			return
		}

		var oe *refresh.OAuthError
		var re *refresh.ResponseError
		switch {
		case errors.As(err, &oe):
			if oe.Code == "" {
				t.Errorf("OAuthError with an empty code: %v", err)
			}
		case errors.As(err, &re):
			if re.Reason == "" {
				t.Errorf("ResponseError without a reason: %v", err)
			}
		default:
			t.Fatalf("error %T (%v) is neither *OAuthError nor *ResponseError", err, err)
		}

		// The access token of a JSON body never shows in the error text, unless
		// the input also holds it elsewhere (in another field or the Content-Type).
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if !json.Valid(body) || d.Decode(&m) != nil {
			return
		}
		token, ok := m["access_token"].(string)
		if !ok || len(token) < 8 || strings.Contains(contentType, token) {
			return
		}
		delete(m, "access_token")
		if holds(m, token) {
			return
		}
		if text := err.Error(); strings.Contains(text, token) {
			t.Errorf("error text shows the access token %q: %s", token, text)
		}
	})
}

// namedFields are the response fields that members of Tokens hold.
var namedFields = []string{"access_token", "token_type", "refresh_token", "expires_in",
	"refresh_token_expires_in", "refresh_expires_in", "scope", "id_token"}

// checkStorageRoundTrip checks that the storage encoding of tok decodes to tok
// again, its extras included. The parser refuses a member that is not UTF-8, so
// every member must come back as it was, except scopes holding a space or an
// empty scope (possible from a JSON array), which the space-joined encoding
// cannot keep apart: those are left out of the comparison.
func checkStorageRoundTrip(t *testing.T, tok *refresh.Tokens) {
	t.Helper()
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatalf("json.Marshal(%v): %v", tok, err)
	}
	var back refresh.Tokens
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("json.Unmarshal of the storage encoding: %v", err)
	}
	want := *tok
	if slices.ContainsFunc(want.Scopes, func(s string) bool { return s == "" || strings.Contains(s, " ") }) {
		want.Scopes = back.Scopes
	}
	if diff := cmp.Diff(&want, &back, cmpopts.IgnoreUnexported(refresh.Tokens{})); diff != "" {
		t.Errorf("storage round trip changed the tokens (-before +after):\n%s", diff)
	}
	// Compared as JSON, which turns invalid UTF-8 (a form body's names and
	// values may hold it) into U+FFFD on both sides, as the encoding does.
	asJSON := func(m map[string]any) any {
		b, _ := json.Marshal(m)
		var v any
		_ = json.Unmarshal(b, &v)
		return v
	}
	if diff := cmp.Diff(asJSON(tok.Fields()), asJSON(back.Fields())); diff != "" {
		t.Errorf("storage round trip changed Fields (-before +after):\n%s", diff)
	}
}

// holds reports whether a decoded JSON value holds s in a key or a scalar.
func holds(v any, s string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if strings.Contains(k, s) || holds(e, s) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if holds(e, s) {
				return true
			}
		}
	case string:
		return strings.Contains(v, s)
	case json.Number:
		return strings.Contains(string(v), s)
	}
	return false
}
