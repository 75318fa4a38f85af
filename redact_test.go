package refresh_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenrefresh/refresh"
)

// The secrets of these tests: each is distinctive, and made of letters, digits
// and '-' only, so that form-encoding leaves it as it is.
const (
	secretAccess  = "AT-SECRET-7f3a9c1d"               // an access token the server issued
	secretRefresh = "RT-SECRET-b81d44e2"               // a refresh token the server issued
	secretID      = "IDT-SECRET-c09e21aa"              // an ID token the server issued
	secretSent    = "RT-SENT-SECRET-0a1b2c"            // the refresh token sent
	secretClient  = "CS-SECRET-5e6f7081"               // the client secret
	secretQuery   = "Q-SECRET-91ab33"                  // a private value in TokenURL's query
	secretKey     = "KEY-SECRET-d4c3b2a1"              // a key in a user's own Auth
	secretSeed    = "ED25519-SEED-SECRET-0123456789ab" // the seed of the private key of PrivateKeyJWT and DPoP (32 bytes)
	redactID      = "client-1"
)

// basicSent is the Authorization value ClientSecretBasic(redactID, secretClient)
// sends (the same for the form-encoded and the raw method).
var basicSent = "Basic " + base64.StdEncoding.EncodeToString([]byte(redactID+":"+secretClient))

// forbiddenInText lists what no text may show: the secrets, and the Basic
// credentials they make.
var forbiddenInText = []string{
	secretAccess, secretRefresh, secretID, secretSent, secretClient, secretQuery, secretKey, secretSeed,
	strings.TrimPrefix(basicSent, "Basic "),
}

// showsSecret returns the first forbidden text that text shows, as it is or
// in a form fmt, slog or an error could give its bytes (a key is a []byte): hex
// (%x), a decimal list (%v, %d), a Go byte list (%#v), base64 (slog's JSON, the
// first 30 bytes, so that a longer value such as a whole private key, which
// starts with its seed, is found too), or "".
func showsSecret(text string) string {
	lower := strings.ToLower(text)
	for _, s := range forbiddenInText {
		b := []byte(s)
		head := b[:min(len(b), 16)]
		goList := strings.Trim(fmt.Sprintf("%#v", head), "[]byte{}")
		b64 := b[:len(b)/3*3]
		if len(b64) > 30 {
			b64 = b64[:30]
		}
		for _, form := range []string{
			s,
			hex.EncodeToString(b),
			strings.Trim(fmt.Sprint(head), "[]"),
			goList,
			base64.StdEncoding.EncodeToString(b64),
			base64.RawURLEncoding.EncodeToString(b64),
		} {
			if strings.Contains(text, form) || strings.Contains(lower, form) {
				return s
			}
		}
	}
	return ""
}

// seedKey is the private key of PrivateKeyJWT and DPoP in these tests.
var seedKey = ed25519.NewKeyFromSeed([]byte(secretSeed))

// keyAuth is a user's own Auth whose field holds a key, and that has no String.
type keyAuth struct{ Key string }

func (a keyAuth) Authenticate(r *refresh.AuthRequest) error {
	return r.SetParam("client_assertion", a.Key)
}

// namedAuth is a user's own Auth that describes itself without its key.
type namedAuth struct{ kid, key string }

func (a namedAuth) Authenticate(r *refresh.AuthRequest) error {
	return r.SetParam("client_assertion", a.kid+"."+a.key)
}

func (a namedAuth) String() string { return "signer(" + a.kid + ")" }

