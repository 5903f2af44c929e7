package journal

import (
	"container/list"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Defaults of MemoryOptions.
const (
	// DefaultMaxUsers is how many users' journals Memory keeps.
	DefaultMaxUsers = 10000
	// DefaultMaxBytes is about how much memory Memory's entries take at
	// most: 64 MiB.
	DefaultMaxBytes = 64 << 20
)

// MemoryOptions configure a Memory journal. Zero fields take the
// defaults.
type MemoryOptions struct {
	// MaxEntries is how many entries each user's journal keeps; the
	// oldest go first. Default DefaultMaxEntries.
	MaxEntries int
	// MaxAge is how long an entry is kept after it was appended. Default
	// DefaultMaxAge.
	MaxAge time.Duration
	// MaxUsers is how many users' journals are kept; beyond it the
	// journal written to least recently is evicted. Default
	// DefaultMaxUsers.
	MaxUsers int
	// MaxBytes bounds the estimated size of all entries; beyond it the
	// journals written to least recently are evicted. Default
	// DefaultMaxBytes.
	MaxBytes int64
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Memory is an in-process Journal: a bounded ring of entries per user,
// within global bounds on users and bytes (see the package
// documentation). Its entries are lost when the process ends.
type Memory struct {
	o MemoryOptions

	mu     sync.Mutex
	users  map[string]*ring
	lru    list.List // of *ring, most recently written first
	bytes  int64
	closed bool
}

// ring is one user's entries, oldest first, in a circular buffer.
type ring struct {
	user     string
	buf      []item
	start, n int
	bytes    int64
	last     id // the newest id handed out, even if trimmed since
	elem     *list.Element
}

type item struct {
	id   id
	e    Entry
	size int
}

// NewMemory returns an empty Memory journal.
func NewMemory(o MemoryOptions) *Memory {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxUsers <= 0 {
		o.MaxUsers = DefaultMaxUsers
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{o: o, users: map[string]*ring{}}
}

func (r *ring) at(i int) *item { return &r.buf[(r.start+i)%len(r.buf)] }

// popOldest removes the oldest entry and returns its size.
func (r *ring) popOldest() int {
	it := r.at(0)
	size := it.size
	*it = item{}
	r.start = (r.start + 1) % len(r.buf)
	r.n--
	r.bytes -= int64(size)
	return size
}

func (r *ring) push(it item, limit int) {
	if r.n == len(r.buf) {
		// Grow (doubling, up to limit) by copying in order.
		nb := make([]item, min(limit, max(4, 2*len(r.buf))))
		for i := range r.n {
			nb[i] = *r.at(i)
		}
		r.buf, r.start = nb, 0
	}
	*r.at(r.n) = it
	r.n++
	r.bytes += int64(it.size)
}

// Append implements Journal.
func (m *Memory) Append(ctx context.Context, user string, e Entry) error {
	if err := CheckUser(user); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("journal: append: %w", err)
	}
	now := m.o.Now()
	if e.At.IsZero() {
		e.At = now
	}
	e.At = e.At.Round(0) // no monotonic reading, as Redis gives back
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	cut := cutoff(now, m.o.MaxAge)
	m.sweep(cut)
	r := m.users[user]
	if r == nil {
		for len(m.users) >= m.o.MaxUsers {
			m.evict(m.lru.Back().Value.(*ring))
		}
		r = &ring{user: user}
		r.elem = m.lru.PushFront(r)
		m.users[user] = r
	} else {
		m.lru.MoveToFront(r.elem)
	}
	m.trim(r, cut)
	next := id{ms: nowMS(now)}
	if next.ms <= r.last.ms && (r.last != id{}) {
		next = id{ms: r.last.ms, seq: r.last.seq + 1}
	}
	r.last = next
	if r.n == m.o.MaxEntries {
		m.bytes -= int64(r.popOldest())
	}
	it := item{id: next, e: e, size: e.size()}
	r.push(it, m.o.MaxEntries)
	m.bytes += int64(it.size)
	for m.bytes > m.o.MaxBytes {
		if v := m.lru.Back().Value.(*ring); v != r {
			m.evict(v)
		} else if r.n > 1 {
			m.bytes -= int64(r.popOldest())
		} else {
			break
		}
	}
	return nil
}

// sweep evicts the least recently written journals while all their
// entries are older than cut: idle users vanish without a timer, a
// little on every append.
func (m *Memory) sweep(cut uint64) {
	for range 2 {
		b := m.lru.Back()
		if b == nil {
			return
		}
		r := b.Value.(*ring)
		if r.n > 0 && r.at(r.n-1).id.ms >= cut {
			return
		}
		m.evict(r)
	}
}

// trim drops r's entries older than cut.
func (m *Memory) trim(r *ring, cut uint64) {
	for r.n > 0 && r.at(0).id.ms < cut {
		m.bytes -= int64(r.popOldest())
	}
}

func (m *Memory) evict(r *ring) {
	m.lru.Remove(r.elem)
	delete(m.users, r.user)
	m.bytes -= r.bytes
}

// Page implements Journal.
func (m *Memory) Page(ctx context.Context, user string, limit int, before string) ([]Entry, string, error) {
	if err := CheckUser(user); err != nil {
		return nil, "", err
	}
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, "", err
	}
	end := id{ms: ^uint64(0), seq: ^uint64(0)}
	open := true // no cursor: everything, end included
	if before != "" {
		if end, err = parseID(before); err != nil {
			return nil, "", err
		}
		open = false
	}
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("journal: page: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, "", ErrClosed
	}
	r := m.users[user]
	if r == nil {
		return nil, "", nil
	}
	m.trim(r, cutoff(m.o.Now(), m.o.MaxAge))
	// k: how many entries are older than the cursor.
	k := r.n
	if !open {
		k = sort.Search(r.n, func(i int) bool { return !r.at(i).id.less(end) })
	}
	out := make([]Entry, 0, min(limit, k))
	for i := k - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, r.at(i).e)
	}
	var next string
	if k > limit {
		next = r.at(k - limit).id.String()
	}
	return out, next, nil
}

// Close implements Journal: it drops every entry.
func (m *Memory) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.users = nil
	m.lru.Init()
	m.bytes = 0
}

// Stats reports how many users' journals Memory holds and the estimated
// bytes of their entries.
func (m *Memory) Stats() (users int, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.users), m.bytes
}

var _ Journal = (*Memory)(nil)
