package redisstore

import (
	"context"

	"github.com/enumgate/enumgate/internal/redisscript"
	"github.com/redis/go-redis/v9"
)

// The scripts. Each is one atomic step on the server; each touches only
// the keys in KEYS[], which share one hash tag. Times are milliseconds
// since the epoch, always passed by the caller (never Redis TIME).
//
// Replies are arrays whose first element is a status code, so that RESP2
// and RESP3 connections read them alike (no Lua booleans, which the two
// protocols convert differently).
//
// Ownership: user and session binding are compared with Lua's ==, which
// is not constant-time. The session binding is a keyed hash (HMAC under
// the gateway's secret), so an attacker cannot compute candidate values
// offline, and timing differences reveal nothing usable about it; the
// user id is not secret. Expected, tried and confirming MACs are likewise
// keyed hashes of the answers; the comparison loops visit every one of
// them (no early exit).
//
// Out of memory: with maxmemory-policy noeviction, Redis refuses a
// script's first write if it is a command that may grow memory (HSET,
// INCR, ...) and nothing has been written yet; once the script has
// written, it runs to its end. So every script's first write decides:
// Create, Begin, a wrong answer and the spend scripts start with a growing
// write and fail whole (store.ErrFull); a confirmation and a delivered
// Settle start with HDEL, which frees memory, and go through.

// processor runs one command: every go-redis client and *redis.Conn.
type processor = redisscript.Processor

// Status codes in script replies.
const (
	codeNotFound      = 0   // missing, expired, or another owner's
	codeExists        = 0   // Create: the id is taken
	codeOK            = 1   // success; payload follows
	codeWrong         = 2   // Attempt: wrong answer; attempts left and, if it locked, the lock's end follow
	codeRepeated      = 3   // Attempt: the confirming answer again; HGETALL follows
	codeExhausted     = -1  // budget spent; Attempt: as codeWrong when this answer spent it
	codeNoMethod      = -2  // Attempt before Begin
	codeCooldown      = -3  // Begin: method's resend time follows
	codeLocked        = -4  // the user is locked; the lock's end follows
	codeNotOffered    = -5  // Begin: the challenge does not offer the method
	codeTooMany       = -6  // Create: a per-user limit; retry-at (ms, 0 for never) follows
	codeDelivered     = -7  // Deliver: already delivered
	codeBusy          = -8  // Deliver: a lease is active; its end follows
	codeDeliverySpent = -9  // Deliver: Deliveries >= max
	codeIndex         = 4   // Attempt: a right answer to a challenge that needs approval; index it first (group, window follow)
	codeAwaiting      = 5   // Attempt: confirmed, awaiting approval; HGETALL follows
	codeAwaitingAppr  = -10 // Deliver: awaiting approval; the wait's end follows
	codeDecided       = -11 // Decide: decided already; when, by whom, 1 if rejected follow
	codeRejected      = -12 // Deliver: rejected by an approver
)

// The challenge scripts that change a challenge's state (Create, Attempt,
// Delete, Settle) take four keys, all with the user's hash tag, so they
// share one Cluster slot: KEYS[1] the challenge, KEYS[2] the user's lock
// hash, KEYS[3] the user's pending set (sorted set of challenge ids
// scored by expiry), KEYS[4] the user's held set (sorted set of
// "<size>:<id>" members, scored by expiry, of the challenges that still
// keep a stash). Begin takes the first two, Get and Deliver the first.

// challengeNow reads now (ms) from ARGV[3], where the challenge scripts
// that check ownership take it.
const challengeNow = `
local now = tonumber(ARGV[3])
`

// lockCheck returns {-4, lock end} if the user of KEYS[2] is locked at
// now. It leaves the challenge alone.
const lockCheck = `
local till = redis.call('HGET', KEYS[2], 'until')
if till and now < tonumber(till) then return {-4, till} end
`

