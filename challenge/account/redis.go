package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/enumgate/enumgate/internal/redisscript"
	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix starts every key of a Redis store unless another
// prefix is given, as it does the challenge store's (package redisstore).
const DefaultRedisPrefix = "enumgate:"

// redisStore is the Store in Redis. Key layout, with prefix P (default
// "enumgate:"), utag the first 16 hex digits of SHA-256(user id) and
// uhash all 64:
//
//	P{u:<utag>}:acct:<uhash>          string: the user's State (JSON), no TTL
//	P{u:<utag>}:acct:<uhash>:v:<id>   hash: a pending item (mac, left, exp ms, blob), TTL past its expiry
//	P{k:<ktag>}:claim:<khash>         string: the user holding a contact (ktag/khash: SHA-256 of kind, value)
//	P{recovery}:recoveries            hash: recovery id -> Recovery (JSON)
//	P{recovery}:recoveries:closed     sorted set: closed recovery ids by closing time (ms), for pruning
//
// A user's keys share the user's hash tag (the slot of the user's
// challenges and lock in package redisstore); user ids never appear in
// keys. Every call touches one slot. State changes are Lua scripts sent
// as commands go-redis never retries (a script whose reply was lost may
// have run); Update is a compare-and-set script rerun only when it
// reported a conflict (it then changed nothing). Scripts never read the
// Redis clock: expiry is judged by the caller's now.
type redisStore struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisStore returns a Store that keeps its state in Redis through c
// (standalone, Sentinel or Cluster), every key starting with prefix
// ("" for DefaultRedisPrefix; it should not contain '{' or '}', which
// would put every key into one slot). Run Redis with maxmemory-policy
// noeviction: account states have no TTL and must not be evicted. Close
// does not close c.
func NewRedisStore(c redis.UniversalClient, prefix string) Store {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &redisStore{c: c, prefix: prefix}
}

func (r *redisStore) stateKey(user string) string {
	h := sha256.Sum256([]byte(user))
	return r.prefix + "{u:" + hex.EncodeToString(h[:8]) + "}:acct:" + hex.EncodeToString(h[:])
}

func (r *redisStore) pendingKey(user, id string) string {
	return r.stateKey(user) + ":v:" + id
}

func (r *redisStore) claimKey(kind, value string) string {
	h := sha256.Sum256(lp(nil, kind, value))
	return r.prefix + "{k:" + hex.EncodeToString(h[:8]) + "}:claim:" + hex.EncodeToString(h[:])
}

func (r *redisStore) recoveryKeys() []string {
	k := r.prefix + "{recovery}:recoveries"
	return []string{k, k + ":closed"}
}

// rerr wraps a Redis failure; an out-of-memory refusal also matches ErrFull.
func rerr(what string, err error) error {
	if redis.HasErrorPrefix(err, "OOM") {
		return fmt.Errorf("redis: %s: %w: %w", what, ErrFull, err)
	}
	return fmt.Errorf("redis: %s: %w", what, err)
}

var (
	casScript = newScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if cur then return 0 end
elseif cur ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1`)

	claimScript = newScript(`
local h = redis.call('GET', KEYS[1])
if h then
  if h == ARGV[1] then return 1 end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1`)

	releaseScript = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`)

	putPendingScript = newScript(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'mac', ARGV[1], 'left', ARGV[2], 'exp', ARGV[3], 'blob', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`)

	// The MAC comparison visits every byte (no early exit); the MACs are
	// keyed hashes, so timing would reveal nothing usable anyway.
	attemptScript = newScript(`
local v = redis.call('HMGET', KEYS[1], 'mac', 'left', 'exp', 'blob')
if not v[1] then return {0} end
local left = tonumber(v[2])
if tonumber(v[3]) <= tonumber(ARGV[2]) or left <= 0 then
  redis.call('DEL', KEYS[1])
  return {0}
end
local a, b = v[1], ARGV[1]
local d = 0
if #a ~= #b then d = 1 end
for i = 1, #a do
  d = bit.bor(d, bit.bxor(string.byte(a, i), string.byte(b, i) or 0))
end
if d == 0 then
  redis.call('DEL', KEYS[1])
  return {1, left, v[4]}
end
left = left - 1
if left <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'left', left)
end
return {2, left, v[4]}`)

	putRecoveryScript = newScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
  local old = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #old == 0 then return 0 end
  redis.call('HDEL', KEYS[1], old[1])
  redis.call('ZREM', KEYS[2], old[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if tonumber(ARGV[3]) >= 0 then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1`)
)

func (r *redisStore) load(ctx context.Context, user string) ([]byte, *State, error) {
	b, err := r.c.Get(ctx, r.stateKey(user)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, &State{User: user}, nil
	}
	if err != nil {
		return nil, nil, rerr("loading the account", err)
	}
	st, err := decodeState(user, b)
	if err != nil {
		return nil, nil, fmt.Errorf("redis: account state of %q is corrupt: %w", user, err)
	}
	return b, st, nil
}

func (r *redisStore) Load(ctx context.Context, user string) (*State, error) {
	_, st, err := r.load(ctx, user)
	return st, err
}

// errConflict reports an Update that lost every rerun to concurrent ones.
var errConflict = errors.New("redis: the account changed concurrently too often")

func (r *redisStore) Update(ctx context.Context, user string, fn func(*State) error) error {
	key := r.stateKey(user)
	for range maxUpdateTries {
		old, st, err := r.load(ctx, user)
		if err != nil {
			return err
		}
		if err := fn(st); err != nil {
			return err
		}
		b, err := encodeState(st)
		if err != nil {
			return err
		}
		had := "1"
		if old == nil {
			had = "0"
		}
		n, err := casScript.run(ctx, r.c, []string{key}, had, old, b).Int()
		if err != nil {
			return rerr("saving the account", err)
		}
		if n == 1 {
			return nil
		}
	}
	return errConflict
}

