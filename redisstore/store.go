package redisstore

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/refresh"
)

// Store is a [refresh.SharedStore] that keeps one grant's tokens in Redis. It
// is safe for concurrent use by any number of goroutines and processes; create
// it with [New]. Its String, Format and LogValue show the grant's key and key
// IDs, never a token or a key.
type Store struct {
	rdb     redis.UniversalClient
	key     string                 // the grant's key, as given to New
	data    string                 // the hash's name: version, data, key ID, last write's ID
	lease   string                 // the lease's name: its owner's token, with a TTL
	channel string                 // the channel's name, where saves and releases are announced
	sealID  string                 // the key ID new tokens are sealed with; "" stores them plain
	keys    map[string]cipher.AEAD // every key ID that Load can open
	err     error                  // a bad argument to New, returned by every method
}

// Option configures a [Store].
type Option func(*Store) error

// New returns the Store of the grant named key in rdb (a single node, a
// Sentinel failover client or a Cluster client). Its Redis keys are
// "refresh:{key}:tokens" (a hash: version, data, key ID, the last write's ID) and
// "refresh:{key}:lease", and it announces saves and releases on the channel
// "refresh:{key}:wake"; the hash tag {key} keeps both keys in one Cluster slot.
// New sends nothing. A nil rdb, an empty key (or one that starts with '}',
// which would empty the hash tag) or a bad option makes every method
// of the Store return a [*refresh.ConfigError] that names it, as does a nil
// ctx.
func New(rdb redis.UniversalClient, key string, opts ...Option) *Store {
	prefix := "refresh:{" + key + "}:"
	s := &Store{
		rdb: rdb, key: key,
		data: prefix + "tokens", lease: prefix + "lease", channel: prefix + "wake",
		keys: map[string]cipher.AEAD{},
	}
	switch {
	case rdb == nil:
		s.err = &refresh.ConfigError{Field: "redisstore.New rdb", Reason: "nil Redis client"}
	case key == "":
		s.err = &refresh.ConfigError{Field: "redisstore.New key", Reason: "empty grant key"}
	case key[0] == '}': // the hash tag would be empty, and a Cluster would split the keys
		s.err = &refresh.ConfigError{Field: "redisstore.New key", Reason: "a grant key must not start with '}'"}
	}
	for _, o := range opts {
		if s.err == nil && o != nil {
			s.err = o(s)
		}
	}
	return s
}

// WithAEAD seals the tokens that the Store writes with aead, under keyID,
// which is stored beside them so that Load picks the key to open them with.
// The nonce is random (aead.NonceSize bytes, from crypto/rand) and the
// additional data is the grant's key, so that sealed tokens cannot be moved to
// another grant. keyID must not be empty. Load still reads tokens stored
// without a key (so that sealing can be turned on for stored grants); they are
// sealed by the next write. To rotate keys, give the new key here and the old
// one with [WithOldKey] until every grant has been written again.
func WithAEAD(keyID string, aead cipher.AEAD) Option {
	return func(s *Store) error {
		if err := s.addKey("redisstore.WithAEAD", keyID, aead); err != nil {
			return err
		}
		if s.sealID != "" {
			return &refresh.ConfigError{Field: "redisstore.WithAEAD", Reason: "given twice"}
		}
		s.sealID = keyID
		return nil
	}
}

// WithOldKey lets Load open tokens sealed under keyID with aead; the Store
// never seals with it. Give one for each key that stored grants may still be
// sealed with.
func WithOldKey(keyID string, aead cipher.AEAD) Option {
	return func(s *Store) error { return s.addKey("redisstore.WithOldKey", keyID, aead) }
}

func (s *Store) addKey(field, keyID string, aead cipher.AEAD) error {
	switch {
	case keyID == "":
		return &refresh.ConfigError{Field: field, Reason: "empty key ID"}
	case aead == nil:
		return &refresh.ConfigError{Field: field, Reason: "nil cipher.AEAD for key ID " + strconv.Quote(keyID)}
	case s.keys[keyID] != nil:
		return &refresh.ConfigError{Field: field, Reason: "key ID " + strconv.Quote(keyID) + " given twice"}
	}
	s.keys[keyID] = aead
	return nil
}

// Load returns the stored tokens, or nil, nil when none are stored. It is one
// round trip (HMGET).
func (s *Store) Load(ctx context.Context) (*refresh.Tokens, error) {
	t, _, err := s.load(ctx)
	return t, err
}

// Save stores t, or clears the stored tokens when t is nil, whatever is stored,
// and increments the version, so that a lease holder that loaded before it
// cannot write over it. Waiters for the lease are woken. It is one round trip
// (a script).
func (s *Store) Save(ctx context.Context, t *refresh.Tokens) error {
	_, err := s.save(ctx, "", t)
	return err
}

// ready returns the error of a call that must send nothing: a nil Store, a
// bad argument to New, or a nil ctx.
func (s *Store) ready(ctx context.Context) error {
	switch {
	case s == nil:
		return &refresh.ConfigError{Field: "redisstore.Store", Reason: "nil *Store"}
	case s.err != nil:
		return s.err
	case ctx == nil:
		return &refresh.ConfigError{Field: "ctx", Reason: "nil Context"}
	}
	return nil
}

