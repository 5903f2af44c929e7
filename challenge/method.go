package challenge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
)

// Method is a confirmation method's name, as rules, the API and the pages
// spell it: "enum", "sms", "email", or the name of a MethodDriver
// registered with RegisterMethod.
type Method string

// The built-in confirmation methods (method_enum.go, method_sms.go,
// method_email.go).
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

// The one place where methods are registered: the built-ins, in the order
// a rule that names none offers them.
func init() {
	RegisterMethod(enumMethod{})
	RegisterMethod(smsMethod{})
	RegisterMethod(emailMethod{})
}

// A MethodDriver carries out one confirmation method. The engine, the
// pages, the API and rule validation reach methods only through the
// drivers registered with RegisterMethod, so a new method is one driver
// (plus, in the gateway, its messages and a template block).
type MethodDriver interface {
	// Name is the method's name: 1 to 32 bytes of [a-z0-9_].
	Name() Method
	// Usable reports whether user u can confirm with the method, as far as
	// the user goes (a device, a phone, an address). For a Sending method
	// the engine also requires a sender for it.
	Usable(u *User) bool
	// Destination is the masked destination the method would use, shown
	// when the customer chooses a method ("" for none).
	Destination(u *User) string
	// Begin prepares the method for one challenge: it draws the question
	// or the code, registers every answer that confirms (Beginning.Expect)
	// and, for a Sending method, the message (Beginning.Send).
	Begin(ctx context.Context, b *Beginning) error
}

// Sending is implemented by a MethodDriver that delivers its code through
// a Sender (Config.SMS, Config.Email or Config.Senders). The engine sends
// after the cost controls of the channel allowed it and stores the code
// only once the sender accepted the message (send, then commit).
type Sending interface {
	// Channel names the cost controls the message is counted against:
	// store.ChannelSMS, store.ChannelEmail, or "" for none.
	Channel() string
}

var registry struct {
	sync.RWMutex
	order []Method
	by    map[Method]MethodDriver
}

// RegisterMethod makes a confirmation method available to every engine. It
// is meant to be called from an init function (or a test) and panics if
// the name is malformed or taken, as registering a Caddy module does.
func RegisterMethod(d MethodDriver) {
	name := d.Name()
	if !validMethodName(string(name)) {
		panic(fmt.Sprintf("challenge: method name %q is not 1 to 32 bytes of [a-z0-9_]", name))
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.by == nil {
		registry.by = map[Method]MethodDriver{}
	}
	if _, dup := registry.by[name]; dup {
		panic(fmt.Sprintf("challenge: method %q registered twice", name))
	}
	registry.by[name] = d
	registry.order = append(registry.order, name)
}

// Methods returns the registered methods in registration order (the
// built-ins first: enum, sms, email).
func Methods() []Method {
	registry.RLock()
	defer registry.RUnlock()
	return slices.Clone(registry.order)
}

// LookupMethod returns the driver registered as m.
func LookupMethod(m Method) (MethodDriver, bool) {
	registry.RLock()
	defer registry.RUnlock()
	d, ok := registry.by[m]
	return d, ok
}

// ParseMethod returns the registered Method named s, or an error that
// lists the registered ones.
func ParseMethod(s string) (Method, error) {
	if _, ok := LookupMethod(Method(s)); ok {
		return Method(s), nil
	}
	return "", fmt.Errorf("unknown confirmation method %q (want %s)", s, methodList())
}

// methodList is "enum, sms or email" for the registered methods.
func methodList() string {
	names := make([]string, 0, 4)
	for _, m := range Methods() {
		names = append(names, string(m))
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func validMethodName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Beginning is one Begin of a method: what the driver is given and what
// it hands back.
type Beginning struct {
	// ChallengeID is the challenge's id.
	ChallengeID string
	// User is the user confirming.
	User *User
	// Challenge is what is being confirmed (operation, amount, payee, mode).
	Challenge *Challenge
	// Payment is the payment-mode derivation (nil in authorization mode):
	// E-num answers are computed over the payee and the amount.
	Payment *payment.Payment
	// Now is the engine's time of the step.
	Now time.Time

	// Question is the question shown to the user (E-num), if any.
	Question string
	// SentTo is the masked destination the page names, if any.
	SentTo string
	// Cooldown is how long before the method may be begun again for this
	// challenge (0: at once).
	Cooldown time.Duration

	engine   *Engine
	expected [][]byte
	message  *Message
}

// Expect registers an answer that confirms the challenge. The store keeps
// only a keyed MAC of it, bound to the challenge.
func (b *Beginning) Expect(answer string) error {
	a, err := NormalizeAnswer(answer)
	if err != nil {
		return fmt.Errorf("%w: the method made an answer the customer could not type", ErrUnavailable)
	}
	b.expected = append(b.expected, b.engine.answerMAC(b.ChallengeID, a))
	return nil
}

// Send asks the engine to deliver m through the method's Sender; the code
// in m is what the customer types. The engine fills in what is being
// confirmed and the text.
func (b *Beginning) Send(m Message) { b.message = &m }

// Code returns a fresh code of the configured length (Config.CodeLength):
// uniformly random decimal digits.
func (b *Beginning) Code() (string, error) { return b.engine.digits(b.engine.cfg.CodeLength) }

// NewQuestion draws a fresh question for suite, of the configured length
// capped by the suite's maximum.
func (b *Beginning) NewQuestion(suite *ocra.Suite) (string, error) { return b.engine.question(suite) }

// ResendCooldown is the configured resend cooldown (Config.ResendCooldown).
func (b *Beginning) ResendCooldown() time.Duration { return b.engine.cfg.ResendCooldown }

// sender returns the Sender of method m, if the engine has one.
func (e *Engine) sender(m Method) Sender {
	switch m {
	case MethodSMS:
		if e.cfg.SMS != nil {
			return e.cfg.SMS
		}
	case MethodEmail:
		if e.cfg.Email != nil {
			return e.cfg.Email
		}
	}
	return e.cfg.Senders[m]
}

// CanSend reports whether the engine can carry out method m at all: a
// registered method, and for one that sends, with its sender configured.
func (e *Engine) CanSend(m Method) bool {
	d, ok := LookupMethod(m)
	if !ok {
		return false
	}
	if _, sends := d.(Sending); sends {
		return e.sender(m) != nil
	}
	return true
}

// BuiltinMethods are the methods offered when a request names none: a
// registered method beyond these is offered only where it is named.
func BuiltinMethods() []Method { return []Method{MethodEnum, MethodSMS, MethodEmail} }

// usable returns the methods of want (the built-in ones when empty) that u
// can use on this engine.
func (e *Engine) usable(u *User, want []Method) []string {
	if len(want) == 0 {
		want = BuiltinMethods()
	}
	var out []string
	for _, m := range want {
		d, ok := LookupMethod(m)
		if ok && e.CanSend(m) && d.Usable(u) && !slices.Contains(out, string(m)) {
			out = append(out, string(m))
		}
	}
	return out
}