func (r *redisStore) Claim(ctx context.Context, kind, value, user string) error {
	n, err := claimScript.run(ctx, r.c, []string{r.claimKey(kind, value)}, user).Int()
	if err != nil {
		return rerr("claiming a contact", err)
	}
	if n == 0 {
		return ErrTaken
	}
	return nil
}

func (r *redisStore) Release(ctx context.Context, kind, value, user string) error {
	if err := releaseScript.run(ctx, r.c, []string{r.claimKey(kind, value)}, user).Err(); err != nil {
		return rerr("releasing a contact", err)
	}
	return nil
}

func (r *redisStore) Holder(ctx context.Context, kind, value string) (string, error) {
	h, err := r.c.Get(ctx, r.claimKey(kind, value)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", rerr("reading a claim", err)
	}
	return h, nil
}

func (r *redisStore) PutPending(ctx context.Context, p *Pending) error {
	blob, err := json.Marshal(p)
	if err != nil {
		return err
	}
	// The key outlives the expiry a little; expiry itself is judged by
	// the caller's clock.
	ttl := max(time.Until(p.Expires), 0) + time.Minute
	err = putPendingScript.run(ctx, r.c, []string{r.pendingKey(p.User, p.ID)},
		p.MAC, p.AttemptsLeft, p.Expires.UnixMilli(), blob, ttl.Milliseconds()).Err()
	if err != nil {
		return rerr("saving a pending code", err)
	}
	return nil
}

func decodePending(blob string, left int64) (*Pending, error) {
	var p Pending
	if err := json.Unmarshal([]byte(blob), &p); err != nil {
		return nil, fmt.Errorf("redis: a pending item is corrupt: %w", err)
	}
	p.AttemptsLeft = int(left)
	return &p, nil
}

func (r *redisStore) AttemptPending(ctx context.Context, user, id string, mac []byte, now time.Time) (*Pending, bool, error) {
	res, err := attemptScript.run(ctx, r.c, []string{r.pendingKey(user, id)}, mac, now.UnixMilli()).Slice()
	if err != nil {
		return nil, false, rerr("checking a code", err)
	}
	status, _ := res[0].(int64)
	if status == 0 || len(res) < 3 {
		return nil, false, ErrNotFound
	}
	left, _ := res[1].(int64)
	blob, _ := res[2].(string)
	p, err := decodePending(blob, left)
	if err != nil {
		return nil, false, err
	}
	return p, status == 1, nil
}

func (r *redisStore) GetPending(ctx context.Context, user, id string, now time.Time) (*Pending, error) {
	v, err := r.c.HMGet(ctx, r.pendingKey(user, id), "left", "exp", "blob").Result()
	if err != nil {
		return nil, rerr("loading a pending code", err)
	}
	ls, _ := v[0].(string)
	es, _ := v[1].(string)
	blob, _ := v[2].(string)
	left, err1 := strconv.ParseInt(ls, 10, 64)
	exp, err2 := strconv.ParseInt(es, 10, 64)
	if blob == "" || err1 != nil || err2 != nil || left <= 0 || exp <= now.UnixMilli() {
		return nil, ErrNotFound
	}
	return decodePending(blob, left)
}

func (r *redisStore) DeletePending(ctx context.Context, user, id string) error {
	if err := r.c.Del(ctx, r.pendingKey(user, id)).Err(); err != nil {
		return rerr("deleting a pending code", err)
	}
	return nil
}

func (r *redisStore) PutRecovery(ctx context.Context, rec *Recovery) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	closed := int64(-1)
	if rec.State == RecoveryClosed {
		closed = rec.Closed.UnixMilli()
	}
	n, err := putRecoveryScript.run(ctx, r.c, r.recoveryKeys(), rec.ID, b, closed, MaxRecoveries).Int()
	if err != nil {
		return rerr("saving a recovery request", err)
	}
	if n == 0 {
		return ErrFull
	}
	return nil
}

func (r *redisStore) Recoveries(ctx context.Context) ([]Recovery, error) {
	vals, err := r.c.HVals(ctx, r.recoveryKeys()[0]).Result()
	if err != nil {
		return nil, rerr("listing recovery requests", err)
	}
	out := make([]Recovery, 0, len(vals))
	for _, v := range vals {
		var rec Recovery
		if err := json.Unmarshal([]byte(v), &rec); err != nil {
			return nil, fmt.Errorf("redis: a recovery request is corrupt: %w", err)
		}
		out = append(out, rec)
	}
	return out, nil
}

func (r *redisStore) GetRecovery(ctx context.Context, id string) (*Recovery, error) {
	v, err := r.c.HGet(ctx, r.recoveryKeys()[0], id).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, rerr("loading a recovery request", err)
	}
	var rec Recovery
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		return nil, fmt.Errorf("redis: recovery request %s is corrupt: %w", id, err)
	}
	return &rec, nil
}

func (r *redisStore) Close() error { return nil }

// script is a Lua script run as a command go-redis never retries (see
// package internal/redisscript).
type script struct{ *redisscript.Script }

func newScript(src string) *script { return &script{redisscript.New(src)} }

func (sc *script) run(ctx context.Context, c redisscript.Processor, keys []string, args ...any) *redis.Cmd {
	return sc.Run(ctx, c, keys, args...)
}
