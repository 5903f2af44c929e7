// Package challenge is enumgate's confirmation engine: it issues a
// challenge for a stashed request, begins a confirmation method (E-num,
// SMS or e-mail), verifies the user's answer and consumes the challenge at
// most once, handing back the stashed request for replay.
//
// The engine knows nothing of Caddy or HTTP serving. State lives in a
// store.Store, where every security decision is one atomic operation;
// answers, codes and keys are never stored in clear (the store keeps keyed
// MACs) and never logged.
package challenge

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/enumgate/enumgate/challenge/ocra/payment"
	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
)

// State is where a challenge stands.
type State string

// Challenge states.
const (
	// StateChooseMethod: no method begun yet.
	StateChooseMethod State = "choose_method"
	// StateAwaitingAnswer: a method was begun; waiting for the answer.
	StateAwaitingAnswer State = "awaiting_answer"
	// StateExhausted: the attempt budget is spent.
	StateExhausted State = "exhausted"
	// StateConfirmed: confirmed, and the upstream answered the request.
	StateConfirmed State = "confirmed"
	// StateDelivering: confirmed; the request is being delivered.
	StateDelivering State = "delivering"
	// StateNotDelivered: confirmed, but the upstream did not answer; the
	// request may be delivered again (Engine.Deliver).
	StateNotDelivered State = "not_delivered"
	// StateAwaitingApproval: confirmed by the customer; waiting for an
	// approver (Request.Approval) until Challenge.ApprovalUntil.
	StateAwaitingApproval State = "awaiting_approval"
	// StateRejected: an approver rejected it; it is never forwarded.
	StateRejected State = "rejected"
)

// Subject is who is acting: the user and the session binding (e.g. a
// session cookie's value) the challenge is tied to. The binding is kept
// only as a keyed hash.
type Subject struct {
	// User is the user's id.
	User string
	// Session is the raw session binding; may be empty if the deployment
	// has no session to bind to.
	Session string
}

// Engine issues and verifies challenges. It is safe for concurrent use.
type Engine struct {
	cfg        Config
	ownStore   *memory.Store
	sessionKey []byte
	answerKey  []byte
	formKey    []byte
	stashAEAD  cipher.AEAD
	confirmKey []byte
	lockout    store.Lockout
	views      viewCache // see cacheView
	expiry     expiryWatch
	groups     sync.Map // approvers' groups issued for (see approvalGroups)
	approvals  store.Approvals
}

// New validates cfg, fills in defaults and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Directory == nil {
		return nil, errors.New("challenge: Config.Directory is required")
	}
	if len(cfg.Secret) < 16 {
		return nil, errors.New("challenge: Config.Secret must be at least 16 bytes")
	}
	if err := cfg.applyLimits(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	e := &Engine{
		cfg:        cfg,
		sessionKey: deriveKey(cfg.Secret, "enumgate/v1/session-binding"),
		answerKey:  deriveKey(cfg.Secret, "enumgate/v1/answer"),
		formKey:    deriveKey(cfg.Secret, "enumgate/v1/form-token"),
		confirmKey: ConfirmKey(cfg.Secret),
		lockout:    store.Lockout{After: cfg.LockoutAfter, For: cfg.LockoutFor},
	}
	var err error
	if e.stashAEAD, err = newStashAEAD(deriveKey(cfg.Secret, "enumgate/v1/stash")); err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	if e.cfg.Store == nil {
		e.ownStore = memory.New(memory.Options{})
		e.cfg.Store = e.ownStore
	}
	if e.approvals = cfg.Approvals; e.approvals == nil {
		e.approvals, _ = store.ApprovalsOf(e.cfg.Store)
	}
	return e, nil
}

// Close releases the memory store the engine created, if any.
func (e *Engine) Close() error {
	e.stopExpiry()
	if e.ownStore != nil {
		return e.ownStore.Close()
	}
	return nil
}

