// Package userdir is a challenge.Directory of users stored in Redis, for
// gateways that share one Redis and need users managed at runtime
// (operator subcommands call Put, Get, Delete, ResetDevice, Import and
// Reencrypt). Small setups can keep the read-only users file
// (challenge.LoadFile); Import moves such a file into Redis.
//
// # Storage
//
// Each user is one Redis string, <prefix>{u:<id>}:user (prefix default
// "enumgate:"), hash-tagged per user so a Cluster spreads users over its
// slots and every operation stays within one slot. The value is JSON:
//
//	{"v":1,"id":"alice","phone":"+79000000001","emails":["alice@example.test"],
//	 "notify":true,"devices":[{"name":"phone","suite":"OCRA-1:HOTP-SHA256-8:QN08",
//	 "key":"v1:3f9a0c1d:<base64url>"}]}
//
// Records are validated with the rules of the users file
// (challenge.ParseDirectory) when written and again when read. Each change
// is one Lua script that writes and publishes the invalidation together;
// read-modify-writes (ResetDevice, Import, Reencrypt) are compare-and-set
// and retry when another writer got there first.
//
// # Encryption
//
// Device keys and PIN hashes are encrypted with AES-256-GCM. The key is
// derived from a secret as HMAC-SHA256(secret, "enumgate/v1/device-key");
// its key id (kid) is the first 8 hex characters of SHA-256 of the derived
// key. A ciphertext is stored as
//
//	v1:<kid>:<base64url(12-byte random nonce ‖ ciphertext ‖ 16-byte tag)>
//
// with additional data binding it to the user id, the device's index and
// suite, and the field ("key" or "pin_hash"): a ciphertext copied to
// another user, device or field, or a changed suite, fails to decrypt
// (ErrDecrypt), and so does a whole record copied under another user's key
// (ErrCorrupt). Such failures, and a kid no configured secret has
// (ErrUnknownKey), are errors distinct from challenge.ErrNoUser, so the
// engine fails closed; no error carries key material.
//
// # Rotation
//
// Options.Secrets[0] encrypts; every secret decrypts, chosen by kid. To
// rotate, put the new secret first and keep the old ones, restart the
// gateways, run Reencrypt (it rewrites only records with a ciphertext
// under an old kid, and can run while gateways serve), then drop the old
// secrets. Get reports each device's kid.
//
// # Cache and invalidation
//
// Lookup reads through a ristretto cache of up to CacheSize users, each
// kept at most CacheTTL. Only found users are cached: an unknown id is
// asked of Redis every time, so a user created on another gateway works at
// once (ids come from the authentication in front, so unknown ids are
// rare). The cache holds no security state; attempts and consumption live
// in the challenge store.
//
// Every change publishes the user id on <prefix>users:invalidate in the
// same script as the write, and the writing Dir also drops the entry
// itself. Every Dir subscribes and drops the ids it hears. A Lookup that
// read Redis while an invalidation arrived does not cache what it read.
// So after a change returns, another gateway serves the previous record
// (a deleted user, a reset device) only until the message reaches it:
// normally the network latency to Redis, well under a second.
//
// If the subscription fails (a connection error, or no answer to a ping
// within 5 s of silence), the Dir empties the cache and bypasses it,
// reading Redis on every Lookup, until it has resubscribed (go-redis
// reconnects by itself); then it empties the cache again, since messages
// sent meanwhile are lost. The window is therefore the message delay, plus
// at most about 10 s for a connection that dies silently; in any case no
// entry outlives CacheTTL.
package userdir
