package refresh_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/internal/storetest"
)

func TestMemoryStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) refresh.SharedStore { return refresh.NewMemoryStore(nil) })
}

func TestMemoryStoreAcquireBadInput(t *testing.T) {
	st := refresh.NewMemoryStore(nil)
	tests := []struct {
		name      string
		ctx       context.Context
		ttl       time.Duration
		wantField string
	}{
		{"a nil context", nil, time.Minute, "ctx"},
		{"a zero TTL", context.Background(), 0, "ttl"},
		{"a negative TTL", context.Background(), -time.Second, "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := st.Acquire(tt.ctx, tt.ttl)
			var ce *refresh.ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.wantField || l != nil {
				t.Errorf("Acquire: got %v, %v; want a *ConfigError for %s", l, err, tt.wantField)
			}
		})
	}
}