// ConfirmKey returns the key that signs Enumgate-Confirmed headers.
func (e *Engine) ConfirmKey() []byte { return e.confirmKey }

func (e *Engine) owner(s Subject) store.Owner {
	m := hmac.New(sha256.New, e.sessionKey)
	m.Write([]byte(s.Session))
	return store.Owner{User: s.User, Session: m.Sum(nil)}
}

// Request asks for a challenge.
type Request struct {
	// Subject is who must confirm.
	Subject Subject
	// Operation is the operation's name, e.g. "transfer".
	Operation string
	// Amount is the amount, exactly as the upstream receives it (a plain
	// decimal); optional.
	Amount string
	// Currency is the amount's currency code, e.g. "RUB"; optional.
	Currency string
	// Payee is the payee, exactly as the upstream receives it; optional.
	Payee string
	// PayeeDisplay is the payee as shown (masked, e.g. "•••• 1111");
	// empty means Payee.
	PayeeDisplay string
	// Fields are further details shown to the user, in order.
	Fields []Field
	// Mode is the E-num mode; empty means authorization. ModePayment needs
	// Amount and Payee in a form package challenge/ocra/payment accepts.
	Mode Mode
	// Methods are the methods the policy allows, in order of preference.
	// The challenge offers those the user can use. Empty means
	// BuiltinMethods.
	Methods []Method
	// TTL is the challenge's lifetime. Default 5 minutes.
	TTL time.Duration
	// MaxAttempts is the wrong-answer budget. Default 3.
	MaxAttempts int
	// Stash is the request to replay after confirmation. Required.
	Stash *Stash
	// ReturnTo is the same-origin path (with query) the user came from,
	// where cancelling returns to; optional.
	ReturnTo string
	// Reason says in a few words why the request is protected (the
	// policy's reason, never body values); it goes into the issued event.
	Reason string
	// Approval, if set, makes the confirmed operation wait for a second
	// person's approval before it is forwarded (four-eyes approval).
	Approval *Approval
}

// displayPayee is the payee as shown, for events.
func displayPayee(req *Request) string {
	if req.PayeeDisplay != "" {
		return req.PayeeDisplay
	}
	return req.Payee
}

// Challenge is the view of a challenge that pages and the API show.
type Challenge struct {
	// ID is the challenge id.
	ID string
	// Operation, Amount and Payee describe what is being confirmed.
	Operation string
	// Amount is the amount, exactly as the upstream receives it.
	Amount string
	// Currency is the amount's currency code, if known.
	Currency string
	// Payee is the payee, exactly as the upstream receives it.
	Payee string
	// PayeeDisplay is the payee as shown: Payee, or its masked form.
	PayeeDisplay string
	// Fields are further details shown to the user.
	Fields []Field
	// Mode is the E-num mode: ModePayment or ModeAuthorization.
	Mode Mode
	// PaymentPurse and PaymentAmount are, in payment mode, the normalized
	// payee and amount the E-num app computes the answer from.
	PaymentPurse, PaymentAmount string
	// ReturnTo is where cancelling returns to ("" if unknown).
	ReturnTo string
	// Methods are the offered methods, in order of preference.
	Methods []Method
	// State is where the challenge stands.
	State State
	// Method is the method begun, if any.
	Method Method
	// Question is the E-num question, when Method is enum.
	Question string
	// SentTo is the masked destination, when Method is sms or email.
	SentTo string
	// Destinations maps sms and email to the masked phone and address
	// they would use, for the method choice.
	Destinations map[string]string
	// ResendAt is when the begun method may be begun again (zero: now).
	ResendAt time.Time
	// AttemptsLeft is what remains of the wrong-answer budget.
	AttemptsLeft int
	// Expires is when the challenge dies.
	Expires time.Time
	// ConfirmedAt is when it was confirmed (zero: not yet).
	ConfirmedAt time.Time
	// ApprovalGroup is the approvers' group of a challenge that needs
	// approval ("" if none).
	ApprovalGroup string
	// ApprovalUntil is, once confirmed, when the wait for approval ends.
	ApprovalUntil time.Time
	// ApprovedBy is the approver who decided (approved or rejected).
	ApprovedBy string
	// DecidedAt is when the approver decided (zero: not yet).
	DecidedAt time.Time
}

