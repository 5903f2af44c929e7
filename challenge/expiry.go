package challenge

import (
	"context"
	"sync"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// expiryProbe is how long before its end the issuing engine looks at a
// challenge to learn whether it will expire unanswered.
const expiryProbe = time.Second

// expiryWatch reports challenges that expire unanswered (EventExpired).
// The engine that issued a challenge watches it: shortly before its end it
// reads the challenge once; if it is still open then, and this engine saw
// no confirmation, cancellation or exhaustion of it since, the challenge
// is reported expired at its end. A confirmation on another gateway in
// that last second is the one case reported wrongly as expired; the
// confirmed event is reported too.
//
// A challenge that needs approval is watched on through its wait: the
// probe finds it awaiting approval and looks again shortly before the
// wait's end; still undecided then, it is reported EventApprovalExpired
// at that end. (The engine that takes the customer's answer moves its
// own watch to the wait at once.)
type expiryWatch struct {
	mu     sync.Mutex
	timers map[string]*time.Timer
	closed bool
}

// watch starts watching the challenge issued as ev.
func (e *Engine) watchExpiry(o store.Owner, ev Event, expires time.Time) {
	if e.cfg.Events == nil {
		return
	}
	w := &e.expiry
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if w.timers == nil {
		w.timers = map[string]*time.Timer{}
	}
	id := ev.ChallengeID
	probe := max(expires.Sub(e.cfg.Now())-expiryProbe, 0)
	w.timers[id] = time.AfterFunc(probe, func() { e.probeExpiry(id, o, ev, expires) })
}

// probeExpiry reads the challenge just before its end and, if it is still
// open, arranges for it to be reported expired at its end.
func (e *Engine) probeExpiry(id string, o store.Owner, ev Event, expires time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := e.cfg.Store.Get(ctx, id, o, e.cfg.Now())
	awaiting := err == nil && r.AwaitingApproval()
	open := err == nil && !r.Confirmed() && r.AttemptsLeft > 0 || awaiting
	w := &e.expiry
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, watched := w.timers[id]; !watched || w.closed {
		return
	}
	if !open {
		delete(w.timers, id)
		return
	}
	kind := EventExpired
	if awaiting {
		if r.Expires.After(expires) {
			// The wait outlasts what was watched: look again before its end.
			end := r.Expires
			w.timers[id] = time.AfterFunc(max(end.Sub(e.cfg.Now())-expiryProbe, 0), func() { e.probeExpiry(id, o, ev, end) })
			return
		}
		kind, expires = EventApprovalExpired, r.Expires
	}
	w.timers[id] = time.AfterFunc(max(expires.Sub(e.cfg.Now()), 0), func() {
		w.mu.Lock()
		_, watched := w.timers[id]
		delete(w.timers, id)
		closed := w.closed
		w.mu.Unlock()
		if watched && !closed {
			ev.Kind, ev.Reason = kind, ""
			e.emit(context.Background(), ev)
		}
	})
}

// rewatchExpiry moves the watch of a challenge this engine issued to the
// end of its wait for approval, ev describing it. A challenge this
// engine does not watch is left alone (its issuer's probe finds the
// wait).
func (e *Engine) rewatchExpiry(o store.Owner, ev Event, until time.Time) {
	w := &e.expiry
	w.mu.Lock()
	defer w.mu.Unlock()
	id := ev.ChallengeID
	t, ok := w.timers[id]
	if !ok || w.closed {
		return
	}
	t.Stop()
	w.timers[id] = time.AfterFunc(max(until.Sub(e.cfg.Now())-expiryProbe, 0), func() { e.probeExpiry(id, o, ev, until) })
}

// unwatchExpiry stops watching a challenge that ended otherwise.
func (e *Engine) unwatchExpiry(id string) {
	w := &e.expiry
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.timers[id]; ok {
		t.Stop()
		delete(w.timers, id)
	}
}

// stopExpiry stops every watch (Close).
func (e *Engine) stopExpiry() {
	w := &e.expiry
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for id, t := range w.timers {
		t.Stop()
		delete(w.timers, id)
	}
}
