package refreshtest

import (
	"net/url"
	"slices"
	"time"
)

// The client authentication methods with a signed assertion (RFC 7523 §2.2),
// named as in the token_endpoint_auth_method registry.
const (
	// AuthPrivateKeyJWT: a JWT signed by the client's private key, checked
	// with Client.PublicKey (ECDSA P-256/384/521, RSA with RS256 or PS256, or
	// Ed25519).
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
	// AuthClientSecretJWT: a JWT signed with HS256 under Client.Secret.
	AuthClientSecretJWT AuthMethod = "client_secret_jwt"
)

// AssertionType is the client_assertion_type of a JWT assertion.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionState is what the server remembers of the assertions it took.
type assertionState struct {
	jtis map[string]time.Time // jti → the exp of its assertion: a replay before then is refused
}

// assertionClientLocked authenticates a request by its client_assertion
// (RFC 7523 §3): the type, the signature by the registered key or secret, iss
// and sub equal to the client ID, an aud naming the server (its URL, the
// issuer, or its token endpoint), an exp in the future and a jti not seen
// before.
func (s *Server) assertionClientLocked(rec *Request, form url.Values) (Client, *oauthError) {
	if form.Has("client_secret") {
		return Client{}, errInvalidRequest("more than one client authentication method: client_assertion and client_secret")
	}
	if form.Get("client_assertion_type") != AssertionType {
		return Client{}, errInvalidClient(false, "client_assertion_type is not "+AssertionType)
	}
	j, claims, err := parseJWS(form.Get("client_assertion"))
	if err != nil {
		return Client{}, errInvalidClient(false, "the client assertion is malformed: "+err.Error())
	}
	rec.ClientID = claims.Iss
	rec.AuthMethod = AuthPrivateKeyJWT
	if j.header.Alg == "HS256" {
		rec.AuthMethod = AuthClientSecretJWT
	}
	c, ok := s.clients[claims.Iss]
	switch {
	case !ok:
		return Client{}, errInvalidClient(false, "unknown client")
	case c.method() != rec.AuthMethod:
		return Client{}, errInvalidClient(false, "the client is registered for "+string(c.method()))
	}
	var key any = c.PublicKey
	if rec.AuthMethod == AuthClientSecretJWT {
		key = []byte(c.Secret)
	}
	if err := j.verify(key); err != nil {
		return Client{}, errInvalidClient(false, "the client assertion: "+err.Error())
	}
	now := rec.Time
	switch {
	case claims.Sub != claims.Iss:
		return Client{}, errInvalidClient(false, "the client assertion's sub is not its iss")
	case form.Has("client_id") && form.Get("client_id") != claims.Iss:
		return Client{}, errInvalidRequest("client_id differs from the client assertion's iss")
	case !slices.Contains(claims.Aud, s.URL) && !slices.Contains(claims.Aud, s.TokenURL()):
		return Client{}, errInvalidClient(false, "the client assertion's aud names neither the issuer nor the token endpoint")
	case claims.Exp == nil:
		return Client{}, errInvalidClient(false, "the client assertion has no exp")
	case !now.Before(time.Unix(*claims.Exp, 0)):
		return Client{}, errInvalidClient(false, "the client assertion expired")
	case claims.Jti == "":
		return Client{}, errInvalidClient(false, "the client assertion has no jti")
	}
	if s.assertions.jtis == nil {
		s.assertions.jtis = map[string]time.Time{}
	}
	for jti, exp := range s.assertions.jtis {
		if !now.Before(exp) {
			delete(s.assertions.jtis, jti)
		}
	}
	if _, seen := s.assertions.jtis[claims.Jti]; seen {
		return Client{}, errInvalidClient(false, "the client assertion's jti was already used (a replay)")
	}
	s.assertions.jtis[claims.Jti] = time.Unix(*claims.Exp, 0)
	return c, nil
}