func view(r *store.Record) (*Challenge, error) {
	return viewAt(r, time.Now())
}

// viewAt is view with the time that decides whether a delivery is in
// flight.
func viewAt(r *store.Record, now time.Time) (*Challenge, error) {
	v, err := decodeView(r.View)
	if err != nil {
		return nil, err
	}
	c := &Challenge{
		ID: r.ID, Operation: r.Operation, Amount: r.Amount, Payee: r.Payee, ReturnTo: r.ReturnTo,
		Currency: v.Currency, PayeeDisplay: v.PayeeDisplay, Fields: v.Fields, Mode: v.Mode,
		Destinations: r.Destinations,
		Method:       Method(r.Method), Question: r.Question, SentTo: r.SentTo,
		ResendAt: r.ResendAt[r.Method], AttemptsLeft: r.AttemptsLeft, Expires: r.Expires,
		ConfirmedAt: r.ConfirmedAt,
	}
	for _, m := range r.Methods {
		c.Methods = append(c.Methods, Method(m))
	}
	c.ApprovalGroup = v.Approval
	if a := r.Approval; a != nil {
		c.ApprovalGroup, c.ApprovalUntil, c.ApprovedBy, c.DecidedAt = a.Group, a.Until, a.ApprovedBy, a.Decided
	}
	switch {
	case r.Approval != nil && r.Confirmed() && (r.Approval.Decided.IsZero() || r.Approval.Rejected):
		c.State = StateAwaitingApproval
		if r.Approval.Rejected {
			c.State = StateRejected
		}
	case r.Confirmed() && r.Delivered():
		c.State = StateConfirmed
	case r.Confirmed() && now.Before(r.LeaseUntil):
		c.State = StateDelivering
	case r.Confirmed():
		c.State = StateNotDelivered
	case r.AttemptsLeft <= 0:
		c.State = StateExhausted
	case r.Method != "":
		c.State = StateAwaitingAnswer
	default:
		c.State = StateChooseMethod
	}
	if c.Method != MethodEnum {
		c.Question = ""
	}
	if c.PayeeDisplay == "" {
		c.PayeeDisplay = c.Payee
	}
	if c.Mode == "" {
		c.Mode = ModeAuthorization
	}
	if c.Mode == ModePayment {
		p, err := payment.Prepare(c.Payee, c.Amount)
		if err != nil {
			return nil, fmt.Errorf("%w: payment-mode challenge with an unusable payee or amount", ErrUnavailable)
		}
		c.PaymentPurse, c.PaymentAmount = p.Purse(), p.Amount()
	}
	return c, nil
}

func (e *Engine) lookup(ctx context.Context, user string) (*User, error) {
	u, err := e.cfg.Directory.Lookup(ctx, user)
	switch {
	case errors.Is(err, ErrNoUser):
		return nil, fmt.Errorf("%w: %w", ErrNotEnrolled, err)
	case err != nil:
		return nil, fmt.Errorf("%w: directory: %w", ErrUnavailable, err)
	}
	return u, nil
}

// idLen is the length of a challenge id: 16 random bytes, base64url.
const idLen = 22

