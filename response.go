package refresh

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
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

// String describes t without any token: the type, expiry and scopes, and for each
// token only whether it is there.
func (t Tokens) String() string {
	var b strings.Builder
	b.WriteString("refresh.Tokens{AccessToken:")
	b.WriteString(redacted(t.AccessToken))
	fmt.Fprintf(&b, ", TokenType:%q, RefreshToken:%s", t.TokenType, redacted(t.RefreshToken))
	if !t.ExpiresAt.IsZero() {
		b.WriteString(", ExpiresAt:")
		b.WriteString(t.ExpiresAt.Format(time.RFC3339))
	}
	if !t.RefreshTokenExpiresAt.IsZero() {
		b.WriteString(", RefreshTokenExpiresAt:")
		b.WriteString(t.RefreshTokenExpiresAt.Format(time.RFC3339))
	}
	if t.Scopes != nil {
		fmt.Fprintf(&b, ", Scopes:%q", t.Scopes)
	}
	if t.IDToken != "" {
		b.WriteString(", IDToken:")
		b.WriteString(redacted(t.IDToken))
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, so that %#v shows no token either.
func (t Tokens) GoString() string { return t.String() }

// Format writes String for every verb, so that no verb prints a token.
func (t Tokens) Format(f fmt.State, verb rune) { writeRedacted(f, t.String()) }

// LogValue gives slog the type, expiry, scopes and which tokens are present.
func (t Tokens) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("token_type", t.TokenType),
		slog.Bool("refresh_token", t.RefreshToken != ""),
	}
	if !t.ExpiresAt.IsZero() {
		attrs = append(attrs, slog.Time("expires_at", t.ExpiresAt))
	}
	if t.Scopes != nil {
		attrs = append(attrs, slog.Any("scopes", t.Scopes))
	}
	return slog.GroupValue(attrs...)
}

// redacted stands for a secret in text: whether it is set, never what it is.
func redacted(secret string) string {
	if secret == "" {
		return `""`
	}
	return "[redacted]"
}

func writeRedacted(f fmt.State, s string) { io.WriteString(f, s) }

// ErrorCode is an OAuth error code (RFC 6749 §5.2) as a value for errors.Is: an
// [*OAuthError] matches the ErrorCode equal to its Code. The package defines the
// codes of RFC 6749 (ErrInvalidGrant and the others); write
// ErrorCode("use_dpop_nonce") for any other.
type ErrorCode string

// Error returns "refresh: oauth2 error <code>".
func (c ErrorCode) Error() string { return "refresh: oauth2 error " + string(c) }

// The error codes of RFC 6749 §5.2, for errors.Is. They compare the code only:
// a provider's own code (GitHub's bad_refresh_token) matches none of them; use
// ErrorCode for it.
var (
	// ErrInvalidGrant matches invalid_grant: the refresh token is invalid,
	// expired, revoked, already used, or was issued to another client. The user
	// must sign in again.
	ErrInvalidGrant error = ErrorCode("invalid_grant")
	// ErrInvalidClient matches invalid_client: client authentication failed
	// (unknown client, wrong secret, or a method the server does not accept).
	ErrInvalidClient error = ErrorCode("invalid_client")
	// ErrInvalidRequest matches invalid_request: the request is malformed or
	// misses a parameter.
	ErrInvalidRequest error = ErrorCode("invalid_request")
	// ErrInvalidScope matches invalid_scope: the scope asked for exceeds the
	// scope granted.
	ErrInvalidScope error = ErrorCode("invalid_scope")
	// ErrUnauthorizedClient matches unauthorized_client: the client may not use
	// the refresh_token grant.
	ErrUnauthorizedClient error = ErrorCode("unauthorized_client")
	// ErrUnsupportedGrantType matches unsupported_grant_type: the server does
	// not support refresh tokens.
	ErrUnsupportedGrantType error = ErrorCode("unsupported_grant_type")
)

// OAuthError is an error answered by the token endpoint (RFC 6749 §5.2), whatever
// the HTTP status: GitHub sends its errors with 200. Match the code with errors.Is
// and an [ErrorCode] such as [ErrInvalidGrant]; use errors.As for the details.
type OAuthError struct {
	Code        string // error, such as "invalid_grant"
	Description string // error_description, as sent (any secret the request carried removed)
	URI         string // error_uri, as sent
	StatusCode  int    // the HTTP status it came with

	// RetryAfter is the wait the server asked for in Retry-After (seconds or an
	// HTTP date), or 0.
	RetryAfter time.Duration
	// WWWAuthenticate is the WWW-Authenticate header as sent, which names the
	// scheme expected after a 401 invalid_client.
	WWWAuthenticate string
}

