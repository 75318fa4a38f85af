// Package pgstore keeps a grant's tokens in PostgreSQL, shared by the replicas
// of a service: a [Store] is a [refresh.SharedStore], so that Sources in
// several processes never present one refresh token twice. It lives in a
// module of its own, built on github.com/jackc/pgx/v5, so that importers of
// refresh never download pgx.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	err = pgstore.CreateTable(ctx, pool) // once, at deploy time or start-up
//	...
//	src := refresh.NewSource(c, nil, refresh.WithStore(pgstore.New(pool, "grant:"+userID)))
//
// # Schema
//
// Each grant is one row, keyed by the key given to [New]. [CreateTable] makes
// the table (or write it into your own migrations):
//
//	CREATE TABLE IF NOT EXISTS refresh_tokens (
//		key         text PRIMARY KEY,    -- the grant's key, as given to New
//		version     bigint NOT NULL DEFAULT 0, -- incremented by every write: the fencing token
//		data        bytea,               -- the Tokens storage encoding; NULL when none are stored
//		key_id      text,                -- the WithAEAD key ID data is sealed under; NULL in the clear
//		owner       text,                -- the lease holder's random token; NULL when free
//		lease_until timestamptz,         -- when the lease lapses, by the database's clock
//		updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
//	)
//
// The data column holds json.Marshal of a [refresh.Tokens] (its storage
// encoding), or with [WithAEAD] the AEAD's nonce followed by the sealed JSON.
// Rows are never deleted: a grant cleared with Save(ctx, nil) keeps its row,
// its version and its lease columns.
//
// # How it works
//
// The lease is the owner and lease_until columns of the row. Acquire claims
// it with one statement,
//
//	UPDATE refresh_tokens SET owner = $2, lease_until = clock_timestamp() + ttl
//	WHERE key = $1 AND (owner IS NULL OR lease_until <= clock_timestamp())
//	RETURNING version
//
// (inserting the row first with INSERT … ON CONFLICT DO NOTHING when the grant
// is new). No transaction stays open while the lease is held: the token
// request runs with no connection pinned and no row locked. Lease times are the
// database's clock, so the replicas' clocks need not agree. A lease holder's
// save is UPDATE … WHERE key = $1 AND version = $2, the version its Load read,
// so a holder whose lease lapsed cannot write over newer tokens; it fails with
// [refresh.ErrVersionConflict]. Release clears owner and lease_until only while
// they are still the holder's.
//
// A waiting Acquire listens on the channel named after the table, on a
// connection made with the pool's settings (its BeforeConnect hook included)
// but outside its count, so that it never takes a connection that queries
// need: one per Store however many wait, closed when the last waiter leaves. Every save and every release sends NOTIFY with the
// grant's key as the payload, in the same statement as the write, and the
// waiters of that key try again when it arrives. They also try again when the
// holder's lease_until passes, so a holder that died is replaced within its
// TTL. Nothing polls at a fixed interval. LISTEN needs a session of its own:
// through PgBouncer in transaction mode no notification arrives, and waiters
// get the lease only when the holder's lease_until passes; connect the pool
// directly, or through session pooling.
//
// Round trips: Load, Save, Release and an uncontended Acquire are one each
// (the first Acquire of a new grant three more). A refresh through the store
// is five: acquire, load, the token request, save, release; reading a valid
// cached token is none.
//
// # Encryption at rest
//
// [WithAEAD] seals the data column with the caller's [crypto/cipher.AEAD] and
// stores the key ID in key_id; [WithOldKey] opens rows sealed under earlier
// keys, so keys rotate without a migration: each save seals with the current
// key. Rows in the clear are still read, so sealing can be turned on for a
// table in use.
//
// # Errors
//
// Errors wrap pgx's (errors.Is and errors.As find *pgconn.PgError, context
// errors, network errors) behind a "pgstore: <op>: " prefix and never hold a
// token; a [refresh.Source] wraps them in a [*refresh.StoreError]. A call whose
// context ended returns the context's error. Bad options and keys are
// [*refresh.ConfigError]s that name the option. Printing a Store shows its
// table, key and key ID, never the pool's settings or a key.
//
// # Durability
//
// The tokens are as durable as the database. A rotated refresh token exists
// only in this row: restoring an older backup, or failing over to an
// asynchronous standby that lacks the last commit, brings back a spent refresh
// token, and the user must sign in again.
package pgstore