// load reads the stored tokens and their version (0 when never written).
func (s *Store) load(ctx context.Context) (*refresh.Tokens, int64, error) {
	if err := s.ready(ctx); err != nil {
		return nil, 0, err
	}
	vals, err := s.rdb.HMGet(ctx, s.data, "v", "d", "k").Result()
	if err != nil {
		return nil, 0, fmt.Errorf("redisstore: load %q: %w", s.key, err)
	}
	str := func(i int) string { v, _ := vals[i].(string); return v }
	var version int64
	if v := str(0); v != "" {
		if version, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, 0, fmt.Errorf("redisstore: load %q: the stored version is not an integer", s.key)
		}
	}
	if vals[1] == nil {
		return nil, version, nil
	}
	t, err := s.open([]byte(str(1)), str(2))
	if err != nil {
		return nil, 0, fmt.Errorf("redisstore: load %q: %w", s.key, err)
	}
	return t, version, nil
}

// saveScript writes the tokens if the stored version is the one expected (or
// whatever it is when none is expected), increments the version, records the
// write's ID and wakes the waiters. It returns {1, new version}, or {0, stored
// version} when the version differs. A write whose ID is already recorded was
// applied by an earlier try whose reply was lost (go-redis retries it): it
// answers {1, stored version} again and writes nothing.
//
// KEYS[1] the data hash; ARGV[1] the expected version, or "" for any;
// ARGV[2] "1" to store, "0" to clear; ARGV[3] the data; ARGV[4] its key ID;
// ARGV[5] the channel; ARGV[6] the write's random ID.
var saveScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if redis.call('HGET', KEYS[1], 'w') == ARGV[6] then
  return {1, v}
end
if ARGV[1] ~= '' and ARGV[1] ~= v then
  return {0, v}
end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'd', ARGV[3], 'k', ARGV[4])
else
  redis.call('HDEL', KEYS[1], 'd', 'k')
end
redis.call('HSET', KEYS[1], 'w', ARGV[6])
local n = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('PUBLISH', ARGV[5], 'save')
return {1, n}
`)

// save writes t (nil clears) if the stored version is expect ("" for any),
// and returns the new version.
func (s *Store) save(ctx context.Context, expect string, t *refresh.Tokens) (int64, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	store, data, keyID := "0", []byte(nil), ""
	if t != nil {
		var err error
		if data, keyID, err = s.seal(t); err != nil {
			return 0, fmt.Errorf("redisstore: save %q: %w", s.key, err)
		}
		store = "1"
	}
	res, err := saveScript.Run(ctx, s.rdb, []string{s.data}, expect, store, data, keyID, s.channel, randomID()).Slice()
	if err != nil {
		return 0, fmt.Errorf("redisstore: save %q: %w", s.key, err)
	}
	ok, version, err := scriptReply(res)
	if err != nil {
		return 0, fmt.Errorf("redisstore: save %q: %w", s.key, err)
	}
	if !ok {
		return 0, fmt.Errorf("redisstore: save %q: the stored version is %d, not %s: %w",
			s.key, version, expect, refresh.ErrVersionConflict)
	}
	return version, nil
}

// scriptReply reads a script's {flag, number} reply.
func scriptReply(res []any) (bool, int64, error) {
	if len(res) != 2 {
		return false, 0, errors.New("unexpected script reply")
	}
	flag, _ := res[0].(int64)
	var n int64
	switch v := res[1].(type) {
	case int64:
		n = v
	case string:
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil {
			return false, 0, errors.New("the stored version is not an integer")
		}
	default:
		return false, 0, errors.New("unexpected script reply")
	}
	return flag == 1, n, nil
}

// seal encodes t in the Tokens storage encoding and seals it when the Store
// has a key, returning the bytes to store and their key ID.
func (s *Store) seal(t *refresh.Tokens) ([]byte, string, error) {
	plain, err := json.Marshal(t)
	if err != nil {
		return nil, "", err
	}
	if s.sealID == "" {
		return plain, "", nil
	}
	return sealData(s.keys[s.sealID], plain, s.key), s.sealID, nil
}

// open decodes stored data with the key its key ID names ("" for none).
func (s *Store) open(data []byte, keyID string) (*refresh.Tokens, error) {
	if keyID != "" {
		aead := s.keys[keyID]
		if aead == nil {
			return nil, fmt.Errorf("sealed under key ID %q: %w", keyID, ErrUnknownKeyID)
		}
		var err error
		if data, err = openData(aead, data, s.key); err != nil {
			return nil, fmt.Errorf("sealed under key ID %q: %w", keyID, err)
		}
	}
	t := new(refresh.Tokens)
	if err := json.Unmarshal(data, t); err != nil {
		return nil, err
	}
	return t, nil
}

// String describes the Store by its grant's key and key IDs, for example
// redisstore.Store{Key:"grant-1", SealKeyID:"k2", KeyIDs:["k1" "k2"]}.
func (s *Store) String() string {
	if s == nil {
		return "redisstore.Store(nil)"
	}
	ids := make([]string, 0, len(s.keys))
	for id := range s.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return fmt.Sprintf("redisstore.Store{Key:%q, SealKeyID:%q, KeyIDs:%q}", s.key, s.sealID, ids)
}

// Format writes String for every verb (%q quotes it), so that no verb prints
// the Redis client's settings or a key.
func (s *Store) Format(f fmt.State, verb rune) { formatText(f, verb, s.String()) }

// LogValue gives slog what String shows.
func (s *Store) LogValue() slog.Value { return slog.StringValue(s.String()) }

// formatText writes text for any fmt verb: %q quotes it, every other verb
// writes it as %s would, with the same width and flags.
func formatText(f fmt.State, verb rune, text string) {
	if verb != 'q' {
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), text)
}

// randomID returns 128 random bits in hex: a lease's owner token, a write's ID.
func randomID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
