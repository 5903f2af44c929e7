package caddymodule

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge/store"
)

// watchedStore wraps the app's store, whatever its backend: it logs a
// store outage once when it starts and once when it ends, instead of once
// per failing request. Answers of a working store (not found, limits,
// locks…) are no outage.
type watchedStore struct {
	store.Store
	logger *zap.Logger
	down   atomic.Bool
}

func (w *watchedStore) note(err error) error {
	if err == nil || isDecision(err) {
		if w.down.CompareAndSwap(true, false) {
			w.logger.Info("challenge store reachable again")
		}
		return err
	}
	if w.down.CompareAndSwap(false, true) {
		w.logger.Error("challenge store unavailable: protected requests fail closed until it is back", zap.Error(err))
	}
	return err
}

// isDecision reports errors that are answers from a working store.
func isDecision(err error) bool {
	var (
		ce *store.CooldownError
		le *store.LimitError
		lk *store.LockedError
	)
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrNoMethod) ||
		errors.Is(err, store.ErrExhausted) || errors.Is(err, store.ErrMethodNotOffered) ||
		errors.Is(err, store.ErrTooManyPending) || errors.Is(err, store.ErrDelivered) ||
		errors.Is(err, store.ErrDeliveryBusy) || errors.Is(err, store.ErrDeliveriesExhausted) ||
		errors.Is(err, store.ErrNotDurable) || // replicas lag: the store answered
		errors.Is(err, store.ErrAwaitingApproval) || errors.Is(err, store.ErrRejected) || errors.Is(err, store.ErrDecided) ||
		errors.As(err, &ce) || errors.As(err, &le) || errors.As(err, &lk)
}

// Unwrap returns the store watched, so the engine finds what it also
// keeps (approvals).
func (w *watchedStore) Unwrap() store.Store { return w.Store }

func (w *watchedStore) Create(ctx context.Context, r *store.Record, now time.Time) error {
	return w.note(w.Store.Create(ctx, r, now))
}

func (w *watchedStore) Get(ctx context.Context, id string, o store.Owner, now time.Time) (*store.Record, error) {
	r, err := w.Store.Get(ctx, id, o, now)
	return r, w.note(err)
}

func (w *watchedStore) Begin(ctx context.Context, id string, o store.Owner, b store.Begin, now time.Time) (*store.Record, error) {
	r, err := w.Store.Begin(ctx, id, o, b, now)
	return r, w.note(err)
}

func (w *watchedStore) Attempt(ctx context.Context, id string, o store.Owner, mac []byte, l store.Lockout, now time.Time) (store.Result, error) {
	r, err := w.Store.Attempt(ctx, id, o, mac, l, now)
	return r, w.note(err)
}

func (w *watchedStore) Delete(ctx context.Context, id string, o store.Owner) error {
	return w.note(w.Store.Delete(ctx, id, o))
}

func (w *watchedStore) Failures(ctx context.Context, user string, now time.Time) (int, time.Time, error) {
	n, until, err := w.Store.Failures(ctx, user, now)
	return n, until, w.note(err)
}

func (w *watchedStore) SpendEmail(ctx context.Context, user, address string, l store.MessageLimits, now time.Time) error {
	return w.note(w.Store.SpendEmail(ctx, user, address, l, now))
}

func (w *watchedStore) Refund(ctx context.Context, channel, user, to string, spentAt time.Time) error {
	return w.note(w.Store.Refund(ctx, channel, user, to, spentAt))
}

func (w *watchedStore) Deliver(ctx context.Context, id string, o store.Owner, max int, now time.Time) (*store.Record, error) {
	r, err := w.Store.Deliver(ctx, id, o, max, now)
	return r, w.note(err)
}

func (w *watchedStore) Settle(ctx context.Context, id string, o store.Owner, delivered bool, now time.Time) error {
	return w.note(w.Store.Settle(ctx, id, o, delivered, now))
}

func (w *watchedStore) SpendSMS(ctx context.Context, user, phone string, l store.SMSLimits, now time.Time) error {
	return w.note(w.Store.SpendSMS(ctx, user, phone, l, now))
}

func (w *watchedStore) LockedUntil(ctx context.Context, user string, now time.Time) (time.Time, error) {
	t, err := w.Store.LockedUntil(ctx, user, now)
	return t, w.note(err)
}

var _ store.Store = (*watchedStore)(nil)
