package redisstore

import "github.com/redis/go-redis/v9"

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
// user id is not secret. Expected MACs are likewise keyed hashes of the
// answers; the comparison loop visits every one of them (no early exit).

// Status codes in script replies.
const (
	codeNotFound   = 0  // missing, expired, or another owner's
	codeExists     = 0  // Create: the id is taken
	codeOK         = 1  // success; payload follows
	codeWrong      = 2  // Attempt: wrong answer; attempts left and, if it locked, the lock's end follow
	codeExhausted  = -1 // budget spent; Attempt: as codeWrong when this answer spent it
	codeNoMethod   = -2 // Attempt before Begin
	codeCooldown   = -3 // Begin: method's resend time follows
	codeLocked     = -4 // the user is locked; the lock's end follows
	codeNotOffered = -5 // Begin: the challenge does not offer the method
)

// The challenge scripts (Create, Begin, Attempt) that decide on the
// user's lock take KEYS[1] (the challenge) and KEYS[2] (the user's lock
// hash): both carry the user's hash tag, so they share one Cluster slot.

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

// ownerCheck loads the fields every challenge script needs into v and
// returns {0} unless the challenge exists, belongs to ARGV[1] (user) and
// ARGV[2] (session binding), and is unexpired at now.
const ownerCheck = `
local k = KEYS[1]
local v = redis.call('HMGET', k, 'user', 'sess', 'exp', 'left', 'method', 'expected', 'mac_len')
if not v[1] or v[1] ~= ARGV[1] or v[2] ~= ARGV[2] or now >= tonumber(v[3]) then
  return {0}
end
`

// createScript: KEYS[1] challenge, KEYS[2] lock; ARGV[1] now (ms),
// ARGV[2] TTL (ms), ARGV[3..] field/value pairs. Reply {1} if created,
// {0} if the id is taken, {-4, lock end} if the user is locked.
var createScript = redis.NewScript(`
local now = tonumber(ARGV[1])
` + lockCheck + `
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1}
`)

// getScript: KEYS[1] challenge; ARGV user, sess, now.
// Reply {1, HGETALL} or {0}.
var getScript = redis.NewScript(challengeNow + ownerCheck + `
return {1, redis.call('HGETALL', k)}
`)

// beginScript: KEYS[1] challenge, KEYS[2] lock; ARGV user, sess, now,
// method, question, sent_to, expected, mac_len, resend-at (ms, "" for no
// cooldown). Reply {1, HGETALL}, {-4, lock end}, {0}, {-1} (exhausted),
// {-5} (method not offered) or {-3, resend-at}, checked in that order.
var beginScript = redis.NewScript(challengeNow + lockCheck + ownerCheck + `
if tonumber(v[4]) <= 0 then return {-1} end
if redis.call('HEXISTS', k, 'offer:' .. ARGV[4]) == 0 then return {-5} end
local rf = 'resend:' .. ARGV[4]
local r = redis.call('HGET', k, rf)
if r and now < tonumber(r) then return {-3, r} end
redis.call('HSET', k, 'method', ARGV[4], 'question', ARGV[5], 'sent_to', ARGV[6], 'expected', ARGV[7], 'mac_len', ARGV[8])
if ARGV[9] ~= '' then redis.call('HSET', k, rf, ARGV[9]) end
return {1, redis.call('HGETALL', k)}
`)

// attemptScript: KEYS[1] challenge, KEYS[2] lock; ARGV user, sess, now,
// mac, lockout after (0 disables), lock end if this failure locks (ms),
// lock idle TTL (ms). Reply, checked in this order: {-4, lock end}
// (locked; nothing changes), {0}, {-1} (a spent budget; no failure
// counted), {-2} (no method), {1, HGETALL} (confirmed: the key is gone
// and the user's failure count with it), or, for a wrong answer,
// {2, left} or {-1, 0} (this answer spent the budget) followed by the
// lock's end if this failure locked the user.
var attemptScript = redis.NewScript(challengeNow + lockCheck + ownerCheck + `
local left = tonumber(v[4])
if left <= 0 then return {-1} end
if not v[5] or v[5] == '' then return {-2} end
local macs, n, mac = v[6] or '', tonumber(v[7]) or 0, ARGV[4]
local found = false
if n > 0 then
  for i = 1, #macs - n + 1, n do
    if string.sub(macs, i, i + n - 1) == mac then found = true end
  end
end
if found then
  local all = redis.call('HGETALL', k)
  redis.call('DEL', k)
  redis.call('HDEL', KEYS[2], 'fails')
  return {1, all}
end
left = left - 1
redis.call('HSET', k, 'left', left)
local code = 2
if left <= 0 then
  redis.call('HDEL', k, 'stash', 'expected')
  code = -1
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

// deleteScript: KEYS[1] challenge; ARGV user, sess. Reply 1 or 0. Like
// the memory store, cancellation ignores expiry.
var deleteScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'user', 'sess')
if not v[1] or v[1] ~= ARGV[1] or v[2] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`)

// unlockScript: KEYS[1] lock hash. Lifts the lock and the count.
var unlockScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
return 1
`)

// lockedScript: KEYS[1] lock hash; ARGV now. Reply the lock's end or 0.
// Read-only.
var lockedScript = redis.NewScript(`
local till = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if tonumber(ARGV[1]) < till then return till end
return 0
`)

// smsScript: KEYS user last-sent, phone last-sent, user hourly counter,
// daily counter (all tagged {sms}); ARGV now, user cooldown, phone
// cooldown, hourly limit, daily budget, hour end, day end, user key TTL,
// phone key TTL, hour key TTL, day key TTL (times and TTLs in ms; 0
// disables a limit). Checks every limit and counts only if all allow.
// Reply {0} or {limit, until}: 1 user cooldown, 2 phone cooldown,
// 3 hourly, 4 daily.
var smsScript = redis.NewScript(`
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
return {0}
`)