// Error returns the code, the status and a short, cleaned description.
func (e *OAuthError) Error() string {
	var b strings.Builder
	b.WriteString("refresh: token endpoint error ")
	b.WriteString(strconv.Quote(clip(e.Code, 64)))
	fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(clip(e.Description, 200))
	}
	return b.String()
}

// Is reports whether target is the ErrorCode equal to e.Code.
func (e *OAuthError) Is(target error) bool {
	c, ok := target.(ErrorCode)
	return ok && string(c) == e.Code
}

// ErrResponseTooLarge is wrapped by the [*ResponseError] for a body over
// Client.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("refresh: response body too large")

// ResponseError reports a token endpoint answer that is neither tokens nor an
// OAuth error: an HTML page from a proxy, a redirect, a body that is not JSON or
// form data, a token response that misses access_token or token_type or has a
// field of the wrong type, an oversized body, or a body cut short. Its text and
// fields never show a token.
type ResponseError struct {
	StatusCode  int    // HTTP status
	ContentType string // Content-Type as sent
	// Field is the response field at fault, such as "access_token" or
	// "expires_in", or empty when the fault is the response as a whole.
	Field string
	// Reason says what was wrong.
	Reason string
	// Excerpt is a short, cleaned piece of the body for diagnosis. For a JSON or
	// form body it lists only the field names, never values; for other bodies it
	// holds at most 200 printable characters with any secret the request
	// carried removed, or nothing when the body names a token or secret field.
	Excerpt string
	// RetryAfter is the wait the server asked for in Retry-After, or 0 (a 429 or
	// 503 often comes with it).
	RetryAfter time.Duration
	// Err is the underlying cause: a read error, ErrResponseTooLarge, a JSON
	// syntax error, or nil.
	Err error
}

// Error returns the status, content type, field, reason and excerpt.
func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "refresh: token endpoint response (HTTP %d", e.StatusCode)
	if e.ContentType != "" {
		b.WriteString(", ")
		b.WriteString(clip(e.ContentType, 80))
	}
	b.WriteString("): ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Err != nil && !errors.Is(e.Err, ErrResponseTooLarge) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Excerpt != "" {
		b.WriteString(": ")
		b.WriteString(e.Excerpt)
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *ResponseError) Unwrap() error { return e.Err }

// ParseResponse reads (through the MaxResponseBytes cap) and closes resp.Body and
// turns the token endpoint's answer into [*Tokens], or an [*OAuthError] when the
// body carries an "error" field (whatever the status), or a [*ResponseError] for
// anything else. It never returns both. It accepts JSON (with any or no
// Content-Type), application/x-www-form-urlencoded and text/plain form bodies
// (GitHub without Accept: application/json), numbers sent as strings ("3600"),
// and scope as a string, an array or null.
//
// Expiry counts from the time [Client.NewRequest] built resp.Request, or from now
// when resp did not come from a request NewRequest built.
func (c *Client) ParseResponse(resp *http.Response) (*Tokens, error) {
	if resp == nil {
		return nil, &ResponseError{Reason: "nil *http.Response"}
	}
	if c == nil {
		c = &Client{}
	}
	var info *requestInfo
	if resp.Request != nil {
		info, _ = resp.Request.Context().Value(requestInfoKey{}).(*requestInfo)
	}
	if info == nil {
		info = &requestInfo{sent: c.now()}
	}
	p := parser{resp: resp, info: info, now: c.now}
	if resp.Body == nil {
		return nil, p.fail("", "no body", nil)
	}
	body, err := readCapped(resp, c.maxResponseBytes())
	resp.Body.Close()
	if err != nil {
		if errors.Is(err, ErrResponseTooLarge) {
			return nil, p.fail("", fmt.Sprintf("body larger than %d bytes", c.maxResponseBytes()), err)
		}
		return nil, p.fail("", "reading body", err)
	}
	p.body = body
	return p.parse()
}

