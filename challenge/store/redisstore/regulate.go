package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// Lifetimes of regulation keys.
const (
	// lockIdle is how long a user's run of failures is remembered after
	// the last failure (or after the end of the lock it caused).
	lockIdle = 24 * time.Hour
	// smsMinTTL is the least time SMS last-sent marks are kept, as the
	// memory store does; longer cooldowns keep them longer.
	smsMinTTL = time.Hour
	// windowSlack keeps hourly and daily counters a while past their
	// window, so gateways whose clocks disagree a little still share them.
	windowSlack = time.Hour
)

// smsKeys returns the SpendSMS keys: user last-sent, phone last-sent, the
// user's counter for hour and the deployment's counter for day. They share
// the {sms} hash tag.
func (s *Store) smsKeys(user, phone string, hour, day time.Time) []string {
	p := s.opts.Prefix + "{sms}:"
	return []string{
		p + "u:" + user,
		p + "p:" + phone,
		p + "h:" + hour.Format("2006010215") + ":" + user,
		p + "d:" + day.Format("20060102"),
	}
}

// LockedUntil implements store.Regulator.
func (s *Store) LockedUntil(ctx context.Context, user string, now time.Time) (time.Time, error) {
	until, err := lockedScript.Run(ctx, s.client, []string{s.lockKey(user)}, now.UnixMilli()).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("redis: read lock: %w", err)
	}
	if until == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(until).UTC(), nil
}

// Unlock implements store.Regulator.
func (s *Store) Unlock(ctx context.Context, user string) error {
	if err := unlockScript.Run(ctx, s.client, []string{s.lockKey(user)}).Err(); err != nil {
		return fmt.Errorf("redis: unlock: %w", err)
	}
	return nil
}

// smsLimits maps the script's limit numbers to store limit names.
var smsLimits = [...]string{1: store.LimitUserCooldown, 2: store.LimitPhoneCooldown, 3: store.LimitUserHourly, 4: store.LimitDailyBudget}

// SpendSMS implements store.Regulator.
func (s *Store) SpendSMS(ctx context.Context, user, phone string, l store.SMSLimits, now time.Time) error {
	hour, day := store.HourStart(now), store.DayStart(now)
	hourEnd, dayEnd := hour.Add(time.Hour), day.AddDate(0, 0, 1)
	v, err := smsScript.Run(ctx, s.client, s.smsKeys(user, phone, hour, day),
		now.UnixMilli(), l.UserCooldown.Milliseconds(), l.PhoneCooldown.Milliseconds(), l.UserHourly, l.DailyBudget,
		hourEnd.UnixMilli(), dayEnd.UnixMilli(),
		max(l.UserCooldown, smsMinTTL).Milliseconds(), max(l.PhoneCooldown, smsMinTTL).Milliseconds(),
		hourEnd.Sub(now).Milliseconds()+windowSlack.Milliseconds(), dayEnd.Sub(now).Milliseconds()+windowSlack.Milliseconds(),
	).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis: spend sms: %w", err)
	}
	if len(v) == 0 || v[0] < 0 || v[0] >= int64(len(smsLimits)) {
		return fmt.Errorf("redis: spend sms: unexpected reply")
	}
	if v[0] == 0 {
		return nil
	}
	if len(v) < 2 {
		return fmt.Errorf("redis: spend sms: unexpected reply")
	}
	return &store.LimitError{Limit: smsLimits[v[0]], Until: time.UnixMilli(v[1]).UTC()}
}
