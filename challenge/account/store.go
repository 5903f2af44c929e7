package account

import (
	"context"
	"time"
)

// Store keeps the account state, pending codes and enrolments, contact
// claims and recovery requests. Each call is atomic on its own; the
// Service orders calls so that a failure between two leaves nothing a
// customer could misuse (a code works only once stored, a claim is
// released if the state change after it fails). Implementations are safe
// for concurrent use and never retry a state change whose outcome is
// unknown.
type Store interface {
	// Load returns user's state, or State{User: user} if there is none.
	Load(ctx context.Context, user string) (*State, error)
	// Update reads user's state (State{User: user} if none), calls fn on
	// it and writes the result, atomically: a concurrent Update of the
	// same user makes fn run again on the new state (a bounded number of
	// times). An error from fn is returned as is and nothing is written.
	Update(ctx context.Context, user string, fn func(*State) error) error
	// Claim records that user holds value of kind (KindPhone, KindEmail):
	// ErrTaken if another user holds it; claiming one's own is a no-op.
	Claim(ctx context.Context, kind, value, user string) error
	// Release drops user's claim of value; another user's claim stays.
	Release(ctx context.Context, kind, value, user string) error
	// Holder returns the user holding value of kind, "" if nobody.
	Holder(ctx context.Context, kind, value string) (string, error)
	// PutPending stores p under (p.User, p.ID) until p.Expires, replacing
	// any with the same id.
	PutPending(ctx context.Context, p *Pending) error
	// AttemptPending compares mac in constant time with the stored MAC
	// and counts the attempt atomically: (p, true, nil) when right (p is
	// deleted), (p, false, nil) when wrong with p.AttemptsLeft decremented
	// (p is deleted at 0), ErrNotFound if there is none or it expired.
	AttemptPending(ctx context.Context, user, id string, mac []byte, now time.Time) (*Pending, bool, error)
	// GetPending returns the pending item, ErrNotFound if none or expired.
	GetPending(ctx context.Context, user, id string, now time.Time) (*Pending, error)
	// DeletePending deletes it (no error if there is none).
	DeletePending(ctx context.Context, user, id string) error
	// PutRecovery stores r by r.ID, replacing any with the same id. At
	// capacity the oldest closed requests make room; ErrFull if none can.
	PutRecovery(ctx context.Context, r *Recovery) error
	// Recoveries returns every stored request (in no order).
	Recoveries(ctx context.Context) ([]Recovery, error)
	// GetRecovery returns the request, ErrNotFound if none.
	GetRecovery(ctx context.Context, id string) (*Recovery, error)
	// Close releases the store's resources (not a shared Redis client).
	Close() error
}
