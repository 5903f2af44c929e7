package demo

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/enumgate/enumgate/confirm"
)

// Idempotency: the gateway delivers a confirmed request again, with the
// same Enumgate-Confirmed challenge id and `Idempotency-Key: <challenge
// id>`, when the upstream failed before answering. The app must not
// perform the operation twice: a protected operation whose key it has
// seen for that user gets the first execution's response again.
const (
	// IdempotencyHeader names the request header with the key.
	IdempotencyHeader = "Idempotency-Key"
	// ReplayedHeader is set on a response repeated for a known key.
	ReplayedHeader = "Idempotent-Replayed"
	// IdempotencyTTL is how long a key is remembered.
	IdempotencyTTL = time.Hour

	maxKeyLen       = 256   // bytes of an Idempotency-Key
	maxKeysPerUser  = 100   // keys remembered per user; the oldest go first
	maxKeys         = 10000 // keys remembered for all users together
	maxReplayedBody = 64 << 10
	redeliveryWait  = 30 * time.Second // how long a repeat waits for the first to finish
)

// idemKey is one user's key.
type idemKey struct{ user, key string }

// idemEntry is one execution, remembered under the request's
// Idempotency-Key and under its challenge id.
type idemEntry struct {
	user      string
	challenge string // the Enumgate-Confirmed challenge id
	expires   time.Time
	keys      []idemKey
	done      chan struct{} // closed when resp is set, or the entry dropped
	resp      *recorded     // nil until done; nil after done: not replayable
}

// recorded is a response kept for repeats.
type recorded struct {
	status int
	header http.Header
	body   []byte
}

// idemMemory holds the entries, bounded per user and in all.
type idemMemory struct {
	mu      sync.Mutex
	byKey   map[idemKey]*idemEntry
	order   []*idemEntry // oldest first
	perUser map[string]int
}

func newIdemMemory() *idemMemory {
	return &idemMemory{byKey: map[idemKey]*idemEntry{}, perUser: map[string]int{}}
}

// lookup returns user's entry for key, if live.
func (m *idemMemory) lookup(user, key string, now time.Time) *idemEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byKey[idemKey{user, key}]
	if e == nil || now.After(e.expires) {
		return nil
	}
	return e
}

// reserve records a new execution of user's challenge under keys (the
// empty ones skipped). If one of them is taken by a live entry, it
// returns that entry and false instead.
func (m *idemMemory) reserve(user, challenge string, keys []string, now time.Time) (*idemEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if e := m.byKey[idemKey{user, k}]; k != "" && e != nil && !now.After(e.expires) {
			return e, false
		}
	}
	for len(m.order) > 0 && now.After(m.order[0].expires) {
		m.dropLocked(0)
	}
	if m.perUser[user] >= maxKeysPerUser {
		for i, e := range m.order {
			if e.user == user {
				m.dropLocked(i)
				break
			}
		}
	}
	if len(m.order) >= maxKeys {
		m.dropLocked(0)
	}
	e := &idemEntry{user: user, challenge: challenge, expires: now.Add(IdempotencyTTL), done: make(chan struct{})}
	for _, k := range keys {
		if k == "" {
			continue
		}
		ik := idemKey{user, k}
		if m.byKey[ik] == e {
			continue // the key is the challenge id
		}
		e.keys = append(e.keys, ik)
		m.byKey[ik] = e
	}
	m.order = append(m.order, e)
	m.perUser[user]++
	return e, true
}

// finish stores the response of e's execution (nil: none to repeat)
// and wakes the repeats waiting for it.
func (m *idemMemory) finish(e *idemEntry, resp *recorded) {
	m.mu.Lock()
	e.resp = resp
	m.mu.Unlock()
	close(e.done)
}

// abandon forgets e, whose request turned out not to be confirmed, and
// wakes the repeats waiting for it (they get nothing to repeat).
func (m *idemMemory) abandon(e *idemEntry) {
	m.mu.Lock()
	for i, o := range m.order {
		if o == e {
			m.dropLocked(i)
			break
		}
	}
	m.mu.Unlock()
	m.finish(e, nil)
}

// response returns e's response once finished.
func (m *idemMemory) response(e *idemEntry) *recorded {
	m.mu.Lock()
	defer m.mu.Unlock()
	return e.resp
}

func (m *idemMemory) dropLocked(i int) {
	e := m.order[i]
	m.order = append(m.order[:i], m.order[i+1:]...)
	for _, k := range e.keys {
		if m.byKey[k] == e {
			delete(m.byKey, k)
		}
	}
	if m.perUser[e.user]--; m.perUser[e.user] <= 0 {
		delete(m.perUser, e.user)
	}
}

