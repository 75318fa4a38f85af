package refresh_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
)

// proofSeen is what a server read from one DPoP proof.
type proofSeen struct {
	Htm, Htu, Nonce, Ath string
	Iat                  int64
	Jti                  string
}

// readProof verifies the DPoP proof of r (ES256 only) against the jwk its
// header carries, checks that this jwk's thumbprint is d's, and returns its
// claims.
//
// It reports with Errorf, never Fatal: it runs in server handlers too, off
// the test goroutine.
func readProof(t *testing.T, r *http.Request, d *refresh.DPoP) proofSeen {
	t.Helper()
	vals := r.Header.Values("DPoP")
	if len(vals) != 1 {
		t.Errorf("%d DPoP headers, want 1", len(vals))
		return proofSeen{}
	}
	parts := strings.Split(vals[0], ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct {
		Typ, Alg string
		JWK      json.RawMessage
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Errorf("proof header: %v", err)
		return proofSeen{}
	}
	if h.Typ != "dpop+jwt" || h.Alg != "ES256" {
		t.Errorf("proof header typ %q alg %q, want dpop+jwt ES256", h.Typ, h.Alg)
	}
	var jwk struct{ Crv, Kty, X, Y string }
	json.Unmarshal(h.JWK, &jwk)
	canonical := fmt.Sprintf(`{"crv":%q,"kty":%q,"x":%q,"y":%q}`, jwk.Crv, jwk.Kty, jwk.X, jwk.Y)
	sum := sha256.Sum256([]byte(canonical))
	if got := base64.RawURLEncoding.EncodeToString(sum[:]); got != d.Thumbprint() {
		t.Errorf("the jwk's thumbprint %s is not the DPoP's %s", got, d.Thumbprint())
	}
	x, _ := base64.RawURLEncoding.DecodeString(jwk.X)
	y, _ := base64.RawURLEncoding.DecodeString(jwk.Y)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Errorf("proof jwk: %v", err)
		return proofSeen{}
	}
	_, claims := decodeJWS(t, vals[0], verifyES256(pub))
	var p proofSeen
	p.Htm, _ = claims["htm"].(string)
	p.Htu, _ = claims["htu"].(string)
	p.Nonce, _ = claims["nonce"].(string)
	p.Ath, _ = claims["ath"].(string)
	p.Jti, _ = claims["jti"].(string)
	iat, _ := claims["iat"].(float64)
	p.Iat = int64(iat)
	return p
}

func newTestDPoP(t *testing.T) *refresh.DPoP {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d, err := refresh.NewDPoP(key)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// nonceServer is a token endpoint that requires DPoP nonces: an answer of
// script[i] for the i-th request (a nonce to give, and whether to refuse the
// request with use_dpop_nonce), then tokens with no new nonce.
type nonceServer struct {
	t      *testing.T
	d      *refresh.DPoP
	script []nonceStep
	mu     sync.Mutex
	seen   []proofSeen
}

type nonceStep struct {
	give   string // the DPoP-Nonce of the answer, or ""
	refuse bool   // answer 400 use_dpop_nonce
	typ    string // the token_type of a successful answer: DPoP when empty
}

func (s *nonceServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := readProof(s.t, r, s.d)
	s.mu.Lock()
	s.seen = append(s.seen, p)
	n := len(s.seen)
	s.mu.Unlock()
	step := nonceStep{}
	if n <= len(s.script) {
		step = s.script[n-1]
	}
	if step.give != "" {
		w.Header().Set("DPoP-Nonce", step.give)
	}
	w.Header().Set("Content-Type", "application/json")
	if step.refuse {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"}`)
		return
	}
	if step.typ == "" {
		step.typ = "DPoP"
	}
	fmt.Fprintf(w, `{"access_token":"at-%d","token_type":%q,"expires_in":3600}`, n, step.typ)
}

func (s *nonceServer) nonces() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.seen {
		out = append(out, p.Nonce)
	}
	return out
}

