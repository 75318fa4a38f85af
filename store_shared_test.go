package refresh_test

import (
	"testing"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/internal/storetest"
)

func TestMemoryStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) refresh.SharedStore { return refresh.NewMemoryStore(nil) })
}
