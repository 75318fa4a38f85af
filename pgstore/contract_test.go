package pgstore_test

import (
	"testing"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/internal/storetest"
	"github.com/tokenrefresh/refresh/pgstore"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) refresh.SharedStore {
		return newStore(t)
	})
}

func TestContractSealed(t *testing.T) {
	aead := newAEAD(t)
	storetest.Run(t, func(t *testing.T) refresh.SharedStore {
		return newStore(t, pgstore.WithAEAD("k1", aead))
	})
}
