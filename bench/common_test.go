package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"golang.org/x/oauth2"
)

// Both libraries get the same response body, the same client credentials and the
// same refresh token. The credentials hold no character that x/oauth2's
// QueryEscape and refresh's form encoding of Basic credentials would treat
// differently, so both send the same Authorization header.
const (
	benchBody = `{"access_token":"gho_16C7e42F292c6912E7710c838347Ae178B4a","token_type":"bearer","expires_in":28800,"refresh_token":"ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498","refresh_token_expires_in":15811200,"scope":""}`

	benchClientID     = "client-id"
	benchClientSecret = "client-secret"
	benchRefreshToken = "ghr_old_refresh_token"
	benchAccessToken  = "gho_16C7e42F292c6912E7710c838347Ae178B4a"
	cannedTokenURL    = "https://auth.example/oauth2/token"
)

// cannedTransport answers every request with benchBody, without a socket, so
// that a benchmark measures the client alone. It reads and closes the request
// body as a real transport would.
type cannedTransport struct{ calls atomic.Int64 }

func (t *cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.calls.Add(1)
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(benchBody)),
		ContentLength: int64(len(benchBody)),
		Request:       req,
	}, nil
}

// ourClient is a refresh Client for tokenURL with ClientSecretBasic; a nil hc
// keeps the package's default HTTP client.
func ourClient(tokenURL string, hc *http.Client) *refresh.Client {
	return &refresh.Client{
		TokenURL:   tokenURL,
		Auth:       refresh.ClientSecretBasic(benchClientID, benchClientSecret),
		HTTPClient: hc,
	}
}

// theirConfig is the matching x/oauth2 Config: Basic authentication set
// explicitly, so that it never probes with a second request.
func theirConfig(tokenURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     benchClientID,
		ClientSecret: benchClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader},
	}
}

// theirContext injects hc into x/oauth2 the only way it takes one; a nil hc
// leaves x/oauth2 on http.DefaultClient.
func theirContext(hc *http.Client) context.Context {
	if hc == nil {
		return context.Background()
	}
	return context.WithValue(context.Background(), oauth2.HTTPClient, hc)
}

// expiredToken is an x/oauth2 token that must be refreshed before use. A
// benchmark makes it once: ReuseTokenSource does not modify the token it starts
// from, so one serves every refresh, as one refresh token string serves ours.
func expiredToken() *oauth2.Token {
	return &oauth2.Token{AccessToken: "old", RefreshToken: benchRefreshToken, Expiry: time.Now().Add(-time.Hour)}
}

// tokenServer is a loopback token endpoint answering benchBody, or status and
// body when they are set. It counts the requests it answers.
type tokenServer struct {
	*httptest.Server
	requests atomic.Int64
	conns    atomic.Int64 // connections accepted
}

func newTokenServer(tb testing.TB, status int, body string) *tokenServer {
	tb.Helper()
	if body == "" {
		body = benchBody
	}
	ts := &tokenServer{}
	ts.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if status != 0 {
			w.WriteHeader(status)
		}
		_, _ = io.WriteString(w, body)
	}))
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			ts.conns.Add(1)
		}
	}
	ts.Start()
	tb.Cleanup(ts.Close)
	return ts
}

// reportConns starts counting the connections the server accepts; the function
// it returns reports them per 1000 operations as conns/1000: 0 when every
// request went over a connection kept alive from before, 1000 when none did.
func (ts *tokenServer) reportConns(b *testing.B) (report func()) {
	start := ts.conns.Load()
	return func() {
		b.ReportMetric(float64(ts.conns.Load()-start)*1000/float64(b.N), "conns/1000")
	}
}

// explicitClient is an http.Client with its own keep-alive pool, the one the
// floor uses, with room for idle connections per host for maxIdle workers.
func explicitClient(tb testing.TB, maxIdle int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxIdle
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// percentile returns the p-th percentile (0-100) of sorted durations in ns.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return float64(sorted[i])
}

func reportWaits(b *testing.B, waits []time.Duration) {
	slices.Sort(waits)
	b.ReportMetric(percentile(waits, 50), "p50-ns")
	b.ReportMetric(percentile(waits, 99), "p99-ns")
}

// cpuPerOp starts counting the process's CPU time; the function it returns
// reports it per operation as cpu-ns/op. On a shared machine, where other
// processes take turns on the cores, it is steadier than the wall time of
// ns/op. It counts every goroutine of the process: the in-process test server
// and the garbage collector too.
func cpuPerOp(b *testing.B) (report func()) {
	start := processCPU()
	return func() {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}
