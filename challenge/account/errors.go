package account

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the Service and the Store. Test with errors.Is / errors.As. An
// unknown user is challenge.ErrNoUser.
var (
	// ErrTaken: the phone or address is held by another user.
	ErrTaken = errors.New("already used by another account")
	// ErrUnknownVerification: no such pending verification for this user —
	// never started, expired, already used or its attempts spent.
	ErrUnknownVerification = errors.New("unknown or expired verification")
	// ErrUnknownEnrollment: no such pending enrolment for this user —
	// never started, replaced, expired, activated or its attempts spent.
	ErrUnknownEnrollment = errors.New("unknown or expired enrolment")
	// ErrUnknownRecovery: no recovery request with this id.
	ErrUnknownRecovery = errors.New("unknown recovery request")
	// ErrRecoveryOpen: the user has an open recovery request already; the
	// error is a *RecoveryOpenError naming it.
	ErrRecoveryOpen = errors.New("a recovery request is already open")
	// ErrLastContact: the change would leave the user no way to be
	// reached or to confirm (no phone, no address, no device).
	ErrLastContact = errors.New("the last contact cannot be removed")
	// ErrInvalid: bad input; the wrapping error says what. Nothing changed.
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable: the store or a sender failed; the wrapping error
	// carries the cause. Fail closed.
	ErrUnavailable = errors.New("account service unavailable")

	// ErrNotFound is a Store's answer for a pending item or recovery it
	// does not hold (or no longer: expired, spent).
	ErrNotFound = errors.New("not found")
	// ErrFull is a Store's answer when it is at its capacity; nothing
	// changed. The Service reports it wrapped in ErrUnavailable.
	ErrFull = errors.New("account store is full")
)

// WrongCodeError reports a wrong verification code or activation answer
// with AttemptsLeft of the budget (0: this was the last one).
type WrongCodeError struct {
	// AttemptsLeft is what remains of the budget.
	AttemptsLeft int
}

// Error implements error.
func (e *WrongCodeError) Error() string {
	return fmt.Sprintf("wrong code, %d attempts left", e.AttemptsLeft)
}

// WaitError reports a message asked for again too soon (the resend
// cooldown); nothing was sent.
type WaitError struct {
	// Wait is how long until the next message may be sent.
	Wait time.Duration
}

// Error implements error.
func (e *WaitError) Error() string {
	return fmt.Sprintf("a code was sent moments ago; try again in %s", e.Wait.Round(time.Second))
}

// RecoveryOpenError is ErrRecoveryOpen with the open request.
type RecoveryOpenError struct {
	// Recovery is the open request.
	Recovery *Recovery
}

// Error implements error.
func (e *RecoveryOpenError) Error() string { return ErrRecoveryOpen.Error() }

// Is makes errors.Is(err, ErrRecoveryOpen) true.
func (e *RecoveryOpenError) Is(target error) bool { return target == ErrRecoveryOpen }

// invalid returns an error matching ErrInvalid with a clear message.
func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// unavailable wraps a store or sender failure in ErrUnavailable (ErrFull
// stays matchable).
func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}
