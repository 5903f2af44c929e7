package challenge

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Mode is how the E-num app computes the answer for a challenge.
type Mode string

// E-num modes.
const (
	// ModeAuthorization: the answer depends on the question only.
	ModeAuthorization Mode = "authorization"
	// ModePayment: the answer depends on the question, the payee and the
	// amount (package challenge/ocra/payment), so an answer made for one
	// transfer is useless for any other.
	ModePayment Mode = "payment"
)

// Field is one more detail of the operation shown to the user, e.g. a new
// correspondent's name.
type Field struct {
	// Name is the request field it was read from, e.g. "name".
	Name string `json:"name"`
	// Label is the message key or text the page labels it with.
	Label string `json:"label"`
	// Value is the raw value, exactly as the upstream receives it.
	Value string `json:"value"`
	// Display is what the page shows: Value, or its masked form.
	Display string `json:"display"`
}

// opView is the part of a challenge's description kept in
// store.Record.View.
type opView struct {
	Currency     string  `json:"currency,omitempty"`
	PayeeDisplay string  `json:"payee_display,omitempty"`
	Fields       []Field `json:"fields,omitempty"`
	Mode         Mode    `json:"mode,omitempty"`
	// Approval is the approvers' group of a challenge that needs
	// approval: kept in the view too, so that a record whose store lost
	// its Approval is never forwarded unapproved.
	Approval string `json:"approval,omitempty"`
}

func (v *opView) empty() bool {
	return v.Currency == "" && v.PayeeDisplay == "" && len(v.Fields) == 0 && v.Mode == "" && v.Approval == ""
}

// encodeView returns the store form of the request's view, nil if empty.
func encodeView(req *Request) ([]byte, error) {
	v := opView{Currency: req.Currency, Fields: req.Fields, Mode: req.Mode}
	if req.Approval != nil {
		v.Approval = req.Approval.Group
	}
	if req.PayeeDisplay != req.Payee {
		v.PayeeDisplay = req.PayeeDisplay
	}
	if v.empty() {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding the operation view: %w", ErrMalformed, err)
	}
	return b, nil
}

// decodeView reads a store.Record.View. A view that does not decode is
// an error: the challenge's mode and what it shows are unknown, so it
// cannot be begun or shown (fail closed).
func decodeView(b []byte) (opView, error) {
	var v opView
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			return opView{}, fmt.Errorf("%w: the stored operation view does not decode", ErrUnavailable)
		}
	}
	return v, nil
}

// viewCacheSize bounds the challenges whose view an engine caches.
const viewCacheSize = 1 << 16

// viewCache remembers, per challenge id, what Issue stored in the
// record's immutable view, so that beginning E-num on the gateway that
// issued the challenge needs no read first. It is a bounded, sharded map
// with expiry, written and read synchronously (the customer's next step
// follows at once); a miss only costs a store read.
type viewCache struct {
	shards [16]viewShard
}

type viewShard struct {
	mu sync.Mutex
	m  map[string]viewEntry
}

type viewEntry struct {
	c       *Challenge
	expires time.Time
}

func (vc *viewCache) shard(id string) *viewShard {
	var h uint32
	for i := 0; i < len(id); i++ {
		h = h*31 + uint32(id[i])
	}
	return &vc.shards[h%uint32(len(vc.shards))]
}

func (vc *viewCache) set(id string, c *Challenge, expires, now time.Time) {
	sh := vc.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[string]viewEntry)
	}
	if len(sh.m) >= viewCacheSize/len(vc.shards) {
		for k, e := range sh.m { // drop the expired, else any one
			if !now.Before(e.expires) || len(sh.m) >= viewCacheSize/len(vc.shards) {
				delete(sh.m, k)
			}
			if len(sh.m) < viewCacheSize/len(vc.shards)/2 {
				break
			}
		}
	}
	sh.m[id] = viewEntry{c: c, expires: expires}
}

func (vc *viewCache) get(id string, now time.Time) (*Challenge, bool) {
	sh := vc.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.m[id]
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return e.c, true
}

func (vc *viewCache) drop(id string) {
	sh := vc.shard(id)
	sh.mu.Lock()
	delete(sh.m, id)
	sh.mu.Unlock()
}

// cacheView remembers what challenge c shows and its mode, fixed at
// Issue. Only these immutable fields are kept; the store still checks
// owner, expiry and state in Begin.
func (e *Engine) cacheView(c *Challenge) {
	v := &Challenge{
		ID: c.ID, Operation: c.Operation, Amount: c.Amount, Currency: c.Currency, Payee: c.Payee,
		PayeeDisplay: c.PayeeDisplay, Fields: c.Fields, Mode: c.Mode, Method: c.Method,
	}
	e.views.set(c.ID, v, c.Expires, e.cfg.Now())
}

// cachedView returns the view cacheView kept for id.
func (e *Engine) cachedView(id string) (*Challenge, bool) {
	return e.views.get(id, e.cfg.Now())
}

// describe fills in what a step is about (operation, amount, payee and
// the method begun) from this gateway's view of the challenge, kept when
// it issued the challenge or began a method; a gateway that did neither
// leaves them empty.
func (e *Engine) describe(ev Event) Event {
	if v, ok := e.cachedView(ev.ChallengeID); ok {
		ev.Operation, ev.Amount, ev.Currency, ev.Payee = v.Operation, v.Amount, v.Currency, v.PayeeDisplay
		if ev.Method == "" {
			ev.Method = v.Method
		}
	}
	return ev
}
