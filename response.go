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
	"unicode/utf8"
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
	var p parser
	if err := c.readAnswer(resp, &p); err != nil {
		return nil, err
	}
	return p.parse()
}

// readAnswer reads (through the cap) and closes the body of an answer to a
// request NewRequest or Revoke built, into p.
func (c *Client) readAnswer(resp *http.Response, p *parser) error {
	if resp == nil {
		return &ResponseError{Reason: "nil *http.Response"}
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
	*p = parser{resp: resp, info: info, c: c}
	if resp.Body == nil {
		return p.fail("", "no body", nil)
	}
	body, err := readCapped(resp, c.maxResponseBytes())
	resp.Body.Close()
	if err != nil {
		if errors.Is(err, ErrResponseTooLarge) {
			return p.fail("", fmt.Sprintf("body larger than %d bytes", c.maxResponseBytes()), err)
		}
		return p.fail("", "reading body", err)
	}
	p.body = body
	return nil
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
	c    *Client
	body []byte
	f    fields
	// names lists a form body's field names, for excerpts; values never go there.
	// A JSON object's names are listed by fail, in the body's order.
	names []string
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
		RetryAfter:  retryAfter(p.resp.Header, p.c.now),
		Err:         err,
	}
	names := p.names
	if p.f.obj != nil {
		names = jsonNames(p.body)
	}
	switch {
	case len(names) > 0:
		e.Excerpt = "fields: " + clip(p.info.redact(strings.Join(names, ", ")), 200)
	case !p.noExcerpt && len(p.body) > 0:
		e.Excerpt = excerpt(p.body, p.info)
	}
	return e
}

// jsonNames lists the member names of a JSON object, duplicates included, in
// the order the body has them.
func jsonNames(body []byte) []string {
	d := json.NewDecoder(bytes.NewReader(body))
	if _, err := d.Token(); err != nil { // the '{'
		return nil
	}
	var names []string
	for d.More() {
		name, err := d.Token()
		if err != nil {
			break
		}
		names = append(names, name.(string))
		if d.Decode(new(json.RawMessage)) != nil {
			break
		}
	}
	return names
}

// fields holds the body's fields: a JSON object's members as raw JSON, or a
// form's values.
type fields struct {
	obj  map[string]rawJSON
	form url.Values
}

// rawField is one field's value: raw JSON, or a form body's decoded string.
type rawField struct {
	json rawJSON // "" for a form value
	form string
	set  bool
}

func (f *fields) get(name string) rawField {
	if f.form != nil {
		v, ok := f.form[name]
		if !ok || len(v) == 0 {
			return rawField{}
		}
		return rawField{form: v[0], set: true}
	}
	v, ok := f.obj[name]
	return rawField{json: v, set: ok}
}

// namedField reports the response fields that Tokens' own members hold; every
// other field is an extra.
func namedField(name string) bool {
	switch name {
	case "access_token", "token_type", "refresh_token", "expires_in",
		"refresh_token_expires_in", "refresh_expires_in", "scope", "id_token":
		return true
	}
	return false
}

// extras returns the fields that namedField does not claim, as raw JSON (a
// form's values as JSON strings), or nil when there are none. It takes over a
// JSON body's map.
func (f *fields) extras() map[string]rawJSON {
	m := f.obj
	if f.form != nil {
		m = map[string]rawJSON{}
		for name, v := range f.form {
			b, _ := json.Marshal(v[0]) // a string always marshals
			m[name] = rawJSON(b)
		}
	}
	maps.DeleteFunc(m, func(name string, _ rawJSON) bool { return namedField(name) })
	if len(m) == 0 {
		return nil
	}
	return m
}

func (p *parser) parse() (*Tokens, error) {
	// A JSON body's members are decoded into t.extra, which keeps in the end the
	// fields no member holds; the map then needs no pointer allocated apart.
	t := &Tokens{IssuedAt: p.info.sent}
	if err := p.read(&t.extra); err != nil {
		if s := p.resp.StatusCode; s >= 300 && s < 400 {
			return nil, p.redirect()
		}
		return nil, err
	}
	f := &p.f
	if code := f.get("error"); !code.absent() {
		code, ok := code.text()
		if !ok {
			return nil, p.fail("error", "not a string", nil)
		}
		if code != "" { // "error": "" beside tokens is taken as no error
			return nil, p.oauthError(code)
		}
	}
	status := p.resp.StatusCode
	if status >= 300 && status < 400 {
		return nil, p.redirect()
	}
	if status < 200 || status > 299 {
		return nil, p.fail("", "error status without an OAuth error body", nil)
	}

	at := f.get("access_token")
	var ok bool
	if t.AccessToken, ok = at.text(); !ok {
		return nil, p.fieldError("access_token", at, "a string")
	}
	if t.AccessToken == "" {
		return nil, p.fail("access_token", "empty", nil)
	}
	// The access token goes into the Authorization header of every request: one
	// holding a control character or a space would make every request fail (Go
	// refuses such a header value) until the tokens are replaced. RFC 6750's
	// b64token would allow even less, but real tokens break it (Salesforce's hold
	// '!'), so only what cannot travel in that header is refused.
	if strings.ContainsFunc(t.AccessToken, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, p.fail("access_token", "holds a control character or a space", nil)
	}
	tt := f.get("token_type")
	if t.TokenType, ok = tt.text(); !ok || t.TokenType == "" {
		return nil, p.fieldError("token_type", tt, "a non-empty string")
	}
	if t.RefreshToken, ok = f.get("refresh_token").optText(); !ok {
		return nil, p.fail("refresh_token", "not a string", nil)
	}
	if t.IDToken, ok = f.get("id_token").optText(); !ok {
		return nil, p.fail("id_token", "not a string", nil)
	}
	d, err := f.get("expires_in").lifetime()
	if err != nil {
		return nil, p.fail("expires_in", err.Error(), nil)
	}
	if d > 0 {
		t.ExpiresAt = t.IssuedAt.Add(d)
	}
	rname := "refresh_token_expires_in"
	rf := f.get(rname)
	if rf.absent() {
		rname = "refresh_expires_in"
		rf = f.get(rname)
	}
	if d, err = rf.lifetime(); err != nil {
		return nil, p.fail(rname, err.Error(), nil)
	}
	if d > 0 {
		t.RefreshTokenExpiresAt = t.IssuedAt.Add(d)
	}
	if t.Scopes, err = f.get("scope").scopes(); err != nil {
		return nil, p.fail("scope", err.Error(), nil)
	}
	// A form body's values are bytes, but the Tokens' storage encoding is JSON,
	// which cannot carry a string that is not UTF-8: such a member is refused
	// here rather than changed on its way to the Store. (A JSON body's strings
	// are UTF-8 once decoded.)
	if f.form != nil {
		for _, m := range [...]struct{ name, value string }{
			{"access_token", t.AccessToken}, {"token_type", t.TokenType},
			{"refresh_token", t.RefreshToken}, {"id_token", t.IDToken},
			{"scope", strings.Join(t.Scopes, " ")},
		} {
			if !utf8.ValidString(m.value) {
				return nil, p.fail(m.name, "not valid UTF-8", nil)
			}
		}
	}
	t.extra = f.extras()
	return t, nil
}

