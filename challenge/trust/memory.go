package trust

import (
	"context"
	"crypto/subtle"
	"sort"
	"sync"
	"time"
)

// Defaults of MemoryOptions.
const (
	// DefaultMemoryMaxUsers is the most users with any state.
	DefaultMemoryMaxUsers = 100_000
	// DefaultMemoryMaxEntries is the most entries (grants, trusted
	// payees, remembered payees and clients, daily totals) of all users.
	DefaultMemoryMaxEntries = 1_000_000
)

// MemoryOptions configure the memory store. Zero fields take the defaults.
type MemoryOptions struct {
	// MaxUsers bounds the users with any state. Default
	// DefaultMemoryMaxUsers.
	MaxUsers int
	// MaxEntries bounds the entries of all users together. Default
	// DefaultMemoryMaxEntries.
	MaxEntries int
	// RiskRetention is how long a marked payee or client is remembered.
	// Default RiskRetention.
	RiskRetention time.Duration
	// Now is the clock of the calls that take no time (SeenPayee, Trust,
	// Untrust); time.Now if nil.
	Now func() time.Time
}

type dailyKey struct{ day, currency string }

// memUser is one user's state. Maps are created on first use.
type memUser struct {
	grants  map[string]*Grant // by id
	slots   map[string]string // slotHex(section, session) -> grant id
	trusted map[string]Payee  // by payee
	payees  map[string]int64  // hashHex(payee) -> last mark (ms)
	clients map[string]int64  // hashHex(key) -> last mark (ms)
	daily   map[dailyKey]amount
	pruned  time.Time // when prune last ran
}

// pruneEvery is how often a user's expired entries are dropped on use;
// reads judge expiry themselves, and a full store drops them at once.
const pruneEvery = time.Minute

func (u *memUser) size() int {
	return len(u.grants) + len(u.trusted) + len(u.payees) + len(u.clients) + len(u.daily)
}

// memoryStore is the in-process Store.
type memoryStore struct {
	mu      sync.Mutex
	users   map[string]*memUser
	entries int
	o       MemoryOptions
}

