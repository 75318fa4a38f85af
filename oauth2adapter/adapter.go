package oauth2adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tokenrefresh/refresh"
	"golang.org/x/oauth2"
)

// ErrAuthStyleAutoDetect is wrapped by the [*refresh.ConfigError] that [Auth],
// [Client] and [NewSource] return for an [oauth2.Config] whose
// Endpoint.AuthStyle is [oauth2.AuthStyleAutoDetect] (the zero value) and whose
// client has a secret. x/oauth2 detects the style by posting the refresh token
// once with Basic credentials and, after any failure, once more in the body; a
// server that rotates refresh tokens may take the second post as reuse of a
// spent token and revoke the grant (RFC 9700 §4.14.2). Set Endpoint.AuthStyle to
// [oauth2.AuthStyleInHeader] or [oauth2.AuthStyleInParams].
var ErrAuthStyleAutoDetect = errors.New("oauth2adapter: AuthStyleAutoDetect has no equivalent")

// Auth returns the client authentication that conf describes:
//
//   - no ClientID and no ClientSecret: nil, which sends no client authentication;
//   - a ClientID without a ClientSecret: [refresh.PublicClient], which sends
//     client_id in the body, whatever the AuthStyle (x/oauth2 would send Basic
//     credentials with an empty password for AuthStyleInHeader);
//   - [oauth2.AuthStyleInHeader]: [refresh.ClientSecretBasic], which sends the
//     same Authorization header as x/oauth2 (see the package doc);
//   - [oauth2.AuthStyleInParams]: [refresh.ClientSecretPost];
//   - [oauth2.AuthStyleAutoDetect]: a [*refresh.ConfigError] wrapping
//     [ErrAuthStyleAutoDetect].
//
// Any other AuthStyle, a ClientSecret without a ClientID and a nil conf are
// [*refresh.ConfigError]s too. No error shows the secret.
func Auth(conf *oauth2.Config) (refresh.Auth, error) {
	switch {
	case conf == nil:
		return nil, &refresh.ConfigError{Field: "oauth2.Config", Reason: "nil"}
	case conf.ClientID == "" && conf.ClientSecret == "":
		return nil, nil
	case conf.ClientID == "":
		return nil, &refresh.ConfigError{Field: "oauth2.Config.ClientID", Reason: "empty, but ClientSecret is set"}
	case conf.ClientSecret == "":
		return refresh.PublicClient(conf.ClientID), nil
	}
	switch style := conf.Endpoint.AuthStyle; style {
	case oauth2.AuthStyleInHeader:
		return refresh.ClientSecretBasic(conf.ClientID, conf.ClientSecret), nil
	case oauth2.AuthStyleInParams:
		return refresh.ClientSecretPost(conf.ClientID, conf.ClientSecret), nil
	case oauth2.AuthStyleAutoDetect:
		return nil, &refresh.ConfigError{
			Field: "oauth2.Endpoint.AuthStyle",
			Reason: "AuthStyleAutoDetect has no equivalent: it posts the refresh token a second time after a failure, " +
				"which a server that rotates refresh tokens may take as reuse and revoke the grant (RFC 9700 §4.14.2); " +
				"set AuthStyleInHeader or AuthStyleInParams",
			Err: ErrAuthStyleAutoDetect,
		}
	default:
		return nil, &refresh.ConfigError{Field: "oauth2.Endpoint.AuthStyle", Reason: fmt.Sprintf("unknown value %d", int(style))}
	}
}

// Client returns a [refresh.Client] for conf's token endpoint
// (conf.Endpoint.TokenURL) with the client authentication of [Auth]. Its
// HTTPClient is nil, which means a client with [refresh.DefaultTimeout]; set
// it to your own *http.Client (x/oauth2 took that from a context value). The
// errors are those of Auth, or a [*refresh.ConfigError] for an empty TokenURL.
func Client(conf *oauth2.Config) (*refresh.Client, error) {
	a, err := Auth(conf)
	if err != nil {
		return nil, err
	}
	if conf.Endpoint.TokenURL == "" {
		return nil, &refresh.ConfigError{Field: "oauth2.Endpoint.TokenURL", Reason: "empty"}
	}
	return &refresh.Client{TokenURL: conf.Endpoint.TokenURL, Auth: a}, nil
}

// NewSource returns a [refresh.Source] that starts from tok (converted by
// [FromToken]) and refreshes it at conf's token endpoint through [Client], with
// the given Source options (a Store, a logger, a leeway). A nil tok with
// [refresh.WithStore] loads the tokens from the Store on first use. For an
// HTTP client of your own, call Client, set its HTTPClient, and then
// [refresh.NewSource].
//
// It makes no request: the errors are those of [Client], and refresh errors
// come from [refresh.Source.Token].
func NewSource(conf *oauth2.Config, tok *oauth2.Token, opts ...refresh.SourceOption) (*refresh.Source, error) {
	c, err := Client(conf)
	if err != nil {
		return nil, err
	}
	return refresh.NewSource(c, FromToken(tok), opts...), nil
}

