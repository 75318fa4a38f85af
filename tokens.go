package refresh

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Tokens is a successful token response (RFC 6749 §5.1). Its String, Format
// and LogValue never show a token: print and log it freely. Marshalling
// it with encoding/json, on the other hand, writes the tokens: that is for
// storage, and a slog JSON handler given Tokens inside another value (a slice, a
// struct) marshals them that way too, so log the Tokens value itself.
//
// Its JSON encoding (MarshalJSON, UnmarshalJSON) is the storage format: what a
// [Store] persists, stable across versions of this package. It is one object:
//
//	{"access_token":"…", "token_type":"Bearer", "refresh_token":"…",
//	 "expires_at":"2025-03-14T16:09:26.5Z", "refresh_token_expires_at":"…",
//	 "scope":"openid email", "id_token":"…", "issued_at":"2025-03-14T15:09:26Z",
//	 "extra":{"instance_url":"https://…"}}
//
// Times are RFC 3339 with nanoseconds. Empty strings, zero times and nil Scopes
// are left out; Scopes empty but not nil is "scope":"". Scopes are joined with
// spaces and split on spaces. "extra" holds the response's other fields (see
// [Tokens.Fields]) as JSON values, a form body's as strings. Decoding ignores
// members it does not know, and fails on a member of the wrong type with an
// error that names the member but never shows a value.
type Tokens struct {
	// AccessToken is the new access token; never empty in a parsed response.
	AccessToken string
	// TokenType is the token type as the server sent it: "Bearer", "bearer",
	// "DPoP", ... (compare with strings.EqualFold).
	TokenType string
	// RefreshToken is the new refresh token, or empty when the server issued none;
	// then the refresh token just used stays valid (RFC 6749 §6).
	RefreshToken string
	// ExpiresAt is when the access token expires: IssuedAt plus expires_in. Zero
	// when the server sent no lifetime (or 0), which means unknown, not expired.
	ExpiresAt time.Time
	// RefreshTokenExpiresAt is when the refresh token expires, from
	// refresh_token_expires_in (GitHub) or refresh_expires_in (Keycloak). Zero
	// when absent or 0.
	RefreshTokenExpiresAt time.Time
	// Scopes is the granted scope, split on spaces (and on commas, which GitHub
	// and Facebook use), or taken from a JSON array (Twitch). Nil when the server
	// sent no scope, which means the scope asked for (RFC 6749 §5.1); empty but
	// not nil when it sent an empty one.
	Scopes []string
	// IDToken is the OpenID Connect ID token, if any. It is not validated here.
	IDToken string
	// IssuedAt is the client's clock when the request was built, before it was
	// sent: lifetimes count from here, so that network delay errs on the early
	// side.
	IssuedAt time.Time

	// extra holds the response's other fields, for Extra, Fields and the
	// storage encoding; nil when there are none.
	extra map[string]rawJSON
}

// Lifetime returns the access token's lifetime as the server granted it
// (expires_in), or 0 when unknown.
func (t *Tokens) Lifetime() time.Duration {
	if t.ExpiresAt.IsZero() || t.IssuedAt.IsZero() {
		return 0
	}
	return t.ExpiresAt.Sub(t.IssuedAt)
}

// Extra returns a response field that no member of Tokens holds, decoded: for a
// JSON body a string, json.Number, bool, nil, []any or map[string]any; for a form
// body a string. Salesforce's instance_url and Entra's expires_on are such
// fields. The fields that the members hold (access_token, token_type,
// refresh_token, expires_in, refresh_token_expires_in, refresh_expires_in, scope,
// id_token) belong to the members: Extra returns nil for them, as for a field
// that is absent. It answers the same after a round trip through the storage
// encoding.
func (t *Tokens) Extra(name string) any {
	raw, ok := t.extra[name]
	if !ok {
		return nil
	}
	return decodeAny(raw)
}

// Fields returns every field that Extra returns, decoded as by Extra, in a new
// map; nil when there are none (as for Tokens built by hand).
func (t *Tokens) Fields() map[string]any { return decodeAll(t.extra) }

// decodeAll decodes every value of raw as decodeAny does, into a new map; nil
// when raw is empty. [Metadata.Fields] uses it too.
func decodeAll(raw map[string]rawJSON) map[string]any {
	if len(raw) == 0 {
		return nil
	}
	m := make(map[string]any, len(raw))
	for name, v := range raw {
		m[name] = decodeAny(v)
	}
	return m
}

// rawJSON is one JSON value as the server sent it. It is a string, not a
// json.RawMessage, so that the parser can take the strings in it without a
// copy.
type rawJSON string