// NewMemoryStore returns an in-process Store for one gateway, bounded to
// o.MaxUsers users and o.MaxEntries entries in all: when a new entry
// finds it full, the store drops what has expired and, if that is not
// enough, refuses with ErrFull.
func NewMemoryStore(o MemoryOptions) Store {
	if o.MaxUsers <= 0 {
		o.MaxUsers = DefaultMemoryMaxUsers
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMemoryMaxEntries
	}
	if o.RiskRetention <= 0 {
		o.RiskRetention = RiskRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &memoryStore{users: make(map[string]*memUser), o: o}
}

// user returns user's state with what expired at now dropped, nil if the
// user has none. The lock is held.
func (m *memoryStore) user(user string, now time.Time) *memUser {
	u := m.users[user]
	if u == nil {
		return nil
	}
	if now.Sub(u.pruned) >= pruneEvery || now.Before(u.pruned) {
		m.prune(u, now)
	}
	if u.size() == 0 {
		delete(m.users, user)
		return nil
	}
	return u
}

// prune drops u's expired entries.
func (m *memoryStore) prune(u *memUser, now time.Time) {
	before := u.size()
	u.pruned = now
	for id, g := range u.grants {
		if !now.Before(g.Until) {
			delete(u.grants, id)
			delete(u.slots, slotHex(g.Section, g.Session))
		}
	}
	cutoff := now.Add(-m.o.RiskRetention).UnixMilli()
	for k, at := range u.payees {
		if at <= cutoff {
			delete(u.payees, k)
		}
	}
	for k, at := range u.clients {
		if at <= cutoff {
			delete(u.clients, k)
		}
	}
	oldest := day(now.Add(-DailyRetention))
	for k := range u.daily {
		if k.day < oldest {
			delete(u.daily, k)
		}
	}
	m.entries -= before - u.size()
}

// room makes sure one more entry fits and returns user's state, created if
// needed: ErrFull if the store is at capacity even after dropping what
// expired at now. The lock is held; u is user's state or nil.
func (m *memoryStore) room(user string, u *memUser, now time.Time) (*memUser, error) {
	if u == nil && len(m.users) >= m.o.MaxUsers || m.entries >= m.o.MaxEntries {
		for name, v := range m.users {
			m.prune(v, now)
			if v.size() == 0 && name != user {
				delete(m.users, name)
			}
		}
	}
	if u == nil && len(m.users) >= m.o.MaxUsers || m.entries >= m.o.MaxEntries {
		return nil, ErrFull
	}
	if u == nil {
		u = &memUser{}
		m.users[user] = u
	}
	return u, nil
}

// tidy forgets user if nothing is left of it.
func (m *memoryStore) tidy(user string, u *memUser) {
	if u != nil && u.size() == 0 {
		delete(m.users, user)
	}
}

func cloneGrant(g *Grant) *Grant {
	c := *g
	c.Session = append([]byte(nil), g.Session...)
	return &c
}

// dropGrant removes u's grant id, if any. The lock is held.
func (m *memoryStore) dropGrant(u *memUser, id string) {
	if g, ok := u.grants[id]; ok {
		delete(u.grants, id)
		if k := slotHex(g.Section, g.Session); u.slots[k] == id {
			delete(u.slots, k)
		}
		m.entries--
	}
}

func (m *memoryStore) Grant(_ context.Context, g Grant) error {
	if err := checkGrant(&g); err != nil {
		return err
	}
	c := cloneGrant(&g)
	c.Created, c.Until = msTime(g.Created), msTime(g.Until)
	slot := slotHex(g.Section, g.Session)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := c.Created
	u := m.user(g.User, now)
	if u != nil {
		m.dropGrant(u, g.ID)
		if id, ok := u.slots[slot]; ok {
			m.dropGrant(u, id)
		}
		for len(u.grants) >= MaxGrants {
			var soonest *Grant
			for _, o := range u.grants {
				if soonest == nil || o.Until.Before(soonest.Until) || o.Until.Equal(soonest.Until) && o.ID < soonest.ID {
					soonest = o
				}
			}
			m.dropGrant(u, soonest.ID)
		}
	}
	u, err := m.room(g.User, u, now)
	if err != nil {
		return err
	}
	if u.grants == nil {
		u.grants, u.slots = make(map[string]*Grant), make(map[string]string)
	}
	u.grants[c.ID] = c
	u.slots[slot] = c.ID
	m.entries++
	return nil
}

func (m *memoryStore) Granted(_ context.Context, user string, session []byte, section string, now time.Time) (*Grant, bool, error) {
	if err := checkUser(user); err != nil {
		return nil, false, err
	}
	if err := checkSession(session); err != nil {
		return nil, false, err
	}
	if err := checkSection(section); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(user, now)
	if u == nil {
		return nil, false, nil
	}
	g, ok := u.grants[u.slots[slotHex(section, session)]]
	if !ok || g.Section != section || subtle.ConstantTimeCompare(g.Session, session) != 1 || !now.Before(g.Until) {
		return nil, false, nil
	}
	return cloneGrant(g), true, nil
}

// sortGrants orders grants newest first (ties by id) and keeps MaxGrants.
func sortGrants(gs []Grant) []Grant {
	sort.Slice(gs, func(i, j int) bool {
		if !gs[i].Created.Equal(gs[j].Created) {
			return gs[i].Created.After(gs[j].Created)
		}
		return gs[i].ID < gs[j].ID
	})
	if len(gs) > MaxGrants {
		gs = gs[:MaxGrants]
	}
	return gs
}

func (m *memoryStore) Grants(_ context.Context, user string, now time.Time) ([]Grant, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(user, now)
	if u == nil {
		return nil, nil
	}
	out := make([]Grant, 0, len(u.grants))
	for _, g := range u.grants {
		if now.Before(g.Until) {
			out = append(out, *cloneGrant(g))
		}
	}
	return sortGrants(out), nil
}

func (m *memoryStore) EndGrant(_ context.Context, user, id string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := checkGrantID(id); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.users[user]
	if u == nil || u.grants[id] == nil {
		return ErrNotFound
	}
	m.dropGrant(u, id)
	m.tidy(user, u)
	return nil
}

func (m *memoryStore) Trust(_ context.Context, user string, p Payee) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := checkTrusted(&p); err != nil {
		return err
	}
	p.Added = p.Added.UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.o.Now()
	u := m.user(user, now)
	if u != nil {
		if _, ok := u.trusted[p.Payee]; ok {
			u.trusted[p.Payee] = p
			return nil
		}
		if len(u.trusted) >= MaxTrusted {
			return ErrFull
		}
	}
	u, err := m.room(user, u, now)
	if err != nil {
		return err
	}
	if u.trusted == nil {
		u.trusted = make(map[string]Payee)
	}
	u.trusted[p.Payee] = p
	m.entries++
	return nil
}

func (m *memoryStore) Untrust(_ context.Context, user, payee string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := checkPayee(payee); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.users[user]
	if u == nil {
		return ErrNotFound
	}
	if _, ok := u.trusted[payee]; !ok {
		return ErrNotFound
	}
	delete(u.trusted, payee)
	m.entries--
	m.tidy(user, u)
	return nil
}

