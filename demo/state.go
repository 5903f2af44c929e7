package demo

import (
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/enumgate/enumgate/confirm"
)

// Bounds on the in-memory state.
const (
	maxOperations = 1000  // all users together; the oldest go first
	maxMessages   = 200   // phone messages; the oldest go first
	maxSeen       = 10000 // challenge ids remembered within max_age
)

// statePool holds the one state all App instances share, so that it
// survives config reloads.
var statePool = caddy.NewUsagePool()

const stateKey = "enumgate_demo.state"

// operation is one completed operation.
type operation struct {
	ID          string
	Operation   string // "transfer", "withdrawal" or "new_correspondent"
	To          string // the payee: to, card or wallet
	Amount      string // canonical, e.g. "10.00"; "" for correspondents
	Name        string // the correspondent's name
	User        string
	Status      string // always "completed"
	ConfirmedBy string // "enum", "sms", "email" or ""
	At          time.Time
}

// message is one SMS or e-mail the demo phone received.
type message struct {
	Method      string
	To          string
	Text        string
	Code        string
	User        string
	Operation   string
	ChallengeID string
	At          time.Time
}

// state is the app's memory. All fields but seen are guarded by mu.
type state struct {
	mu   sync.Mutex
	ops  []*operation // oldest first
	byID map[string]*operation
	msgs []message // oldest first

	// seen holds the challenge ids of the Enumgate-Confirmed headers
	// accepted, for max_age; it is safe for concurrent use by itself.
	seen *confirm.InMemory

	// idem holds the responses of executed operations by user and
	// Idempotency-Key (and challenge id), for IdempotencyTTL; it is safe
	// for concurrent use by itself.
	idem *idemMemory
}

func newState() *state {
	return &state{byID: map[string]*operation{}, seen: confirm.NewInMemory(maxSeen), idem: newIdemMemory()}
}

// Destruct implements caddy.Destructor; memory needs no release.
func (s *state) Destruct() error { return nil }

// add records op, forgetting the oldest operation when full. It reports
// false if op.ID is already taken.
func (s *state) add(op *operation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.byID[op.ID]; dup {
		return false
	}
	if len(s.ops) >= maxOperations {
		delete(s.byID, s.ops[0].ID)
		s.ops = append(s.ops[:0], s.ops[1:]...)
	}
	s.ops = append(s.ops, op)
	s.byID[op.ID] = op
	return true
}

// get returns a copy of user's operation id.
func (s *state) get(user, id string) (operation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := s.byID[id]
	if !ok || op.User != user {
		return operation{}, false
	}
	return *op, true
}

// list returns copies of user's operations, newest first.
func (s *state) list(user string) []operation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []operation
	for i := len(s.ops) - 1; i >= 0; i-- {
		if s.ops[i].User == user {
			out = append(out, *s.ops[i])
		}
	}
	return out
}

// addMessage stores m, forgetting the oldest message when full.
func (s *state) addMessage(m message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) >= maxMessages {
		s.msgs = append(s.msgs[:0], s.msgs[1:]...)
	}
	s.msgs = append(s.msgs, m)
}

// messages returns the messages to address to (compared without regard
// to case), newest first; to == "" returns all.
func (s *state) messages(to string) []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []message
	for i := len(s.msgs) - 1; i >= 0; i-- {
		if to == "" || strings.EqualFold(s.msgs[i].To, to) {
			out = append(out, s.msgs[i])
		}
	}
	return out
}

// Interface guard
var _ caddy.Destructor = (*state)(nil)
