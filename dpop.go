package refresh

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tokenrefresh/refresh/internal/jws"
)

// DPoP proves possession of a key with every request (RFC 9449): set it as
// Client.DPoP, and every token request carries a proof, and [Transport] sends
// the DPoP-bound access tokens it gets with a proof of their own. Make it with
// [NewDPoP].
//
// A DPoP remembers the nonces servers give in DPoP-Nonce, per origin, from
// every response that [Client.Refresh] and [Transport] receive (a request from
// [Client.NewRequest] sent by other means teaches it nothing): keep one DPoP
// per key, shared by the Clients and Transports that use the key. It is safe
// for concurrent use.
//
// A refresh token bound to the key (as public clients get) can be used only
// with the same key: the key must outlive the refresh token, and be the same
// on every replica that shares the tokens.
type DPoP struct {
	signer *jws.Signer
	header []byte // the proof's JWS header: alg, typ dpop+jwt, jwk

	mu     sync.RWMutex
	nonces map[string]string // origin ("https://host:port") → the last nonce it gave
}

// maxNonceOrigins bounds how many origins' nonces a DPoP remembers.
const maxNonceOrigins = 256

// NewDPoP returns a DPoP that signs its proofs with key. The algorithm follows
// the key as for [PrivateKeyJWT]: ES256, ES384 or ES512 for an ECDSA key on
// P-256, P-384 or P-521, RS256 for RSA, EdDSA for Ed25519. key may be any
// crypto.Signer, so a KMS or HSM key signs without being exported. Any other
// key is refused with a [*ConfigError].
func NewDPoP(key crypto.Signer) (*DPoP, error) {
	s, err := jws.New(key, false)
	if err != nil {
		return nil, &ConfigError{Field: "NewDPoP", Reason: "key: " + err.Error()}
	}
	header := `{"alg":"` + s.Alg() + `","typ":"dpop+jwt","jwk":` + s.JWK() + `}`
	return &DPoP{signer: s, header: []byte(header), nonces: map[string]string{}}, nil
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of the public key, base64url
// without padding: the dpop_jkt of an authorization request (RFC 9449 §10),
// and the cnf.jkt that a bound access token carries.
// A DPoP not made by NewDPoP has none: "".
func (d *DPoP) Thumbprint() string {
	if d == nil || d.signer == nil {
		return ""
	}
	return d.signer.Thumbprint()
}

// Alg is the JWS algorithm of the proofs, for matching a server's
// dpop_signing_alg_values_supported.
// A DPoP not made by NewDPoP has none: "".
func (d *DPoP) Alg() string {
	if d == nil || d.signer == nil {
		return ""
	}
	return d.signer.Alg()
}

// origin is the key of a URL's nonce: its scheme and host, lower-case.
func origin(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// nonce returns the nonce last given by u's origin, or "".
func (d *DPoP) nonce(u *url.URL) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.nonces[origin(u)]
}

// learn remembers the DPoP-Nonce that a response from u's origin carries, if
// it carries one, and returns the nonce now remembered for that origin. A value
// that is not a nonce (RFC 9449 §8.1: 1*NQCHAR) is ignored.
func (d *DPoP) learn(u *url.URL, h http.Header) string {
	v := h.Get("Dpop-Nonce")
	if v == "" || !isNonce(v) {
		return d.nonce(u) // nothing to write: a read lock is enough
	}
	key := origin(u)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nonces == nil {
		d.nonces = map[string]string{}
	}
	if d.nonces[key] != v {
		if _, known := d.nonces[key]; !known && len(d.nonces) >= maxNonceOrigins {
			for k := range d.nonces { // forget one origin to make room
				delete(d.nonces, k)
				break
			}
		}
		d.nonces[key] = v
	}
	return d.nonces[key]
}

// isNonce reports whether v is made of NQCHAR: printable ASCII but '"' and '\'.
func isNonce(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// proof signs a DPoP proof (RFC 9449 §4.2) for a request of method to u: htu is
// u without its query and fragment, nonce is included when not empty, and ath
// (the access token's hash, for a resource) when accessToken is not empty.
func (d *DPoP) proof(method string, u *url.URL, nonce, accessToken string, now time.Time) (string, error) {
	if d.signer == nil {
		return "", &ConfigError{Field: "DPoP", Reason: "not made by NewDPoP: it has no key"}
	}
	var jti [16]byte
	rand.Read(jti[:]) // never fails: since Go 1.24 it crashes the program instead
	b64 := base64.RawURLEncoding
	claims := make([]byte, 0, 160+len(u.Host)+len(u.Path)+len(nonce))
	claims = append(claims, `{"jti":"`...)
	claims = b64.AppendEncode(claims, jti[:])
	claims = append(claims, `","htm":`...)
	claims = appendJSONString(claims, method)
	claims = append(claims, `,"htu":`...)
	claims = appendJSONString(claims, strings.ToLower(u.Scheme)+"://"+u.Host+u.EscapedPath())
	claims = append(claims, `,"iat":`...)
	claims = strconv.AppendInt(claims, now.Unix(), 10)
	if nonce != "" {
		claims = append(claims, `,"nonce":`...)
		claims = appendJSONString(claims, nonce)
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims = append(claims, `,"ath":"`...)
		claims = b64.AppendEncode(claims, sum[:])
		claims = append(claims, '"')
	}
	claims = append(claims, '}')
	p, err := d.signer.Sign(d.header, claims)
	if err != nil {
		return "", &ConfigError{Field: "DPoP", Reason: err.Error(), Err: err}
	}
	return p, nil
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s) // rare: a string that needs escapes, or not ASCII
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// errUseDPoPNonce matches the token endpoint's answer that a nonce is needed.
const errUseDPoPNonce = ErrorCode("use_dpop_nonce")

// tokenProof adds a proof to a token request built at now, with the nonce last
// given by the token endpoint's origin, and notes the proof and the nonce in
// info.
func (d *DPoP) tokenProof(req *http.Request, info *requestInfo, now time.Time) error {
	nonce := d.nonce(req.URL)
	p, err := d.proof(http.MethodPost, req.URL, nonce, "", now)
	if err != nil {
		return err
	}
	req.Header["Dpop"] = []string{p}
	info.proof, info.dpopNonce = p, nonce
	return nil
}

// retryWithNonce learns the nonce of a token endpoint's response to req and
// reports whether the request is worth one more try: the server answered
// use_dpop_nonce (RFC 9449 §8) and gave a nonce other than the one sent.
func (d *DPoP) retryWithNonce(req *http.Request, h http.Header, err error) bool {
	if d == nil {
		return false
	}
	now := d.learn(req.URL, h)
	info, _ := req.Context().Value(requestInfoKey{}).(*requestInfo)
	return err != nil && info != nil && now != "" && now != info.dpopNonce && errors.Is(err, errUseDPoPNonce)
}

// roundTripDPoP is Transport.RoundTrip for a DPoP-bound access token:
// "Authorization: DPoP <token>" and a proof with ath. A 401 that asks for a
// nonce (WWW-Authenticate: DPoP error="use_dpop_nonce") and gives a new one
// replays the request once with it, when its body can be replayed; a 401 that
// rejects the token is handled as for Bearer, once.
func (t *Transport) roundTripDPoP(req *http.Request, base http.RoundTripper, c *cached) (*http.Response, error) {
	var d *DPoP
	if t.Source.client != nil {
		d = t.Source.client.DPoP
	}
	if d == nil {
		closeBody(req)
		return nil, &ConfigError{Field: "TokenType", Reason: "a DPoP-bound token needs a proof with every request (RFC 9449): set Client.DPoP to the key it is bound to"}
	}
	now := t.Source.now
	sent := d.nonce(req.URL)
	r, err := dpopRequest(req, d, c, sent, now())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		if err == nil {
			d.learn(req.URL, resp.Header)
		}
		return resp, err
	}
	nonce := d.learn(req.URL, resp.Header)
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody && req.GetBody == nil {
		if tokenRejected(resp.Header) {
			t.Source.Invalidate(c.tok)
		}
		return resp, nil
	}
	next := c
	switch {
	case askedForNonce(resp.Header) && nonce != "" && nonce != sent:
		emit(t.Source, "nonce_retry", t.Source.hooks.OnNonceRetry, NonceRetry{Endpoint: "resource"})
	case tokenRejected(resp.Header):
		t.Source.Invalidate(c.tok)
		next, err = t.Source.state(req.Context())
		if err != nil || !next.dpop || next.tok.AccessToken == c.tok.AccessToken {
			return resp, nil
		}
	default:
		return resp, nil
	}
	r, err = dpopRequest(req, d, next, nonce, now())
	if err != nil {
		return resp, nil
	}
	if hasBody {
		if r.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	discard(resp)
	resp, err = base.RoundTrip(r)
	if err == nil {
		d.learn(req.URL, resp.Header)
	}
	return resp, err
}

// dpopRequest is authorize for a DPoP token, with a proof for the request.
func dpopRequest(req *http.Request, d *DPoP, c *cached, nonce string, now time.Time) (*http.Request, error) {
	p, err := d.proof(req.Method, req.URL, nonce, c.tok.AccessToken, now)
	if err != nil {
		return nil, err
	}
	r := authorize(req, c.authz)
	r.Header["Dpop"] = []string{p}
	return r, nil
}

// askedForNonce reports whether a 401's WWW-Authenticate has a DPoP challenge
// with error="use_dpop_nonce" (RFC 9449 §9).
func askedForNonce(h http.Header) bool {
	for _, v := range h.Values("Www-Authenticate") {
		for _, ch := range parseChallenges(v) {
			if strings.EqualFold(ch.scheme, "DPoP") && ch.err == "use_dpop_nonce" {
				return true
			}
		}
	}
	return false
}

// describe gives the algorithm and the key's thumbprint, which is public.
func (d *DPoP) describe() (string, []printField) {
	if d == nil || d.signer == nil {
		return "refresh.DPoP(nil)", nil
	}
	return "refresh.DPoP", printFields{{"Alg", word(d.signer.Alg())}, {"Thumbprint", d.signer.Thumbprint()}}
}

// String describes the DPoP by its algorithm and its key's thumbprint, never the
// key or a nonce.
func (d *DPoP) String() string { return render(d) }

// Format writes String for every verb (%q quotes it).
func (d *DPoP) Format(f fmt.State, verb rune) { formatText(f, verb, d.String()) }

// LogValue gives slog what String shows, as a group.
func (d *DPoP) LogValue() slog.Value { return logValue(d) }
