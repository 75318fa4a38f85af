package refresh

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The well-known paths of a metadata document: RFC 8414's, inserted before the
// issuer's path, and OpenID Connect Discovery's, appended after it.
const (
	wellKnownOAuth = "/.well-known/oauth-authorization-server"
	wellKnownOIDC  = "/.well-known/openid-configuration"
)

// Metadata is an authorization server's metadata (RFC 8414 §2), or an OpenID
// Provider's (OpenID Connect Discovery 1.0 §3), as [Discover] found it. The
// members this package names have fields; every other member stays reachable
// through [Metadata.Extra] and [Metadata.Fields]. A field whose member was
// absent is empty: for TokenEndpointAuthMethodsSupported that means
// client_secret_basic (RFC 8414 §2), which [Metadata.NewClient] takes into
// account.
//
// Metadata holds no secret. Treat a value that Discover returned as
// read-only, or copy it, when it is shared between goroutines.
type Metadata struct {
	Issuer                string // issuer: equal to the issuer asked for
	AuthorizationEndpoint string // authorization_endpoint
	TokenEndpoint         string // token_endpoint
	RevocationEndpoint    string // revocation_endpoint (RFC 7009)
	IntrospectionEndpoint string // introspection_endpoint (RFC 7662)
	JWKSURI               string // jwks_uri
	UserinfoEndpoint      string // userinfo_endpoint (OpenID Connect)
	EndSessionEndpoint    string // end_session_endpoint (OpenID Connect RP-Initiated Logout)

	ScopesSupported        []string // scopes_supported
	ResponseTypesSupported []string // response_types_supported
	GrantTypesSupported    []string // grant_types_supported

	// TokenEndpointAuthMethodsSupported is token_endpoint_auth_methods_supported:
	// client_secret_basic, client_secret_post, private_key_jwt, none, ...
	TokenEndpointAuthMethodsSupported          []string
	TokenEndpointAuthSigningAlgValuesSupported []string // token_endpoint_auth_signing_alg_values_supported
	RevocationEndpointAuthMethodsSupported     []string // revocation_endpoint_auth_methods_supported
	CodeChallengeMethodsSupported              []string // code_challenge_methods_supported
	DPoPSigningAlgValuesSupported              []string // dpop_signing_alg_values_supported (RFC 9449)

	// MTLSEndpointAliases is mtls_endpoint_aliases (RFC 8705 §5): the endpoints
	// a client authenticating with a TLS certificate uses instead, keyed by
	// member name ("token_endpoint", "revocation_endpoint", ...).
	MTLSEndpointAliases map[string]string
	// TLSClientCertificateBoundAccessTokens is
	// tls_client_certificate_bound_access_tokens (RFC 8705 §3.3).
	TLSClientCertificateBoundAccessTokens bool

	// extra holds the members no field holds, for Extra and Fields; nil when
	// there are none.
	extra map[string]rawJSON
}

// Extra returns a member of the metadata that no field of Metadata holds,
// decoded as [Tokens.Extra] decodes: a string, json.Number, bool, nil, []any or
// map[string]any. It returns nil for an absent member and for the members the
// fields hold, and for a nil m.
func (m *Metadata) Extra(name string) any {
	if m == nil {
		return nil
	}
	raw, ok := m.extra[name]
	if !ok {
		return nil
	}
	return decodeAny(raw)
}

// Fields returns every member that Extra returns, decoded as by Extra, in a new
// map; nil when there are none (or m is nil).
func (m *Metadata) Fields() map[string]any {
	if m == nil {
		return nil
	}
	return decodeAll(m.extra)
}

