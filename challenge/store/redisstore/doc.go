// Package redisstore is the Redis implementation of store.Store: challenge
// state and regulation (lockouts, per-user shares, SMS and e-mail cost
// controls) shared by any number
// of gateways through one Redis deployment — a standalone server, a
// Sentinel-managed master, or a Cluster.
//
// # Atomicity
//
// Every state change is one Lua script (redis.NewScript, run with EVALSHA
// and an EVAL fallback). Redis runs a script to completion before it runs
// anything else, so "check ownership, expiry and budget, compare, consume"
// is a single step for every client of the server: N concurrent correct
// answers, sent through any number of gateways, confirm exactly once.
// Every key a script touches is passed in KEYS[], and all the keys of one
// script share a hash tag, so no script ever crosses Cluster slots.
//
// The per-user lockout is decided in the same step as the challenge. The
// scripts of Create, Begin and Attempt take the challenge (KEYS[1]) and
// the user's lock hash (KEYS[2]) together: a locked user's Create, Begin
// or answer is refused (store.LockedError) and changes nothing; a right
// answer consumes the challenge and ends the user's run of failures; a
// wrong one spends the budget and counts the failure, locking the user
// when the count reaches the limit. There is no window between answer and
// lockout for concurrent answers to slip through: N concurrent wrong
// answers lock exactly at the limit and the rest are refused. Answers to
// a spent challenge (a tombstone) count no failure. LockedUntil and
// Failures read the same lock hash (fails, until) in one read-only script.
//
// The user's fair share is decided in the same step too: Create, Attempt,
// Delete and Settle also take the user's pending set and held set (see
// the key layout), so a user over Options.MaxPendingPerUser or
// Options.MaxBytesPerUser is refused (store.TooManyPendingError) by the
// script that would have created the challenge, and concurrent Creates of
// one user never overshoot. Expired members are ignored and dropped
// there; no sweep is needed.
//
// # No retries
//
// A script whose reply is lost (a read timeout while Redis stalls, a
// broken connection) may still run on the server. The store therefore
// never resends one: scripts go out as commands marked NoRetry, and
// NewClient's clients retry nothing at all. What a caller's own retry
// meets is harmless by contract: a wrong answer already counted is
// remembered (tried) and costs nothing again; a right answer already
// confirmed reports store.Repeated with the delivery state.
//
// Each store call is one round trip: Create 1, Get 1, Begin 1, Attempt 1
// (plus the WAIT of a confirmation or a repeat when the store waits for
// replicas, and the lease release when that WAIT falls short), Delete 1,
// Deliver 1 (plus WAIT, and a release when it falls short), Settle 1
// (plus WAIT when delivered), and LockedUntil, Failures, SpendSMS,
// SpendEmail and Refund 1 each. Detecting an auto WaitReplicas costs one
// round trip once. Challenges that need approval cost more where the
// approval acts (see Four-eyes approval); the others cost exactly this.
//
// What the engine's steps cost, counted from challenge.Engine: Issue is
// Create (1). Beginning E-num is Begin (1), plus a Get on a gateway that
// has not cached the challenge's view (one that did not issue it).
// Beginning SMS or e-mail is four: Get (the challenge, for the message
// and the resend cooldown), LockedUntil (nothing is sent to a locked
// user), SpendSMS or SpendEmail (the budget: those keys live in their
// channel's own slot, so they stay separate scripts) and Begin; plus a
// Refund if the sender fails. An answer is Attempt (1; a wrong one also
// reads Failures when a lockout is set, so the attempts left it reports
// are true), and the delivery's settle Settle (1).
//
// Scripts never read the Redis clock. Callers pass now (milliseconds since
// the epoch) and scripts judge expiry, cooldowns and locks by it, so every
// gateway follows one rule and tests can inject a clock. Key TTLs are set
// relative to the same clock (PEXPIRE of Expires−Created for a challenge),
// so Redis drops what no rule can still need.
//
// # Key layout
//
// With the default prefix "enumgate:":
//
//	enumgate:{u:<utag>}:c:<id>     hash: one challenge (TTL = its lifetime)
//	enumgate:{u:<utag>}:lock       hash: fails, until (consecutive failures, lock end)
//	enumgate:{u:<utag>}:p          sorted set: the user's pending challenge ids, scored by expiry (ms)
//	enumgate:{u:<utag>}:b          sorted set: "<bytes>:<id>" of the user's challenges that keep a stash, scored by expiry
//	enumgate:{sms}:u:<user>        string: when the user was last sent an SMS (ms)
//	enumgate:{sms}:p:<phone>       string: when the phone was last sent an SMS (ms)
//	enumgate:{sms}:h:<YYYYMMDDHH>:<user>  counter: the user's SMS in that UTC hour
//	enumgate:{sms}:d:<YYYYMMDD>    counter: the deployment's SMS in that UTC day
//	enumgate:{sms}:s:<ms>:<len(user)>:<user>:<phone>  counter: the spend at ms, for Refund (TTL store.RefundWindow)
//	enumgate:{email}:…             the same five keys for e-mail, by address
//	enumgate:{appr}:g:<group>      sorted set: "<len(id)>:<id><user>" of the group's challenges awaiting approval, scored by confirmation (ms)
//	enumgate:{appr}:i:<id>         string: the user of challenge id awaiting (or having awaited) approval, for Locate
//
// utag is the first 16 hex digits of the SHA-256 of the user id. A
// challenge is tagged by its user, not its id, so that it shares a slot
// with the user's lock hash and one script can decide on both. User ids
// may contain '{', '}' or ':', which would break a hash tag, so the user
// id itself never appears in these keys (in the SMS keys it follows the
// {sms} tag, where it cannot change the slot). Every challenge operation
// receives the owner, so its keys are always computable; a caller naming
// the wrong user addresses a key that does not exist and gets
// store.ErrNotFound — and the scripts still compare the stored user and
// session binding, as they must whatever the key. Challenges spread over
// a Cluster by user: one user's challenges and lock share a slot, and one
// user's traffic (a person's confirmations, capped by the lockout) is too
// small to make it a hot spot.
//
// A challenge hash holds the fields the scripts work with — user, sess
// (the session binding, binary), left (attempts left), exp (expiry, ms),
// offer:<method> (one per method offered), method, question, sent_to,
// expected (the concatenated MACs of the acceptable answers), mac_len,
// tried (the concatenated MACs of the wrong answers counted since Begin),
// resend:<method> (ms), size (what the challenge counts in the held set),
// the confirmation's conf_at, conf_mac, deliveries, lease and deliv_at
// (ms) — plus stash (the stashed request, raw bytes) and blob (JSON of the
// fields no script reads: operation, amount, payee, return path, methods
// in order, digest, times, budget).
// When the budget is spent the stash and the expected and tried MACs are
// deleted and the rest stays as a tombstone: Get shows it with no attempts
// left, Attempt answers Exhausted and Begin fails with store.ErrExhausted
// until the key expires. A right answer leaves a confirmed tombstone until
// the key expires: the expected MACs go, conf_at and conf_mac come, the
// first delivery lease is taken, the user's failure count ends and the
// challenge leaves the pending set (it stays in the held set until a
// delivered Settle drops the stash).
//
// Lockout hashes expire 24 hours after the last failure or the end of the
// lock, whichever is later, so idle users vanish. The pending and held
// sets expire with their latest member. SMS keys all share the {sms} hash
// tag, e-mail keys the {email} tag (one slot per channel, so a spend
// checks and counts every limit in one script, and Refund undoes it in
// one); each expires when no limit can still need it. Message traffic is
// small, so these slots are not hot spots.
//
// The prefix must not contain '{' or '}': the hash tag would then come
// from the prefix and every key would land in one slot (still correct,
// but no longer spread over a Cluster).
//
// # Four-eyes approval
//
// A challenge that needs approval carries, in its hash, appr (the group),
// appr_win (the window, ms) and one apv:<user> field per approver; once
// confirmed, appr_until, and once decided appr_dec, appr_by, appr_m and,
// for a rejection, appr_rej (the approvers' list in order is in blob).
// The scripts of every challenge read appr with their other fields and
// read the rest only when it is there, so challenges without approval
// cost one hash field more and no call.
//
// The approvals index lives in the {appr} slot, apart from the users'
// slots. Its order of writes is what keeps it complete: a right answer
// to a challenge that needs approval makes the attempt script answer
// "index first" without changing anything; the store then writes the
// index (the group's entry and the locate key, one script in {appr}),
// and only then runs the attempt script again, which confirms: the
// challenge awaits approval until now plus the window (its exp, key TTL
// and its entries in the user's pending and held sets follow), takes no
// delivery lease, and stays pending for the user's share until decided.
// A gateway that dies between the two calls leaves an index entry for a
// challenge that does not await approval; never the reverse. Readers
// check every entry against the challenge: Awaiting reads up to 400
// entries of the group's set, then each challenge from its user's slot
// (eight at a time), returns those awaiting (oldest confirmation first,
// at most store.MaxAwaiting) and drops the entries whose challenge is
// gone or decided, which can never await again. Decide is one script in
// the user's slot (checks the approver against apv:<user>, never the
// challenge's user; records the decision; an approval takes the first
// lease and lives at least store.ApprovedGrace more, a rejection drops
// the stash), then removes the group's entry (best effort: a reader
// drops it otherwise). Delete of a challenge awaiting approval removes
// its entry likewise. The locate key outlives the challenge's longest
// possible life, so an approver can still find a decided one.
//
// Costs: a right answer that starts the wait is 3 round trips (plus
// WAITs: for the index and for the confirmation), a decision 2 (plus
// WAIT), Locate and GetAny 1 each, Awaiting 1 plus one per listed entry
// (plus one to drop stale entries). With WaitReplicas the index write,
// the confirmation and the decision each wait for replicas: an index
// that is not durable stops before the confirmation, a decision that is
// not durable gives its lease back and stays written.
//
// # Failover and replication
//
// Redis replicates asynchronously. If a master fails after consuming a
// challenge but before a replica received the consumption, the promoted
// replica still holds the challenge as pending, and the same answer could
// confirm it a second time — and the request be forwarded twice. So the
// store reports nothing for forwarding that a failover could lose: after
// the script of a confirmation (or a repeat of one, which writes a mark so
// that the WAIT covers the confirmation), of a Deliver (its lease) and of
// a delivered Settle, it runs WAIT on the same connection — on a Cluster,
// the connection to the master that owns the challenge's slot — and
// returns the result only if Options.WaitReplicas replicas acknowledged
// within Options.WaitTimeout. Otherwise it returns *store.NotDurableError
// (store.ErrNotDurable) and no delivery lease stays held: a confirmation
// or a Deliver gives its lease back at once (a small script on the same
// connection), so the customer may be told "confirmed, not delivered yet"
// and the same answer (store.Repeated) or Deliver delivers the request
// once a replica has it. The challenge stays confirmed on the master;
// should the master fail over before any replica had it, the promoted
// replica may hold it as pending, and one confirmation there is still the
// first forwarded, because the lost one was never reported. A delivered
// Settle that is not durable has settled all the same: the caller logs
// it, and the upstream's Idempotency-Key refuses a second delivery a
// failover could then allow.
//
// WaitReplicas 0 (the default) is auto: the store waits for 1 replica
// when the deployment replicates — always behind Sentinel (a failover
// client, recognised by its options), on a Cluster when a master has a
// replica (CLUSTER NODES and INFO replication of every master), on a
// standalone master with a connected replica (INFO replication) — and for
// none otherwise. Detection runs once, at Check or at first use; a
// replica added later is waited for after a restart. Negative is off:
// never wait (one round trip less per confirmation, and the double
// forward above becomes possible). Store.Replication reports what was
// detected, with min-replicas-to-write, for the gateway's start-up
// warnings. With a single replica that is down, nothing becomes durable
// until it is back: confirmations are kept, not forwarded. WAIT is not
// consensus: a failover may still promote a replica that did not
// acknowledge, so with several replicas per master set WaitReplicas to
// their number (Sentinel and Cluster prefer the most up-to-date replica);
// min-replicas-to-write 1 on the masters shortens the window in which a
// master cut off from its replicas accepts writes at all. Wrong answers,
// lockouts and budgets do not wait: lost in a failover, they give an
// attacker a few more guesses, never a second confirmation.
//
// For operators: by default a confirmation is forwarded only after a
// replica has acknowledged it, so a Redis failover can neither lose it
// nor let it confirm twice; this costs one WAIT per confirmation (a round
// trip plus the replica's acknowledgement: about 0.1 ms with master and
// replica on one host), and while no replica acknowledges
// within wait_timeout customers see "confirmed, not delivered yet" and
// their confirmation is delivered once a replica is back. wait_replicas
// off saves that round trip but lets a confirmation that only the master
// had be answered again after a failover and forwarded a second time.
//
// # Memory policy
//
// Challenges, lockouts and SMS counters are security state, so Redis must
// never evict them: run the server with maxmemory-policy noeviction. With
// any other policy a full server would silently drop live challenges (or
// a lockout, or an SMS budget), and every key here has a TTL, so even the
// volatile-* policies may evict them. With noeviction a full server
// refuses writes: Create, Begin and a wrong answer (whose failure could
// not be counted) then fail with an error that wraps both store.ErrFull
// and Redis' OOM reply, having changed nothing, and the engine answers
// 503 (message spends fail with the OOM reply, changing nothing); reads,
// confirmations and delivered Settles (which start by deleting) still
// work. Check reports an evicting policy at start-up.
//
// # Errors
//
// Redis failures (connection refused, timeouts, READONLY, OOM) are
// returned wrapped with context ("redis: …"); the engine turns them into
// 503 answers and never forwards the stashed request. Errors never carry
// MACs, sessions or stashed requests.
package redisstore
