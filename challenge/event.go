package challenge

// EventKind names a step in a challenge's life.
type EventKind string

// Event kinds.
const (
	EventIssued      EventKind = "issued"
	EventBegun       EventKind = "method_begun"
	EventSendFailed  EventKind = "send_failed"
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
	// EventDelivered: the upstream answered a confirmed request.
	EventDelivered EventKind = "delivered"
)

// Event reports one step for journals and logs. It never carries codes,
// answers, questions or keys.
type Event struct {
	// Kind is the step.
	Kind EventKind
	// ChallengeID is the challenge concerned.
	ChallengeID string
	// User is the user concerned.
	User string
	// Operation is the operation, where known.
	Operation string
	// Method is the method, where relevant.
	Method Method
	// AttemptsLeft is set for wrong answers.
	AttemptsLeft int
	// Err is set for failures.
	Err error
}

func (e *Engine) emit(ev Event) {
	if e.cfg.Events != nil {
		e.cfg.Events(ev)
	}
}
