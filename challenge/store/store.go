// Package store defines the contract between the challenge engine and the
// places where challenge state lives: the in-process memory store (the
// embedded default, package memory) and Redis.
//
// A store holds security state, so every decision is one atomic operation:
// Attempt checks ownership, expiry and the attempt budget, compares the
// answer and confirms the challenge in a single step, which is what makes
// "confirms at most once" hold for any number of concurrent answers and any
// number of gateways sharing one store. A store never evicts a live
// challenge to make room; it refuses new ones with ErrFull instead, and
// refuses a user over their fair share with *TooManyPendingError before
// that user can fill it.
//
// # Life of a challenge
//
// Create makes a pending challenge; Begin chooses a method; Attempt
// answers. A wrong answer spends one attempt — once per distinct answer:
// the record remembers the MACs it has counted (Record.Tried), so a retry
// of the same answer after a timeout or a stalled store costs nothing
// more. The last wrong answer leaves an exhausted tombstone. A right
// answer leaves a confirmed tombstone (Record.ConfirmedAt) that lives until
// the challenge's Expires: the same answer again reports Repeated, never
// "unknown challenge", and the stash stays until the delivery (the replay
// to the upstream) is settled. Delivery is guarded by a lease: the first
// Confirmed takes it, Deliver takes it again for a redelivery, Settle
// ends it (delivered: the stash is dropped and no redelivery is possible;
// not delivered: the lease is released so the customer may try again).
//
// # Four-eyes approval
//
// A record created with an Approval (Record.Approval) needs a second
// person after the customer: a right answer confirms it (ConfirmedAt, the
// stash kept) but takes no delivery lease; the record is then awaiting
// approval until Approval.Until (ConfirmedAt plus Approval.Window; its
// Expires becomes Until) and keeps counting against its user's pending
// and byte shares. Deliver refuses it (*AwaitingApprovalError) until
// Decide records an approver's decision: an approval takes the first
// delivery lease and the record delivers as any other confirmation; a
// rejection drops the stash and leaves a rejected tombstone until
// Expires. The customer may cancel (Delete) while it awaits. Awaiting
// lists a group's awaiting records for approvers, Locate finds the user
// of an awaiting id, GetAny reads one without the customer's session.
//
// The store never sees answers, codes or keys in clear: the engine hands it
// keyed MACs of acceptable answers and of the submitted one.
package store

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"
)

// Errors returned by stores. Callers test with errors.Is.
var (
	// ErrNotFound reports a challenge that does not exist, has expired, or
	// belongs to another user or session. The three cases are
	// indistinguishable on purpose.
	ErrNotFound = errors.New("challenge not found")
	// ErrFull reports that the store is at its configured capacity and
	// refuses new challenges; live challenges are never evicted.
	ErrFull = errors.New("challenge store is full")
	// ErrExists reports an attempt to create a challenge whose id is taken.
	ErrExists = errors.New("challenge id already exists")
	// ErrNoMethod reports an answer to a challenge for which no
	// confirmation method has been chosen yet.
	ErrNoMethod = errors.New("no confirmation method chosen")
	// ErrMethodNotOffered reports Begin with a method the challenge does
	// not offer.
	ErrMethodNotOffered = errors.New("confirmation method not offered")
	// ErrTooManyPending reports Create refused because the user holds
	// their share of the store already (pending challenges or stashed
	// bytes). The error is a *TooManyPendingError.
	ErrTooManyPending = errors.New("too many pending challenges for this user")
	// ErrDelivered reports Deliver on a confirmation already delivered to
	// the upstream: it must never be delivered twice.
	ErrDelivered = errors.New("confirmation already delivered")
	// ErrDeliveryBusy reports Deliver while another delivery of the same
	// confirmation may be in flight (its lease is active). The error is a
	// *DeliveryBusyError.
	ErrDeliveryBusy = errors.New("a delivery of this confirmation may be in flight")
	// ErrDeliveriesExhausted reports Deliver on a confirmation that has
	// been tried the most times allowed.
	ErrDeliveriesExhausted = errors.New("delivery attempts spent")
	// ErrNotDurable reports a confirmation (or a repeat, a redelivery or a
	// delivered Settle) that the store has written but could not make
	// durable in time: too few replicas acknowledged it, so a failover
	// could still lose it. It is never a reason to forward; the state
	// stays written and no delivery lease is held, so the same call later
	// (the same answer: Repeated, then Deliver) succeeds once it is
	// durable. The error is a *NotDurableError. The memory store never
	// returns it.
	ErrNotDurable = errors.New("confirmation not yet acknowledged by enough replicas")
	// ErrAwaitingApproval reports Deliver on a confirmation that waits
	// for an approver's decision (see Decide). The error is an
	// *AwaitingApprovalError.
	ErrAwaitingApproval = errors.New("confirmation awaiting approval")
	// ErrRejected reports Deliver on a confirmation an approver
	// rejected: it is never delivered.
	ErrRejected = errors.New("confirmation rejected by an approver")
	// ErrDecided reports Decide on a record already decided. The error is
	// a *DecidedError.
	ErrDecided = errors.New("approval already decided")
)

