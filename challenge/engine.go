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
	"time"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
)

// Method is a confirmation method.
type Method string

// The confirmation methods.
const (
	// MethodEnum: the user types the question into the E-num app and the
	// app's answer into the page.
	MethodEnum Method = "enum"
	// MethodSMS: a one-time code is sent by SMS.
	MethodSMS Method = "sms"
	// MethodEmail: the E-num answer to a fresh question (or a one-time code
	// for users without a device) is sent by e-mail.
	MethodEmail Method = "email"
)

// ParseMethod returns the Method named s, or an error.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case MethodEnum, MethodSMS, MethodEmail:
		return m, nil
	}
	return "", fmt.Errorf("unknown confirmation method %q (want enum, sms or email)", s)
}

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
)

// Errors returned by the engine. Test with errors.Is / errors.As.
var (
	// ErrUnknown: no such challenge for this user and session — it never
	// existed, expired, was consumed or cancelled, or belongs to someone
	// else. The cases are indistinguishable on purpose.
	ErrUnknown = errors.New("unknown challenge")
	// ErrMalformed: the answer or id is not well-formed. Nothing changed.
	ErrMalformed = errors.New("malformed input")
	// ErrTooManyAttempts: the attempt budget is spent.
	ErrTooManyAttempts = errors.New("too many attempts")
	// ErrMethodRequired: an answer arrived before a method was chosen.
	ErrMethodRequired = errors.New("choose a confirmation method first")
	// ErrMethodNotOffered: the method is not offered for this challenge.
	ErrMethodNotOffered = errors.New("confirmation method not offered")
	// ErrNotEnrolled: the user is unknown to the directory or has no usable
	// confirmation method for this operation.
	ErrNotEnrolled = errors.New("user cannot confirm operations")
	// ErrUnavailable: the store, directory or a sender failed. Fail closed.
	ErrUnavailable = errors.New("confirmation service unavailable")
	// ErrNotSent: the SMS or e-mail could not be sent. Nothing was
	// charged and its code never works; the user may try again or choose
	// another method. errors.Is(err, ErrUnavailable) holds too.
	ErrNotSent = fmt.Errorf("%w: the message could not be sent", ErrUnavailable)
)

// WrongAnswerError reports a wrong answer with attempts left.
type WrongAnswerError struct {
	// AttemptsLeft is what remains of the budget.
	AttemptsLeft int
}

// Error implements error.
func (e *WrongAnswerError) Error() string {
	return fmt.Sprintf("wrong answer, %d attempts left", e.AttemptsLeft)
}

// LockedError reports a user locked after too many consecutive failed
// confirmations. It says nothing about which factor was wrong.
type LockedError struct {
	// Until is when the lock ends by itself.
	Until time.Time
}

