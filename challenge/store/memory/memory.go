// Package memory is the in-process challenge store, the embedded default.
//
// It is sharded to keep lock contention low, expires challenges by TTL
// with a background sweep, and is bounded: when it holds MaxChallenges
// challenges or MaxBytes bytes of stashed requests it refuses new
// challenges with store.ErrFull rather than evict a live one. Before that
// global bound, every user has a fair share (MaxPendingPerUser,
// MaxBytesPerUser): a user over it gets *store.TooManyPendingError, so one
// customer cannot fill the store for the others. It is not a cache:
// nothing it holds is ever dropped before its expiry.
//
// Bytes are those of a record's Stash and View, counted while the record
// keeps its stash: an exhausted tombstone or a delivered confirmation
// drops the stash and no longer counts.
//
// A confirmation awaiting approval stays pending for the per-user share
// (and for Pending) until an approver decides, so one customer cannot
// crowd the approvers' list; the store indexes it by group for Awaiting.
package memory

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// Defaults for Options.
const (
	// DefaultMaxChallenges bounds the number of pending challenges.
	DefaultMaxChallenges = 100_000
	// DefaultMaxBytes bounds the bytes of stashed requests held.
	DefaultMaxBytes = 256 << 20
	// DefaultSweepInterval is how often expired challenges are removed.
	DefaultSweepInterval = 30 * time.Second
	// DefaultMaxPendingPerUser is store.DefaultMaxPendingPerUser.
	DefaultMaxPendingPerUser = store.DefaultMaxPendingPerUser
	// DefaultMaxBytesPerUser is store.DefaultMaxBytesPerUser.
	DefaultMaxBytesPerUser = store.DefaultMaxBytesPerUser
	// DefaultDeliveryLease is store.DefaultDeliveryLease.
	DefaultDeliveryLease = store.DefaultDeliveryLease
)

const shardCount = 64

// Options configure a Store. Zero fields take the defaults above.
type Options struct {
	// MaxChallenges is the most challenges held at once (the last line
	// behind the per-user limits).
	MaxChallenges int
	// MaxBytes is the most bytes of stashed requests held at once.
	MaxBytes int64
	// MaxPendingPerUser is the most pending challenges (created, not
	// confirmed, not exhausted, not expired, not deleted) one user may
	// hold. Default 10; negative disables the limit.
	MaxPendingPerUser int
	// MaxBytesPerUser is the most bytes of stashed requests (Stash and
	// View) one user's unexpired challenges may hold, confirmed but
	// undelivered ones included. Default 1 MiB; negative disables the
	// limit. Keep it at least the largest record one request can make.
	MaxBytesPerUser int64
	// DeliveryLease is how long a delivery of a confirmed request holds
	// its lease (the first Confirmed and every Deliver). Default 30s; a
	// value <= 0 takes the default.
	DeliveryLease time.Duration
	// SweepInterval is how often expired challenges are removed. A negative
	// value disables the background sweep (tests call Sweep themselves).
	SweepInterval time.Duration
	// Now is the clock used by the sweep; time.Now if nil.
	Now func() time.Time
}

// Store is the in-process challenge store. The zero value is not usable;
// call New.
type Store struct {
	opts   Options
	seed   maphash.Seed
	shards [shardCount]shard
	count  atomic.Int64
	bytes  atomic.Int64
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once

	// regMu guards the regulation state and the per-user shares. It is
	// taken inside a shard's lock, never the other way round.
	regMu  sync.Mutex
	users  map[string]*userReg
	chans  [channels]chanState
	spends map[spendKey]int
	held   map[string]map[string]held // user -> challenge id -> share

	// apprMu guards awaiting, the approvals index. It is taken inside a
	// shard's lock and the regulation lock, never the other way round.
	apprMu   sync.Mutex
	awaiting map[string]map[string]struct{} // group -> ids awaiting approval
}

// held is one challenge's part of its user's share: while pending it
// counts against MaxPendingPerUser, while it keeps its stash against
// MaxBytesPerUser. Challenges that count for neither have no entry.
type held struct {
	expires time.Time
	size    int64
	pending bool
}

type shard struct {
	mu sync.Mutex
	m  map[string]*store.Record
}