// load reads the fields the challenge scripts need into v and sets owned
// when the challenge exists, belongs to ARGV[1] (user) and ARGV[2]
// (session binding), and is unexpired at now. v: 1 user, 2 sess, 3 exp,
// 4 left, 5 method, 6 expected, 7 mac_len, 8 conf_at, 9 conf_mac,
// 10 tried, 11 size, 12 deliv_at, 13 lease, 14 deliveries, 15 appr (the
// approvers' group of a challenge that needs approval; see approval).
const load = `
local k = KEYS[1]
local v = redis.call('HMGET', k, 'user', 'sess', 'exp', 'left', 'method', 'expected', 'mac_len',
  'conf_at', 'conf_mac', 'tried', 'size', 'deliv_at', 'lease', 'deliveries', 'appr')
local owned = v[1] and v[1] == ARGV[1] and v[2] == ARGV[2] and now < tonumber(v[3])
`

// approval reads, for a challenge that needs approval (v[15]), the rest
// of its approval into a: 1 appr_win (the window, ms), 2 appr_until,
// 3 appr_dec (when decided), 4 appr_rej; an empty table otherwise, so
// challenges without approval cost no further read.
const approval = `
local a = {}
if v[15] then a = redis.call('HMGET', k, 'appr_win', 'appr_until', 'appr_dec', 'appr_rej') end
`

// ownerCheck returns {0} unless the challenge is owned (see load).
const ownerCheck = load + `
if not owned then return {0} end
`

// keep sets the TTL of the sorted set z to outlive its latest member
// (scores are expiry times in ms, judged at now).
const keep = `
local function keep(z)
  local last = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', z, math.max(1, tonumber(last[2]) - now)) end
end
`

// unhold removes challenge id (whose loaded fields are v) from the
// user's pending and held sets.
const unhold = `
local function unpend(id) redis.call('ZREM', KEYS[3], id) end
local function unhold(id) unpend(id); redis.call('ZREM', KEYS[4], (v[11] or '0') .. ':' .. id) end
`

// createScript: KEYS challenge, lock, pending, held; ARGV[1] now (ms),
// ARGV[2] TTL (ms), ARGV[3] per-user pending limit (<= 0: none),
// ARGV[4] per-user byte limit (<= 0: none), ARGV[5] the record's size,
// ARGV[6] its expiry (ms), ARGV[7] id, ARGV[8] 1 if pending,
// ARGV[9..] field/value pairs. Reply, checked in this order: {-4, lock
// end} if the user is locked, {0} if the id is taken, {-6, retry-at}
// over a per-user limit, {1} if created. Expired members of the user's
// sets do not count; they are dropped once the challenge is written.
var createScript = newScript(`
local now = tonumber(ARGV[1])
` + lockCheck + keep + `
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local maxp, maxb, size, exp, id = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local live = '(' .. ARGV[1]
if maxp > 0 and redis.call('ZCOUNT', KEYS[3], live, '+inf') >= maxp then
  local first = redis.call('ZRANGEBYSCORE', KEYS[3], live, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  return {-6, tonumber(first[2])}
end
if maxb > 0 then
  if size > maxb then return {-6, 0} end
  local held = redis.call('ZRANGEBYSCORE', KEYS[4], live, '+inf', 'WITHSCORES')
  local total = size
  for i = 1, #held, 2 do
    total = total + tonumber(string.match(held[i], '^(%d+):'))
  end
  if total > maxb then return {-6, tonumber(held[2])} end
end
-- The first write grows memory, so a full Redis refuses the whole script.
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if ARGV[8] == '1' then
  redis.call('ZADD', KEYS[3], exp, id)
  keep(KEYS[3])
end
if size > 0 then
  redis.call('ZADD', KEYS[4], exp, size .. ':' .. id)
  keep(KEYS[4])
end
return {1}
`)

// getScript: KEYS[1] challenge; ARGV user, sess, now.
// Reply {1, HGETALL} or {0}.
var getScript = newScript(challengeNow + ownerCheck + `
return {1, redis.call('HGETALL', k)}
`)

