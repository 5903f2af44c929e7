package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
)

// Defaults of Config.
const (
	DefaultIssuer      = "enumgate"
	DefaultCodeLength  = 6
	DefaultCodeTTL     = 10 * time.Minute
	DefaultEnrollTTL   = 15 * time.Minute
	DefaultMaxAttempts = 3
	// ResendCooldown is how long after a code or an activation SMS the
	// next one may be sent.
	ResendCooldown = 30 * time.Second
	// DeviceName is the name of a device the customer enrols.
	DeviceName = "phone"
	// MinSecretLen is the shortest Config.Secret.
	MinSecretLen = 16
)

// Config configures a Service.
type Config struct {
	// Store keeps the state (NewMemoryStore, NewRedisStore). Required.
	Store Store
	// Base is the operator's directory, the source of identity. Required.
	Base challenge.Directory
	// Secret derives the keys that seal device keys and MAC codes; at
	// least MinSecretLen bytes. Required.
	Secret []byte
	// SMS sends phone verification codes and activation SMS. Optional:
	// without it phones cannot be verified.
	SMS challenge.Sender
	// Email sends address verification codes. Optional: without it
	// addresses cannot be verified.
	Email challenge.Sender
	// Issuer names the gateway in enrolment URIs and messages. Default
	// "enumgate".
	Issuer string
	// Suite is the OCRA suite of enrolled devices; it must ask only a
	// question (no counter, PIN, session or time input). Default
	// challenge.DefaultSuite.
	Suite string
	// CodeLength is the number of digits of verification codes (4 to 10).
	// Default 6.
	CodeLength int
	// CodeTTL is how long a verification code works. Default 10m.
	CodeTTL time.Duration
	// EnrollTTL is how long an enrolment awaits activation. Default 15m.
	EnrollTTL time.Duration
	// MaxAttempts is the answer budget of a verification or an
	// enrolment. Default 3.
	MaxAttempts int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the source of ids, codes, keys and questions. Default
	// crypto/rand.Reader.
	Rand io.Reader
	// Events receives account changes (see the Event* kinds); it must not
	// block. Optional.
	Events func(challenge.Event)
	// Client, if set, names the client of a call's context in its events
	// (IP and user agent), as challenge.WithClient does for the engine.
	Client func(context.Context) challenge.Client
}

// Event kinds of account changes (challenge.Event.Kind). Detail says what
// changed: a masked phone or address, a device name, "reset_device".
const (
	EventContactAdded      challenge.EventKind = "account_contact_added"
	EventContactRemoved    challenge.EventKind = "account_contact_removed"
	EventPrimaryChanged    challenge.EventKind = "account_primary_changed"
	EventEnrollmentStarted challenge.EventKind = "account_device_enrollment_started"
	EventDeviceActivated   challenge.EventKind = "account_device_activated"
	EventDeviceRemoved     challenge.EventKind = "account_device_removed"
	EventNotifyChanged     challenge.EventKind = "account_notifications_changed"
	EventRecoveryOpened    challenge.EventKind = "account_recovery_opened"
	EventRecoveryClosed    challenge.EventKind = "account_recovery_closed"
)

// Service is the customer's account: contacts, devices, notification
// switches and recovery requests over a Store. It is safe for concurrent
// use.
type Service struct {
	cfg   Config
	suite *ocra.Suite
	keys  *keys
	dir   *overlay
}