// FromToken converts an x/oauth2 token to [refresh.Tokens]: AccessToken,
// TokenType and RefreshToken as they are; Expiry as ExpiresAt (zero stays zero:
// unknown, used until a resource server rejects it); the id_token extra as
// IDToken; the scope extra (a string, or an array of strings) as Scopes.
//
// When tok has both Expiry and ExpiresIn (x/oauth2 sets both on tokens it
// receives), IssuedAt is Expiry minus ExpiresIn, so that Tokens.Lifetime is
// the lifetime the server granted; then a refresh_token_expires_in (GitHub) or
// refresh_expires_in (Keycloak) extra gives RefreshTokenExpiresAt. Without
// that base time they stay zero.
//
// FromToken writes these fields in the storage encoding of [refresh.Tokens]
// (its MarshalJSON) and decodes that, so the result is what a Store would
// load. x/oauth2 gives no way to list a token's other extras, so they are not
// carried over: the Source's first refresh brings a response of its own. A nil
// tok gives nil.
func FromToken(tok *oauth2.Token) *refresh.Tokens {
	if tok == nil {
		return nil
	}
	stored := storedTokens{
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		RefreshToken: tok.RefreshToken,
		ExpiresAt:    tok.Expiry,
	}
	if d, ok := seconds(tok.ExpiresIn); ok && d > 0 && !tok.Expiry.IsZero() {
		stored.IssuedAt = tok.Expiry.Add(-d)
		for _, name := range [...]string{"refresh_token_expires_in", "refresh_expires_in"} {
			if d, ok := seconds(tok.Extra(name)); ok {
				if d > 0 {
					stored.RefreshTokenExpiresAt = stored.IssuedAt.Add(d)
				}
				break
			}
		}
	}
	if s, ok := tok.Extra("id_token").(string); ok {
		stored.IDToken = s
	}
	switch v := tok.Extra("scope").(type) {
	case string:
		// The storage encoding splits on spaces only; GitHub, through
		// x/oauth2, separates scopes with commas, which refresh splits too.
		s := strings.ReplaceAll(v, ",", " ")
		stored.Scope = &s
	case []any:
		var list []string
		for _, s := range v {
			if s, ok := s.(string); ok {
				list = append(list, s)
			}
		}
		s := strings.Join(list, " ")
		stored.Scope = &s
	}
	b, err := json.Marshal(stored)
	if err == nil {
		t := new(refresh.Tokens)
		if err = json.Unmarshal(b, t); err == nil {
			return t
		}
	}
	panic("oauth2adapter: refresh.Tokens refused its own storage encoding: " + err.Error())
}

// storedTokens is the storage encoding of refresh.Tokens, as FromToken fills it.
type storedTokens struct {
	AccessToken           string    `json:"access_token"`
	TokenType             string    `json:"token_type,omitempty"`
	RefreshToken          string    `json:"refresh_token,omitempty"`
	ExpiresAt             time.Time `json:"expires_at,omitzero"`
	RefreshTokenExpiresAt time.Time `json:"refresh_token_expires_at,omitzero"`
	Scope                 *string   `json:"scope,omitempty"` // nil: no scope; "": an empty one
	IDToken               string    `json:"id_token,omitempty"`
	IssuedAt              time.Time `json:"issued_at,omitzero"`
}

// seconds reads a lifetime in seconds as x/oauth2 hands it out: ExpiresIn's
// int64, or an extra's float64 (JSON), int64 or float64 (form) or numeric
// string (Entra, PayPal). Negative, overflowing and non-numeric values are not
// lifetimes.
func seconds(v any) (time.Duration, bool) {
	var x float64
	switch v := v.(type) {
	case int64:
		x = float64(v)
	case float64:
		x = v
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, false
		}
		x = f
	default:
		return 0, false
	}
	// ParseDuration reports the overflow that a conversion would hide, and
	// refuses NaN and the infinities.
	d, err := time.ParseDuration(strconv.FormatFloat(x, 'f', -1, 64) + "s")
	return d, err == nil && d >= 0
}