// AwaitingApprovalError reports Deliver refused because the confirmation
// awaits approval. It is ErrAwaitingApproval for errors.Is.
type AwaitingApprovalError struct {
	// Until is when the wait ends: the record expires then unless an
	// approver decides first.
	Until time.Time
}

// Error implements error.
func (e *AwaitingApprovalError) Error() string {
	return ErrAwaitingApproval.Error() + " until " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrAwaitingApproval) hold.
func (e *AwaitingApprovalError) Is(target error) bool { return target == ErrAwaitingApproval }

// DecidedError reports Decide on a record an approver decided already.
// It is ErrDecided for errors.Is.
type DecidedError struct {
	// At is when it was decided.
	At time.Time
	// By is the approver who decided.
	By string
	// Rejected reports a rejection (else an approval).
	Rejected bool
}

// Error implements error.
func (e *DecidedError) Error() string {
	what := "approved"
	if e.Rejected {
		what = "rejected"
	}
	return ErrDecided.Error() + ": " + what + " at " + e.At.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrDecided) hold.
func (e *DecidedError) Is(target error) bool { return target == ErrDecided }

// NotDurableError reports a write that too few replicas acknowledged
// within the store's wait timeout. It is ErrNotDurable for errors.Is.
type NotDurableError struct {
	// Reached is how many replicas acknowledged the write.
	Reached int
	// Wanted is how many the store waits for.
	Wanted int
	// Timeout is how long the store waited.
	Timeout time.Duration
}

// Error implements error.
func (e *NotDurableError) Error() string {
	return fmt.Sprintf("%s: %d of %d replicas within %v", ErrNotDurable.Error(), e.Reached, e.Wanted, e.Timeout)
}

// Is makes errors.Is(err, ErrNotDurable) hold.
func (e *NotDurableError) Is(target error) bool { return target == ErrNotDurable }

// Defaults of the per-store options that implement the fair shares and
// the delivery lease (memory.Options, redisstore.Options). In those
// options 0 takes the default and a negative limit disables it.
const (
	// DefaultMaxPendingPerUser is the most pending challenges one user
	// may hold.
	DefaultMaxPendingPerUser = 10
	// DefaultMaxBytesPerUser is the most bytes of stashed requests (Stash
	// and View) one user's challenges may hold, confirmed but undelivered
	// ones included. It must be at least the largest record one request
	// can make (max_body plus headers and view), or such requests are
	// always refused.
	DefaultMaxBytesPerUser = 1 << 20
	// DefaultDeliveryLease is how long a delivery holds its lease: while
	// it runs no other delivery of the same confirmation can start.
	DefaultDeliveryLease = 30 * time.Second
)

// TooManyPendingError reports Create refused by a per-user limit. It is
// ErrTooManyPending for errors.Is.
type TooManyPendingError struct {
	// RetryAt is when the user's earliest challenge counted against the
	// limit expires, freeing room. It is zero when waiting cannot help:
	// the record alone is larger than the per-user byte limit.
	RetryAt time.Time
}

// Error implements error.
func (e *TooManyPendingError) Error() string {
	if e.RetryAt.IsZero() {
		return ErrTooManyPending.Error()
	}
	return ErrTooManyPending.Error() + " until " + e.RetryAt.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrTooManyPending) hold.
func (e *TooManyPendingError) Is(target error) bool { return target == ErrTooManyPending }

