package refreshtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// WithDPoPNonces makes the server require DPoP nonces (RFC 9449 §8 and §9):
// a proof without the current nonce gets use_dpop_nonce (400 at the token
// endpoint, 401 at the resource) with the nonce in DPoP-Nonce, and every
// answer to a request with a proof carries the current nonce. The nonce
// changes after every n proofs the server accepted, so that a client must
// learn it from every response. n <= 0 (the default) requires no nonce.
//
// The server always accepts DPoP: a token request with a valid proof gets
// tokens of token_type DPoP bound to the proof's key (cnf.jkt, see
// [TokenInfo]), and for a public client ([AuthNone]) the new refresh token is
// bound to the key too (RFC 9449 §5), so that it works only with a proof by the
// same key.
func WithDPoPNonces(n int) Option {
	return func(s *options) { s.dpopNonceEvery = n }
}

// dpopProofWindow is how far a proof's iat may be from the server's clock.
const dpopProofWindow = 5 * time.Minute

// dpopState is what the server remembers for DPoP, under Server.mu.
type dpopState struct {
	nonce        string               // the current nonce; "" until the first is made
	accepted     int                  // proofs accepted since the nonce changed
	jtis         map[string]time.Time // jti → when it may be forgotten
	boundAccess  map[string]string    // access token → jkt
	boundRefresh map[string]string    // refresh token → jkt
}

// nonceLocked returns the current nonce, or "" when nonces are not required.
func (s *Server) nonceLocked() string {
	if s.dpopNonceEvery <= 0 {
		return ""
	}
	if s.dpop.nonce == "" {
		s.dpop.nonce = newNonce()
	}
	return s.dpop.nonce
}

func newNonce() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "n_" + hex.EncodeToString(b)
}

// proofError is why a proof was refused: its error code (invalid_dpop_proof
// or use_dpop_nonce) and description.
type proofError struct{ code, desc string }

