package refresh

import (
	"crypto"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/tokenrefresh/refresh/internal/jws"
)

// DefaultAssertionLifetime is how long a client assertion is valid when no
// [WithLifetime] is given: exp is iat plus this.
const DefaultAssertionLifetime = 60 * time.Second

// AssertionType is the client_assertion_type of a JWT client assertion
// (RFC 7523 §2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// AssertionTyp is the JWS "typ" that draft-ietf-oauth-rfc7523bis registers for
// client assertions, which [WithExplicitTyp] sends.
const AssertionTyp = "client-authentication+jwt"

// AssertionOption changes the client assertions that [PrivateKeyJWT] and
// [ClientSecretJWT] build.
type AssertionOption func(*assertionOptions)

type assertionOptions struct {
	keyID    string
	audience string
	lifetime time.Duration
	typ      string
	pss      bool
}

// WithKeyID sets the JWS "kid" header, which servers with several registered
// keys use to pick the one to verify with.
func WithKeyID(kid string) AssertionOption {
	return func(o *assertionOptions) { o.keyID = kid }
}

// WithAudience sets the assertion's "aud" instead of the default: Client.Issuer
// when it is set, as draft-ietf-oauth-rfc7523bis requires against
// audience-injection attacks, and TokenURL otherwise. Use it for a server that
// wants the token endpoint, or another value, whatever the issuer.
func WithAudience(aud string) AssertionOption {
	return func(o *assertionOptions) { o.audience = aud }
}

// WithLifetime sets how long each assertion is valid (exp minus iat) instead of
// DefaultAssertionLifetime. A lifetime under one second is refused with a
// [*ConfigError] when a request is built.
func WithLifetime(d time.Duration) AssertionOption {
	return func(o *assertionOptions) { o.lifetime = d }
}

// WithExplicitTyp sends the JWS header "typ": "client-authentication+jwt"
// ([AssertionTyp]) that draft-ietf-oauth-rfc7523bis registers. Servers that
// follow the draft require it; some older ones refuse a typ they do not know,
// which is why it is not the default.
func WithExplicitTyp() AssertionOption {
	return func(o *assertionOptions) { o.typ = AssertionTyp }
}

// WithPSS signs an RSA key's assertions with PS256 instead of RS256. It changes
// nothing for other keys.
func WithPSS() AssertionOption {
	return func(o *assertionOptions) { o.pss = true }
}

// assertionAuth is PrivateKeyJWT and ClientSecretJWT: a JWT client assertion
// (RFC 7523 §2.2) built anew, with a fresh jti, for every request.
type assertionAuth struct {
	name     string // "PrivateKeyJWT" or "ClientSecretJWT"
	clientID string
	secret   string // ClientSecretJWT only: the HMAC key, kept for redaction
	signer   *jws.Signer
	opts     assertionOptions
	err      error // a problem found at construction, reported on first use
}

// PrivateKeyJWT authenticates with a client assertion signed by key: the
// private_key_jwt method of OpenID Connect and RFC 7523 §2.2. The algorithm
// follows the key: ES256, ES384 or ES512 for an ECDSA key on P-256, P-384 or
// P-521; RS256 for RSA (PS256 with [WithPSS]); EdDSA for Ed25519. key may be
// any crypto.Signer, so a KMS or HSM key signs without being exported. A key of
// another type is refused with a [*ConfigError] when a request is built.
//
// Every request built, retries included, carries a new assertion: iss and sub
// are clientID, aud is Client.Issuer when set and TokenURL otherwise (see
// [WithAudience]), iat is the client's clock, exp is iat plus
// DefaultAssertionLifetime (see [WithLifetime]), and jti is 128 random bits. It
// is sent as client_assertion, with client_assertion_type and client_id.
func PrivateKeyJWT(clientID string, key crypto.Signer, opts ...AssertionOption) Auth {
	a := newAssertionAuth("PrivateKeyJWT", clientID, opts)
	if a.err == nil {
		var err error
		if a.signer, err = jws.New(key, a.opts.pss); err != nil {
			a.err = &ConfigError{Field: "PrivateKeyJWT", Reason: "key: " + err.Error()}
		}
	}
	return a
}

// ClientSecretJWT authenticates with a client assertion signed with HS256
// under clientSecret: the client_secret_jwt method of OpenID Connect. The
// assertion is built as [PrivateKeyJWT] builds it; the secret itself is never
// sent. An empty secret is refused with a [*ConfigError] when a request is
// built.
func ClientSecretJWT(clientID, clientSecret string, opts ...AssertionOption) Auth {
	a := newAssertionAuth("ClientSecretJWT", clientID, opts)
	a.secret = clientSecret
	if a.err == nil {
		var err error
		if a.signer, err = jws.NewHS256([]byte(clientSecret)); err != nil {
			a.err = &ConfigError{Field: "ClientSecretJWT", Reason: "client secret: " + err.Error()}
		}
	}
	return a
}