// beginScript: KEYS[1] challenge, KEYS[2] lock; ARGV user, sess, now,
// method, question, sent_to, expected, mac_len, resend-at (ms, "" for no
// cooldown). Reply {1, HGETALL}, {-4, lock end}, {0} (also for a
// confirmed challenge), {-1} (exhausted), {-5} (method not offered) or
// {-3, resend-at}, checked in that order. It clears the tried MACs.
var beginScript = newScript(challengeNow + lockCheck + ownerCheck + `
if v[8] then return {0} end
if tonumber(v[4]) <= 0 then return {-1} end
if redis.call('HEXISTS', k, 'offer:' .. ARGV[4]) == 0 then return {-5} end
local rf = 'resend:' .. ARGV[4]
local r = redis.call('HGET', k, rf)
if r and now < tonumber(r) then return {-3, r} end
redis.call('HSET', k, 'method', ARGV[4], 'question', ARGV[5], 'sent_to', ARGV[6], 'expected', ARGV[7], 'mac_len', ARGV[8])
redis.call('HDEL', k, 'tried')
if ARGV[9] ~= '' then redis.call('HSET', k, rf, ARGV[9]) end
return {1, redis.call('HGETALL', k)}
`)

// attemptScript: KEYS challenge, lock, pending, held; ARGV user, sess,
// now, mac, lockout after (0 disables), lock end if this failure locks
// (ms), lock idle TTL (ms), 1 to write a mark on a repeat (so that a WAIT
// after it covers the confirmation), lease end (ms), id, 1 if the
// approvals index has the challenge. Reply, checked
// in this order: on a confirmed challenge of the owner's {3, HGETALL}
// for the confirming MAC and {0} for any other (whatever the lock);
// {-4, lock end} (locked; nothing changes), {0}, {-1} (a spent budget;
// no failure counted), {-2} (no method), {1, HGETALL} (confirmed: the
// confirmed tombstone with the first lease; the user's failure count
// ends), {2, left} for a MAC already tried (nothing counted), or, for a
// new wrong answer, {2, left} or {-1, 0} (this answer spent the budget)
// followed by the lock's end if this failure locked the user.
//
// A right answer to a challenge that needs approval (appr) gives
// {4, group, window} and changes nothing unless ARGV[11] is 1 (the caller
// has written the approvals index); then {5, HGETALL}: confirmed without
// a lease, awaiting approval until now plus the window (appr_until, and
// exp and the key's TTL with it), still pending and held in the user's
// sets until then; the user's failure count ends.
var attemptScript = newScript(challengeNow + load + unhold + `
local mac = ARGV[4]
if owned and v[8] then
  if v[9] ~= mac then return {0} end
  if ARGV[8] == '1' then redis.call('HINCRBY', k, 'repeats', 1) end
  return {3, redis.call('HGETALL', k)}
end
` + lockCheck + `
if not owned then return {0} end
local left = tonumber(v[4])
if left <= 0 then return {-1} end
if not v[5] or v[5] == '' then return {-2} end
local macs, n = v[6] or '', tonumber(v[7]) or 0
local found = false
if n > 0 then
  for i = 1, #macs - n + 1, n do
    if string.sub(macs, i, i + n - 1) == mac then found = true end
  end
end
if found and v[15] then
  local win = redis.call('HGET', k, 'appr_win')
  if ARGV[11] ~= '1' then return {4, v[15], win} end
  local till = now + tonumber(win)
  redis.call('HDEL', k, 'expected', 'tried')
  redis.call('HSET', k, 'conf_at', ARGV[3], 'conf_mac', mac, 'appr_until', till, 'exp', till)
  redis.call('PEXPIRE', k, math.max(1, till - now))
  redis.call('ZADD', KEYS[3], till, ARGV[10])
  if (v[11] or '0') ~= '0' then redis.call('ZADD', KEYS[4], till, v[11] .. ':' .. ARGV[10]) end
  for i = 3, 4 do
    local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
    if last[2] then redis.call('PEXPIRE', KEYS[i], math.max(1, tonumber(last[2]) - now)) end
  end
  redis.call('HDEL', KEYS[2], 'fails')
  return {5, redis.call('HGETALL', k)}
end
if found then
  redis.call('HDEL', k, 'expected', 'tried')
  redis.call('HSET', k, 'conf_at', ARGV[3], 'conf_mac', mac, 'deliveries', 1, 'lease', ARGV[9])
  unpend(ARGV[10])
  redis.call('HDEL', KEYS[2], 'fails')
  return {1, redis.call('HGETALL', k)}
end
local tried = v[10] or ''
if n > 0 and #mac == n then
  local seen = false
  for i = 1, #tried - n + 1, n do
    if string.sub(tried, i, i + n - 1) == mac then seen = true end
  end
  if seen then return {2, left} end
end
left = left - 1
redis.call('HSET', k, 'left', left)
local code = 2
if left <= 0 then
  redis.call('HDEL', k, 'stash', 'expected', 'tried')
  unhold(ARGV[10])
  code = -1
elseif n > 0 and #mac == n then
  redis.call('HSET', k, 'tried', tried .. mac)
end
local after = tonumber(ARGV[5])
if after <= 0 then return {code, left} end
local lk, ttl = KEYS[2], tonumber(ARGV[7])
local fails = redis.call('HINCRBY', lk, 'fails', 1)
local locked = fails >= after
if locked then
  redis.call('HSET', lk, 'fails', 0, 'until', ARGV[6])
  local lockEnd = tonumber(ARGV[6])
  if lockEnd > now then ttl = ttl + (lockEnd - now) end
end
redis.call('PEXPIRE', lk, ttl)
if locked then return {code, left, ARGV[6]} end
return {code, left}
`)

