package refresh_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenrefresh/refresh"
)

// cannedTransport answers every request with the same token response, without a
// socket, so that a benchmark measures the client alone.
type cannedTransport struct{ body string }

func (t cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(t.body)),
		ContentLength: int64(len(t.body)),
		Request:       req,
	}, nil
}

const benchBody = `{"access_token":"gho_16C7e42F292c6912E7710c838347Ae178B4a","token_type":"bearer","expires_in":28800,"refresh_token":"ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498","refresh_token_expires_in":15811200,"scope":""}`

// BenchmarkRefresh measures one whole refresh (request, Basic authentication,
// parse) through a canned RoundTripper.
func BenchmarkRefresh(b *testing.B) {
	c := &refresh.Client{
		TokenURL:   "https://example.com/oauth2/token",
		Auth:       refresh.ClientSecretBasic("client-id", "client-secret"),
		HTTPClient: &http.Client{Transport: cannedTransport{benchBody}},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		tok, err := c.Refresh(ctx, "ghr_old_refresh_token")
		if err != nil || tok.AccessToken == "" {
			b.Fatal(tok, err)
		}
	}
}