// New returns a Store and starts its sweep goroutine; call Close to stop it.
func New(opts Options) *Store {
	if opts.MaxChallenges <= 0 {
		opts.MaxChallenges = DefaultMaxChallenges
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxPendingPerUser == 0 {
		opts.MaxPendingPerUser = DefaultMaxPendingPerUser
	}
	if opts.MaxBytesPerUser == 0 {
		opts.MaxBytesPerUser = DefaultMaxBytesPerUser
	}
	if opts.DeliveryLease <= 0 {
		opts.DeliveryLease = DefaultDeliveryLease
	}
	s := &Store{
		opts: opts, seed: maphash.MakeSeed(), stop: make(chan struct{}), done: make(chan struct{}),
		users: make(map[string]*userReg), spends: make(map[spendKey]int), held: make(map[string]map[string]held),
		awaiting: make(map[string]map[string]struct{}),
	}
	for i := range s.chans {
		s.chans[i].dests = make(map[string]time.Time)
	}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*store.Record)
	}
	if opts.SweepInterval > 0 {
		go s.sweepLoop()
	} else {
		close(s.done)
	}
	return s
}

// Close stops the sweep goroutine. The store's contents stay usable.
func (s *Store) Close() error {
	s.closed.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// Len returns the number of challenges held, expired or not.
func (s *Store) Len() int { return int(s.count.Load()) }

// Pending returns the number of pending challenges at now: created, not
// confirmed, not exhausted, not expired, not deleted — what
// MaxPendingPerUser counts, summed over every user. It is exact and
// takes time proportional to the challenges held, under the lock that
// Create also takes, so call it for a metrics scrape, not per request.
func (s *Store) Pending(now time.Time) int {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	n := 0
	for _, m := range s.held {
		for _, h := range m {
			if h.pending && now.Before(h.expires) {
				n++
			}
		}
	}
	return n
}

func (s *Store) shard(id string) *shard {
	return &s.shards[maphash.String(s.seed, id)%shardCount]
}

// recordBytes is what r counts against MaxBytes and MaxBytesPerUser: its
// stash and view while it keeps a stash, nothing once the stash is
// dropped (an exhausted tombstone, a delivered confirmation).
func recordBytes(r *store.Record) int64 {
	if len(r.Stash) == 0 {
		return 0
	}
	return int64(len(r.Stash) + len(r.View))
}

// Create implements store.Store. The lock, the user's share and the
// global bounds are checked and the challenge stored under one shard lock
// and the regulation lock, so concurrent Creates never overshoot a limit.
func (s *Store) Create(_ context.Context, r *store.Record, now time.Time) error {
	if a := r.Approval; a != nil && (a.Group == "" || a.Window <= 0) {
		return errApproval
	}
	sh := s.shard(r.ID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if u, ok := s.users[r.User]; ok && now.Before(u.lockedUntil) {
		return &store.LockedError{Until: u.lockedUntil}
	}
	if _, ok := sh.m[r.ID]; ok {
		return store.ErrExists
	}
	size := recordBytes(r)
	if err := s.checkShare(r.User, size, now); err != nil {
		return err
	}
	if s.count.Load() >= int64(s.opts.MaxChallenges) || s.bytes.Load()+size > s.opts.MaxBytes {
		return store.ErrFull
	}
	s.count.Add(1)
	s.bytes.Add(size)
	c := r.Clone()
	sh.m[r.ID] = c
	if pending := !c.Confirmed() && c.AttemptsLeft > 0; pending || size > 0 {
		s.hold(c.User, c.ID, held{expires: c.Expires, size: size, pending: pending})
	}
	return nil
}

// errApproval refuses a record whose Approval cannot work.
var errApproval = errors.New("memory: an approval needs a group and a positive window")

// checkShare returns a *store.TooManyPendingError if a new challenge of
// size bytes would put user over a per-user limit at now. It forgets the
// user's expired entries on the way. s.regMu must be held.
func (s *Store) checkShare(user string, size int64, now time.Time) error {
	if s.opts.MaxPendingPerUser <= 0 && s.opts.MaxBytesPerUser <= 0 {
		return nil // both shares off: nothing to count (Sweep forgets the expired)
	}
	m := s.held[user]
	var pending int
	var bytes int64
	var firstPending, firstHeld time.Time
	for id, h := range m {
		if !now.Before(h.expires) {
			delete(m, id)
			continue
		}
		if h.pending {
			pending++
			if firstPending.IsZero() || h.expires.Before(firstPending) {
				firstPending = h.expires
			}
		}
		if h.size > 0 {
			bytes += h.size
			if firstHeld.IsZero() || h.expires.Before(firstHeld) {
				firstHeld = h.expires
			}
		}
	}
	if m != nil && len(m) == 0 {
		delete(s.held, user)
	}
	if max := s.opts.MaxPendingPerUser; max > 0 && pending >= max {
		return &store.TooManyPendingError{RetryAt: firstPending}
	}
	if max := s.opts.MaxBytesPerUser; max > 0 && bytes+size > max {
		if size > max {
			return &store.TooManyPendingError{}
		}
		return &store.TooManyPendingError{RetryAt: firstHeld}
	}
	return nil
}

// hold records a challenge's share of its user's limits. s.regMu must be
// held.
func (s *Store) hold(user, id string, h held) {
	m := s.held[user]
	if m == nil {
		m = make(map[string]held, 1)
		s.held[user] = m
	}
	m[id] = h
}

// unhold forgets a challenge's share, or only its pending part. s.regMu
// must be held.
func (s *Store) unhold(user, id string, onlyPending bool) {
	m := s.held[user]
	h, ok := m[id]
	if !ok {
		return
	}
	if onlyPending && h.size > 0 {
		h.pending = false
		m[id] = h
		return
	}
	delete(m, id)
	if len(m) == 0 {
		delete(s.held, user)
	}
}

// dropStash drops r's stash, releasing its bytes. Both locks must be held.
func (s *Store) dropStash(r *store.Record) {
	s.bytes.Add(-recordBytes(r))
	r.Stash = nil
	s.unhold(r.User, r.ID, false)
}

// live returns the record for id if it is unexpired and owned by o.
// The shard lock must be held.
func (s *Store) live(sh *shard, id string, o store.Owner, now time.Time) *store.Record {
	r, ok := sh.m[id]
	if !ok || !now.Before(r.Expires) || !o.Owns(r) {
		return nil
	}
	return r
}

// remove deletes r. Both locks must be held.
func (s *Store) remove(sh *shard, r *store.Record) {
	delete(sh.m, r.ID)
	s.count.Add(-1)
	s.bytes.Add(-recordBytes(r))
	s.unhold(r.User, r.ID, false)
	if r.Approval != nil {
		s.unindex(r.Approval.Group, r.ID)
	}
}

// Get implements store.Store.
func (s *Store) Get(_ context.Context, id string, o store.Owner, now time.Time) (*store.Record, error) {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := s.live(sh, id, o, now)
	if r == nil {
		return nil, store.ErrNotFound
	}
	return r.Clone(), nil
}

// Begin implements store.Store.
func (s *Store) Begin(_ context.Context, id string, o store.Owner, b store.Begin, now time.Time) (*store.Record, error) {
	if until := s.lockedUntil(o.User, now); !until.IsZero() {
		return nil, &store.LockedError{Until: until}
	}
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := s.live(sh, id, o, now)
	if r == nil || r.Confirmed() {
		return nil, store.ErrNotFound
	}
	if r.AttemptsLeft <= 0 {
		return nil, store.ErrExhausted
	}
	if !slices.Contains(r.Methods, b.Method) {
		return nil, store.ErrMethodNotOffered
	}
	if until, ok := r.ResendAt[b.Method]; ok && now.Before(until) {
		return nil, &store.CooldownError{Until: until}
	}
	r.Method, r.Question, r.SentTo = b.Method, b.Question, b.SentTo
	r.Expected = append([][]byte(nil), b.Expected...)
	// A wrong answer to the old question is a fresh guess at the new one.
	r.Tried = nil
	if b.Cooldown > 0 {
		if r.ResendAt == nil {
			r.ResendAt = make(map[string]time.Time, 1)
		}
		r.ResendAt[b.Method] = now.Add(b.Cooldown)
	}
	return r.Clone(), nil
}

// Attempt implements store.Store. The shard's lock is held throughout and
// the regulation lock is taken inside it, so the answer, the budget, the
// user's share and the user's failure count change together.
func (s *Store) Attempt(_ context.Context, id string, o store.Owner, mac []byte, l store.Lockout, now time.Time) (store.Result, error) {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.regMu.Lock()
	defer s.regMu.Unlock()
	r := s.live(sh, id, o, now)
	if r != nil && r.Confirmed() {
		if !store.MatchAny([][]byte{r.ConfirmedMAC}, mac) {
			return store.Result{}, store.ErrNotFound
		}
		return store.Result{Outcome: store.Repeated, AttemptsLeft: r.AttemptsLeft, Record: r.Clone()}, nil
	}
	u := s.users[o.User]
	if u != nil && now.Before(u.lockedUntil) {
		return store.Result{}, &store.LockedError{Until: u.lockedUntil}
	}
	if r == nil {
		return store.Result{}, store.ErrNotFound
	}
	if r.AttemptsLeft <= 0 {
		return store.Result{Outcome: store.Exhausted}, nil
	}
	if r.Method == "" {
		return store.Result{}, store.ErrNoMethod
	}
	if store.MatchAny(r.Expected, mac) {
		r.ConfirmedAt, r.ConfirmedMAC = now, append([]byte(nil), mac...)
		r.Expected, r.Tried = nil, nil
		if a := r.Approval; a != nil {
			// Awaiting approval: no lease; the share keeps counting it,
			// as pending, until the wait ends.
			a.Until = now.Add(a.Window)
			r.Expires = a.Until
			s.hold(r.User, r.ID, held{expires: r.Expires, size: recordBytes(r), pending: true})
			s.index(a.Group, r.ID)
		} else {
			r.Deliveries, r.LeaseUntil = 1, now.Add(s.opts.DeliveryLease)
			s.unhold(r.User, r.ID, true)
		}
		if u != nil {
			u.fails = 0
		}
		return store.Result{Outcome: store.Confirmed, AttemptsLeft: r.AttemptsLeft, Record: r.Clone()}, nil
	}
	if store.MatchAny(r.Tried, mac) {
		// Counted already: a retry of the same answer.
		return store.Result{Outcome: store.Wrong, AttemptsLeft: r.AttemptsLeft}, nil
	}
	if l.After > 0 && u == nil {
		if u = s.regulated(o.User); u == nil {
			// Fail closed: a failure that cannot be counted is an error,
			// and nothing changes.
			return store.Result{}, store.ErrFull
		}
	}
	res := store.Result{Outcome: store.Wrong}
	r.AttemptsLeft--
	res.AttemptsLeft = r.AttemptsLeft
	if r.AttemptsLeft <= 0 {
		// Keep a tombstone without the stash or expected answers so the
		// user keeps seeing "too many attempts" until expiry.
		s.dropStash(r)
		r.Expected, r.Tried = nil, nil
		res.Outcome = store.Exhausted
	} else if len(r.Tried) < r.MaxAttempts || r.MaxAttempts <= 0 {
		r.Tried = append(r.Tried, append([]byte(nil), mac...))
	}
	if l.After > 0 {
		u.fails++
		if u.fails >= l.After {
			u.fails, u.lockedUntil = 0, now.Add(l.For)
			res.LockedUntil = u.lockedUntil
		}
	}
	return res, nil
}

// Delete implements store.Store.
func (s *Store) Delete(_ context.Context, id string, o store.Owner) error {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r, ok := sh.m[id]
	if !ok || !o.Owns(r) || r.Confirmed() && !r.AwaitingApproval() {
		return store.ErrNotFound
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	s.remove(sh, r)
	return nil
}

// confirmed returns o's confirmed, unexpired record id. The shard lock
// must be held.
func (s *Store) confirmed(sh *shard, id string, o store.Owner, now time.Time) *store.Record {
	r := s.live(sh, id, o, now)
	if r == nil || !r.Confirmed() {
		return nil
	}
	return r
}

// Deliver implements store.Store.
func (s *Store) Deliver(_ context.Context, id string, o store.Owner, max int, now time.Time) (*store.Record, error) {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := s.confirmed(sh, id, o, now)
	switch {
	case r == nil:
		return nil, store.ErrNotFound
	case r.AwaitingApproval():
		return nil, &store.AwaitingApprovalError{Until: r.Approval.Until}
	case r.Rejected():
		return nil, store.ErrRejected
	case r.Delivered():
		return nil, store.ErrDelivered
	case now.Before(r.LeaseUntil):
		return nil, &store.DeliveryBusyError{Until: r.LeaseUntil}
	case max > 0 && r.Deliveries >= max:
		return nil, store.ErrDeliveriesExhausted
	}
	r.Deliveries++
	r.LeaseUntil = now.Add(s.opts.DeliveryLease)
	return r.Clone(), nil
}

// Settle implements store.Store.
func (s *Store) Settle(_ context.Context, id string, o store.Owner, delivered bool, now time.Time) error {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := s.confirmed(sh, id, o, now)
	switch {
	case r == nil || r.AwaitingApproval() || r.Rejected():
		return store.ErrNotFound
	case r.Delivered():
		return nil
	}
	r.LeaseUntil = time.Time{}
	if delivered {
		r.DeliveredAt = now
		s.regMu.Lock()
		s.dropStash(r)
		s.regMu.Unlock()
	}
	return nil
}

// index lists id as awaiting approval in group. s.apprMu must not be
// held.
func (s *Store) index(group, id string) {
	s.apprMu.Lock()
	defer s.apprMu.Unlock()
	m := s.awaiting[group]
	if m == nil {
		m = make(map[string]struct{}, 1)
		s.awaiting[group] = m
	}
	m[id] = struct{}{}
}

// unindex takes id off group's list. s.apprMu must not be held.
func (s *Store) unindex(group, id string) {
	s.apprMu.Lock()
	defer s.apprMu.Unlock()
	if m := s.awaiting[group]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(s.awaiting, group)
		}
	}
}

// Decide implements store.Approvals.
func (s *Store) Decide(_ context.Context, user, id, approver string, approve bool, method string, now time.Time) (*store.Record, error) {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r, ok := sh.m[id]
	if !ok || r.User != user || !now.Before(r.Expires) || r.Approval == nil || !r.Confirmed() || !r.Approval.MayDecide(r, approver) {
		return nil, store.ErrNotFound
	}
	a := r.Approval
	if !a.Decided.IsZero() {
		return nil, &store.DecidedError{At: a.Decided, By: a.ApprovedBy, Rejected: a.Rejected}
	}
	a.Decided, a.ApprovedBy, a.Method = now, approver, method
	s.regMu.Lock()
	if approve {
		r.Deliveries, r.LeaseUntil = 1, now.Add(s.opts.DeliveryLease)
		if end := now.Add(store.ApprovedGrace); end.After(r.Expires) {
			r.Expires = end
		}
		if size := recordBytes(r); size > 0 {
			s.hold(r.User, r.ID, held{expires: r.Expires, size: size})
		} else {
			s.unhold(r.User, r.ID, false)
		}
	} else {
		a.Rejected = true
		s.dropStash(r)
	}
	s.regMu.Unlock()
	s.unindex(a.Group, id)
	return r.Clone(), nil
}

// Awaiting implements store.Approvals.
func (s *Store) Awaiting(_ context.Context, group string, now time.Time) ([]*store.Record, error) {
	s.apprMu.Lock()
	ids := make([]string, 0, len(s.awaiting[group]))
	for id := range s.awaiting[group] {
		ids = append(ids, id)
	}
	s.apprMu.Unlock()
	var out []*store.Record
	for _, id := range ids {
		sh := s.shard(id)
		sh.mu.Lock()
		r, ok := sh.m[id]
		if ok && r.AwaitingApproval() && r.Approval.Group == group && now.Before(r.Expires) {
			c := r.Clone()
			c.Stash = nil
			out = append(out, c)
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b *store.Record) int {
		if c := a.ConfirmedAt.Compare(b.ConfirmedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(out) > store.MaxAwaiting {
		out = out[:store.MaxAwaiting]
	}
	return out, nil
}

// Locate implements store.Approvals.
func (s *Store) Locate(_ context.Context, id string) (string, error) {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r, ok := sh.m[id]
	if !ok || r.Approval == nil || !r.Confirmed() {
		return "", store.ErrNotFound
	}
	return r.User, nil
}

// GetAny implements store.Approvals.
func (s *Store) GetAny(_ context.Context, user, id string, now time.Time) (*store.Record, error) {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r, ok := sh.m[id]
	if !ok || r.User != user || !now.Before(r.Expires) {
		return nil, store.ErrNotFound
	}
	c := r.Clone()
	c.Stash = nil
	return c, nil
}

// Sweep removes every challenge expired at now and returns how many.
func (s *Store) Sweep(now time.Time) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		s.regMu.Lock()
		for _, r := range sh.m {
			if !now.Before(r.Expires) {
				s.remove(sh, r)
				n++
			}
		}
		s.regMu.Unlock()
		sh.mu.Unlock()
	}
	s.sweepRegulation(now)
	return n
}

func (s *Store) sweepLoop() {
	defer close(s.done)
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep(s.opts.Now())
		}
	}
}

// Interface guard.
var _ store.ApprovalStore = (*Store)(nil)
