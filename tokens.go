package refresh

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/tokenrefresh/refresh/internal/wire"
)

// Tokens is a successful token response (RFC 6749 §5.1). Its String, Format,
// GoString and LogValue never show a token: print and log it freely. Marshalling
// it with encoding/json, on the other hand, writes the tokens: that is for
// storage, and a slog JSON handler given Tokens inside another value (a slice, a
// struct) marshals them that way too, so log the Tokens value itself.
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

	raw    string // the response body, for Extra and Fields
	isForm bool   // raw is form-encoded rather than JSON
}

// Lifetime returns the access token's lifetime as the server granted it
// (expires_in), or 0 when unknown.
func (t *Tokens) Lifetime() time.Duration {
	if t.ExpiresAt.IsZero() || t.IssuedAt.IsZero() {
		return 0
	}
	return t.ExpiresAt.Sub(t.IssuedAt)
}

// Extra returns the response field name as the server sent it, decoded: for a
// JSON body a string, json.Number, bool, nil, []any or map[string]any; for a form
// body a string. It returns nil when the field is absent, and works for every
// field, known or not (Salesforce's instance_url, Entra's expires_on).
func (t *Tokens) Extra(name string) any {
	if t.isForm {
		v, err := url.ParseQuery(t.raw)
		if err != nil || !v.Has(name) {
			return nil
		}
		return v.Get(name)
	}
	obj, ok := wire.NewObject(t.raw)
	if !ok {
		return nil
	}
	var found string
	for k, v, ok := obj.Next(); ok; k, v, ok = obj.Next() {
		if wire.Key(k) == name {
			found = v // the last one wins, as in encoding/json
		}
	}
	if found == "" {
		return nil
	}
	return decodeAny(found)
}

// Fields returns every field of the response, decoded as by Extra. It returns
// nil for Tokens that were not parsed from a response.
func (t *Tokens) Fields() map[string]any {
	if t.raw == "" {
		return nil
	}
	m := map[string]any{}
	if t.isForm {
		v, _ := url.ParseQuery(t.raw)
		for k := range v {
			m[k] = v.Get(k)
		}
		return m
	}
	obj, _ := wire.NewObject(t.raw)
	for k, v, ok := obj.Next(); ok; k, v, ok = obj.Next() {
		m[wire.Key(k)] = decodeAny(v)
	}
	return m
}

func decodeAny(raw string) any {
	d := json.NewDecoder(strings.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	return v
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
