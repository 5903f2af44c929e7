package memory

import (
	"context"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// regulation is the memory store's per-user and per-phone state for the
// lockout and the SMS limits. One mutex guards it: these calls are rare
// next to challenge traffic.
type userReg struct {
	fails       int
	lockedUntil time.Time
	lastSMS     time.Time
	hour        time.Time
	hourCount   int
}

func (u *userReg) idle(now time.Time) bool {
	return u.fails == 0 && !now.Before(u.lockedUntil) && now.Sub(u.lastSMS) > time.Hour && now.Sub(u.hour) > time.Hour
}

// regulated returns u's entry, creating it; nil if the store is full.
// s.regMu must be held.
func (s *Store) regulated(user string) *userReg {
	u, ok := s.users[user]
	if !ok {
		if len(s.users)+len(s.phones) >= s.opts.MaxChallenges {
			return nil
		}
		u = &userReg{}
		s.users[user] = u
	}
	return u
}

// LockedUntil implements store.Regulator.
func (s *Store) LockedUntil(_ context.Context, user string, now time.Time) (time.Time, error) {
	return s.lockedUntil(user, now), nil
}

func (s *Store) lockedUntil(user string, now time.Time) time.Time {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if u, ok := s.users[user]; ok && now.Before(u.lockedUntil) {
		return u.lockedUntil
	}
	return time.Time{}
}

// Unlock implements store.Regulator.
func (s *Store) Unlock(_ context.Context, user string) error {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if u, ok := s.users[user]; ok {
		u.fails, u.lockedUntil = 0, time.Time{}
	}
	return nil
}

// SpendSMS implements store.Regulator.
func (s *Store) SpendSMS(_ context.Context, user, phone string, l store.SMSLimits, now time.Time) error {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	u := s.regulated(user)
	if u == nil {
		return store.ErrFull
	}
	if l.UserCooldown > 0 && !u.lastSMS.IsZero() && now.Before(u.lastSMS.Add(l.UserCooldown)) {
		return &store.LimitError{Limit: store.LimitUserCooldown, Until: u.lastSMS.Add(l.UserCooldown)}
	}
	last, seen := s.phones[phone]
	if l.PhoneCooldown > 0 && seen && now.Before(last.Add(l.PhoneCooldown)) {
		return &store.LimitError{Limit: store.LimitPhoneCooldown, Until: last.Add(l.PhoneCooldown)}
	}
	hour, day := store.HourStart(now), store.DayStart(now)
	if !u.hour.Equal(hour) {
		u.hour, u.hourCount = hour, 0
	}
	if l.UserHourly > 0 && u.hourCount >= l.UserHourly {
		return &store.LimitError{Limit: store.LimitUserHourly, Until: hour.Add(time.Hour)}
	}
	if !s.day.Equal(day) {
		s.day, s.dayCount = day, 0
	}
	if l.DailyBudget > 0 && s.dayCount >= l.DailyBudget {
		return &store.LimitError{Limit: store.LimitDailyBudget, Until: day.AddDate(0, 0, 1)}
	}
	if !seen && len(s.users)+len(s.phones) >= s.opts.MaxChallenges {
		return store.ErrFull
	}
	u.lastSMS, u.hourCount = now, u.hourCount+1
	s.phones[phone] = now
	s.dayCount++
	return nil
}

// sweepRegulation drops entries that no longer hold anything.
func (s *Store) sweepRegulation(now time.Time) {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	for k, u := range s.users {
		if u.idle(now) {
			delete(s.users, k)
		}
	}
	for k, t := range s.phones {
		if now.Sub(t) > time.Hour {
			delete(s.phones, k)
		}
	}
}
