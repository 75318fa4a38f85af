package refresh_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tokenrefresh/refresh"
)

// parseClock is the fixed clock of every ParseResponse test: expiry times are
// exact offsets from it.
var parseClock = time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

const (
	parseTokenURL = "https://as.example.com/oauth2/token"
	// sentRefreshToken is the refresh token that Client.NewRequest puts in the
	// request, which no error text may echo.
	sentRefreshToken = "RT-SECRET-SENT-0001"
)

// at returns the fixed clock plus d.
func at(d time.Duration) time.Time { return parseClock.Add(d) }

func newParseClient() *refresh.Client {
	return &refresh.Client{TokenURL: parseTokenURL, Now: func() time.Time { return parseClock }}
}

// withAT returns a JSON token response with an access token and token type,
// followed by more members (a comma-separated list, or "").
func withAT(more string) string {
	if more == "" {
		return `{"access_token":"AT-SECRET-7F3K","token_type":"Bearer"}`
	}
	return `{"access_token":"AT-SECRET-7F3K","token_type":"Bearer",` + more + `}`
}

// fieldsOf is the Excerpt of a ResponseError for a withAT body whose further
// members are named.
func fieldsOf(more ...string) string {
	return "fields: " + strings.Join(append([]string{"access_token", "token_type"}, more...), ", ")
}

// countingBody is a response body that counts Close calls.
type countingBody struct {
	io.Reader
	closes int
}

func (b *countingBody) Close() error {
	b.closes++
	return nil
}

// brokenReader returns head, then fails with err, as a connection reset midway.
type brokenReader struct {
	head string
	err  error
}

func (r *brokenReader) Read(p []byte) (int, error) {
	if r.head != "" {
		n := copy(p, r.head)
		r.head = r.head[n:]
		return n, nil
	}
	return 0, r.err
}

// endlessReader is a body that never ends.
type endlessReader struct{}

