package refresh_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
)

// The secrets of TestNoSecretInText: each is distinctive, and made of letters,
// digits and '-' only, so that form-encoding leaves it as it is.
const (
	secretAccess  = "AT-SECRET-7f3a9c1d"    // an access token the server issued
	secretRefresh = "RT-SECRET-b81d44e2"    // a refresh token the server issued
	secretID      = "IDT-SECRET-c09e21aa"   // an ID token the server issued
	secretSent    = "RT-SENT-SECRET-0a1b2c" // the refresh token sent
	secretClient  = "CS-SECRET-5e6f7081"    // the client secret
	secretQuery   = "Q-SECRET-91ab33"       // a private value in TokenURL's query
	redactID      = "client-1"
)

// forbiddenInText lists what no text may show: the secrets, and the Basic
// credentials they make (the same for the form-encoded and the raw method).
var forbiddenInText = []string{
	secretAccess, secretRefresh, secretID, secretSent, secretClient, secretQuery,
	base64.StdEncoding.EncodeToString([]byte(redactID + ":" + secretClient)),
}

// redactCase is one value that holds, or was made from, a secret.
type redactCase struct {
	name  string
	value any
}

// redactTokenURL is the endpoint of the clients below; nothing is sent there.
const redactTokenURL = "https://auth.example.com" + tokenPath

