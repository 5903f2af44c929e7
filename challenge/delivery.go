package challenge

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// MaxDeliveries bounds how often one confirmation is delivered to the
// upstream: the first delivery and the customer's "Try again"s.
const MaxDeliveries = 3

// repeated answers Verify for a confirmed challenge: a redelivery if it
// was never delivered and no delivery is in flight, else what happened.
func (e *Engine) repeated(ctx context.Context, id string, o store.Owner, r *store.Record, now time.Time) (*Confirmation, error) {
	if a := r.Approval; a != nil {
		switch {
		case a.Decided.IsZero():
			return nil, &AwaitingApprovalError{Until: a.Until}
		case a.Rejected:
			return nil, ErrRejected
		}
	}
	if r.Delivered() {
		return nil, &AlreadyConfirmedError{At: r.ConfirmedAt, Delivered: true}
	}
	if now.Before(r.LeaseUntil) {
		return nil, &AlreadyConfirmedError{At: r.ConfirmedAt, RetryAt: r.LeaseUntil}
	}
	return e.deliver(ctx, id, o, now)
}

// Deliver delivers a confirmed but undelivered challenge again (the
// customer's "Try again" after the upstream failed to answer): the same
// stash, id and Enumgate-Confirmed header. Errors: ErrUnknown,
// *AlreadyConfirmedError (delivered, or a delivery in flight),
// ErrDeliveriesExhausted, *AwaitingApprovalError (not approved yet),
// ErrRejected, ErrUnavailable.
func (e *Engine) Deliver(ctx context.Context, id string, s Subject) (*Confirmation, error) {
	if !ValidID(id) {
		return nil, ErrUnknown
	}
	return e.deliver(ctx, id, e.owner(s), e.cfg.Now())
}

func (e *Engine) deliver(ctx context.Context, id string, o store.Owner, now time.Time) (*Confirmation, error) {
	r, err := e.cfg.Store.Deliver(ctx, id, o, MaxDeliveries, now)
	var (
		be *store.DeliveryBusyError
		ae *store.AwaitingApprovalError
	)
	switch {
	case errors.As(err, &ae):
		return nil, &AwaitingApprovalError{Until: ae.Until}
	case errors.Is(err, store.ErrRejected):
		return nil, ErrRejected
	case errors.As(err, &be):
		return nil, &AlreadyConfirmedError{RetryAt: be.Until}
	case errors.Is(err, store.ErrDelivered):
		return nil, &AlreadyConfirmedError{Delivered: true}
	case errors.Is(err, store.ErrDeliveriesExhausted):
		return nil, ErrDeliveriesExhausted
	case errors.Is(err, store.ErrNotDurable):
		return nil, fmt.Errorf("%w: %w", ErrNotDelivered, err)
	case err != nil:
		return nil, storeErr(err)
	}
	return e.confirmation(r)
}

// Settle records whether the upstream answered a delivered confirmation:
// delivered, it can never be delivered again; not delivered, the customer
// may try again at once.
func (e *Engine) Settle(ctx context.Context, conf *Confirmation, delivered bool) error {
	id := conf.Challenge.ID
	o := store.Owner{User: conf.User, Session: conf.session}
	// A fresh context: the request's may be gone with the upstream.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := e.cfg.Store.Settle(ctx, id, o, delivered, e.cfg.Now())
	switch {
	case errors.Is(err, store.ErrNotDurable):
		// Settled on the master; a failover before a replica has it could
		// allow one redelivery, which the upstream's Idempotency-Key
		// absorbs. Reported so the caller can log it.
		e.emit(ctx, Event{Kind: EventDelivered, ChallengeID: id, User: conf.User, Operation: conf.Challenge.Operation, Method: conf.Method, Err: err})
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case err != nil:
		return fmt.Errorf("%w: store: %w", ErrUnavailable, err)
	}
	kind := EventDelivered
	if !delivered {
		kind = EventNotDelivered
	}
	e.emit(ctx, Event{Kind: kind, ChallengeID: id, User: conf.User, Operation: conf.Challenge.Operation, Method: conf.Method,
		Amount: conf.Challenge.Amount, Currency: conf.Challenge.Currency, Payee: conf.Challenge.PayeeDisplay, Delivery: conf.Delivery})
	return nil
}

// confirmation opens the stash of a confirmed record and signs its
// header, with the confirmation's own time, so every delivery carries
// the same header.
func (e *Engine) confirmation(r *store.Record) (*Confirmation, error) {
	id := r.ID
	enc, err := e.openStash(id, r.Stash)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(digest(enc), r.Digest) != 1 {
		return nil, fmt.Errorf("%w: stashed request does not match its digest", ErrUnavailable)
	}
	st, err := DecodeStash(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	c, verr := view(r)
	if verr != nil {
		// Confirmed already: the confirmation stands; only its description
		// beyond operation, amount and payee is lost.
		c = &Challenge{ID: r.ID, Operation: r.Operation, Amount: r.Amount, Payee: r.Payee, PayeeDisplay: r.Payee, Expires: r.Expires}
	}
	at := r.ConfirmedAt
	if at.IsZero() {
		at = e.cfg.Now()
	}
	conf := &Confirmation{Challenge: c, Method: Method(r.Method), User: r.User, Time: at, Stash: st, Delivery: r.Deliveries, session: r.Session}
	conf.Header = confirmedFor(id, r.Operation, conf.Method, r.User, at, st).Sign(e.confirmKey)
	if a := r.Approval; a != nil || c.ApprovalGroup != "" {
		if a == nil || a.Decided.IsZero() || a.Rejected {
			// Never forwarded without an approval.
			return nil, fmt.Errorf("%w: an operation that needs approval is not approved", ErrUnavailable)
		}
		conf.Approver, conf.ApproverMethod, conf.ApprovedAt = a.ApprovedBy, Method(a.Method), a.Decided
		conf.ApprovalHeader = confirmedFor(id, r.Operation, conf.ApproverMethod, a.ApprovedBy, a.Decided, st).Sign(e.confirmKey)
	}
	return conf, nil
}

// Cancel removes the challenge on the user's request.
