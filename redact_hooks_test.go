package refresh_test

import (
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// hooksRedactCases returns the rows of redactCases for the hooks and the
// events of a refresh that rotates the tokens, a store failure included
// (hooks_test.go checks their behaviour).
func hooksRedactCases(t *testing.T) []redactCase {
	t.Helper()
	clock := refreshtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := refreshtest.NewServer(refreshtest.WithClient(hookClient), refreshtest.WithClock(clock.Now),
		refreshtest.WithRotation(refreshtest.RotateRefreshTokens), refreshtest.WithDPoPNonces(1))
	t.Cleanup(srv.Close)
	d, err := refresh.NewDPoP(seedKey)
	if err != nil {
		t.Fatal(err)
	}
	c := hookedClient(srv, clock)
	c.DPoP = d
	r := &recorder{}
	rt := srv.IssueRefreshToken(hookClient.ID)
	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: rt}, refresh.WithStore(refresh.NewMemoryStore(nil)), refresh.WithHooks(r.hooks()))
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	cases := []redactCase{{name: "a Hooks with every func set", value: r.hooks()}}
	for _, e := range r.got() {
		cases = append(cases, redactCase{name: "the event " + exportedTypeOf(e) + " of a refresh", value: e})
	}
	end := r.got()[len(r.got())-1].(refresh.RefreshEnd)
	return append(cases,
		redactCase{name: "a Reason", value: end.Reason},
		redactCase{name: "an Outcome", value: end.Outcome},
		redactCase{name: "an ErrorKind", value: refresh.ErrorKindInvalidGrant},
		redactCase{name: "a StoreFailure", value: refresh.StoreFailure{Op: "save", Conflict: true}},
	)
}