// deleteScript: KEYS challenge, lock, pending, held; ARGV user, sess,
// id. Reply {1} or {0}; a confirmed challenge is kept ({0}) unless it
// awaits approval, which gives {1, group} (the caller then takes it off
// the approvals index). Like the memory store, cancellation ignores
// expiry.
var deleteScript = newScript(`
local v = redis.call('HMGET', KEYS[1], 'user', 'sess', 'conf_at', 'size', 'appr', 'appr_dec')
if not v[1] or v[1] ~= ARGV[1] or v[2] ~= ARGV[2] or v[3] and not (v[5] and not v[6]) then return {0} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('ZREM', KEYS[4], (v[4] or '0') .. ':' .. ARGV[3])
if v[3] then return {1, v[5]} end
return {1}
`)

// deliverScript: KEYS[1] challenge; ARGV user, sess, now, max (<= 0: no
// limit), lease end (ms). Reply, checked in this order: {0} (not the
// owner's, expired or not confirmed), {-7} (delivered), {-8, lease end}
// (busy), {-9} (deliveries spent), {1, HGETALL} with the new lease; a
// challenge that needs approval gives, before {-7}, {-12} if rejected
// and {-10, wait's end} while undecided.
var deliverScript = newScript(challengeNow + ownerCheck + approval + `
if not v[8] then return {0} end
if v[15] then
  if a[4] then return {-12} end
  if not a[3] then return {-10, a[2]} end
end
if v[12] then return {-7} end
if v[13] and now < tonumber(v[13]) then return {-8, v[13]} end
local max, n = tonumber(ARGV[4]), tonumber(v[14] or '0')
if max > 0 and n >= max then return {-9} end
redis.call('HSET', k, 'deliveries', n + 1, 'lease', ARGV[5])
return {1, redis.call('HGETALL', k)}
`)

// settleScript: KEYS challenge, lock, pending, held; ARGV user, sess,
// now, 1 if delivered, id, 1 to write a mark when a delivered challenge
// is settled as delivered again (so that a WAIT after it covers the first
// settlement). Reply {0} (as Deliver, and for a challenge awaiting
// approval or rejected) or {1}. Delivered drops the stash
// and the lease and records deliv_at; not delivered drops the lease; a
// delivered challenge is left alone.
var settleScript = newScript(challengeNow + ownerCheck + unhold + approval + `
if not v[8] or v[15] and (a[4] or not a[3]) then return {0} end
if v[12] then
  if ARGV[4] == '1' and ARGV[6] == '1' then redis.call('HINCRBY', k, 'repeats', 1) end
  return {1}
end
if ARGV[4] == '1' then
  redis.call('HDEL', k, 'stash', 'lease')
  redis.call('HSET', k, 'deliv_at', ARGV[3])
  unhold(ARGV[5])
else
  redis.call('HDEL', k, 'lease')
end
return {1}
`)