// Error implements error.
func (e *LockedError) Error() string {
	return "account temporarily locked until " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// TooManyPendingError reports a challenge refused because the user holds
// their fair share of the store already: their own pending confirmations
// must finish or expire first. Other users are never affected.
type TooManyPendingError struct {
	// RetryAt is when room frees up (zero: waiting will not help, the
	// request alone is larger than a user's share).
	RetryAt time.Time
}

// Error implements error.
func (e *TooManyPendingError) Error() string {
	return "too many pending confirmations for this user"
}

// ErrLocked matches every *LockedError.
var ErrLocked = errors.New("account temporarily locked")

// LimitError reports an SMS or e-mail refused by a cost control; the
// user should choose another method or wait.
type LimitError struct {
	// Method is MethodSMS or MethodEmail ("" means SMS).
	Method Method
	// Limit names the limit (store.LimitUserHourly, ...).
	Limit string
	// Wait is how long until the limit allows a message again.
	Wait time.Duration
}

// SMSLimitError is the LimitError of SMS; the name is kept for callers
// written before e-mail had limits.
type SMSLimitError = LimitError

// Error implements error.
func (e *LimitError) Error() string {
	m := e.Method
	if m == "" {
		m = MethodSMS
	}
	return fmt.Sprintf("%s limit %s reached; choose another method or wait %s", m, e.Limit, e.Wait.Round(time.Second))
}

// CooldownError reports a resend before the method's cooldown ended.
type CooldownError struct {
	// Wait is how long until the method may be begun again.
	Wait time.Duration
}

// Error implements error.
func (e *CooldownError) Error() string {
	return fmt.Sprintf("resend possible in %s", e.Wait.Round(time.Second))
}

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

// Defaults for Config.
const (
	DefaultQuestionLength = 8
	DefaultCodeLength     = 6
	DefaultResendCooldown = 60 * time.Second
	DefaultTimeWindow     = 1
	DefaultTTL            = 5 * time.Minute
	DefaultMaxAttempts    = 3
	DefaultLockoutAfter   = 5
	DefaultLockoutFor     = 30 * time.Minute
)

// DefaultEmailLimits are the e-mail cost controls used unless configured:
// like SMS, so one customer cannot bomb an inbox or the sending budget.
var DefaultEmailLimits = store.MessageLimits{
	UserCooldown:  30 * time.Second,
	PhoneCooldown: 30 * time.Second, // per address
	UserHourly:    10,
	DailyBudget:   10000,
}

// DefaultSMSLimits are the SMS cost controls used unless configured.
var DefaultSMSLimits = store.SMSLimits{
	UserCooldown:  30 * time.Second,
	PhoneCooldown: 30 * time.Second,
	UserHourly:    10,
	DailyBudget:   10000,
}

// Config configures an Engine.
type Config struct {
	// Store keeps challenge state. If nil, an in-process memory store with
	// default limits is created and closed by Engine.Close.
	Store store.Store
	// Directory looks up users. Required.
	Directory Directory
	// SMS sends SMS codes; without it the sms method is never offered.
	SMS Sender
	// Email sends e-mail; without it the email method is never offered.
	Email Sender
	// Secret keys every MAC the engine makes. Required, at least 16 bytes.
	Secret []byte
	// QuestionLength is the E-num question's length, capped by each
	// suite's maximum. Default 8.
	QuestionLength int
	// CodeLength is the number of digits of SMS codes and of e-mailed
	// codes for users without a device (4 to 10). Default 6.
	CodeLength int
	// ResendCooldown is how long before an SMS may be sent again for the
	// same challenge. Default 60s.
	ResendCooldown time.Duration
	// TimeWindow is how many time steps either side of now a time-based
	// (T) suite's answer is accepted for. Default 1.
	TimeWindow int
	// LockoutAfter is how many consecutive failed confirmations (wrong
	// answers, across challenges) lock a user. Default 5, as PSD2's RTS
	// allows at most.
	LockoutAfter int
	// LockoutFor is how long a lock lasts before it lifts by itself.
	// Default 30 minutes.
	LockoutFor time.Duration
	// SMSLimits are the SMS cost controls. The zero value means
	// DefaultSMSLimits; set NoSMSLimits to disable them all.
	SMSLimits store.SMSLimits
	// NoSMSLimits disables the SMS cost controls (not the per-challenge
	// resend cooldown).
	NoSMSLimits bool
	// EmailLimits are the e-mail cost controls (PhoneCooldown is the
	// per-address cooldown). The zero value means DefaultEmailLimits; set
	// NoEmailLimits to disable them all.
	EmailLimits store.MessageLimits
	// NoEmailLimits disables the e-mail cost controls.
	NoEmailLimits bool
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Rand is the randomness source; crypto/rand.Reader if nil.
	Rand io.Reader
	// Events, if set, is called after every step (see Event); it must not
	// block. Events never carry codes, answers or keys.
	Events func(Event)
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
}

// New validates cfg, fills in defaults and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Directory == nil {
		return nil, errors.New("challenge: Config.Directory is required")
	}
	if len(cfg.Secret) < 16 {
		return nil, errors.New("challenge: Config.Secret must be at least 16 bytes")
	}
	if cfg.QuestionLength == 0 {
		cfg.QuestionLength = DefaultQuestionLength
	}
	if cfg.QuestionLength < 4 || cfg.QuestionLength > 64 {
		return nil, fmt.Errorf("challenge: question length %d out of range 4..64", cfg.QuestionLength)
	}
	if cfg.CodeLength == 0 {
		cfg.CodeLength = DefaultCodeLength
	}
	if cfg.CodeLength < 4 || cfg.CodeLength > 10 {
		return nil, fmt.Errorf("challenge: code length %d out of range 4..10", cfg.CodeLength)
	}
	if cfg.ResendCooldown == 0 {
		cfg.ResendCooldown = DefaultResendCooldown
	}
	if cfg.TimeWindow == 0 {
		cfg.TimeWindow = DefaultTimeWindow
	}
	if cfg.TimeWindow < 0 || cfg.TimeWindow > 10 {
		return nil, fmt.Errorf("challenge: time window %d out of range 0..10", cfg.TimeWindow)
	}
	if cfg.LockoutAfter == 0 {
		cfg.LockoutAfter = DefaultLockoutAfter
	}
	if cfg.LockoutAfter < 1 || cfg.LockoutAfter > 100 {
		return nil, fmt.Errorf("challenge: lockout after %d failures out of range 1..100", cfg.LockoutAfter)
	}
	if cfg.LockoutFor == 0 {
		cfg.LockoutFor = DefaultLockoutFor
	}
	if cfg.LockoutFor < time.Second {
		return nil, fmt.Errorf("challenge: lockout duration %s too short", cfg.LockoutFor)
	}
	if cfg.SMSLimits == (store.SMSLimits{}) && !cfg.NoSMSLimits {
		cfg.SMSLimits = DefaultSMSLimits
	}
	if cfg.NoSMSLimits {
		cfg.SMSLimits = store.SMSLimits{}
	}
	if cfg.EmailLimits == (store.MessageLimits{}) && !cfg.NoEmailLimits {
		cfg.EmailLimits = DefaultEmailLimits
	}
	if cfg.NoEmailLimits {
		cfg.EmailLimits = store.MessageLimits{}
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
	return e, nil
}