// DeliveryBusyError reports Deliver refused because a lease is active. It
// is ErrDeliveryBusy for errors.Is.
type DeliveryBusyError struct {
	// Until is when the lease ends by itself (Settle ends it earlier).
	Until time.Time
}

// Error implements error.
func (e *DeliveryBusyError) Error() string {
	return ErrDeliveryBusy.Error() + " until " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrDeliveryBusy) hold.
func (e *DeliveryBusyError) Is(target error) bool { return target == ErrDeliveryBusy }

// LockedError reports a user locked after too many consecutive failed
// confirmations.
type LockedError struct {
	// Until is when the lock lifts by itself.
	Until time.Time
}

// Error implements error.
func (e *LockedError) Error() string {
	return "user locked until " + e.Until.UTC().Format(time.RFC3339)
}

// Lockout is the per-user lockout policy Attempt applies: After
// consecutive failed confirmations (wrong answers, across challenges) lock
// the user For a while. After <= 0 disables the lockout.
type Lockout struct {
	// After is the number of consecutive failures that locks.
	After int
	// For is how long the lock lasts.
	For time.Duration
}

// CooldownError reports that a method (typically SMS) was begun again
// before its resend cooldown ended.
type CooldownError struct {
	// Until is when the method may be begun again.
	Until time.Time
}

// Error implements error.
func (e *CooldownError) Error() string {
	return fmt.Sprintf("method may be begun again at %s", e.Until.UTC().Format(time.RFC3339))
}

// Outcome is the result of one answer attempt.
type Outcome int

