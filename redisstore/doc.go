// Package redisstore keeps a grant's tokens in Redis, shared by the replicas
// of a service: a [Store] is a [refresh.SharedStore], so that Sources in
// several processes never present one refresh token twice. It lives in a
// module of its own, so that importers of refresh never download go-redis.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"}) // or a Sentinel or Cluster client
//	src := refresh.NewSource(c, nil, refresh.WithStore(redisstore.New(rdb, "grant:"+userID)))
//
// # How it works
//
// The lease is a key set with SET NX PX to a random owner token, and released
// by a script that deletes it only while it still holds that token. The tokens
// live in a hash beside it, with a version that every write increments; a
// lease holder's write is a script that compares the version with the one it
// loaded, so a holder whose lease lapsed cannot overwrite newer tokens. Both
// keys carry the hash tag {key}, so a Cluster keeps them in one slot. A replica
// waiting for the lease subscribes to the grant's channel, on which the store
// itself publishes each save and release (keyspace events may stay off), and
// also tries again when the holder's TTL passes. The stored data is the Tokens
// storage encoding (json.Marshal of [refresh.Tokens]), sealed with
// [WithAEAD] when it is given.
//
// Round trips: Load, Save, Release and an uncontended Acquire are one each, so
// a refresh through the store is four around the token request; reading a
// valid cached token is none.
//
// # Durability
//
// Redis keeps data in memory. Without persistence (appendonly yes, ideally
// with appendfsync everysec or always), a restart or failover loses the stored
// tokens, and with them the grant: the rotated refresh token exists nowhere
// else, so the user must sign in again. RDB snapshots alone lose whatever was
// rotated since the last snapshot, and after a Sentinel or Cluster failover an
// asynchronous replica may lack the last write. Treat the Redis that holds
// tokens as a database, not a cache: no eviction policy that may drop these
// keys (maxmemory-policy noeviction or volatile-*: the keys have no TTL).
//
// # Errors
//
// Errors wrap go-redis's (errors.Is finds redis.Nil, context errors, network
// errors), name the grant's key, and never hold a token; a [refresh.Source]
// wraps them in a [*refresh.StoreError]. A fenced write that lost the race
// wraps [refresh.ErrVersionConflict].
package redisstore
