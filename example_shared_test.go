package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tokenrefresh/refresh"
)

// Replicas that share a grant share a SharedStore (here a MemoryStore, for
// Sources of one process; redisstore and pgstore across processes). However
// many callers of however many Sources find the token expired at once, one
// takes the lease and refreshes; the others wait for the lease and load what it
// saved, without a request.
func ExampleSharedStore() {
	p := startExampleProvider()
	defer p.Close()

	c := &refresh.Client{TokenURL: p.URL + "/token", Auth: refresh.ClientSecretBasic("my-app", "s3cret")}
	var store refresh.SharedStore = refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: "rt-1"})
	replicas := []*refresh.Source{
		refresh.NewSource(c, nil, refresh.WithStore(store)),
		refresh.NewSource(c, nil, refresh.WithStore(store)),
		refresh.NewSource(c, nil, refresh.WithStore(store)),
	}
	var wg sync.WaitGroup
	for _, src := range replicas {
		for range 10 {
			wg.Go(func() {
				if _, err := src.Token(context.Background()); err != nil {
					fmt.Println(err)
				}
			})
		}
	}
	wg.Wait()
	stored, _ := store.Load(context.Background())
	fmt.Println("token requests:", p.TokenRequests())
	fmt.Println("stored refresh token:", stored.RefreshToken)
	// Output:
	// token requests: 1
	// stored refresh token: rt-2
}

// A Lease's Save is fenced: it stores nothing once someone else has written
// since the lease's Load, as when a holder's lease lapsed and another replica
// took it.
func ExampleLease() {
	ctx := context.Background()
	store := refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: "rt-1"})

	lease, err := store.Acquire(ctx, time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lease.Release(ctx)
	if _, err := lease.Load(ctx); err != nil {
		fmt.Println(err)
		return
	}
	// Another writer (a plain Save, a sign-in) gets in first.
	_ = store.Save(ctx, &refresh.Tokens{RefreshToken: "rt-9"})

	err = lease.Save(ctx, &refresh.Tokens{RefreshToken: "rt-2"})
	fmt.Println(errors.Is(err, refresh.ErrVersionConflict))
	stored, _ := store.Load(ctx)
	fmt.Println(stored.RefreshToken)
	// Output:
	// true
	// rt-9
}