// releaseScript: KEYS[1] challenge; ARGV the lease end (ms) and the
// deliveries count a confirmation or a Deliver wrote. If that lease still
// holds (the same end and count, not delivered) it is given back: the
// lease goes and the count is what it was before. Reply {1} if released,
// {0} if there was nothing to release.
var releaseScript = newScript(`
local v = redis.call('HMGET', KEYS[1], 'lease', 'deliveries', 'deliv_at')
if not v[1] or v[1] ~= ARGV[1] or v[2] ~= ARGV[2] or v[3] then return {0} end
local n = tonumber(ARGV[2]) - 1
-- Deleting first: a full Redis still runs the script.
redis.call('HDEL', KEYS[1], 'lease')
if n > 0 then
  redis.call('HSET', KEYS[1], 'deliveries', n)
else
  redis.call('HDEL', KEYS[1], 'deliveries')
end
return {1}
`)

// unlockScript: KEYS[1] lock hash. Lifts the lock and the count.
var unlockScript = newScript(`
redis.call('DEL', KEYS[1])
return 1
`)

// lockedScript: KEYS[1] lock hash; ARGV now. Reply the lock's end or 0.
// Read-only.
var lockedScript = newScript(`
local till = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if tonumber(ARGV[1]) < till then return till end
return 0
`)

// failuresScript: KEYS[1] lock hash; ARGV now. Reply {fails, lock end
// or 0}: the run of failures Attempt counts (0 when the hash is gone)
// and the lock's end if the user is locked at now. Read-only.
var failuresScript = newScript(`
local v = redis.call('HMGET', KEYS[1], 'fails', 'until')
local till = tonumber(v[2] or '0')
if tonumber(ARGV[1]) >= till then till = 0 end
return {tonumber(v[1] or '0'), till}
`)

// spendScript (SpendSMS, SpendEmail): KEYS user last-sent, destination
// last-sent, user hourly counter, daily counter, spend mark (all tagged
// by the channel, {sms} or {email}); ARGV now, user cooldown, destination
// cooldown, hourly limit, daily budget, hour end, day end, user key TTL,
// destination key TTL, hour key TTL, day key TTL, spend mark TTL (times
// and TTLs in ms; 0 disables a limit). Checks every limit and counts only
// if all allow. Reply {0} or {limit, until}: 1 user cooldown,
// 2 destination cooldown, 3 hourly, 4 daily.
var spendScript = newScript(`
local now = tonumber(ARGV[1])
local ucd, pcd, hourly, budget = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local last = redis.call('GET', KEYS[1])
if ucd > 0 and last and now < tonumber(last) + ucd then return {1, tonumber(last) + ucd} end
local plast = redis.call('GET', KEYS[2])
if pcd > 0 and plast and now < tonumber(plast) + pcd then return {2, tonumber(plast) + pcd} end
if hourly > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= hourly then return {3, tonumber(ARGV[6])} end
if budget > 0 and tonumber(redis.call('GET', KEYS[4]) or '0') >= budget then return {4, tonumber(ARGV[7])} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[8])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[9])
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[10])
redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], ARGV[11])
redis.call('INCR', KEYS[5])
redis.call('PEXPIRE', KEYS[5], ARGV[12])
return {0}
`)

// refundScript: the keys of spendScript for the spend's time; ARGV[1]
// the spend's now (ms). Undoes one spend if its mark is there: clears the
// cooldown marks that still hold this spend's time and decrements the
// counters (never below 0; their TTLs stay). Reply 1 if refunded, 0 if
// there was nothing to refund.
var refundScript = newScript(`
local n = tonumber(redis.call('GET', KEYS[5]) or '0')
if n <= 0 then return 0 end
if n == 1 then redis.call('DEL', KEYS[5]) else redis.call('DECR', KEYS[5]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
for i = 3, 4 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 1
`)

