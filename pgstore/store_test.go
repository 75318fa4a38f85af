package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/pgstore"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	s := pgstore.New(pool, newKey(t))
	got, err := s.Load(ctx)
	if err != nil || got != nil {
		t.Fatalf("Load of a new key = %v, %v; want nil, nil", got, err)
	}
	l, err := s.Acquire(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok := &refresh.Tokens{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt"}
	if err := l.Save(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	got, err = s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tok, got, cmp.AllowUnexported(refresh.Tokens{})); diff != "" {
		t.Error(diff)
	}
	l2, err := s.Acquire(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Save(ctx, nil); !errors.Is(err, refresh.ErrVersionConflict) {
		t.Errorf("Save without Load over stored tokens = %v", err)
	}
	_ = l2.Release(ctx)
}
