package account

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/enumgate/enumgate/challenge"
)

// texts are the messages of the account, by language.
var texts = map[string]map[string]string{
	"en": {
		KindPhone:  "Code %s verifies this phone for %s. Never tell it to anyone.",
		KindEmail:  "Code %s verifies this address for %s. Never tell it to anyone.",
		"subject":  "Verify your e-mail address",
		KindEnroll: "Activation code %s: enter it in your E-num app to activate it for %s. Never tell the app's answer to anyone.",
	},
	"ru": {
		KindPhone:  "Код %s подтверждает этот телефон для %s. Никому его не сообщайте.",
		KindEmail:  "Код %s подтверждает этот адрес для %s. Никому его не сообщайте.",
		"subject":  "Подтверждение адреса электронной почты",
		KindEnroll: "Код активации %s: введите его в приложении E-num, чтобы активировать его для %s. Никому не сообщайте ответ приложения.",
	},
}

// normalize checks a contact of kind.
func normalize(kind, value string) (string, error) {
	switch kind {
	case KindPhone:
		return NormalizePhone(value)
	case KindEmail:
		return NormalizeEmail(value)
	}
	return "", invalid("kind must be %q or %q", KindPhone, KindEmail)
}

func mask(kind, value string) string {
	if kind == KindPhone {
		return challenge.MaskPhone(value)
	}
	return challenge.MaskEmail(value)
}

// reserve takes the resend cooldown of user's pending item of kind,
// naming the new id; it fails with *WaitError while the last message is
// too recent. It returns the id it replaced ("" none).
func (s *Service) reserve(ctx context.Context, user, kind, id string) (string, error) {
	now := s.cfg.Now()
	var old string
	err := s.cfg.Store.Update(ctx, user, func(st *State) error {
		ref, ok := st.Pending[kind]
		if ok && now.Before(ref.ResendAt) {
			return &WaitError{Wait: ref.ResendAt.Sub(now)}
		}
		old = ref.ID
		if st.Pending == nil {
			st.Pending = make(map[string]PendingRef)
		}
		st.Pending[kind] = PendingRef{ID: id, ResendAt: now.Add(ResendCooldown)}
		return nil
	})
	var we *WaitError
	if errors.As(err, &we) {
		return "", err
	}
	if err != nil {
		return "", unavailable("saving the account", err)
	}
	return old, nil
}

// unreserve gives back a cooldown taken for id (its message was not sent).
func (s *Service) unreserve(ctx context.Context, user, kind, id string) {
	_ = s.cfg.Store.Update(ctx, user, func(st *State) error {
		if st.Pending[kind].ID == id {
			delete(st.Pending, kind)
		}
		return nil
	})
}