// Discover fetches the metadata of the authorization server identified by
// issuer. It asks RFC 8414's well-known URL first, with
// /.well-known/oauth-authorization-server inserted before the issuer's path
// (https://host/tenant gives https://host/.well-known/oauth-authorization-server/tenant),
// then, when that gives no usable document, OpenID Connect's, with
// /.well-known/openid-configuration appended (https://host/tenant/.well-known/openid-configuration).
//
// The document's issuer must equal issuer exactly (RFC 8414 §3.3): otherwise
// the error is a [*DiscoveryError] that wraps [ErrIssuerMismatch], and the
// other URL is not tried, since the answer may come from a server mixing up
// clients. The rules of the token endpoint apply: issuer must be https (http
// only for a loopback host) without query, fragment or user info, or the error
// is a [*ConfigError] and nothing is sent; no redirect is followed; the body is
// read through a cap of [DefaultMaxResponseBytes].
//
// hc sends the requests; nil means a client with [DefaultTimeout], never
// http.DefaultClient. Its redirect policy is not used, and hc is not modified.
// Any other failure of both URLs is a [*DiscoveryError]; a failure of the
// network is the transport's error, wrapped, and ends the search at once.
func Discover(ctx context.Context, hc *http.Client, issuer string) (*Metadata, error) {
	if ctx == nil {
		return nil, &ConfigError{Field: "ctx", Reason: "nil context"}
	}
	u, err := checkIssuer(issuer)
	if err != nil {
		return nil, err
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	origin := u.Scheme + "://" + u.Host
	m, err := fetchMetadata(ctx, hc, origin+wellKnownOAuth+path, issuer)
	if first, ok := err.(*DiscoveryError); ok && first.Err != ErrIssuerMismatch {
		m, err = fetchMetadata(ctx, hc, origin+path+wellKnownOIDC, issuer)
		if de, ok := err.(*DiscoveryError); ok && de.Err == nil {
			de.Err = first
		}
	}
	return m, err
}

// checkIssuer parses an issuer identifier (RFC 8414 §2): an https URL (http
// for a loopback host) with no query, fragment or user info.
func checkIssuer(issuer string) (*url.URL, error) {
	if issuer == "" {
		return nil, &ConfigError{Field: "issuer", Reason: "empty"}
	}
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, endpointURLError("issuer", issuer)
	}
	switch {
	case u.RawQuery != "" || u.ForceQuery:
		return nil, &ConfigError{Field: "issuer", Reason: "must not have a query (RFC 8414 §2)"}
	case u.Fragment != "":
		return nil, &ConfigError{Field: "issuer", Reason: "must not have a fragment (RFC 8414 §2)"}
	}
	if strings.EqualFold(u.Scheme, "http") && !isLoopback(u.Hostname()) {
		return nil, &ConfigError{Field: "issuer", Reason: "http is allowed only for loopback hosts; an issuer is https (RFC 8414 §2)"}
	}
	// The token endpoint's rules for the rest.
	if err := (&Client{}).checkEndpointURL("issuer", u); err != nil {
		return nil, err
	}
	return u, nil
}

// fetchMetadata asks metaURL for the metadata of issuer.
func fetchMetadata(ctx context.Context, hc *http.Client, metaURL, issuer string) (*Metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metaURL, nil)
	if err != nil {
		return nil, endpointURLError("issuer", issuer)
	}
	req.Header["Accept"] = []string{"application/json"}
	req.Header["User-Agent"] = []string{DefaultUserAgent}
	resp, err := noRedirects(hc).Do(req)
	if err != nil {
		return nil, transportError("discovery", err)
	}
	defer resp.Body.Close()
	fail := func(de *DiscoveryError) *DiscoveryError {
		de.URL, de.StatusCode = redactURL(metaURL), resp.StatusCode
		return de
	}
	switch s := resp.StatusCode; {
	case s >= 300 && s < 400:
		reason := "redirect not followed"
		if loc := resp.Header.Get("Location"); loc != "" {
			reason += " (to " + clip(redactURL(loc), 120) + ")"
		}
		return nil, fail(&DiscoveryError{Reason: reason})
	case s != http.StatusOK:
		return nil, fail(&DiscoveryError{Reason: "no metadata document here"})
	}
	body, err := readCapped(resp, DefaultMaxResponseBytes)
	if err != nil {
		if err == ErrResponseTooLarge {
			return nil, fail(&DiscoveryError{Reason: fmt.Sprintf("body larger than %d bytes", DefaultMaxResponseBytes), Err: err})
		}
		return nil, fail(&DiscoveryError{Reason: "reading body", Err: err})
	}
	m, err := parseMetadata(body, issuer)
	if err != nil {
		return nil, fail(err.(*DiscoveryError))
	}
	return m, nil
}

// metadataMember is a member that a field of Metadata holds.
type metadataMember struct {
	name string
	dst  func(m *Metadata) any // the field, as a pointer for json.Unmarshal
	want string                // what the member must be, for the error
}

