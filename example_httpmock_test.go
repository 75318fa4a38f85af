package refresh_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/jarcoal/httpmock"
	"github.com/tokenrefresh/refresh"
)

// Mocking the token endpoint with github.com/jarcoal/httpmock, for tests that
// already mock their HTTP calls that way. The mock goes into the Client's own
// *http.Client (a MockTransport of its own, so that nothing global such as
// http.DefaultTransport is touched), and the responder asserts the form that
// the Client sent before it answers.
//
// ClientSecretBasic form-encodes the id and secret before Basic (RFC 6749
// §2.3.1), so a responder that compares them decodes them first.
func Example_httpmock() {
	const tokenURL = "https://auth.example.com/oauth2/token"
	mock := httpmock.NewMockTransport()
	mock.RegisterResponder(http.MethodPost, tokenURL, func(req *http.Request) (*http.Response, error) {
		if err := req.ParseForm(); err != nil {
			return nil, err
		}
		fmt.Println("form:", req.PostForm.Encode())
		fmt.Println("accept:", req.Header.Get("Accept"))
		id, secret, _ := req.BasicAuth()
		fmt.Println("basic, as sent:", id, secret == "s3cr3t%2F%2B")
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		fmt.Println("basic, decoded:", id, secret == "s3cr3t/+")
		return httpmock.NewJsonResponse(http.StatusOK, map[string]any{
			"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600,
			"refresh_token": "rt-2", "scope": "read",
		})
	})

	c := &refresh.Client{
		TokenURL:   tokenURL,
		Auth:       refresh.ClientSecretBasic("my-app", "s3cr3t/+"),
		HTTPClient: &http.Client{Transport: mock},
	}
	tok, err := c.Refresh(context.Background(), "rt-1", refresh.WithScopes("read"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("scopes:", tok.Scopes, "rotated:", tok.RefreshToken == "rt-2")
	fmt.Println("calls:", mock.GetTotalCallCount())
	// Output:
	// form: grant_type=refresh_token&refresh_token=rt-1&scope=read
	// accept: application/json
	// basic, as sent: my-app true
	// basic, decoded: my-app true
	// scopes: [read] rotated: true
	// calls: 1
}