// redirect is the error for a 3xx: the redirect is not followed, and its
// Location is shown without query or user info.
func (p *parser) redirect() *ResponseError {
	reason := "redirect not followed"
	if loc := p.resp.Header.Get("Location"); loc != "" {
		reason += " (to " + clip(p.info.redact(redactURL(loc)), 120) + ")"
	}
	return p.fail("", reason, nil)
}

// read reads the fields of a JSON or form body into p.f, a JSON object's
// through *obj.
func (p *parser) read(obj *map[string]rawJSON) error {
	p.body = bytes.TrimPrefix(p.body, []byte("\xef\xbb\xbf")) // a UTF-8 byte-order mark
	b := bytes.TrimLeft(p.body, " \t\r\n")
	if len(b) == 0 {
		return p.fail("", "empty body", nil)
	}
	if b[0] == '{' {
		p.noExcerpt = true // the values before a fault may be tokens
		// Unmarshal keeps the last of duplicate names, and decodes escaped ones.
		if err := json.Unmarshal(p.body, obj); err != nil {
			return p.fail("", "malformed JSON", err)
		}
		p.f.obj = *obj // never nil: the body is an object
		return nil
	}
	if !p.formLike() {
		if (b[0] == '[' || b[0] == '"') && json.Valid(p.body) {
			p.noExcerpt = true // the values may be tokens
			return p.fail("", "JSON body is not an object", nil)
		}
		return p.fail("", "not an OAuth response", nil)
	}
	vals, err := url.ParseQuery(string(bytes.TrimSpace(p.body)))
	// Excerpts show the names only, even of a form that does not parse: the
	// values may be tokens.
	p.noExcerpt = true
	p.names = slices.Sorted(maps.Keys(vals))
	if err != nil || len(vals) == 0 {
		return p.fail("", "not an OAuth response", nil)
	}
	p.f.form = vals
	return nil
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

// absent reports a field not sent, or sent as JSON null.
func (r rawField) absent() bool {
	return !r.set || r.json == "null"
}

// text returns a field that must be a string; ok is false when it is absent or
// not a string.
func (r rawField) text() (string, bool) {
	if !r.set {
		return "", false
	}
	if r.json == "" {
		return r.form, true
	}
	if r.json[0] != '"' {
		return "", false
	}
	// Most strings hold no escape and are valid UTF-8, which is all the
	// decoder would look at: they are taken as they stand, without the
	// decoder's allocations (a fifth of a refresh's in all) or a copy.
	if strings.IndexByte(string(r.json), '\\') < 0 && utf8.ValidString(string(r.json)) {
		return string(r.json[1 : len(r.json)-1]), true
	}
	var s string
	err := json.Unmarshal([]byte(r.json), &s)
	return s, err == nil
}

// optText is text for an optional field: absent or null gives "", true.
func (r rawField) optText() (string, bool) {
	if r.absent() {
		return "", true
	}
	return r.text()
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
func (r rawField) lifetime() (time.Duration, error) {
	if r.absent() {
		return 0, nil
	}
	s := r.form
	if r.json != "" {
		var ok bool
		if s, ok = r.text(); !ok {
			if c := r.json[0]; c != '-' && (c < '0' || c > '9') {
				return 0, errors.New("not a number")
			}
			s = string(r.json)
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
func (r rawField) scopes() ([]string, error) {
	if r.absent() {
		return nil, nil
	}
	if s, ok := r.text(); ok {
		return splitScope(s), nil
	}
	if r.json[0] == '[' {
		var list []string
		if err := json.Unmarshal([]byte(r.json), &list); err != nil {
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

func (p *parser) oauthError(code string) *OAuthError {
	desc, _ := p.f.get("error_description").text()
	uri, _ := p.f.get("error_uri").text()
	return &OAuthError{
		Code:            code,
		Description:     p.info.redact(desc),
		URI:             p.info.redact(uri),
		StatusCode:      p.resp.StatusCode,
		RetryAfter:      retryAfter(p.resp.Header, p.c.now),
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
	// Redact the whole body before anything is cut, so that a secret across a
	// cut cannot leave its head behind.
	s := info.redact(string(body))
	s = s[:min(len(s), 4*max)] // enough for max characters once white space is folded
	return clip(strings.Join(strings.Fields(s), " "), max)
}