// readCapped reads the whole body, or fails with ErrResponseTooLarge as soon as
// it holds more than max bytes.
func readCapped(resp *http.Response, max int64) ([]byte, error) {
	if resp.ContentLength > max {
		return nil, ErrResponseTooLarge
	}
	// A length of 0 is read as unknown: a real response declaring 0 has an empty
	// body anyway, and an *http.Response built by hand (a test, a RoundTripper)
	// often leaves the field 0 beside a body.
	if n := resp.ContentLength; n > 0 {
		buf := make([]byte, n, n+1)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		// The declared length was read; the http package reports a longer body
		// as an error, so nothing more is expected.
		return buf, nil
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, ErrResponseTooLarge
	}
	return buf.Bytes(), nil
}

// parser holds one response on its way to Tokens or an error.
type parser struct {
	resp *http.Response
	info *requestInfo
	now  func() time.Time
	body []byte
	// text is the body as parsed, once it parsed as a JSON object or a form: a
	// JSON object's fields are substrings of it.
	text string
	// names lists a form body's field names, for excerpts; values never go there.
	names []string
	f     fields // the known fields, once read
	// noExcerpt withholds the body from excerpts: JSON, whose values may be
	// tokens, shows only its field names, or nothing when it does not parse.
	noExcerpt bool
}

func (p *parser) fail(field, reason string, err error) *ResponseError {
	e := &ResponseError{
		StatusCode:  p.resp.StatusCode,
		ContentType: p.resp.Header.Get("Content-Type"),
		Field:       field,
		Reason:      reason,
		RetryAfter:  retryAfter(p.resp.Header, p.now),
		Err:         err,
	}
	names := p.names
	if p.text != "" { // a form's text never starts with '{': NewObject skips it
		obj, _ := wire.NewObject(p.text)
		for k, _, ok := obj.Next(); ok; k, _, ok = obj.Next() {
			names = append(names, wire.Key(k))
		}
	}
	switch {
	case len(names) > 0:
		e.Excerpt = "fields: " + clip(strings.Join(names, ", "), 200)
	case !p.noExcerpt && len(p.body) > 0:
		e.Excerpt = excerpt(p.body, p.info)
	}
	return e
}

// fields holds the raw values of the known response fields: JSON values for a
// JSON body, or strings for a form body (form is true).
type fields struct {
	form                              bool
	errorCode, errorDescription, uri  rawField
	accessToken, tokenType, refresh   rawField
	expiresIn, refreshExpiresIn, rtei rawField
	scope, idToken                    rawField
}

// rawField is one field's value: raw JSON, or a form body's decoded string.
type rawField struct {
	raw  string
	set  bool
	json bool // raw is JSON
}

func (p *parser) parse() (*Tokens, error) {
	f, err := p.fields()
	if err != nil {
		if s := p.resp.StatusCode; s >= 300 && s < 400 {
			return nil, p.redirect()
		}
		return nil, err
	}
	if !f.errorCode.absent() {
		code, ok := f.text(f.errorCode)
		if !ok {
			return nil, p.fail("error", "not a string", nil)
		}
		if code != "" { // "error": "" beside tokens is taken as no error
			return nil, p.oauthError(f, code)
		}
	}
	status := p.resp.StatusCode
	if status >= 300 && status < 400 {
		return nil, p.redirect()
	}
	if status < 200 || status > 299 {
		return nil, p.fail("", "error status without an OAuth error body", nil)
	}

	t := &Tokens{IssuedAt: p.info.sent, raw: p.text, isForm: f.form}
	var ok bool
	if t.AccessToken, ok = f.text(f.accessToken); !ok {
		return nil, p.fieldError("access_token", f.accessToken, "a string")
	}
	if t.AccessToken == "" {
		return nil, p.fail("access_token", "empty", nil)
	}
	if t.TokenType, ok = f.text(f.tokenType); !ok || t.TokenType == "" {
		return nil, p.fieldError("token_type", f.tokenType, "a non-empty string")
	}
	if t.RefreshToken, ok = f.optText(f.refresh); !ok {
		return nil, p.fail("refresh_token", "not a string", nil)
	}
	if t.IDToken, ok = f.optText(f.idToken); !ok {
		return nil, p.fail("id_token", "not a string", nil)
	}
	d, err := f.lifetime(f.expiresIn)
	if err != nil {
		return nil, p.fail("expires_in", err.Error(), nil)
	}
	if d > 0 {
		t.ExpiresAt = t.IssuedAt.Add(d)
	}
	rf, rname := f.rtei, "refresh_token_expires_in"
	if rf.absent() {
		rf, rname = f.refreshExpiresIn, "refresh_expires_in"
	}
	if d, err = f.lifetime(rf); err != nil {
		return nil, p.fail(rname, err.Error(), nil)
	}
	if d > 0 {
		t.RefreshTokenExpiresAt = t.IssuedAt.Add(d)
	}
	if t.Scopes, err = f.scopes(); err != nil {
		return nil, p.fail("scope", err.Error(), nil)
	}
	return t, nil
}

