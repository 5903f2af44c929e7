// Package store defines the contract between the challenge engine and the
// places where challenge state lives: the in-process memory store (the
// embedded default, package memory) and Redis.
//
// A store holds security state, so every decision is one atomic operation:
// Attempt checks ownership, expiry and the attempt budget, compares the
// answer and consumes the challenge in a single step, which is what makes
// "confirms at most once" hold for any number of concurrent answers and any
// number of gateways sharing one store. A store never evicts a live
// challenge to make room; it refuses new ones with ErrFull instead.
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
)

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
	// and can never confirm again.
	Confirmed
	// Exhausted means the attempt budget is spent (by this answer or
	// earlier ones); the challenge can no longer confirm.
	Exhausted
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
}

// Clone returns a copy of r that shares no mutable state with r. Byte
// slices that are never modified in place (Stash, Digest, Session and the
// entries of Expected) are shared.
func (r *Record) Clone() *Record {
	c := *r
	c.Methods = append([]string(nil), r.Methods...)
	c.Expected = append([][]byte(nil), r.Expected...)
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
	// Record is the challenge as it was consumed; set only when Outcome is
	// Confirmed.
	Record *Record
	// LockedUntil is set when this failed attempt locked the user.
	LockedUntil time.Time
}

// Store keeps challenges. Every method is safe for concurrent use, and
// each one is a single atomic operation on the store's state, also across
// gateways that share the store: a challenge's state and its user's
// lockout state are decided together (a Redis store keeps them in one
// cluster slot). Methods taking now use it as the current time, so all
// gateways judge expiry by the same rule and tests can inject a clock.
type Store interface {
	// Create stores a new challenge. It fails with *LockedError when the
	// record's user is locked at now, with ErrFull when the store is at
	// capacity and with ErrExists when the id is taken.
	Create(ctx context.Context, r *Record, now time.Time) error
	// Get returns a copy of the challenge if it exists, has not expired and
	// belongs to o; otherwise ErrNotFound.
	Get(ctx context.Context, id string, o Owner, now time.Time) (*Record, error)
	// Begin starts a confirmation method: it records the method, question,
	// destination and expected answers, and the method's resend time, and
	// returns the updated record. In order, it fails with *LockedError if
	// o.User is locked, ErrNotFound as Get does, ErrExhausted if the
	// attempt budget is spent, ErrMethodNotOffered if the challenge does
	// not offer b.Method, and *CooldownError if the same method's cooldown
	// has not passed.
	Begin(ctx context.Context, id string, o Owner, b Begin, now time.Time) (*Record, error)
	// Attempt checks one answer, given as its keyed MAC, in one atomic
	// step: the user's lock (*LockedError; nothing else changes),
	// ownership and expiry (ErrNotFound), the attempt budget (Exhausted),
	// a chosen method (ErrNoMethod), the comparison against every expected
	// MAC, and on a match the challenge's consumption (Confirmed, returned
	// at most once per challenge) and the end of the user's run of
	// failures. A wrong answer decrements the budget — the last one leaves
	// a tombstone that answers Exhausted until the challenge expires — and
	// counts a failure under l; if that locks the user, Result.LockedUntil
	// says until when. An answer to a tombstone counts no failure.
	Attempt(ctx context.Context, id string, o Owner, mac []byte, l Lockout, now time.Time) (Result, error)
	// Delete removes the challenge if it belongs to o (cancellation). It
	// returns ErrNotFound otherwise.
	Delete(ctx context.Context, id string, o Owner) error

	Regulator
}

// Regulator keeps the protections that span challenges: the per-user
// lockout (counted by Attempt) and the SMS cost controls. Like challenge
// state, it lives in the store (shared by every gateway) and each method
// is one atomic operation.
type Regulator interface {
	// LockedUntil returns the end of the user's lock, or the zero time if
	// the user is not locked at now.
	LockedUntil(ctx context.Context, user string, now time.Time) (time.Time, error)
	// Unlock lifts the user's lock and clears the failure count (operator
	// recovery).
	Unlock(ctx context.Context, user string) error
	// SpendSMS checks one SMS to phone for user against every limit in l
	// and, only if all allow it, counts it — in one atomic step. It
	// returns a *LimitError naming the first limit that refuses.
	SpendSMS(ctx context.Context, user, phone string, l SMSLimits, now time.Time) error
}

// SMSLimits are the SMS cost controls. A zero field disables its limit.
type SMSLimits struct {
	// UserCooldown is the least time between two SMS to one user.
	UserCooldown time.Duration
	// PhoneCooldown is the least time between two SMS to one phone.
	PhoneCooldown time.Duration
	// UserHourly is the most SMS one user gets in one UTC clock hour.
	UserHourly int
	// DailyBudget is the most SMS the whole deployment sends in a UTC day.
	DailyBudget int
}

// Limit names for LimitError.
const (
	LimitUserCooldown  = "user_cooldown"
	LimitPhoneCooldown = "phone_cooldown"
	LimitUserHourly    = "user_hourly"
	LimitDailyBudget   = "daily_budget"
)

// LimitError reports an SMS refused by a cost control.
type LimitError struct {
	// Limit is the limit that refused (LimitUserCooldown, ...).
	Limit string
	// Until is when the limit allows an SMS again.
	Until time.Time
}

// Error implements error.
func (e *LimitError) Error() string {
	return fmt.Sprintf("sms limit %s reached until %s", e.Limit, e.Until.UTC().Format(time.RFC3339))
}

// HourStart and DayStart return the UTC clock hour and day that contain t:
// the windows of SMSLimits.UserHourly and SMSLimits.DailyBudget.
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