// Outcomes of Store.Attempt.
const (
	// Wrong means the answer did not match and attempts remain.
	Wrong Outcome = iota + 1
	// Confirmed means the answer matched; the challenge has been consumed
	// and can never confirm again. This answer took the first delivery
	// lease (Record.Deliveries is 1). A replicated store reports it only
	// once it is durable (see Store).
	Confirmed
	// Exhausted means the attempt budget is spent (by this answer or
	// earlier ones); the challenge can no longer confirm.
	Exhausted
	// Repeated means the challenge was confirmed earlier by this same
	// answer (a retry after a timeout, a double submit). Nothing changed;
	// Result.Record tells the delivery state (DeliveredAt, LeaseUntil,
	// Deliveries) and holds the stash while it is undelivered. To deliver
	// again, the caller claims a lease with Store.Deliver.
	Repeated
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case Wrong:
		return "wrong"
	case Confirmed:
		return "confirmed"
	case Exhausted:
		return "exhausted"
	case Repeated:
		return "repeated"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Owner identifies who may use a challenge: the user it was issued to and
// a binding (a keyed hash) of the session it was issued in.
type Owner struct {
	// User is the user's identifier.
	User string
	// Session is the keyed hash of the session binding (32 bytes).
	Session []byte
}

// Owns reports, in constant time for the session binding, whether o is the
// owner recorded in r.
func (o Owner) Owns(r *Record) bool {
	userOK := subtle.ConstantTimeCompare([]byte(o.User), []byte(r.User))
	sessOK := subtle.ConstantTimeCompare(o.Session, r.Session)
	return userOK&sessOK == 1
}

// Record is the stored form of a challenge.
type Record struct {
	// ID is the challenge id (random, URL-safe).
	ID string `json:"id"`
	// User is the user the challenge was issued to.
	User string `json:"user"`
	// Session is the keyed hash of the session binding.
	Session []byte `json:"session"`
	// Operation is the protected operation's name, e.g. "transfer".
	Operation string `json:"operation"`
	// Amount and Payee are display details extracted by the policy.
	Amount string `json:"amount,omitempty"`
	// Payee is the payee shown to the user, if the policy extracted one.
	Payee string `json:"payee,omitempty"`
	// View is the rest of what the user is shown of the operation
	// (currency, masked payee, further fields, E-num mode), encoded by the
	// engine; opaque to the store, which keeps and returns it unchanged.
	View []byte `json:"view,omitempty"`
	// ReturnTo is the same-origin path the user came from, where a
	// cancelled confirmation returns to.
	ReturnTo string `json:"return_to,omitempty"`
	// Methods are the confirmation methods offered, in order of preference.
	Methods []string `json:"methods"`
	// Destinations maps a method to its masked destination ("+7•••••01"),
	// shown before the method is chosen.
	Destinations map[string]string `json:"destinations,omitempty"`
	// Digest is the SHA-256 of Stash, checked again before replay.
	Digest []byte `json:"digest"`
	// Stash is the encoded original request; opaque to the store.
	Stash []byte `json:"stash"`
	// Created is when the challenge was issued.
	Created time.Time `json:"created"`
	// Expires is when the challenge dies.
	Expires time.Time `json:"expires"`
	// MaxAttempts is the attempt budget the challenge was issued with.
	MaxAttempts int `json:"max_attempts"`
	// AttemptsLeft is what remains of the budget.
	AttemptsLeft int `json:"attempts_left"`

	// Method is the chosen confirmation method ("" until one is begun).
	Method string `json:"method,omitempty"`
	// Question is the E-num question shown to the user (enum only).
	Question string `json:"question,omitempty"`
	// SentTo is the masked destination of an SMS or e-mail.
	SentTo string `json:"sent_to,omitempty"`
	// Expected holds keyed MACs of every acceptable answer.
	Expected [][]byte `json:"expected,omitempty"`
	// ResendAt maps a method to the time it may be begun again.
	ResendAt map[string]time.Time `json:"resend_at,omitempty"`
	// Tried holds the MACs of the wrong answers already counted against
	// the budget since the method was begun (at most MaxAttempts); the
	// same answer again costs nothing. Begin clears it.
	Tried [][]byte `json:"tried,omitempty"`

	// ConfirmedAt is when a right answer confirmed the challenge; zero
	// while it is not confirmed. A confirmed record stays (a confirmed
	// tombstone) until Expires.
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
	// ConfirmedMAC is the MAC of the answer that confirmed.
	ConfirmedMAC []byte `json:"confirmed_mac,omitempty"`
	// DeliveredAt is when a delivery of the confirmed request to the
	// upstream was settled as delivered; the stash is dropped then.
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	// Deliveries counts the delivery leases taken (the confirmation's
	// first delivery and every Deliver).
	Deliveries int `json:"deliveries,omitempty"`
	// LeaseUntil is when the current delivery lease ends; zero or past
	// when no delivery is in flight.
	LeaseUntil time.Time `json:"lease_until,omitzero"`

	// Approval, when set, makes the confirmation wait for an approver's
	// decision (see the package documentation). Create takes Group,
	// Approvers and Window; Attempt and Decide set the rest.
	Approval *ApprovalState `json:"approval,omitempty"`
}

// ApprovalState is where a record's four-eyes approval stands.
type ApprovalState struct {
	// Group is the approvers' group, under which Awaiting lists it.
	Group string `json:"group"`
	// Approvers are the users who may decide; the record's own user
	// never may, even if listed.
	Approvers []string `json:"approvers"`
	// Window is how long a confirmation waits for a decision (positive).
	Window time.Duration `json:"window"`
	// Until is when the wait ends: ConfirmedAt plus Window; zero until
	// confirmed.
	Until time.Time `json:"until,omitzero"`
	// Decided is when an approver decided; zero while undecided.
	Decided time.Time `json:"decided,omitzero"`
	// ApprovedBy is the approver who decided (approved or rejected).
	ApprovedBy string `json:"approved_by,omitempty"`
	// Method is how that approver confirmed the decision ("enum", "sms",
	// ...), as Decide was told.
	Method string `json:"method,omitempty"`
	// Rejected reports a rejection.
	Rejected bool `json:"rejected,omitempty"`
}

// MayDecide reports whether approver may decide on r: r awaits approval
// and approver is one of its approvers and not its user.
func (a *ApprovalState) MayDecide(r *Record, approver string) bool {
	if a == nil || approver == "" || approver == r.User {
		return false
	}
	for _, x := range a.Approvers {
		if x == approver {
			return true
		}
	}
	return false
}

// AwaitingApproval reports whether r is confirmed and waits for an
// approver's decision.
func (r *Record) AwaitingApproval() bool {
	return r.Approval != nil && r.Confirmed() && r.Approval.Decided.IsZero()
}

// Rejected reports whether an approver rejected r.
func (r *Record) Rejected() bool { return r.Approval != nil && r.Approval.Rejected }

// Confirmed reports whether r has been confirmed.
func (r *Record) Confirmed() bool { return !r.ConfirmedAt.IsZero() }

// Delivered reports whether r's confirmed request has been delivered.
func (r *Record) Delivered() bool { return !r.DeliveredAt.IsZero() }

// Clone returns a copy of r that shares no mutable state with r. Byte
// slices that are never modified in place (Stash, Digest, Session,
// ConfirmedMAC and the entries of Expected and Tried) are shared.
func (r *Record) Clone() *Record {
	c := *r
	c.Methods = append([]string(nil), r.Methods...)
	c.Expected = append([][]byte(nil), r.Expected...)
	if r.Tried != nil {
		c.Tried = append([][]byte(nil), r.Tried...)
	}
	if r.Destinations != nil {
		c.Destinations = make(map[string]string, len(r.Destinations))
		for k, v := range r.Destinations {
			c.Destinations[k] = v
		}
	}
	if r.ResendAt != nil {
		c.ResendAt = make(map[string]time.Time, len(r.ResendAt))
		for k, v := range r.ResendAt {
			c.ResendAt[k] = v
		}
	}
	if r.Approval != nil {
		a := *r.Approval
		a.Approvers = append([]string(nil), r.Approval.Approvers...)
		c.Approval = &a
	}
	return &c
}

// Begin describes a confirmation method being started for a challenge.
type Begin struct {
	// Method is the method's name ("enum", "sms", "email").
	Method string
	// Question is the E-num question, if any.
	Question string
	// SentTo is the masked destination, if any.
	SentTo string
	// Expected holds keyed MACs of every acceptable answer; they replace
	// those of any earlier method.
	Expected [][]byte
	// Cooldown, if positive, is how long the same method may not be begun
	// again (the SMS resend cooldown).
	Cooldown time.Duration
}

// Result is what Attempt reports.
type Result struct {
	// Outcome is the attempt's outcome.
	Outcome Outcome
	// AttemptsLeft is what remains of the budget after the attempt.
	AttemptsLeft int
	// Record is the challenge as it was confirmed, stash included; set
	// only when Outcome is Confirmed or Repeated. For Repeated the stash
	// is present only while the confirmation is undelivered.
	Record *Record
	// LockedUntil is set when this failed attempt locked the user.
	LockedUntil time.Time
}

// Store keeps challenges. Every method is safe for concurrent use, and
// each one is a single atomic operation on the store's state, also across
// gateways that share the store: a challenge's state, its user's lockout
// state and the user's share of the store are decided together (a Redis
// store keeps them in one cluster slot). Methods taking now use it as the
// current time, so all gateways judge expiry by the same rule and tests
// can inject a clock.
//
// A store never retries a state-changing call by itself; the contract is
// made so that the caller's retry of the same call is harmless: a repeated
// wrong answer costs nothing more, a repeated right one reports Repeated.
//
// Durability: a replicated store (Redis with replicas) may report only
// what a failover cannot lose. Attempt's Confirmed and Repeated and
// Deliver's record are returned — and so may be forwarded — only once
// enough replicas hold the state they report (the confirmation and the
// lease); otherwise the call returns *NotDurableError (ErrNotDurable) and
// a zero result, the state stays written (the challenge stays confirmed)
// and no delivery lease is left held: the caller tells the customer
// "confirmed, not delivered yet", and the same answer (Repeated) or
// Deliver delivers it once a replica has it. A delivered Settle whose
// record is not durable returns *NotDurableError after settling: the
// delivery happened; a failover may forget it, and then the upstream's
// Idempotency-Key is what refuses a second one. A store without replicas
// (the memory store) never returns ErrNotDurable.
type Store interface {
	// Create stores a new challenge. In order, it fails with *LockedError
	// when the record's user is locked at now, with ErrExists when the id
	// is taken, with *TooManyPendingError (ErrTooManyPending) when the
	// user is at a per-user limit (pending challenges — created, not
	// confirmed, not exhausted, not expired, not deleted — or the bytes of
	// Stash and View held by the user's unexpired challenges that still
	// keep a stash), and with ErrFull when the store is at its global
	// capacity. A refusal never touches another user's challenges.
	Create(ctx context.Context, r *Record, now time.Time) error
	// Get returns a copy of the challenge if it exists, has not expired and
	// belongs to o; otherwise ErrNotFound. Exhausted and confirmed
	// tombstones are returned too (AttemptsLeft 0; ConfirmedAt set).
	Get(ctx context.Context, id string, o Owner, now time.Time) (*Record, error)
	// Begin starts a confirmation method: it records the method, question,
	// destination and expected answers, and the method's resend time,
	// clears Tried, and returns the updated record. In order, it fails
	// with *LockedError if o.User is locked, ErrNotFound as Get does (and
	// for a confirmed challenge), ErrExhausted if the attempt budget is
	// spent, ErrMethodNotOffered if the challenge does not offer b.Method,
	// and *CooldownError if the same method's cooldown has not passed.
	Begin(ctx context.Context, id string, o Owner, b Begin, now time.Time) (*Record, error)
	// Attempt checks one answer, given as its keyed MAC, in one atomic
	// step. On a confirmed challenge of o's (checked first, whatever the
	// user's lock): the confirming MAC gives Repeated with the record,
	// any other MAC ErrNotFound; nothing changes. Otherwise, in order: the
	// user's lock (*LockedError; nothing else changes), ownership and
	// expiry (ErrNotFound), the attempt budget (Exhausted), a chosen
	// method (ErrNoMethod), the comparison against every expected MAC, and
	// on a match the confirmation (Confirmed, returned at most once per
	// challenge): ConfirmedAt and ConfirmedMAC are set, the first
	// delivery lease is taken (Deliveries 1, LeaseUntil now plus the
	// store's delivery lease), and the user's run of failures ends. A
	// wrong answer already in Tried gives Wrong with AttemptsLeft
	// unchanged and counts nothing. Any other wrong answer is added to
	// Tried, decrements the budget — the last one leaves a tombstone
	// without stash that answers Exhausted until the challenge expires —
	// and counts a failure under l; if that locks the user,
	// Result.LockedUntil says until when. An answer to a tombstone counts
	// no failure. A confirmation or a repeat that is written but not
	// durable gives (Result{}, *NotDurableError) and leaves no lease held
	// (Deliveries and LeaseUntil as before the call): the challenge stays
	// confirmed, so the same answer later reports Repeated, never
	// Confirmed again.
	//
	// A record with an Approval is confirmed the same way but takes no
	// lease (Deliveries 0): it awaits approval, Approval.Until and
	// Expires become now plus Approval.Window, the stash stays, and it
	// keeps counting against the user's pending and byte shares until
	// decided. A replicated store reports it once durable, as any
	// confirmation.
	Attempt(ctx context.Context, id string, o Owner, mac []byte, l Lockout, now time.Time) (Result, error)
	// Delete removes the challenge if it belongs to o and is not
	// confirmed, or awaits approval (cancellation). It returns
	// ErrNotFound otherwise; a confirmed challenge is kept, as proof of
	// the confirmation, until it expires.
	Delete(ctx context.Context, id string, o Owner) error
	// Deliver claims a redelivery of a confirmed, undelivered challenge:
	// it fails with ErrNotFound (no such challenge of o's, expired, or not
	// confirmed), ErrDelivered (already delivered), *DeliveryBusyError
	// (ErrDeliveryBusy: a lease is active, another delivery may be in
	// flight) or ErrDeliveriesExhausted (Deliveries >= max; max <= 0 sets
	// no limit), checked in that order; a record awaiting approval gives
	// *AwaitingApprovalError and a rejected one ErrRejected, both before
	// ErrDelivered. On success it increments
	// Deliveries, sets LeaseUntil to now plus the store's delivery lease
	// and returns the record, stash included. If that lease is not
	// durable it is released again and Deliver returns *NotDurableError.
	Deliver(ctx context.Context, id string, o Owner, max int, now time.Time) (*Record, error)
	// Settle ends the delivery in flight of a confirmed challenge of o's
	// (ErrNotFound otherwise, as Deliver). delivered=true records
	// DeliveredAt=now, clears the lease and drops the stash (its bytes no
	// longer count against the user); delivered=false only clears the
	// lease, so a redelivery may start at once. Settling a delivered
	// challenge again changes nothing and returns nil (or, like the first
	// time, *NotDurableError while the delivery is not durable). A
	// delivered Settle that is not durable returns *NotDurableError: it
	// did settle, but a failover may forget that. A record awaiting
	// approval or rejected has no delivery: ErrNotFound.
	Settle(ctx context.Context, id string, o Owner, delivered bool, now time.Time) error

	Regulator
}

// ApprovalStore is a Store that keeps four-eyes approvals: the memory
// store and Redis are.
type ApprovalStore interface {
	Store
	Approvals
}

// ApprovalsOf returns the Approvals of s: s itself if it has them, else
// the first store beneath it that does, following the Unwrap() Store
// methods of wrappers (as errors.As follows error chains). A store
// without them must never be given a Record with an Approval: it would
// not keep it.
func ApprovalsOf(s Store) (Approvals, bool) {
	for s != nil {
		if a, ok := s.(Approvals); ok {
			return a, true
		}
		u, ok := s.(interface{ Unwrap() Store })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	return nil, false
}

// Approvals are the store's side of four-eyes approval: the approvers'
// view of records awaiting approval, and their decision. Approvers are
// not the records' owners, so these calls take the user (found with
// Locate) instead of an Owner. It is separate from Store so that stores
// written before approvals still are Stores; a store that implements it
// also keeps Record.Approval through Create, Attempt, Delete, Deliver
// and Settle as the Store contract says.
type Approvals interface {
	// Decide records approver's decision on user's record id, in one
	// atomic step, and returns the record. In order it fails with
	// ErrNotFound (no such record, expired, without an Approval, not
	// confirmed, or approver not among its Approvers or its own user) and
	// *DecidedError (ErrDecided: decided already, whatever the decision
	// now asked). It sets Decided, ApprovedBy and Method (how the
	// approver confirmed) and ends the pending share. Approving takes the
	// first delivery lease (Deliveries 1) and returns the record with
	// its stash, which then delivers as any confirmation; Expires becomes
	// at least now plus ApprovedGrace, so the delivery has time to
	// settle. Rejecting sets Rejected and drops the stash (a rejected
	// tombstone until Expires). A replicated store waits for replicas as
	// for a confirmation: *NotDurableError leaves the decision written
	// and no lease held.
	Decide(ctx context.Context, user, id, approver string, approve bool, method string, now time.Time) (*Record, error)
	// Awaiting returns the records of group that await approval at now
	// (confirmed, undecided, unexpired), oldest confirmation first, at
	// most MaxAwaiting, without their stash.
	Awaiting(ctx context.Context, group string, now time.Time) ([]*Record, error)
	// Locate returns the user of the record id that awaits (or awaited)
	// approval; ErrNotFound if the store knows no such record. It reads
	// an index: callers check the record itself (GetAny).
	Locate(ctx context.Context, id string) (user string, err error)
	// GetAny returns user's record id like Get but without the session
	// check, and without its stash: for approvers, who are not its owner.
	GetAny(ctx context.Context, user, id string, now time.Time) (*Record, error)
}

// MaxAwaiting bounds what Awaiting returns.
const MaxAwaiting = 100

// ApprovedGrace is how long, at least, an approved record lives after
// its approval, for its delivery (Decide).
const ApprovedGrace = 10 * time.Minute

// Regulator keeps the protections that span challenges: the per-user
// lockout (counted by Attempt) and the cost controls of the messages the
// gateway sends (SMS and e-mail, each with its own counters). Like
// challenge state, it lives in the store (shared by every gateway) and
// each method is one atomic operation.
type Regulator interface {
	// LockedUntil returns the end of the user's lock, or the zero time if
	// the user is not locked at now.
	LockedUntil(ctx context.Context, user string, now time.Time) (time.Time, error)
	// Failures returns the user's current run of consecutive failed
	// confirmations (the count the lockout compares with Lockout.After), 0
	// after a success, an unlock or when the run has lapsed; and the end of
	// a lock, zero if none.
	//
	// The run is what Attempt counts: one per new wrong answer to a live
	// challenge under a lockout with After > 0 (a MAC already in
	// Record.Tried and answers to a tombstone count nothing). The lock
	// that a run causes ends it, so a locked user has 0 failures and
	// lockedUntil set; lockedUntil is zero once now reaches the lock's
	// end, as LockedUntil. A run lapses when the store forgets it: the
	// Redis store does 24 hours after its last failure (or after the end
	// of the lock, whichever is later); the memory store keeps it. Read
	// only: it changes nothing, so the engine may call it to show how many
	// wrong answers remain before the lock: Lockout.After − n.
	Failures(ctx context.Context, user string, now time.Time) (n int, lockedUntil time.Time, err error)
	// Unlock lifts the user's lock and clears the failure count (operator
	// recovery).
	Unlock(ctx context.Context, user string) error
	// SpendSMS checks one SMS to phone for user against every limit in l
	// and, only if all allow it, counts it — in one atomic step. It
	// returns a *LimitError naming the first limit that refuses.
	SpendSMS(ctx context.Context, user, phone string, l SMSLimits, now time.Time) error
	// SpendEmail is SpendSMS for one e-mail to address: the same limits,
	// counted apart from SMS (its own cooldowns, hourly counts and daily
	// budget). A refusal by the address cooldown names
	// LimitAddressCooldown.
	SpendEmail(ctx context.Context, user, address string, l MessageLimits, now time.Time) error
	// Refund undoes the spend SpendSMS (channel ChannelSMS) or SpendEmail
	// (ChannelEmail) made for user and to at spentAt (the now it was
	// given), for a message its sender did not accept: the user's and the
	// destination's cooldowns are cleared if that spend still holds them,
	// and the hourly and daily counts of spentAt's hour and day are
	// decremented (never below zero). Each spend is refunded at most
	// once: a refund of no such spend, or a second one, changes nothing
	// and returns nil. Spends are remembered for RefundWindow; a refund
	// later than that may do nothing. An unknown channel is an error.
	Refund(ctx context.Context, channel, user, to string, spentAt time.Time) error
}

// Channels of Regulator.Refund.
const (
	ChannelSMS   = "sms"
	ChannelEmail = "email"
)

// MessageLimits are the cost controls of one channel (SMS or e-mail). A
// zero field disables its limit.
type MessageLimits struct {
	// UserCooldown is the least time between two messages to one user.
	UserCooldown time.Duration
	// PhoneCooldown is the least time between two messages to one
	// destination: a phone for SMS, an address for e-mail.
	PhoneCooldown time.Duration
	// UserHourly is the most messages one user gets in one UTC clock hour.
	UserHourly int
	// DailyBudget is the most messages the whole deployment sends in a
	// UTC day, shared by all users.
	DailyBudget int
}

// SMSLimits are the SMS cost controls.
type SMSLimits = MessageLimits

// Limit names for LimitError.
const (
	LimitUserCooldown    = "user_cooldown"
	LimitPhoneCooldown   = "phone_cooldown"
	LimitAddressCooldown = "address_cooldown"
	LimitUserHourly      = "user_hourly"
	LimitDailyBudget     = "daily_budget"
)

// LimitError reports a message refused by a cost control.
type LimitError struct {
	// Limit is the limit that refused (LimitUserCooldown, ...).
	Limit string
	// Until is when the limit allows a message again.
	Until time.Time
	// Channel is ChannelSMS or ChannelEmail ("" reads as SMS).
	Channel string
}

// Error implements error.
func (e *LimitError) Error() string {
	ch := e.Channel
	if ch == "" {
		ch = ChannelSMS
	}
	return fmt.Sprintf("%s limit %s reached until %s", ch, e.Limit, e.Until.UTC().Format(time.RFC3339))
}

// RefundWindow is how long a store remembers a spend so that Refund can
// undo it: refunds are meant for a send that failed just now.
const RefundWindow = time.Hour

// HourStart and DayStart return the UTC clock hour and day that contain t:
// the windows of MessageLimits.UserHourly and MessageLimits.DailyBudget.
func HourStart(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// DayStart returns the start of the UTC day that contains t.
func DayStart(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ErrExhausted reports a challenge whose attempt budget is spent.
var ErrExhausted = errors.New("attempt budget spent")

// MatchAny reports, in constant time with respect to the contents, whether
// mac equals one of expected. Every entry is compared even after a match.
func MatchAny(expected [][]byte, mac []byte) bool {
	found := 0
	for _, e := range expected {
		found |= subtle.ConstantTimeCompare(e, mac)
	}
	return found == 1
}
