package refresh

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
)

// TestErrorKind sorts one error of each kind a run can end with, wrapped as
// the run wraps them.
func TestErrorKind(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want ErrorKind
	}{
		{"no error", nil, ErrorKindNone},
		{"a panic in a Store, inside a *StoreError", &StoreError{Op: "save", Err: newPanicError("boom")}, ErrorKindPanic},
		{"a panic in an Auth", newPanicError("boom"), ErrorKindPanic},
		{"a store outage", &StoreError{Op: "load", Err: errors.New("down")}, ErrorKindStore},
		{"a version conflict", &StoreError{Op: "save", Err: ErrVersionConflict}, ErrorKindStore},
		{"invalid_grant", &OAuthError{Code: "invalid_grant"}, ErrorKindInvalidGrant},
		{"invalid_grant after retries", &RetryError{Attempts: 2, Err: &OAuthError{Code: "invalid_grant"}}, ErrorKindInvalidGrant},
		{"GitHub's bad_refresh_token", &OAuthError{Code: "bad_refresh_token", StatusCode: 200}, ErrorKindInvalidGrant},
		{"invalid_client", &OAuthError{Code: "invalid_client"}, ErrorKindOAuth},
		{"an HTML 502", &ResponseError{StatusCode: 502}, ErrorKindResponse},
		{"no refresh token", &ConfigError{Field: "Source", Reason: "no refresh token", Err: ErrNoRefreshToken}, ErrorKindConfig},
		{"the run's deadline", fmt.Errorf("refresh: token request: %w", &url.Error{Op: "Post", URL: "https://x", Err: context.DeadlineExceeded}), ErrorKindTimeout},
		{"a refused connection", fmt.Errorf("refresh: token request: %w", &url.Error{Op: "Post", URL: "https://x", Err: errors.New("connection refused")}), ErrorKindTransport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorKind(tt.err); got != tt.want {
				t.Errorf("errorKind(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
