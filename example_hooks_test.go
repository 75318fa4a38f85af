package refresh_test

import (
	"context"
	"fmt"
	"log"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// ExampleWithHooks prints the events of a Source's first refresh, and of a
// second one after the refresh token was revoked. The events carry no token:
// the Duration is left out here only because it varies.
func ExampleWithHooks() {
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{ID: "app", Method: refreshtest.AuthNone}))
	defer srv.Close()

	hooks := refresh.Hooks{
		OnRefreshStart: func(e refresh.RefreshStart) {
			fmt.Printf("start: reason=%s auth=%s dpop=%t\n", e.Reason, e.AuthMethod, e.DPoP)
		},
		OnRefreshEnd: func(e refresh.RefreshEnd) {
			fmt.Printf("end: reason=%s outcome=%s error=%q sent=%t\n", e.Reason, e.Outcome, e.ErrorKind, e.Sent)
		},
	}
	client := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient("app"), HTTPClient: srv.Client()}
	rt := srv.IssueRefreshToken("app")
	src := refresh.NewSource(client, &refresh.Tokens{RefreshToken: rt}, refresh.WithHooks(hooks))
	tok, err := src.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}

	srv.Revoke(tok.RefreshToken)
	src.Invalidate(tok)
	_, err = src.Token(context.Background())
	fmt.Println("invalid_grant:", err != nil)
	// Output:
	// start: reason=first_use auth=none dpop=false
	// end: reason=first_use outcome=refreshed error="" sent=true
	// start: reason=rejected auth=none dpop=false
	// end: reason=rejected outcome=failed error="invalid_grant" sent=true
	// invalid_grant: true
}
