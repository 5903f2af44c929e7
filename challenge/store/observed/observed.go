// Package observed wraps a store.Store so that every call is reported —
// its operation, how long it took and its error — to a function the
// caller gives, typically one that feeds Prometheus metrics. The wrapper
// changes nothing about what the store does: it forwards every call and
// returns what the store returned.
//
// It can also keep a cheap, honest count of pending challenges for
// stores that cannot count their own cheaply (Redis): see Options.
//
// Code that looks for an optional interface of the store beneath (a
// type assertion on the engine's store) must look through wrappers: use
// As, which follows Unwrap the way errors.As follows error chains.
package observed

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// Operation names, one per method of store.Store, as given to the
// observe function. They are fixed and few, so they make bounded metric
// labels.
const (
	OpCreate      = "create"
	OpGet         = "get"
	OpBegin       = "begin"
	OpAttempt     = "attempt"
	OpDelete      = "delete"
	OpDeliver     = "deliver"
	OpSettle      = "settle"
	OpLockedUntil = "locked_until"
	OpFailures    = "failures"
	OpUnlock      = "unlock"
	OpSpendSMS    = "spend_sms"
	OpSpendEmail  = "spend_email"
	OpRefund      = "refund"
)

// Ops lists every operation name, in the order of store.Store's methods.
// (The store.Approvals of the store beneath are not wrapped: the engine
// finds them through Unwrap, see store.ApprovalsOf.)
var Ops = []string{OpCreate, OpGet, OpBegin, OpAttempt, OpDelete, OpDeliver, OpSettle,
	OpLockedUntil, OpFailures, OpUnlock, OpSpendSMS, OpSpendEmail, OpRefund}

// Results of Result.
const (
	// ResultOK: the call succeeded.
	ResultOK = "ok"
	// ResultRefused: the store worked and said no (not found, locked, a
	// limit, a cooldown, a spent budget, replicas lagging, ...).
	ResultRefused = "refused"
	// ResultError: the store could not answer (unreachable, timed out,
	// a corrupt reply) or is full (store.ErrFull: out of capacity, which
	// an operator must hear about): the engine fails closed.
	ResultError = "error"
)

// Result classifies a store call's error as ResultOK, ResultRefused (a
// decision of a working store, documented in package store) or
// ResultError (the store failed).
func Result(err error) string {
	if err == nil {
		return ResultOK
	}
	var (
		ce *store.CooldownError
		le *store.LimitError
		lk *store.LockedError
	)
	for _, d := range decisions {
		if errors.Is(err, d) {
			return ResultRefused
		}
	}
	if errors.As(err, &ce) || errors.As(err, &le) || errors.As(err, &lk) {
		return ResultRefused
	}
	return ResultError
}

// decisions are the sentinel errors a working store answers with.
var decisions = []error{
	store.ErrNotFound, store.ErrExists, store.ErrNoMethod,
	store.ErrMethodNotOffered, store.ErrTooManyPending, store.ErrDelivered,
	store.ErrDeliveryBusy, store.ErrDeliveriesExhausted, store.ErrNotDurable,
	store.ErrExhausted, store.ErrAwaitingApproval, store.ErrRejected, store.ErrDecided,
}

// Options configure WrapWith.
type Options struct {
	// Observe, if not nil, is called after every call with the
	// operation's name (one of Ops), the call's duration and the error
	// it returned. It runs on the caller's goroutine and must be quick
	// and safe for concurrent use. It never sees arguments or results:
	// no user ids, challenge ids, codes or MACs.
	Observe func(op string, d time.Duration, err error)
	// TrackPending makes the wrapper count the pending challenges it
	// has seen created (see Store.Pending). It costs a map entry per
	// pending challenge and a mutex per Create, Get, Attempt and Delete.
	TrackPending bool
	// MaxTracked bounds how many challenges TrackPending remembers.
	// Default DefaultMaxTracked.
	MaxTracked int
}

// DefaultMaxTracked is the default of Options.MaxTracked: the memory
// store's default capacity.
const DefaultMaxTracked = 100_000