// redirect is the error for a 3xx: the redirect is not followed, and its
// Location is shown without query or user info.
func (p *parser) redirect() *ResponseError {
	reason := "redirect not followed"
	if loc := p.resp.Header.Get("Location"); loc != "" {
		reason += " (to " + clip(redactURL(loc), 120) + ")"
	}
	return p.fail("", reason, nil)
}

// fields reads the known fields out of a JSON or form body.
func (p *parser) fields() (*fields, error) {
	f := &p.f
	p.body = bytes.TrimPrefix(p.body, []byte("\xef\xbb\xbf")) // a UTF-8 byte-order mark
	b := bytes.TrimLeft(p.body, " \t\r\n")
	if len(b) == 0 {
		return nil, p.fail("", "empty body", nil)
	}
	if b[0] == '{' {
		p.noExcerpt = true // the values before a fault may be tokens
		if !wire.Valid(p.body) {
			return nil, p.fail("", "malformed JSON", json.Unmarshal(p.body, new(json.RawMessage)))
		}
		// One copy of the body; every field is a substring of it.
		p.text = string(p.body)
		obj, _ := wire.NewObject(p.text)
		for k, v, ok := obj.Next(); ok; k, v, ok = obj.Next() {
			if dst := f.slot(wire.Key(k)); dst != nil {
				*dst = rawField{raw: v, set: true, json: true}
			}
		}
		return f, nil
	}
	if !p.formLike() {
		if (b[0] == '[' || b[0] == '"') && json.Valid(p.body) {
			p.noExcerpt = true // the values may be tokens
			return nil, p.fail("", "JSON body is not an object", nil)
		}
		return nil, p.fail("", "not an OAuth response", nil)
	}
	text := string(bytes.TrimSpace(p.body))
	vals, err := url.ParseQuery(text)
	// Excerpts show the names only, even of a form that does not parse: the
	// values may be tokens.
	p.noExcerpt = true
	p.names = slices.Sorted(maps.Keys(vals))
	if err != nil || len(vals) == 0 {
		return nil, p.fail("", "not an OAuth response", nil)
	}
	f.form = true
	p.text = text // as parsed, so that Extra agrees
	for name := range vals {
		if dst := f.slot(name); dst != nil {
			*dst = rawField{raw: vals.Get(name), set: true}
		}
	}
	return f, nil
}

// formLike reports whether a body that is not a JSON object may be form data:
// sent as a form, as text/plain (GitHub, old Facebook), or with no type at all.
func (p *parser) formLike() bool {
	if bytes.IndexByte(p.body, '=') < 0 {
		return false
	}
	ct := p.resp.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/x-www-form-urlencoded" || mt == "text/plain"
}

func (f *fields) slot(name string) *rawField {
	switch name {
	case "error":
		return &f.errorCode
	case "error_description":
		return &f.errorDescription
	case "error_uri":
		return &f.uri
	case "access_token":
		return &f.accessToken
	case "token_type":
		return &f.tokenType
	case "refresh_token":
		return &f.refresh
	case "expires_in":
		return &f.expiresIn
	case "refresh_token_expires_in":
		return &f.rtei
	case "refresh_expires_in":
		return &f.refreshExpiresIn
	case "scope":
		return &f.scope
	case "id_token":
		return &f.idToken
	}
	return nil
}

// absent reports a field not sent, or sent as JSON null.
func (r rawField) absent() bool {
	return !r.set || r.json && r.raw == "null"
}

// text returns a field that must be a string; ok is false when it is absent or
// not a string.
func (f *fields) text(r rawField) (string, bool) {
	if !r.set {
		return "", false
	}
	if !r.json {
		return r.raw, true
	}
	return wire.String(r.raw)
}

// optText is text for an optional field: absent or null gives "", true.
func (f *fields) optText(r rawField) (string, bool) {
	if r.absent() {
		return "", true
	}
	return f.text(r)
}

func (p *parser) fieldError(name string, r rawField, want string) *ResponseError {
	if r.absent() {
		return p.fail(name, "missing", nil)
	}
	return p.fail(name, "not "+want, nil)
}

// maxSeconds is the longest lifetime a time.Duration can hold.
const maxSeconds = math.MaxInt64 / int64(time.Second)

