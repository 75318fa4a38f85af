package refresh_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenrefresh/refresh"
)

// FuzzClientAuth builds a refresh request with each built-in client
// authentication method and decodes it as a server would: the credentials and
// the refresh token must come back byte for byte, in one method only, and no
// rendering of the Auth may show the secret.
func FuzzClientAuth(f *testing.F) {
	seeds := []struct {
		method               uint8
		clientID, secret, rt string
	}{
		{0, "client-1", "s3cret", "rt-1"},
		{0, "a:b", "c:d", "rt"},
		{0, "my client", "p@ss word+/=%", "rt/1 +&"},
		{1, "plain", "sec:ret", "rt"},
		{1, "a:b", "c", "rt"},
		{2, "id&x=y", "s&client_secret=z", "r=t"},
		{2, "ünïcode", "\xff\xfe", "rt\x00"},
		{3, "public", "", "rt"},
		{3, "", "", "rt"},
		{0, "id", "secret", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.clientID, s.secret, s.rt)
	}
	const tokenURL = "https://as.example.com/oauth2/token"
	f.Fuzz(func(t *testing.T, method uint8, clientID, secret, rt string) {
		if len(clientID) > 200 || len(secret) > 200 || len(rt) > 400 {
			// Longer values test nothing new, and make the fuzzer spend its
			// time minimizing them.
			return
		}
		var auth refresh.Auth
		var blank refresh.Auth // the same method with a stand-in secret, to see what it prints anyway
		switch method % 4 {
		case 0:
			auth, blank = refresh.ClientSecretBasic(clientID, secret), refresh.ClientSecretBasic(clientID, "\x01")
		case 1:
			auth, blank = refresh.ClientSecretBasicRaw(clientID, secret), refresh.ClientSecretBasicRaw(clientID, "\x01")
		case 2:
			auth, blank = refresh.ClientSecretPost(clientID, secret), refresh.ClientSecretPost(clientID, "\x01")
		default:
			auth, blank = refresh.PublicClient(clientID), refresh.PublicClient(clientID)
		}

		// No rendering shows the secret, unless it prints anyway (it is part of
		// the client ID or of the fixed text).
		if secret != "" && method%4 != 3 {
			shown := fmt.Sprintf("%v|%+v|%#v|%s", blank, blank, blank, blank)
			for _, text := range []string{fmt.Sprintf("%v", auth), fmt.Sprintf("%+v", auth), fmt.Sprintf("%#v", auth), fmt.Sprint(auth)} {
				if strings.Contains(text, secret) && !strings.Contains(shown, secret) {
					t.Errorf("the Auth prints its secret %q: %s", secret, text)
				}
			}
		}

		c := &refresh.Client{TokenURL: tokenURL, Auth: auth}
		req, err := c.NewRequest(t.Context(), rt)
		var ce *refresh.ConfigError
		switch {
		case rt == "" || clientID == "" || method%4 == 1 && strings.Contains(clientID, ":"):
			if !errors.As(err, &ce) {
				t.Fatalf("NewRequest = %v, want a *ConfigError", err)
			}
			// The secret has no part in the error: its text is the same with a
			// stand-in secret.
			_, blankErr := (&refresh.Client{TokenURL: tokenURL, Auth: blank}).NewRequest(t.Context(), rt)
			if blankErr == nil || blankErr.Error() != err.Error() {
				t.Errorf("the error depends on the secret: %v; with a stand-in secret: %v", err, blankErr)
			}
			return
		case err != nil:
			t.Fatalf("NewRequest: %v", err)
		}

		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(body)) != req.ContentLength {
			t.Errorf("ContentLength = %d, body has %d bytes", req.ContentLength, len(body))
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Fatalf("the body is not a valid form: %v: %q", err, body)
		}
		want := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		user, pass, basic := req.BasicAuth()
		switch method % 4 {
		case 0:
			if !basic {
				t.Fatalf("no Basic credentials: %q", req.Header.Get("Authorization"))
			}
			// RFC 6749 §2.3.1: each part is form-encoded before Basic.
			id, err1 := url.QueryUnescape(user)
			sec, err2 := url.QueryUnescape(pass)
			if err1 != nil || err2 != nil || id != clientID || sec != secret {
				t.Errorf("Basic credentials decode to %q, %q (%v, %v); want %q, %q", id, sec, err1, err2, clientID, secret)
			}
			if strings.ContainsRune(user, ':') {
				t.Errorf("the encoded client ID %q holds ':'", user)
			}
		case 1:
			if !basic || user != clientID || pass != secret {
				t.Errorf("raw Basic credentials = %q, %q, %v; want %q, %q", user, pass, basic, clientID, secret)
			}
		case 2:
			want["client_id"], want["client_secret"] = []string{clientID}, []string{secret}
		default:
			want["client_id"] = []string{clientID}
		}
		if method%4 >= 2 && req.Header.Get("Authorization") != "" {
			t.Errorf("an Authorization header beside body credentials: one method per request (RFC 6749 §2.3)")
		}
		if fmt.Sprint(form) != fmt.Sprint(want) {
			t.Errorf("the body decodes to %v, want %v", form, want)
		}
		if got := req.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type = %q", got)
		}
		if req.Method != http.MethodPost {
			t.Errorf("method = %s, want POST", req.Method)
		}
	})
}
