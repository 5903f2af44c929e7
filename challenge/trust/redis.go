package trust

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/enumgate/enumgate/internal/redisscript"
	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix starts every key of a Redis store unless another
// prefix is given, as it does the challenge store's (package redisstore).
const DefaultRedisPrefix = "enumgate:"

// RedisOptions configure a Redis store. Zero fields take the defaults.
type RedisOptions struct {
	// Prefix starts every key ("" for DefaultRedisPrefix). It should not
	// contain '{' or '}', which would put every key into one slot.
	Prefix string
	// RiskRetention is how long a marked payee or client is remembered.
	// Default RiskRetention.
	RiskRetention time.Duration
	// Now is the clock of SeenPayee (the only call that takes no time);
	// time.Now if nil.
	Now func() time.Time
}

// redisStore is the Store in Redis; see the package documentation for
// the key layout.
type redisStore struct {
	c redis.UniversalClient
	o RedisOptions
}

// NewRedisStore returns a Store that keeps its state in Redis through c
// (standalone, Sentinel or Cluster), every key starting with prefix (""
// for DefaultRedisPrefix). Close does not close c.
func NewRedisStore(c redis.UniversalClient, prefix string) Store {
	return NewRedis(c, RedisOptions{Prefix: prefix})
}

// NewRedis is NewRedisStore with options.
func NewRedis(c redis.UniversalClient, o RedisOptions) Store {
	if o.Prefix == "" {
		o.Prefix = DefaultRedisPrefix
	}
	if o.RiskRetention <= 0 {
		o.RiskRetention = RiskRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &redisStore{c: c, o: o}
}

// base is the start of every key of user's: the prefix, the user's hash
// tag {u:<utag>} (package redisstore's, so the keys share the slot of the
// user's challenges), ":t:" and the whole SHA-256 of the user id in hex.
func (r *redisStore) base(user string) string {
	h := sha256.Sum256([]byte(user))
	return r.o.Prefix + "{u:" + hex.EncodeToString(h[:8]) + "}:t:" + hex.EncodeToString(h[:])
}

func (r *redisStore) grantKeys(user string) []string {
	b := r.base(user)
	return []string{b + ":g", b + ":ge"}
}

// do sends one state-changing command, never retried.
func (r *redisStore) do(ctx context.Context, args ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx, args...)
	_ = r.c.Process(ctx, redisscript.NoRetry{Cmd: cmd})
	return cmd
}

// rerr wraps a Redis failure; an out-of-memory refusal also matches ErrFull.
func rerr(what string, err error) error {
	if redis.HasErrorPrefix(err, "OOM") {
		return fmt.Errorf("redis: %s: %w: %w", what, ErrFull, err)
	}
	return fmt.Errorf("redis: %s: %w", what, err)
}

