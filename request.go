package refresh

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// RequestOption changes one refresh request; see [WithScopes], [WithParam] and
// [WithHeader].
type RequestOption func(*requestOptions)

type requestOptions struct {
	scopes  []string
	params  []param
	headers []param
	err     error
}

func (o *requestOptions) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

// WithScopes asks for the given scopes on this refresh: a subset of the scopes
// originally granted (RFC 6749 §6). They are sent space-separated, in order,
// without duplicates. Calling it with no scopes sends no scope parameter, which
// asks for the scope already granted. A scope that is empty or holds a character
// RFC 6749 §3.3 forbids (a space, '"', '\', a control or non-ASCII character) is
// refused with a [*ConfigError].
func WithScopes(scopes ...string) RequestOption {
	return func(o *requestOptions) {
		for _, s := range scopes {
			if reason := badScope(s); reason != "" {
				o.fail(&ConfigError{Field: "WithScopes", Reason: reason})
				return
			}
			dup := false
			for _, have := range o.scopes {
				if have == s {
					dup = true
					break
				}
			}
			if !dup {
				o.scopes = append(o.scopes, s)
			}
		}
	}
}

func badScope(s string) string {
	if s == "" {
		return "empty scope"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			return fmt.Sprintf("scope %q holds a character RFC 6749 §3.3 forbids", s)
		}
	}
	return ""
}

// WithParam adds a body parameter to this refresh, such as resource (RFC 8707) or
// audience. A name given twice is sent twice (resource may repeat). The names
// that the refresh request and client authentication own (grant_type,
// refresh_token, scope, client_id, client_secret, client_assertion,
// client_assertion_type) are refused with a [*ConfigError]: use [WithScopes] and
// the Client's Auth for those.
func WithParam(name, value string) RequestOption {
	return func(o *requestOptions) {
		switch name {
		case "":
			o.fail(&ConfigError{Field: "WithParam", Reason: "empty parameter name"})
		case "grant_type", "refresh_token", "scope", "client_id", "client_secret",
			"client_assertion", "client_assertion_type":
			o.fail(&ConfigError{Field: "WithParam", Reason: fmt.Sprintf("%q is reserved; it is set by the request or by Client.Auth", name)})
		default:
			o.params = append(o.params, param{name, value})
		}
	}
}

// WithHeader sets a header on this refresh request, such as Origin, which
// Microsoft Entra requires for single-page-application clients. It replaces any
// value the header had, so it can also change User-Agent or Accept for one
// request. Headers that the request or its client authentication own
// (Authorization, Content-Type, Content-Length, Host, Transfer-Encoding) are
// refused with a [*ConfigError].
func WithHeader(name, value string) RequestOption {
	return func(o *requestOptions) {
		canon := http.CanonicalHeaderKey(name)
		switch canon {
		case "":
			o.fail(&ConfigError{Field: "WithHeader", Reason: "empty header name"})
		case "Authorization", "Content-Type", "Content-Length", "Host", "Transfer-Encoding":
			o.fail(&ConfigError{Field: "WithHeader", Reason: fmt.Sprintf("%q is set by the request or by Client.Auth", canon)})
		default:
			o.headers = append(o.headers, param{canon, value})
		}
	}
}

// requestInfoKey keys the requestInfo that NewRequest leaves in the request's
// context for ParseResponse.
type requestInfoKey struct{}

// requestInfo is what ParseResponse needs to know about the request it answers:
// when it was built (expiry counts from there) and which secrets it carried (so
// that no error text can echo them).
type requestInfo struct {
	refreshToken  string // the token the request carries: the refresh token, or the token a revocation revokes
	clientID      string // the client ID and secret Auth sent, if it is a method this package knows
	clientSecret  string
	authorization string // the Authorization header Auth set
	assertion     string // the client_assertion Auth set
	proof         string // the DPoP proof (RFC 9449) the request carries
	dpopNonce     string // the DPoP nonce the proof carries
	sent          time.Time
}