// StartVerification sends a code to a phone (kind KindPhone, by SMS) or an
// address (KindEmail), in lang ("en" or "ru"), to verify that the user
// controls it. The value is normalized (NormalizePhone, NormalizeEmail)
// and must not be held by another user (ErrTaken). A new Start replaces
// the user's pending verification of that kind; within ResendCooldown of
// the last one it fails with *WaitError. The code works only once the
// sender accepted it; a sender failure is ErrUnavailable and changes
// nothing.
func (s *Service) StartVerification(ctx context.Context, user, kind, value, lang string) (*Verification, error) {
	value, err := normalize(kind, value)
	if err != nil {
		return nil, err
	}
	base, err := s.cfg.Base.Lookup(ctx, user)
	if err != nil {
		return nil, err
	}
	sender := s.cfg.SMS
	method := challenge.MethodSMS
	if kind == KindEmail {
		sender, method = s.cfg.Email, challenge.MethodEmail
	}
	if sender == nil {
		return nil, fmt.Errorf("%w: no %s sender is configured", ErrUnavailable, method)
	}
	st, err := s.cfg.Store.Load(ctx, user)
	if err != nil {
		return nil, unavailable("loading the account", err)
	}
	if kind == KindPhone && st.Phone == value {
		return nil, invalid("this phone is verified already")
	}
	if kind == KindEmail {
		all := emails(base, st)
		i := slices.IndexFunc(all, func(e Email) bool { return e.Address == value })
		if i >= 0 && !all[i].OnFile {
			return nil, invalid("this address is verified already")
		}
		if i < 0 && len(all) >= MaxEmails {
			return nil, invalid("at most %d addresses; remove one first", MaxEmails)
		}
	}
	switch h, err := s.cfg.Store.Holder(ctx, kind, value); {
	case err != nil:
		return nil, unavailable("checking the contact", err)
	case h != "" && h != user:
		return nil, ErrTaken
	}
	id, err := newID(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	code, err := newCode(s.cfg.Rand, s.cfg.CodeLength)
	if err != nil {
		return nil, err
	}
	old, err := s.reserve(ctx, user, kind, id)
	if err != nil {
		return nil, err
	}
	l := langOf(lang)
	msg := challenge.Message{
		Method: method, To: value, Code: code, User: user, Operation: "verify_" + kind,
		ChallengeID: id, Lang: l, Text: fmt.Sprintf(texts[l][kind], code, s.cfg.Issuer),
	}
	if kind == KindEmail {
		msg.Subject = texts[l]["subject"]
	}
	if err := sender.Send(ctx, msg); err != nil {
		s.unreserve(ctx, user, kind, id)
		return nil, fmt.Errorf("%w: the code could not be sent: %w", ErrUnavailable, err)
	}
	now := s.cfg.Now()
	p := &Pending{
		ID: id, User: user, Kind: kind, Value: value, MAC: s.keys.mac(user, id, kind, code),
		AttemptsLeft: s.cfg.MaxAttempts, Expires: now.Add(s.cfg.CodeTTL), ResendAt: now.Add(ResendCooldown),
	}
	if err := s.cfg.Store.PutPending(ctx, p); err != nil {
		s.unreserve(ctx, user, kind, id)
		return nil, unavailable("saving the code", err)
	}
	if old != "" {
		_ = s.cfg.Store.DeletePending(ctx, user, old)
	}
	return &Verification{ID: id, Kind: kind, To: mask(kind, value), Expires: p.Expires}, nil
}

// normalizeCode strips spaces and dashes from a typed code and checks it
// is 1 to 64 decimal digits.
func normalizeCode(code string) (string, error) {
	if len(code) > 64 {
		return "", invalid("code too long")
	}
	b := make([]byte, 0, len(code))
	for i := 0; i < len(code); i++ {
		switch c := code[i]; {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == ' ' || c == '-':
		default:
			return "", invalid("a code has only digits")
		}
	}
	if len(b) == 0 {
		return "", invalid("the code is empty")
	}
	return string(b), nil
}

// ConfirmVerification checks the code of a verification. Right: a phone
// becomes the user's phone (the previous verified one is released); an
// address joins the user's addresses, as primary if the user has no
// verified primary address yet. Wrong: *WrongCodeError; unknown, expired
// or spent: ErrUnknownVerification; the contact taken by another user
// meanwhile: ErrTaken.
func (s *Service) ConfirmVerification(ctx context.Context, user, id, code string) error {
	if !validID(id) {
		return ErrUnknownVerification
	}
	code, err := normalizeCode(code)
	if err != nil {
		return err
	}
	base, err := s.cfg.Base.Lookup(ctx, user)
	if err != nil {
		return err
	}
	p, err := s.attempt(ctx, user, id, code, ErrUnknownVerification, KindPhone, KindEmail)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.Claim(ctx, p.Kind, p.Value, user); err != nil {
		if errors.Is(err, ErrTaken) {
			return ErrTaken
		}
		return unavailable("claiming the contact", err)
	}
	var released string
	err = s.cfg.Store.Update(ctx, user, func(st *State) error {
		released = ""
		if st.Pending[p.Kind].ID == id {
			delete(st.Pending, p.Kind)
		}
		if p.Kind == KindPhone {
			if st.Phone != p.Value {
				released = st.Phone
			}
			st.Phone = p.Value
			return nil
		}
		all := emails(base, st)
		all = slices.DeleteFunc(all, func(e Email) bool { return e.Address == p.Value })
		if len(all) >= MaxEmails {
			return invalid("at most %d addresses; remove one first", MaxEmails)
		}
		e := Email{Address: p.Value}
		if len(all) == 0 || all[0].OnFile {
			// The first verified address becomes primary.
			if len(all) > 0 {
				all[0].Primary = false
			}
			e.Primary = true
			all = append([]Email{e}, all...)
		} else {
			all = append(all, e)
		}
		st.Emails = all
		return nil
	})
	if err != nil {
		_ = s.cfg.Store.Release(ctx, p.Kind, p.Value, user)
		if errors.Is(err, ErrInvalid) {
			return err
		}
		return unavailable("saving the account", err)
	}
	if released != "" {
		_ = s.cfg.Store.Release(ctx, KindPhone, released, user)
	}
	s.emit(ctx, EventContactAdded, user, p.Kind+" "+mask(p.Kind, p.Value))
	return nil
}

// attempt spends one attempt of user's pending id of one of kinds with
// code; unknown is the error for a missing one.
func (s *Service) attempt(ctx context.Context, user, id, code string, unknown error, kinds ...string) (*Pending, error) {
	// The MAC binds the kind too, so the kind of the stored item is
	// checked by the comparison itself; try the kinds in turn only for
	// the item that exists.
	p, err := s.cfg.Store.GetPending(ctx, user, id, s.cfg.Now())
	if errors.Is(err, ErrNotFound) {
		return nil, unknown
	}
	if err != nil {
		return nil, unavailable("loading the code", err)
	}
	if !slices.Contains(kinds, p.Kind) {
		return nil, unknown
	}
	p, ok, err := s.cfg.Store.AttemptPending(ctx, user, id, s.keys.mac(user, id, p.Kind, code), s.cfg.Now())
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, unknown
	case err != nil:
		return nil, unavailable("checking the code", err)
	case !ok:
		return nil, &WrongCodeError{AttemptsLeft: p.AttemptsLeft}
	}
	return p, nil
}