// answer parses an answer to a refresh of secretSent, as c.
func answer(t *testing.T, c *refresh.Client, status int, contentType, body string) (*refresh.Tokens, error) {
	t.Helper()
	req, err := c.NewRequest(t.Context(), secretSent)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	resp := &http.Response{
		StatusCode:    status,
		Header:        http.Header{"Content-Type": {contentType}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: -1,
		Request:       req,
	}
	return c.ParseResponse(resp)
}

// mustErrorAs returns err when it is a *E, and stops the test otherwise.
func mustErrorAs[E error](t *testing.T, what string, err error) error {
	t.Helper()
	var target E
	if !errors.As(err, &target) {
		t.Fatalf("%s: error = %v (%T), want a %T", what, err, err, target)
	}
	return err
}

func redactCases(t *testing.T) []redactCase {
	t.Helper()
	auths := []struct {
		name string
		auth refresh.Auth
	}{
		{"ClientSecretBasic", refresh.ClientSecretBasic(redactID, secretClient)},
		{"ClientSecretBasicRaw", refresh.ClientSecretBasicRaw(redactID, secretClient)},
		{"ClientSecretPost", refresh.ClientSecretPost(redactID, secretClient)},
		{"PublicClient", refresh.PublicClient(redactID)},
	}
	tokens := refresh.Tokens{
		AccessToken:  secretAccess,
		TokenType:    "Bearer",
		RefreshToken: secretRefresh,
		IDToken:      secretID,
		ExpiresAt:    t0.Add(time.Hour),
		Scopes:       []string{"read"},
		IssuedAt:     t0,
	}
	cases := []redactCase{
		{"a Tokens value", tokens},
		{"a *Tokens", &tokens},
	}

	plain := &refresh.Client{TokenURL: redactTokenURL, Now: func() time.Time { return t0 }}
	parsed, err := answer(t, plain, http.StatusOK, "application/json",
		`{"access_token":"`+secretAccess+`","token_type":"Bearer","refresh_token":"`+secretRefresh+`","id_token":"`+secretID+`"}`)
	if err != nil {
		t.Fatalf("ParseResponse: %v", err)
	}
	cases = append(cases, redactCase{"a *Tokens parsed from a response", parsed})

	for _, a := range auths {
		cases = append(cases,
			redactCase{"the Auth " + a.name, a.auth},
			redactCase{"a *Client with " + a.name, &refresh.Client{TokenURL: redactTokenURL, Auth: a.auth}},
		)
		// What an AuthFunc that wraps a built-in method might print.
		var seen refresh.AuthRequest
		c := &refresh.Client{TokenURL: redactTokenURL, Auth: refresh.AuthFunc(func(r *refresh.AuthRequest) error {
			if err := a.auth.Authenticate(r); err != nil {
				return err
			}
			seen = *r
			return nil
		})}
		if _, err := c.NewRequest(t.Context(), secretSent); err != nil {
			t.Fatalf("NewRequest with %s: %v", a.name, err)
		}
		cases = append(cases, redactCase{"an *AuthRequest after " + a.name, &seen})
	}

	// *OAuthError: the server echoes the refresh token sent.
	_, err = answer(t, plain, http.StatusBadRequest, "application/json",
		`{"error":"invalid_grant","error_description":"refresh token `+secretSent+` was revoked","error_uri":"https://idp.example/e?rt=`+secretSent+`"}`)
	cases = append(cases, redactCase{"an *OAuthError whose description echoes the refresh token", mustErrorAs[*refresh.OAuthError](t, "OAuthError", err)})

	// *OAuthError and *ResponseError: the server echoes the client secret sent.
	for _, a := range auths[:3] {
		c := &refresh.Client{TokenURL: redactTokenURL, Auth: a.auth}
		_, err = answer(t, c, http.StatusUnauthorized, "application/json",
			`{"error":"invalid_client","error_description":"client secret `+secretClient+` does not match"}`)
		cases = append(cases, redactCase{"an *OAuthError that echoes the client secret of " + a.name, mustErrorAs[*refresh.OAuthError](t, "OAuthError", err)})
		_, err = answer(t, c, http.StatusForbidden, "text/html", "<p>denied: "+secretClient+"</p>")
		cases = append(cases, redactCase{"a *ResponseError that echoes the client secret of " + a.name, mustErrorAs[*refresh.ResponseError](t, "ResponseError", err)})
	}
	cases = append(cases, redactCase{"a *Client whose TokenURL has a private query",
		&refresh.Client{TokenURL: redactTokenURL + "?key=" + secretQuery, Auth: auths[0].auth}})

	// *ResponseError from answers that hold tokens.
	for _, r := range []struct {
		name        string
		client      *refresh.Client
		status      int
		contentType string
		body        string
	}{
		{
			name: "JSON tokens without token_type", status: http.StatusOK, contentType: "application/json",
			body: `{"access_token":"` + secretAccess + `","refresh_token":"` + secretRefresh + `","id_token":"` + secretID + `"}`,
		},
		{
			name: "form-encoded tokens without token_type", status: http.StatusOK, contentType: "application/x-www-form-urlencoded",
			body: "access_token=" + secretAccess + "&refresh_token=" + secretRefresh,
		},
		{
			name: "an HTML page that echoes the refresh token sent", status: http.StatusBadGateway, contentType: "text/html",
			body: "<html><body><h1>502</h1><p>upstream failed for refresh_token=" + secretSent + "</p></body></html>",
		},
		{
			name: "JSON tokens with a NaN expires_in (malformed JSON)", status: http.StatusOK, contentType: "application/json",
			body: `{"access_token":"` + secretAccess + `","token_type":"Bearer","refresh_token":"` + secretRefresh + `","expires_in":NaN}`,
		},
		{
			name: "JSON tokens cut short", status: http.StatusOK, contentType: "application/json",
			body: `{"access_token":"` + secretAccess + `","token_type":"Bearer","refresh_token":"` + secretRefresh,
		},
		{
			name: "a form body whose scope holds a bad escape", status: http.StatusOK, contentType: "text/plain",
			body: "access_token=" + secretAccess + "&token_type=bearer&refresh_token=" + secretRefresh + "&scope=100%",
		},
		{
			name: "a form body split by semicolons", status: http.StatusOK, contentType: "text/plain",
			body: "access_token=" + secretAccess + ";token_type=bearer;refresh_token=" + secretRefresh,
		},
		{
			name: "a JSON string that is a bare token", status: http.StatusOK, contentType: "application/json",
			body: `"` + secretAccess + `"`,
		},
		{
			name: "an access_token that is not a string", status: http.StatusOK, contentType: "application/json",
			body: `{"access_token":{"value":"` + secretAccess + `"},"token_type":"Bearer"}`,
		},
		{
			name: "a non-OAuth JSON error that echoes the refresh token", status: http.StatusUnauthorized, contentType: "application/json",
			body: `{"message":"bad refresh token ` + secretSent + `"}`,
		},
		{
			name:   "tokens over MaxResponseBytes",
			client: &refresh.Client{TokenURL: redactTokenURL, MaxResponseBytes: 40},
			status: http.StatusOK, contentType: "application/json",
			body: `{"access_token":"` + secretAccess + `","token_type":"Bearer","refresh_token":"` + secretRefresh + `"}`,
		},
	} {
		c := plain
		if r.client != nil {
			c = r.client
		}
		_, err := answer(t, c, r.status, r.contentType, r.body)
		cases = append(cases, redactCase{"a *ResponseError for " + r.name, mustErrorAs[*refresh.ResponseError](t, r.name, err)})
	}

	// *ConfigError from settings and options that carry a secret.
	for _, r := range []struct {
		name string
		c    *refresh.Client
		opts []refresh.RequestOption
	}{
		{name: "a TokenURL with user info", c: &refresh.Client{TokenURL: "https://" + redactID + ":" + secretClient + "@auth.example.com/token"}},
		{name: "an unparsable TokenURL with a private query", c: &refresh.Client{TokenURL: "https://auth.example.com/%zz?key=" + secretQuery}},
		{name: "an http TokenURL with a private query", c: &refresh.Client{TokenURL: "http://auth.example.com/token?key=" + secretQuery}},
		{name: "ClientSecretBasicRaw with ':' in the client ID", c: &refresh.Client{TokenURL: redactTokenURL, Auth: refresh.ClientSecretBasicRaw("a:b", secretClient)}},
		{name: "ClientSecretPost with an empty client ID", c: &refresh.Client{TokenURL: redactTokenURL, Auth: refresh.ClientSecretPost("", secretClient)}},
		{name: "the client secret passed to WithParam", c: &refresh.Client{TokenURL: redactTokenURL}, opts: []refresh.RequestOption{refresh.WithParam("client_secret", secretClient)}},
		{name: "an access token passed to WithHeader", c: &refresh.Client{TokenURL: redactTokenURL}, opts: []refresh.RequestOption{refresh.WithHeader("Authorization", "Bearer "+secretAccess)}},
	} {
		_, err := r.c.Refresh(t.Context(), secretSent, r.opts...)
		cases = append(cases, redactCase{"a *ConfigError for " + r.name, mustErrorAs[*refresh.ConfigError](t, r.name, err)})
	}

	// *RetryError: two 503 answers that echo the refresh token and the client
	// secret, and two refused connections to a TokenURL with a private query.
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy with "+secretSent+" for "+secretClient, http.StatusServiceUnavailable)
	}))
	t.Cleanup(busy.Close)
	noWait := func(refresh.RetryAttempt) time.Duration { return 0 }
	retrying := &refresh.Client{TokenURL: busy.URL + tokenPath + "?key=" + secretQuery, Auth: refresh.ClientSecretPost(redactID, secretClient),
		MaxAttempts: 2, Backoff: noWait, CheckRetry: refresh.RetryAmbiguous}
	_, err = retrying.Refresh(t.Context(), secretSent)
	cases = append(cases,
		redactCase{"a *RetryError after 503s that echo the secrets", mustErrorAs[*refresh.RetryError](t, "RetryError", err)},
		redactCase{"a *Client with a retry policy", retrying})

	// The transport's error, for an endpoint that is down.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	down := &refresh.Client{TokenURL: srv.URL + tokenPath + "?key=" + secretQuery, Auth: refresh.ClientSecretBasic(redactID, secretClient), MaxAttempts: 1}
	_, err = down.Refresh(context.Background(), secretSent)
	cases = append(cases, redactCase{"the transport's error wrapping a *url.Error", mustErrorAs[*url.Error](t, "transport error", err)})
	down.MaxAttempts, down.Backoff = 2, noWait
	_, err = down.Refresh(context.Background(), secretSent)
	cases = append(cases, redactCase{"a *RetryError after refused connections", mustErrorAs[*refresh.RetryError](t, "RetryError", err)})
	return cases
}