// checkProofLocked verifies the DPoP proof of r (RFC 9449 §4.3) and returns
// the thumbprint of its key, or "" when r carries no proof. accessToken, when
// not empty, is the token the proof must name in ath. A proof refused only for
// its nonce still gives its key's thumbprint.
func (s *Server) checkProofLocked(r *http.Request, now time.Time, accessToken string) (string, *proofError) {
	vals := r.Header.Values("DPoP")
	if len(vals) == 0 {
		return "", nil
	}
	bad := func(desc string) (string, *proofError) { return "", &proofError{"invalid_dpop_proof", desc} }
	if len(vals) > 1 {
		return bad("more than one DPoP header")
	}
	j, claims, err := parseJWS(vals[0])
	if err != nil {
		return bad(err.Error())
	}
	if j.header.Typ != "dpop+jwt" {
		return bad("typ is not dpop+jwt")
	}
	if j.header.Alg == "HS256" || j.header.Alg == "none" {
		return bad("alg " + j.header.Alg + " is not an asymmetric algorithm")
	}
	pub, jkt, err := parseJWK(j.header.JWK)
	if err != nil {
		return bad(err.Error())
	}
	if err := j.verify(pub); err != nil {
		return bad(err.Error())
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	switch {
	case claims.Htm != r.Method:
		return bad("htm is not the request's method")
	case !sameHTU(claims.Htu, scheme, r.Host, r.URL.Path):
		return bad("htu is not the request's URL without query and fragment")
	case claims.Iat == nil:
		return bad("no iat")
	case time.Unix(*claims.Iat, 0).Sub(now).Abs() > dpopProofWindow:
		return bad("iat is too far from the server's clock")
	case claims.Jti == "":
		return bad("no jti")
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		if claims.Ath != b64.EncodeToString(sum[:]) {
			return bad("ath is not the hash of the access token")
		}
	}
	if s.dpop.jtis == nil {
		s.dpop.jtis = map[string]time.Time{}
	}
	for jti, until := range s.dpop.jtis {
		if now.After(until) {
			delete(s.dpop.jtis, jti)
		}
	}
	if _, seen := s.dpop.jtis[claims.Jti]; seen {
		return bad("the proof's jti was already used (a replay)")
	}
	if nonce := s.nonceLocked(); nonce != "" && claims.Nonce != nonce {
		return jkt, &proofError{"use_dpop_nonce", "a DPoP nonce is required"}
	}
	s.dpop.jtis[claims.Jti] = now.Add(2 * dpopProofWindow)
	if s.dpopNonceEvery > 0 {
		if s.dpop.accepted++; s.dpop.accepted >= s.dpopNonceEvery {
			s.dpop.nonce, s.dpop.accepted = newNonce(), 0
		}
	}
	return jkt, nil
}

// tokenProofLocked checks the proof of a token request and records its key's
// thumbprint in rec.
func (s *Server) tokenProofLocked(r *http.Request, rec *Request) (string, *oauthError) {
	jkt, perr := s.checkProofLocked(r, rec.Time, "")
	rec.DPoPJKT = jkt
	if perr != nil {
		return "", &oauthError{status: http.StatusBadRequest, code: perr.code, desc: perr.desc}
	}
	return jkt, nil
}

// checkBoundLocked refuses a refresh token bound to a key other than jkt's.
func (s *Server) checkBoundLocked(refreshToken, jkt string) *oauthError {
	if bound := s.dpop.boundRefresh[refreshToken]; bound != "" && bound != jkt {
		return errInvalidGrant("the refresh token is bound to a DPoP key this request does not prove")
	}
	return nil
}

// tokenType is the token_type of tokens issued for a proof by jkt.
func tokenType(jkt string) string {
	if jkt != "" {
		return "DPoP"
	}
	return "Bearer"
}

// bindLocked binds tokens to jkt: the new access token always, and for a
// public client the refresh token it goes on with (the new one, or the one
// used when it is kept).
func (s *Server) bindLocked(jkt, accessToken, refreshToken string, public bool) {
	if jkt == "" {
		return
	}
	if s.dpop.boundAccess == nil {
		s.dpop.boundAccess, s.dpop.boundRefresh = map[string]string{}, map[string]string{}
	}
	s.dpop.boundAccess[accessToken] = jkt
	if public && refreshToken != "" {
		s.dpop.boundRefresh[refreshToken] = jkt
	}
}

// serveDPoP is Resource for "Authorization: DPoP <token>": the token must be
// valid and bound to the key of a valid proof for this request, with ath.
func (s *Server) serveDPoP(w http.ResponseWriter, r *http.Request, tok string, next http.Handler) {
	s.mu.Lock()
	ti, reason := s.accessLocked(tok)
	var perr *proofError
	if reason == "" {
		var jkt string
		jkt, perr = s.checkProofLocked(r, s.now(), tok)
		switch {
		case perr != nil:
		case jkt == "":
			perr = &proofError{"invalid_dpop_proof", "a DPoP token needs a DPoP proof"}
		case jkt != ti.JKT:
			reason = "the access token is not bound to the proof's key"
		}
	}
	nonce := s.nonceLocked()
	s.mu.Unlock()
	if nonce != "" {
		w.Header().Set("DPoP-Nonce", nonce)
	}
	switch {
	case reason != "":
		unauthorized(w, `DPoP realm="refreshtest", error="invalid_token", error_description="`+reason+`"`)
	case perr != nil:
		unauthorized(w, `DPoP realm="refreshtest", error="`+perr.code+`", error_description="`+strings.NewReplacer(`"`, "'", `\`, "/").Replace(perr.desc)+`"`)
	default:
		next.ServeHTTP(w, r.WithContext(withTokenInfo(r.Context(), ti)))
	}
}

// sameHTU reports whether htu names the request's URL without query and
// fragment (RFC 9449 §4.3): scheme and host compare without case, the path
// exactly.
func sameHTU(htu, scheme, host, path string) bool {
	u, err := url.Parse(htu)
	return err == nil && u.RawQuery == "" && u.Fragment == "" && u.User == nil &&
		strings.EqualFold(u.Scheme, scheme) && strings.EqualFold(u.Host, host) && u.EscapedPath() == path
}
