package confirm

import (
	"container/heap"
	"fmt"
	"sync"
	"time"
)

// A ReplayMemory remembers the challenge ids a Verifier accepted.
type ReplayMemory interface {
	// Remember records id, to be kept at least until until; now is the
	// verifier's clock. It returns an error wrapping ErrReplayed if id is
	// held already, or any other error to refuse the header (fail
	// closed). Of concurrent calls with one id at most one may succeed.
	Remember(id string, until, now time.Time) error
}

// InMemory is a ReplayMemory in this process: bounded, forgetting each id
// once its time has passed, safe for concurrent use. When it holds Max
// ids that are all still live, Remember refuses new ones with
// ErrMemoryFull rather than forget a live one. The zero value holds up to
// DefaultMaxIDs ids.
type InMemory struct {
	// Max bounds the ids held. Zero or less: DefaultMaxIDs. Set it
	// before first use.
	Max int

	mu    sync.Mutex
	until map[string]time.Time
	queue expiries // the same ids, soonest expiry first
}

// NewInMemory returns an InMemory holding at most max ids (zero or less:
// DefaultMaxIDs).
func NewInMemory(max int) *InMemory { return &InMemory{Max: max} }

// Remember implements ReplayMemory.
func (m *InMemory) Remember(id string, until, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.until == nil {
		m.until = map[string]time.Time{}
	}
	for len(m.queue) > 0 && now.After(m.queue[0].until) {
		e := heap.Pop(&m.queue).(expiry)
		delete(m.until, e.id)
	}
	if _, dup := m.until[id]; dup {
		return fmt.Errorf("%w: challenge %s", ErrReplayed, id)
	}
	limit := m.Max
	if limit <= 0 {
		limit = DefaultMaxIDs
	}
	if len(m.until) >= limit {
		return fmt.Errorf("%w: %d live ids", ErrMemoryFull, len(m.until))
	}
	m.until[id] = until
	heap.Push(&m.queue, expiry{id: id, until: until})
	return nil
}

// Len returns how many ids m holds, expired ones not yet forgotten
// included (they go at the next Remember).
func (m *InMemory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.until)
}

type expiry struct {
	id    string
	until time.Time
}

// expiries is a min-heap of expiries by time.
type expiries []expiry

func (q expiries) Len() int           { return len(q) }
func (q expiries) Less(i, j int) bool { return q[i].until.Before(q[j].until) }
func (q expiries) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *expiries) Push(x any)        { *q = append(*q, x.(expiry)) }
func (q *expiries) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
