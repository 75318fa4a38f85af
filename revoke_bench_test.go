package refresh_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tokenrefresh/refresh"
)

// BenchmarkRevoke measures one whole revocation (request, Basic
// authentication, the answer read) through a canned RoundTripper, beside
// BenchmarkRefresh: they share the request path and the attempt loop.
func BenchmarkRevoke(b *testing.B) {
	c := &refresh.Client{
		RevocationURL: "https://example.com/oauth2/revoke",
		Auth:          refresh.ClientSecretBasic("client-id", "client-secret"),
		HTTPClient:    &http.Client{Transport: cannedTransport{""}},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Revoke(ctx, "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498", "refresh_token"); err != nil {
			b.Fatal(err)
		}
	}
}
