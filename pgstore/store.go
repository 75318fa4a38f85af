package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tokenrefresh/refresh"
)

// Store is one grant's row in a PostgreSQL table: a [refresh.SharedStore]
// that the replicas of a service share. It is safe for concurrent use. Create
// it with [New]; the table must exist (see [CreateTable]).
type Store struct {
	pool   *pgxpool.Pool
	key    string
	cfg    config
	err    error // a bad option or key: every call returns it
	sql    statements
	notify notifier
}

// New returns the Store of the grant named key in pool's database. It sends
// nothing and never creates the table. An invalid option or key (empty, not
// UTF-8, holding NUL, or longer than 1000 bytes) is reported, as a
// [*refresh.ConfigError], by every call of the Store.
func New(pool *pgxpool.Pool, key string, opts ...Option) *Store {
	s := &Store{pool: pool, key: key, cfg: newConfig(opts)}
	s.err = s.cfg.err
	switch {
	case s.err != nil:
	case pool == nil:
		s.err = &refresh.ConfigError{Field: "pgstore.New pool", Reason: "the pool is nil"}
	case key == "" || len(key) > 1000:
		s.err = &refresh.ConfigError{Field: "pgstore.New key", Reason: fmt.Sprintf("the key must be 1 to 1000 bytes, not %d", len(key))}
	case !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0:
		s.err = &refresh.ConfigError{Field: "pgstore.New key", Reason: "the key must be UTF-8 text without NUL"}
	}
	s.sql = newStatements(s.cfg.table)
	return s
}

// statements are the Store's SQL for its table. Every write that a waiter
// cares about (a save, a release) sends a NOTIFY on the table's channel with
// the grant's key as its payload, in the same statement.
type statements struct {
	channel                         string
	load, save, claim, left, insert string
	leaseSave, release              string
}

func newStatements(table string) statements {
	t := pgx.Identifier{table}.Sanitize()
	return statements{
		channel: table,
		load:    "SELECT version, data, key_id FROM " + t + " WHERE key = $1",
		save: "WITH w AS (INSERT INTO " + t + " AS t (key, data, key_id, version) VALUES ($1, $2, $3, 1)" +
			" ON CONFLICT (key) DO UPDATE SET data = excluded.data, key_id = excluded.key_id," +
			" version = t.version + 1, updated_at = clock_timestamp() RETURNING version)" +
			" SELECT version, pg_notify($4, $1) FROM w",
		claim: "UPDATE " + t + " SET owner = $2, lease_until = clock_timestamp() + $3 * interval '1 microsecond'" +
			" WHERE key = $1 AND (owner IS NULL OR lease_until <= clock_timestamp())" +
			" RETURNING version, data IS NULL",
		left: "SELECT coalesce(extract(epoch FROM lease_until - clock_timestamp()) * 1000000, 0)::bigint" +
			" FROM " + t + " WHERE key = $1",
		insert: "INSERT INTO " + t + " (key) VALUES ($1) ON CONFLICT (key) DO NOTHING",
		leaseSave: "WITH w AS (UPDATE " + t + " SET data = $3, key_id = $4, version = version + 1," +
			" updated_at = clock_timestamp() WHERE key = $1 AND version = $2 RETURNING version)" +
			" SELECT version, pg_notify($5, $1) FROM w",
		release: "WITH r AS (UPDATE " + t + " SET owner = NULL, lease_until = NULL" +
			" WHERE key = $1 AND owner = $2 RETURNING 1) SELECT pg_notify($3, $1) FROM r",
	}
}

// Load returns the stored tokens, or nil, nil when none are stored (or the
// row does not exist yet).
func (s *Store) Load(ctx context.Context) (*refresh.Tokens, error) {
	t, _, err := s.load(ctx)
	return t, err
}

// load reads the row: its tokens and version (0 when there is no row).
func (s *Store) load(ctx context.Context) (*refresh.Tokens, int64, error) {
	if s.err != nil {
		return nil, 0, s.err
	}
	var version int64
	var data []byte
	var keyID *string
	err := s.pool.QueryRow(ctx, s.sql.load, s.key).Scan(&version, &data, &keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, s.fail(ctx, "load", err)
	}
	t, err := s.cfg.open(s.key, data, keyID)
	return t, version, err
}

// Save stores t (a nil t clears the stored tokens) whatever is stored, creating
// the row if needed, and wakes the waiters. It increments the version, so that
// a lease holder's later [refresh.Lease.Save] fails.
func (s *Store) Save(ctx context.Context, t *refresh.Tokens) error {
	if s.err != nil {
		return s.err
	}
	data, keyID, err := s.cfg.seal(s.key, t)
	if err != nil {
		return err
	}
	var version int64
	err = s.pool.QueryRow(ctx, s.sql.save, s.key, data, keyID, s.sql.channel).Scan(&version, nil)
	return s.fail(ctx, "save", err)
}

