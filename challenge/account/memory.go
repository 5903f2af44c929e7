package account

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"sort"
	"sync"
	"time"
)

// Capacities of the memory store.
const (
	// MemoryMaxUsers is the most users with a state.
	MemoryMaxUsers = 100_000
	// MemoryMaxPending is the most pending codes and enrolments.
	MemoryMaxPending = 10_000
	// MaxRecoveries is the most recovery requests a store keeps; at
	// capacity the oldest closed ones are dropped.
	MaxRecoveries = 10_000
	// maxUpdateTries bounds the reruns of an Update's fn on conflicts.
	maxUpdateTries = 16
	// maxStateBytes bounds an encoded state.
	maxStateBytes = 64 << 10
)

type pendingKey struct{ user, id string }
type claimKey struct{ kind, value string }

// memoryStore is the in-process Store.
type memoryStore struct {
	mu         sync.Mutex
	states     map[string][]byte // JSON, so callers never share memory with the store
	pending    map[pendingKey]*Pending
	claims     map[claimKey]string
	recoveries map[string]*Recovery

	maxUsers, maxPending, maxRecoveries int
}

// NewMemoryStore returns an in-process Store, bounded to MemoryMaxUsers
// states (and as many claims), MemoryMaxPending pending items and
// MaxRecoveries recovery requests: ErrFull beyond.
func NewMemoryStore() Store {
	return newMemoryStore(MemoryMaxUsers, MemoryMaxPending, MaxRecoveries)
}

func newMemoryStore(users, pending, recoveries int) *memoryStore {
	return &memoryStore{
		states:     make(map[string][]byte),
		pending:    make(map[pendingKey]*Pending),
		claims:     make(map[claimKey]string),
		recoveries: make(map[string]*Recovery),
		maxUsers:   users, maxPending: pending, maxRecoveries: recoveries,
	}
}

func decodeState(user string, b []byte) (*State, error) {
	st := &State{User: user}
	if b == nil {
		return st, nil
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, err
	}
	st.User = user
	return st, nil
}

func encodeState(st *State) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	if len(b) > maxStateBytes {
		return nil, ErrFull
	}
	return b, nil
}

func (m *memoryStore) Load(_ context.Context, user string) (*State, error) {
	m.mu.Lock()
	b := m.states[user]
	m.mu.Unlock()
	return decodeState(user, b)
}

func (m *memoryStore) Update(_ context.Context, user string, fn func(*State) error) error {
	// fn runs under the lock: it must not call the store (the Service's
	// never do).
	m.mu.Lock()
	defer m.mu.Unlock()
	old, had := m.states[user]
	st, err := decodeState(user, old)
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	b, err := encodeState(st)
	if err != nil {
		return err
	}
	if !had && len(m.states) >= m.maxUsers {
		return ErrFull
	}
	m.states[user] = b
	return nil
}

func (m *memoryStore) Claim(_ context.Context, kind, value, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := claimKey{kind, value}
	switch h, ok := m.claims[k]; {
	case ok && h == user:
		return nil
	case ok:
		return ErrTaken
	case len(m.claims) >= 2*m.maxUsers:
		return ErrFull
	}
	m.claims[k] = user
	return nil
}

func (m *memoryStore) Release(_ context.Context, kind, value, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := claimKey{kind, value}
	if m.claims[k] == user {
		delete(m.claims, k)
	}
	return nil
}

func (m *memoryStore) Holder(_ context.Context, kind, value string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.claims[claimKey{kind, value}], nil
}

func clonePending(p *Pending) *Pending {
	c := *p
	c.MAC = append([]byte(nil), p.MAC...)
	c.SealedKey = append([]byte(nil), p.SealedKey...)
	return &c
}

func (m *memoryStore) PutPending(_ context.Context, p *Pending) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := pendingKey{p.User, p.ID}
	if _, ok := m.pending[k]; !ok && len(m.pending) >= m.maxPending {
		now := time.Now()
		for k, q := range m.pending { // make room: drop the expired
			if !now.Before(q.Expires) {
				delete(m.pending, k)
			}
		}
		if len(m.pending) >= m.maxPending {
			return ErrFull
		}
	}
	m.pending[k] = clonePending(p)
	return nil
}

// live returns the pending item if it exists and has not expired at now
// (an expired one is dropped). The lock is held.
func (m *memoryStore) live(user, id string, now time.Time) *Pending {
	k := pendingKey{user, id}
	p, ok := m.pending[k]
	if !ok {
		return nil
	}
	if !now.Before(p.Expires) {
		delete(m.pending, k)
		return nil
	}
	return p
}

func (m *memoryStore) AttemptPending(_ context.Context, user, id string, mac []byte, now time.Time) (*Pending, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.live(user, id, now)
	if p == nil || p.AttemptsLeft <= 0 {
		return nil, false, ErrNotFound
	}
	k := pendingKey{user, id}
	if subtle.ConstantTimeCompare(mac, p.MAC) == 1 {
		delete(m.pending, k)
		return clonePending(p), true, nil
	}
	p.AttemptsLeft--
	if p.AttemptsLeft <= 0 {
		delete(m.pending, k)
	}
	return clonePending(p), false, nil
}

func (m *memoryStore) GetPending(_ context.Context, user, id string, now time.Time) (*Pending, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.live(user, id, now)
	if p == nil {
		return nil, ErrNotFound
	}
	return clonePending(p), nil
}

func (m *memoryStore) DeletePending(_ context.Context, user, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, pendingKey{user, id})
	return nil
}

func (m *memoryStore) PutRecovery(_ context.Context, r *Recovery) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recoveries[r.ID]; !ok && len(m.recoveries) >= m.maxRecoveries {
		// Make room: the oldest closed request goes.
		var oldest *Recovery
		for _, q := range m.recoveries {
			if q.State == RecoveryClosed && (oldest == nil || q.Closed.Before(oldest.Closed)) {
				oldest = q
			}
		}
		if oldest == nil {
			return ErrFull
		}
		delete(m.recoveries, oldest.ID)
	}
	c := *r
	m.recoveries[r.ID] = &c
	return nil
}

func (m *memoryStore) Recoveries(_ context.Context) ([]Recovery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Recovery, 0, len(m.recoveries))
	for _, r := range m.recoveries {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memoryStore) GetRecovery(_ context.Context, id string) (*Recovery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recoveries[id]
	if !ok {
		return nil, ErrNotFound
	}
	c := *r
	return &c, nil
}

func (m *memoryStore) Close() error { return nil }
