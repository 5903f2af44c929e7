package challenge

import (
	"fmt"
	"io"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// Defaults for Config (the Default of each entry of Limits).
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
	// Senders are the senders of further registered methods that send
	// (see Sending), by method.
	Senders map[Method]Sender
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
	// ApprovalGroups are the approvers' groups that Engine.Approvals
	// looks in (besides those this engine issued challenges for): list
	// every group the rules name, so that a gateway lists what others
	// issued.
	ApprovalGroups []string
	// Approvals keeps four-eyes approvals; it must be the same store as
	// Store. If nil, Store's own are used, found through wrappers that
	// have an Unwrap() store.Store method (store.ApprovalsOf); a store
	// without them cannot take challenges that need approval (Issue
	// fails with ErrUnavailable).
	Approvals store.Approvals
}

// A Limit bounds one whole-number setting (a count, or a duration in
// nanoseconds): the one table that New, the gateway's Caddyfile parser
// and its Validate all check against, so each bound is written once.
type Limit struct {
	// Name is the setting as operators write it ("code_length").
	Name string
	// Min and Max bound the value, both included.
	Min, Max int64
	// Default is used when the setting is zero (unset).
	Default int64
}

// Check returns an error naming the setting if v is out of range.
func (l Limit) Check(v int64) error {
	if v < l.Min || v > l.Max {
		if l.isDuration() {
			return fmt.Errorf("%s %s out of range %s..%s", l.Name, time.Duration(v), time.Duration(l.Min), time.Duration(l.Max))
		}
		return fmt.Errorf("%s %d out of range %d..%d", l.Name, v, l.Min, l.Max)
	}
	return nil
}

// Or returns v, or the Default when v is zero.
func (l Limit) Or(v int64) int64 {
	if v == 0 {
		return l.Default
	}
	return v
}

func (l Limit) isDuration() bool {
	return l.Min >= int64(time.Second) || l.Default >= int64(time.Second)
}

// Limits are the bounds of the engine's settings. (A rule's ttl and
// max_attempts are the policy's: policy.MinTTL, policy.MaxTTL,
// policy.MaxMaxAttempts.)
var Limits = struct {
	// QuestionLength bounds Config.QuestionLength.
	QuestionLength Limit
	// CodeLength bounds Config.CodeLength.
	CodeLength Limit
	// TimeWindow bounds Config.TimeWindow.
	TimeWindow Limit
	// LockoutAfter bounds Config.LockoutAfter.
	LockoutAfter Limit
	// LockoutFor bounds Config.LockoutFor.
	LockoutFor Limit
	// ResendCooldown bounds Config.ResendCooldown.
	ResendCooldown Limit
}{
	QuestionLength: Limit{Name: "question_length", Min: 4, Max: 64, Default: DefaultQuestionLength},
	CodeLength:     Limit{Name: "code_length", Min: 4, Max: 10, Default: DefaultCodeLength},
	TimeWindow:     Limit{Name: "time_window", Min: 1, Max: 10, Default: DefaultTimeWindow},
	LockoutAfter:   Limit{Name: "lockout", Min: 1, Max: 100, Default: DefaultLockoutAfter},
	LockoutFor:     Limit{Name: "lockout duration", Min: int64(time.Second), Max: int64(365 * 24 * time.Hour), Default: int64(DefaultLockoutFor)},
	ResendCooldown: Limit{Name: "resend_cooldown", Min: int64(time.Second), Max: int64(time.Hour), Default: int64(DefaultResendCooldown)},
}

// applyLimits fills in the defaults of cfg and checks every bounded
// setting against Limits.
func (cfg *Config) applyLimits() error {
	ints := []struct {
		v *int
		l Limit
	}{
		{&cfg.QuestionLength, Limits.QuestionLength},
		{&cfg.CodeLength, Limits.CodeLength},
		{&cfg.TimeWindow, Limits.TimeWindow},
		{&cfg.LockoutAfter, Limits.LockoutAfter},
	}
	for _, f := range ints {
		*f.v = int(f.l.Or(int64(*f.v)))
		if err := f.l.Check(int64(*f.v)); err != nil {
			return fmt.Errorf("challenge: %w", err)
		}
	}
	durs := []struct {
		v *time.Duration
		l Limit
	}{
		{&cfg.LockoutFor, Limits.LockoutFor},
		{&cfg.ResendCooldown, Limits.ResendCooldown},
	}
	for _, f := range durs {
		*f.v = time.Duration(f.l.Or(int64(*f.v)))
		if err := f.l.Check(int64(*f.v)); err != nil {
			return fmt.Errorf("challenge: %w", err)
		}
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
	return nil
}