// redactCase is one value that holds, or was made from, a secret.
type redactCase struct {
	name  string
	value any
	typ   string // the exported type the row covers, when value's own type is not it (an interface)
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

// redactCases returns a row for every exported type of the package, most of
// them holding or made from the secrets above.
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
		{"PrivateKeyJWT", refresh.PrivateKeyJWT(redactID, seedKey, refresh.WithKeyID("k1"), refresh.WithAudience(redactTokenURL+"?key="+secretQuery))},
		{"ClientSecretJWT", refresh.ClientSecretJWT(redactID, secretClient, refresh.WithExplicitTyp())},
		{"TLSClientAuth", refresh.TLSClientAuth(redactID)},
		{"a user's Auth with a key field", keyAuth{Key: secretKey}},
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
	basic := &refresh.Client{TokenURL: redactTokenURL + "?key=" + secretQuery, Auth: auths[0].auth}
	dpop, err := refresh.NewDPoP(seedKey)
	if err != nil {
		t.Fatal(err)
	}
	_, dpopErr := refresh.NewDPoP(nil)
	store := refresh.NewMemoryStore(&tokens)
	src := refresh.NewSource(basic, &tokens, refresh.WithStore(store))
	lease, err := refresh.NewMemoryStore(&tokens).Acquire(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lease.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	cases := []redactCase{
		{name: "a Tokens value", value: tokens},
		{name: "a *Tokens", value: &tokens},
		{name: "a *Client whose TokenURL has a private query", value: basic},
		{name: "a Client value", value: *basic},
		{name: "a *MemoryStore holding tokens", value: store},
		{name: "a MemoryStore as a Store", value: refresh.Store(store), typ: "Store"},
		{name: "a MemoryStore as a SharedStore", value: refresh.SharedStore(store), typ: "SharedStore"},
		{name: "a MemoryStore's Lease that has loaded tokens", value: lease, typ: "Lease"},
		{name: "a *Source holding tokens", value: src},
		{name: "a *Transport", value: &refresh.Transport{Source: src}},
		{name: "a Transport value", value: refresh.Transport{Source: src}},
		{name: "a SourceOption", value: refresh.WithStore(store)},
		{name: "a *DPoP", value: dpop},
		{name: "a *Client with DPoP and an Issuer", value: &refresh.Client{TokenURL: redactTokenURL, Issuer: "https://auth.example.com", DPoP: dpop, Auth: auths[4].auth}},
		{name: "an AssertionOption", value: refresh.WithAudience(redactTokenURL + "?key=" + secretQuery)},
		{name: "the *ConfigError of NewDPoP without a key", value: mustErrorAs[*refresh.ConfigError](t, "NewDPoP", dpopErr)},
		{name: "a RequestOption that holds the client secret", value: refresh.WithParam("audience", secretClient)},
		{name: "a StoreFunc", value: refresh.StoreFunc(func(context.Context, *refresh.Tokens) error { return nil })},
		{name: "an ErrorCode", value: refresh.ErrInvalidGrant},
		{name: "a *StoreError", value: &refresh.StoreError{Op: "save", Err: errors.New("disk full")}},
		{name: "a *PanicError", value: &refresh.PanicError{Value: "store lock lost", Stack: []byte("goroutine 1 [running]:")}},
		{name: "a RetryReason", value: refresh.RetryStopAttemptLimit},
		{name: "a *Client whose TokenURL's password holds '/'", value: &refresh.Client{
			TokenURL: "https://" + redactID + ":" + secretClient + "/x@auth.example.com/token"}},
	}

	plain := &refresh.Client{TokenURL: redactTokenURL, Now: func() time.Time { return t0 }}
	parsed, err := answer(t, plain, http.StatusOK, "application/json",
		`{"access_token":"`+secretAccess+`","token_type":"Bearer","refresh_token":"`+secretRefresh+`","id_token":"`+secretID+`"}`)
	if err != nil {
		t.Fatalf("ParseResponse: %v", err)
	}
	cases = append(cases, redactCase{name: "a *Tokens parsed from a response", value: parsed})

	for _, a := range auths {
		if _, own := a.auth.(keyAuth); !own { // a user's type prints as it likes
			cases = append(cases, redactCase{name: "the Auth " + a.name, value: a.auth, typ: "Auth"})
		}
		cases = append(cases, redactCase{name: "a *Client with " + a.name, value: &refresh.Client{TokenURL: redactTokenURL, Auth: a.auth}})
		// What an AuthFunc that wraps the method might print.
		var seen refresh.AuthRequest
		wrap := refresh.AuthFunc(func(r *refresh.AuthRequest) error {
			if err := a.auth.Authenticate(r); err != nil {
				return err
			}
			seen = *r
			return nil
		})
		c := &refresh.Client{TokenURL: redactTokenURL, Auth: wrap}
		if _, err := c.NewRequest(t.Context(), secretSent); err != nil {
			t.Fatalf("NewRequest with %s: %v", a.name, err)
		}
		cases = append(cases,
			redactCase{name: "an AuthFunc wrapping " + a.name, value: wrap},
			redactCase{name: "an *AuthRequest after " + a.name, value: &seen},
			redactCase{name: "an AuthRequest value after " + a.name, value: seen},
		)
	}

	// *OAuthError: the server echoes the refresh token sent.
	_, err = answer(t, plain, http.StatusBadRequest, "application/json",
		`{"error":"invalid_grant","error_description":"refresh token `+secretSent+` was revoked","error_uri":"https://idp.example/e?rt=`+secretSent+`"}`)
	cases = append(cases, redactCase{name: "an *OAuthError whose description echoes the refresh token", value: mustErrorAs[*refresh.OAuthError](t, "OAuthError", err)})

	// *OAuthError and *ResponseError: the server echoes the client secret sent.
	for _, a := range auths[:3] {
		c := &refresh.Client{TokenURL: redactTokenURL, Auth: a.auth}
		_, err = answer(t, c, http.StatusUnauthorized, "application/json",
			`{"error":"invalid_client","error_description":"client secret `+secretClient+` does not match"}`)
		cases = append(cases, redactCase{name: "an *OAuthError that echoes the client secret of " + a.name, value: mustErrorAs[*refresh.OAuthError](t, "OAuthError", err)})
		_, err = answer(t, c, http.StatusForbidden, "text/html", "<p>denied: "+secretClient+"</p>")
		cases = append(cases, redactCase{name: "a *ResponseError that echoes the client secret of " + a.name, value: mustErrorAs[*refresh.ResponseError](t, "ResponseError", err)})
	}

	// *ResponseError from answers that hold tokens (response_test.go checks the
	// text of every other bad answer).
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
			name: "an HTML page that echoes the refresh token sent", status: http.StatusBadGateway, contentType: "text/html",
			body: "<html><body><h1>502</h1><p>upstream failed for refresh_token=" + secretSent + "</p></body></html>",
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
		cases = append(cases, redactCase{name: "a *ResponseError for " + r.name, value: mustErrorAs[*refresh.ResponseError](t, r.name, err)})
	}

	// *ConfigError from settings and options that carry a secret.
	for _, r := range []struct {
		name string
		c    *refresh.Client
		opts []refresh.RequestOption
	}{
		{name: "a TokenURL with user info", c: &refresh.Client{TokenURL: "https://" + redactID + ":" + secretClient + "@auth.example.com/token"}},
		{name: "an unparsable TokenURL whose password holds '/'", c: &refresh.Client{TokenURL: "https://" + redactID + ":" + secretClient + "/x@auth.example.com/token"}},
		{name: "an unparsable TokenURL with a private query", c: &refresh.Client{TokenURL: "https://auth.example.com/%zz?key=" + secretQuery}},
		{name: "an http TokenURL with a private query", c: &refresh.Client{TokenURL: "http://auth.example.com/token?key=" + secretQuery}},
		{name: "ClientSecretBasicRaw with ':' in the client ID", c: &refresh.Client{TokenURL: redactTokenURL, Auth: refresh.ClientSecretBasicRaw("a:b", secretClient)}},
		{name: "ClientSecretPost with an empty client ID", c: &refresh.Client{TokenURL: redactTokenURL, Auth: refresh.ClientSecretPost("", secretClient)}},
		{name: "the client secret passed to WithParam", c: &refresh.Client{TokenURL: redactTokenURL}, opts: []refresh.RequestOption{refresh.WithParam("client_secret", secretClient)}},
		{name: "an access token passed to WithHeader", c: &refresh.Client{TokenURL: redactTokenURL}, opts: []refresh.RequestOption{refresh.WithHeader("Authorization", "Bearer "+secretAccess)}},
	} {
		_, err := r.c.Refresh(t.Context(), secretSent, r.opts...)
		cases = append(cases, redactCase{name: "a *ConfigError for " + r.name, value: mustErrorAs[*refresh.ConfigError](t, r.name, err)})
	}

	// *RetryError and RetryAttempt: two 503 answers that echo the refresh token
	// and the client secret.
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy with "+secretSent+" for "+secretClient, http.StatusServiceUnavailable)
	}))
	t.Cleanup(busy.Close)
	noWait := func(refresh.RetryAttempt) time.Duration { return 0 }
	var attempt refresh.RetryAttempt
	retrying := &refresh.Client{TokenURL: busy.URL + tokenPath + "?key=" + secretQuery, Auth: refresh.ClientSecretPost(redactID, secretClient),
		MaxAttempts: 2, Backoff: noWait, CheckRetry: func(ctx context.Context, a refresh.RetryAttempt) bool {
			attempt = a
			return refresh.RetryAmbiguous(ctx, a)
		}}
	_, err = retrying.Refresh(t.Context(), secretSent)
	cases = append(cases,
		redactCase{name: "a *RetryError after 503s that echo the secrets", value: mustErrorAs[*refresh.RetryError](t, "RetryError", err)},
		redactCase{name: "the RetryAttempt of a 503 that echoes the secrets", value: attempt},
		redactCase{name: "a *Client with a retry policy", value: retrying})

	// The transport's error, for an endpoint that is down.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	down := &refresh.Client{TokenURL: srv.URL + tokenPath + "?key=" + secretQuery, Auth: refresh.ClientSecretBasic(redactID, secretClient), MaxAttempts: 1}
	_, err = down.Refresh(context.Background(), secretSent)
	cases = append(cases, redactCase{name: "the transport's error wrapping a *url.Error", value: mustErrorAs[*url.Error](t, "transport error", err)})
	down.MaxAttempts, down.Backoff = 2, noWait
	_, err = down.Refresh(context.Background(), secretSent)
	cases = append(cases, redactCase{name: "a *RetryError after refused connections", value: mustErrorAs[*refresh.RetryError](t, "RetryError", err)})

	// Discovery and revocation (discover_test.go and revoke_test.go check
	// their behaviour).
	cases = append(cases, discoveryRedactCases(t)...)
	// The grant manager (redact_manager_test.go).
	cases = append(cases, managerRedactCases(t, basic, tokens)...)
	// The hooks and their events (redact_hooks_test.go).
	cases = append(cases, hooksRedactCases(t)...)
	return cases
}