func newAssertionAuth(name, clientID string, opts []AssertionOption) *assertionAuth {
	a := &assertionAuth{name: name, clientID: clientID, opts: assertionOptions{lifetime: DefaultAssertionLifetime}}
	for _, opt := range opts {
		if opt != nil {
			opt(&a.opts)
		}
	}
	switch {
	case clientID == "":
		a.err = &ConfigError{Field: name, Reason: "empty client ID"}
	case !utf8.ValidString(clientID):
		a.err = &ConfigError{Field: name, Reason: "client ID is not valid UTF-8, which a JWT's iss cannot carry"}
	case a.opts.lifetime < time.Second:
		a.err = &ConfigError{Field: name, Reason: fmt.Sprintf("assertion lifetime %v is under one second", a.opts.lifetime)}
	}
	return a
}

// assertionHeader and assertionClaims are the JWS header and the JWT claims of
// one client assertion.
type assertionHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Typ string `json:"typ,omitempty"`
}

type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

// Authenticate builds a new assertion for r and adds it to the body.
func (a *assertionAuth) Authenticate(r *AuthRequest) error {
	if a.err != nil {
		return a.err
	}
	assertion, err := a.assertion(r)
	if err != nil {
		return err
	}
	r.params = append(r.params,
		param{"client_id", a.clientID},
		param{"client_assertion_type", AssertionType},
		param{"client_assertion", assertion})
	return nil
}

// assertion signs the claims of one assertion for r.
func (a *assertionAuth) assertion(r *AuthRequest) (string, error) {
	aud := a.opts.audience
	switch {
	case aud != "":
	case r.Issuer != "":
		aud = r.Issuer
	default:
		aud = r.TokenURL
	}
	if !utf8.ValidString(aud) {
		return "", &ConfigError{Field: a.name, Reason: "the audience (WithAudience, Issuer or TokenURL) is not valid UTF-8, which a JWT's aud cannot carry"}
	}
	jti := rand.Text() // 26 base32 characters: 130 random bits
	header, err := json.Marshal(assertionHeader{Alg: a.signer.Alg(), Kid: a.opts.keyID, Typ: a.opts.typ})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(assertionClaims{
		Iss: a.clientID, Sub: a.clientID, Aud: aud,
		Iat: r.Time.Unix(), Exp: r.Time.Add(a.opts.lifetime).Unix(), Jti: jti,
	})
	if err != nil {
		return "", err
	}
	s, err := a.signer.Sign(header, claims)
	if err != nil {
		return "", &ConfigError{Field: a.name, Reason: err.Error(), Err: err}
	}
	return s, nil
}

// endpointAuthMethod is the method's RFC 7591 name.
func (a *assertionAuth) endpointAuthMethod() string {
	if a.name == "ClientSecretJWT" {
		return "client_secret_jwt"
	}
	return "private_key_jwt"
}

// describe gives the method, the client ID, the algorithm and the options; for
// ClientSecretJWT whether there is a secret, never the secret or the key.
func (a *assertionAuth) describe() (string, []printField) {
	alg := word("none")
	if a.signer != nil {
		alg = word(a.signer.Alg())
	}
	return "refresh." + a.name, printFields{{"ClientID", a.clientID}, {"Alg", alg}}.
		with(a.name == "ClientSecretJWT", "ClientSecret", secretOf(a.secret)).
		with(a.opts.keyID != "", "KeyID", a.opts.keyID).
		with(a.opts.audience != "", "Audience", redactURL(a.opts.audience)).
		with(a.opts.lifetime != DefaultAssertionLifetime, "Lifetime", a.opts.lifetime).
		with(a.opts.typ != "", "Typ", a.opts.typ)
}

// String describes the method without its key or secret.
func (a *assertionAuth) String() string { return render(a) }

// Format writes String for every verb (%q quotes it).
func (a *assertionAuth) Format(f fmt.State, verb rune) { formatText(f, verb, a.String()) }

// LogValue gives slog what String shows, as a group.
func (a *assertionAuth) LogValue() slog.Value { return logValue(a) }

// tlsAuth is TLSClientAuth.
type tlsAuth struct{ clientID string }

// TLSClientAuth authenticates with a TLS client certificate (RFC 8705 §2, the
// tls_client_auth method): it sends client_id in the body, and the certificate
// is the one Client.HTTPClient presents (its Transport's TLSClientConfig). An
// access token bound to that certificate works through [Transport] when its
// Base presents the same certificate. An empty client ID is refused with a
// [*ConfigError].
func TLSClientAuth(clientID string) Auth { return &tlsAuth{clientID: clientID} }

// Authenticate adds client_id to r.
func (a *tlsAuth) Authenticate(r *AuthRequest) error {
	if a.clientID == "" {
		return &ConfigError{Field: "TLSClientAuth", Reason: "empty client ID"}
	}
	r.params = append(r.params, param{"client_id", a.clientID})
	return nil
}

// endpointAuthMethod is the method's RFC 7591 name.
func (a *tlsAuth) endpointAuthMethod() string { return "tls_client_auth" }

func (a *tlsAuth) describe() (string, []printField) {
	return "refresh.TLSClientAuth", printFields{{"ClientID", a.clientID}}
}

// String describes the method and client ID.
func (a *tlsAuth) String() string { return render(a) }

// Format writes String for every verb (%q quotes it).
func (a *tlsAuth) Format(f fmt.State, verb rune) { formatText(f, verb, a.String()) }

// LogValue gives slog what String shows, as a group.
func (a *tlsAuth) LogValue() slog.Value { return logValue(a) }
