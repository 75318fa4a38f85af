package refreshtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxBody caps the request body the token endpoint reads.
const maxBody = 1 << 20

// Request is a request the token endpoint received, as [Server.Requests]
// returns it. It holds the client's secret and tokens as they were sent, so
// that a test can compare them; its String shows none of them.
type Request struct {
	// Time is the server's clock when the request arrived.
	Time time.Time
	// Method and Path are the request's method and URL path.
	Method, Path string
	// Header holds the request's headers, Authorization included.
	Header http.Header
	// Body is the request body as it was sent.
	Body string
	// Form holds the parameters of a form-encoded body; nil for any other body.
	Form url.Values
	// AuthMethod is the client authentication method the request used, as the
	// server saw it: Basic credentials are AuthClientSecretBasic unless they
	// matched a client registered with AuthClientSecretBasicRaw; a
	// client_secret in the form is AuthClientSecretPost; a client_assertion is
	// AuthClientSecretJWT when signed with HS256 and AuthPrivateKeyJWT
	// otherwise; a client_id alone is AuthNone. Empty when the request carried
	// no client credentials.
	AuthMethod AuthMethod
	// DPoPJKT is the RFC 7638 thumbprint of the key of the request's DPoP
	// proof (RFC 9449) when its signature verified, or empty.
	DPoPJKT string
	// ClientID and ClientSecret are the credentials the request carried,
	// decoded: Basic credentials are form-decoded (RFC 6749 §2.3.1) unless
	// AuthMethod is AuthClientSecretBasicRaw.
	ClientID, ClientSecret string
}

// String describes r without a secret or token: the method, path, the
// authentication method, the client id, and the names of the form parameters.
func (r Request) String() string {
	return fmt.Sprintf("refreshtest.Request{Method:%q, Path:%q, AuthMethod:%q, ClientID:%q, Form:%q}",
		r.Method, r.Path, r.AuthMethod, r.ClientID, slices.Sorted(maps.Keys(r.Form)))
}

// GoString is String, so that %#v shows no secret either.
func (r Request) GoString() string { return r.String() }

// Format writes String for every verb, so that no verb prints a secret.
func (r Request) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, r.String()) }

// LogValue gives slog what String shows, so that no handler, JSON included,
// logs a secret.
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("method", r.Method),
		slog.String("path", r.Path),
		slog.String("auth_method", string(r.AuthMethod)),
		slog.String("client_id", r.ClientID),
		slog.Any("form", slices.Sorted(maps.Keys(r.Form))),
	)
}

func (r Request) clone() Request {
	r.Header = r.Header.Clone()
	if r.Form != nil {
		form := make(url.Values, len(r.Form))
		for k, v := range r.Form {
			form[k] = slices.Clone(v)
		}
		r.Form = form
	}
	return r
}

// oauthError is an error response of the token endpoint (RFC 6749 §5.2).
type oauthError struct {
	status      int
	code, desc  string
	basicChallg bool // answer with WWW-Authenticate: Basic
}

func errInvalidRequest(format string, args ...any) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", desc: fmt.Sprintf(format, args...)}
}

func errInvalidGrant(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: desc}
}

func errInvalidClient(basic bool, desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: desc, basicChallg: basic}
}

// field is one member of a response body, in order.
type field struct {
	name  string
	value any // string or int64
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	body, form, badRequest := readForm(r, "token endpoint")
	s.mu.Lock()
	rec := Request{
		Time:   s.now(),
		Method: r.Method,
		Path:   r.URL.Path,
		Header: r.Header.Clone(),
		Body:   string(body),
		Form:   form,
	}
	quirks := s.quirks
	if quirks.FormUnlessJSONAccepted && !acceptsJSON(r.Header) {
		quirks.FormEncoded = true
	}
	var fault *Fault
	if len(s.faults) > 0 {
		f := s.faults[0]
		fault = &f
		s.faults = s.faults[1:]
	}
	var fields []field
	var oerr *oauthError
	if fault == nil || fault.AfterRefresh {
		fields, oerr = s.handleLocked(r, &rec, form, badRequest)
	} else {
		s.authenticateLocked(r, &rec, form) // only to record the credentials
	}
	s.requests = append(s.requests, rec)
	nonce := s.nonceLocked()
	s.mu.Unlock()
	if nonce != "" {
		w.Header().Set("DPoP-Nonce", nonce)
	}

	s.sleep(r.Context(), quirks.Latency)
	if fault != nil {
		fault.write(s, w, r)
		return
	}
	if oerr != nil {
		writeError(w, quirks, oerr)
		return
	}
	writeFields(w, http.StatusOK, quirks, fields)
}

