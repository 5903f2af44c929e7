package account

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
)

// keyLen is the key size for a suite's hash: its digest size.
func keyLen(s *ocra.Suite) int {
	switch s.Hash() {
	case "SHA1":
		return 20
	case "SHA512":
		return 64
	}
	return 32
}

// StartEnrollment makes a fresh device key (of the suite's hash size: 20,
// 32 or 64 bytes) and an activation question, and returns them as an
// enrolment URI (package enroll; shown once) with the question. The device
// is not usable until Activate receives the app's answer to the question
// computed with the new key. A new Start replaces the user's pending
// enrolment. If the user has a phone and Config.SMS is set, the question
// is also sent by SMS as the activation code (at most once per
// ResendCooldown; a failure to send is not an error: the page shows the
// question too).
func (s *Service) StartEnrollment(ctx context.Context, user, lang string) (*Enrollment, error) {
	u, _, err := s.resolve(ctx, user)
	if err != nil {
		return nil, err
	}
	key := make([]byte, keyLen(s.suite))
	if _, err := io.ReadFull(s.cfg.Rand, key); err != nil {
		return nil, unavailable("randomness", err)
	}
	e := enroll.Enrollment{Issuer: s.cfg.Issuer, Account: user, Suite: s.suite.String(), Key: key}
	if err := e.Validate(); err != nil {
		return nil, invalid("this account cannot be enrolled: %s", strings.TrimPrefix(err.Error(), "enroll: invalid enrolment: "))
	}
	id, err := newID(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	question, err := s.suite.RandomQuestion(s.cfg.Rand, 0)
	if err != nil {
		return nil, unavailable("randomness", err)
	}
	answer, err := s.suite.Compute(key, ocra.Input{Question: question})
	if err != nil {
		return nil, unavailable("computing the answer", err)
	}
	sealed, err := s.keys.seal(s.cfg.Rand, user, DeviceName, key)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	p := &Pending{
		ID: id, User: user, Kind: KindEnroll, Value: DeviceName,
		MAC: s.keys.mac(user, id, KindEnroll, answer), AttemptsLeft: s.cfg.MaxAttempts,
		Expires: now.Add(s.cfg.EnrollTTL), Suite: s.suite.String(), SealedKey: sealed, Question: question,
	}
	if err := s.cfg.Store.PutPending(ctx, p); err != nil {
		return nil, unavailable("saving the enrolment", err)
	}
	sendSMS := u.Phone != "" && s.cfg.SMS != nil
	var old string
	err = s.cfg.Store.Update(ctx, user, func(st *State) error {
		ref := st.Pending[KindEnroll]
		old = ref.ID
		if st.Pending == nil {
			st.Pending = make(map[string]PendingRef)
		}
		next := PendingRef{ID: id, ResendAt: ref.ResendAt}
		sendSMS = u.Phone != "" && s.cfg.SMS != nil && !now.Before(ref.ResendAt)
		if sendSMS {
			next.ResendAt = now.Add(ResendCooldown)
		}
		st.Pending[KindEnroll] = next
		return nil
	})
	if err != nil {
		_ = s.cfg.Store.DeletePending(ctx, user, id)
		return nil, unavailable("saving the account", err)
	}
	if old != "" && old != id {
		_ = s.cfg.Store.DeletePending(ctx, user, old)
	}
	s.emit(ctx, EventEnrollmentStarted, user, DeviceName)
	if sendSMS {
		if err := s.sendActivation(ctx, u.Phone, user, id, question, lang); err != nil {
			s.cooldownOver(ctx, user, id)
		}
	}
	return &Enrollment{ID: id, URI: e.URI(), Question: question, Expires: p.Expires, AttemptsLeft: p.AttemptsLeft}, nil
}

func (s *Service) sendActivation(ctx context.Context, phone, user, id, question, lang string) error {
	l := langOf(lang)
	return s.cfg.SMS.Send(ctx, challenge.Message{
		Method: challenge.MethodSMS, To: phone, Code: question, User: user, Operation: "activate_device",
		ChallengeID: id, Lang: l, Text: fmt.Sprintf(texts[l][KindEnroll], question, s.cfg.Issuer),
	})
}

// cooldownOver ends the resend cooldown of enrolment id (its SMS failed).
func (s *Service) cooldownOver(ctx context.Context, user, id string) {
	now := s.cfg.Now()
	_ = s.cfg.Store.Update(ctx, user, func(st *State) error {
		if ref, ok := st.Pending[KindEnroll]; ok && ref.ID == id {
			ref.ResendAt = now
			st.Pending[KindEnroll] = ref
		}
		return nil
	})
}

// ResendActivation sends the activation SMS of the pending enrolment id
// again: *WaitError within ResendCooldown of the last one, ErrInvalid if
// the user has no phone, ErrUnknownEnrollment if id is not pending,
// ErrUnavailable if it could not be sent.
func (s *Service) ResendActivation(ctx context.Context, user, id, lang string) error {
	if !validID(id) {
		return ErrUnknownEnrollment
	}
	u, st, err := s.resolve(ctx, user)
	if err != nil {
		return err
	}
	if st.Pending[KindEnroll].ID != id {
		return ErrUnknownEnrollment
	}
	p, err := s.cfg.Store.GetPending(ctx, user, id, s.cfg.Now())
	if errors.Is(err, ErrNotFound) {
		return ErrUnknownEnrollment
	}
	if err != nil {
		return unavailable("loading the enrolment", err)
	}
	if u.Phone == "" {
		return invalid("the account has no phone to send the activation code to")
	}
	if s.cfg.SMS == nil {
		return fmt.Errorf("%w: no sms sender is configured", ErrUnavailable)
	}
	now := s.cfg.Now()
	err = s.cfg.Store.Update(ctx, user, func(st *State) error {
		ref, ok := st.Pending[KindEnroll]
		if !ok || ref.ID != id {
			return ErrUnknownEnrollment
		}
		if now.Before(ref.ResendAt) {
			return &WaitError{Wait: ref.ResendAt.Sub(now)}
		}
		ref.ResendAt = now.Add(ResendCooldown)
		st.Pending[KindEnroll] = ref
		return nil
	})
	var we *WaitError
	switch {
	case errors.As(err, &we) || errors.Is(err, ErrUnknownEnrollment):
		return err
	case err != nil:
		return unavailable("saving the account", err)
	}
	if err := s.sendActivation(ctx, u.Phone, user, id, p.Question, lang); err != nil {
		s.cooldownOver(ctx, user, id)
		return fmt.Errorf("%w: the activation code could not be sent: %w", ErrUnavailable, err)
	}
	return nil
}

// Activate checks the app's answer to the activation question of the
// pending enrolment id. Right: the new device replaces the user's devices
// (State.DevicesSet) and the enrolment ends. Wrong: *WrongCodeError;
// unknown, replaced, expired or spent: ErrUnknownEnrollment. The answer is
// compared in constant time (as a keyed MAC).
func (s *Service) Activate(ctx context.Context, user, id, answer string) error {
	if !validID(id) {
		return ErrUnknownEnrollment
	}
	answer, err := challenge.NormalizeAnswer(answer)
	if err != nil {
		return invalid("the answer must be the digits the E-num app shows")
	}
	if s.suite.Digits() == 0 {
		answer = strings.ToLower(answer)
	}
	if _, err := s.cfg.Base.Lookup(ctx, user); err != nil {
		return err
	}
	p, err := s.attempt(ctx, user, id, answer, ErrUnknownEnrollment, KindEnroll)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	err = s.cfg.Store.Update(ctx, user, func(st *State) error {
		if st.Pending[KindEnroll].ID == id {
			delete(st.Pending, KindEnroll)
		}
		st.DevicesSet = true
		st.Devices = []StoredDevice{{Name: p.Value, Suite: p.Suite, Enrolled: now, SealedKey: p.SealedKey}}
		return nil
	})
	if err != nil {
		return unavailable("saving the device", err)
	}
	s.emit(ctx, EventDeviceActivated, user, p.Value)
	return nil
}

// RemoveDevice removes the user's devices (the directory's too: the state
// then says there are none).
func (s *Service) RemoveDevice(ctx context.Context, user string) error {
	u, _, err := s.resolve(ctx, user)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.Update(ctx, user, func(st *State) error {
		st.DevicesSet, st.Devices = true, nil
		return nil
	}); err != nil {
		return unavailable("saving the account", err)
	}
	names := make([]string, 0, len(u.Devices))
	for _, d := range u.Devices {
		names = append(names, d.Name)
	}
	s.emit(ctx, EventDeviceRemoved, user, strings.Join(names, ","))
	return nil
}