// UnmarshalJSON keeps a copy of data.
func (r *rawJSON) UnmarshalJSON(data []byte) error {
	*r = rawJSON(data)
	return nil
}

// MarshalJSON writes r as it is.
func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func decodeAny(raw rawJSON) any {
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	return v
}

// storedTokens is the storage encoding of Tokens, for MarshalJSON.
type storedTokens struct {
	AccessToken           string             `json:"access_token,omitempty"`
	TokenType             string             `json:"token_type,omitempty"`
	RefreshToken          string             `json:"refresh_token,omitempty"`
	ExpiresAt             time.Time          `json:"expires_at,omitzero"`
	RefreshTokenExpiresAt time.Time          `json:"refresh_token_expires_at,omitzero"`
	Scope                 *string            `json:"scope,omitempty"`
	IDToken               string             `json:"id_token,omitempty"`
	IssuedAt              time.Time          `json:"issued_at,omitzero"`
	Extra                 map[string]rawJSON `json:"extra,omitempty"`
}

// MarshalJSON writes t in the storage encoding described on [Tokens]. The
// result holds the tokens.
func (t Tokens) MarshalJSON() ([]byte, error) {
	s := storedTokens{
		AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken,
		ExpiresAt: t.ExpiresAt, RefreshTokenExpiresAt: t.RefreshTokenExpiresAt,
		IDToken: t.IDToken, IssuedAt: t.IssuedAt, Extra: t.extra,
	}
	if t.Scopes != nil {
		scope := strings.Join(t.Scopes, " ")
		s.Scope = &scope
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads the storage encoding described on [Tokens] into t,
// replacing all of it; JSON null leaves t as it is. Its errors name the member
// at fault and never show a value.
func (t *Tokens) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return errors.New("refresh: stored Tokens: not a JSON object")
	}
	if m == nil { // null
		return nil
	}
	var n Tokens
	var scope *string
	for _, mb := range [...]struct {
		name string
		dst  any
		want string
	}{
		{"access_token", &n.AccessToken, "a string"},
		{"token_type", &n.TokenType, "a string"},
		{"refresh_token", &n.RefreshToken, "a string"},
		{"expires_at", &n.ExpiresAt, "an RFC 3339 time"},
		{"refresh_token_expires_at", &n.RefreshTokenExpiresAt, "an RFC 3339 time"},
		{"scope", &scope, "a string"},
		{"id_token", &n.IDToken, "a string"},
		{"issued_at", &n.IssuedAt, "an RFC 3339 time"},
		{"extra", &n.extra, "an object"},
	} {
		raw, ok := m[mb.name]
		if !ok || string(raw) == "null" {
			continue
		}
		if json.Unmarshal(raw, mb.dst) != nil {
			return fmt.Errorf("refresh: stored Tokens: member %q is not %s", mb.name, mb.want)
		}
	}
	if scope != nil {
		n.Scopes = strings.FieldsFunc(*scope, func(r rune) bool { return r == ' ' })
		if n.Scopes == nil {
			n.Scopes = []string{}
		}
	}
	for name := range n.extra {
		if namedField(name) {
			delete(n.extra, name) // the members hold these
		}
	}
	if len(n.extra) == 0 {
		n.extra = nil
	}
	*t = n
	return nil
}

// describe gives the type, expiry and scopes, and for each token only whether
// it is there.
func (t Tokens) describe() (string, []printField) {
	return "refresh.Tokens", printFields{
		{"AccessToken", secretOf(t.AccessToken)},
		{"TokenType", t.TokenType},
		{"RefreshToken", secretOf(t.RefreshToken)},
	}.
		with(!t.ExpiresAt.IsZero(), "ExpiresAt", t.ExpiresAt).
		with(!t.RefreshTokenExpiresAt.IsZero(), "RefreshTokenExpiresAt", t.RefreshTokenExpiresAt).
		with(t.Scopes != nil, "Scopes", t.Scopes).
		with(t.IDToken != "", "IDToken", secret(true))
}

// String describes t without any token: the type, expiry and scopes, and for each
// token only whether it is there.
func (t Tokens) String() string { return render(t) }

// Format writes String for every verb (%q quotes it), so that no verb prints a
// token. The exception is fmt's own: it never calls Format for %p, and %p of a
// Tokens value (not a *Tokens) prints the raw fields; use %p on pointers only.
func (t Tokens) Format(f fmt.State, verb rune) { formatText(f, verb, t.String()) }

// LogValue gives slog what String shows, as a group.
func (t Tokens) LogValue() slog.Value { return logValue(t) }