// readForm reads the body of a request to an endpoint (the token or the
// revocation endpoint, as its errors name it) and checks it is what both
// take: a POST of a form (application/x-www-form-urlencoded) within maxBody,
// well formed, with no parameter repeated. It returns the body, its form (nil
// unless the body is declared a form), and what was wrong, or nil.
func readForm(r *http.Request, endpoint string) (body []byte, form url.Values, bad *oauthError) {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var formErr error
	if ct == "application/x-www-form-urlencoded" {
		form, formErr = url.ParseQuery(string(body))
	}
	switch {
	case r.Method != http.MethodPost:
		return body, form, errInvalidRequest("the %s takes POST, not %s", endpoint, r.Method)
	case readErr != nil || len(body) > maxBody:
		return body, form, errInvalidRequest("the request body could not be read")
	case ct != "application/x-www-form-urlencoded":
		return body, form, errInvalidRequest("the body must be application/x-www-form-urlencoded")
	case formErr != nil:
		return body, form, errInvalidRequest("the form body is malformed")
	}
	for _, name := range slices.Sorted(maps.Keys(form)) {
		if len(form[name]) > 1 {
			return body, form, errInvalidRequest("the parameter %s is repeated", name)
		}
	}
	return body, form, nil
}

// handleLocked carries out a refresh request whose syntax check gave
// badRequest, and returns the response fields or the error.
func (s *Server) handleLocked(r *http.Request, rec *Request, form url.Values, badRequest *oauthError) ([]field, *oauthError) {
	c, authErr := s.authenticateLocked(r, rec, form)
	if badRequest != nil {
		return nil, badRequest
	}
	if authErr != nil {
		return nil, authErr
	}
	jkt, proofErr := s.tokenProofLocked(r, rec) // dpop.go
	if proofErr != nil {
		return nil, proofErr
	}
	if gt := form.Get("grant_type"); gt != "refresh_token" {
		if gt == "" {
			return nil, errInvalidRequest("grant_type is missing")
		}
		return nil, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", desc: "only the refresh_token grant is supported"}
	}
	old := form.Get("refresh_token")
	if old == "" {
		return nil, errInvalidRequest("refresh_token is missing")
	}
	now := rec.Time
	t, ok := s.refresh[old]
	switch {
	case !ok:
		return nil, errInvalidGrant("the refresh token is unknown")
	case t.g.clientID != c.ID:
		return nil, errInvalidGrant("the refresh token was issued to another client")
	case t.g.revoked:
		return nil, errInvalidGrant("the refresh token was revoked")
	}
	grace := false
	if !t.spentAt.IsZero() {
		if s.reuseGrace <= 0 || now.Sub(t.spentAt) >= s.reuseGrace {
			if s.reuseDetection {
				t.g.revoked = true
				return nil, errInvalidGrant("the refresh token was already used, so the grant is revoked")
			}
			return nil, errInvalidGrant("the refresh token was already used")
		}
		grace = true
	}
	if expired(t.expiresAt, now) {
		return nil, errInvalidGrant("the refresh token expired")
	}
	if err := s.checkBoundLocked(old, jkt); err != nil {
		return nil, err
	}
	scopes := t.g.scopes
	if asked := strings.Fields(form.Get("scope")); len(asked) > 0 { // an empty scope asks for none in particular
		scopes = asked
		for _, sc := range scopes {
			if !slices.Contains(t.g.scopes, sc) {
				return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope", desc: "a scope asked for exceeds the grant"}
			}
		}
	}

	at := s.newAccessLocked(t.g, slices.Clone(scopes), now)
	fields := []field{
		{"access_token", at},
		{"token_type", cmp.Or(s.quirks.TokenType, tokenType(jkt))},
	}
	if s.accessLifetime > 0 {
		fields = append(fields, field{"expires_in", int64(s.accessLifetime / time.Second)})
	}
	var next string
	switch {
	case grace:
		next = t.g.current
	case s.rotation == RotateRefreshTokens:
		t.spentAt = now
		next = s.newRefreshLocked(t.g, now)
	case s.rotation == EchoRefreshTokens:
		next = old
	}
	s.bindLocked(jkt, at, cmp.Or(next, old), c.method() == AuthNone) // a kept refresh token is bound too
	if next != "" {
		fields = append(fields, field{"refresh_token", next})
		if exp := s.refresh[next].expiresAt; !exp.IsZero() {
			fields = append(fields, field{"refresh_token_expires_in", int64(exp.Sub(now) / time.Second)})
		}
	}
	if len(scopes) > 0 {
		fields = append(fields, field{"scope", joinScopes(scopes)})
	}
	return fields, nil
}

