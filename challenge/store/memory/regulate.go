package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// The message channels, indexing userReg.ch and Store.chans.
const (
	chSMS = iota
	chEmail
	channels
)

func channelIndex(name string) (int, bool) {
	switch name {
	case store.ChannelSMS:
		return chSMS, true
	case store.ChannelEmail:
		return chEmail, true
	}
	return 0, false
}

// userReg is the memory store's per-user regulation state: the lockout
// and, per channel, the message limits. Store.regMu guards it: these calls
// are rare next to challenge traffic.
type userReg struct {
	fails       int
	lockedUntil time.Time
	ch          [channels]userChan
}

// userChan is one user's state for one message channel.
type userChan struct {
	last      time.Time
	hour      time.Time
	hourCount int
}

// chanState is the deployment's state for one message channel: when each
// destination was last sent to and the day's count.
type chanState struct {
	dests    map[string]time.Time
	day      time.Time
	dayCount int
}

// spendKey names one spend for Refund.
type spendKey struct {
	ch     int
	user   string
	to     string
	atNano int64
}

func (u *userReg) idle(now time.Time) bool {
	if u.fails != 0 || now.Before(u.lockedUntil) {
		return false
	}
	for _, c := range u.ch {
		if now.Sub(c.last) <= time.Hour || now.Sub(c.hour) <= time.Hour {
			return false
		}
	}
	return true
}

// entries is how many regulation entries the store holds, bounded by
// MaxChallenges. s.regMu must be held.
func (s *Store) entries() int {
	n := len(s.users) + len(s.spends)
	for _, c := range s.chans {
		n += len(c.dests)
	}
	return n
}

// regulated returns u's entry, creating it; nil if the store is full.
// s.regMu must be held.
func (s *Store) regulated(user string) *userReg {
	u, ok := s.users[user]
	if !ok {
		if s.entries() >= s.opts.MaxChallenges {
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

// Failures implements store.Regulator. It reads the user's entry without
// making one; the memory store never lets a run lapse (it ends with a
// success, a lock or Unlock).
func (s *Store) Failures(_ context.Context, user string, now time.Time) (int, time.Time, error) {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	u, ok := s.users[user]
	if !ok {
		return 0, time.Time{}, nil
	}
	var until time.Time
	if now.Before(u.lockedUntil) {
		until = u.lockedUntil
	}
	return u.fails, until, nil
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
	return s.spend(chSMS, user, phone, l, now)
}

// SpendEmail implements store.Regulator.
func (s *Store) SpendEmail(_ context.Context, user, address string, l store.MessageLimits, now time.Time) error {
	return s.spend(chEmail, user, address, l, now)
}

func (s *Store) spend(ch int, user, to string, l store.MessageLimits, now time.Time) error {
	name, destLimit := store.ChannelSMS, store.LimitPhoneCooldown
	if ch == chEmail {
		name, destLimit = store.ChannelEmail, store.LimitAddressCooldown
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	u := s.regulated(user)
	if u == nil {
		return store.ErrFull
	}
	uc, cs := &u.ch[ch], &s.chans[ch]
	if l.UserCooldown > 0 && !uc.last.IsZero() && now.Before(uc.last.Add(l.UserCooldown)) {
		return &store.LimitError{Limit: store.LimitUserCooldown, Until: uc.last.Add(l.UserCooldown), Channel: name}
	}
	last, seen := cs.dests[to]
	if l.PhoneCooldown > 0 && seen && now.Before(last.Add(l.PhoneCooldown)) {
		return &store.LimitError{Limit: destLimit, Until: last.Add(l.PhoneCooldown), Channel: name}
	}
	hour, day := store.HourStart(now), store.DayStart(now)
	if !uc.hour.Equal(hour) {
		uc.hour, uc.hourCount = hour, 0
	}
	if l.UserHourly > 0 && uc.hourCount >= l.UserHourly {
		return &store.LimitError{Limit: store.LimitUserHourly, Until: hour.Add(time.Hour), Channel: name}
	}
	if !cs.day.Equal(day) {
		cs.day, cs.dayCount = day, 0
	}
	if l.DailyBudget > 0 && cs.dayCount >= l.DailyBudget {
		return &store.LimitError{Limit: store.LimitDailyBudget, Until: day.AddDate(0, 0, 1), Channel: name}
	}
	k := spendKey{ch: ch, user: user, to: to, atNano: now.UnixNano()}
	newEntries := 1
	if !seen {
		newEntries++
	}
	if _, ok := s.spends[k]; ok {
		newEntries--
	}
	if s.entries()+newEntries > s.opts.MaxChallenges {
		return store.ErrFull
	}
	uc.last, uc.hourCount = now, uc.hourCount+1
	cs.dests[to] = now
	cs.dayCount++
	s.spends[k]++
	return nil
}

// Refund implements store.Regulator.
func (s *Store) Refund(_ context.Context, channel, user, to string, spentAt time.Time) error {
	ch, ok := channelIndex(channel)
	if !ok {
		return fmt.Errorf("memory: refund: unknown channel %q", channel)
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	k := spendKey{ch: ch, user: user, to: to, atNano: spentAt.UnixNano()}
	if s.spends[k] <= 0 {
		return nil
	}
	if s.spends[k]--; s.spends[k] == 0 {
		delete(s.spends, k)
	}
	cs := &s.chans[ch]
	if last, ok := cs.dests[to]; ok && last.Equal(spentAt) {
		delete(cs.dests, to)
	}
	if cs.day.Equal(store.DayStart(spentAt)) && cs.dayCount > 0 {
		cs.dayCount--
	}
	if u, ok := s.users[user]; ok {
		uc := &u.ch[ch]
		if uc.last.Equal(spentAt) {
			uc.last = time.Time{}
		}
		if uc.hour.Equal(store.HourStart(spentAt)) && uc.hourCount > 0 {
			uc.hourCount--
		}
	}
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
	for i := range s.chans {
		for k, t := range s.chans[i].dests {
			if now.Sub(t) > time.Hour {
				delete(s.chans[i].dests, k)
			}
		}
	}
	for k := range s.spends {
		if now.Sub(time.Unix(0, k.atNano)) >= store.RefundWindow {
			delete(s.spends, k)
		}
	}
}