// Store is a store.Store that reports every call. Create it with Wrap or
// WrapWith.
type Store struct {
	s       store.Store
	observe func(op string, d time.Duration, err error)
	track   *tracker
}

// Wrap returns s reporting every call to observe (see Options.Observe).
func Wrap(s store.Store, observe func(op string, d time.Duration, err error)) *Store {
	return WrapWith(s, Options{Observe: observe})
}

// WrapWith returns s wrapped as o says.
func WrapWith(s store.Store, o Options) *Store {
	w := &Store{s: s, observe: o.Observe}
	if o.TrackPending {
		max := o.MaxTracked
		if max <= 0 {
			max = DefaultMaxTracked
		}
		w.track = &tracker{max: max, ids: make(map[string]time.Time)}
	}
	return w
}

// Unwrap returns the store w wraps.
func (w *Store) Unwrap() store.Store { return w.s }

// As reports whether s, or a store beneath it (following the Unwrap()
// store.Store methods of wrappers such as *Store), is a T, and returns
// the first one that is. It is how glue finds an optional interface of
// the real store (a Ping, a Len) through wrappers.
func As[T any](s store.Store) (T, bool) {
	for s != nil {
		if t, ok := s.(T); ok {
			return t, true
		}
		u, ok := s.(interface{ Unwrap() store.Store })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	var zero T
	return zero, false
}

func (w *Store) done(op string, start time.Time, err error) {
	if w.observe != nil {
		w.observe(op, time.Since(start), err)
	}
}

// Create implements store.Store.
func (w *Store) Create(ctx context.Context, r *store.Record, now time.Time) error {
	start := time.Now()
	err := w.s.Create(ctx, r, now)
	w.done(OpCreate, start, err)
	if err == nil && w.track != nil && !r.Confirmed() && r.AttemptsLeft > 0 {
		w.track.add(r.ID, r.Expires, now)
	}
	return err
}

// Get implements store.Store.
func (w *Store) Get(ctx context.Context, id string, o store.Owner, now time.Time) (*store.Record, error) {
	start := time.Now()
	r, err := w.s.Get(ctx, id, o, now)
	w.done(OpGet, start, err)
	if err == nil && w.track != nil && (r.Confirmed() && !r.AwaitingApproval() || r.AttemptsLeft <= 0) {
		w.track.drop(id) // ended, perhaps through another gateway
	}
	return r, err
}

// Begin implements store.Store.
func (w *Store) Begin(ctx context.Context, id string, o store.Owner, b store.Begin, now time.Time) (*store.Record, error) {
	start := time.Now()
	r, err := w.s.Begin(ctx, id, o, b, now)
	w.done(OpBegin, start, err)
	return r, err
}

// Attempt implements store.Store.
func (w *Store) Attempt(ctx context.Context, id string, o store.Owner, mac []byte, l store.Lockout, now time.Time) (store.Result, error) {
	start := time.Now()
	res, err := w.s.Attempt(ctx, id, o, mac, l, now)
	w.done(OpAttempt, start, err)
	if w.track != nil && (errors.Is(err, store.ErrNotDurable) ||
		err == nil && (res.Outcome == store.Confirmed || res.Outcome == store.Exhausted || res.Outcome == store.Repeated) &&
			(res.Record == nil || !res.Record.AwaitingApproval())) {
		w.track.drop(id) // awaiting approval stays pending until decided
	}
	return res, err
}

// Delete implements store.Store.
func (w *Store) Delete(ctx context.Context, id string, o store.Owner) error {
	start := time.Now()
	err := w.s.Delete(ctx, id, o)
	w.done(OpDelete, start, err)
	if err == nil && w.track != nil {
		w.track.drop(id)
	}
	return err
}

// Deliver implements store.Store.
func (w *Store) Deliver(ctx context.Context, id string, o store.Owner, max int, now time.Time) (*store.Record, error) {
	start := time.Now()
	r, err := w.s.Deliver(ctx, id, o, max, now)
	w.done(OpDeliver, start, err)
	return r, err
}

// Settle implements store.Store.
func (w *Store) Settle(ctx context.Context, id string, o store.Owner, delivered bool, now time.Time) error {
	start := time.Now()
	err := w.s.Settle(ctx, id, o, delivered, now)
	w.done(OpSettle, start, err)
	return err
}

// LockedUntil implements store.Regulator.
func (w *Store) LockedUntil(ctx context.Context, user string, now time.Time) (time.Time, error) {
	start := time.Now()
	t, err := w.s.LockedUntil(ctx, user, now)
	w.done(OpLockedUntil, start, err)
	return t, err
}

// Failures implements store.Regulator.
func (w *Store) Failures(ctx context.Context, user string, now time.Time) (int, time.Time, error) {
	start := time.Now()
	n, until, err := w.s.Failures(ctx, user, now)
	w.done(OpFailures, start, err)
	return n, until, err
}

// Unlock implements store.Regulator.
func (w *Store) Unlock(ctx context.Context, user string) error {
	start := time.Now()
	err := w.s.Unlock(ctx, user)
	w.done(OpUnlock, start, err)
	return err
}

// SpendSMS implements store.Regulator.
func (w *Store) SpendSMS(ctx context.Context, user, phone string, l store.SMSLimits, now time.Time) error {
	start := time.Now()
	err := w.s.SpendSMS(ctx, user, phone, l, now)
	w.done(OpSpendSMS, start, err)
	return err
}

// SpendEmail implements store.Regulator.
func (w *Store) SpendEmail(ctx context.Context, user, address string, l store.MessageLimits, now time.Time) error {
	start := time.Now()
	err := w.s.SpendEmail(ctx, user, address, l, now)
	w.done(OpSpendEmail, start, err)
	return err
}

// Refund implements store.Regulator.
func (w *Store) Refund(ctx context.Context, channel, user, to string, spentAt time.Time) error {
	start := time.Now()
	err := w.s.Refund(ctx, channel, user, to, spentAt)
	w.done(OpRefund, start, err)
	return err
}

// Pending returns how many pending challenges w has seen created that
// have not expired at now and that w has not seen end (confirmed,
// exhausted or deleted through w, or read back through w as ended), and
// whether the count is complete: it is false when more pending
// challenges were created than Options.MaxTracked allows remembering,
// until the last of those not remembered has expired (until then the
// count is a lower bound). Without Options.TrackPending it returns
// 0, false.
//
// For a store only w uses, this is the store's pending count. For a
// store shared by several gateways, each gateway counts the challenges
// created through it; one that ends through another gateway is counted
// until it expires (at most the challenge's ttl later) or is read here.
func (w *Store) Pending(now time.Time) (n int, complete bool) {
	if w.track == nil {
		return 0, false
	}
	return w.track.count(now)
}

// tracker remembers the expiry of pending challenges by id.
type tracker struct {
	mu  sync.Mutex
	max int
	ids map[string]time.Time
	// missedUntil is the latest expiry of a challenge not remembered
	// (the map was full): until then the count is a lower bound.
	missedUntil time.Time
	lastPrune   time.Time
}

func (t *tracker) add(id string, expires, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ids) >= t.max && now.Sub(t.lastPrune) >= time.Second {
		t.prune(now) // at most once a second: a full map costs O(max)
	}
	if len(t.ids) >= t.max {
		if expires.After(t.missedUntil) {
			t.missedUntil = expires
		}
		return
	}
	t.ids[id] = expires
}

func (t *tracker) drop(id string) {
	t.mu.Lock()
	delete(t.ids, id)
	t.mu.Unlock()
}

func (t *tracker) count(now time.Time) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	return len(t.ids), !now.Before(t.missedUntil)
}

// prune forgets expired challenges. t.mu must be held.
func (t *tracker) prune(now time.Time) {
	t.lastPrune = now
	for id, exp := range t.ids {
		if !now.Before(exp) {
			delete(t.ids, id)
		}
	}
}

var _ store.Store = (*Store)(nil)