func (endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// wantResponseError is the expected *ResponseError, its cause aside.
type wantResponseError struct {
	StatusCode  int
	ContentType string
	Field       string
	Reason      string
	Excerpt     string
	RetryAfter  time.Duration
}

type responseCase struct {
	name        string
	status      int
	contentType string      // "" sends no Content-Type
	header      http.Header // further headers
	body        string
	reader      io.Reader // instead of body, when set
	// length is the Content-Length; 0 means len(body), -1 unknown (chunked).
	length      int64
	maxBytes    int64 // Client.MaxResponseBytes
	fromRequest bool  // resp.Request comes from Client.NewRequest
	nilBody     bool
	nilResponse bool

	want      *refresh.Tokens
	wantExtra map[string]any
	wantOAuth *refresh.OAuthError
	wantResp  *wantResponseError
	// wantCause is matched with errors.Is against the ResponseError; nil
	// requires ResponseError.Err to be nil unless wantSyntax is set.
	wantCause  error
	wantSyntax bool // ResponseError.Err is a *json.SyntaxError
}

var (
	errConnReset = errors.New("read tcp 10.0.0.1:443: connection reset by peer")
	// capBody is a body used right at the MaxResponseBytes boundary.
	capBody = withAT(`"padding":"` + strings.Repeat("x", 100) + `"`)
)

func responseCases() []responseCase {
	return []responseCase{
		// Tokens.
		{
			name:        "a complete JSON response gives every field",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":"AT-SECRET-0001","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-SECRET-0001","scope":"openid email","id_token":"eyJhbGciOiJub25lIn0.e30."}`,
			want: &refresh.Tokens{
				AccessToken: "AT-SECRET-0001", TokenType: "Bearer", RefreshToken: "RT-SECRET-0001",
				ExpiresAt: at(time.Hour), Scopes: []string{"openid", "email"},
				IDToken: "eyJhbGciOiJub25lIn0.e30.", IssuedAt: parseClock,
			},
			wantExtra: map[string]any{"expires_in": nil, "absent": nil},
		},
		{
			name:        "JSON with a charset parameter parses",
			status:      200,
			contentType: "application/json; charset=utf-8",
			body:        withAT(`"expires_in":60`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", ExpiresAt: at(time.Minute), IssuedAt: parseClock},
		},
		{
			name:        "a response built by NewRequest counts expiry from the request",
			status:      200,
			contentType: "application/json",
			fromRequest: true,
			body:        withAT(`"expires_in":600`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", ExpiresAt: at(10 * time.Minute), IssuedAt: parseClock},
		},
		{
			name:        "a form-encoded body parses like JSON",
			status:      200,
			contentType: "application/x-www-form-urlencoded",
			body:        "access_token=AT-SECRET-0002&token_type=Bearer&expires_in=7200&refresh_token=RT-SECRET-0002&scope=read+write",
			want: &refresh.Tokens{
				AccessToken: "AT-SECRET-0002", TokenType: "Bearer", RefreshToken: "RT-SECRET-0002",
				ExpiresAt: at(2 * time.Hour), Scopes: []string{"read", "write"}, IssuedAt: parseClock,
			},
			wantExtra: map[string]any{"expires_in": nil, "absent": nil},
		},
		{
			name:        "a text/plain form body from GitHub without Accept parses",
			status:      200,
			contentType: "text/plain; charset=utf-8",
			body:        "access_token=AT-SECRET-GH01&expires_in=28800&refresh_token=RT-SECRET-GH01&refresh_token_expires_in=15811200&scope=&token_type=bearer",
			want: &refresh.Tokens{
				AccessToken: "AT-SECRET-GH01", TokenType: "bearer", RefreshToken: "RT-SECRET-GH01",
				ExpiresAt: at(28800 * time.Second), RefreshTokenExpiresAt: at(15811200 * time.Second),
				Scopes: []string{}, IssuedAt: parseClock,
			},
		},
		{
			name:   "JSON without a Content-Type parses",
			status: 200,
			body:   withAT(`"expires_in":3600`),
			want:   &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", ExpiresAt: at(time.Hour), IssuedAt: parseClock},
		},
		{
			name:        "JSON labelled text/html parses",
			status:      200,
			contentType: "text/html; charset=ISO-8859-1",
			body:        withAT(`"expires_in":3600`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", ExpiresAt: at(time.Hour), IssuedAt: parseClock},
		},
		{
			name:        "a form body with a trailing newline keeps values and Extra in step",
			status:      200,
			contentType: "application/x-www-form-urlencoded",
			body:        "access_token=AT-SECRET-0008&token_type=bearer\r\n",
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-0008", TokenType: "bearer", IssuedAt: parseClock},
			wantExtra:   map[string]any{"access_token": nil, "token_type": nil},
		},
		{
			name:        "JSON labelled as a form parses as JSON",
			status:      200,
			contentType: "application/x-www-form-urlencoded",
			body:        withAT(""),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},
		{
			name:        "JSON with white space around it parses",
			status:      200,
			contentType: "application/json",
			body:        "\r\n\t " + withAT(`"expires_in" : 3600`) + "\n\n",
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", ExpiresAt: at(time.Hour), IssuedAt: parseClock},
		},
		{
			name:        "JSON after a UTF-8 byte-order mark parses",
			status:      200,
			contentType: "application/json",
			body:        "\xef\xbb\xbf" + withAT(`"expires_in":3600`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", ExpiresAt: at(time.Hour), IssuedAt: parseClock},
		},
		{
			name:        "expires_in as the string \"3600\" (Entra v1, PayPal) is a lifetime",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":"3600"`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", ExpiresAt: at(time.Hour), IssuedAt: parseClock},
		},
		{
			name:        "expires_in 0 means unknown and leaves ExpiresAt zero",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":0`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},
		{
			name:        "expires_in absent leaves ExpiresAt zero",
			status:      200,
			contentType: "application/json",
			body:        withAT(""),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},
		{
			name:        "expires_in null leaves ExpiresAt zero",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":null`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},
		{
			name:        "expires_in as an empty string leaves ExpiresAt zero",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":""`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},
		{
			name:        "a fractional expires_in keeps its fraction",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":3599.5`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", ExpiresAt: at(3599500 * time.Millisecond), IssuedAt: parseClock},
		},
		{
			name:        "expires_in with an exponent is read as a number",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":3.6e3`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", ExpiresAt: at(time.Hour), IssuedAt: parseClock},
		},
		{
			name:        "the longest lifetime a Duration holds is accepted",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":9223372036`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", ExpiresAt: at(9223372036 * time.Second), IssuedAt: parseClock},
		},
		{
			name:        "a lowercase bearer token type is kept as sent",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":"AT-SECRET-0003","token_type":"bearer"}`,
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-0003", TokenType: "bearer", IssuedAt: parseClock},
		},
		{
			name:        "a DPoP token type is kept as sent",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":"AT-SECRET-0004","token_type":"DPoP","expires_in":300}`,
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-0004", TokenType: "DPoP", ExpiresAt: at(5 * time.Minute), IssuedAt: parseClock},
		},
		{
			name:        "a null refresh_token means none was issued",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"refresh_token":null`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},
		{
			name:        "an id_token is returned unvalidated",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"id_token":"not.even.a.jwt"`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IDToken: "not.even.a.jwt", IssuedAt: parseClock},
		},
		{
			name:        "a comma-separated scope (GitHub) is split on commas and spaces",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"scope":"repo,gist, read:org"`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", Scopes: []string{"repo", "gist", "read:org"}, IssuedAt: parseClock},
		},
		{
			name:        "a scope array (Twitch) is taken as it is",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"scope":["chat:read","user:read:email"]`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", Scopes: []string{"chat:read", "user:read:email"}, IssuedAt: parseClock},
		},
		{
			name:        "an empty scope array gives empty but not nil Scopes",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"scope":[]`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", Scopes: []string{}, IssuedAt: parseClock},
		},
		{
			name:        "a null scope gives nil Scopes",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"scope":null`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},
		{
			name:        "an empty scope string gives empty but not nil Scopes",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"scope":""`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", Scopes: []string{}, IssuedAt: parseClock},
		},
		{
			name:        "refresh_token_expires_in (GitHub) sets RefreshTokenExpiresAt",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"refresh_token":"RT-SECRET-0005","refresh_token_expires_in":15897600`),
			want: &refresh.Tokens{
				AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", RefreshToken: "RT-SECRET-0005",
				RefreshTokenExpiresAt: at(15897600 * time.Second), IssuedAt: parseClock,
			},
		},
		{
			name:        "refresh_expires_in (Keycloak) sets RefreshTokenExpiresAt",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"refresh_expires_in":1800`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", RefreshTokenExpiresAt: at(30 * time.Minute), IssuedAt: parseClock},
		},
		{
			name:        "refresh_expires_in 0 (Keycloak offline token) means no maximum",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"refresh_expires_in":0`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},
		{
			name:        "unknown fields stay reachable with their JSON types",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"instance_url":"https://na1.salesforce.com","issued_at":"1278448384422","meta":{"tier":{"gold":true},"n":[1,2.5]},"ratio":0.25`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
			wantExtra: map[string]any{
				"instance_url": "https://na1.salesforce.com",
				"issued_at":    "1278448384422",
				"meta": map[string]any{
					"tier": map[string]any{"gold": true},
					"n":    []any{json.Number("1"), json.Number("2.5")},
				},
				"ratio": json.Number("0.25"),
			},
		},
		{
			name:        "a duplicate key takes its last value, as encoding/json does",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":"AT-SECRET-OLD1","token_type":"Bearer","access_token":"AT-SECRET-NEW1","x":1,"x":2}`,
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-NEW1", TokenType: "Bearer", IssuedAt: parseClock},
			wantExtra:   map[string]any{"access_token": nil, "x": json.Number("2")},
		},
		{
			name:        "keys spelt with unicode escapes are decoded",
			status:      200,
			contentType: "application/json",
			body:        `{"access\u005ftoken":"AT-SECRET-\u0041\u0042","token\u005Ftype":"Bearer","expires\u005fin":60}`,
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-AB", TokenType: "Bearer", ExpiresAt: at(time.Minute), IssuedAt: parseClock},
			wantExtra:   map[string]any{"expires_in": nil},
		},
		{
			name:        "an empty error is treated as no error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"error":""`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},
		{
			name:        "a null error is treated as no error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"error":null`),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},
		{
			name:        "a body of exactly MaxResponseBytes with a Content-Length is read",
			status:      200,
			contentType: "application/json",
			body:        capBody,
			maxBytes:    int64(len(capBody)),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},
		{
			name:        "a chunked body of exactly MaxResponseBytes is read",
			status:      200,
			contentType: "application/json",
			body:        capBody,
			length:      -1,
			maxBytes:    int64(len(capBody)),
			want:        &refresh.Tokens{AccessToken: "AT-SECRET-7F3K", TokenType: "Bearer", IssuedAt: parseClock},
		},

		// OAuth errors.
		{
			name:        "a 400 invalid_grant gives an OAuthError with every field",
			status:      400,
			contentType: "application/json",
			body:        `{"error":"invalid_grant","error_description":"Token has been expired or revoked.","error_uri":"https://developers.example.com/errors#invalid_grant"}`,
			wantOAuth: &refresh.OAuthError{
				Code: "invalid_grant", Description: "Token has been expired or revoked.",
				URI: "https://developers.example.com/errors#invalid_grant", StatusCode: 400,
			},
		},
		{
			name:        "an error sent with HTTP 200 (GitHub) is an OAuthError",
			status:      200,
			contentType: "application/json; charset=utf-8",
			body:        `{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired.","error_uri":"https://docs.github.com/apps"}`,
			wantOAuth: &refresh.OAuthError{
				Code: "bad_refresh_token", Description: "The refresh token passed is incorrect or expired.",
				URI: "https://docs.github.com/apps", StatusCode: 200,
			},
		},
		{
			name:        "a form-encoded error with HTTP 200 (GitHub without Accept) is an OAuthError",
			status:      200,
			contentType: "text/plain",
			body:        "error=bad_refresh_token&error_description=The+refresh+token+passed+is+incorrect+or+expired.&error_uri=https%3A%2F%2Fdocs.github.com%2Fapps",
			wantOAuth: &refresh.OAuthError{
				Code: "bad_refresh_token", Description: "The refresh token passed is incorrect or expired.",
				URI: "https://docs.github.com/apps", StatusCode: 200,
			},
		},
		{
			name:        "a 401 invalid_client keeps the WWW-Authenticate header",
			status:      401,
			contentType: "application/json",
			header:      http.Header{"Www-Authenticate": {`Basic realm="oauth2", charset="UTF-8"`}},
			body:        `{"error":"invalid_client","error_description":"Client authentication failed."}`,
			wantOAuth: &refresh.OAuthError{
				Code: "invalid_client", Description: "Client authentication failed.", StatusCode: 401,
				WWWAuthenticate: `Basic realm="oauth2", charset="UTF-8"`,
			},
		},
		{
			name:        "a 400 use_dpop_nonce keeps the DPoP WWW-Authenticate challenge",
			status:      400,
			contentType: "application/json",
			header:      http.Header{"Www-Authenticate": {`DPoP error="use_dpop_nonce"`}, "Dpop-Nonce": {"eyJ7S_zG.eyJH0-Z.HX4w-7v"}},
			body:        `{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"}`,
			wantOAuth: &refresh.OAuthError{
				Code: "use_dpop_nonce", Description: "Authorization server requires nonce in DPoP proof", StatusCode: 400,
				WWWAuthenticate: `DPoP error="use_dpop_nonce"`,
			},
		},
		{
			name:        "Retry-After in seconds sets RetryAfter",
			status:      503,
			contentType: "application/json",
			header:      http.Header{"Retry-After": {"120"}},
			body:        `{"error":"temporarily_unavailable"}`,
			wantOAuth:   &refresh.OAuthError{Code: "temporarily_unavailable", StatusCode: 503, RetryAfter: 2 * time.Minute},
		},
		{
			name:        "Retry-After as an HTTP date counts from the client's clock",
			status:      429,
			contentType: "application/json",
			header:      http.Header{"Retry-After": {at(90 * time.Second).Format(http.TimeFormat)}},
			body:        `{"error":"slow_down"}`,
			wantOAuth:   &refresh.OAuthError{Code: "slow_down", StatusCode: 429, RetryAfter: 90 * time.Second},
		},
		{
			name:        "Retry-After as a date in the past means no wait",
			status:      429,
			contentType: "application/json",
			header:      http.Header{"Retry-After": {at(-time.Hour).Format(http.TimeFormat)}},
			body:        `{"error":"slow_down"}`,
			wantOAuth:   &refresh.OAuthError{Code: "slow_down", StatusCode: 429},
		},
		{
			name:        "a negative Retry-After means no wait",
			status:      503,
			contentType: "application/json",
			header:      http.Header{"Retry-After": {"-5"}},
			body:        `{"error":"temporarily_unavailable"}`,
			wantOAuth:   &refresh.OAuthError{Code: "temporarily_unavailable", StatusCode: 503},
		},
		{
			name:        "an unreadable Retry-After means no wait",
			status:      503,
			contentType: "application/json",
			header:      http.Header{"Retry-After": {"soon"}},
			body:        `{"error":"temporarily_unavailable"}`,
			wantOAuth:   &refresh.OAuthError{Code: "temporarily_unavailable", StatusCode: 503},
		},
		{
			name:        "the refresh token sent is removed from error_description and error_uri",
			status:      400,
			contentType: "application/json",
			fromRequest: true,
			body:        `{"error":"invalid_grant","error_description":"refresh token ` + sentRefreshToken + ` was revoked","error_uri":"https://as.example.com/errors?token=` + sentRefreshToken + `"}`,
			wantOAuth: &refresh.OAuthError{
				Code: "invalid_grant", Description: "refresh token [redacted] was revoked",
				URI: "https://as.example.com/errors?token=[redacted]", StatusCode: 400,
			},
		},
		{
			name:        "an error_description that is not a string is dropped",
			status:      400,
			contentType: "application/json",
			body:        `{"error":"invalid_request","error_description":["a","b"],"error_uri":42}`,
			wantOAuth:   &refresh.OAuthError{Code: "invalid_request", StatusCode: 400},
		},
		{
			name:        "an error wins over tokens in the same body",
			status:      200,
			contentType: "application/json",
			body:        `{"error":"invalid_scope","access_token":"AT-SECRET-0601","token_type":"Bearer","refresh_token":"RT-SECRET-0601"}`,
			wantOAuth:   &refresh.OAuthError{Code: "invalid_scope", StatusCode: 200},
		},
		{
			name:        "an error body with a redirect status is still an OAuthError",
			status:      302,
			contentType: "application/json",
			header:      http.Header{"Location": {"https://elsewhere.example.com/"}},
			body:        `{"error":"invalid_request"}`,
			wantOAuth:   &refresh.OAuthError{Code: "invalid_request", StatusCode: 302},
		},
		{
			name:        "a form-encoded 400 error is an OAuthError",
			status:      400,
			contentType: "application/x-www-form-urlencoded",
			body:        "error=invalid_grant&error_description=expired",
			wantOAuth:   &refresh.OAuthError{Code: "invalid_grant", Description: "expired", StatusCode: 400},
		},

		// Response errors: lifetimes.
		{
			name:        "a negative expires_in is an error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":-60`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "negative", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "a negative expires_in string is an error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":"-1"`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "negative", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "a negative fractional expires_in is an error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":-0.5`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "negative", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "an expires_in of 1e300 seconds is too large",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":1e300`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "too large", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "an expires_in beyond int64 is too large",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":99999999999999999999`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "too large", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "an expires_in one second beyond a Duration is too large",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":"9223372037"`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "too large", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "an expires_in string beyond float64 is too large",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":"1e400"`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "too large", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "an expires_in of \"NaN\" is not a number",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":"NaN"`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "not a number", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "an expires_in of \"Inf\" is not a number",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":"Inf"`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "not a number", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "a hexadecimal expires_in is not a number",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":"0x10"`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "not a number", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "an expires_in of \"abc\" is not a number",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":"abc"`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "not a number", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "an expires_in of true is not a number",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":true`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "not a number", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "an expires_in object is not a number",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"expires_in":{"seconds":3600}`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "expires_in", Reason: "not a number", Excerpt: fieldsOf("expires_in")},
		},
		{
			name:        "a form-encoded expires_in that is not a number is an error",
			status:      200,
			contentType: "application/x-www-form-urlencoded",
			body:        "access_token=AT-SECRET-0701&expires_in=eight+hours&token_type=bearer",
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/x-www-form-urlencoded", Field: "expires_in", Reason: "not a number", Excerpt: "fields: access_token, expires_in, token_type"},
		},
		{
			name:        "a negative refresh_token_expires_in is an error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"refresh_token":"RT-SECRET-0702","refresh_token_expires_in":-1`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "refresh_token_expires_in", Reason: "negative", Excerpt: fieldsOf("refresh_token", "refresh_token_expires_in")},
		},
		{
			name:        "a refresh_expires_in that is not a number is an error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"refresh_expires_in":"soon"`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "refresh_expires_in", Reason: "not a number", Excerpt: fieldsOf("refresh_expires_in")},
		},

		// Response errors: token fields.
		{
			name:        "a missing access_token is an error",
			status:      200,
			contentType: "application/json",
			body:        `{"token_type":"Bearer","expires_in":3600,"refresh_token":"RT-SECRET-0801"}`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "access_token", Reason: "missing", Excerpt: "fields: token_type, expires_in, refresh_token"},
		},
		{
			name:        "a numeric access_token is an error",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":12345678,"token_type":"Bearer"}`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "access_token", Reason: "not a string", Excerpt: fieldsOf()},
		},
		{
			name:        "a null access_token is missing",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":null,"token_type":"Bearer"}`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "access_token", Reason: "missing", Excerpt: fieldsOf()},
		},
		{
			name:        "an empty access_token is an error",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":"","token_type":"Bearer","refresh_token":"RT-SECRET-0802"}`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "access_token", Reason: "empty", Excerpt: fieldsOf("refresh_token")},
		},
		{
			name:        "an access_token object is an error that shows none of its content",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":{"value":"AT-SECRET-0803"},"token_type":"Bearer"}`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "access_token", Reason: "not a string", Excerpt: fieldsOf()},
		},
		{
			name:        "a missing token_type is an error",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":"AT-SECRET-0804","expires_in":3600}`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "token_type", Reason: "missing", Excerpt: "fields: access_token, expires_in"},
		},
		{
			name:        "an empty token_type is an error",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":"AT-SECRET-0805","token_type":""}`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "token_type", Reason: "not a non-empty string", Excerpt: fieldsOf()},
		},
		{
			name:        "a numeric token_type is an error",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":"AT-SECRET-0806","token_type":1}`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "token_type", Reason: "not a non-empty string", Excerpt: fieldsOf()},
		},
		{
			name:        "a numeric refresh_token is an error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"refresh_token":424242424242`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "refresh_token", Reason: "not a string", Excerpt: fieldsOf("refresh_token")},
		},
		{
			name:        "an id_token that is not a string is an error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"id_token":false`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "id_token", Reason: "not a string", Excerpt: fieldsOf("id_token")},
		},
		{
			name:        "a scope array holding a number is an error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"scope":["read",7]`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "scope", Reason: "not a string or an array of strings", Excerpt: fieldsOf("scope")},
		},
		{
			name:        "a numeric scope is an error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"scope":7`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "scope", Reason: "not a string or an array of strings", Excerpt: fieldsOf("scope")},
		},
		{
			name:        "a scope object is an error",
			status:      200,
			contentType: "application/json",
			body:        withAT(`"scope":{"read":true}`),
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "scope", Reason: "not a string or an array of strings", Excerpt: fieldsOf("scope")},
		},
		{
			name:        "an error that is a number is an error about the error field",
			status:      400,
			contentType: "application/json",
			body:        `{"error":42,"error_description":"bad"}`,
			wantResp:    &wantResponseError{StatusCode: 400, ContentType: "application/json", Field: "error", Reason: "not a string", Excerpt: "fields: error, error_description"},
		},
		{
			name:        "an error that is an object is an error about the error field",
			status:      200,
			contentType: "application/json",
			body:        `{"error":{"code":"invalid_grant"},"access_token":"AT-SECRET-0807","token_type":"Bearer"}`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "error", Reason: "not a string", Excerpt: "fields: error, access_token, token_type"},
		},
		{
			name:        "an empty error with an error status has no OAuth error body",
			status:      400,
			contentType: "application/json",
			body:        `{"error":""}`,
			wantResp:    &wantResponseError{StatusCode: 400, ContentType: "application/json", Reason: "error status without an OAuth error body", Excerpt: "fields: error"},
		},
		{
			name:        "a 500 with a JSON body but no error field is a response error",
			status:      500,
			contentType: "application/json",
			body:        `{"message":"Internal Server Error","access_token":"AT-SECRET-0808"}`,
			wantResp:    &wantResponseError{StatusCode: 500, ContentType: "application/json", Reason: "error status without an OAuth error body", Excerpt: "fields: message, access_token"},
		},
		{
			name:        "a form body without access_token is an error",
			status:      200,
			contentType: "application/x-www-form-urlencoded",
			body:        "token_type=bearer&expires_in=3600&refresh_token=RT-SECRET-0809",
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/x-www-form-urlencoded", Field: "access_token", Reason: "missing", Excerpt: "fields: expires_in, refresh_token, token_type"},
		},
		{
			name:        "a form body with an empty access_token is an error",
			status:      200,
			contentType: "application/x-www-form-urlencoded",
			body:        "access_token=&token_type=bearer",
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/x-www-form-urlencoded", Field: "access_token", Reason: "empty", Excerpt: "fields: access_token, token_type"},
		},
		{
			name:        "a form body's refresh token that is not UTF-8 is refused, not changed on its way to the Store",
			status:      200,
			contentType: "application/x-www-form-urlencoded",
			body:        "access_token=AT-0810&token_type=bearer&refresh_token=RT-%FF-0810",
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/x-www-form-urlencoded", Field: "refresh_token", Reason: "not valid UTF-8", Excerpt: "fields: access_token, refresh_token, token_type"},
		},
		{
			name:        "a form body's scope that is not UTF-8 is refused",
			status:      200,
			contentType: "application/x-www-form-urlencoded",
			body:        "access_token=AT-0811&token_type=bearer&scope=repo%800000",
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/x-www-form-urlencoded", Field: "scope", Reason: "not valid UTF-8", Excerpt: "fields: access_token, scope, token_type"},
		},

		// Response errors: bodies that are not token responses.
		{
			name:        "malformed JSON is an error that shows no value",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":"AT-SECRET-0901","token_type":"Bearer",}`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: "malformed JSON"},
			wantSyntax:  true,
		},
		{
			name:        "truncated JSON is an error that shows no value",
			status:      200,
			contentType: "application/json",
			body:        `{"access_token":"AT-SECRET-0902","refresh_token":"RT-SECRET-0902","token_type":"Bea`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: "malformed JSON"},
			wantSyntax:  true,
		},
		{
			name:        "a JSON array body is not an object",
			status:      200,
			contentType: "application/json",
			body:        `[{"access_token":"AT-SECRET-0903","token_type":"Bearer"}]`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: "JSON body is not an object"},
		},
		{
			name:        "a JSON string body is not an object",
			status:      200,
			contentType: "application/json",
			body:        `"AT-SECRET-0904"`,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: "JSON body is not an object"},
		},
		{
			name:        "a text line starting with a bracket is not taken for JSON",
			status:      502,
			contentType: "text/plain",
			body:        "[error] upstream timed out (110: Connection timed out)\n",
			wantResp:    &wantResponseError{StatusCode: 502, ContentType: "text/plain", Reason: "not an OAuth response", Excerpt: "[error] upstream timed out (110: Connection timed out)"},
		},
		{
			name:        "an empty body with HTTP 200 is an error",
			status:      200,
			contentType: "application/json",
			body:        "",
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: "empty body"},
		},
		{
			name:        "a body of white space only is an empty body",
			status:      200,
			contentType: "application/json",
			body:        " \r\n\t ",
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: "empty body"},
		},
		{
			name:     "a 204 without a body is an empty body",
			status:   204,
			body:     "",
			wantResp: &wantResponseError{StatusCode: 204, Reason: "empty body"},
		},
		{
			name:        "an HTML 502 from a proxy gives a folded excerpt",
			status:      502,
			contentType: "text/html",
			body:        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
			wantResp: &wantResponseError{
				StatusCode: 502, ContentType: "text/html", Reason: "not an OAuth response",
				Excerpt: "<html> <head><title>502 Bad Gateway</title></head> <body> <center><h1>502 Bad Gateway</h1></center> <hr><center>nginx</center> </body> </html>",
			},
		},
		{
			name:        "a long HTML page is cut to 200 characters",
			status:      500,
			contentType: "text/html",
			body:        strings.Repeat("a", 1000),
			wantResp:    &wantResponseError{StatusCode: 500, ContentType: "text/html", Reason: "not an OAuth response", Excerpt: strings.Repeat("a", 200) + "…"},
		},
		{
			name:        "control characters in a text body are replaced in the excerpt",
			status:      500,
			contentType: "text/plain",
			body:        "upstream\tfailed\x1b[31m\n\nFAKE LOG LINE\x00",
			wantResp:    &wantResponseError{StatusCode: 500, ContentType: "text/plain", Reason: "not an OAuth response", Excerpt: "upstream failed?[31m FAKE LOG LINE?"},
		},
		{
			name:        "the refresh token sent is removed from an HTML excerpt",
			status:      400,
			contentType: "text/html",
			fromRequest: true,
			body:        "<p>invalid token " + sentRefreshToken + "</p>",
			wantResp:    &wantResponseError{StatusCode: 400, ContentType: "text/html", Reason: "not an OAuth response", Excerpt: "<p>invalid token [redacted]</p>"},
		},
		{
			name:        "a 503 HTML page keeps Retry-After",
			status:      503,
			contentType: "text/html",
			header:      http.Header{"Retry-After": {"120"}},
			body:        `<html><body bgcolor="white">Service Unavailable</body></html>`,
			wantResp: &wantResponseError{
				StatusCode: 503, ContentType: "text/html", Reason: "not an OAuth response", RetryAfter: 2 * time.Minute,
				Excerpt: `<html><body bgcolor="white">Service Unavailable</body></html>`,
			},
		},
		{
			name:        "a plain text 400 is not an OAuth response",
			status:      400,
			contentType: "text/plain",
			body:        "Bad Request",
			wantResp:    &wantResponseError{StatusCode: 400, ContentType: "text/plain", Reason: "not an OAuth response", Excerpt: "Bad Request"},
		},
		{
			name:        "a form body with a bad percent escape shows only field names",
			status:      200,
			contentType: "application/x-www-form-urlencoded",
			body:        "access_token=AT-SECRET-0905&token_type=bearer&note=100%",
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/x-www-form-urlencoded", Reason: "not an OAuth response", Excerpt: "fields: access_token, token_type"},
		},
		{
			name:        "a form body whose only value has a bad escape shows nothing",
			status:      200,
			contentType: "application/x-www-form-urlencoded",
			body:        "access_token=AT-SECRET-0907%zz",
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/x-www-form-urlencoded", Reason: "not an OAuth response"},
		},
		{
			name:        "an empty JSON object lists no fields",
			status:      200,
			contentType: "application/json",
			body:        "{}",
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Field: "access_token", Reason: "missing"},
		},
		{
			name:     "a redirect without a body is not followed and its query is not shown",
			status:   302,
			header:   http.Header{"Location": {"https://login.example.com/signin?session=S3CR3T-QUERY&rt=RT-SECRET-LOC#frag"}},
			body:     "",
			wantResp: &wantResponseError{StatusCode: 302, Reason: "redirect not followed (to https://login.example.com/signin)"},
		},
		{
			name:        "a redirect with an HTML body is not followed",
			status:      301,
			contentType: "text/html; charset=utf-8",
			header:      http.Header{"Location": {"https://as.example.com/v2/token?x=1"}},
			body:        "<a href=\"https://as.example.com/v2/token?x=1\">Moved Permanently</a>.\n",
			wantResp: &wantResponseError{
				StatusCode: 301, ContentType: "text/html; charset=utf-8", Reason: "redirect not followed (to https://as.example.com/v2/token)",
				Excerpt: "<a href=\"https://as.example.com/v2/token?x=1\">Moved Permanently</a>.",
			},
		},
		{
			name:        "a redirect carrying tokens is not followed and shows no token",
			status:      307,
			contentType: "application/json",
			header:      http.Header{"Location": {"/elsewhere?x=1"}},
			body:        withAT(`"refresh_token":"RT-SECRET-0906"`),
			wantResp:    &wantResponseError{StatusCode: 307, ContentType: "application/json", Reason: "redirect not followed (to /elsewhere)", Excerpt: fieldsOf("refresh_token")},
		},

		// Response errors: reading the body.
		{
			name:        "a body over MaxResponseBytes with a Content-Length is refused",
			status:      200,
			contentType: "application/json",
			body:        capBody,
			maxBytes:    int64(len(capBody)) - 1,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: fmt.Sprintf("body larger than %d bytes", len(capBody)-1)},
			wantCause:   refresh.ErrResponseTooLarge,
		},
		{
			name:        "a chunked body over MaxResponseBytes is refused",
			status:      200,
			contentType: "application/json",
			body:        capBody,
			length:      -1,
			maxBytes:    int64(len(capBody)) - 1,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: fmt.Sprintf("body larger than %d bytes", len(capBody)-1)},
			wantCause:   refresh.ErrResponseTooLarge,
		},
		{
			name:        "an endless chunked body stops at the default cap",
			status:      200,
			contentType: "application/json",
			reader:      endlessReader{},
			length:      -1,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: fmt.Sprintf("body larger than %d bytes", refresh.DefaultMaxResponseBytes)},
			wantCause:   refresh.ErrResponseTooLarge,
		},
		{
			name:        "a huge Content-Length is refused before reading",
			status:      200,
			contentType: "application/json",
			reader:      endlessReader{},
			length:      1 << 40,
			maxBytes:    4096,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: "body larger than 4096 bytes"},
			wantCause:   refresh.ErrResponseTooLarge,
		},
		{
			name:        "a read error midway through a chunked body is wrapped",
			status:      200,
			contentType: "application/json",
			reader:      &brokenReader{head: `{"access_token":"AT-SECRET-1001",`, err: errConnReset},
			length:      -1,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: "reading body"},
			wantCause:   errConnReset,
		},
		{
			name:        "a read error midway through a body with a Content-Length is wrapped",
			status:      200,
			contentType: "application/json",
			reader:      &brokenReader{head: `{"access_token":"AT-SECRET-1002",`, err: errConnReset},
			length:      200,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: "reading body"},
			wantCause:   errConnReset,
		},
		{
			name:        "a body shorter than its Content-Length is an unexpected EOF",
			status:      200,
			contentType: "application/json",
			reader:      strings.NewReader(`{"access_token":"AT-SECRET-1003"`),
			length:      500,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: "reading body"},
			wantCause:   io.ErrUnexpectedEOF,
		},
		{
			name:        "a nil body is a response error",
			status:      200,
			contentType: "application/json",
			nilBody:     true,
			wantResp:    &wantResponseError{StatusCode: 200, ContentType: "application/json", Reason: "no body"},
		},
		{
			name:        "a nil response is a response error",
			nilResponse: true,
			wantResp:    &wantResponseError{Reason: "nil *http.Response"},
		},
	}
}

