package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// Lifetimes of regulation keys.
const (
	// lockIdle is how long a user's run of failures is remembered after
	// the last failure (or after the end of the lock it caused).
	lockIdle = 24 * time.Hour
	// smsMinTTL is the least time last-sent marks (SMS and e-mail) are
	// kept, as the memory store does; longer cooldowns keep them longer.
	smsMinTTL = time.Hour
	// windowSlack keeps hourly and daily counters a while past their
	// window, so gateways whose clocks disagree a little still share them.
	windowSlack = time.Hour
)

// spendKeys returns the keys of one channel's spend and refund scripts:
// user last-sent, destination last-sent, the user's counter for hour, the
// deployment's counter for day, and the mark of the spend at at (what
// Refund undoes). They share the channel's hash tag, {sms} or {email}.
func (s *Store) spendKeys(channel, user, to string, at time.Time) []string {
	p := s.opts.Prefix + "{" + channel + "}:"
	return []string{
		p + "u:" + user,
		p + "p:" + to,
		p + "h:" + store.HourStart(at).Format("2006010215") + ":" + user,
		p + "d:" + store.DayStart(at).Format("20060102"),
		p + "s:" + strconv.FormatInt(at.UnixMilli(), 10) + ":" + strconv.Itoa(len(user)) + ":" + user + ":" + to,
	}
}

// LockedUntil implements store.Regulator.
func (s *Store) LockedUntil(ctx context.Context, user string, now time.Time) (time.Time, error) {
	until, err := lockedScript.run(ctx, s.client, []string{s.lockKey(user)}, now.UnixMilli()).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("redis: read lock: %w", err)
	}
	if until == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(until).UTC(), nil
}

// Failures implements store.Regulator: one read-only script on the
// user's lock hash, the key Attempt counts in. The run lapses with the
// hash (lockIdle after the last failure or the end of its lock).
func (s *Store) Failures(ctx context.Context, user string, now time.Time) (int, time.Time, error) {
	v, err := failuresScript.run(ctx, s.client, []string{s.lockKey(user)}, now.UnixMilli()).Int64Slice()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("redis: read failures: %w", err)
	}
	if len(v) != 2 || v[0] < 0 {
		return 0, time.Time{}, fmt.Errorf("redis: read failures: unexpected reply")
	}
	var until time.Time
	if v[1] != 0 {
		until = time.UnixMilli(v[1]).UTC()
	}
	return int(v[0]), until, nil
}

// Unlock implements store.Regulator.
func (s *Store) Unlock(ctx context.Context, user string) error {
	if err := unlockScript.run(ctx, s.client, []string{s.lockKey(user)}).Err(); err != nil {
		return fmt.Errorf("redis: unlock: %w", err)
	}
	return nil
}

// spendLimits maps the script's limit numbers to store limit names, per
// channel.
var spendLimits = map[string][5]string{
	store.ChannelSMS:   {1: store.LimitUserCooldown, 2: store.LimitPhoneCooldown, 3: store.LimitUserHourly, 4: store.LimitDailyBudget},
	store.ChannelEmail: {1: store.LimitUserCooldown, 2: store.LimitAddressCooldown, 3: store.LimitUserHourly, 4: store.LimitDailyBudget},
}

// SpendSMS implements store.Regulator.
func (s *Store) SpendSMS(ctx context.Context, user, phone string, l store.SMSLimits, now time.Time) error {
	return s.spend(ctx, store.ChannelSMS, user, phone, l, now)
}

// SpendEmail implements store.Regulator.
func (s *Store) SpendEmail(ctx context.Context, user, address string, l store.MessageLimits, now time.Time) error {
	return s.spend(ctx, store.ChannelEmail, user, address, l, now)
}

func (s *Store) spend(ctx context.Context, channel, user, to string, l store.MessageLimits, now time.Time) error {
	hour, day := store.HourStart(now), store.DayStart(now)
	hourEnd, dayEnd := hour.Add(time.Hour), day.AddDate(0, 0, 1)
	v, err := spendScript.run(ctx, s.client, s.spendKeys(channel, user, to, now),
		now.UnixMilli(), l.UserCooldown.Milliseconds(), l.PhoneCooldown.Milliseconds(), l.UserHourly, l.DailyBudget,
		hourEnd.UnixMilli(), dayEnd.UnixMilli(),
		max(l.UserCooldown, smsMinTTL).Milliseconds(), max(l.PhoneCooldown, smsMinTTL).Milliseconds(),
		hourEnd.Sub(now).Milliseconds()+windowSlack.Milliseconds(), dayEnd.Sub(now).Milliseconds()+windowSlack.Milliseconds(),
		store.RefundWindow.Milliseconds(),
	).Int64Slice()
	op := "spend " + channel
	if err != nil {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	names := spendLimits[channel]
	if len(v) == 0 || v[0] < 0 || v[0] >= int64(len(names)) {
		return fmt.Errorf("redis: %s: unexpected reply", op)
	}
	if v[0] == 0 {
		return nil
	}
	if len(v) < 2 {
		return fmt.Errorf("redis: %s: unexpected reply", op)
	}
	return &store.LimitError{Limit: names[v[0]], Until: time.UnixMilli(v[1]).UTC(), Channel: channel}
}

// Refund implements store.Regulator.
func (s *Store) Refund(ctx context.Context, channel, user, to string, spentAt time.Time) error {
	if _, ok := spendLimits[channel]; !ok {
		return fmt.Errorf("redisstore: refund: unknown channel %q", channel)
	}
	if err := refundScript.run(ctx, s.client, s.spendKeys(channel, user, to, spentAt), spentAt.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("redis: refund %s: %w", channel, err)
	}
	return nil
}