func (e *Engine) newID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(e.cfg.Rand, b[:]); err != nil {
		return "", fmt.Errorf("%w: randomness: %w", ErrUnavailable, err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ValidID reports whether id has the form of a challenge id. Ids of any
// other form are unknown without asking the store.
func ValidID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Issue creates a challenge for req. It fails with ErrNotEnrolled if the
// user cannot confirm with any allowed method and with ErrUnavailable if
// the directory or store fails (including a full store).
func (e *Engine) Issue(ctx context.Context, req Request) (*Challenge, error) {
	if req.Stash == nil || req.Operation == "" || req.Subject.User == "" {
		return nil, fmt.Errorf("%w: a challenge needs a user, an operation and a stash", ErrMalformed)
	}
	u, err := e.lookup(ctx, req.Subject.User)
	if err != nil {
		return nil, err
	}
	switch req.Mode {
	case "", ModeAuthorization:
	case ModePayment:
		if _, err := payment.Prepare(req.Payee, req.Amount); err != nil {
			return nil, fmt.Errorf("%w: payment mode needs a payee and an amount the E-num app can take: %w", ErrMalformed, err)
		}
	default:
		return nil, fmt.Errorf("%w: unknown E-num mode %q", ErrMalformed, req.Mode)
	}
	viewBytes, err := encodeView(&req)
	if err != nil {
		return nil, err
	}
	var appr *store.ApprovalState
	if req.Approval != nil {
		if appr, err = approvalState(req.Approval, req.Subject.User); err != nil {
			return nil, err
		}
		if e.approvals == nil {
			return nil, fmt.Errorf("%w: the store keeps no approvals", ErrUnavailable)
		}
	}
	methods := e.usable(u, req.Methods)
	if len(methods) == 0 {
		return nil, fmt.Errorf("%w: no usable confirmation method for %s", ErrNotEnrolled, req.Operation)
	}
	ttl, attempts := req.TTL, req.MaxAttempts
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	id, err := e.newID()
	if err != nil {
		return nil, err
	}
	enc := req.Stash.Encode()
	sealed, err := e.sealStash(id, enc)
	if err != nil {
		return nil, err
	}
	o := e.owner(req.Subject)
	now := e.cfg.Now()
	dest := map[string]string{}
	for _, m := range methods {
		if d, ok := LookupMethod(Method(m)); ok {
			if to := d.Destination(u); to != "" {
				dest[m] = to
			}
		}
	}
	if len(dest) == 0 {
		dest = nil
	}
	r := &store.Record{
		ID: id, User: o.User, Session: o.Session, Operation: req.Operation, Destinations: dest,
		Amount: req.Amount, Payee: req.Payee, View: viewBytes, ReturnTo: req.ReturnTo, Methods: methods,
		Digest: digest(enc), Stash: sealed, Created: now, Expires: now.Add(ttl),
		MaxAttempts: attempts, AttemptsLeft: attempts, Approval: appr,
	}
	if appr != nil {
		e.noteGroup(appr.Group)
	}
	if err := e.cfg.Store.Create(ctx, r, now); err != nil {
		var (
			le *store.LockedError
			te *store.TooManyPendingError
		)
		if errors.As(err, &le) {
			return nil, &LockedError{Until: le.Until}
		}
		if errors.As(err, &te) {
			return nil, &TooManyPendingError{RetryAt: te.RetryAt}
		}
		return nil, fmt.Errorf("%w: store: %w", ErrUnavailable, err)
	}
	issued := Event{Kind: EventIssued, ChallengeID: id, User: o.User, Operation: req.Operation,
		Amount: req.Amount, Currency: req.Currency, Payee: displayPayee(&req), Reason: req.Reason}
	e.emit(ctx, issued)
	e.watchExpiry(o, clientOf(ctx, issued), r.Expires)
	c, err := view(r)
	if err == nil {
		e.cacheView(c)
	}
	return c, err
}

// Get returns the challenge if s may see it; otherwise ErrUnknown.
func (e *Engine) Get(ctx context.Context, id string, s Subject) (*Challenge, error) {
	if !ValidID(id) {
		return nil, ErrUnknown
	}
	now := e.cfg.Now()
	r, err := e.cfg.Store.Get(ctx, id, e.owner(s), now)
	if err != nil {
		return nil, storeErr(err)
	}
	c, err := viewAt(r, now)
	if err != nil {
		return nil, err
	}
	if c.State == StateAwaitingAnswer || c.State == StateChooseMethod {
		c.AttemptsLeft = e.truthfulAttempts(ctx, r.User, c.AttemptsLeft, now)
	}
	return c, nil
}

// truthfulAttempts caps a challenge's attempts left by what the account
// lockout still allows, so the customer is never told "2 attempts left"
// when the next wrong answer locks the account. If the store cannot say,
// the challenge's own count is kept (the lockout still holds).
func (e *Engine) truthfulAttempts(ctx context.Context, user string, left int, now time.Time) int {
	if e.lockout.After <= 0 {
		return left
	}
	n, _, err := e.cfg.Store.Failures(ctx, user, now)
	if err != nil {
		return left
	}
	return max(min(left, e.lockout.After-n), 0)
}

// Begin starts method m for the challenge: for enum it draws a fresh
// question, for sms it sends a code (subject to the resend cooldown), for
// email it mails the E-num answer to a fresh question (or a code). It
// returns the challenge as it now stands. Beginning a method replaces the
// expected answer of any method begun before. In payment mode the E-num
// answer (and the e-mailed one) is computed from the question, the payee
// and the amount (package challenge/ocra/payment).
func (e *Engine) Begin(ctx context.Context, id string, s Subject, m Method) (*Challenge, error) {
	return e.BeginWith(ctx, id, s, m, BeginOptions{})
}

// BeginOptions tune how Begin words the SMS or e-mail it sends.
type BeginOptions struct {
	// Lang is the language tag of the page that asked, passed on in
	// Message.Lang.
	Lang string
	// Text, if set, writes Message.Text (in Lang) from the message's
	// other fields; otherwise the engine's English text is used.
	Text func(Message) string
	// Subject, if set, writes Message.Subject (e-mail) likewise.
	Subject func(Message) string
}

// BeginWith is Begin with options for the message sent.
func (e *Engine) BeginWith(ctx context.Context, id string, s Subject, m Method, opt BeginOptions) (*Challenge, error) {
	if !ValidID(id) {
		return nil, ErrUnknown
	}
	d, ok := LookupMethod(m)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrMethodNotOffered, m)
	}
	sending, sends := d.(Sending)
	var sender Sender
	if sends {
		if sender = e.sender(m); sender == nil {
			return nil, fmt.Errorf("%w: no sender for %s", ErrMethodNotOffered, m)
		}
	}
	now := e.cfg.Now()
	u, err := e.lookup(ctx, s.User)
	if err != nil {
		return nil, err
	}
	o := e.owner(s)
	// What the challenge shows goes into the message, its mode decides
	// the answer, and a resend that the cooldown would refuse spends no
	// budget: methods that send read the challenge first; the others need
	// only its immutable view, which this gateway usually has cached from
	// Issue (one round trip per step).
	var cur *store.Record
	cv, cached := e.cachedView(id)
	if !cached || sends {
		if cur, err = e.cfg.Store.Get(ctx, id, o, now); err != nil {
			return nil, storeErr(err)
		}
		if cv, err = view(cur); err != nil {
			return nil, err
		}
	}
	bg := &Beginning{ChallengeID: id, User: u, Challenge: cv, Now: now, engine: e}
	if cv.Mode == ModePayment {
		p, err := payment.Prepare(cv.Payee, cv.Amount)
		if err != nil {
			return nil, fmt.Errorf("%w: payment-mode challenge with an unusable payee or amount", ErrUnavailable)
		}
		bg.Payment = &p
	}
	if err := d.Begin(ctx, bg); err != nil {
		return nil, err
	}
	if len(bg.expected) == 0 {
		return nil, fmt.Errorf("%w: method %s expects no answer", ErrUnavailable, m)
	}
	if msg := bg.message; msg != nil {
		if !sends {
			return nil, fmt.Errorf("%w: method %s sends but has no channel", ErrUnavailable, m)
		}
		if err := e.send(ctx, cur, cv, o, sending.Channel(), sender, msg, opt, now); err != nil {
			return nil, err
		}
	}
	b := store.Begin{Method: string(m), Question: bg.Question, SentTo: bg.SentTo, Cooldown: bg.Cooldown, Expected: bg.expected}
	r, err := e.cfg.Store.Begin(ctx, id, o, b, now)
	if err != nil {
		var ce *store.CooldownError
		if errors.As(err, &ce) {
			return nil, &CooldownError{Wait: ce.Until.Sub(now)}
		}
		return nil, storeErr(err)
	}
	e.emit(ctx, Event{Kind: EventBegun, ChallengeID: id, User: o.User, Operation: r.Operation, Method: m,
		Amount: cv.Amount, Currency: cv.Currency, Payee: cv.PayeeDisplay})
	c, err := view(r)
	if err == nil {
		e.cacheView(c) // what later steps' events describe, on this gateway too
	}
	return c, err
}