// redact removes the secrets the request carried from a server's text, such as
// an error_description that echoes them: each as it is, form- and
// path-escaped, and base64-encoded, and the Basic credentials they make.
func (info *requestInfo) redact(s string) string {
	var forms []string
	for _, secret := range [...]string{info.refreshToken, info.clientSecret, info.assertion, info.proof} {
		if secret != "" {
			// The unpadded base64 forms are prefixes of the padded ones.
			forms = append(forms, secret, url.QueryEscape(secret), url.PathEscape(secret),
				base64.RawStdEncoding.EncodeToString([]byte(secret)),
				base64.RawURLEncoding.EncodeToString([]byte(secret)))
		}
	}
	if info.clientSecret != "" {
		forms = append(forms,
			base64.RawStdEncoding.EncodeToString([]byte(url.QueryEscape(info.clientID)+":"+url.QueryEscape(info.clientSecret))),
			base64.RawStdEncoding.EncodeToString([]byte(info.clientID+":"+info.clientSecret)))
	}
	if _, cred, ok := strings.Cut(info.authorization, " "); ok {
		forms = append(forms, strings.TrimSpace(cred))
	}
	// Longest first, so that no form is cut up by a shorter one inside it.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	for _, f := range forms {
		if len(f) >= 6 {
			s = strings.ReplaceAll(s, f, "[redacted]")
		}
	}
	return s
}

// NewRequest builds the refresh request (RFC 6749 §6) without sending it: POST to
// TokenURL, an application/x-www-form-urlencoded body with grant_type,
// refresh_token, scope and the options' parameters, client authentication from
// Auth, and the headers Accept: application/json and User-Agent. The body can be
// replayed (GetBody is set). Send it with any http.Client and hand the response to
// [Client.ParseResponse]; [Client.Refresh] does both.
//
// Nothing is sent when the input is wrong: an empty refresh token, a TokenURL that
// is not https (http only on a loopback host, or with AllowInsecureHTTP), an
// invalid option, or an Auth error each give a [*ConfigError].
func (c *Client) NewRequest(ctx context.Context, refreshToken string, opts ...RequestOption) (*http.Request, error) {
	if c == nil {
		return nil, &ConfigError{Field: "Client", Reason: "nil *Client"}
	}
	if ctx == nil {
		return nil, &ConfigError{Field: "ctx", Reason: "nil context"}
	}
	if refreshToken == "" {
		return nil, &ConfigError{Field: "refreshToken", Reason: "empty refresh token", Err: ErrNoRefreshToken}
	}
	if c.TokenURL == "" {
		return nil, &ConfigError{Field: "TokenURL", Reason: "empty"}
	}
	if c.MaxResponseBytes < 0 {
		return nil, &ConfigError{Field: "MaxResponseBytes", Reason: "negative"}
	}
	var o requestOptions
	if len(opts) > 0 {
		o = applyOptions(opts)
	}
	if o.err != nil {
		return nil, o.err
	}
	own := []param{{"grant_type", "refresh_token"}, {"refresh_token", refreshToken}}
	if len(o.scopes) > 0 {
		own = append(own, param{"scope", strings.Join(o.scopes, " ")})
	}
	return c.newFormRequest(ctx, "TokenURL", c.TokenURL, refreshToken, own, o)
}

