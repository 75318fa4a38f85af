package refresh

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Auth adds client authentication to one token request (RFC 6749 §2.3). The
// package provides [ClientSecretBasic], [ClientSecretBasicRaw], [ClientSecretPost],
// [PublicClient], the signed assertions [PrivateKeyJWT] and [ClientSecretJWT], and
// [TLSClientAuth]; other methods (a provider's own scheme) implement Auth
// themselves or through [AuthFunc].
//
// Authenticate is called once for every request built, retries included, so a
// method that needs a fresh value per request (an assertion's jti) makes it there.
// It must use exactly one authentication method, must be safe for concurrent use,
// and must not print its secrets from String, Format or its errors.
type Auth interface {
	Authenticate(r *AuthRequest) error
}

// AuthFunc adapts a plain function to [Auth].
type AuthFunc func(r *AuthRequest) error

// Authenticate calls f(r).
func (f AuthFunc) Authenticate(r *AuthRequest) error { return f(r) }

// AuthRequest is the token request being built, as an [Auth] sees it: the
// endpoint it goes to, the client's clock, the headers, and a way to add body
// parameters. It is valid only during the Authenticate call.
type AuthRequest struct {
	// TokenURL is the token endpoint (Client.TokenURL): where a refresh goes,
	// and the audience of a client assertion (RFC 7523 §3). A revocation
	// ([Client.Revoke]) goes to Client.RevocationURL with the same TokenURL
	// here, or with RevocationURL when TokenURL is empty.
	TokenURL string
	// Issuer is the authorization server's issuer identifier (Client.Issuer),
	// or empty: the audience a client assertion should name when it is set
	// (draft-ietf-oauth-rfc7523bis).
	Issuer string
	// Time is the client's clock when the request was built.
	Time time.Time
	// Header holds the request's headers; Basic authentication sets
	// Authorization here.
	Header http.Header

	params []param
}

type param struct{ name, value string }

// SetParam adds a parameter to the request body, such as client_id or
// client_assertion. The refresh request's own parameters (grant_type,
// refresh_token, scope) are refused with a [*ConfigError].
func (r *AuthRequest) SetParam(name, value string) error {
	switch name {
	case "":
		return &ConfigError{Field: "AuthRequest.SetParam", Reason: "empty parameter name"}
	case "grant_type", "refresh_token", "scope":
		return &ConfigError{Field: "AuthRequest.SetParam", Reason: fmt.Sprintf("%q is set by the refresh request itself", name)}
	}
	for i := range r.params {
		if r.params[i].name == name {
			r.params[i].value = value
			return nil
		}
	}
	r.params = append(r.params, param{name, value})
	return nil
}

// param returns the value of a body parameter set through SetParam.
func (r *AuthRequest) param(name string) (string, bool) {
	for _, p := range r.params {
		if p.name == name {
			return p.value, true
		}
	}
	return "", false
}

// describe gives the token endpoint without its query, the time, and the names
// of the headers and body parameters set so far, never their values
// (Authorization and client_secret hold credentials).
func (r AuthRequest) describe() (string, []printField) {
	return "refresh.AuthRequest", printFields{
		{"TokenURL", redactURL(r.TokenURL)},
		{"Time", r.Time},
		{"Header", r.headerNames()},
		{"Params", r.paramNames()},
	}.with(r.Issuer != "", "Issuer", r.Issuer)
}

// String describes r without a secret: the token endpoint without its query, the
// time, and the names of the headers and body parameters set so far, never their
// values.
func (r AuthRequest) String() string { return render(r) }

// Format writes String for every verb (%q quotes it), so that no verb prints a
// secret.
func (r AuthRequest) Format(f fmt.State, verb rune) { formatText(f, verb, r.String()) }

// LogValue gives slog what String shows, as a group.
func (r AuthRequest) LogValue() slog.Value { return logValue(r) }

func (r AuthRequest) headerNames() []string { return slices.Sorted(maps.Keys(r.Header)) }

func (r AuthRequest) paramNames() []string {
	names := make([]string, len(r.params))
	for i, p := range r.params {
		names[i] = p.name
	}
	return names
}

// checkOneMethod reports a request that carries two client authentication methods
// at once, which RFC 6749 §2.3 forbids. Every Authorization value counts as one,
// under any spelling of the key: net/http sends Header["authorization"] as it is.
func (r *AuthRequest) checkOneMethod() error {
	methods := 0
	for k, vals := range r.Header {
		if http.CanonicalHeaderKey(k) == "Authorization" {
			for _, v := range vals {
				if v != "" {
					methods++
				}
			}
		}
	}
	if _, ok := r.param("client_secret"); ok {
		methods++
	}
	if _, ok := r.param("client_assertion"); ok {
		methods++
	}
	if methods > 1 {
		return &ConfigError{Field: "Auth", Reason: "more than one client authentication method in one request (RFC 6749 §2.3)"}
	}
	return nil
}