// send delivers a method's message, before its code is stored: nothing is
// sent for a challenge that could not take its code (the store's Begin
// would refuse it only after the send); the channel's budget is reserved,
// the message sent, and only then is its code stored (answerable) and the
// cooldown set. A failed or timed-out send is refunded and its code never
// works, even if the message arrives later.
func (e *Engine) send(ctx context.Context, cur *store.Record, cv *Challenge, o store.Owner, channel string, sender Sender, msg *Message, opt BeginOptions, now time.Time) error {
	m, id := msg.Method, cv.ID
	if err := e.canTakeCode(ctx, cur, o, m, now); err != nil {
		return err
	}
	if err := e.spend(ctx, cur, o, m, channel, msg.To, now); err != nil {
		return err
	}
	msg.User, msg.Operation, msg.ChallengeID = o.User, cv.Operation, id
	msg.Amount, msg.Currency, msg.Payee, msg.Lang = cv.Amount, cv.Currency, cv.PayeeDisplay, opt.Lang
	if opt.Text != nil {
		msg.Text = opt.Text(*msg)
	} else {
		msg.Text = messageText(msg)
	}
	if opt.Subject != nil && channel == store.ChannelEmail {
		msg.Subject = opt.Subject(*msg)
	}
	if err := sender.Send(ctx, *msg); err != nil {
		e.emit(ctx, Event{Kind: EventSendFailed, ChallengeID: id, User: o.User, Operation: cv.Operation, Method: m, Err: err})
		if channel != "" {
			// A fresh context: the request's may be what timed out.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if rerr := e.cfg.Store.Refund(rctx, channel, o.User, msg.To, now); rerr != nil {
				e.emit(ctx, Event{Kind: EventSendFailed, ChallengeID: id, User: o.User, Operation: cv.Operation, Method: m, Err: fmt.Errorf("refund: %w", rerr)})
			}
			cancel()
		}
		return fmt.Errorf("%w: sending %s: %w", ErrNotSent, m, err)
	}
	return nil
}