// RemoveEmail removes one of the user's addresses (verified or on file).
// If it was primary, the next (verified first) becomes primary. The last
// address of a user without a phone and without a device stays:
// ErrLastContact.
func (s *Service) RemoveEmail(ctx context.Context, user, address string) error {
	address, err := NormalizeEmail(address)
	if err != nil {
		return err
	}
	base, err := s.cfg.Base.Lookup(ctx, user)
	if err != nil {
		return err
	}
	var removed Email
	err = s.cfg.Store.Update(ctx, user, func(st *State) error {
		all := emails(base, st)
		i := slices.IndexFunc(all, func(e Email) bool { return e.Address == address })
		if i < 0 {
			return invalid("%s is not one of the account's addresses", challenge.MaskEmail(address))
		}
		removed = all[i]
		all = slices.Delete(all, i, i+1)
		phone := st.Phone != "" || base.Phone != ""
		devices := len(base.Devices) > 0
		if st.DevicesSet {
			devices = len(st.Devices) > 0
		}
		if len(all) == 0 && !phone && !devices {
			return ErrLastContact
		}
		if removed.Primary && len(all) > 0 {
			j := max(slices.IndexFunc(all, func(e Email) bool { return !e.OnFile }), 0)
			next := all[j]
			next.Primary = true
			all = append([]Email{next}, slices.Delete(all, j, j+1)...)
		}
		st.Emails = all
		if st.Emails == nil {
			st.Emails = []Email{}
		}
		return nil
	})
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrLastContact) {
		return err
	}
	if err != nil {
		return unavailable("saving the account", err)
	}
	if !removed.OnFile {
		_ = s.cfg.Store.Release(ctx, KindEmail, address, user)
	}
	s.emit(ctx, EventContactRemoved, user, KindEmail+" "+challenge.MaskEmail(address))
	return nil
}

// MakePrimary makes one of the user's verified addresses the primary one.
// An address on file must be verified first (ErrInvalid).
func (s *Service) MakePrimary(ctx context.Context, user, address string) error {
	address, err := NormalizeEmail(address)
	if err != nil {
		return err
	}
	base, err := s.cfg.Base.Lookup(ctx, user)
	if err != nil {
		return err
	}
	changed := false
	err = s.cfg.Store.Update(ctx, user, func(st *State) error {
		all := emails(base, st)
		i := slices.IndexFunc(all, func(e Email) bool { return e.Address == address })
		switch {
		case i < 0:
			return invalid("%s is not one of the account's addresses", challenge.MaskEmail(address))
		case all[i].OnFile:
			return invalid("verify %s before making it primary", challenge.MaskEmail(address))
		case i == 0:
			changed = false
			return nil
		}
		changed = true
		e := all[i]
		e.Primary = true
		all = slices.Delete(all, i, i+1)
		all[0].Primary = false
		st.Emails = append([]Email{e}, all...)
		return nil
	})
	if errors.Is(err, ErrInvalid) {
		return err
	}
	if err != nil {
		return unavailable("saving the account", err)
	}
	if changed {
		s.emit(ctx, EventPrimaryChanged, user, KindEmail+" "+challenge.MaskEmail(address))
	}
	return nil
}