// Close releases the memory store the engine created, if any.
func (e *Engine) Close() error {
	if e.ownStore != nil {
		return e.ownStore.Close()
	}
	return nil
}

// CanSend reports whether the engine can carry out method m at all: E-num
// always, SMS and e-mail only with a sender configured.
func (e *Engine) CanSend(m Method) bool {
	switch m {
	case MethodEnum:
		return true
	case MethodSMS:
		return e.cfg.SMS != nil
	case MethodEmail:
		return e.cfg.Email != nil
	}
	return false
}

// ConfirmKey returns the key that signs Enumgate-Confirmed headers.
func (e *Engine) ConfirmKey() []byte { return e.confirmKey }

func (e *Engine) owner(s Subject) store.Owner {
	m := hmac.New(sha256.New, e.sessionKey)
	m.Write([]byte(s.Session))
	return store.Owner{User: s.User, Session: m.Sum(nil)}
}

// answerMAC binds an answer to its challenge so a MAC is useless elsewhere.
func (e *Engine) answerMAC(id, answer string) []byte {
	m := hmac.New(sha256.New, e.answerKey)
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(answer))
	return m.Sum(nil)
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
	// The challenge offers those the user can use. Empty means all.
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
	switch {
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

// Offers reports whether m is among the challenge's methods.
func (c *Challenge) Offers(m Method) bool { return slices.Contains(c.Methods, m) }

// usable returns the methods of want (all when empty) that u can use.
func (e *Engine) usable(u *User, want []Method) []string {
	if len(want) == 0 {
		want = []Method{MethodEnum, MethodSMS, MethodEmail}
	}
	var out []string
	for _, m := range want {
		ok := false
		switch m {
		case MethodEnum:
			ok = len(u.Devices) > 0
		case MethodSMS:
			ok = u.Phone != "" && e.cfg.SMS != nil
		case MethodEmail:
			ok = len(u.Emails) > 0 && e.cfg.Email != nil
		}
		if ok && !slices.Contains(out, string(m)) {
			out = append(out, string(m))
		}
	}
	return out
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
		switch Method(m) {
		case MethodSMS:
			dest[m] = MaskPhone(u.Phone)
		case MethodEmail:
			dest[m] = MaskEmail(u.Emails[0])
		}
	}
	if len(dest) == 0 {
		dest = nil
	}
	r := &store.Record{
		ID: id, User: o.User, Session: o.Session, Operation: req.Operation, Destinations: dest,
		Amount: req.Amount, Payee: req.Payee, View: viewBytes, ReturnTo: req.ReturnTo, Methods: methods,
		Digest: digest(enc), Stash: sealed, Created: now, Expires: now.Add(ttl),
		MaxAttempts: attempts, AttemptsLeft: attempts,
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
	e.emit(ctx, Event{Kind: EventIssued, ChallengeID: id, User: o.User, Operation: req.Operation,
		Amount: req.Amount, Currency: req.Currency, Payee: displayPayee(&req), Reason: req.Reason})
	c, err := view(r)
	if err == nil {
		e.cacheView(c)
	}
	return c, err
}

// storeErr translates a store error into the engine's vocabulary.
func storeErr(err error) error {
	var (
		ce *store.CooldownError
		le *store.LockedError
	)
	switch {
	case errors.As(err, &le):
		return &LockedError{Until: le.Until}
	case errors.Is(err, store.ErrMethodNotOffered):
		return ErrMethodNotOffered
	case errors.Is(err, store.ErrNotFound):
		return ErrUnknown
	case errors.Is(err, store.ErrExhausted):
		return ErrTooManyAttempts
	case errors.Is(err, store.ErrNoMethod):
		return ErrMethodRequired
	case errors.As(err, &ce):
		return err
	}
	return fmt.Errorf("%w: store: %w", ErrUnavailable, err)
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
	if _, err := ParseMethod(string(m)); err != nil {
		return nil, fmt.Errorf("%w: %q", ErrMethodNotOffered, m)
	}
	now := e.cfg.Now()
	u, err := e.lookup(ctx, s.User)
	if err != nil {
		return nil, err
	}
	o := e.owner(s)
	// What the challenge shows goes into the message, its mode decides
	// the answer, and a resend that the cooldown would refuse spends no
	// SMS budget: SMS and e-mail read the challenge first; E-num needs
	// only its immutable view, which this gateway usually has cached from
	// Issue (one round trip per step).
	var cur *store.Record
	cv, cached := e.cachedView(id)
	if !cached || m != MethodEnum {
		if cur, err = e.cfg.Store.Get(ctx, id, o, now); err != nil {
			return nil, storeErr(err)
		}
		if cv, err = view(cur); err != nil {
			return nil, err
		}
	}
	var pay *payment.Payment
	if cv.Mode == ModePayment {
		p, err := payment.Prepare(cv.Payee, cv.Amount)
		if err != nil {
			return nil, fmt.Errorf("%w: payment-mode challenge with an unusable payee or amount", ErrUnavailable)
		}
		pay = &p
	}
	b := store.Begin{Method: string(m)}
	var msg *Message
	switch m {
	case MethodEnum:
		if len(u.Devices) == 0 {
			return nil, fmt.Errorf("%w: no E-num device", ErrNotEnrolled)
		}
		q, err := e.question(u.Devices[0].Suite)
		if err != nil {
			return nil, err
		}
		b.Question = q
		b.Expected, err = e.expectedOCRA(id, u.Devices, q, pay, now)
		if err != nil {
			return nil, err
		}
	case MethodSMS:
		if u.Phone == "" || e.cfg.SMS == nil {
			return nil, fmt.Errorf("%w: no phone or no SMS sender", ErrMethodNotOffered)
		}
		code, err := e.digits(e.cfg.CodeLength)
		if err != nil {
			return nil, err
		}
		b.SentTo, b.Cooldown = MaskPhone(u.Phone), e.cfg.ResendCooldown
		b.Expected = [][]byte{e.answerMAC(id, code)}
		msg = &Message{Method: m, To: u.Phone, Code: code}
	case MethodEmail:
		if len(u.Emails) == 0 || e.cfg.Email == nil {
			return nil, fmt.Errorf("%w: no e-mail address or no e-mail sender", ErrMethodNotOffered)
		}
		code, err := e.emailCode(u, pay, now)
		if err != nil {
			return nil, err
		}
		b.SentTo, b.Cooldown = MaskEmail(u.Emails[0]), e.cfg.ResendCooldown
		b.Expected = [][]byte{e.answerMAC(id, code)}
		msg = &Message{Method: m, To: u.Emails[0], Code: code}
	}
	if msg != nil {
		// Nothing is sent for a challenge that could not take its code:
		// the store's Begin would refuse it only after the send.
		if err := e.canTakeCode(ctx, cur, o, m, now); err != nil {
			return nil, err
		}
		// Send, then commit: the budget is reserved, the message sent,
		// and only then is its code stored (answerable) and the cooldown
		// set. A failed or timed-out send is refunded and its code never
		// works, even if the message arrives later.
		if err := e.spend(ctx, cur, o, msg.Method, msg.To, now); err != nil {
			return nil, err
		}
		msg.User, msg.Operation, msg.ChallengeID = o.User, cv.Operation, id
		msg.Amount, msg.Currency, msg.Payee, msg.Lang = cv.Amount, cv.Currency, cv.PayeeDisplay, opt.Lang
		if opt.Text != nil {
			msg.Text = opt.Text(*msg)
		} else {
			msg.Text = messageText(msg)
		}
		if opt.Subject != nil && m == MethodEmail {
			msg.Subject = opt.Subject(*msg)
		}
		sender := e.cfg.SMS
		if m == MethodEmail {
			sender = e.cfg.Email
		}
		if err := sender.Send(ctx, *msg); err != nil {
			e.emit(ctx, Event{Kind: EventSendFailed, ChallengeID: id, User: o.User, Operation: cv.Operation, Method: m, Err: err})
			// A fresh context: the request's may be what timed out.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if rerr := e.cfg.Store.Refund(rctx, string(m), o.User, msg.To, now); rerr != nil {
				e.emit(ctx, Event{Kind: EventSendFailed, ChallengeID: id, User: o.User, Operation: cv.Operation, Method: m, Err: fmt.Errorf("refund: %w", rerr)})
			}
			cancel()
			return nil, fmt.Errorf("%w: sending %s: %w", ErrNotSent, m, err)
		}
	}
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
	return view(r)
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
func (e *Engine) spend(ctx context.Context, r *store.Record, o store.Owner, m Method, to string, now time.Time) error {
	id := r.ID
	if until := r.ResendAt[string(m)]; now.Before(until) {
		return &CooldownError{Wait: until.Sub(now)}
	}
	var err error
	if m == MethodSMS {
		err = e.cfg.Store.SpendSMS(ctx, o.User, to, e.cfg.SMSLimits, now)
	} else {
		err = e.cfg.Store.SpendEmail(ctx, o.User, to, e.cfg.EmailLimits, now)
	}
	var le *store.LimitError
	switch {
	case errors.As(err, &le):
		kind := EventSMSLimited
		if m == MethodEmail {
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

// question draws a question for suite, of the configured length capped by
// the suite's maximum.
func (e *Engine) question(suite *ocra.Suite) (string, error) {
	n := min(e.cfg.QuestionLength, suite.QuestionMaxLen())
	q, err := suite.RandomQuestion(e.cfg.Rand, n)
	if err != nil {
		return "", fmt.Errorf("%w: drawing a question: %w", ErrUnavailable, err)
	}
	return q, nil
}

// expectedOCRA returns the MACs of every answer a device of the user may
// give to question q: one per device, and for time-based suites one per
// time step within the window.
func (e *Engine) expectedOCRA(id string, devices []Device, q string, pay *payment.Payment, now time.Time) ([][]byte, error) {
	var out [][]byte
	for _, d := range devices {
		in := ocra.Input{Question: q, PINHash: d.PINHash}
		suite := d.Suite
		if pay != nil {
			// Payment mode: the device's suite with the payment's session
			// data, derived once per device, not once per time step.
			ps, err := payment.PaymentSuite(d.Suite)
			if err != nil {
				continue
			}
			if in, err = pay.Input(in); err != nil {
				continue
			}
			suite = ps
		}
		steps := []uint64{0}
		if st := d.Suite.TimeStep(); st > 0 {
			cur := ocra.TimeSteps(now, st)
			steps = steps[:0]
			for w := -e.cfg.TimeWindow; w <= e.cfg.TimeWindow; w++ {
				steps = append(steps, uint64(int64(cur)+int64(w)))
			}
		}
		for _, ts := range steps {
			in.Timestamp, in.HasTimestamp = ts, d.Suite.TimeStep() > 0
			a, err := suite.Compute(d.Key, in)
			if err != nil {
				// A question in the primary device's format may not suit
				// another device's suite: that device cannot answer it.
				break
			}
			out = append(out, e.answerMAC(id, a))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no device can answer the question", ErrUnavailable)
	}
	return out, nil
}

// emailCode returns the code mailed to the user: the primary device's
// answer to a fresh question, or random digits without a device.
func (e *Engine) emailCode(u *User, pay *payment.Payment, now time.Time) (string, error) {
	if len(u.Devices) == 0 {
		return e.digits(e.cfg.CodeLength)
	}
	d := u.Devices[0]
	q, err := e.question(d.Suite)
	if err != nil {
		return "", err
	}
	in := ocra.Input{Question: q, PINHash: d.PINHash}
	if st := d.Suite.TimeStep(); st > 0 {
		in.Timestamp, in.HasTimestamp = ocra.TimeSteps(now, st), true
	}
	a, err := answerFor(d, in, pay)
	if err != nil {
		return "", fmt.Errorf("%w: computing the e-mailed answer: %w", ErrUnavailable, err)
	}
	return a, nil
}

// answerFor computes device d's answer to in: in authorization mode
// (pay nil) with the device's suite, in payment mode with the payment
// derivation over the payee and amount.
func answerFor(d Device, in ocra.Input, pay *payment.Payment) (string, error) {
	if pay == nil {
		return d.Suite.Compute(d.Key, in)
	}
	return pay.Answer(d.Suite, d.Key, in)
}

// digits returns n uniformly random decimal digits.
func (e *Engine) digits(n int) (string, error) {
	out := make([]byte, 0, n)
	var buf [16]byte
	for len(out) < n {
		if _, err := io.ReadFull(e.cfg.Rand, buf[:]); err != nil {
			return "", fmt.Errorf("%w: randomness: %w", ErrUnavailable, err)
		}
		for _, b := range buf {
			if b < 250 && len(out) < n { // 250 = 25*10: no modulo bias
				out = append(out, '0'+b%10)
			}
		}
	}
	return string(out), nil
}

// maxAnswerLen bounds an answer as typed, separators included.
const maxAnswerLen = 128

// NormalizeAnswer strips the spaces, tabs and dashes people paste into
// answers ("1234 5678", "1234-5678") and checks what is left is 1 to 64
// letters or digits; otherwise it returns ErrMalformed.
func NormalizeAnswer(a string) (string, error) {
	if len(a) > maxAnswerLen {
		return "", fmt.Errorf("%w: answer too long", ErrMalformed)
	}
	out := make([]byte, 0, len(a))
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c == ' ' || c == '-' || c == '\t':
		case '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			out = append(out, c)
		default:
			return "", fmt.Errorf("%w: answer may hold only digits and letters", ErrMalformed)
		}
	}
	if len(out) == 0 || len(out) > 64 {
		return "", fmt.Errorf("%w: answer must be 1 to 64 digits or letters", ErrMalformed)
	}
	return string(out), nil
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

	session []byte // the owner's session binding, for Settle
}

// Verify checks an answer. The store counts the attempt, checks expiry and
// consumes the challenge in one atomic step, so however many correct
// answers race, at most one Verify returns a Confirmation. Errors:
// ErrMalformed (nothing changed), *WrongAnswerError, ErrTooManyAttempts,
// ErrMethodRequired, ErrUnknown, ErrUnavailable.
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
		e.emit(ctx, Event{Kind: EventLocked, ChallengeID: id, User: o.User})
		return nil, &LockedError{Until: res.LockedUntil}
	}
	switch res.Outcome {
	case store.Wrong:
		e.emit(ctx, Event{Kind: EventWrongAnswer, ChallengeID: id, User: o.User, AttemptsLeft: res.AttemptsLeft})
		return nil, &WrongAnswerError{AttemptsLeft: e.truthfulAttempts(ctx, o.User, res.AttemptsLeft, now)}
	case store.Exhausted:
		e.emit(ctx, Event{Kind: EventExhausted, ChallengeID: id, User: o.User})
		return nil, ErrTooManyAttempts
	case store.Confirmed:
	case store.Repeated:
		// The same right answer again: a retry after a lost reply or a
		// double submit. Never a second confirmation; the delivery is
		// retried only if the upstream never answered.
		return e.repeated(ctx, id, o, res.Record, now)
	default:
		return nil, fmt.Errorf("%w: store returned outcome %v", ErrUnavailable, res.Outcome)
	}
	e.views.drop(id)
	conf, err := e.confirmation(res.Record)
	if err != nil {
		return nil, err
	}
	e.emit(ctx, Event{Kind: EventConfirmed, ChallengeID: id, User: conf.User, Operation: conf.Challenge.Operation, Method: conf.Method,
		Amount: conf.Challenge.Amount, Currency: conf.Challenge.Currency, Payee: conf.Challenge.PayeeDisplay})
	return conf, nil
}

// MaxDeliveries bounds how often one confirmation is delivered to the
// upstream: the first delivery and the customer's "Try again"s.
const MaxDeliveries = 3

// AlreadyConfirmedError reports an answer or a delivery for a challenge
// that is confirmed already.
type AlreadyConfirmedError struct {
	// At is when it was confirmed.
	At time.Time
	// Delivered reports that the upstream answered it: it is done.
	Delivered bool
	// RetryAt, when not delivered, is when a delivery may be tried again
	// (a delivery may be in flight until then); zero: now.
	RetryAt time.Time
}

// Error implements error.
func (e *AlreadyConfirmedError) Error() string {
	if e.Delivered {
		return "already confirmed and delivered at " + e.At.UTC().Format(time.RFC3339)
	}
	return "already confirmed at " + e.At.UTC().Format(time.RFC3339) + ", not delivered yet"
}

// ErrNotDelivered reports a confirmation that stands but cannot be
// delivered yet (the store has not made it durable on its replicas);
// the same answer again, or Deliver, delivers it once it can.
var ErrNotDelivered = errors.New("confirmed, but not delivered yet")

// ErrDeliveriesExhausted reports a confirmation that could not be
// delivered in MaxDeliveries tries; the customer should contact support.
var ErrDeliveriesExhausted = errors.New("the confirmed request could not be delivered")

// repeated answers Verify for a confirmed challenge: a redelivery if it
// was never delivered and no delivery is in flight, else what happened.
func (e *Engine) repeated(ctx context.Context, id string, o store.Owner, r *store.Record, now time.Time) (*Confirmation, error) {
	if r.Delivered() {
		return nil, &AlreadyConfirmedError{At: r.ConfirmedAt, Delivered: true}
	}
	if now.Before(r.LeaseUntil) {
		return nil, &AlreadyConfirmedError{At: r.ConfirmedAt, RetryAt: r.LeaseUntil}
	}
	return e.deliver(ctx, id, o, now)
}

// Deliver delivers a confirmed but undelivered challenge again (the
// customer's "Try again" after the upstream failed to answer): the same
// stash, id and Enumgate-Confirmed header. Errors: ErrUnknown,
// *AlreadyConfirmedError (delivered, or a delivery in flight),
// ErrDeliveriesExhausted, ErrUnavailable.
func (e *Engine) Deliver(ctx context.Context, id string, s Subject) (*Confirmation, error) {
	if !ValidID(id) {
		return nil, ErrUnknown
	}
	return e.deliver(ctx, id, e.owner(s), e.cfg.Now())
}

func (e *Engine) deliver(ctx context.Context, id string, o store.Owner, now time.Time) (*Confirmation, error) {
	r, err := e.cfg.Store.Deliver(ctx, id, o, MaxDeliveries, now)
	var be *store.DeliveryBusyError
	switch {
	case errors.As(err, &be):
		return nil, &AlreadyConfirmedError{RetryAt: be.Until}
	case errors.Is(err, store.ErrDelivered):
		return nil, &AlreadyConfirmedError{Delivered: true}
	case errors.Is(err, store.ErrDeliveriesExhausted):
		return nil, ErrDeliveriesExhausted
	case errors.Is(err, store.ErrNotDurable):
		return nil, fmt.Errorf("%w: %w", ErrNotDelivered, err)
	case err != nil:
		return nil, storeErr(err)
	}
	return e.confirmation(r)
}

// Settle records whether the upstream answered a delivered confirmation:
// delivered, it can never be delivered again; not delivered, the customer
// may try again at once.
func (e *Engine) Settle(ctx context.Context, conf *Confirmation, delivered bool) error {
	id := conf.Challenge.ID
	o := store.Owner{User: conf.User, Session: conf.session}
	// A fresh context: the request's may be gone with the upstream.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := e.cfg.Store.Settle(ctx, id, o, delivered, e.cfg.Now())
	switch {
	case errors.Is(err, store.ErrNotDurable):
		// Settled on the master; a failover before a replica has it could
		// allow one redelivery, which the upstream's Idempotency-Key
		// absorbs. Reported so the caller can log it.
		e.emit(ctx, Event{Kind: EventDelivered, ChallengeID: id, User: conf.User, Operation: conf.Challenge.Operation, Method: conf.Method, Err: err})
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case err != nil:
		return fmt.Errorf("%w: store: %w", ErrUnavailable, err)
	}
	kind := EventDelivered
	if !delivered {
		kind = EventNotDelivered
	}
	e.emit(ctx, Event{Kind: kind, ChallengeID: id, User: conf.User, Operation: conf.Challenge.Operation, Method: conf.Method,
		Amount: conf.Challenge.Amount, Currency: conf.Challenge.Currency, Payee: conf.Challenge.PayeeDisplay, Delivery: conf.Delivery})
	return nil
}

// confirmation opens the stash of a confirmed record and signs its
// header, with the confirmation's own time, so every delivery carries
// the same header.
func (e *Engine) confirmation(r *store.Record) (*Confirmation, error) {
	id := r.ID
	enc, err := e.openStash(id, r.Stash)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(digest(enc), r.Digest) != 1 {
		return nil, fmt.Errorf("%w: stashed request does not match its digest", ErrUnavailable)
	}
	st, err := DecodeStash(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	c, verr := view(r)
	if verr != nil {
		// Confirmed already: the confirmation stands; only its description
		// beyond operation, amount and payee is lost.
		c = &Challenge{ID: r.ID, Operation: r.Operation, Amount: r.Amount, Payee: r.Payee, PayeeDisplay: r.Payee, Expires: r.Expires}
	}
	at := r.ConfirmedAt
	if at.IsZero() {
		at = e.cfg.Now()
	}
	conf := &Confirmation{Challenge: c, Method: Method(r.Method), User: r.User, Time: at, Stash: st, Delivery: r.Deliveries, session: r.Session}
	conf.Header = confirmedFor(id, r.Operation, conf.Method, r.User, at, st).Sign(e.confirmKey)
	return conf, nil
}

// Cancel removes the challenge on the user's request.
func (e *Engine) Cancel(ctx context.Context, id string, s Subject) error {
	if !ValidID(id) {
		return ErrUnknown
	}
	o := e.owner(s)
	if err := e.cfg.Store.Delete(ctx, id, o); err != nil {
		return storeErr(err)
	}
	e.views.drop(id)
	e.emit(ctx, Event{Kind: EventCancelled, ChallengeID: id, User: o.User})
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
