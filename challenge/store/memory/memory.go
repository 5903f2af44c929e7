// Package memory is the in-process challenge store, the embedded default.
//
// It is sharded to keep lock contention low, expires challenges by TTL
// with a background sweep, and is bounded: when it holds MaxChallenges
// challenges or MaxBytes bytes of stashed requests it refuses new
// challenges with store.ErrFull rather than evict a live one. It is not a
// cache: nothing it holds is ever dropped before its expiry.
package memory

import (
	"context"
	"hash/maphash"
	"slices"
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
)

const shardCount = 64

// Options configure a Store. Zero fields take the defaults above.
type Options struct {
	// MaxChallenges is the most challenges held at once.
	MaxChallenges int
	// MaxBytes is the most bytes of stashed requests held at once.
	MaxBytes int64
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

	regMu    sync.Mutex
	users    map[string]*userReg
	phones   map[string]time.Time
	day      time.Time
	dayCount int
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
	s := &Store{
		opts: opts, seed: maphash.MakeSeed(), stop: make(chan struct{}), done: make(chan struct{}),
		users: make(map[string]*userReg), phones: make(map[string]time.Time),
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

func (s *Store) shard(id string) *shard {
	return &s.shards[maphash.String(s.seed, id)%shardCount]
}

func recordBytes(r *store.Record) int64 { return int64(len(r.Stash) + len(r.View)) }

// Create implements store.Store.
func (s *Store) Create(_ context.Context, r *store.Record, now time.Time) error {
	if until := s.lockedUntil(r.User, now); !until.IsZero() {
		return &store.LockedError{Until: until}
	}
	size := recordBytes(r)
	if s.count.Add(1) > int64(s.opts.MaxChallenges) {
		s.count.Add(-1)
		return store.ErrFull
	}
	if s.bytes.Add(size) > s.opts.MaxBytes {
		s.bytes.Add(-size)
		s.count.Add(-1)
		return store.ErrFull
	}
	sh := s.shard(r.ID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[r.ID]; ok {
		s.bytes.Add(-size)
		s.count.Add(-1)
		return store.ErrExists
	}
	sh.m[r.ID] = r.Clone()
	return nil
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

func (s *Store) remove(sh *shard, r *store.Record) {
	delete(sh.m, r.ID)
	s.count.Add(-1)
	s.bytes.Add(-recordBytes(r))
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
	if r == nil {
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
	if b.Cooldown > 0 {
		if r.ResendAt == nil {
			r.ResendAt = make(map[string]time.Time, 1)
		}
		r.ResendAt[b.Method] = now.Add(b.Cooldown)
	}
	return r.Clone(), nil
}

// Attempt implements store.Store. The shard's lock is held throughout and
// the regulation lock is taken inside it, so the answer, the budget and the
// user's failure count change together.
func (s *Store) Attempt(_ context.Context, id string, o store.Owner, mac []byte, l store.Lockout, now time.Time) (store.Result, error) {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.regMu.Lock()
	defer s.regMu.Unlock()
	u := s.users[o.User]
	if u != nil && now.Before(u.lockedUntil) {
		return store.Result{}, &store.LockedError{Until: u.lockedUntil}
	}
	r := s.live(sh, id, o, now)
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
		s.remove(sh, r)
		if u != nil {
			u.fails = 0
		}
		return store.Result{Outcome: store.Confirmed, AttemptsLeft: r.AttemptsLeft, Record: r}, nil
	}
	res := store.Result{Outcome: store.Wrong}
	r.AttemptsLeft--
	res.AttemptsLeft = r.AttemptsLeft
	if r.AttemptsLeft <= 0 {
		// Keep a tombstone without the stash or expected answers so the
		// user keeps seeing "too many attempts" until expiry.
		s.bytes.Add(-recordBytes(r))
		r.Stash, r.Expected = nil, nil
		res.Outcome = store.Exhausted
	}
	if l.After > 0 {
		if u == nil {
			if u = s.regulated(o.User); u == nil {
				// Fail closed: a failure that cannot be counted is an error.
				return store.Result{}, store.ErrFull
			}
		}
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
	if !ok || !o.Owns(r) {
		return store.ErrNotFound
	}
	s.remove(sh, r)
	return nil
}

// Sweep removes every challenge expired at now and returns how many.
func (s *Store) Sweep(now time.Time) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, r := range sh.m {
			if !now.Before(r.Expires) {
				s.remove(sh, r)
				n++
			}
		}
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
var _ store.Store = (*Store)(nil)
