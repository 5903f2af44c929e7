package account

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/enumgate/enumgate/challenge"
)

// MaxListedRecoveries bounds what Recoveries returns.
const MaxListedRecoveries = 1000

// markGrace is how long a user's open-recovery mark without its request
// counts as an Open still under way (then as one that failed half-way).
const markGrace = time.Minute

// errStale reports an open-recovery mark whose request must be checked.
type errStale struct{ id string }

func (e errStale) Error() string { return "open recovery " + e.id }

// OpenRecovery opens a request for access through support (a lost
// device) with the customer's reason (at most MaxTextLen runes, no control
// characters but line breaks). At most one is open per user: otherwise
// *RecoveryOpenError (ErrRecoveryOpen) names the open one. An open request
// changes nothing else: confirmations are not weakened.
func (s *Service) OpenRecovery(ctx context.Context, user, reason string) (*Recovery, error) {
	reason, err := checkText("reason", reason)
	if err != nil {
		return nil, err
	}
	u, _, err := s.resolve(ctx, user)
	if err != nil {
		return nil, err
	}
	id, err := newID(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	r := &Recovery{ID: id, User: user, Opened: s.cfg.Now(), Reason: reason, State: RecoveryOpen}
	switch {
	case u.Phone != "":
		r.Contact = challenge.MaskPhone(u.Phone)
	case len(u.Emails) > 0:
		r.Contact = challenge.MaskEmail(u.Emails[0])
	}
	stale := ""
	for range 2 {
		var markedAt time.Time
		err = s.cfg.Store.Update(ctx, user, func(st *State) error {
			if st.OpenRecovery != "" && st.OpenRecovery != stale {
				markedAt = st.OpenRecoveryAt
				return errStale{st.OpenRecovery}
			}
			st.OpenRecovery, st.OpenRecoveryAt = id, r.Opened
			return nil
		})
		var es errStale
		if !errors.As(err, &es) {
			break
		}
		open, gerr := s.cfg.Store.GetRecovery(ctx, es.id)
		switch {
		case gerr == nil && open.State == RecoveryOpen:
			return nil, &RecoveryOpenError{Recovery: open}
		case errors.Is(gerr, ErrNotFound) && r.Opened.Sub(markedAt) < markGrace:
			// A concurrent Open marked it and is about to store it.
			return nil, &RecoveryOpenError{Recovery: &Recovery{ID: es.id, User: user, Opened: markedAt, State: RecoveryOpen}}
		case gerr != nil && !errors.Is(gerr, ErrNotFound):
			return nil, unavailable("loading the recovery request", gerr)
		}
		stale = es.id // closed, or lost by an Open that failed: replace the mark
	}
	if err != nil {
		return nil, unavailable("saving the account", err)
	}
	if err := s.cfg.Store.PutRecovery(ctx, r); err != nil {
		_ = s.cfg.Store.Update(ctx, user, func(st *State) error {
			if st.OpenRecovery == id {
				st.OpenRecovery, st.OpenRecoveryAt = "", time.Time{}
			}
			return nil
		})
		return nil, unavailable("saving the recovery request", err)
	}
	s.emit(ctx, EventRecoveryOpened, user, "recovery "+id)
	c := *r
	return &c, nil
}

// Recoveries lists the recovery requests (only the open ones if
// openOnly), oldest first, at most MaxListedRecoveries.
func (s *Service) Recoveries(ctx context.Context, openOnly bool) ([]Recovery, error) {
	all, err := s.cfg.Store.Recoveries(ctx)
	if err != nil {
		return nil, unavailable("listing recovery requests", err)
	}
	if openOnly {
		all = slices.DeleteFunc(all, func(r Recovery) bool { return r.State != RecoveryOpen })
	}
	slices.SortFunc(all, func(a, b Recovery) int {
		if c := a.Opened.Compare(b.Opened); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(all) > MaxListedRecoveries {
		all = all[:MaxListedRecoveries]
	}
	return all, nil
}

// Recovery returns one request: ErrUnknownRecovery if there is none.
func (s *Service) Recovery(ctx context.Context, id string) (*Recovery, error) {
	if !validID(id) {
		return nil, ErrUnknownRecovery
	}
	r, err := s.cfg.Store.GetRecovery(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnknownRecovery
	}
	if err != nil {
		return nil, unavailable("loading the recovery request", err)
	}
	return r, nil
}

// CloseRecovery closes an open request after the operator checked the
// customer's identity out of band, with the operator's note (the rules of
// a reason). With resetDevice the user's devices are removed
// (State.DevicesSet, none) and a pending enrolment is dropped: the customer
// then enrols anew. Closing a closed request is ErrInvalid.
func (s *Service) CloseRecovery(ctx context.Context, id string, resetDevice bool, note string) (*Recovery, error) {
	note, err := checkText("note", note)
	if err != nil {
		return nil, err
	}
	r, err := s.Recovery(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State != RecoveryOpen {
		return nil, invalid("recovery request %s is closed already", id)
	}
	var enrolling string
	err = s.cfg.Store.Update(ctx, r.User, func(st *State) error {
		if st.OpenRecovery == id {
			st.OpenRecovery, st.OpenRecoveryAt = "", time.Time{}
		}
		enrolling = ""
		if resetDevice {
			st.DevicesSet, st.Devices = true, nil
			enrolling = st.Pending[KindEnroll].ID
			delete(st.Pending, KindEnroll)
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("saving the account", err)
	}
	if enrolling != "" {
		if err := s.cfg.Store.DeletePending(ctx, r.User, enrolling); err != nil {
			return nil, unavailable("dropping the pending enrolment", err)
		}
	}
	r.State, r.Closed, r.ResetDevice, r.Note = RecoveryClosed, s.cfg.Now(), resetDevice, note
	if err := s.cfg.Store.PutRecovery(ctx, r); err != nil {
		return nil, unavailable("saving the recovery request", err)
	}
	detail := ""
	if resetDevice {
		detail = "reset_device"
		s.emit(ctx, EventDeviceRemoved, r.User, detail)
	}
	s.emit(ctx, EventRecoveryClosed, r.User, detail)
	return r, nil
}