// decideScript: KEYS challenge, lock, pending, held; ARGV approver, now,
// 1 to approve (0 rejects), the approver's method, lease end (ms), id,
// the least expiry of an approved challenge (ms), user. Reply, checked
// in this order: {0} (no such challenge of the user's, expired, without
// appr, not confirmed, or the approver is the user or not among its
// apv:<approver> fields), {-11, appr_dec, appr_by, 1 if rejected}
// (decided already), {1, HGETALL} decided: appr_dec, appr_by, appr_m
// recorded and the pending entry gone; an approval takes the first
// lease (deliveries 1) and lives at least until the given expiry (exp,
// the key's TTL and the held entry with it); a rejection sets appr_rej
// and drops the stash and the held entry.
var decideScript = newScript(`
local now, k, id = tonumber(ARGV[2]), KEYS[1], ARGV[6]
local v = redis.call('HMGET', k, 'user', 'exp', 'conf_at', 'appr', 'appr_dec', 'appr_by', 'appr_rej', 'size')
if not v[1] or v[1] ~= ARGV[8] or now >= tonumber(v[2]) or not v[3] or not v[4] then return {0} end
if ARGV[1] == v[1] or redis.call('HEXISTS', k, 'apv:' .. ARGV[1]) == 0 then return {0} end
if v[5] then return {-11, v[5], v[6] or '', v[7] or '0'} end
local held = (v[8] or '0') .. ':' .. id
if ARGV[3] == '1' then
  -- The first write grows memory: a full Redis refuses the whole script.
  redis.call('HSET', k, 'appr_dec', ARGV[2], 'appr_by', ARGV[1], 'appr_m', ARGV[4], 'deliveries', 1, 'lease', ARGV[5])
  redis.call('ZREM', KEYS[3], id)
  local till = tonumber(ARGV[7])
  if till > tonumber(v[2]) then
    redis.call('HSET', k, 'exp', ARGV[7])
    redis.call('PEXPIRE', k, math.max(1, till - now))
    if (v[8] or '0') ~= '0' then
      redis.call('ZADD', KEYS[4], till, held)
      local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
      if last[2] then redis.call('PEXPIRE', KEYS[4], math.max(1, tonumber(last[2]) - now)) end
    end
  end
else
  redis.call('HDEL', k, 'stash')
  redis.call('HSET', k, 'appr_dec', ARGV[2], 'appr_by', ARGV[1], 'appr_m', ARGV[4], 'appr_rej', 1)
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[4], held)
end
return {1, redis.call('HGETALL', k)}
`)

// getAnyScript: KEYS[1] challenge; ARGV user, now. Reply {1, HGETALL
// without the stash} if the challenge is the user's and unexpired, else
// {0}. Read-only; no session check (for approvers).
var getAnyScript = newScript(`
local v = redis.call('HMGET', KEYS[1], 'user', 'exp')
if not v[1] or v[1] ~= ARGV[1] or tonumber(ARGV[2]) >= tonumber(v[2]) then return {0} end
local all, out = redis.call('HGETALL', KEYS[1]), {}
for i = 1, #all, 2 do
  if all[i] ~= 'stash' then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return {1, out}
`)

// indexScript: KEYS the group's sorted set, the id's locate key (both in
// the {appr} slot); ARGV member ("<len(id)>:<id><user>"), score (the
// confirmation's time, ms), user, TTL (ms). Lists the challenge under
// its group and records its user for Locate; the group's set lives as
// long as its longest-lived entry may. Reply {1}.
var indexScript = newScript(`
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return {1}
`)

// script is a Lua script run with EVALSHA (EVAL when the server does not
// have it yet) as a command go-redis never retries: a state-changing
// script may have run although its reply was lost (a timeout, a stalled
// server, a dropped connection), and running it again would count an
// attempt twice or spend a budget twice. Clients made by NewClient retry
// nothing anyway; this also holds for clients made elsewhere, and for
// Cluster clients, which otherwise retry network errors as redirects.
// MOVED and ASK are still followed: the script did not run there.
// The running lives in package internal/redisscript, shared with the
// journal, account and trust stores.
type script struct{ *redisscript.Script }

func newScript(src string) *script { return &script{redisscript.New(src)} }

func (sc *script) run(ctx context.Context, c redisscript.Processor, keys []string, args ...any) *redis.Cmd {
	return sc.Run(ctx, c, keys, args...)
}