// newFormRequest builds a POST of a form to endpoint (the Client's field
// endpointField): the call's own parameters, then the options' and client
// authentication's, with the headers, the Auth and the checks that every
// request to the authorization server gets. A refresh and a revocation
// ([Client.Revoke]) are both built here, so whatever a request gains here
// (client authentication, headers, proofs) reaches both. token is the token the
// request carries, which no error text may echo.
func (c *Client) newFormRequest(ctx context.Context, endpointField, endpoint, token string, own []param, o requestOptions) (*http.Request, error) {
	now := c.now()
	info := &requestInfo{refreshToken: token, sent: now}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, requestInfoKey{}, info), http.MethodPost, endpoint, nil)
	if err != nil {
		return nil, endpointURLError(endpointField, endpoint)
	}
	if err := c.checkEndpointURL(endpointField, req.URL); err != nil {
		return nil, err
	}

	req.Header["Content-Type"] = []string{"application/x-www-form-urlencoded"}
	req.Header["Accept"] = []string{"application/json"}
	req.Header["User-Agent"] = []string{c.userAgent()}
	for _, h := range o.headers {
		req.Header[h.name] = []string{h.value}
	}

	// The audience of a client assertion is the token endpoint, for a
	// revocation too; the revocation endpoint stands in when there is none.
	ar := &AuthRequest{TokenURL: cmp.Or(c.TokenURL, endpoint), Issuer: c.Issuer, Time: now, Header: req.Header}
	if c.Auth != nil {
		if err := c.Auth.Authenticate(ar); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				return nil, err
			}
			return nil, &ConfigError{Field: "Auth", Reason: "client authentication failed: " + err.Error(), Err: err}
		}
		// Header names as the Auth spelled them go on the wire as they are:
		// canonicalise them, so that checks and redaction see every value.
		for k, v := range req.Header {
			if ck := http.CanonicalHeaderKey(k); ck != k {
				req.Header[ck] = append(req.Header[ck], v...)
				delete(req.Header, k)
			}
		}
		if err := ar.checkOneMethod(); err != nil {
			return nil, err
		}
		if ca, ok := c.Auth.(*clientAuth); ok {
			info.clientID, info.clientSecret = ca.clientID, ca.secret
		} else if aa, ok := c.Auth.(*assertionAuth); ok {
			info.clientID, info.clientSecret = aa.clientID, aa.secret
		} else {
			info.clientID, _ = ar.param("client_id")
			info.clientSecret, _ = ar.param("client_secret")
		}
		info.authorization = req.Header.Get("Authorization")
		info.assertion, _ = ar.param("client_assertion")
	}
	if c.DPoP != nil {
		if err := c.DPoP.tokenProof(req, info, now); err != nil {
			return nil, err
		}
	}

	body := formBody(own, o.params, ar.params)
	req.ContentLength = int64(len(body))
	// A *bytes.Reader is a body net/http knows to be in memory (io.NopCloser
	// around it included): it then writes the headers and the body together, in
	// one packet, where a reader of any other type gets the headers flushed first.
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return req, nil
}

// applyOptions collects what opts ask for. It is apart from NewRequest so that
// a request without options does not allocate the requestOptions.
func applyOptions(opts []RequestOption) requestOptions {
	var o requestOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// formBody is the form body: the groups' parameters, in order (the call's own,
// the options', then client authentication's).
func formBody(groups ...[]param) []byte {
	var b bytes.Buffer
	for _, g := range groups {
		for _, p := range g {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(p.name))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(p.value))
		}
	}
	return b.Bytes()
}

// endpointURLError is the ConfigError for an endpoint URL (the Client's field
// named field) that does not parse. Its
// reason is the parser's for the URL without its user info: a password that
// holds '/', '?' or '#' breaks the parse, and the parser's error would quote the
// part of it that it choked on. The URL itself is not quoted: it may carry a
// tenant or other private detail.
func endpointURLError(field, endpoint string) error {
	reason := "not a valid URL"
	_, err := url.Parse(withoutUserinfo(endpoint))
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		reason += ": " + ue.Err.Error()
	case err == nil:
		// Only the part that may be user info is at fault, so it stays unsaid.
		reason += " before its '@' (user info is not allowed: use Client.Auth for credentials)"
	}
	return &ConfigError{Field: field, Reason: reason}
}

// checkEndpointURL refuses an endpoint (the Client's field named field) that
// would leak the credentials: one without https (http only on loopback hosts,
// or by AllowInsecureHTTP), or with user info the http package would turn into
// a second Authorization.
func (c *Client) checkEndpointURL(field string, u *url.URL) error {
	switch {
	case u.Host == "":
		return &ConfigError{Field: field, Reason: "not an absolute URL with a host"}
	case u.User != nil:
		return &ConfigError{Field: field, Reason: "must not hold user info: use Client.Auth for credentials"}
	case u.Fragment != "":
		return &ConfigError{Field: field, Reason: "must not have a fragment (RFC 6749 §3.2)"}
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !c.AllowInsecureHTTP && !isLoopback(u.Hostname()) {
			return &ConfigError{Field: field, Reason: "http is allowed only for loopback hosts; use https (RFC 6749 §3.2) or set AllowInsecureHTTP"}
		}
	default:
		return &ConfigError{Field: field, Reason: fmt.Sprintf("scheme %q is not https", u.Scheme)}
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