// canTakeCode checks, before anything is sent, what the store's Begin
// would refuse: a locked user, a method not offered, a spent budget, a
// challenge already confirmed.
func (e *Engine) canTakeCode(ctx context.Context, r *store.Record, o store.Owner, m Method, now time.Time) error {
	switch {
	case r.Confirmed():
		return ErrUnknown
	case r.AttemptsLeft <= 0:
		return ErrTooManyAttempts
	case !slices.Contains(r.Methods, string(m)):
		return ErrMethodNotOffered
	}
	until, err := e.cfg.Store.LockedUntil(ctx, o.User, now)
	if err != nil {
		return fmt.Errorf("%w: store: %w", ErrUnavailable, err)
	}
	if !until.IsZero() {
		return &LockedError{Until: until}
	}
	return nil
}

// spend reserves one SMS or e-mail against the cost controls before it
// is sent, so a refused message leaves the challenge as it was; Begin
// refunds it if the send fails. The challenge's own resend cooldown (of
// r, as just read) is checked first so a resend that Begin would refuse
// spends nothing.
func (e *Engine) spend(ctx context.Context, r *store.Record, o store.Owner, m Method, channel, to string, now time.Time) error {
	id := r.ID
	if until := r.ResendAt[string(m)]; now.Before(until) {
		return &CooldownError{Wait: until.Sub(now)}
	}
	var err error
	switch channel {
	case store.ChannelSMS:
		err = e.cfg.Store.SpendSMS(ctx, o.User, to, e.cfg.SMSLimits, now)
	case store.ChannelEmail:
		err = e.cfg.Store.SpendEmail(ctx, o.User, to, e.cfg.EmailLimits, now)
	}
	var le *store.LimitError
	switch {
	case errors.As(err, &le):
		kind := EventSMSLimited
		if channel == store.ChannelEmail {
			kind = EventEmailLimited
		}
		e.emit(ctx, Event{Kind: kind, ChallengeID: id, User: o.User, Operation: r.Operation, Method: m})
		return &LimitError{Method: m, Limit: le.Limit, Wait: le.Until.Sub(now)}
	case err != nil:
		return fmt.Errorf("%w: store: %w", ErrUnavailable, err)
	}
	return nil
}