func (m *memoryStore) Trusted(_ context.Context, user string) ([]Payee, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.users[user]
	if u == nil {
		return nil, nil
	}
	out := make([]Payee, 0, len(u.trusted))
	for _, p := range u.trusted {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Payee < out[j].Payee })
	return out, nil
}

func (m *memoryStore) TrustedPayee(_ context.Context, user, payee string) (*Payee, bool, error) {
	if err := checkUser(user); err != nil {
		return nil, false, err
	}
	if err := checkPayee(payee); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if u := m.users[user]; u != nil {
		if p, ok := u.trusted[payee]; ok {
			return &p, true, nil
		}
	}
	return nil, false, nil
}

// seen reports whether set has k marked after cutoff (ms).
func seen(set map[string]int64, k string, cutoff int64) bool {
	at, ok := set[k]
	return ok && at > cutoff
}

// mark records k at ms in *set, keeping the most recent max. The lock is
// held.
func (m *memoryStore) mark(user string, set func(*memUser) *map[string]int64, k string, now time.Time, max int) error {
	ms := now.UnixMilli()
	u := m.user(user, now)
	if u != nil {
		s := *set(u)
		if at, ok := s[k]; ok {
			s[k] = maxInt64(at, ms)
			return nil
		}
		for len(s) >= max {
			var oldest string
			for o, at := range s {
				if oldest == "" || at < s[oldest] || at == s[oldest] && o < oldest {
					oldest = o
				}
			}
			delete(s, oldest)
			m.entries--
		}
	}
	u, err := m.room(user, u, now)
	if err != nil {
		return err
	}
	p := set(u)
	if *p == nil {
		*p = make(map[string]int64)
	}
	(*p)[k] = ms
	m.entries++
	return nil
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func payeesOf(u *memUser) *map[string]int64  { return &u.payees }
func clientsOf(u *memUser) *map[string]int64 { return &u.clients }

func (m *memoryStore) SeenPayee(_ context.Context, user, payee string) (bool, error) {
	if err := checkUser(user); err != nil {
		return false, err
	}
	if err := checkPayee(payee); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.o.Now()
	u := m.user(user, now)
	return u != nil && seen(u.payees, hashHex(payee), now.Add(-m.o.RiskRetention).UnixMilli()), nil
}

func (m *memoryStore) MarkPayee(_ context.Context, user, payee string, now time.Time) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := checkPayee(payee); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mark(user, payeesOf, hashHex(payee), now, MaxSeenPayees)
}

func (m *memoryStore) SeenClient(_ context.Context, user, k string, within time.Duration, now time.Time) (bool, error) {
	if err := checkUser(user); err != nil {
		return false, err
	}
	if err := checkClient(k); err != nil {
		return false, err
	}
	if err := checkWithin(within); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(user, now)
	return u != nil && seen(u.clients, hashHex(k), now.Add(-min(within, m.o.RiskRetention)).UnixMilli()), nil
}

func (m *memoryStore) MarkClient(_ context.Context, user, k string, now time.Time) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := checkClient(k); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mark(user, clientsOf, hashHex(k), now, MaxClients)
}

func (m *memoryStore) DailyTotal(_ context.Context, user, currency string, now time.Time) (string, error) {
	if err := checkUser(user); err != nil {
		return "", err
	}
	if err := checkCurrency(currency); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(user, now)
	if u == nil {
		return "0", nil
	}
	return u.daily[dailyKey{day(now), currency}].String(), nil
}

func (m *memoryStore) AddDaily(_ context.Context, user, currency, amt string, now time.Time) (string, error) {
	if err := checkUser(user); err != nil {
		return "", err
	}
	if err := checkCurrency(currency); err != nil {
		return "", err
	}
	a, err := parseAmount(amt)
	if err != nil {
		return "", err
	}
	k := dailyKey{day(now), currency}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(user, now)
	if u != nil {
		if cur, ok := u.daily[k]; ok {
			s, ok := cur.add(a)
			if !ok {
				return "", errTooLarge
			}
			u.daily[k] = s
			return s.String(), nil
		}
		n := 0
		for o := range u.daily {
			if o.day == k.day {
				n++
			}
		}
		if n >= MaxCurrencies {
			return "", ErrFull
		}
	}
	u, err = m.room(user, u, now)
	if err != nil {
		return "", err
	}
	if u.daily == nil {
		u.daily = make(map[dailyKey]amount)
	}
	u.daily[k] = a
	m.entries++
	return a.String(), nil
}

func (m *memoryStore) Close() error { return nil }
