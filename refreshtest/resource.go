package refreshtest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// TokenInfo describes the access token a request to the resource carried, as
// [TokenInfoFromContext] gives it to the handler inside [Server.Resource].
type TokenInfo struct {
	ClientID  string
	Scopes    []string
	ExpiresAt time.Time // zero when the token does not expire
	// JKT is the RFC 7638 thumbprint of the key a DPoP-bound token is bound to
	// (its cnf.jkt, RFC 9449 §6), or empty for a Bearer token.
	JKT string
}

type tokenInfoKey struct{}

// TokenInfoFromContext returns the TokenInfo that [Server.Resource] put in the
// context of a request it accepted.
func TokenInfoFromContext(ctx context.Context) (TokenInfo, bool) {
	ti, ok := ctx.Value(tokenInfoKey{}).(TokenInfo)
	return ti, ok
}

// Resource returns a handler that protects next with the server's access
// tokens, as a resource server does (RFC 6750). A request with
// "Authorization: Bearer <token>", where the token is one the server issued
// and is neither expired nor revoked on the server's clock, goes to next, with
// a [TokenInfo] in its context. Otherwise the handler answers 401 with a
// WWW-Authenticate Bearer challenge: without an error code when the request
// carried no Bearer token (RFC 6750 §3.1), and with error="invalid_token" when
// the token is unknown, expired or revoked, which is what makes a client such
// as refresh.Transport refresh and retry.
//
// Use it to put your own handler on an httptest.Server of your own; the
// server's [Server.ResourceURL] is Resource around a handler that describes
// the token.
func (s *Server) Resource(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		tok = strings.TrimSpace(tok)
		if strings.EqualFold(scheme, "DPoP") && tok != "" {
			s.serveDPoP(w, r, tok, next) // dpop.go
			return
		}
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			unauthorized(w, `Bearer realm="refreshtest"`)
			return
		}
		s.mu.Lock()
		ti, reason := s.accessLocked(tok)
		if reason == "" && ti.JKT != "" {
			reason = "the access token is DPoP-bound: send it with a proof (RFC 9449 §7)"
		}
		s.mu.Unlock()
		if reason != "" {
			unauthorized(w, `Bearer realm="refreshtest", error="invalid_token", error_description="`+reason+`"`)
			return
		}
		next.ServeHTTP(w, r.WithContext(withTokenInfo(r.Context(), ti)))
	})
}

// accessLocked describes an access token, or says why it is not valid now.
func (s *Server) accessLocked(tok string) (TokenInfo, string) {
	t, ok := s.access[tok]
	switch {
	case !ok:
		return TokenInfo{}, "the access token is unknown"
	case t.revoked || t.g.revoked:
		return TokenInfo{}, "the access token was revoked"
	case expired(t.expiresAt, s.now()):
		return TokenInfo{}, "the access token expired"
	}
	return TokenInfo{ClientID: t.g.clientID, Scopes: slices.Clone(t.scopes), ExpiresAt: t.expiresAt, JKT: s.dpop.boundAccess[tok]}, ""
}

func withTokenInfo(ctx context.Context, ti TokenInfo) context.Context {
	return context.WithValue(ctx, tokenInfoKey{}, ti)
}

func unauthorized(w http.ResponseWriter, challenge string) {
	w.Header().Set("WWW-Authenticate", challenge)
	http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
}

// serveResource is the built-in resource behind ResourceURL.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request) {
	ti, _ := TokenInfoFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"client_id": ti.ClientID, "scope": joinScopes(ti.Scopes)})
}
