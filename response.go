package refresh

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
