package refreshtest

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testSigner signs JWS with Ed25519 (or HS256 with hsKey), with the standard
// library only, for the checks of the server's verifier.
type testSigner struct {
	key ed25519.PrivateKey
}

func newTestSigner() testSigner {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	return testSigner{k}
}

func (s testSigner) jwk() json.RawMessage {
	return json.RawMessage(`{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(s.key.Public().(ed25519.PublicKey)) + `"}`)
}

func (s testSigner) thumbprint(t *testing.T) string {
	t.Helper()
	th, err := Thumbprint(s.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// sign makes a compact JWS of header and claims; hsKey non-nil signs HS256.
func (s testSigner) sign(header, claims map[string]any, hsKey []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	var sig []byte
	if hsKey != nil {
		m := hmac.New(sha256.New, hsKey)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	} else {
		sig = ed25519.Sign(s.key, []byte(input))
	}
	return input + "." + b64.EncodeToString(sig)
}

// proof makes a DPoP proof; change edits its header and claims first.
func (s testSigner) proof(method, htu, ath string, now time.Time, change func(h, c map[string]any)) string {
	h := map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": s.jwk()}
	c := map[string]any{"jti": newNonce(), "htm": method, "htu": htu, "iat": now.Unix()}
	if ath != "" {
		sum := sha256.Sum256([]byte(ath))
		c["ath"] = b64.EncodeToString(sum[:])
	}
	if change != nil {
		change(h, c)
	}
	return s.sign(h, c, nil)
}

// tokenRequest posts a refresh of rt by the public client "spa" with proof.
func tokenRequest(t *testing.T, srv *Server, rt, proof string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.TokenURL(), strings.NewReader("grant_type=refresh_token&client_id=spa&refresh_token="+rt))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

func TestTokenEndpointChecksDPoPProofs(t *testing.T) {
	signer := newTestSigner()
	other := newTestSigner()
	now := time.Now()
	tests := []struct {
		name     string
		proof    func(htu string) string
		wantCode string // "" for tokens of type DPoP
	}{
		{"a valid proof gets DPoP tokens", func(htu string) string { return signer.proof("POST", htu, "", now, nil) }, ""},
		{"another htm", func(htu string) string { return signer.proof("GET", htu, "", now, nil) }, "invalid_dpop_proof"},
		{"an htu with a query", func(htu string) string { return signer.proof("POST", htu+"?x=1", "", now, nil) }, "invalid_dpop_proof"},
		{"an iat an hour ago", func(htu string) string { return signer.proof("POST", htu, "", now.Add(-time.Hour), nil) }, "invalid_dpop_proof"},
		{"no typ", func(htu string) string {
			return signer.proof("POST", htu, "", now, func(h, _ map[string]any) { delete(h, "typ") })
		}, "invalid_dpop_proof"},
		{"no jti", func(htu string) string {
			return signer.proof("POST", htu, "", now, func(_, c map[string]any) { delete(c, "jti") })
		}, "invalid_dpop_proof"},
		{"a jwk of another key", func(htu string) string {
			return signer.proof("POST", htu, "", now, func(h, _ map[string]any) { h["jwk"] = other.jwk() })
		}, "invalid_dpop_proof"},
		{"a private jwk", func(htu string) string {
			return signer.proof("POST", htu, "", now, func(h, _ map[string]any) {
				h["jwk"] = json.RawMessage(`{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(signer.key.Public().(ed25519.PublicKey)) + `","d":"` + b64.EncodeToString(signer.key.Seed()) + `"}`)
			})
		}, "invalid_dpop_proof"},
		{"HS256", func(htu string) string {
			return signer.sign(map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": signer.jwk()},
				map[string]any{"jti": "j", "htm": "POST", "htu": htu, "iat": now.Unix()}, []byte("k"))
		}, "invalid_dpop_proof"},
		{"not a JWS", func(string) string { return "a.b" }, "invalid_dpop_proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(WithClient(Client{ID: "spa", Method: AuthNone}))
			defer srv.Close()
			code, body, _ := tokenRequest(t, srv, srv.IssueRefreshToken("spa"), tt.proof(srv.TokenURL()))
			if tt.wantCode == "" {
				if code != http.StatusOK || body["token_type"] != "DPoP" {
					t.Errorf("%d %v, want DPoP tokens", code, body)
				}
				if got := srv.Requests()[0].DPoPJKT; got != signer.thumbprint(t) {
					t.Errorf("DPoPJKT = %q, want the key's thumbprint", got)
				}
				return
			}
			if code != http.StatusBadRequest || body["error"] != tt.wantCode {
				t.Errorf("%d %v, want 400 %s", code, body, tt.wantCode)
			}
		})
	}
}

func TestTokenEndpointDPoPReplayAndNonces(t *testing.T) {
	signer := newTestSigner()
	srv := NewServer(WithClient(Client{ID: "spa", Method: AuthNone}), WithDPoPNonces(2), WithRotation(KeepRefreshTokens))
	defer srv.Close()
	rt := srv.IssueRefreshToken("spa")
	now := time.Now()
	withNonce := func(n string) func(h, c map[string]any) {
		return func(_, c map[string]any) { c["nonce"] = n }
	}
	code, body, h := tokenRequest(t, srv, rt, signer.proof("POST", srv.TokenURL(), "", now, nil))
	n1 := h.Get("DPoP-Nonce")
	if code != http.StatusBadRequest || body["error"] != "use_dpop_nonce" || n1 == "" {
		t.Fatalf("without a nonce: %d %v nonce %q, want 400 use_dpop_nonce and a nonce", code, body, n1)
	}
	replayed := signer.proof("POST", srv.TokenURL(), "", now, withNonce(n1))
	if code, body, h = tokenRequest(t, srv, rt, replayed); code != http.StatusOK || h.Get("DPoP-Nonce") != n1 {
		t.Fatalf("with the nonce: %d %v, want 200 and the same nonce (it changes every 2)", code, body)
	}
	if code, body, _ = tokenRequest(t, srv, rt, replayed); body["error"] != "invalid_dpop_proof" {
		t.Errorf("the same proof again: %d %v, want invalid_dpop_proof", code, body)
	}
	code, _, h = tokenRequest(t, srv, rt, signer.proof("POST", srv.TokenURL(), "", now, withNonce(n1)))
	if n2 := h.Get("DPoP-Nonce"); code != http.StatusOK || n2 == n1 || n2 == "" {
		t.Errorf("the second accepted proof: %d, nonce %q after %q, want 200 and a new nonce", code, n2, n1)
	}
	if _, body, _ = tokenRequest(t, srv, rt, signer.proof("POST", srv.TokenURL(), "", now, withNonce(n1))); body["error"] != "use_dpop_nonce" {
		t.Errorf("the old nonce: %v, want use_dpop_nonce", body)
	}
	// The refresh token of this public client is bound to the key now.
	other := newTestSigner()
	_, _, h = tokenRequest(t, srv, rt, other.proof("POST", srv.TokenURL(), "", now, nil))
	if _, body, _ = tokenRequest(t, srv, rt, other.proof("POST", srv.TokenURL(), "", now, withNonce(h.Get("DPoP-Nonce")))); body["error"] != "invalid_grant" {
		t.Errorf("the bound refresh token with another key: %v, want invalid_grant", body)
	}
	if _, body, _ = tokenRequest(t, srv, rt, ""); body["error"] != "invalid_grant" {
		t.Errorf("the bound refresh token without a proof: %v, want invalid_grant", body)
	}
}

func TestResourceChecksDPoP(t *testing.T) {
	signer := newTestSigner()
	srv := NewServer(WithClient(Client{ID: "spa", Method: AuthNone}))
	defer srv.Close()
	now := time.Now()
	_, body, _ := tokenRequest(t, srv, srv.IssueRefreshToken("spa", "read"), signer.proof("POST", srv.TokenURL(), "", now, nil))
	at, _ := body["access_token"].(string)
	get := func(scheme, proof string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.ResourceURL()+"?q=1", nil)
		req.Header.Set("Authorization", scheme+" "+at)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
		}
		return resp.StatusCode, string(b)
	}
	other := newTestSigner()
	tests := []struct {
		name, scheme, proof string
		want                int
		wantText            string
	}{
		{"a valid proof", "DPoP", signer.proof("GET", srv.ResourceURL(), at, now, nil), 200, `"client_id":"spa"`},
		{"as Bearer", "Bearer", "", 401, `error="invalid_token"`},
		{"no proof", "DPoP", "", 401, `error="invalid_dpop_proof"`},
		{"no ath", "DPoP", signer.proof("GET", srv.ResourceURL(), "", now, nil), 401, `error="invalid_dpop_proof"`},
		{"the ath of another token", "DPoP", signer.proof("GET", srv.ResourceURL(), "at_other", now, nil), 401, `error="invalid_dpop_proof"`},
		{"another key", "DPoP", other.proof("GET", srv.ResourceURL(), at, now, nil), 401, `error="invalid_token"`},
		{"another method", "DPoP", signer.proof("POST", srv.ResourceURL(), at, now, nil), 401, `error="invalid_dpop_proof"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, text := get(tt.scheme, tt.proof)
			if code != tt.want || !strings.Contains(text, tt.wantText) {
				t.Errorf("%d %q, want %d with %q", code, text, tt.want, tt.wantText)
			}
		})
	}
}

// FuzzParseJWS feeds the server's verifier any JWS and JWK: it must refuse
// what it cannot read, never panic, and never accept a signature it did not
// check.
func FuzzParseJWS(f *testing.F) {
	s := newTestSigner()
	f.Add(s.proof("POST", "http://127.0.0.1/token", "", time.Unix(1, 0), nil))
	f.Add(s.sign(map[string]any{"alg": "HS256"}, map[string]any{"aud": []string{"a"}}, []byte("k")))
	f.Add(`eyJhbGciOiJFUzI1NiIsImp3ayI6eyJrdHkiOiJFQyIsImNydiI6IlAtMjU2IiwieCI6IiIsInkiOiIifX0.e30.AA`)
	f.Add(`eyJhbGciOiJSUzI1NiIsImp3ayI6eyJrdHkiOiJSU0EiLCJuIjoiQVEiLCJlIjoiQVEifX0.e30.AA`)
	f.Add("..")
	f.Fuzz(func(t *testing.T, compact string) {
		j, _, err := parseJWS(compact)
		if err != nil {
			return
		}
		pub, _, err := parseJWK(j.header.JWK)
		if err == nil {
			_ = j.verify(pub)
		}
		_ = j.verify([]byte("k"))
		if j.verify(nil) == nil {
			t.Errorf("verified without a key")
		}
	})
}