// ToToken converts [refresh.Tokens] to an x/oauth2 token: AccessToken,
// TokenType (as the server sent it; oauth2.Token.Type turns any spelling of
// bearer, and a missing type, into "Bearer") and RefreshToken as they are;
// ExpiresAt as Expiry (zero stays zero, which x/oauth2 also reads as "never
// expires"); and ExpiresIn as x/oauth2 defines it, the expires_in the server
// sent (Tokens.Lifetime in whole seconds), not the time left now, or 0 when
// unknown.
//
// The response's other fields ([refresh.Tokens.Fields]) are reachable through
// oauth2.Token.Extra as x/oauth2 would give them for a JSON response: numbers
// as float64, objects as map[string]any, arrays as []any; fields of a
// form-encoded response are strings (x/oauth2 would parse numbers out of
// them). The fields Tokens holds as members come back from the members:
// access_token, token_type, refresh_token and id_token as strings, expires_in
// and refresh_token_expires_in as float64 seconds, scope joined with spaces.
// A nil t gives nil.
func ToToken(t *refresh.Tokens) *oauth2.Token {
	if t == nil {
		return nil
	}
	tok := &oauth2.Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       t.ExpiresAt,
	}
	if life := t.Lifetime(); life > 0 {
		tok.ExpiresIn = max(int64(life/time.Second), 1) // a lifetime under 1 s is not "unknown"
	}
	fields := t.Fields()
	extra := make(map[string]any, len(fields)+6)
	for k, v := range fields {
		extra[k] = plain(v)
	}
	// The fields Tokens holds as members, as a JSON response would give them.
	for k, v := range map[string]string{"access_token": t.AccessToken, "token_type": t.TokenType,
		"refresh_token": t.RefreshToken, "id_token": t.IDToken} {
		if v != "" {
			extra[k] = v
		}
	}
	if tok.ExpiresIn > 0 {
		extra["expires_in"] = float64(tok.ExpiresIn)
	}
	if !t.RefreshTokenExpiresAt.IsZero() && !t.IssuedAt.IsZero() {
		extra["refresh_token_expires_in"] = float64(int64(t.RefreshTokenExpiresAt.Sub(t.IssuedAt) / time.Second))
	}
	if t.Scopes != nil {
		extra["scope"] = strings.Join(t.Scopes, " ")
	}
	return tok.WithExtra(extra)
}

// plain turns the json.Numbers of a value decoded by Tokens.Extra into the
// float64s that encoding/json gives by default, which x/oauth2 hands out. A
// number float64 cannot hold stays a json.Number.
func plain(v any) any {
	switch v := v.(type) {
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v
	case []any:
		for i := range v {
			v[i] = plain(v[i])
		}
		return v
	case map[string]any:
		for k := range v {
			v[k] = plain(v[k])
		}
		return v
	}
	return v
}

// TokenSource returns an [oauth2.TokenSource] whose Token calls s.Token and
// converts the result with [ToToken]. Every Token call gets the Source's
// cached token without a request while it is valid, and the Source refreshes
// it as it always does: one request for all callers, ahead of expiry, rotated
// refresh tokens saved to its Store.
//
// Why a ctx here: oauth2.TokenSource.Token takes no context, so this is the
// only place to give one. ctx bounds how long each Token call waits for a
// refresh, and its values (trace IDs) reach the Source's logger. It never
// bounds the refresh itself, which runs on the Source's own context limited by
// [refresh.WithRefreshTimeout], so cancelling ctx does not break the Source
// for its other users. Once ctx is done, a Token call that must wait for a
// refresh fails with ctx's error, wrapped, while a valid cached token is still
// returned. So pass the lifetime of whatever owns the TokenSource (a
// server's base context, one from signal.NotifyContext), never a request's
// context; context.Background() means each call waits as long as the refresh
// takes, at most the refresh timeout.
//
// The errors are those of [refresh.Source.Token], unwrapped, so errors.Is and
// errors.As work on them (through oauth2.Transport and http.Client too). A DPoP
// token (RFC 9449) is refused with a [*refresh.ConfigError]: oauth2.Transport
// and gRPC credentials would send it without the proof it needs.
//
// The returned value is safe for concurrent use, and the *oauth2.Token it
// returns is shared by its callers: do not modify it (as oauth2.TokenSource
// requires). It prints no token or secret under fmt.
func TokenSource(ctx context.Context, s *refresh.Source) oauth2.TokenSource {
	return &tokenSource{ctx: ctx, src: s}
}

// tokenSource adapts a refresh.Source. It holds a context because
// oauth2.TokenSource, an interface we do not control, gives Token none: see
// TokenSource.
type tokenSource struct {
	ctx  context.Context
	src  *refresh.Source
	last atomic.Pointer[conversion] // the last conversion, reused while the Source hands out the same Tokens
}

type conversion struct {
	from *refresh.Tokens
	to   *oauth2.Token
}

// Token returns the Source's current token, converted.
func (ts *tokenSource) Token() (*oauth2.Token, error) {
	t, err := ts.src.Token(ts.ctx)
	if err != nil {
		return nil, err
	}
	// The Source publishes each set of Tokens once and never modifies it, so
	// the same pointer means the same token.
	if c := ts.last.Load(); c != nil && c.from == t {
		return c.to, nil
	}
	if strings.EqualFold(t.TokenType, "DPoP") {
		return nil, &refresh.ConfigError{Field: "TokenType", Reason: "DPoP-bound tokens need a proof with every request (RFC 9449), which an oauth2.TokenSource cannot give"}
	}
	tok := ToToken(t)
	ts.last.Store(&conversion{from: t, to: tok})
	return tok, nil
}

// String describes the TokenSource by its Source, without secrets.
func (ts *tokenSource) String() string {
	return "oauth2adapter.TokenSource{Source:" + ts.src.String() + "}"
}

// GoString is String, so that %#v shows no token either.
func (ts *tokenSource) GoString() string { return ts.String() }

// Format writes String for every verb, so that no verb prints the cached token.
func (ts *tokenSource) Format(f fmt.State, _ rune) { io.WriteString(f, ts.String()) }

// LogValue gives slog what String shows.
func (ts *tokenSource) LogValue() slog.Value { return slog.StringValue(ts.String()) }
