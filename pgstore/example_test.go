package pgstore_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"sync"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/pgstore"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// Three replicas share one grant through PostgreSQL. They all ask for a token
// at once: one of them refreshes under the lease, and the others wake when it
// releases, load what it saved, and send nothing.
func ExampleNew() {
	pool, err := startShared() // in a service: pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := pgstore.CreateTable(ctx, pool); err != nil {
		fmt.Println(err)
		return
	}

	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{ID: "app", Method: refreshtest.AuthNone}),
		refreshtest.WithRotation(refreshtest.RotateRefreshTokens), refreshtest.WithReuseDetection(true))
	defer srv.Close()
	const grant = "example-grant" // the tests' server is new at each run
	seed := pgstore.New(pool, grant)
	if err := seed.Save(ctx, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken("app")}); err != nil {
		fmt.Println(err)
		return
	}

	var wg sync.WaitGroup
	tokens := make([]string, 3)
	for i := range tokens {
		// Each replica: its own Client and Source, the same grant key.
		c := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient("app"), HTTPClient: srv.Client()}
		src := refresh.NewSource(c, nil, refresh.WithStore(pgstore.New(pool, grant)))
		wg.Go(func() {
			t, err := src.Token(ctx)
			if err != nil {
				fmt.Println(err)
				return
			}
			tokens[i] = t.AccessToken
		})
	}
	wg.Wait()
	fmt.Println("token requests:", len(srv.Requests()))
	fmt.Println("same access token:", tokens[0] == tokens[1] && tokens[1] == tokens[2])
	// Output:
	// token requests: 1
	// same access token: true
}

// Tokens are sealed with AES-GCM under key ID "2026-01"; rows sealed under the
// previous key still open, and are sealed with the new key at their next save.
func ExampleWithAEAD() {
	pool, err := startShared()
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	oldKey, newKey := exampleAEAD(1), exampleAEAD(2) // in a service: from a secret manager

	const grant = "example-aead"
	before := pgstore.New(pool, grant, pgstore.WithAEAD("2025-07", oldKey))
	if err := before.Save(ctx, &refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt"}); err != nil {
		fmt.Println(err)
		return
	}

	after := pgstore.New(pool, grant, pgstore.WithAEAD("2026-01", newKey), pgstore.WithOldKey("2025-07", oldKey))
	t, err := after.Load(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t)
	fmt.Println(after)
	// Output:
	// refresh.Tokens{AccessToken:[redacted], TokenType:"Bearer", RefreshToken:[redacted]}
	// pgstore.Store{Table:"refresh_tokens", Key:"example-aead", KeyID:"2026-01"}
}

// exampleAEAD is AES-256-GCM with a key of 32 bytes b.
func exampleAEAD(b byte) cipher.AEAD {
	block, err := aes.NewCipher(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}
