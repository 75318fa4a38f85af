package main

import (
	"bytes"
	"testing"
)

// wantOutput is the whole output: it holds no token, so the comparison also
// shows that none is printed.
const wantOutput = `1. Three users sign in
   alice signed in
   bob signed in
   carol signed in
2. The service calls the API for each user, three times each, at once
   alice: 200 OK {"client_id":"multiuser-app","scope":"read"} (x3)
   bob: 200 OK {"client_id":"multiuser-app","scope":"read write"} (x3)
   carol: 200 OK {"client_id":"multiuser-app","scope":"write"} (x3)
   token requests: 3 (one per user)
   grants in memory: 3
3. Bob signs out
   his refresh token at the provider: Revoked
   calling for bob: errors.Is(err, refresh.ErrNoRefreshToken): true
   alice: 200 OK {"client_id":"multiuser-app","scope":"read"}
4. A request that names no user is not sent
   errors.Is(err, refresh.ErrNoGrantKey): true
`

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	if got := out.String(); got != wantOutput {
		t.Errorf("output:\n%s\nwant:\n%s", got, wantOutput)
	}
}