var (
	// grantScript stores a grant. KEYS: the grants hash (s:<slot> ->
	// id ‖ blob, i:<id> -> slot) and the grants' end times (sorted set of
	// ids). ARGV: slot, id, blob, until ms, now ms, most grants. Expired
	// grants, the grant with the same id and the one in the same slot go
	// first; at capacity the one ending soonest goes. Both keys expire a
	// minute after the last grant ends.
	grantScript = newScript(`
local function drop(id)
  local slot = redis.call('HGET', KEYS[1], 'i:' .. id)
  if slot then
    local v = redis.call('HGET', KEYS[1], 's:' .. slot)
    if v and string.sub(v, 1, 22) == id then redis.call('HDEL', KEYS[1], 's:' .. slot) end
    redis.call('HDEL', KEYS[1], 'i:' .. id)
  end
  redis.call('ZREM', KEYS[2], id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])) do drop(id) end
drop(ARGV[2])
local v = redis.call('HGET', KEYS[1], 's:' .. ARGV[1])
if v then drop(string.sub(v, 1, 22)) end
while redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) do
  drop(redis.call('ZRANGE', KEYS[2], 0, 0)[1])
end
redis.call('HSET', KEYS[1], 's:' .. ARGV[1], ARGV[2] .. ARGV[3], 'i:' .. ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local ttl = tonumber(last[2]) - tonumber(ARGV[5]) + 60000
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return 1`)

	// endGrantScript ends grant ARGV[1]: 0 if there is none.
	endGrantScript = newScript(`
local slot = redis.call('HGET', KEYS[1], 'i:' .. ARGV[1])
if not slot then return 0 end
local v = redis.call('HGET', KEYS[1], 's:' .. slot)
if v and string.sub(v, 1, 22) == ARGV[1] then redis.call('HDEL', KEYS[1], 's:' .. slot) end
redis.call('HDEL', KEYS[1], 'i:' .. ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return 1`)

	// trustScript sets field ARGV[1] of the trusted hash to ARGV[2]
	// unless that would make more than ARGV[3] fields: 0.
	trustScript = newScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`)

	// markScript records member ARGV[1] at ms ARGV[2] in a sorted set
	// (a later mark never moves back), drops members at or before ARGV[3]
	// ms, keeps the ARGV[4] most recent and lets the set expire ARGV[5]
	// ms later.
	markScript = newScript(`
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local n = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if n > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`)

	// addDailyScript adds an amount to currency ARGV[1] of a day's hash.
	// An amount is three exact integer limbs (Lua numbers are doubles:
	// each limb stays far below 2^53): f, the fraction in 10^-8 (< 10^8),
	// lo and hi, the integer part's low and high nine digits (< 10^9),
	// fields <currency>:f, :lo, :hi. ARGV[2..4] are the amount's limbs,
	// ARGV[5] the key's lifetime (ms), ARGV[6] the most currencies.
	// Returns {0, f, lo, hi} (the new total), {1} at the currency bound,
	// {2} when the sum would reach 10^18; nothing changes then.
	addDailyScript = newScript(`
local c = ARGV[1]
local v = redis.call('HMGET', KEYS[1], c .. ':f', c .. ':lo', c .. ':hi')
if not v[1] and redis.call('HLEN', KEYS[1]) >= 3 * tonumber(ARGV[6]) then return {1} end
local f = (tonumber(v[1]) or 0) + tonumber(ARGV[2])
local lo = (tonumber(v[2]) or 0) + tonumber(ARGV[3])
local hi = (tonumber(v[3]) or 0) + tonumber(ARGV[4])
if f >= 100000000 then f = f - 100000000; lo = lo + 1 end
if lo >= 1000000000 then lo = lo - 1000000000; hi = hi + 1 end
if hi >= 1000000000 then return {2} end
redis.call('HSET', KEYS[1], c .. ':f', string.format('%d', f), c .. ':lo', string.format('%d', lo), c .. ':hi', string.format('%d', hi))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {0, f, lo, hi}`)
)

// grantRec is a grant at rest (JSON).
type grantRec struct {
	ID          string `json:"id"`
	User        string `json:"user"`
	Session     []byte `json:"sess"`
	Section     string `json:"sec"`
	Created     int64  `json:"cr"`
	Until       int64  `json:"un"`
	ChallengeID string `json:"ch,omitempty"`
}

func (g *grantRec) grant() *Grant {
	return &Grant{
		ID: g.ID, User: g.User, Session: g.Session, Section: g.Section,
		Created: time.UnixMilli(g.Created).UTC(), Until: time.UnixMilli(g.Until).UTC(),
		ChallengeID: g.ChallengeID,
	}
}

// decodeGrant reads a slot's value (id ‖ blob).
func decodeGrant(v string) (*grantRec, error) {
	if len(v) <= GrantIDLen {
		return nil, errors.New("redis: a grant is corrupt")
	}
	var g grantRec
	if err := json.Unmarshal([]byte(v[GrantIDLen:]), &g); err != nil || g.ID != v[:GrantIDLen] {
		return nil, fmt.Errorf("redis: a grant is corrupt: %v", err)
	}
	return &g, nil
}

func (r *redisStore) Grant(ctx context.Context, g Grant) error {
	if err := checkGrant(&g); err != nil {
		return err
	}
	rec := grantRec{
		ID: g.ID, User: g.User, Session: g.Session, Section: g.Section,
		Created: g.Created.UnixMilli(), Until: g.Until.UnixMilli(), ChallengeID: g.ChallengeID,
	}
	blob, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	err = grantScript.run(ctx, r.c, r.grantKeys(g.User),
		slotHex(g.Section, g.Session), g.ID, blob, rec.Until, rec.Created, MaxGrants).Err()
	if err != nil {
		return rerr("saving a section grant", err)
	}
	return nil
}

func (r *redisStore) Granted(ctx context.Context, user string, session []byte, section string, now time.Time) (*Grant, bool, error) {
	if err := checkUser(user); err != nil {
		return nil, false, err
	}
	if err := checkSession(session); err != nil {
		return nil, false, err
	}
	if err := checkSection(section); err != nil {
		return nil, false, err
	}
	v, err := r.c.HGet(ctx, r.grantKeys(user)[0], "s:"+slotHex(section, session)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, rerr("reading a section grant", err)
	}
	g, err := decodeGrant(v)
	if err != nil {
		return nil, false, err
	}
	if g.User != user || g.Section != section || subtle.ConstantTimeCompare(g.Session, session) != 1 || g.Until <= now.UnixMilli() {
		return nil, false, nil
	}
	return g.grant(), true, nil
}

func (r *redisStore) Grants(ctx context.Context, user string, now time.Time) ([]Grant, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	all, err := r.c.HGetAll(ctx, r.grantKeys(user)[0]).Result()
	if err != nil {
		return nil, rerr("listing section grants", err)
	}
	var out []Grant
	for f, v := range all {
		if !strings.HasPrefix(f, "s:") {
			continue
		}
		g, err := decodeGrant(v)
		if err != nil {
			return nil, err
		}
		if g.User == user && g.Until > now.UnixMilli() {
			out = append(out, *g.grant())
		}
	}
	return sortGrants(out), nil
}

func (r *redisStore) EndGrant(ctx context.Context, user, id string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := checkGrantID(id); err != nil {
		return err
	}
	n, err := endGrantScript.run(ctx, r.c, r.grantKeys(user), id).Int()
	if err != nil {
		return rerr("ending a section grant", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (r *redisStore) Trust(ctx context.Context, user string, p Payee) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := checkTrusted(&p); err != nil {
		return err
	}
	p.Added = p.Added.UTC()
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	n, err := trustScript.run(ctx, r.c, []string{r.base(user) + ":p"}, hashHex(p.Payee), b, MaxTrusted).Int()
	if err != nil {
		return rerr("saving a trusted payee", err)
	}
	if n == 0 {
		return ErrFull
	}
	return nil
}

func (r *redisStore) Untrust(ctx context.Context, user, payee string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := checkPayee(payee); err != nil {
		return err
	}
	n, err := r.do(ctx, "hdel", r.base(user)+":p", hashHex(payee)).Int()
	if err != nil {
		return rerr("removing a trusted payee", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func decodePayee(v string) (*Payee, error) {
	var p Payee
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return nil, fmt.Errorf("redis: a trusted payee is corrupt: %w", err)
	}
	return &p, nil
}

func (r *redisStore) Trusted(ctx context.Context, user string) ([]Payee, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	vals, err := r.c.HVals(ctx, r.base(user)+":p").Result()
	if err != nil {
		return nil, rerr("listing trusted payees", err)
	}
	var out []Payee
	for _, v := range vals {
		p, err := decodePayee(v)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Payee < out[j].Payee })
	return out, nil
}

func (r *redisStore) TrustedPayee(ctx context.Context, user, payee string) (*Payee, bool, error) {
	if err := checkUser(user); err != nil {
		return nil, false, err
	}
	if err := checkPayee(payee); err != nil {
		return nil, false, err
	}
	v, err := r.c.HGet(ctx, r.base(user)+":p", hashHex(payee)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, rerr("reading a trusted payee", err)
	}
	p, err := decodePayee(v)
	if err != nil {
		return nil, false, err
	}
	if p.Payee != payee {
		return nil, false, nil
	}
	return p, true, nil
}

// seen reports whether member was marked in the sorted set key after
// cutoff.
func (r *redisStore) seen(ctx context.Context, key, member string, cutoff time.Time) (bool, error) {
	at, err := r.c.ZScore(ctx, key, member).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, rerr("reading the risk memory", err)
	}
	return int64(at) > cutoff.UnixMilli(), nil
}

func (r *redisStore) mark(ctx context.Context, key, member string, now time.Time, max int) error {
	err := markScript.run(ctx, r.c, []string{key}, member, now.UnixMilli(),
		now.Add(-r.o.RiskRetention).UnixMilli(), max, r.o.RiskRetention.Milliseconds()).Err()
	if err != nil {
		return rerr("saving to the risk memory", err)
	}
	return nil
}

func (r *redisStore) SeenPayee(ctx context.Context, user, payee string) (bool, error) {
	if err := checkUser(user); err != nil {
		return false, err
	}
	if err := checkPayee(payee); err != nil {
		return false, err
	}
	return r.seen(ctx, r.base(user)+":sp", hashHex(payee), r.o.Now().Add(-r.o.RiskRetention))
}

func (r *redisStore) MarkPayee(ctx context.Context, user, payee string, now time.Time) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := checkPayee(payee); err != nil {
		return err
	}
	return r.mark(ctx, r.base(user)+":sp", hashHex(payee), now, MaxSeenPayees)
}

func (r *redisStore) SeenClient(ctx context.Context, user, k string, within time.Duration, now time.Time) (bool, error) {
	if err := checkUser(user); err != nil {
		return false, err
	}
	if err := checkClient(k); err != nil {
		return false, err
	}
	if err := checkWithin(within); err != nil {
		return false, err
	}
	return r.seen(ctx, r.base(user)+":cl", hashHex(k), now.Add(-min(within, r.o.RiskRetention)))
}

func (r *redisStore) MarkClient(ctx context.Context, user, k string, now time.Time) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := checkClient(k); err != nil {
		return err
	}
	return r.mark(ctx, r.base(user)+":cl", hashHex(k), now, MaxClients)
}

func (r *redisStore) dailyKey(user string, now time.Time) string {
	return r.base(user) + ":d:" + day(now)
}

// limbs are the integer limbs of addDailyScript.
func limbs(a amount) (f, lo, hi uint64) { return a.f, a.i % 1e9, a.i / 1e9 }

func fromLimbs(f, lo, hi uint64) (amount, error) {
	if f >= fracScale || lo >= 1e9 || hi >= 1e9 {
		return amount{}, errors.New("redis: a daily total is corrupt")
	}
	return amount{hi*1e9 + lo, f}, nil
}

func (r *redisStore) DailyTotal(ctx context.Context, user, currency string, now time.Time) (string, error) {
	if err := checkUser(user); err != nil {
		return "", err
	}
	if err := checkCurrency(currency); err != nil {
		return "", err
	}
	v, err := r.c.HMGet(ctx, r.dailyKey(user, now), currency+":f", currency+":lo", currency+":hi").Result()
	if err != nil {
		return "", rerr("reading a daily total", err)
	}
	var n [3]uint64
	for i, x := range v {
		if x == nil {
			return "0", nil
		}
		s, _ := x.(string)
		if n[i], err = strconv.ParseUint(s, 10, 64); err != nil {
			return "", errors.New("redis: a daily total is corrupt")
		}
	}
	a, err := fromLimbs(n[0], n[1], n[2])
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

func (r *redisStore) AddDaily(ctx context.Context, user, currency, amt string, now time.Time) (string, error) {
	if err := checkUser(user); err != nil {
		return "", err
	}
	if err := checkCurrency(currency); err != nil {
		return "", err
	}
	a, err := parseAmount(amt)
	if err != nil {
		return "", err
	}
	f, lo, hi := limbs(a)
	res, err := addDailyScript.run(ctx, r.c, []string{r.dailyKey(user, now)},
		currency, f, lo, hi, DailyRetention.Milliseconds(), MaxCurrencies).Int64Slice()
	if err != nil {
		return "", rerr("adding to a daily total", err)
	}
	switch {
	case len(res) == 1 && res[0] == 1:
		return "", ErrFull
	case len(res) == 1 && res[0] == 2:
		return "", errTooLarge
	case len(res) != 4 || res[0] != 0 || res[1] < 0 || res[2] < 0 || res[3] < 0:
		return "", errors.New("redis: unexpected reply adding to a daily total")
	}
	s, err := fromLimbs(uint64(res[1]), uint64(res[2]), uint64(res[3]))
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

func (r *redisStore) Close() error { return nil }

// script is a Lua script run as a command go-redis never retries (see
// package internal/redisscript).
type script struct{ *redisscript.Script }

func newScript(src string) *script { return &script{redisscript.New(src)} }

func (sc *script) run(ctx context.Context, c redisscript.Processor, keys []string, args ...any) *redis.Cmd {
	return sc.Run(ctx, c, keys, args...)
}