// renderings returns the texts of v that a program might print or log.
func renderings(v any) map[string]string {
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	if s, ok := v.(fmt.Stringer); ok {
		out["String()"] = s.String()
	}
	if e, ok := v.(error); ok {
		out["Error()"] = e.Error()
	}
	var js, txt bytes.Buffer
	slog.New(slog.NewJSONHandler(&js, nil)).Info("refresh", slog.Any("x", v))
	slog.New(slog.NewTextHandler(&txt, nil)).Info("refresh", slog.Any("x", v))
	out["slog JSON"] = js.String()
	out["slog text"] = txt.String()
	return out
}

// TestNoSecretInText formats every public value that holds or was made from a
// secret, with each common verb and both slog handlers, and looks for the secret.
// json.Marshal of Tokens shows the tokens on purpose (it is for storage), and so
// does slog's JSON handler for Tokens nested in a slice or struct, which it
// marshals without asking LogValue: neither is tested here.
func TestNoSecretInText(t *testing.T) {
	for _, tc := range redactCases(t) {
		t.Run(tc.name+" shows no secret", func(t *testing.T) {
			if tc.value == nil {
				t.Fatal("nothing to format")
			}
			for how, text := range renderings(tc.value) {
				for _, secret := range forbiddenInText {
					if strings.Contains(text, secret) {
						t.Errorf("%s shows %q:\n%s", how, secret, text)
					}
				}
			}
		})
	}
}
