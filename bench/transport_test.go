package bench

import (
	"net/http"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"golang.org/x/oauth2"
)

// stubRoundTripper returns one prebuilt response, so that a Transport benchmark
// measures the authorising layer alone.
type stubRoundTripper struct{ resp *http.Response }

func (s stubRoundTripper) RoundTrip(*http.Request) (*http.Response, error) { return s.resp, nil }

// floorTransport does the least a RoundTripper that adds a header may do, since
// it must not modify the caller's request: a shallow copy of the request with
// its own header map holding a prebuilt Authorization value. It has no token
// source at all.
type floorTransport struct {
	authz []string
	base  http.RoundTripper
}

func (t *floorTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := new(http.Request)
	*r = *req
	h := make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		h[k] = v
	}
	h["Authorization"] = t.authz
	r.Header = h
	return t.base.RoundTrip(r)
}

// BenchmarkTransportHotPath is workload 3: a request through each library's
// Transport with a valid cached token, from b.RunParallel goroutines (run it with
// -cpu=1,2). x/oauth2's side is an oauth2.Transport over a ReuseTokenSource, the
// way Config.Client builds it. lib=floor is floorTransport: the copying any
// such RoundTripper must do, without a token source.
func BenchmarkTransportHotPath(b *testing.B) {
	canned := &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: http.NoBody}
	base := stubRoundTripper{canned}
	expiry := time.Now().Add(24 * time.Hour)
	newRequest := func(b *testing.B) *http.Request {
		req, err := http.NewRequest(http.MethodGet, "https://api.example/v1/items?page=2", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "bench")
		return req
	}
	run := func(b *testing.B, rt http.RoundTripper) {
		req := newRequest(b)
		b.ReportAllocs()
		defer cpuPerOp(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := rt.RoundTrip(req)
				if err != nil || resp != canned {
					b.Errorf("RoundTrip = %v, %v", resp, err)
					return
				}
			}
		})
	}

	b.Run("lib=floor", func(b *testing.B) {
		run(b, &floorTransport{authz: []string{"Bearer " + benchAccessToken}, base: base})
	})
	b.Run("lib=refresh", func(b *testing.B) {
		src := refresh.NewSource(ourClient(cannedTokenURL, &http.Client{Transport: &cannedTransport{}}), &refresh.Tokens{
			AccessToken: benchAccessToken, TokenType: "bearer", RefreshToken: benchRefreshToken, ExpiresAt: expiry,
		})
		run(b, &refresh.Transport{Source: src, Base: base})
	})
	b.Run("lib=oauth2", func(b *testing.B) {
		conf := theirConfig(cannedTokenURL)
		tok := &oauth2.Token{AccessToken: benchAccessToken, TokenType: "bearer", RefreshToken: benchRefreshToken, Expiry: expiry}
		ctx := theirContext(&http.Client{Transport: &cannedTransport{}})
		run(b, &oauth2.Transport{Source: conf.TokenSource(ctx, tok), Base: base})
	})
}
