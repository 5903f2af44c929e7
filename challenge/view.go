package challenge

import (
	"encoding/json"
	"fmt"
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
}

func (v *opView) empty() bool {
	return v.Currency == "" && v.PayeeDisplay == "" && len(v.Fields) == 0 && v.Mode == ""
}

// encodeView returns the store form of the request's view, nil if empty.
func encodeView(req *Request) ([]byte, error) {
	v := opView{Currency: req.Currency, Fields: req.Fields, Mode: req.Mode}
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

// cacheView remembers what challenge c shows and its mode, fixed at
// Issue, so that beginning E-num on the gateway that issued it needs no
// read first. Only these immutable fields are kept; a miss (evicted,
// another gateway) reads the store. The store still checks owner, expiry
// and state in Begin.
func (e *Engine) cacheView(c *Challenge) {
	v := &Challenge{
		ID: c.ID, Operation: c.Operation, Amount: c.Amount, Currency: c.Currency, Payee: c.Payee,
		PayeeDisplay: c.PayeeDisplay, Fields: c.Fields, Mode: c.Mode,
	}
	if e.views.SetWithTTL(c.ID, v, 1, c.Expires.Sub(e.cfg.Now())) {
		// Sets are buffered; the customer's next step follows at once.
		e.views.Wait()
	}
}

// cachedView returns the view cacheView kept for id.
func (e *Engine) cachedView(id string) (*Challenge, bool) {
	return e.views.Get(id)
}
