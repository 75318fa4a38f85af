package oauth2adapter_test

// A fake authorization server and protected resource in one httptest.Server,
// shared by the tests and the examples of this package.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// The client every fake provider knows. The secret holds characters that the
// form-encoding of Basic credentials changes.
const (
	testClientID     = "my-app"
	testClientSecret = "s3cret+/:% Zq81"
)

// clientAuthMethod is how the fake token endpoint wants the client to
// authenticate.
type clientAuthMethod string

const (
	authBasic clientAuthMethod = "basic" // RFC 6749 §2.3.1 Basic, form-encoded credentials
	authPost  clientAuthMethod = "post"  // client_id and client_secret in the body
	authNone  clientAuthMethod = "none"  // client_id in the body only
)

// provider is the fake server. Refresh tokens rotate and each works once: rt-1
// gives at-1 and rt-2, rt-2 gives at-2 and rt-3, and so on. Token responses are
// JSON with token_type "bearer", expires_in 3600, an id_token and two extras
// (instance_url, and a number). /api accepts only the newest access token as a
// Bearer token and answers 401 invalid_token to any other.
type provider struct {
	*httptest.Server
	method clientAuthMethod

	mu       sync.Mutex
	live     string // the refresh token that works next
	access   string // the access token /api accepts
	issued   int
	requests int      // token requests received
	authz    []string // the Authorization header of each token request
}

func newProvider(method clientAuthMethod) *provider {
	p := &provider{method: method, live: "rt-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("/api", p.api)
	p.Server = httptest.NewServer(mux)
	return p
}

// TokenRequests returns how many token requests the provider received.
func (p *provider) TokenRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Authorizations returns the Authorization header of every token request.
func (p *provider) Authorizations() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.authz...)
}

func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	p.authz = append(p.authz, r.Header.Get("Authorization"))
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	if !p.authenticated(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
		return
	}
	if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != p.live {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error":             "invalid_grant",
			"error_description": "refresh token " + r.PostForm.Get("refresh_token") + " is invalid or already used",
		})
		return
	}
	p.issued++
	p.access = fmt.Sprintf("at-%d", p.issued)
	p.live = fmt.Sprintf("rt-%d", p.issued+1)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  p.access,
		"token_type":    "bearer",
		"expires_in":    3600,
		"refresh_token": p.live,
		"id_token":      fmt.Sprintf("idt-%d", p.issued),
		"instance_url":  "https://eu1.example.com",
		"issued":        p.issued,
	})
}

// authenticated checks that the request carries exactly the client
// authentication p.method names.
func (p *provider) authenticated(r *http.Request) bool {
	header := r.Header.Get("Authorization")
	form := r.PostForm
	switch p.method {
	case authBasic:
		id, secret, ok := r.BasicAuth()
		if !ok || form.Has("client_secret") {
			return false
		}
		id, err1 := url.QueryUnescape(id)
		secret, err2 := url.QueryUnescape(secret)
		return err1 == nil && err2 == nil && id == testClientID && secret == testClientSecret
	case authPost:
		return header == "" && form.Get("client_id") == testClientID && form.Get("client_secret") == testClientSecret
	default:
		return header == "" && !form.Has("client_secret") && form.Get("client_id") == testClientID
	}
}

func (p *provider) api(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	ok := p.access != "" && r.Header.Get("Authorization") == "Bearer "+p.access
	p.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	fmt.Fprintln(w, "hello")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// clock is a settable clock for refresh.Client.Now.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := new(clock)
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