// messageText is the ready-made English text of an SMS or e-mail: what
// is confirmed (operation, amount, payee) and the code, so the customer
// can check the operation out of band.
func messageText(m *Message) string {
	what := "Code"
	if m.Method == MethodEmail {
		what = "Answer number"
	}
	op := humanOp(m.Operation)
	op = strings.ToUpper(op[:1]) + op[1:]
	if m.Amount != "" {
		op += " " + m.Amount
		if m.Currency != "" {
			op += " " + m.Currency
		}
	}
	if m.Payee != "" {
		op += " to " + m.Payee
	}
	return fmt.Sprintf("%s. %s %s. Never tell it to anyone.", op, what, m.Code)
}

func humanOp(op string) string {
	switch op {
	case "transfer":
		return "transfer"
	case "withdrawal":
		return "withdrawal"
	case "new_correspondent":
		return "new correspondent"
	}
	return "operation " + op
}

// Confirmation is what a correct answer yields.
type Confirmation struct {
	// Challenge is the consumed challenge.
	Challenge *Challenge
	// Method is the method that confirmed it.
	Method Method
	// User is the user who confirmed.
	User string
	// Time is when it was confirmed.
	Time time.Time
	// Stash is the original request, verified against its digest.
	Stash *Stash
	// Header is the signed Enumgate-Confirmed header value to add to the
	// replayed request; every delivery of one confirmation carries the
	// same.
	Header string
	// Delivery counts the deliveries of this confirmation, this one
	// included (1: the first).
	Delivery int
	// ApprovalHeader is, for an approved operation, the signed
	// ApprovedHeader value to add next to Header: the approver's
	// confirmation (u the approver, m their method, t the approval's
	// time), bound to the same request and signed with the same key.
	// Empty without approval.
	ApprovalHeader string
	// Approver is the approver who approved it ("" without approval).
	Approver string
	// ApproverMethod is how the approver confirmed the approval.
	ApproverMethod Method
	// ApprovedAt is when it was approved.
	ApprovedAt time.Time

	session []byte // the owner's session binding, for Settle
}

