package challenge

import (
	"context"
	"time"
)

// EventKind names a step in a challenge's life.
type EventKind string

// Event kinds.
const (
	EventIssued     EventKind = "issued"
	EventBegun      EventKind = "method_begun"
	EventSendFailed EventKind = "send_failed"
	// EventSent: a method's sender accepted its message (SMS, e-mail).
	EventSent        EventKind = "code_sent"
	EventWrongAnswer EventKind = "wrong_answer"
	EventExhausted   EventKind = "attempts_exhausted"
	EventConfirmed   EventKind = "confirmed"
	EventCancelled   EventKind = "cancelled"
	EventLocked      EventKind = "user_locked"
	EventSMSLimited  EventKind = "sms_limited"
	// EventEmailLimited: an e-mail was refused by a cost control.
	EventEmailLimited EventKind = "email_limited"
	// EventNotDelivered: a confirmed request could not be delivered to
	// the upstream (it failed before answering); it may be delivered again.
	EventNotDelivered EventKind = "not_delivered"
	// EventExpired: a challenge reached its end unanswered (reported by
	// the gateway that issued it; see Engine).
	EventExpired EventKind = "expired"
	// EventRefused: a protected request was refused before a challenge
	// (Reason is the error code: ambiguous_operation, cross_site,
	// too_many_pending); the gateway reports it, not the engine.
	EventRefused EventKind = "refused"
	// EventDelivered: the upstream answered a confirmed request.
	EventDelivered EventKind = "delivered"
	// EventAwaitingApproval: the customer confirmed an operation that
	// needs approval; it waits for an approver.
	EventAwaitingApproval EventKind = "awaiting_approval"
	// EventApproved: an approver approved it (User is the customer,
	// Detail the approver, Method the approver's method).
	EventApproved EventKind = "approved"
	// EventRejected: an approver rejected it (as EventApproved).
	EventRejected EventKind = "rejected"
	// EventApprovalExpired: the wait for approval ended undecided
	// (reported by the gateway that issued the challenge).
	EventApprovalExpired EventKind = "approval_expired"
)

// Event reports one step for journals, logs, metrics and notifications.
// It never carries codes, answers, questions or keys; the payee is the
// displayed (masked) one.
type Event struct {
	// Kind is the step.
	Kind EventKind
	// Time is when it happened (the engine's clock).
	Time time.Time
	// ChallengeID is the challenge concerned.
	ChallengeID string
	// User is the user concerned.
	User string
	// Operation is the operation, where known.
	Operation string
	// Method is the method, where relevant.
	Method Method
	// Amount, Currency and Payee describe the operation where the step
	// knows them: the amount as a plain decimal, the payee as shown.
	Amount, Currency, Payee string
	// Reason says why, in a few words, where there is one (e.g. why the
	// request is protected).
	Reason string
	// Detail adds to Reason where there is more to say (which field of an
	// ambiguous request could not be read); never values.
	Detail string
	// Delivery counts the deliveries, for delivered and not delivered.
	Delivery int
	// AttemptsLeft is set for wrong answers.
	AttemptsLeft int
	// ClientIP and UserAgent are the client's, from WithClient.
	ClientIP, UserAgent string
	// Err is set for failures.
	Err error
}

// Client is who sent the request a step serves, for events.
type Client struct {
	// IP is the client's address as the front end determined it.
	IP string
	// UserAgent is the request's User-Agent (cut to 256 bytes).
	UserAgent string
}

type clientKey struct{}

// WithClient returns ctx carrying c, so the events of engine calls made
// with it name the client.
func WithClient(ctx context.Context, c Client) context.Context {
	if len(c.UserAgent) > 256 {
		c.UserAgent = c.UserAgent[:256]
	}
	return context.WithValue(ctx, clientKey{}, c)
}

func (e *Engine) emit(ctx context.Context, ev Event) {
	if e.cfg.Events == nil {
		return
	}
	ev.Time = e.cfg.Now()
	e.cfg.Events(clientOf(ctx, ev))
}

// ClientFrom returns the client ctx carries (see WithClient), if any.
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// clientOf returns ev naming the client of ctx (see WithClient), if any.
func clientOf(ctx context.Context, ev Event) Event {
	if c, ok := ctx.Value(clientKey{}).(Client); ok {
		ev.ClientIP, ev.UserAgent = c.IP, c.UserAgent
	}
	return ev
}
