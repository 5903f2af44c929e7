// Package account is the customer's side of E-num: what a signed-in user
// manages themselves — verified contacts (a phone and e-mail addresses, one
// of them primary), the E-num device they enrol and activate, the
// notification switches — and the recovery requests an operator answers
// when a device is lost.
//
// The operator's directory (a challenge.Directory: a users file or users
// in Redis) stays the source of identity: a user it does not know has no
// account (challenge.ErrNoUser), and there is no self-service sign-up. The
// account keeps, per user, a State that overlays the directory's user;
// [Service.Directory] is that overlay, for the engine:
//
//   - a verified phone replaces the directory's phone;
//   - once the customer verified an address, the account's addresses
//     (primary first) replace the directory's; the directory's addresses
//     are kept as "on file" ([Email.OnFile]) until removed;
//   - once the customer enrolled, removed or had reset a device
//     (State.DevicesSet), the account's devices replace the directory's.
//
// Every change is one Store operation or a short, ordered sequence of
// them; the Caddy glue confirms each change with a challenge before it
// calls the Service. Contacts are unique across users: a phone or address
// is claimed by the user who verified it (Store.Claim) and released when
// it is replaced or removed.
//
// # Secrets at rest
//
// Verification codes and activation answers are stored only as keyed MACs
// (HMAC-SHA256 under a key derived from Config.Secret, bound to the user
// and the pending id) and compared in constant time. Device keys are
// sealed with AES-256-GCM under a key derived from Config.Secret
// (HMAC-SHA256 with label "enumgate/v1/account-device"), with the user id
// and the device name as additional data, so a sealed key cannot be moved
// to another user or device. Codes, answers and keys never appear in
// errors, events or a [View].
//
// # Stores
//
// [NewMemoryStore] keeps everything in process (bounded; ErrFull when at
// capacity); [NewRedisStore] shares it through Redis, with every key of a
// user under the user's hash tag {u:…} as package redisstore does, so no
// call crosses Cluster slots. Package accounttest is the conformance suite
// both pass.
package account
