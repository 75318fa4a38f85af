package pgstore

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tokenrefresh/refresh"
)

// CreateTable creates the table the Stores use (the [WithTable] option names
// it, default [DefaultTable]) if it does not exist, with the schema the package
// documentation gives. It is safe to call from several replicas at once: it
// takes a transaction-scoped advisory lock on the table's name first. Only the
// [WithTable] option matters here; a bad one is returned as a
// [*refresh.ConfigError].
func CreateTable(ctx context.Context, pool *pgxpool.Pool, opts ...Option) error {
	c := newConfig(opts)
	if c.err != nil {
		return c.err
	}
	if pool == nil {
		return &refresh.ConfigError{Field: "pgstore.CreateTable pool", Reason: "the pool is nil"}
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Two CREATE TABLE IF NOT EXISTS at once can both try to create it, and
		// one fails on a unique index of the catalogue: take turns.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockID(c.table)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, createSQL(c.table))
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("pgstore: create table %q: %w", c.table, err)
	}
	return nil
}

// createSQL is the table's definition, as the package documentation shows it.
func createSQL(table string) string {
	return "CREATE TABLE IF NOT EXISTS " + pgx.Identifier{table}.Sanitize() + ` (
	key         text PRIMARY KEY,
	version     bigint NOT NULL DEFAULT 0,
	data        bytea,
	key_id      text,
	owner       text,
	lease_until timestamptz,
	updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
)`
}

// lockID is the advisory lock key for creating table.
func lockID(table string) int64 {
	h := fnv.New64a()
	h.Write([]byte("github.com/tokenrefresh/refresh/pgstore " + table))
	return int64(h.Sum64())
}