// verbs are the fmt verbs a program might print a value with (%T shows only
// the type).
var verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%p"}

// renderings returns the texts of v that a program might print or log.
func renderings(v any) map[string]string {
	out := map[string]string{}
	for _, verb := range verbs {
		// fmt never hands %p to a Format method, and for a value that is not a
		// pointer (a Tokens, not a *Tokens) it writes its bad-verb text, the raw
		// fields with every method turned off. No method can change that, so
		// %p is checked on pointers only (the Format docs say so).
		if verb == "%p" && reflect.ValueOf(v).Kind() == reflect.Struct {
			continue
		}
		out[verb] = fmt.Sprintf(verb, v)
	}
	out["%+v of a slice holding it"] = fmt.Sprintf("%+v", []any{v})
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

// exportedTypeOf names v's type when it is an exported type of the package
// (through one pointer), or returns "".
func exportedTypeOf(v any) string {
	rt := reflect.TypeOf(v)
	if rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	if rt.PkgPath() != reflect.TypeFor[refresh.Tokens]().PkgPath() || !token.IsExported(rt.Name()) {
		return ""
	}
	return rt.Name()
}

// exportedTypes lists the exported types the package declares, read from its
// source.
func exportedTypes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					if ts := s.(*ast.TypeSpec); ts.Name.IsExported() {
						names = append(names, ts.Name.Name)
					}
				}
			}
		}
	}
	slices.Sort(names)
	return names
}