// Acquire takes the grant's lease for ttl, creating the row if it is missing.
// While another owner holds the lease it waits, on a LISTEN connection of the
// pool, for that owner's save or release, and at most until the owner's lease
// runs out by the database's clock. It returns ctx's error when ctx ends first.
// The lease is columns of the row; no transaction stays open while it is held.
func (s *Store) Acquire(ctx context.Context, ttl time.Duration) (refresh.Lease, error) {
	if s.err != nil {
		return nil, s.err
	}
	if ttl <= 0 {
		return nil, &refresh.ConfigError{Field: "pgstore.Acquire ttl", Reason: fmt.Sprintf("the lease TTL must be positive, not %s", ttl)}
	}
	owner, err := newOwner()
	if err != nil {
		return nil, err
	}
	micros := max(ttl.Microseconds(), 1)
	s.notify.join() // counts this call, so that a listener it starts lives until it returns
	defer s.notify.leave()
	var wake <-chan struct{} // nil until this call listens
	for {
		l, err := s.claim(ctx, owner, micros)
		if l != nil || err != nil {
			return l, err
		}
		left, err := s.holderLeft(ctx)
		if err != nil {
			return nil, err
		}
		if left <= 0 { // freed or lapsed since the claim, or a new row
			continue
		}
		if wake != nil {
			timer := time.NewTimer(left)
			select {
			case <-wake:
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return nil, ctx.Err()
			}
			timer.Stop()
		}
		// Listen (or take the next wake-up), then claim again: a release
		// after the failed claim but before this would go unheard.
		if wake, err = s.notify.wait(ctx, s.pool, s.sql.channel, s.key); err != nil {
			return nil, s.fail(ctx, "acquire", err)
		}
	}
}

// claim takes the lease for owner if it is free or lapsed: nil, nil when
// another owner holds it (or the row does not exist).
func (s *Store) claim(ctx context.Context, owner string, micros int64) (*lease, error) {
	var version int64
	var empty bool
	err := s.pool.QueryRow(ctx, s.sql.claim, s.key, owner, micros).Scan(&version, &empty)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail(ctx, "acquire", err)
	}
	l := &lease{s: s, owner: owner, version: -1}
	if empty {
		l.version = version // a Save without a Load may write
	}
	return l, nil
}

// holderLeft is how long the holder's lease has left by the database's clock:
// 0 when it is free or lapsed, or when the row was missing (it inserts it).
func (s *Store) holderLeft(ctx context.Context) (time.Duration, error) {
	var micros int64
	err := s.pool.QueryRow(ctx, s.sql.left, s.key).Scan(&micros)
	if errors.Is(err, pgx.ErrNoRows) { // a new grant: make its row
		_, err = s.pool.Exec(ctx, s.sql.insert, s.key)
	}
	if err != nil {
		return 0, s.fail(ctx, "acquire", err)
	}
	return time.Duration(micros) * time.Microsecond, nil
}

// newOwner is a lease's owner token: 128 random bits in hex.
func newOwner() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("pgstore: no random owner token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// fail wraps a failed call's error as "pgstore: <op>: ...", or returns ctx's
// error when ctx has ended; nil stays nil.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// lease is a held lease: its owner token and the version its Save expects
// (-1: none, so Save fails).
type lease struct {
	s       *Store
	owner   string
	version int64
}

// Load returns the stored tokens and remembers their version for Save.
func (l *lease) Load(ctx context.Context) (*refresh.Tokens, error) {
	t, version, err := l.s.load(ctx)
	if err != nil {
		return nil, err
	}
	l.version = version
	return t, nil
}

// Save stores t (nil clears) if the row's version is still the one Load saw,
// and wakes the waiters; otherwise it stores nothing and returns an error that
// wraps [refresh.ErrVersionConflict].
func (l *lease) Save(ctx context.Context, t *refresh.Tokens) error {
	if l.version < 0 {
		return fmt.Errorf("pgstore: save: tokens were stored when the lease was taken, and Load was not called: %w", refresh.ErrVersionConflict)
	}
	data, keyID, err := l.s.cfg.seal(l.s.key, t)
	if err != nil {
		return err
	}
	var version int64
	err = l.s.pool.QueryRow(ctx, l.s.sql.leaseSave, l.s.key, l.version, data, keyID, l.s.sql.channel).Scan(&version, nil)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: save: %w", refresh.ErrVersionConflict)
	}
	if err != nil {
		return l.s.fail(ctx, "save", err)
	}
	l.version = version
	return nil
}

// Release frees the lease if this owner still holds it, and wakes the waiters.
func (l *lease) Release(ctx context.Context) error {
	_, err := l.s.pool.Exec(ctx, l.s.sql.release, l.s.key, l.owner, l.s.sql.channel)
	return l.s.fail(ctx, "release", err)
}

// describe names the table, the grant and the key ID new rows are sealed with.
func (s *Store) describe() string {
	if s == nil {
		return "pgstore.Store(nil)"
	}
	return fmt.Sprintf("pgstore.Store{Table:%q, Key:%q, KeyID:%q}", s.cfg.table, s.key, s.cfg.keyID)
}

// String names the Store's table, grant key and sealing key ID; it shows no
// token, key or connection setting.
func (s *Store) String() string { return s.describe() }

// Format writes String for every verb (%q quotes it), so that no verb prints
// the pool's settings or a key.
func (s *Store) Format(f fmt.State, verb rune) {
	if verb != 'q' {
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// LogValue gives slog the table, the grant key and the key ID.
func (s *Store) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue(s.describe())
	}
	return slog.GroupValue(slog.String("type", "pgstore.Store"), slog.String("table", s.cfg.table),
		slog.String("key", s.key), slog.String("key_id", s.cfg.keyID))
}
