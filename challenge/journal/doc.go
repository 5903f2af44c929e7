// Package journal is the storage of the authorization journal: every
// event in a user's name — a challenge issued, a method chosen, a code
// sent, a wrong answer, a confirmation, a delivery, a lockout, an
// account change — kept per user, newest first, for the customer to read
// their own and for operators to read anyone's.
//
// Two implementations share one contract (package journaltest runs it
// against both): Memory, in-process and bounded, for a single gateway;
// and Redis, one stream per user, shared by every gateway of a
// deployment. Recorder feeds a Journal from the engine's event hook
// without ever blocking it.
//
// # What an entry holds
//
// An Entry has the time, the event's name and what the customer needs
// to recognise the step: operation, amount, currency, payee (as shown,
// masked), method, client IP and user agent, challenge id, a short
// reason and, for account changes, a detail. Codes, answers, questions,
// keys and error texts are never part of it: FromEvent copies only the
// fields above from a challenge.Event. Every field is bounded (see
// MaxFieldLen and friends) and must be valid UTF-8; Append refuses an
// entry that is not (ErrBadEntry), and FromEvent clips what it copies so
// that its entries always pass.
//
// # Pages and cursors
//
// Page returns up to limit entries (1 to MaxLimit; 0 means DefaultLimit),
// newest first, and a cursor for the next, older page ("" when there is
// none). A cursor names a position, not a snapshot: entries appended
// after it was handed out are newer and never shift the next page, so
// paging is stable across appends. Cursors are opaque to clients, at
// most MaxCursorLen bytes; Page refuses one that does not parse with
// ErrBadCursor. A cursor that parses but is of another user or of
// trimmed entries is just a position: it shows nothing it should not.
// Internally a cursor is the entry's id, "<ms>-<seq>" in canonical
// decimal (the Redis stream id), where ms is when the entry was appended
// by the journal's clock.
//
// # Retention
//
// Each user's journal keeps at most MaxEntries entries (the oldest go
// first) and none older than MaxAge, judged by the time of appending on
// the journal's clock. Both implementations apply the bounds exactly as
// seen through Page: Redis trims a user's stream to MaxEntries in the
// same script that appends (MAXLEN, exact: one entry per append), and
// trims by age approximately (XTRIM MINID ~), which Page makes exact by
// reading no older than MaxAge. A user's stream expires MaxAge after its
// last append, so idle users' journals vanish.
//
// Memory also bounds the whole process: at most MaxUsers users and
// MaxBytes bytes (an estimate of the entries' size). When an append
// would exceed either, the journals of the users written to least
// recently are evicted whole — an in-process journal is best effort
// (lost on restart, too), and evicting idle users keeps the active ones'
// history whereas refusing would stop journalling for everyone. A user
// whose journal alone exceeds MaxBytes loses its oldest entries instead.
//
// # Redis
//
// With the default prefix "enumgate:", user u's journal is the stream
//
//	enumgate:{u:<utag>}:j:<sha256(u) in hex>
//
// utag being the first 16 hex digits of the SHA-256 of u, the hash tag
// package redisstore gives the user's challenges, so the journal shares
// their Cluster slot; the whole digest follows so that two users never
// share a stream. Each entry is one field, "e", holding the entry as
// JSON. Every call touches one key, so the journal works unchanged on a
// Cluster (no CROSSSLOT). Append is one Lua script (XADD with MAXLEN,
// XTRIM MINID ~, PEXPIRE) sent as a command go-redis never retries: a
// retried append whose first reply was lost would journal the step
// twice. Page is one XREVRANGE. Times come from the caller's clock, not
// Redis TIME; an id never goes backwards (a gateway whose clock is
// behind appends at the stream's last millisecond).
//
// The journal is not security state: run Redis with noeviction for the
// challenge store as documented there; with it a full Redis refuses
// appends (an error, which Recorder counts) and reads still work.
package journal
