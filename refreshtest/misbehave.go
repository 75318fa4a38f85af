package refreshtest

import (
	"fmt"
	"net/http"
	"time"
)

// Quirks are the ways in which real token endpoints depart from RFC 6749, for a
// test to check that its client copes. The zero Quirks is a server that follows
// the RFC. Set them with [WithQuirks] or [Server.SetQuirks].
type Quirks struct {
	// ErrorsWithStatus200 sends error responses with HTTP 200 (GitHub) instead
	// of 400 or 401.
	ErrorsWithStatus200 bool
	// GitHubErrorCodes uses GitHub's error codes: bad_refresh_token for
	// invalid_grant, incorrect_client_credentials for invalid_client.
	GitHubErrorCodes bool
	// FormEncoded sends every body as application/x-www-form-urlencoded (old
	// Facebook) instead of JSON.
	FormEncoded bool
	// FormUnlessJSONAccepted sends a body as application/x-www-form-urlencoded
	// unless the request's Accept header names application/json, as GitHub
	// does.
	FormUnlessJSONAccepted bool
	// NumbersAsStrings sends expires_in and refresh_token_expires_in as JSON
	// strings, "3600" (Entra v1, PayPal).
	NumbersAsStrings bool
	// TokenType is the token_type sent; "Bearer" when empty. Twitter and Twitch
	// send "bearer".
	TokenType string
	// Latency delays every token endpoint response by this long (on the real
	// clock, or the fake one of a testing/synctest bubble), or until the
	// client gives up.
	Latency time.Duration
}

// GitHubQuirks returns the Quirks of GitHub's token endpoint: errors with HTTP
// 200, GitHub's own error codes, and form-encoded bodies unless the client
// asks for JSON.
func GitHubQuirks() Quirks {
	return Quirks{ErrorsWithStatus200: true, GitHubErrorCodes: true, FormUnlessJSONAccepted: true}
}

// Fault is a response the token endpoint gives instead of its own, set for the
// next requests with [Server.FailNext]. Build one as a literal or with
// [StatusFault], [HTMLFault], [TruncatedJSONFault] or [CloseConnectionFault].
type Fault struct {
	// Status is the HTTP status; 0 means 500.
	Status int
	// Header holds headers to send, such as Content-Type or Retry-After.
	Header http.Header
	// Body is the response body, sent as it is.
	Body string
	// CloseConnection closes the connection without any response, after Delay;
	// Status, Header and Body are then unused.
	CloseConnection bool
	// Delay holds the response back this long, or until the client gives up.
	Delay time.Duration
	// AfterRefresh carries the request out first (a refresh token is rotated,
	// tokens issued) and then replaces the response: the client never learns
	// the new tokens, as when a response is lost on the way back.
	AfterRefresh bool
}

// StatusFault returns a Fault that answers status with an OAuth error body
// (RFC 6749 §5.2) of the given code, such as 503 with "temporarily_unavailable",
// or 429 with "slow_down". An empty code sends an empty JSON object.
func StatusFault(status int, code string) Fault {
	body := "{}"
	if code != "" {
		body = fmt.Sprintf(`{"error":%q}`, code)
	}
	return Fault{
		Status: status,
		Header: http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}},
		Body:   body,
	}
}

// HTMLFault returns a Fault that answers status with an HTML page, as a proxy
// or load balancer in front of a token endpoint does (a 502 Bad Gateway).
func HTMLFault(status int) Fault {
	text := fmt.Sprintf("%d %s", status, http.StatusText(status))
	return Fault{
		Status: status,
		Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
		Body:   "<html><head><title>" + text + "</title></head><body><center><h1>" + text + "</h1></center><hr><center>nginx</center></body></html>\n",
	}
}

// TruncatedJSONFault returns a Fault that answers 200 with a JSON token response
// cut short in the middle of the access token.
func TruncatedJSONFault() Fault {
	return Fault{
		Status: http.StatusOK,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   `{"access_token":"at_0123456789ab`,
	}
}

// CloseConnectionFault returns a Fault that closes the connection without
// answering.
func CloseConnectionFault() Fault { return Fault{CloseConnection: true} }

// write sends f, or closes the connection.
func (f Fault) write(s *Server, w http.ResponseWriter, r *http.Request) {
	s.sleep(r.Context(), f.Delay)
	if f.CloseConnection {
		// The server closes the connection without a response and logs
		// nothing for this panic value.
		panic(http.ErrAbortHandler)
	}
	for k, v := range f.Header {
		w.Header()[k] = append([]string(nil), v...)
	}
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(f.Body))
}