// lifetime reads expires_in and its kin: a JSON number or a numeric string
// (Entra v1, PayPal), whole or fractional. Absent, null, "" and 0 give 0
// (unknown); negative, overflowing or non-numeric values are errors.
func (f *fields) lifetime(r rawField) (time.Duration, error) {
	if r.absent() {
		return 0, nil
	}
	s := r.raw
	if r.json {
		if s[0] == '"' {
			var ok bool
			if s, ok = wire.String(r.raw); !ok {
				return 0, errors.New("not a number")
			}
		} else if c := s[0]; c != '-' && (c < '0' || c > '9') {
			return 0, errors.New("not a number")
		}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n < 0:
			return 0, errors.New("negative")
		case n > maxSeconds:
			return 0, errors.New("too large")
		}
		return time.Duration(n) * time.Second, nil
	} else if errors.Is(err, strconv.ErrRange) {
		if s[0] == '-' {
			return 0, errors.New("negative")
		}
		return 0, errors.New("too large")
	}
	// A fraction or an exponent. ParseFloat also takes "NaN", "Inf" and hex,
	// which no server means: only decimal digits, '.', 'e', '+', '-' pass.
	if strings.Trim(s, "0123456789.eE+-") != "" {
		return 0, errors.New("not a number")
	}
	x, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return 0, errors.New("not a number")
	case x < 0 || math.Signbit(x) && x != 0:
		return 0, errors.New("negative")
	case err != nil || x >= float64(maxSeconds):
		return 0, errors.New("too large")
	}
	d := time.Duration(x * float64(time.Second))
	if d == 0 && x > 0 {
		d = 1 // a lifetime too short to hold is spent, not unknown
	}
	return d, nil
}

// scopes reads scope: a space- (or comma-) separated string, a JSON array of
// strings, or null.
func (f *fields) scopes() ([]string, error) {
	r := f.scope
	if r.absent() {
		return nil, nil
	}
	if !r.json {
		return splitScope(r.raw), nil
	}
	switch r.raw[0] {
	case '"':
		s, ok := wire.String(r.raw)
		if !ok {
			return nil, errors.New("not a string")
		}
		return splitScope(s), nil
	case '[':
		var list []string
		if err := json.Unmarshal([]byte(r.raw), &list); err != nil {
			return nil, errors.New("not a string or an array of strings")
		}
		if list == nil {
			list = []string{}
		}
		return list, nil
	}
	return nil, errors.New("not a string or an array of strings")
}

func splitScope(s string) []string {
	list := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	if list == nil {
		list = []string{}
	}
	return list
}

func (p *parser) oauthError(f *fields, code string) *OAuthError {
	desc, _ := f.text(f.errorDescription)
	uri, _ := f.text(f.uri)
	return &OAuthError{
		Code:            code,
		Description:     p.info.redact(desc),
		URI:             p.info.redact(uri),
		StatusCode:      p.resp.StatusCode,
		RetryAfter:      retryAfter(p.resp.Header, p.now),
		WWWAuthenticate: p.resp.Header.Get("WWW-Authenticate"),
	}
}

// retryAfter reads Retry-After (RFC 9110 §10.2.3): delay seconds or an HTTP date.
func retryAfter(h http.Header, now func() time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > maxSeconds {
			n = maxSeconds
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now()); d > 0 {
			return d
		}
	}
	return 0
}

// excerpt returns at most 200 printable characters of a body that is neither
// JSON nor form data, white space folded and the secrets sent removed.
func excerpt(body []byte, info *requestInfo) string {
	const max = 200
	// A body that names a credential field but was not parsed as JSON or a form
	// (a form sent as application/json, JSON behind a byte-order mark) may hold
	// its value: show nothing of it.
	for _, name := range [...]string{"access_token", "refresh_token", "id_token", "client_secret", "client_assertion"} {
		if bytes.Contains(body, []byte(name)) {
			return "(withheld: the body names " + name + ")"
		}
	}
	s := info.redact(string(body[:min(len(body), 4*max)]))
	return clip(strings.Join(strings.Fields(s), " "), max)
}

// clip cuts s to at most n runes and replaces what is not printable, so that a
// server's text cannot forge lines in a log.
func clip(s string, n int) string {
	var b strings.Builder
	i := 0
	for _, r := range s {
		if i == n {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || r == 0xfffd || r >= 0x80 && r < 0xa0 {
			r = '?'
		}
		b.WriteRune(r)
		i++
	}
	return b.String()
}