// TestNoSecretInText formats a value of every exported type of the package,
// most holding or made from a secret, with every verb and both slog handlers,
// and looks for the secrets. json.Marshal of Tokens shows the tokens on purpose
// (it is for storage), and so does slog's JSON handler for Tokens nested in a
// slice or struct, which it marshals without asking LogValue: neither is tested
// here.
func TestNoSecretInText(t *testing.T) {
	cases := redactCases(t)
	t.Run("every exported type of the package has a row", func(t *testing.T) {
		covered := map[string]bool{}
		for _, tc := range cases {
			typ := tc.typ
			if typ == "" {
				typ = exportedTypeOf(tc.value)
			}
			covered[typ] = true
		}
		for _, name := range exportedTypes(t) {
			if !covered[name] {
				t.Errorf("no row formats a refresh.%s: add one to redactCases", name)
			}
		}
	})
	for _, tc := range cases {
		t.Run(tc.name+" shows no secret", func(t *testing.T) {
			for how, text := range renderings(tc.value) {
				if s := showsSecret(text); s != "" {
					t.Errorf("%s shows %q:\n%s", how, s, text)
				}
			}
		})
	}
}

// logText is what slog's text handler writes for v under the key "v", without
// the time, level and message.
func logText(v any) string {
	var b bytes.Buffer
	drop := func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{}
		}
		return a
	}
	slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: drop})).Info("", "v", v)
	return strings.TrimSpace(b.String())
}