// New checks cfg, fills in the defaults and returns the Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("account: Config.Store is required")
	}
	if cfg.Base == nil {
		return nil, errors.New("account: Config.Base is required")
	}
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("account: Config.Secret must have at least %d bytes", MinSecretLen)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Suite == "" {
		cfg.Suite = challenge.DefaultSuite
	}
	suite, err := challenge.ParseDeviceSuite(cfg.Suite)
	if err != nil {
		return nil, fmt.Errorf("account: Config.Suite: %w", err)
	}
	if suite.PINHash() != "" || suite.TimeStep() != 0 {
		return nil, fmt.Errorf("account: Config.Suite %s: enrolment needs a suite whose answer depends on the question only (no P or T input)", cfg.Suite)
	}
	if cfg.CodeLength == 0 {
		cfg.CodeLength = DefaultCodeLength
	}
	if cfg.CodeLength < 4 || cfg.CodeLength > 10 {
		return nil, errors.New("account: Config.CodeLength must be 4 to 10")
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.EnrollTTL <= 0 {
		cfg.EnrollTTL = DefaultEnrollTTL
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	k, err := newKeys(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	s := &Service{cfg: cfg, suite: suite, keys: k}
	s.dir = &overlay{s: s}
	return s, nil
}

// emit reports an account change.
func (s *Service) emit(ctx context.Context, kind challenge.EventKind, user, detail string) {
	if s.cfg.Events == nil {
		return
	}
	ev := challenge.Event{Kind: kind, Time: s.cfg.Now(), User: user, Detail: detail}
	if s.cfg.Client != nil {
		c := s.cfg.Client(ctx)
		ev.ClientIP, ev.UserAgent = c.IP, c.UserAgent
	}
	s.cfg.Events(ev)
}

// Directory returns the overlay of the account states over Config.Base,
// for the engine (see the package documentation). A device key that
// fails authentication makes Lookup fail (not ErrNoUser): fail closed.
func (s *Service) Directory() challenge.Directory { return s.dir }

type overlay struct{ s *Service }

func (o *overlay) Lookup(ctx context.Context, id string) (*challenge.User, error) {
	u, _, err := o.s.resolve(ctx, id)
	return u, err
}

// resolve returns the overlaid user and the state.
func (s *Service) resolve(ctx context.Context, id string) (*challenge.User, *State, error) {
	base, err := s.cfg.Base.Lookup(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	st, err := s.cfg.Store.Load(ctx, id)
	if err != nil {
		return nil, nil, unavailable("loading the account", err)
	}
	u, err := s.apply(base, st)
	if err != nil {
		return nil, nil, err
	}
	return u, st, nil
}

// apply overlays st on base.
func (s *Service) apply(base *challenge.User, st *State) (*challenge.User, error) {
	if st.Phone == "" && st.Emails == nil && !st.DevicesSet {
		return base, nil
	}
	u := &challenge.User{ID: base.ID, Phone: base.Phone, Emails: base.Emails, Devices: base.Devices}
	if st.Phone != "" {
		u.Phone = st.Phone
	}
	if st.Emails != nil {
		u.Emails = make([]string, len(st.Emails))
		for i, e := range st.Emails {
			u.Emails[i] = e.Address
		}
	}
	if st.DevicesSet {
		u.Devices = make([]challenge.Device, 0, len(st.Devices))
		for _, d := range st.Devices {
			suite, err := challenge.ParseDeviceSuite(d.Suite)
			if err != nil {
				return nil, unavailable("device of "+base.ID, err)
			}
			key, err := s.keys.open(base.ID, d.Name, d.SealedKey)
			if err != nil {
				return nil, unavailable("device of "+base.ID, err)
			}
			u.Devices = append(u.Devices, challenge.Device{Name: d.Name, Suite: suite, Key: key})
		}
	}
	return u, nil
}

// emails returns the user's addresses as the account sees them: the
// state's, or the directory's marked on file.
func emails(base *challenge.User, st *State) []Email {
	if st.Emails != nil {
		return slices.Clone(st.Emails)
	}
	out := make([]Email, len(base.Emails))
	for i, a := range base.Emails {
		out[i] = Email{Address: a, Primary: i == 0, OnFile: true}
	}
	return out
}

// View returns what the customer's account page shows.
func (s *Service) View(ctx context.Context, user string) (*View, error) {
	base, err := s.cfg.Base.Lookup(ctx, user)
	if err != nil {
		return nil, err
	}
	st, err := s.cfg.Store.Load(ctx, user)
	if err != nil {
		return nil, unavailable("loading the account", err)
	}
	v := &View{User: user, Phone: base.Phone, PhoneOnFile: base.Phone != "", Emails: emails(base, st), Notify: notifyOf(st)}
	if st.Phone != "" {
		v.Phone, v.PhoneOnFile = st.Phone, false
	}
	if st.DevicesSet {
		for _, d := range st.Devices {
			v.Devices = append(v.Devices, DeviceInfo{Name: d.Name, Suite: d.Suite, Enrolled: d.Enrolled})
		}
	} else {
		for _, d := range base.Devices {
			v.Devices = append(v.Devices, DeviceInfo{Name: d.Name, Suite: d.Suite.String()})
		}
	}
	verified := st.Phone != ""
	for _, e := range v.Emails {
		verified = verified || !e.OnFile
	}
	v.NeedsRegistration = !verified && len(v.Devices) == 0
	if ref, ok := st.Pending[KindEnroll]; ok {
		p, err := s.cfg.Store.GetPending(ctx, user, ref.ID, s.cfg.Now())
		switch {
		case err == nil:
			v.Enrollment = &Enrollment{ID: p.ID, Question: p.Question, Expires: p.Expires, AttemptsLeft: p.AttemptsLeft}
		case !errors.Is(err, ErrNotFound):
			return nil, unavailable("loading the enrolment", err)
		}
	}
	if st.OpenRecovery != "" {
		r, err := s.cfg.Store.GetRecovery(ctx, st.OpenRecovery)
		switch {
		case err == nil && r.State == RecoveryOpen:
			v.Recovery = r
		case err != nil && !errors.Is(err, ErrNotFound):
			return nil, unavailable("loading the recovery request", err)
		}
	}
	return v, nil
}

func notifyOf(st *State) Notify {
	if st.Notify == nil {
		return DefaultNotify
	}
	return *st.Notify
}

// SetNotify sets the user's notification switches.
func (s *Service) SetNotify(ctx context.Context, user string, n Notify) error {
	if _, err := s.cfg.Base.Lookup(ctx, user); err != nil {
		return err
	}
	if err := s.cfg.Store.Update(ctx, user, func(st *State) error {
		st.Notify = &n
		return nil
	}); err != nil {
		return unavailable("saving the switches", err)
	}
	s.emit(ctx, EventNotifyChanged, user, fmt.Sprintf("confirmed=%t rejected=%t additional_addresses=%t", n.Confirmed, n.Rejected, n.AdditionalAddresses))
	return nil
}

// Notify returns the user's switches and the addresses notices go to: the
// primary, then the others if AdditionalAddresses is on (none if the user
// has no address).
func (s *Service) Notify(ctx context.Context, user string) (Notify, []string, error) {
	base, err := s.cfg.Base.Lookup(ctx, user)
	if err != nil {
		return Notify{}, nil, err
	}
	st, err := s.cfg.Store.Load(ctx, user)
	if err != nil {
		return Notify{}, nil, unavailable("loading the account", err)
	}
	n := notifyOf(st)
	var to []string
	for i, e := range emails(base, st) {
		if i == 0 || n.AdditionalAddresses {
			to = append(to, e.Address)
		}
	}
	return n, to, nil
}

// lang picks the message language of a page's language tag.
func langOf(tag string) string {
	if len(tag) >= 2 && (tag[:2] == "ru" || tag[:2] == "RU" || tag[:2] == "Ru") {
		return "ru"
	}
	return "en"
}
