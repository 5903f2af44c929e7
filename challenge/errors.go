package challenge

import (
	"errors"
	"fmt"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// Errors returned by the engine. Test with errors.Is / errors.As.
var (
	// ErrUnknown: no such challenge for this user and session — it never
	// existed, expired, was consumed or cancelled, or belongs to someone
	// else. The cases are indistinguishable on purpose.
	ErrUnknown = errors.New("unknown challenge")
	// ErrMalformed: the answer or id is not well-formed. Nothing changed.
	ErrMalformed = errors.New("malformed input")
	// ErrTooManyAttempts: the attempt budget is spent.
	ErrTooManyAttempts = errors.New("too many attempts")
	// ErrMethodRequired: an answer arrived before a method was chosen.
	ErrMethodRequired = errors.New("choose a confirmation method first")
	// ErrMethodNotOffered: the method is not offered for this challenge.
	ErrMethodNotOffered = errors.New("confirmation method not offered")
	// ErrNotEnrolled: the user is unknown to the directory or has no usable
	// confirmation method for this operation.
	ErrNotEnrolled = errors.New("user cannot confirm operations")
	// ErrUnavailable: the store, directory or a sender failed. Fail closed.
	ErrUnavailable = errors.New("confirmation service unavailable")
	// ErrNotSent: the SMS or e-mail could not be sent. Nothing was
	// charged and its code never works; the user may try again or choose
	// another method. errors.Is(err, ErrUnavailable) holds too.
	ErrNotSent = fmt.Errorf("%w: the message could not be sent", ErrUnavailable)
)

// WrongAnswerError reports a wrong answer with attempts left.
type WrongAnswerError struct {
	// AttemptsLeft is what remains of the budget.
	AttemptsLeft int
}

// Error implements error.
func (e *WrongAnswerError) Error() string {
	return fmt.Sprintf("wrong answer, %d attempts left", e.AttemptsLeft)
}

// LockedError reports a user locked after too many consecutive failed
// confirmations. It says nothing about which factor was wrong.
type LockedError struct {
	// Until is when the lock ends by itself.
	Until time.Time
}

// Error implements error.
func (e *LockedError) Error() string {
	return "account temporarily locked until " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// TooManyPendingError reports a challenge refused because the user holds
// their fair share of the store already: their own pending confirmations
// must finish or expire first. Other users are never affected.
type TooManyPendingError struct {
	// RetryAt is when room frees up (zero: waiting will not help, the
	// request alone is larger than a user's share).
	RetryAt time.Time
}

// Error implements error.
func (e *TooManyPendingError) Error() string {
	return "too many pending confirmations for this user"
}

// ErrLocked matches every *LockedError.
var ErrLocked = errors.New("account temporarily locked")

// LimitError reports an SMS or e-mail refused by a cost control; the
// user should choose another method or wait.
type LimitError struct {
	// Method is MethodSMS or MethodEmail ("" means SMS).
	Method Method
	// Limit names the limit (store.LimitUserHourly, ...).
	Limit string
	// Wait is how long until the limit allows a message again.
	Wait time.Duration
}

// SMSLimitError is the LimitError of SMS; the name is kept for callers
// written before e-mail had limits.
type SMSLimitError = LimitError

// Error implements error.
func (e *LimitError) Error() string {
	m := e.Method
	if m == "" {
		m = MethodSMS
	}
	return fmt.Sprintf("%s limit %s reached; choose another method or wait %s", m, e.Limit, e.Wait.Round(time.Second))
}

// CooldownError reports a resend before the method's cooldown ended.
type CooldownError struct {
	// Wait is how long until the method may be begun again.
	Wait time.Duration
}

// Error implements error.
func (e *CooldownError) Error() string {
	return fmt.Sprintf("resend possible in %s", e.Wait.Round(time.Second))
}

// AlreadyConfirmedError reports an answer or a delivery for a challenge
// that is confirmed already.
type AlreadyConfirmedError struct {
	// At is when it was confirmed.
	At time.Time
	// Delivered reports that the upstream answered it: it is done.
	Delivered bool
	// RetryAt, when not delivered, is when a delivery may be tried again
	// (a delivery may be in flight until then); zero: now.
	RetryAt time.Time
}

// Error implements error.
func (e *AlreadyConfirmedError) Error() string {
	if e.Delivered {
		return "already confirmed and delivered at " + e.At.UTC().Format(time.RFC3339)
	}
	return "already confirmed at " + e.At.UTC().Format(time.RFC3339) + ", not delivered yet"
}

// ErrNotDelivered reports a confirmation that stands but cannot be
// delivered yet (the store has not made it durable on its replicas);
// the same answer again, or Deliver, delivers it once it can.
var ErrNotDelivered = errors.New("confirmed, but not delivered yet")

// ErrDeliveriesExhausted reports a confirmation that could not be
// delivered in MaxDeliveries tries; the customer should contact support.
var ErrDeliveriesExhausted = errors.New("the confirmed request could not be delivered")

// ErrAwaitingApproval matches every *AwaitingApprovalError: the
// operation is confirmed and waits for an approver.
var ErrAwaitingApproval = errors.New("confirmed, waiting for approval")

// AwaitingApprovalError reports a confirmation that waits for an
// approver's decision (four-eyes approval): nothing is forwarded until
// an approver approves it.
type AwaitingApprovalError struct {
	// Until is when the wait ends; unapproved by then, the operation
	// expires.
	Until time.Time
}

// Error implements error.
func (e *AwaitingApprovalError) Error() string {
	return "confirmed, waiting for approval until " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrAwaitingApproval) true.
func (e *AwaitingApprovalError) Is(target error) bool { return target == ErrAwaitingApproval }

// ErrRejected reports an operation an approver rejected: it is never
// forwarded.
var ErrRejected = errors.New("rejected by an approver")

// ErrAlreadyDecided matches every *AlreadyDecidedError.
var ErrAlreadyDecided = errors.New("approval already decided")

// AlreadyDecidedError reports an approval or rejection of an operation
// an approver decided already.
type AlreadyDecidedError struct {
	// At is when it was decided.
	At time.Time
	// By is the approver who decided.
	By string
	// Rejected reports a rejection (else an approval).
	Rejected bool
}

// Error implements error.
func (e *AlreadyDecidedError) Error() string {
	what := "approved"
	if e.Rejected {
		what = "rejected"
	}
	return "already " + what + " at " + e.At.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrAlreadyDecided) true.
func (e *AlreadyDecidedError) Is(target error) bool { return target == ErrAlreadyDecided }

// storeErr translates a store error into the engine's vocabulary.
func storeErr(err error) error {
	var (
		ce *store.CooldownError
		le *store.LockedError
	)
	switch {
	case errors.As(err, &le):
		return &LockedError{Until: le.Until}
	case errors.Is(err, store.ErrMethodNotOffered):
		return ErrMethodNotOffered
	case errors.Is(err, store.ErrNotFound):
		return ErrUnknown
	case errors.Is(err, store.ErrExhausted):
		return ErrTooManyAttempts
	case errors.Is(err, store.ErrNoMethod):
		return ErrMethodRequired
	case errors.As(err, &ce):
		return err
	}
	return fmt.Errorf("%w: store: %w", ErrUnavailable, err)
}
