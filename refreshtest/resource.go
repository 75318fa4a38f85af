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
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			unauthorized(w, `Bearer realm="refreshtest"`)
			return
		}
		s.mu.Lock()
		t, ok := s.access[tok]
		var reason string
		switch {
		case !ok:
			reason = "the access token is unknown"
		case t.revoked || t.g.revoked:
			reason = "the access token was revoked"
		case expired(t.expiresAt, s.now()):
			reason = "the access token expired"
		}
		var ti TokenInfo
		if reason == "" {
			ti = TokenInfo{ClientID: t.g.clientID, Scopes: slices.Clone(t.scopes), ExpiresAt: t.expiresAt}
		}
		s.mu.Unlock()
		if reason != "" {
			unauthorized(w, `Bearer realm="refreshtest", error="invalid_token", error_description="`+reason+`"`)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenInfoKey{}, ti)))
	})
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