// len returns the number of entries held.
func (m *idemMemory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.order)
}

// idempotencyKey returns r's Idempotency-Key ("" if none), or the error
// to answer with if it is malformed.
func idempotencyKey(r *http.Request) (string, *badRequest) {
	vs := r.Header.Values(IdempotencyHeader)
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", invalid("give one %s header", IdempotencyHeader)
	}
	k := vs[0]
	if len(k) == 0 || len(k) > maxKeyLen {
		return "", invalid("%s must be 1 to %d characters", IdempotencyHeader, maxKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return "", invalid("%s must be printable ASCII without spaces", IdempotencyHeader)
		}
	}
	return k, nil
}

// noMemory is a ReplayMemory that remembers nothing: a repeat is checked
// for its signature and binding only.
type noMemory struct{}

func (noMemory) Remember(string, time.Time, time.Time) error { return nil }

// signedChallenge returns the challenge id of r's Enumgate-Confirmed
// header if the gateway signed it (nothing else is checked).
func (a *App) signedChallenge(r *http.Request) (string, bool) {
	vs := r.Header.Values(confirm.Header)
	if len(vs) != 1 {
		return "", false
	}
	c, err := confirm.Parse(a.key, vs[0])
	if err != nil {
		return "", false
	}
	return c.ChallengeID, true
}

// sameConfirmation checks that r carries a valid Enumgate-Confirmed
// header of user for this very request, whatever its age and whether its
// id was seen, and returns its challenge id. A repeat need not be fresh:
// it performs nothing, it only tells the first execution's outcome again
// to the user who confirmed it.
func (a *App) sameConfirmation(r *http.Request) (string, bool) {
	vs := r.Header.Values(confirm.Header)
	if len(vs) != 1 {
		return "", false
	}
	c, err := confirm.Parse(a.key, vs[0])
	if err != nil {
		return "", false
	}
	v := &confirm.Verifier{Key: a.key, MaxAge: time.Duration(a.MaxAge), MaxBody: maxBody, User: user,
		Memory: noMemory{}, Now: func() time.Time { return c.Time }}
	if _, err := v.Verify(r); err != nil {
		return "", false
	}
	return c.ChallengeID, true
}

// repeat answers a request whose key names entry e: e's response, once
// the first execution finished, if r is the same confirmed request.
func (a *App) repeat(w http.ResponseWriter, r *http.Request, u, key string, e *idemEntry) error {
	id, ok := a.sameConfirmation(r)
	if !ok {
		by, refused := a.confirmation(r)
		if refused == nil {
			// A fresh, valid confirmation of another request with a key
			// already used: refuse rather than guess.
			a.logger.Info("operation refused: idempotency key reused", zap.String("user", u), zap.String("confirmed_by", by))
			return a.fail(w, r, http.StatusUnprocessableEntity, "idempotency_key_reused",
				"This Idempotency-Key was used for another request; use a new key.")
		}
		return a.fail(w, r, refused.status, refused.code, refused.msg)
	}
	if id != e.challenge {
		return a.fail(w, r, http.StatusUnprocessableEntity, "idempotency_key_reused",
			"This Idempotency-Key was used for another confirmed request; use a new key.")
	}
	ctx, cancel := context.WithTimeout(r.Context(), redeliveryWait)
	defer cancel()
	select {
	case <-e.done:
	case <-ctx.Done():
		return a.fail(w, r, http.StatusConflict, "in_progress", "This operation is still being performed; ask again in a moment.")
	}
	resp := a.state.idem.response(e)
	if resp == nil {
		return a.fail(w, r, http.StatusConflict, "not_repeatable",
			"This operation was already attempted and its outcome cannot be repeated; see your operations.")
	}
	a.logger.Info("operation repeated for a known idempotency key", zap.String("user", u), zap.String("challenge", id))
	h := w.Header()
	for k, vs := range resp.header {
		h[k] = append([]string(nil), vs...)
	}
	h.Set(ReplayedHeader, "true")
	w.WriteHeader(resp.status)
	_, err := w.Write(resp.body)
	return err
}

// recorder passes a response through and keeps a copy for repeats.
type recorder struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	tooLarge bool
}

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.body.Len()+len(b) > maxReplayedBody {
		rec.tooLarge = true
	} else {
		rec.body.Write(b)
	}
	return rec.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// result returns the recorded response, or nil if there is none to
// repeat (nothing written, or too large).
func (rec *recorder) result() *recorded {
	if rec.status == 0 || rec.tooLarge {
		return nil
	}
	return &recorded{status: rec.status, header: rec.Header().Clone(), body: bytes.Clone(rec.body.Bytes())}
}