var metadataMembers = [...]metadataMember{
	{"issuer", func(m *Metadata) any { return &m.Issuer }, "a string"},
	{"authorization_endpoint", func(m *Metadata) any { return &m.AuthorizationEndpoint }, "a string"},
	{"token_endpoint", func(m *Metadata) any { return &m.TokenEndpoint }, "a string"},
	{"revocation_endpoint", func(m *Metadata) any { return &m.RevocationEndpoint }, "a string"},
	{"introspection_endpoint", func(m *Metadata) any { return &m.IntrospectionEndpoint }, "a string"},
	{"jwks_uri", func(m *Metadata) any { return &m.JWKSURI }, "a string"},
	{"userinfo_endpoint", func(m *Metadata) any { return &m.UserinfoEndpoint }, "a string"},
	{"end_session_endpoint", func(m *Metadata) any { return &m.EndSessionEndpoint }, "a string"},
	{"scopes_supported", func(m *Metadata) any { return &m.ScopesSupported }, "an array of strings"},
	{"response_types_supported", func(m *Metadata) any { return &m.ResponseTypesSupported }, "an array of strings"},
	{"grant_types_supported", func(m *Metadata) any { return &m.GrantTypesSupported }, "an array of strings"},
	{"token_endpoint_auth_methods_supported", func(m *Metadata) any { return &m.TokenEndpointAuthMethodsSupported }, "an array of strings"},
	{"token_endpoint_auth_signing_alg_values_supported", func(m *Metadata) any { return &m.TokenEndpointAuthSigningAlgValuesSupported }, "an array of strings"},
	{"revocation_endpoint_auth_methods_supported", func(m *Metadata) any { return &m.RevocationEndpointAuthMethodsSupported }, "an array of strings"},
	{"code_challenge_methods_supported", func(m *Metadata) any { return &m.CodeChallengeMethodsSupported }, "an array of strings"},
	{"dpop_signing_alg_values_supported", func(m *Metadata) any { return &m.DPoPSigningAlgValuesSupported }, "an array of strings"},
	{"mtls_endpoint_aliases", func(m *Metadata) any { return &m.MTLSEndpointAliases }, "an object of strings"},
	{"tls_client_certificate_bound_access_tokens", func(m *Metadata) any { return &m.TLSClientCertificateBoundAccessTokens }, "a boolean"},
}

// parseMetadata reads a metadata document for issuer. Its error is a
// *DiscoveryError without URL and status, naming the member at fault and
// never quoting a value.
func parseMetadata(body []byte, issuer string) (*Metadata, error) {
	var obj map[string]rawJSON
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, &DiscoveryError{Reason: "not a JSON object"}
	}
	m := &Metadata{}
	for _, mb := range metadataMembers {
		raw, ok := obj[mb.name]
		delete(obj, mb.name)
		if !ok || raw == "null" {
			continue
		}
		if json.Unmarshal([]byte(raw), mb.dst(m)) != nil {
			return nil, &DiscoveryError{Field: mb.name, Reason: "not " + mb.want}
		}
	}
	if m.Issuer == "" {
		return nil, &DiscoveryError{Field: "issuer", Reason: "missing", Err: ErrIssuerMismatch}
	}
	if m.Issuer != issuer {
		return nil, &DiscoveryError{Field: "issuer",
			Reason: fmt.Sprintf("%q, not the issuer asked for, %q", clip(m.Issuer, 200), clip(issuer, 200)),
			Err:    ErrIssuerMismatch}
	}
	if len(obj) > 0 {
		m.extra = obj
	}
	return m, nil
}

// authMethodNamer is an [Auth] that names its method as the
// token_endpoint_auth_method registry does (RFC 7591 §2): every Auth of this
// package.
type authMethodNamer interface{ endpointAuthMethod() string }

// NewClient returns a Client for the server m describes, authenticating with
// auth: TokenURL is m's token endpoint and RevocationURL its revocation
// endpoint. When auth authenticates with a TLS client certificate
// (TLSClientAuth: tls_client_auth, RFC 8705), each is the
// server's mTLS alias for it when it publishes one. Set the other fields
// (HTTPClient, with the certificate for mutual TLS) on the result.
//
// It checks, without a request, that the server accepts auth's method: the
// method must be in m.TokenEndpointAuthMethodsSupported (client_secret_basic
// when the server published none, RFC 8414 §2). A mismatch is a [*ConfigError]
// that names both. The check covers the Auths of this package; an Auth of your
// own (or an [AuthFunc]) is not checked, and neither is a nil auth. A missing
// token endpoint is a [*ConfigError] too.
func (m *Metadata) NewClient(auth Auth) (*Client, error) {
	if m == nil {
		return nil, &ConfigError{Field: "Metadata", Reason: "nil *Metadata"}
	}
	if m.TokenEndpoint == "" {
		return nil, &ConfigError{Field: "Metadata.TokenEndpoint", Reason: "empty: the server publishes no token_endpoint"}
	}
	c := &Client{TokenURL: m.TokenEndpoint, RevocationURL: m.RevocationEndpoint, Issuer: m.Issuer, Auth: auth}
	namer, ok := auth.(authMethodNamer)
	if !ok {
		return c, nil
	}
	method := namer.endpointAuthMethod()
	supported := m.TokenEndpointAuthMethodsSupported
	if len(supported) == 0 {
		supported = []string{"client_secret_basic"} // the default of RFC 8414 §2
	}
	if !slices.Contains(supported, method) {
		return nil, &ConfigError{Field: "Auth", Reason: fmt.Sprintf(
			"the method %q is not in the server's token_endpoint_auth_methods_supported %q", method, supported)}
	}
	if method == "tls_client_auth" {
		if alias := m.MTLSEndpointAliases["token_endpoint"]; alias != "" {
			c.TokenURL = alias
		}
		if alias := m.MTLSEndpointAliases["revocation_endpoint"]; alias != "" {
			c.RevocationURL = alias
		}
	}
	return c, nil
}
