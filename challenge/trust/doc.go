// Package trust keeps what the gateway's policy decides per user beyond a
// single operation, shared by every gateway: section grants (a window
// opened by one confirmation), the customer's trusted payees, and the
// risk memory (payees and clients seen, daily totals of confirmed
// amounts). It holds state only; the rules live in package policy and the
// Caddy glue. No Caddy imports.
//
// Every call checks its input first (bounded lengths, charsets, plain
// decimal amounts): a bad one is an error matching ErrInvalid and changes
// nothing. A store that fails returns an error that matches neither
// ErrNotFound nor ErrInvalid; the caller fails closed (a section asks
// again, a payee is not trusted, a rule forces confirmation).
//
// # Amounts
//
// Amounts are plain decimals as policy.ValidAmount accepts them, with at
// most 18 integer and 8 fraction digits, and are kept as exact integers
// (never floats): [CompareAmounts] and [AddAmounts] are exact, and so is
// the daily total, in memory and in Redis.
//
// # Stores
//
// [NewMemoryStore] keeps everything in process for one gateway, bounded
// in users and entries (ErrFull when full after dropping what expired).
// [NewRedisStore] shares it through Redis (standalone, Sentinel or
// Cluster). Package trusttest is the conformance suite both pass.
//
// # Redis key layout
//
// With prefix P (default "enumgate:"), utag the first 16 hex digits of
// SHA-256(user id) and uhash all 64:
//
//	P{u:<utag>}:t:<uhash>:g        hash: s:<slot> -> grant id ‖ grant (JSON), i:<id> -> slot; TTL a minute past the last grant's end
//	P{u:<utag>}:t:<uhash>:ge       sorted set: grant ids by end (ms); same TTL
//	P{u:<utag>}:t:<uhash>:p        hash: SHA-256(payee) hex -> trusted Payee (JSON); no TTL
//	P{u:<utag>}:t:<uhash>:sp       sorted set: SHA-256(payee) hex by last mark (ms); TTL the risk retention
//	P{u:<utag>}:t:<uhash>:cl       sorted set: SHA-256(client key) hex by last mark (ms); TTL the risk retention
//	P{u:<utag>}:t:<uhash>:d:<YYYYMMDD>  hash: <currency>:f, :lo, :hi -> the day's total as integer limbs; TTL DailyRetention
//
// slot is the SHA-256 hex of the section (length-prefixed) and the
// session binding. The user's hash tag is package redisstore's, so these
// keys share a slot with the user's challenges, lock and journal; every
// call touches that one slot. User ids, payees and client keys never
// appear in key names (a trusted payee's text is in its value). State
// changes are Lua scripts (or a single HDEL) sent as commands go-redis
// never retries: a script whose reply was lost may have run, and AddDaily
// must never count twice. Scripts never read the Redis clock: the
// caller's now decides expiry; the key TTLs only let Redis drop what no
// rule can still need.
package trust