// TestPrintedDescriptions shows what each value prints: one description, the
// same for every verb (quoted for %q), and the same fields in slog.
func TestPrintedDescriptions(t *testing.T) {
	tokens := &refresh.Tokens{
		AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", IDToken: "idt",
		ExpiresAt: t0.Add(time.Hour), RefreshTokenExpiresAt: t0.Add(24 * time.Hour), Scopes: []string{"read", "write"},
	}
	const tokensText = `refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted], ExpiresAt:2030-01-02T04:04:05Z, RefreshTokenExpiresAt:2030-01-03T03:04:05Z, Scopes:["read" "write"], IDToken:[redacted]}`
	post := &refresh.Client{TokenURL: redactTokenURL + "?tenant=x", Auth: refresh.ClientSecretPost("app", "s"), MaxAttempts: 2, Now: time.Now}
	const postText = `refresh.Client{TokenURL:"https://auth.example.com/oauth2/token", Auth:refresh.ClientSecretPost{ClientID:"app", ClientSecret:[redacted]}, Now:set, MaxAttempts:2}`
	var seen refresh.AuthRequest
	_, err := buildWith(t, refresh.AuthFunc(func(r *refresh.AuthRequest) error {
		seen = *r
		return r.SetParam("client_assertion", "signed")
	}))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	_, configErr := (&refresh.Client{TokenURL: "ftp://auth.example.com/token"}).Refresh(t.Context(), "rt")

	tests := []struct {
		name     string
		value    any
		want     string // what every verb prints
		wantSlog string // what slog's text handler writes for slog.Any("v", value)
	}{
		{
			name:  "Tokens show every field but the tokens, which show only that they are set",
			value: tokens,
			want:  tokensText,
			wantSlog: `v.type=refresh.Tokens v.access_token=[redacted] v.token_type=Bearer v.refresh_token=[redacted] v.expires_at=2030-01-02T04:04:05.000Z ` +
				`v.refresh_token_expires_at=2030-01-03T03:04:05.000Z v.scopes="[read write]" v.id_token=[redacted]`,
		},
		{
			name:     "Tokens without a refresh token show it as empty",
			value:    refresh.Tokens{AccessToken: "at", TokenType: "bearer"},
			want:     `refresh.Tokens{AccessToken:[redacted], TokenType:"bearer", RefreshToken:""}`,
			wantSlog: `v.type=refresh.Tokens v.access_token=[redacted] v.token_type=bearer v.refresh_token=""`,
		},
		{
			name:  "a Client shows its settings and its Auth as it prints itself",
			value: post,
			want:  postText,
			wantSlog: `v.type=refresh.Client v.token_url=https://auth.example.com/oauth2/token ` +
				`v.auth.type=refresh.ClientSecretPost v.auth.client_id=app v.auth.client_secret=[redacted] v.now=set v.max_attempts=2`,
		},
		{
			name:     "a Client shows a user's Auth without String by its type only, not its fields",
			value:    refresh.Client{TokenURL: redactTokenURL, Auth: keyAuth{Key: "k"}},
			want:     `refresh.Client{TokenURL:"https://auth.example.com/oauth2/token", Auth:refresh_test.keyAuth}`,
			wantSlog: `v.type=refresh.Client v.token_url=https://auth.example.com/oauth2/token v.auth=refresh_test.keyAuth`,
		},
		{
			name:     "a Client shows a user's Auth by its own String",
			value:    refresh.Client{TokenURL: redactTokenURL, Auth: namedAuth{kid: "kid-7", key: "k"}},
			want:     `refresh.Client{TokenURL:"https://auth.example.com/oauth2/token", Auth:signer(kid-7)}`,
			wantSlog: `v.type=refresh.Client v.token_url=https://auth.example.com/oauth2/token v.auth=signer(kid-7)`,
		},
		{
			name:  "an AuthRequest shows the names of the headers and parameters, not their values",
			value: seen,
			want:  `refresh.AuthRequest{TokenURL:"https://auth.example.com/oauth2/token", Time:2030-01-02T03:04:05Z, Header:["Accept" "Content-Type" "User-Agent"], Params:[]}`,
			wantSlog: `v.type=refresh.AuthRequest v.token_url=https://auth.example.com/oauth2/token v.time=2030-01-02T03:04:05.000Z ` +
				`v.header="[Accept Content-Type User-Agent]" v.params=[]`,
		},
		{
			name:  "a MemoryStore shows the Tokens it holds",
			value: refresh.NewMemoryStore(&refresh.Tokens{AccessToken: "at", TokenType: "Bearer"}),
			want:  `refresh.MemoryStore{Tokens:refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:""}}`,
			wantSlog: `v.type=refresh.MemoryStore v.tokens.type=refresh.Tokens v.tokens.access_token=[redacted] ` +
				`v.tokens.token_type=Bearer v.tokens.refresh_token=""`,
		},
		{
			name:     "an empty MemoryStore",
			value:    new(refresh.MemoryStore),
			want:     "refresh.MemoryStore{Tokens:nil}",
			wantSlog: "v.type=refresh.MemoryStore v.tokens=nil",
		},
		{
			name:  "a Source shows its Client",
			value: refresh.NewSource(&refresh.Client{TokenURL: redactTokenURL, Auth: refresh.PublicClient("spa")}, tokens),
			want:  `refresh.Source{Client:refresh.Client{TokenURL:"https://auth.example.com/oauth2/token", Auth:refresh.PublicClient{ClientID:"spa"}}}`,
			wantSlog: `v.type=refresh.Source v.client.type=refresh.Client v.client.token_url=https://auth.example.com/oauth2/token ` +
				`v.client.auth.type=refresh.PublicClient v.client.auth.client_id=spa`,
		},
		{
			name:     "an error prints its Error text for every verb",
			value:    configErr,
			want:     `refresh: TokenURL: scheme "ftp" is not https`,
			wantSlog: `v="refresh: TokenURL: scheme \"ftp\" is not https"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{"slog": logText(tt.value)}
			want := map[string]string{"slog": tt.wantSlog}
			for _, verb := range verbs[:len(verbs)-1] { // not %p, which prints a pointer's address
				got[verb] = fmt.Sprintf(verb, tt.value)
				want[verb] = tt.want
			}
			want["%q"] = strconv.Quote(tt.want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("renderings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTokenURLUserInfoStaysSecret: a password that holds '/', '?' or '#' makes
// the TokenURL unparsable, and the parser's error quotes the part it choked on.
// The ConfigError shows no piece of it.
func TestTokenURLUserInfoStaysSecret(t *testing.T) {
	for _, password := range []string{
		"k3yMaterial0/xyzABC", // 19 characters, the first 12 before the '/'
		"k3yMaterial0?xyzABC",
		"k3yMaterial0#xyzABC",
	} {
		t.Run(fmt.Sprintf("a password %q in TokenURL", password), func(t *testing.T) {
			c := &refresh.Client{TokenURL: "https://" + redactID + ":" + password + "@auth.example.com/token"}
			_, err := c.Refresh(t.Context(), "rt")
			if field := configErrorField(t, err); field != "TokenURL" {
				t.Errorf("ConfigError.Field = %q, want TokenURL", field)
			}
			for how, text := range map[string]string{"Error()": err.Error(), "the Client's String": c.String()} {
				for i := 0; i+4 <= len(password); i++ {
					if piece := password[i : i+4]; strings.Contains(text, piece) {
						t.Errorf("%s shows %q of the password: %s", how, piece, text)
					}
				}
			}
		})
	}
}

// garbageServer answers every request with what reply makes of the refresh
// token and the Authorization header it received, then closes the connection,
// and returns its token endpoint.
func garbageServer(t *testing.T, reply func(refreshToken, authorization string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				rt := req.PostFormValue("refresh_token")
				io.WriteString(conn, reply(rt, req.Header.Get("Authorization")))
			}()
		}
	}()
	return "http://" + ln.Addr().String() + tokenPath
}

// TestTransportErrorHidesServerBytes: net/http quotes the bytes of a malformed
// answer in its error, and a broken proxy may echo the request there. The
// error stays a *url.Error, says what went wrong, and shows neither the
// refresh token nor the Basic credentials.
func TestTransportErrorHidesServerBytes(t *testing.T) {
	for _, tt := range []struct {
		name  string
		reply func(rt, authz string) string
		want  string // what the error still says
	}{
		{
			name: "a status line that is not HTTP",
			reply: func(rt, authz string) string {
				return "<echo>refresh_token=" + rt + "&basic=" + strings.TrimPrefix(authz, "Basic ") + "</echo>\r\n\r\n"
			},
			want: "malformed HTTP response",
		},
		{
			name:  "a malformed status code",
			reply: func(rt, authz string) string { return "HTTP/1.1 " + rt + " " + authz + "\r\n\r\n" },
			want:  "malformed HTTP status code",
		},
		{
			name:  "a malformed header line",
			reply: func(rt, authz string) string { return "HTTP/1.1 200 OK\r\n" + authz + " " + rt + "\r\n\r\n" },
			want:  "malformed MIME header",
		},
		{
			name:  "a malformed Content-Length",
			reply: func(rt, authz string) string { return "HTTP/1.1 200 OK\r\nContent-Length: " + rt + authz + "\r\n\r\n" },
			want:  "Content-Length",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &refresh.Client{TokenURL: garbageServer(t, tt.reply), Auth: refresh.ClientSecretBasic(redactID, secretClient), MaxAttempts: 1}
			_, err := c.Refresh(t.Context(), secretSent)
			mustErrorAs[*url.Error](t, "Refresh", err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to say %q", err, tt.want)
			}
			for how, text := range renderings(err) {
				if s := showsSecret(text); s != "" {
					t.Errorf("%s shows %q:\n%s", how, s, text)
				}
			}
		})
	}
}

// TestShowsSecretFindsEncodedKeys checks the detector itself: a private key
// printed with any verb, or logged as slog JSON, is found.
func TestShowsSecretFindsEncodedKeys(t *testing.T) {
	var js strings.Builder
	slog.New(slog.NewJSONHandler(&js, nil)).Info("key", "key", []byte(seedKey))
	for name, text := range map[string]string{
		"%v":        fmt.Sprintf("%v", seedKey),
		"%d":        fmt.Sprintf("%d", seedKey),
		"%#v":       fmt.Sprintf("%#v", seedKey),
		"%x":        fmt.Sprintf("%x", seedKey),
		"%X":        fmt.Sprintf("%X", seedKey),
		"an error":  fmt.Errorf("signing with %v failed", seedKey).Error(),
		"slog JSON": js.String(),
	} {
		if showsSecret(text) != secretSeed {
			t.Errorf("%s of the private key is not found: %.80s", name, text)
		}
	}
}