func TestParseResponse(t *testing.T) {
	for _, tc := range responseCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := newParseClient()
			c.MaxResponseBytes = tc.maxBytes
			var resp *http.Response
			var body *countingBody
			if !tc.nilResponse {
				resp = &http.Response{
					StatusCode:    tc.status,
					Header:        http.Header{},
					ContentLength: int64(len(tc.body)),
				}
				if tc.contentType != "" {
					resp.Header.Set("Content-Type", tc.contentType)
				}
				for k, v := range tc.header {
					resp.Header[k] = v
				}
				if tc.length != 0 {
					resp.ContentLength = tc.length
				}
				if !tc.nilBody {
					r := tc.reader
					if r == nil {
						r = strings.NewReader(tc.body)
					}
					body = &countingBody{Reader: r}
					resp.Body = body
				}
				if tc.fromRequest {
					req, err := c.NewRequest(context.Background(), sentRefreshToken)
					if err != nil {
						t.Fatalf("NewRequest: %v", err)
					}
					resp.Request = req
				}
			}

			got, err := c.ParseResponse(resp)

			if body != nil && body.closes != 1 {
				t.Errorf("body closed %d times, want once", body.closes)
			}
			if tc.want != nil {
				if err != nil {
					t.Fatalf("ParseResponse error: %v", err)
				}
				if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(refresh.Tokens{})); diff != "" {
					t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
				}
				for name, want := range tc.wantExtra {
					if diff := cmp.Diff(want, got.Extra(name)); diff != "" {
						t.Errorf("Extra(%q) mismatch (-want +got):\n%s", name, diff)
					}
				}
				return
			}

			if err == nil {
				t.Fatalf("ParseResponse returned no error; tokens: %v", got)
			}
			if got != nil {
				t.Errorf("ParseResponse returned tokens %v along with error %v", got, err)
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				for _, secret := range []string{"AT-SECRET", "RT-SECRET", "S3CR3T"} {
					if strings.Contains(text, secret) {
						t.Errorf("error text shows a secret (%s): %s", secret, text)
					}
				}
			}

			if tc.wantOAuth != nil {
				var oe *refresh.OAuthError
				if !errors.As(err, &oe) {
					t.Fatalf("error %T (%v), want *refresh.OAuthError", err, err)
				}
				if diff := cmp.Diff(tc.wantOAuth, oe); diff != "" {
					t.Errorf("OAuthError mismatch (-want +got):\n%s", diff)
				}
				if !errors.Is(err, refresh.ErrorCode(tc.wantOAuth.Code)) {
					t.Errorf("errors.Is(err, ErrorCode(%q)) = false", tc.wantOAuth.Code)
				}
				return
			}

			var re *refresh.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("error %T (%v), want *refresh.ResponseError", err, err)
			}
			gotResp := wantResponseError{
				StatusCode: re.StatusCode, ContentType: re.ContentType, Field: re.Field,
				Reason: re.Reason, Excerpt: re.Excerpt, RetryAfter: re.RetryAfter,
			}
			if diff := cmp.Diff(*tc.wantResp, gotResp); diff != "" {
				t.Errorf("ResponseError mismatch (-want +got):\n%s", diff)
			}
			switch {
			case tc.wantCause != nil:
				if !errors.Is(err, tc.wantCause) {
					t.Errorf("errors.Is(err, %v) = false; Err = %v", tc.wantCause, re.Err)
				}
			case tc.wantSyntax:
				var se *json.SyntaxError
				if !errors.As(err, &se) {
					t.Errorf("Err = %#v, want a *json.SyntaxError", re.Err)
				}
			case re.Err != nil:
				t.Errorf("Err = %v, want nil", re.Err)
			}
			if errors.Is(err, refresh.ErrResponseTooLarge) != (tc.wantCause == refresh.ErrResponseTooLarge) {
				t.Errorf("errors.Is(err, ErrResponseTooLarge) = %v", errors.Is(err, refresh.ErrResponseTooLarge))
			}
			text := err.Error()
			for _, part := range []string{fmt.Sprintf("HTTP %d", re.StatusCode), re.Field, re.Reason} {
				if !strings.Contains(text, part) {
					t.Errorf("error text %q does not contain %q", text, part)
				}
			}
		})
	}
}

