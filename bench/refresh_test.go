package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// BenchmarkCannedRefresh is workload 1: one refresh through a canned
// RoundTripper, no sockets, so that only the client's own work is measured.
func BenchmarkCannedRefresh(b *testing.B) {
	b.Run("lib=refresh", func(b *testing.B) {
		c := ourClient(cannedTokenURL, &http.Client{Transport: &cannedTransport{}})
		ctx := context.Background()
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			tok, err := c.Refresh(ctx, benchRefreshToken)
			if err != nil || tok.AccessToken != benchAccessToken {
				b.Fatal(tok, err)
			}
		}
	})
	b.Run("lib=oauth2", func(b *testing.B) {
		conf, expired := theirConfig(cannedTokenURL), expiredToken()
		ctx := theirContext(&http.Client{Transport: &cannedTransport{}})
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			tok, err := conf.TokenSource(ctx, expired).Token()
			if err != nil || tok.AccessToken != benchAccessToken {
				b.Fatal(tok, err)
			}
		}
	})
}

// floorToken is the small struct the floor decodes the response into.
type floorToken struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
}

// BenchmarkLoopbackRefresh is workload 2: one refresh against an httptest server
// on loopback over a kept-alive connection. lib=floor is the least any client
// can do: a bare net/http POST of the same form with the same headers and one
// json.Unmarshal of the body. client=explicit gives every library the floor's
// own http.Client; client=default leaves each on its default (refresh: its
// nil-HTTPClient default; x/oauth2: http.DefaultClient).
func BenchmarkLoopbackRefresh(b *testing.B) {
	srv := newTokenServer(b, 0, "")
	tokenURL := srv.URL + "/oauth2/token"
	form := []byte("grant_type=refresh_token&refresh_token=" + benchRefreshToken)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(benchClientID+":"+benchClientSecret))

	b.Run("client=explicit/lib=floor", func(b *testing.B) {
		hc := explicitClient(b, 2)
		ctx := context.Background()
		defer srv.reportConns(b)()
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, bytes.NewReader(form))
			if err != nil {
				b.Fatal(err)
			}
			req.Header["Content-Type"] = []string{"application/x-www-form-urlencoded"}
			req.Header["Authorization"] = []string{basic}
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatal(resp.Status, err)
			}
			var t floorToken
			if err := json.Unmarshal(body, &t); err != nil || t.AccessToken != benchAccessToken {
				b.Fatal(t, err)
			}
		}
	})
	for _, client := range []string{"explicit", "default"} {
		b.Run("client="+client+"/lib=refresh", func(b *testing.B) {
			var hc *http.Client
			if client == "explicit" {
				hc = explicitClient(b, 2)
			}
			c := ourClient(tokenURL, hc)
			ctx := context.Background()
			defer srv.reportConns(b)()
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				tok, err := c.Refresh(ctx, benchRefreshToken)
				if err != nil || tok.AccessToken != benchAccessToken {
					b.Fatal(tok, err)
				}
			}
		})
		b.Run("client="+client+"/lib=oauth2", func(b *testing.B) {
			var hc *http.Client
			if client == "explicit" {
				hc = explicitClient(b, 2)
			}
			conf, expired := theirConfig(tokenURL), expiredToken()
			ctx := theirContext(hc)
			defer srv.reportConns(b)()
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				tok, err := conf.TokenSource(ctx, expired).Token()
				if err != nil || tok.AccessToken != benchAccessToken {
					b.Fatal(tok, err)
				}
			}
		})
	}
}