// Verify checks an answer. The store counts the attempt, checks expiry and
// consumes the challenge in one atomic step, so however many correct
// answers race, at most one Verify returns a Confirmation. Errors:
// ErrMalformed (nothing changed), *WrongAnswerError, ErrTooManyAttempts,
// ErrMethodRequired, ErrUnknown, ErrUnavailable.
//
// A challenge issued with an Approval is confirmed but not handed back:
// Verify returns *AwaitingApprovalError (errors.Is ErrAwaitingApproval)
// and the operation waits for an approver (Engine.Approve); the same
// answer again returns the same error while it waits, ErrRejected after
// a rejection, and after an approval what any confirmation's repeat
// returns.
func (e *Engine) Verify(ctx context.Context, id string, s Subject, answer string) (*Confirmation, error) {
	if !ValidID(id) {
		return nil, ErrUnknown
	}
	a, err := NormalizeAnswer(answer)
	if err != nil {
		return nil, err
	}
	o := e.owner(s)
	now := e.cfg.Now()
	res, err := e.cfg.Store.Attempt(ctx, id, o, e.answerMAC(id, a), e.lockout, now)
	if errors.Is(err, store.ErrNotDurable) {
		// Confirmed on the master, but no replica has it yet: forwarding
		// now could forward it twice after a failover. It stays
		// confirmed; the same answer again, or Deliver, forwards it once
		// it is durable.
		return nil, fmt.Errorf("%w: %w", ErrNotDelivered, err)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if !res.LockedUntil.IsZero() {
		e.emit(ctx, e.describe(Event{Kind: EventLocked, ChallengeID: id, User: o.User}))
		return nil, &LockedError{Until: res.LockedUntil}
	}
	switch res.Outcome {
	case store.Wrong:
		e.emit(ctx, e.describe(Event{Kind: EventWrongAnswer, ChallengeID: id, User: o.User, AttemptsLeft: res.AttemptsLeft}))
		return nil, &WrongAnswerError{AttemptsLeft: e.truthfulAttempts(ctx, o.User, res.AttemptsLeft, now)}
	case store.Exhausted:
		e.unwatchExpiry(id)
		e.emit(ctx, e.describe(Event{Kind: EventExhausted, ChallengeID: id, User: o.User}))
		return nil, ErrTooManyAttempts
	case store.Confirmed:
		if res.Record.AwaitingApproval() {
			return nil, e.awaitApproval(ctx, o, res.Record)
		}
	case store.Repeated:
		// The same right answer again: a retry after a lost reply or a
		// double submit. Never a second confirmation; the delivery is
		// retried only if the upstream never answered.
		return e.repeated(ctx, id, o, res.Record, now)
	default:
		return nil, fmt.Errorf("%w: store returned outcome %v", ErrUnavailable, res.Outcome)
	}
	e.views.drop(id)
	e.unwatchExpiry(id)
	conf, err := e.confirmation(res.Record)
	if err != nil {
		return nil, err
	}
	e.emit(ctx, Event{Kind: EventConfirmed, ChallengeID: id, User: conf.User, Operation: conf.Challenge.Operation, Method: conf.Method,
		Amount: conf.Challenge.Amount, Currency: conf.Challenge.Currency, Payee: conf.Challenge.PayeeDisplay})
	return conf, nil
}

func (e *Engine) Cancel(ctx context.Context, id string, s Subject) error {
	if !ValidID(id) {
		return ErrUnknown
	}
	o := e.owner(s)
	if err := e.cfg.Store.Delete(ctx, id, o); err != nil {
		return storeErr(err)
	}
	ev := e.describe(Event{Kind: EventCancelled, ChallengeID: id, User: o.User})
	e.views.drop(id)
	e.unwatchExpiry(id)
	e.emit(ctx, ev)
	return nil
}

// FormToken returns a token that binds an HTML form to the challenge and
// to the subject's session, so a form posted from another site or for
// another session is refused (see CheckFormToken).
func (e *Engine) FormToken(id string, s Subject) string {
	m := hmac.New(sha256.New, e.formKey)
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(s.User))
	m.Write([]byte{0})
	m.Write([]byte(s.Session))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckFormToken reports, in constant time, whether token is FormToken(id, s).
func (e *Engine) CheckFormToken(id string, s Subject, token string) bool {
	return subtle.ConstantTimeCompare([]byte(e.FormToken(id, s)), []byte(token)) == 1
}