// parse runs ParseResponse over a literal response with the fixed clock.
func parse(t *testing.T, status int, contentType, body string) (*refresh.Tokens, error) {
	t.Helper()
	resp := &http.Response{
		StatusCode:    status,
		Header:        http.Header{},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
	}
	if contentType != "" {
		resp.Header.Set("Content-Type", contentType)
	}
	return newParseClient().ParseResponse(resp)
}

func TestParseResponseProviderQuirks(t *testing.T) {
	ignore := cmpopts.IgnoreUnexported(refresh.Tokens{})

	t.Run("GitHub sends an error with HTTP 200", func(t *testing.T) {
		got, err := parse(t, 200, "application/json; charset=utf-8",
			`{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired.","error_uri":"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors#bad-refresh-token"}`)
		if got != nil {
			t.Errorf("tokens %v returned with an error", got)
		}
		var oe *refresh.OAuthError
		if !errors.As(err, &oe) {
			t.Fatalf("error %v, want *refresh.OAuthError", err)
		}
		want := &refresh.OAuthError{
			Code:        "bad_refresh_token",
			Description: "The refresh token passed is incorrect or expired.",
			URI:         "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors#bad-refresh-token",
			StatusCode:  200,
		}
		if diff := cmp.Diff(want, oe); diff != "" {
			t.Errorf("OAuthError mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("GitHub without Accept sends a form body", func(t *testing.T) {
		got, err := parse(t, 200, "application/x-www-form-urlencoded; charset=utf-8",
			"access_token=ghu_AT-SECRET-GH02&expires_in=28800&refresh_token=ghr_RT-SECRET-GH02&refresh_token_expires_in=15724800&scope=repo%2Cgist&token_type=bearer")
		if err != nil {
			t.Fatalf("ParseResponse: %v", err)
		}
		want := &refresh.Tokens{
			AccessToken: "ghu_AT-SECRET-GH02", TokenType: "bearer", RefreshToken: "ghr_RT-SECRET-GH02",
			ExpiresAt: at(8 * time.Hour), RefreshTokenExpiresAt: at(15724800 * time.Second),
			Scopes: []string{"repo", "gist"}, IssuedAt: parseClock,
		}
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(nil, got.Extra("expires_in")); diff != "" {
			t.Errorf("Extra(expires_in) mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Entra v1 sends expires_in, expires_on and not_before as strings", func(t *testing.T) {
		got, err := parse(t, 200, "application/json; charset=utf-8",
			`{"token_type":"Bearer","scope":"User.Read Mail.Read","expires_in":"3599","ext_expires_in":"3599","expires_on":"1741968165","not_before":"1741964266","resource":"https://graph.microsoft.com","access_token":"eyJ0AT-SECRET-ENTRA","refresh_token":"0.ARoRT-SECRET-ENTRA"}`)
		if err != nil {
			t.Fatalf("ParseResponse: %v", err)
		}
		want := &refresh.Tokens{
			AccessToken: "eyJ0AT-SECRET-ENTRA", TokenType: "Bearer", RefreshToken: "0.ARoRT-SECRET-ENTRA",
			ExpiresAt: at(3599 * time.Second), Scopes: []string{"User.Read", "Mail.Read"}, IssuedAt: parseClock,
		}
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
		}
		wantExtra := map[string]any{
			"expires_on": "1741968165", "not_before": "1741964266",
			"ext_expires_in": "3599", "resource": "https://graph.microsoft.com",
		}
		for name, want := range wantExtra {
			if diff := cmp.Diff(want, got.Extra(name)); diff != "" {
				t.Errorf("Extra(%q) mismatch (-want +got):\n%s", name, diff)
			}
		}
	})

	t.Run("Twitch sends scope as a JSON array and a lowercase bearer", func(t *testing.T) {
		got, err := parse(t, 200, "application/json",
			`{"access_token":"AT-SECRET-TWITCH","expires_in":14124,"refresh_token":"RT-SECRET-TWITCH","scope":["channel:read:subscriptions","chat:read"],"token_type":"bearer"}`)
		if err != nil {
			t.Fatalf("ParseResponse: %v", err)
		}
		want := &refresh.Tokens{
			AccessToken: "AT-SECRET-TWITCH", TokenType: "bearer", RefreshToken: "RT-SECRET-TWITCH",
			ExpiresAt: at(14124 * time.Second), Scopes: []string{"channel:read:subscriptions", "chat:read"}, IssuedAt: parseClock,
		}
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Twitter sends a lowercase bearer, kept as sent", func(t *testing.T) {
		got, err := parse(t, 200, "application/json;charset=utf-8",
			`{"token_type":"bearer","expires_in":7200,"access_token":"AT-SECRET-X","scope":"tweet.read users.read offline.access","refresh_token":"RT-SECRET-X"}`)
		if err != nil {
			t.Fatalf("ParseResponse: %v", err)
		}
		want := &refresh.Tokens{
			AccessToken: "AT-SECRET-X", TokenType: "bearer", RefreshToken: "RT-SECRET-X",
			ExpiresAt: at(2 * time.Hour), Scopes: []string{"tweet.read", "users.read", "offline.access"}, IssuedAt: parseClock,
		}
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Salesforce sends no expires_in and extra fields", func(t *testing.T) {
		got, err := parse(t, 200, "application/json;charset=UTF-8",
			`{"access_token":"00DAT-SECRET-SF","signature":"SSSbLO/gBhmmyNUvN18ODBDFYHzakxOMgqYtu+hDPsc=","scope":"refresh_token api","instance_url":"https://yourInstance.salesforce.com","id":"https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P","token_type":"Bearer","issued_at":"1278448384422"}`)
		if err != nil {
			t.Fatalf("ParseResponse: %v", err)
		}
		want := &refresh.Tokens{
			AccessToken: "00DAT-SECRET-SF", TokenType: "Bearer",
			Scopes: []string{"refresh_token", "api"}, IssuedAt: parseClock,
		}
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
		}
		if !got.ExpiresAt.IsZero() || got.Lifetime() != 0 {
			t.Errorf("ExpiresAt = %v, Lifetime = %v; want zero (unknown)", got.ExpiresAt, got.Lifetime())
		}
		for name, want := range map[string]any{"instance_url": "https://yourInstance.salesforce.com", "issued_at": "1278448384422"} {
			if diff := cmp.Diff(want, got.Extra(name)); diff != "" {
				t.Errorf("Extra(%q) mismatch (-want +got):\n%s", name, diff)
			}
		}
	})

	t.Run("Keycloak sends refresh_expires_in", func(t *testing.T) {
		got, err := parse(t, 200, "application/json",
			`{"access_token":"eyJAT-SECRET-KC","expires_in":300,"refresh_expires_in":1800,"refresh_token":"eyJRT-SECRET-KC","token_type":"Bearer","id_token":"eyJID","not-before-policy":0,"session_state":"5d5b2b7e","scope":"openid email profile"}`)
		if err != nil {
			t.Fatalf("ParseResponse: %v", err)
		}
		want := &refresh.Tokens{
			AccessToken: "eyJAT-SECRET-KC", TokenType: "Bearer", RefreshToken: "eyJRT-SECRET-KC", IDToken: "eyJID",
			ExpiresAt: at(5 * time.Minute), RefreshTokenExpiresAt: at(30 * time.Minute),
			Scopes: []string{"openid", "email", "profile"}, IssuedAt: parseClock,
		}
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(any(json.Number("0")), got.Extra("not-before-policy")); diff != "" {
			t.Errorf("Extra(not-before-policy) mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Keycloak offline tokens send refresh_expires_in 0 for no maximum", func(t *testing.T) {
		got, err := parse(t, 200, "application/json",
			`{"access_token":"eyJAT-SECRET-KC2","expires_in":300,"refresh_expires_in":0,"refresh_token":"eyJRT-SECRET-KC2","token_type":"Bearer","scope":"offline_access"}`)
		if err != nil {
			t.Fatalf("ParseResponse: %v", err)
		}
		if !got.RefreshTokenExpiresAt.IsZero() {
			t.Errorf("RefreshTokenExpiresAt = %v, want zero", got.RefreshTokenExpiresAt)
		}
		if want := at(5 * time.Minute); !got.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, want)
		}
	})

	t.Run("PayPal sends expires_in as a string and scope null", func(t *testing.T) {
		got, err := parse(t, 200, "application/json",
			`{"scope":null,"access_token":"A21AT-SECRET-PP","token_type":"Bearer","app_id":"APP-80W284485P519543T","expires_in":"32400","nonce":"2025-03-14T15:09:26Z"}`)
		if err != nil {
			t.Fatalf("ParseResponse: %v", err)
		}
		want := &refresh.Tokens{AccessToken: "A21AT-SECRET-PP", TokenType: "Bearer", ExpiresAt: at(9 * time.Hour), IssuedAt: parseClock}
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestOAuthErrorMatchesItsCodeOnly(t *testing.T) {
	sentinels := []struct {
		code string
		err  error
	}{
		{"invalid_grant", refresh.ErrInvalidGrant},
		{"invalid_client", refresh.ErrInvalidClient},
		{"invalid_request", refresh.ErrInvalidRequest},
		{"invalid_scope", refresh.ErrInvalidScope},
		{"unauthorized_client", refresh.ErrUnauthorizedClient},
		{"unsupported_grant_type", refresh.ErrUnsupportedGrantType},
	}
	for _, s := range sentinels {
		t.Run("an "+s.code+" error matches its sentinel and no other", func(t *testing.T) {
			_, err := parse(t, 400, "application/json", `{"error":"`+s.code+`"}`)
			for _, other := range sentinels {
				if got, want := errors.Is(err, other.err), other.code == s.code; got != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, other.err, got, want)
				}
			}
			if errors.Is(err, refresh.ErrResponseTooLarge) {
				t.Errorf("errors.Is(%v, ErrResponseTooLarge) = true", err)
			}
			var oe *refresh.OAuthError
			if !errors.As(err, &oe) || oe.Code != s.code {
				t.Errorf("errors.As(%v, *OAuthError) gives %+v, want code %q", err, oe, s.code)
			}
		})
	}

	t.Run("a custom code matches an ErrorCode made for it", func(t *testing.T) {
		_, err := parse(t, 400, "application/json", `{"error":"use_dpop_nonce"}`)
		if !errors.Is(err, refresh.ErrorCode("use_dpop_nonce")) {
			t.Errorf("errors.Is(%v, ErrorCode(use_dpop_nonce)) = false", err)
		}
		if errors.Is(err, refresh.ErrorCode("use_dpop")) || errors.Is(err, refresh.ErrInvalidRequest) {
			t.Errorf("%v matches a code it does not carry", err)
		}
	})

	t.Run("a wrapped OAuthError still matches its code", func(t *testing.T) {
		_, err := parse(t, 400, "application/json", `{"error":"invalid_grant"}`)
		wrapped := fmt.Errorf("refreshing for user 7: %w", err)
		if !errors.Is(wrapped, refresh.ErrInvalidGrant) {
			t.Errorf("errors.Is(wrapped, ErrInvalidGrant) = false")
		}
		var oe *refresh.OAuthError
		if !errors.As(wrapped, &oe) || oe.StatusCode != 400 {
			t.Errorf("errors.As(wrapped, *OAuthError) gives %+v", oe)
		}
	})

	t.Run("an ErrorCode's text names its code", func(t *testing.T) {
		if got, want := refresh.ErrInvalidGrant.Error(), "refresh: oauth2 error invalid_grant"; got != want {
			t.Errorf("ErrInvalidGrant.Error() = %q, want %q", got, want)
		}
	})

	t.Run("a response error matches no OAuth code", func(t *testing.T) {
		_, err := parse(t, 502, "text/html", "<h1>Bad Gateway</h1>")
		for _, s := range sentinels {
			if errors.Is(err, s.err) {
				t.Errorf("errors.Is(%v, %v) = true", err, s.err)
			}
		}
		var oe *refresh.OAuthError
		if errors.As(err, &oe) {
			t.Errorf("errors.As(%v, *OAuthError) = true", err)
		}
	})
}

func TestParseResponseOnNilClient(t *testing.T) {
	var c *refresh.Client
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(withAT(`"expires_in":60`))), ContentLength: -1}
	got, err := c.ParseResponse(resp)
	if err != nil {
		t.Fatalf("ParseResponse on a nil *Client: %v", err)
	}
	if got.AccessToken != "AT-SECRET-7F3K" || got.Lifetime() != time.Minute {
		t.Errorf("got %v with lifetime %v, want the access token with lifetime 1m", got, got.Lifetime())
	}
}

// parseAnswer parses a response to a refresh of refreshToken built by c.
func parseAnswer(t *testing.T, c *refresh.Client, refreshToken string, status int, header http.Header, body string) (*refresh.Tokens, error) {
	t.Helper()
	req, err := c.NewRequest(context.Background(), refreshToken)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	resp := &http.Response{
		StatusCode:    status,
		Header:        header,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
	return c.ParseResponse(resp)
}

func TestParseResponseRefusesAnAccessTokenNoHeaderCanCarry(t *testing.T) {
	tests := []struct{ name, token string }{
		{"CR LF", "AT-SECRET-D9\r\nX-Injected: 1"},
		{"a lone LF", "AT-SECRET-D9\nmore"},
		{"a lone CR", "AT-SECRET-D9\rmore"},
		{"NUL", "AT-SECRET-D9\x00"},
		{"a tab", "AT-SECRET-D9\tmore"},
		{"a space", "AT-SECRET-D9 more"},
		{"DEL", "AT-SECRET-D9\x7f"},
		{"a unit separator", "\x1fAT-SECRET-D9"},
	}
	for _, tc := range tests {
		js, _ := json.Marshal(tc.token)
		bodies := map[string]string{
			"application/json":                  `{"access_token":` + string(js) + `,"token_type":"Bearer"}`,
			"application/x-www-form-urlencoded": "access_token=" + url.QueryEscape(tc.token) + "&token_type=bearer",
		}
		for ct, body := range bodies {
			t.Run("an access token with "+tc.name+" in "+ct+" is refused", func(t *testing.T) {
				tok, err := parse(t, 200, ct, body)
				var re *refresh.ResponseError
				if !errors.As(err, &re) {
					t.Fatalf("ParseResponse = %v, %v; want a *ResponseError", tok, err)
				}
				if re.Field != "access_token" {
					t.Errorf("Field = %q, want access_token", re.Field)
				}
				if text := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(text, "AT-SECRET") {
					t.Errorf("error text shows the token: %s", text)
				}
			})
		}
	}

	// RFC 6750's b64token allows none of '!', '*' or '%', but real tokens hold them:
	// Salesforce's start "00D...!".
	for _, token := range []string{"00Dx0000000BV7z!AR8AQP0jITN80ESEsj5EbaZTFG0R", "ya29.a0*%é"} {
		t.Run("an access token with "+token[:4]+"… outside b64token is accepted", func(t *testing.T) {
			js, _ := json.Marshal(token)
			tok, err := parse(t, 200, "application/json", `{"access_token":`+string(js)+`,"token_type":"Bearer"}`)
			if err != nil {
				t.Fatalf("ParseResponse: %v", err)
			}
			if tok.AccessToken != token {
				t.Errorf("AccessToken = %q, want %q", tok.AccessToken, token)
			}
		})
	}
}

// TestParseResponseRedactsEncodedSecrets echoes the secrets a request carried, in
// every encoding a server or proxy may use, into each place of an error that
// holds server text.
func TestParseResponseRedactsEncodedSecrets(t *testing.T) {
	const (
		rt     = "RT-SECRET/+ =sent~7"
		id     = "app:1"
		secret = "S3CR3T/+ &=x"
	)
	b64 := base64.StdEncoding.EncodeToString
	b64url := base64.URLEncoding.EncodeToString
	basic := refresh.ClientSecretBasic(id, secret)
	forms := []struct {
		name, echo string
		auth       refresh.Auth
	}{
		{"the refresh token", rt, basic},
		{"the form-encoded refresh token", url.QueryEscape(rt), basic},
		{"the path-escaped refresh token", url.PathEscape(rt), basic},
		{"the base64 refresh token", b64([]byte(rt)), basic},
		{"the URL-base64 refresh token", b64url([]byte(rt)), basic},
		{"the unpadded base64 refresh token", base64.RawStdEncoding.EncodeToString([]byte(rt)), basic},
		{"the client secret", secret, basic},
		{"the form-encoded client secret", url.QueryEscape(secret), basic},
		{"the path-escaped client secret", url.PathEscape(secret), basic},
		{"the base64 client secret", b64([]byte(secret)), basic},
		{"the URL-base64 client secret", b64url([]byte(secret)), basic},
		{"the Basic header sent", "Authorization: Basic " + b64([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))), basic},
		{"the raw Basic credentials", "Basic " + b64([]byte(id+":"+secret)), basic},
		{"the raw Basic header sent", "Authorization: Basic " + b64([]byte(id+":"+secret)), refresh.ClientSecretBasicRaw("app", secret)},
		{"the client secret sent in the body", url.QueryEscape(secret), refresh.ClientSecretPost(id, secret)},
		{"a custom Auth's Authorization header", "Authorization: Basic " + b64([]byte("u:custom-secret-77")), refresh.AuthFunc(func(r *refresh.AuthRequest) error {
			r.Header.Set("Authorization", "Basic "+b64([]byte("u:custom-secret-77")))
			return nil
		})},
		{"a custom Auth's client_secret", "custom-secret-88", refresh.AuthFunc(func(r *refresh.AuthRequest) error {
			return r.SetParam("client_secret", "custom-secret-88")
		})},
	}
	// Each place answers with s echoed in it: a status, a Content-Type and a body.
	places := []struct {
		name        string
		status      int
		contentType string
		body        func(s string) string
	}{
		{"a proxy page's excerpt", 502, "text/html", func(s string) string {
			return "<html><body><p>Request headers: " + s + "</p></body></html>"
		}},
		{"an error_description", 400, "application/json", func(s string) string {
			js, _ := json.Marshal("rejected: " + s)
			return `{"error":"invalid_grant","error_description":` + string(js) + `}`
		}},
		{"an error_uri", 400, "application/json", func(s string) string {
			js, _ := json.Marshal("https://as.example.com/errors?echo=" + s)
			return `{"error":"invalid_grant","error_uri":` + string(js) + `}`
		}},
		{"a field name in an excerpt", 500, "application/json", func(s string) string {
			js, _ := json.Marshal(s)
			return `{"message":"failed",` + string(js) + `:1}`
		}},
	}
	// serverText is what an error holds of the server's text.
	serverText := func(t *testing.T, err error) string {
		var oe *refresh.OAuthError
		var re *refresh.ResponseError
		switch {
		case errors.As(err, &oe):
			return oe.Description + " " + oe.URI
		case errors.As(err, &re):
			return re.Excerpt
		}
		t.Fatalf("error %T (%v), want an *OAuthError or a *ResponseError", err, err)
		return ""
	}
	for _, form := range forms {
		for _, place := range places {
			t.Run(form.name+" is removed from "+place.name, func(t *testing.T) {
				c := &refresh.Client{TokenURL: parseTokenURL, Auth: form.auth, Now: func() time.Time { return parseClock }}
				header := http.Header{"Content-Type": {place.contentType}}
				_, err := parseAnswer(t, c, rt, place.status, header, place.body(form.echo))
				text := serverText(t, err)
				if !strings.Contains(text, "[redacted]") {
					t.Errorf("server text %q shows no [redacted]", text)
				}
				secretPart := strings.TrimPrefix(strings.TrimPrefix(form.echo, "Authorization: "), "Basic ")
				for _, shown := range []string{text, err.Error()} {
					if strings.Contains(shown, secretPart) {
						t.Errorf("text shows %s: %s", form.name, shown)
					}
				}
			})
		}
	}

	t.Run("a redirect's Location path holding the escaped refresh token is redacted", func(t *testing.T) {
		c := &refresh.Client{TokenURL: parseTokenURL, Now: func() time.Time { return parseClock }}
		header := http.Header{"Location": {"https://as.example.com/reauth/" + url.PathEscape(rt)}}
		_, err := parseAnswer(t, c, rt, 302, header, "")
		if text := err.Error(); strings.Contains(text, url.PathEscape(rt)) || !strings.Contains(text, "[redacted]") {
			t.Errorf("error text %q shows the path-escaped refresh token", text)
		}
	})
}

// TestParseResponseRedactsBeforeCutting puts the refresh token sent across each
// cut an excerpt makes: the secret is removed whole, so none of it shows.
func TestParseResponseRedactsBeforeCutting(t *testing.T) {
	tests := []struct{ name, body string }{
		{"across the 800 bytes read for an excerpt", strings.Repeat(" ", 795) + sentRefreshToken + " trailing text"},
		{"across the 200 characters shown", strings.Repeat("a", 195) + " " + sentRefreshToken},
	}
	for _, tc := range tests {
		t.Run("a refresh token "+tc.name+" shows none of its characters", func(t *testing.T) {
			_, err := parseAnswer(t, newParseClient(), sentRefreshToken, 500, http.Header{"Content-Type": {"text/html"}}, tc.body)
			var re *refresh.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want a *ResponseError", err)
			}
			if strings.Contains(re.Excerpt, sentRefreshToken[:5]) {
				t.Errorf("Excerpt %q shows the head of the refresh token", re.Excerpt)
			}
		})
	}
}
