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
	open := err == nil && !r.Confirmed() && r.AttemptsLeft > 0
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
	w.timers[id] = time.AfterFunc(max(expires.Sub(e.cfg.Now()), 0), func() {
		w.mu.Lock()
		_, watched := w.timers[id]
		delete(w.timers, id)
		closed := w.closed
		w.mu.Unlock()
		if watched && !closed {
			ev.Kind, ev.Reason = EventExpired, ""
			e.emit(context.Background(), ev)
		}
	})
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
