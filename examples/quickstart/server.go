package main

// A fake OAuth 2.0 authorization server, just enough to make the quickstart run
// offline. It is not part of what a user writes: in real code the token endpoint
// is the provider's.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
)

// Paths of the fake provider's two token endpoints. They share one set of
// grants and differ only in how they answer errors.
const (
	tokenPath       = "/oauth2/token"             // RFC 6749: errors with 400 or 401
	githubTokenPath = "/login/oauth/access_token" // GitHub: errors with 200, its own codes
)

// provider is the fake authorization server. It knows one confidential client
// and issues single-use refresh tokens: each refresh answers with a new one and
// the one used stops working (RFC 9700 §4.14.2). Real servers with reuse
// detection (Okta, Auth0, ory/fosite) also revoke the new token on a reuse; this
// one does not, so that the quickstart can carry on.
type provider struct {
	clientID, clientSecret string

	mu     sync.Mutex
	grants map[string]string // live refresh token → granted scope
}

// startProvider starts the fake provider on an ephemeral port of 127.0.0.1 and
// returns it with the refresh token of a user who signed in earlier, granted the
// scope "read write".
func startProvider(clientID, clientSecret string) (srv *httptest.Server, refreshToken string) {
	p := &provider{clientID: clientID, clientSecret: clientSecret, grants: map[string]string{}}
	refreshToken = newToken("rt")
	p.grants[refreshToken] = "read write"
	return httptest.NewServer(p), refreshToken
}

// newToken returns an opaque token: prefix, "_", 32 hex digits.
func newToken(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	github := r.URL.Path == githubTokenPath
	if !github && r.URL.Path != tokenPath {
		http.NotFound(w, r)
		return
	}
	fail := func(status int, code, githubCode, desc string) {
		if github {
			status, code = http.StatusOK, githubCode
		}
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		fail(http.StatusBadRequest, "invalid_request", "unsupported_grant_type", "expected a refresh_token grant")
		return
	}
	if !p.authenticated(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2"`)
		fail(http.StatusUnauthorized, "invalid_client", "incorrect_client_credentials", "client authentication failed")
		return
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	old := r.PostForm.Get("refresh_token")
	granted, ok := p.grants[old]
	if !ok {
		fail(http.StatusBadRequest, "invalid_grant", "bad_refresh_token", "the refresh token is invalid, expired or already used")
		return
	}
	scope := granted
	if asked := r.PostForm.Get("scope"); asked != "" { // narrowing (RFC 6749 §6)
		for _, s := range strings.Fields(asked) {
			if !strings.Contains(" "+granted+" ", " "+s+" ") {
				fail(http.StatusBadRequest, "invalid_scope", "invalid_scope", "a scope asked for was not granted")
				return
			}
		}
		scope = asked
	}
	// Rotate: the old refresh token is spent; the new one keeps the original
	// grant, so that a narrowed refresh does not narrow later ones.
	delete(p.grants, old)
	next := newToken("rt")
	p.grants[next] = granted
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  newToken("at"),
		"token_type":    "Bearer",
		"expires_in":    3600,
		"refresh_token": next,
		"scope":         scope,
	})
}

// authenticated checks client_secret_basic (form-decoded, RFC 6749 §2.3.1) or
// client_secret_post.
func (p *provider) authenticated(r *http.Request) bool {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || r.PostForm.Has("client_secret") {
			return false // undecodable, or two methods at once (RFC 6749 §2.3)
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return id == p.clientID && secret == p.clientSecret
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