type authMethod uint8

const (
	methodBasic authMethod = iota
	methodBasicRaw
	methodPost
	methodNone
)

func (m authMethod) name() string {
	switch m {
	case methodBasic:
		return "ClientSecretBasic"
	case methodBasicRaw:
		return "ClientSecretBasicRaw"
	case methodPost:
		return "ClientSecretPost"
	default:
		return "PublicClient"
	}
}

// clientAuth is every built-in method. Its secret never leaves through fmt or slog:
// see Format and LogValue.
type clientAuth struct {
	method   authMethod
	clientID string
	secret   string
	header   string // the whole Authorization value, built once, for the Basic methods
	err      error  // a problem found at construction, reported on first use
}

// ClientSecretBasic authenticates with HTTP Basic as RFC 6749 §2.3.1 specifies:
// client ID and secret are each form-encoded (application/x-www-form-urlencoded)
// before being joined with ':' and base64-encoded. This is the method servers must
// support; golang.org/x/oauth2 calls it AuthStyleInHeader.
//
// Servers that compare the raw credentials instead of decoding them (Cloud Foundry
// UAA, Epic) reject IDs or secrets that contain characters the encoding changes;
// use [ClientSecretBasicRaw] for those.
func ClientSecretBasic(clientID, clientSecret string) Auth {
	a := &clientAuth{method: methodBasic, clientID: clientID, secret: clientSecret}
	a.header = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID)+":"+url.QueryEscape(clientSecret)))
	return a
}

// ClientSecretBasicRaw authenticates with HTTP Basic using the client ID and secret
// as they are (RFC 7617), without the form-encoding of RFC 6749 §2.3.1. Choose it
// only for a server known to need it (Cloud Foundry UAA, Epic); for IDs and secrets
// made of letters, digits and "-._~" both methods send the same bytes. A client ID
// that contains ':' cannot be sent this way and is refused with a [*ConfigError].
func ClientSecretBasicRaw(clientID, clientSecret string) Auth {
	a := &clientAuth{method: methodBasicRaw, clientID: clientID, secret: clientSecret}
	if strings.IndexByte(clientID, ':') >= 0 {
		a.err = &ConfigError{Field: "ClientSecretBasicRaw", Reason: "client ID contains ':', which raw Basic credentials cannot carry"}
	}
	a.header = "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+clientSecret))
	return a
}

// ClientSecretPost authenticates with client_id and client_secret in the request
// body (RFC 6749 §2.3.1), which servers may support instead of Basic.
func ClientSecretPost(clientID, clientSecret string) Auth {
	return &clientAuth{method: methodPost, clientID: clientID, secret: clientSecret}
}

// PublicClient identifies a client that has no secret (RFC 6749 §2.1, the "none"
// method of RFC 7591) by sending client_id in the body. For mutual-TLS client
// authentication (RFC 8705) use [TLSClientAuth], which names its method to
// [Metadata.NewClient].
func PublicClient(clientID string) Auth {
	return &clientAuth{method: methodNone, clientID: clientID}
}

// Authenticate adds the method's credentials to r.
func (a *clientAuth) Authenticate(r *AuthRequest) error {
	if a.err != nil {
		return a.err
	}
	if a.clientID == "" {
		return &ConfigError{Field: a.method.name(), Reason: "empty client ID"}
	}
	switch a.method {
	case methodBasic, methodBasicRaw:
		r.Header["Authorization"] = []string{a.header}
		return nil
	case methodPost:
		r.params = append(r.params, param{"client_id", a.clientID}, param{"client_secret", a.secret})
		return nil
	default:
		r.params = append(r.params, param{"client_id", a.clientID})
		return nil
	}
}

// endpointAuthMethod names the method as the token_endpoint_auth_method
// registry does (RFC 7591 §2), for checking it against a server's metadata
// ([Metadata.NewClient]). Raw Basic credentials are still client_secret_basic.
func (a *clientAuth) endpointAuthMethod() string {
	switch a.method {
	case methodBasic, methodBasicRaw:
		return "client_secret_basic"
	case methodPost:
		return "client_secret_post"
	default:
		return "none"
	}
}

// describe gives the method and client ID, and whether there is a secret.
func (a *clientAuth) describe() (string, []printField) {
	return "refresh." + a.method.name(), printFields{{"ClientID", a.clientID}}.
		with(a.method != methodNone, "ClientSecret", secretOf(a.secret))
}

// String describes the method and client ID, never the secret.
func (a *clientAuth) String() string { return render(a) }

// Format writes String for every verb (%q quotes it), so that no verb prints
// the secret.
func (a *clientAuth) Format(f fmt.State, verb rune) { formatText(f, verb, a.String()) }

// LogValue gives slog what String shows, as a group.
func (a *clientAuth) LogValue() slog.Value { return logValue(a) }