func TestDPoPTokenRequests(t *testing.T) {
	tests := []struct {
		name       string
		script     []nonceStep
		refreshes  int
		wantNonces []string // the nonce of each request the server saw
		wantErr    bool     // the last refresh fails with use_dpop_nonce
		wantType   string
	}{
		{
			name:       "a server that needs no nonce gets none",
			script:     nil,
			refreshes:  2,
			wantNonces: []string{"", ""},
			wantType:   "DPoP",
		},
		{
			name:       "use_dpop_nonce is retried once with the new nonce, and the retry's nonce is used next",
			script:     []nonceStep{{give: "n1", refuse: true}, {give: "n2"}},
			refreshes:  2,
			wantNonces: []string{"", "n1", "n2"},
			wantType:   "DPoP",
		},
		{
			name:       "a nonce on a successful answer is used next",
			script:     []nonceStep{{give: "n1"}, {give: "n2"}},
			refreshes:  3,
			wantNonces: []string{"", "n1", "n2"},
			wantType:   "DPoP",
		},
		{
			name:       "a server that asks for a new nonce every time gets two requests, never a loop",
			script:     []nonceStep{{give: "n1", refuse: true}, {give: "n2", refuse: true}, {give: "n3", refuse: true}},
			refreshes:  1,
			wantNonces: []string{"", "n1"},
			wantErr:    true,
		},
		{
			name:       "use_dpop_nonce with the nonce already sent is not retried",
			script:     []nonceStep{{give: "n1"}, {give: "n1", refuse: true}},
			refreshes:  2,
			wantNonces: []string{"", "n1"},
			wantErr:    true,
		},
		{
			name:       "use_dpop_nonce without a nonce is not retried",
			script:     []nonceStep{{refuse: true}},
			refreshes:  1,
			wantNonces: []string{""},
			wantErr:    true,
		},
		{
			name:       "a server that ignores the proof and answers Bearer keeps Bearer",
			script:     []nonceStep{{typ: "Bearer"}},
			refreshes:  1,
			wantNonces: []string{""},
			wantType:   "Bearer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTestDPoP(t)
			ns := &nonceServer{t: t, d: d, script: tt.script}
			srv := httptest.NewServer(ns)
			defer srv.Close()
			c := &refresh.Client{TokenURL: srv.URL + tokenPath + "?tenant=t1", DPoP: d, Now: func() time.Time { return t0 }}
			var tok *refresh.Tokens
			var err error
			for range tt.refreshes {
				tok, err = c.Refresh(t.Context(), "rt-1")
			}
			if diff := cmp.Diff(tt.wantNonces, ns.nonces()); diff != "" {
				t.Errorf("nonces the server saw (-want +got):\n%s", diff)
			}
			if tt.wantErr {
				if !errors.Is(err, refresh.ErrorCode("use_dpop_nonce")) {
					t.Errorf("error = %v, want use_dpop_nonce", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if tok.TokenType != tt.wantType {
				t.Errorf("TokenType = %q, want %q", tok.TokenType, tt.wantType)
			}
			jtis := map[string]bool{}
			for _, p := range ns.seen {
				if want := (proofSeen{Htm: "POST", Htu: srv.URL + tokenPath, Nonce: p.Nonce, Iat: t0.Unix(), Jti: p.Jti}); p != want {
					t.Errorf("proof %+v, want %+v", p, want)
				}
				if jtis[p.Jti] || len(p.Jti) < 22 {
					t.Errorf("jti %q repeated or short", p.Jti)
				}
				jtis[p.Jti] = true
			}
		})
	}
}

// TestDPoPNoncesArePerOrigin learns a nonce from one token endpoint and checks
// that another origin's requests do not carry it.
func TestDPoPNoncesArePerOrigin(t *testing.T) {
	d := newTestDPoP(t)
	a := &nonceServer{t: t, d: d, script: []nonceStep{{give: "from-a"}}}
	b := &nonceServer{t: t, d: d}
	srvA, srvB := httptest.NewServer(a), httptest.NewServer(b)
	defer srvA.Close()
	defer srvB.Close()
	for _, u := range []string{srvA.URL, srvB.URL, srvA.URL} {
		c := &refresh.Client{TokenURL: u + tokenPath, DPoP: d}
		if _, err := c.Refresh(t.Context(), "rt-1"); err != nil {
			t.Fatal(err)
		}
	}
	got := [][]string{a.nonces(), b.nonces()}
	if diff := cmp.Diff([][]string{{"", "from-a"}, {""}}, got); diff != "" {
		t.Errorf("nonces at A and B (-want +got):\n%s", diff)
	}
}

// resourceServer is a resource that takes DPoP-bound tokens and, when
// requireNonce is set, wants its own nonce, which it rotates every request.
type resourceServer struct {
	t            *testing.T
	d            *refresh.DPoP
	requireNonce bool
	mu           sync.Mutex
	n            int
	seen         []proofSeen
	bodies       []string
}

func (s *resourceServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := readProof(s.t, r, s.d)
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, p)
	s.bodies = append(s.bodies, string(body))
	want := fmt.Sprintf("r%d", s.n)
	s.n++
	w.Header().Set("DPoP-Nonce", fmt.Sprintf("r%d", s.n))
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
	sum := sha256.Sum256([]byte(tok))
	if !ok || p.Ath != base64.RawURLEncoding.EncodeToString(sum[:]) {
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if s.requireNonce && p.Nonce != want {
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	io.WriteString(w, "ok "+tok)
}

func TestTransportDPoP(t *testing.T) {
	d := newTestDPoP(t)
	rs := &resourceServer{t: t, d: d, requireNonce: true}
	srv := httptest.NewServer(rs)
	defer srv.Close()
	tokens := &refresh.Tokens{AccessToken: "at-1", TokenType: "DPoP", RefreshToken: "rt-1", ExpiresAt: time.Now().Add(time.Hour)}
	c := &refresh.Client{TokenURL: srv.URL + tokenPath, DPoP: d}
	hc := &http.Client{Transport: &refresh.Transport{Source: refresh.NewSource(c, tokens)}}

	do := func(req *http.Request) (int, string) {
		t.Helper()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", req.Method, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get, _ := http.NewRequest(http.MethodGet, srv.URL+"/api?x=1#frag", nil)
	if code, body := do(get); code != http.StatusOK || body != "ok at-1" {
		t.Errorf("first GET: %d %q, want 200 after one replay with the nonce", code, body)
	}
	post, _ := http.NewRequest(http.MethodPost, srv.URL+"/api", strings.NewReader("payload"))
	if code, _ := do(post); code != http.StatusOK {
		t.Errorf("POST with the nonce of the last answer: %d, want 200 at once", code)
	}
	// A body that cannot be replayed: the 401 comes back as it is.
	rs.mu.Lock()
	rs.n += 5 // the nonce it holds is now stale
	rs.mu.Unlock()
	once, _ := http.NewRequest(http.MethodPut, srv.URL+"/api", io.NopCloser(strings.NewReader("once")))
	if code, _ := do(once); code != http.StatusUnauthorized {
		t.Errorf("PUT with an unreplayable body and a stale nonce: %d, want 401", code)
	}
	if code, _ := do(post); code != http.StatusOK {
		t.Errorf("POST after the 401 taught the nonce: %d, want 200", code)
	}

	ath := sha256.Sum256([]byte("at-1"))
	athS := base64.RawURLEncoding.EncodeToString(ath[:])
	var got []proofSeen
	for _, p := range rs.seen {
		p.Jti, p.Iat = "", 0
		got = append(got, p)
	}
	want := []proofSeen{
		{Htm: "GET", Htu: srv.URL + "/api", Nonce: "", Ath: athS},
		{Htm: "GET", Htu: srv.URL + "/api", Nonce: "r1", Ath: athS},
		{Htm: "POST", Htu: srv.URL + "/api", Nonce: "r2", Ath: athS},
		{Htm: "PUT", Htu: srv.URL + "/api", Nonce: "r3", Ath: athS},
		{Htm: "POST", Htu: srv.URL + "/api", Nonce: "r9", Ath: athS},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("proofs the resource saw (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"", "", "payload", "once", "payload"}, rs.bodies); diff != "" {
		t.Errorf("bodies the resource saw (-want +got):\n%s", diff)
	}
}

func TestTransportDPoPRefusals(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("DPoP") != "" {
			t.Errorf("a Bearer token was sent with a DPoP proof")
		}
		io.WriteString(w, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	later := time.Now().Add(time.Hour)
	for name, c := range map[string]*refresh.Client{
		"a DPoP token without Client.DPoP is a ConfigError":          {TokenURL: srv.URL},
		"a DPoP token of a Source without a Client is a ConfigError": nil,
	} {
		t.Run(name, func(t *testing.T) {
			src := refresh.NewSource(c, &refresh.Tokens{AccessToken: "at", TokenType: "DPoP", ExpiresAt: later})
			hc := &http.Client{Transport: &refresh.Transport{Source: src}}
			_, err := hc.Get(srv.URL)
			var ce *refresh.ConfigError
			if !errors.As(err, &ce) || ce.Field != "TokenType" {
				t.Errorf("error = %v, want a ConfigError for TokenType", err)
			}
		})
	}
	t.Run("a Bearer token from a Client with DPoP is sent as Bearer", func(t *testing.T) {
		c := &refresh.Client{TokenURL: srv.URL, DPoP: newTestDPoP(t)}
		src := refresh.NewSource(c, &refresh.Tokens{AccessToken: "at", TokenType: "Bearer", ExpiresAt: later})
		resp, err := (&http.Client{Transport: &refresh.Transport{Source: src}}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "Bearer at" {
			t.Errorf("Authorization %q, want Bearer at", b)
		}
	})
	t.Run("a DPoP not made by NewDPoP is a ConfigError, not a panic", func(t *testing.T) {
		c := &refresh.Client{TokenURL: srv.URL, DPoP: &refresh.DPoP{}}
		_, err := c.Refresh(t.Context(), "rt")
		var ce *refresh.ConfigError
		if !errors.As(err, &ce) || ce.Field != "DPoP" {
			t.Errorf("error = %v, want a ConfigError for DPoP", err)
		}
		if got := (&refresh.DPoP{}).Thumbprint(); got != "" {
			t.Errorf("Thumbprint = %q, want empty", got)
		}
	})
	t.Run("NewDPoP refuses a key of another type", func(t *testing.T) {
		_, err := refresh.NewDPoP(otherKey{})
		var ce *refresh.ConfigError
		if !errors.As(err, &ce) || ce.Field != "NewDPoP" {
			t.Errorf("error = %v, want a ConfigError for NewDPoP", err)
		}
	})
}

// TestTransportDPoPRejectedToken has a resource reject the DPoP token: the
// Transport refreshes (with a proof) and replays once with the new token and a
// new proof.
func TestTransportDPoPRejectedToken(t *testing.T) {
	d := newTestDPoP(t)
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := readProof(t, r, d)
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == tokenPath {
			seen = append(seen, "refresh with proof for "+p.Htm)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"at-2","token_type":"DPoP","expires_in":3600}`)
			return
		}
		seen = append(seen, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "DPoP at-2" {
			w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c := &refresh.Client{TokenURL: srv.URL + tokenPath, DPoP: d}
	src := refresh.NewSource(c, &refresh.Tokens{AccessToken: "at-1", TokenType: "DPoP", RefreshToken: "rt-1", ExpiresAt: time.Now().Add(time.Hour)})
	resp, err := (&http.Client{Transport: &refresh.Transport{Source: src}}).Get(srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200 after the replay", resp.StatusCode)
	}
	if diff := cmp.Diff([]string{"DPoP at-1", "refresh with proof for POST", "DPoP at-2"}, seen); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// TestTransportDPoPNonceNeverLoops has a resource that asks for a new nonce on
// every request: Transport replays once, then returns the 401.
func TestTransportDPoPNonceNeverLoops(t *testing.T) {
	d := newTestDPoP(t)
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		w.Header().Set("DPoP-Nonce", fmt.Sprint("nonce-", n))
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	src := refresh.NewSource(&refresh.Client{TokenURL: srv.URL + tokenPath, DPoP: d},
		&refresh.Tokens{AccessToken: "at-1", TokenType: "DPoP", ExpiresAt: time.Now().Add(time.Hour)})
	resp, err := (&http.Client{Transport: &refresh.Transport{Source: src}}).Get(srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || n != 2 {
		t.Errorf("status %d after %d requests, want 401 after 2", resp.StatusCode, n)
	}
}

// TestRevokeCarriesDPoPProofs checks that a revocation is built as a refresh
// is: with Client.DPoP set, it carries a proof for the revocation endpoint, and
// a use_dpop_nonce answer with a new nonce is tried once more with it.
func TestRevokeCarriesDPoPProofs(t *testing.T) {
	d := newTestDPoP(t)
	var mu sync.Mutex
	var seen []proofSeen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := readProof(t, r, d)
		mu.Lock()
		seen = append(seen, p)
		first := len(seen) == 1
		mu.Unlock()
		if first {
			w.Header().Set("DPoP-Nonce", "nonce-1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"use_dpop_nonce"}`)
			return
		}
	}))
	defer srv.Close()
	c := &refresh.Client{TokenURL: srv.URL + "/token", RevocationURL: srv.URL + "/revoke?tenant=a",
		Auth: refresh.PublicClient("dpop-client"), DPoP: d, AllowInsecureHTTP: true, HTTPClient: srv.Client()}
	if err := c.Revoke(t.Context(), "rt-revoke-dpop", "refresh_token"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	want := []proofSeen{
		{Htm: "POST", Htu: srv.URL + "/revoke"},
		{Htm: "POST", Htu: srv.URL + "/revoke", Nonce: "nonce-1"},
	}
	if diff := cmp.Diff(want, seen, cmp.FilterPath(func(p cmp.Path) bool {
		n := p.Last().String()
		return n == ".Iat" || n == ".Jti"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("revocation proofs (-want +got):\n%s", diff)
	}
}
