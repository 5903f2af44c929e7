package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/store"
)

// budgetedSender counts the messages the account sends (verification and
// activation codes) against the same cost controls as the engine's SMS
// and e-mail (per-user and per-destination cooldowns, hourly and daily
// counts, in the shared store), so the account cannot be used to bomb a
// phone or an inbox. A refused message is a *challenge.LimitError; a
// message its sender did not take is refunded.
type budgetedSender struct {
	next    challenge.Sender
	store   store.Store
	channel string
	limits  store.MessageLimits
}

func budgeted(next challenge.Sender, st store.Store, channel string, l store.MessageLimits) challenge.Sender {
	if next == nil {
		return nil
	}
	return &budgetedSender{next: next, store: st, channel: channel, limits: l}
}

func (b *budgetedSender) Send(ctx context.Context, m challenge.Message) error {
	now := time.Now()
	var err error
	if b.channel == store.ChannelSMS {
		err = b.store.SpendSMS(ctx, m.User, m.To, b.limits, now)
	} else {
		err = b.store.SpendEmail(ctx, m.User, m.To, b.limits, now)
	}
	var le *store.LimitError
	switch {
	case errors.As(err, &le):
		method := challenge.MethodSMS
		if b.channel == store.ChannelEmail {
			method = challenge.MethodEmail
		}
		return &challenge.LimitError{Method: method, Limit: le.Limit, Wait: le.Until.Sub(now)}
	case err != nil:
		return fmt.Errorf("cost controls: %w", err)
	}
	if err := b.next.Send(ctx, m); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = b.store.Refund(rctx, b.channel, m.User, m.To, now)
		return err
	}
	return nil
}
