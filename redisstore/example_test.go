package redisstore_test

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/redisstore"
)

// Each replica of a service builds its Source over a Store of the same grant
// key: at expiry one replica refreshes and the others wait for its lease and
// use what it saved. This example needs a Redis server and a token endpoint,
// so it is compiled but not run; TestSourcesShareAGrant runs the same setup
// against a real redis-server.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"}) // or NewFailoverClient, NewClusterClient
	defer rdb.Close()

	store := redisstore.New(rdb, "grant:user-42")
	c := &refresh.Client{
		TokenURL: "https://auth.example.com/oauth2/token",
		Auth:     refresh.ClientSecretBasic("my-app", os.Getenv("CLIENT_SECRET")),
	}
	// nil tokens: the first Token loads them from Redis (saved there after
	// the user signed in, with store.Save).
	src := refresh.NewSource(c, nil, refresh.WithStore(store))
	hc := &http.Client{Transport: &refresh.Transport{Source: src}}

	resp, err := hc.Get("https://api.example.com/me")
	if err != nil {
		log.Fatal(err) // a store failure is a *refresh.StoreError
	}
	defer resp.Body.Close()
}

// Tokens are sealed at rest with the caller's AEAD under a key ID, stored
// beside them. To rotate, seal with the new key and keep the old one for
// reading until every grant has been written again. New sends nothing; a
// Store prints its key IDs, never a key or a token.
func ExampleWithAEAD() {
	newKey, oldKey := gcm(keyFromVault("2026-06")), gcm(keyFromVault("2026-01"))
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()

	store := redisstore.New(rdb, "grant:user-42",
		redisstore.WithAEAD("2026-06", newKey), redisstore.WithOldKey("2026-01", oldKey))
	fmt.Println(store)
	_ = refresh.NewSource(&refresh.Client{TokenURL: "https://auth.example.com/oauth2/token"}, nil,
		refresh.WithStore(store))
	// Output:
	// redisstore.Store{Key:"grant:user-42", SealKeyID:"2026-06", KeyIDs:["2026-01" "2026-06"]}
}

// keyFromVault stands for fetching a 32-byte key from a secret manager.
func keyFromVault(id string) []byte {
	key := make([]byte, 32)
	copy(key, id)
	return key
}

// gcm returns AES-256-GCM with key.
func gcm(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		log.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		log.Fatal(err)
	}
	return aead
}