// authenticateLocked finds the client the request authenticates as, records
// the credentials it carried in rec, and checks them against the registration.
func (s *Server) authenticateLocked(r *http.Request, rec *Request, form url.Values) (Client, *oauthError) {
	user, pass, basic := r.BasicAuth()
	if _, ok := r.Header["Authorization"]; ok && !basic {
		return Client{}, errInvalidClient(true, "the Authorization header is not valid Basic credentials")
	}
	if basic {
		rec.AuthMethod = AuthClientSecretBasic
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		c, ok := s.clients[id]
		if err1 != nil || !ok || c.method() != AuthClientSecretBasic {
			if raw, ok := s.clients[user]; ok && raw.method() == AuthClientSecretBasicRaw {
				c, id, secret, err1, err2 = raw, user, pass, nil, nil
				rec.AuthMethod = AuthClientSecretBasicRaw
			}
		}
		rec.ClientID, rec.ClientSecret = user, pass
		if err1 == nil && err2 == nil {
			rec.ClientID, rec.ClientSecret = id, secret
		}
		if form.Has("client_secret") || form.Has("client_assertion") {
			return Client{}, errInvalidRequest("more than one client authentication method: Basic and a credential in the body")
		}
		switch {
		case err1 != nil || err2 != nil:
			return Client{}, errInvalidClient(true, "the Basic credentials are not form-encoded (RFC 6749 §2.3.1)")
		case c.ID != id || c.method() != rec.AuthMethod:
			if c.ID == id {
				return Client{}, errInvalidClient(true, fmt.Sprintf("the client is registered for %s", c.method()))
			}
			return Client{}, errInvalidClient(true, "unknown client")
		case secret != c.Secret:
			return Client{}, errInvalidClient(true, "wrong client secret")
		case form.Has("client_id") && form.Get("client_id") != id:
			return Client{}, errInvalidRequest("client_id in the body differs from the Basic credentials")
		}
		return c, nil
	}
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return s.assertionClientLocked(rec, form) // assertion.go
	}
	id := form.Get("client_id")
	rec.ClientID = id
	switch {
	case form.Has("client_secret"):
		rec.AuthMethod = AuthClientSecretPost
		rec.ClientSecret = form.Get("client_secret")
	case form.Has("client_id"):
		rec.AuthMethod = AuthNone
	default:
		return Client{}, errInvalidClient(false, "no client authentication")
	}
	c, ok := s.clients[id]
	switch {
	case !ok:
		return Client{}, errInvalidClient(false, "unknown client")
	case c.method() != rec.AuthMethod:
		return Client{}, errInvalidClient(c.method() == AuthClientSecretBasic || c.method() == AuthClientSecretBasicRaw,
			fmt.Sprintf("the client is registered for %s", c.method()))
	case rec.AuthMethod == AuthClientSecretPost && rec.ClientSecret != c.Secret:
		return Client{}, errInvalidClient(false, "wrong client secret")
	}
	return c, nil
}

func writeError(w http.ResponseWriter, q Quirks, e *oauthError) {
	code, status := e.code, e.status
	if q.GitHubErrorCodes {
		switch code {
		case "invalid_grant":
			code = "bad_refresh_token"
		case "invalid_client":
			code = "incorrect_client_credentials"
		}
	}
	if q.ErrorsWithStatus200 {
		status = http.StatusOK
	} else if e.basicChallg && status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="refreshtest", charset="UTF-8"`)
	}
	writeFields(w, status, q, []field{{"error", code}, {"error_description", e.desc}})
}

// writeFields writes a response body, JSON or form-encoded as q says.
func writeFields(w http.ResponseWriter, status int, q Quirks, fields []field) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	var b strings.Builder
	if q.FormEncoded {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		for i, f := range fields {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(f.name) + "=" + url.QueryEscape(fmt.Sprint(f.value)))
		}
	} else {
		h.Set("Content-Type", "application/json")
		b.WriteByte('{')
		for i, f := range fields {
			if i > 0 {
				b.WriteByte(',')
			}
			v := f.value
			if n, ok := v.(int64); ok && q.NumbersAsStrings {
				v = strconv.FormatInt(n, 10)
			}
			name, _ := json.Marshal(f.name)
			val, _ := json.Marshal(v)
			b.Write(name)
			b.WriteByte(':')
			b.Write(val)
		}
		b.WriteString("}\n")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

// acceptsJSON reports whether an Accept header names application/json.
func acceptsJSON(h http.Header) bool {
	for _, v := range h.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "application/json" {
				return true
			}
		}
	}
	return false
}
