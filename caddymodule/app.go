// Package caddymodule is enumgate's Caddy glue: the `enumgate` app (the
// services every site shares: store, secret, users, senders), the
// `http.handlers.enumgate` handler that catches protected requests, its
// Caddyfile syntax, the embedded pages and JSON API, and the replay of a
// confirmed request to the next handler.
//
// The logic lives elsewhere: package challenge (the engine) and package
// policy (which requests are protected). This package only wires them to
// Caddy.
package caddymodule

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/account"
	"github.com/enumgate/enumgate/challenge/journal"
	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/trust"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `enumgate` Caddy app: the services every enumgate handler in
// the config shares. Configure it in the Caddyfile's global options block:
//
//	{
//		enumgate {
//			secret {env.ENUMGATE_SECRET}
//			users file users.json
//			sms webhook https://sms.example/send
//		}
//	}
type App struct {
	// Store is where challenge state lives, a module in the
	// `enumgate.stores` namespace. Default: the in-process memory store
	// (`{"backend": "memory"}`), which survives config reloads but not a
	// restart and is not shared between gateways.
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=enumgate.stores inline_key=backend"`

	// Secret keys every MAC the gateway makes: session bindings, stored
	// answers and the Enumgate-Confirmed header. At least 16 bytes; use 32
	// random bytes. Placeholders such as {env.ENUMGATE_SECRET} are expanded
	// at provision time. Required.
	Secret string `json:"secret,omitempty"`

	// OldSecrets are earlier secrets, kept while device keys stored in
	// Redis are re-encrypted under Secret (`enumgate users reencrypt`):
	// they still decrypt, never encrypt. Placeholders are expanded.
	OldSecrets []string `json:"old_secrets,omitempty"`

	// Users is the user directory, a module in the `enumgate.users`
	// namespace, e.g. `{"source": "file", "path": "users.json"}`.
	// Required.
	UsersRaw json.RawMessage `json:"users,omitempty" caddy:"namespace=enumgate.users inline_key=source"`

	// SMS sends SMS codes, a module in the `enumgate.senders` namespace
	// (e.g. `webhook`). Without it the sms method is never offered.
	SMSRaw json.RawMessage `json:"sms,omitempty" caddy:"namespace=enumgate.senders inline_key=sender"`

	// Email sends e-mail, a module in the `enumgate.senders` namespace
	// (e.g. `smtp` or `webhook`). Without it the email method is never
	// offered.
	EmailRaw json.RawMessage `json:"email,omitempty" caddy:"namespace=enumgate.senders inline_key=sender"`

	// QuestionLength is the number of characters of an E-num question,
	// capped by the device suite's maximum. Default 8.
	QuestionLength int `json:"question_length,omitempty"`

	// CodeLength is the number of digits of SMS codes and of e-mailed codes
	// for users without a device, 4 to 10. Default 6.
	CodeLength int `json:"code_length,omitempty"`

	// ResendCooldown is how long a user waits before an SMS or e-mail is
	// sent again for the same challenge. Default 60s.
	ResendCooldown caddy.Duration `json:"resend_cooldown,omitempty"`

	// TimeWindow is how many time steps either side of the gateway's clock
	// a time-based (T) suite's answer is accepted for. Default 1.
	TimeWindow int `json:"time_window,omitempty"`

	// LockoutAfter is how many consecutive failed confirmations (wrong
	// answers, across challenges) lock a user. Default 5.
	LockoutAfter int `json:"lockout_after,omitempty"`

	// LockoutFor is how long a lock lasts before it lifts by itself.
	// Default 30m.
	LockoutFor caddy.Duration `json:"lockout_for,omitempty"`

	// SMSLimits are the SMS cost controls; over a limit the customer is
	// offered E-num or e-mail instead. Each field left zero takes its
	// default; a negative value disables that limit.
	SMSLimits *SMSLimits `json:"sms_limits,omitempty"`

	// EmailLimits are the e-mail cost controls, like SMSLimits
	// (phone_cooldown is the cooldown per address); over a limit the
	// customer is offered the other methods. Defaults as for SMS.
	EmailLimits *SMSLimits `json:"email_limits,omitempty"`

	// Approvers are the approvers' groups of four-eyes approval (a rule's
	// approve_by names one): group name → the user ids who may approve.
	// A customer never approves their own operation.
	Approvers map[string][]string `json:"approvers,omitempty"`

	// Journal sets the retention of the authorization journal, which
	// keeps every step in each user's name: in the store's Redis with
	// store redis (a stream per user), else in the gateway's memory
	// (bounded, surviving reloads but not restarts). Default: 1000
	// entries per user, none older than 90 days.
	Journal *JournalConfig `json:"journal,omitempty"`

	engine   *challenge.Engine
	logger   *zap.Logger
	storeMod any
	usersMod any
	store    store.Store         // the store, as the engine sees it
	dir      challenge.Directory // the operator's user directory
	account  *account.Service    // the customers' accounts (overlaying dir)
	trust    trust.Store         // grants, trusted payees, risk memory (nil: none)
	grantKey []byte              // keys the session hashes of section grants
	baseDir  challenge.Directory // = dir
	observer *stepObserver       // metrics and Caddy events of every step
	subs     []func(challenge.Event)

	mailer challenge.Sender // the e-mail sender, unwrapped by the metrics
	side   *appSide         // the journal and the notifications
}

// appSide is what the app runs beside the engine: the authorization
// journal and the notifications (a pointer, so App copies no locks).
type appSide struct {
	journal       journal.Journal   // the authorization journal
	journalPooled bool              // journal is the process's in-process one
	recorder      *journal.Recorder // feeds journal from the observer
	journalOnce   sync.Once         // closes the journal once
	journalWarn   rateGate          // bounds the log of failed appends
	notifier      *notifier         // e-mails customers of their confirmations
	prefs         atomic.Pointer[NotifyPrefs]
}

// sideOf returns a's appSide, making it on first use.
func (a *App) sideOf() *appSide {
	if a.side == nil {
		a.side = new(appSide)
	}
	return a.side
}

// SMSLimits configure the SMS cost controls, shared by every gateway on
// the same store.
type SMSLimits struct {
	// UserCooldown is the least time between two SMS to one user, across
	// challenges. Default 30s.
	UserCooldown caddy.Duration `json:"user_cooldown,omitempty"`
	// PhoneCooldown is the least time between two SMS to one phone number.
	// Default 30s.
	PhoneCooldown caddy.Duration `json:"phone_cooldown,omitempty"`
	// UserHourly is the most SMS one user gets in a clock hour (UTC).
	// Default 10.
	UserHourly int `json:"user_hourly,omitempty"`
	// DailyBudget is the most SMS the deployment sends in a UTC day.
	// Default 10000.
	DailyBudget int `json:"daily_budget,omitempty"`
}

// limits resolves defaults (zero, from d) and disabled limits (negative).
func (l *SMSLimits) limits(d store.MessageLimits) store.MessageLimits {
	if l == nil {
		return d
	}
	pick := func(v, def int64) int64 {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return def
		}
		return v
	}
	return store.SMSLimits{
		UserCooldown:  time.Duration(pick(int64(l.UserCooldown), int64(d.UserCooldown))),
		PhoneCooldown: time.Duration(pick(int64(l.PhoneCooldown), int64(d.PhoneCooldown))),
		UserHourly:    int(pick(int64(l.UserHourly), int64(d.UserHourly))),
		DailyBudget:   int(pick(int64(l.DailyBudget), int64(d.DailyBudget))),
	}
}

// StoreModule is implemented by modules in the `enumgate.stores` namespace.
type StoreModule interface {
	// ChallengeStore returns the provisioned store.
	ChallengeStore() store.Store
}

// DirectoryModule is implemented by modules in the `enumgate.users`
// namespace.
type DirectoryModule interface {
	// Directory returns the provisioned user directory.
	Directory() challenge.Directory
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "enumgate",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision loads the store, users and senders and builds the engine.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.sideOf()
	obs, err := newStepObserver(ctx, a.logger)
	if err != nil {
		return fmt.Errorf("enumgate: metrics: %w", err)
	}
	a.observer = obs
	secret, err := a.resolveSecrets()
	if err != nil {
		return err
	}
	if a.StoreRaw == nil {
		a.StoreRaw = json.RawMessage(`{"backend": "memory"}`)
	}
	mod, err := ctx.LoadModule(a, "StoreRaw")
	if err != nil {
		return fmt.Errorf("enumgate: loading store: %w", err)
	}
	a.storeMod = mod
	st := store.Store(&watchedStore{Store: a.observer.wrapStore(mod.(StoreModule).ChallengeStore()), logger: a.logger})
	a.store = st
	if err := a.openJournal(ctx, mod.(StoreModule)); err != nil {
		return err
	}

	if a.UsersRaw == nil {
		return errors.New("enumgate: users is required (e.g. users file users.json)")
	}
	mod, err = ctx.LoadModule(a, "UsersRaw")
	if err != nil {
		return fmt.Errorf("enumgate: loading users: %w", err)
	}
	a.usersMod = mod
	if op, ok := mod.(DirectoryOpener); ok {
		if err := op.OpenDirectory(ctx, a.storeMod.(StoreModule), secret); err != nil {
			return err
		}
	}
	dir := mod.(DirectoryModule).Directory()
	a.dir = dir
	a.observer.watchDirectory(dir)

	cfg := challenge.Config{
		Store: st, Directory: dir, Secret: secret[0],
		QuestionLength: a.QuestionLength, CodeLength: a.CodeLength,
		ResendCooldown: time.Duration(a.ResendCooldown), TimeWindow: a.TimeWindow,
		LockoutAfter: a.LockoutAfter, LockoutFor: time.Duration(a.LockoutFor),
		SMSLimits:   a.SMSLimits.limits(challenge.DefaultSMSLimits),
		EmailLimits: a.EmailLimits.limits(challenge.DefaultEmailLimits),
		Events:      a.observe,
	}
	cfg.NoSMSLimits = cfg.SMSLimits == (store.SMSLimits{})
	cfg.NoEmailLimits = cfg.EmailLimits == (store.MessageLimits{})
	if cfg.SMS, err = a.loadSender(ctx, "sms", "SMSRaw", a.SMSRaw); err != nil {
		return err
	}
	if cfg.Email, err = a.loadSender(ctx, "email", "EmailRaw", a.EmailRaw); err != nil {
		return err
	}
	a.mailer = cfg.Email
	cfg.SMS, cfg.Email = a.observer.wrapSender(store.ChannelSMS, cfg.SMS), a.observer.wrapSender(store.ChannelEmail, cfg.Email)
	a.baseDir = dir
	if am, ok := a.storeMod.(AccountStoreModule); ok {
		a.account, err = account.New(account.Config{
			Store: am.AccountStore(), Base: dir, Secret: secret[0],
			SMS:    budgeted(cfg.SMS, st, store.ChannelSMS, cfg.SMSLimits),
			Email:  budgeted(cfg.Email, st, store.ChannelEmail, cfg.EmailLimits),
			Events: a.observe, Client: challenge.ClientFrom,
		})
		if err != nil {
			return fmt.Errorf("enumgate: accounts: %w", err)
		}
		cfg.Directory = a.account.Directory()
		svc := a.account
		a.SetNotifyPrefs(func(ctx context.Context, user string) (bool, bool, []string, error) {
			n, to, err := svc.Notify(ctx, user)
			return n.Confirmed, n.Rejected, to, err
		})
	}
	if tm, ok := a.storeMod.(TrustStoreModule); ok {
		a.trust = tm.TrustStore()
	}
	gk := hmac.New(sha256.New, secret[0])
	gk.Write([]byte("enumgate/v1/grant-session"))
	a.grantKey = gk.Sum(nil)
	for g, users := range a.Approvers {
		if !challenge.ValidGroup(g) || len(users) == 0 {
			return fmt.Errorf("enumgate: approvers %q: a group is [a-z0-9_]{1,64} with at least one user", g)
		}
		cfg.ApprovalGroups = append(cfg.ApprovalGroups, g)
	}
	slices.Sort(cfg.ApprovalGroups)
	a.engine, err = challenge.New(cfg)
	if err != nil {
		return fmt.Errorf("enumgate: %w", err)
	}
	if err := a.startNotifier(ctx); err != nil {
		return err
	}
	apps.Store(a.engine, a)
	context.AfterFunc(ctx, func() { apps.CompareAndDelete(a.engine, a) })
	return nil
}

// DemoSecretWarning is what the app logs at WARN when its secret is the
// default written in the config because the environment variable is
// unset: a secret anyone can read is no secret.
const DemoSecretWarning = "using the public demo secret: set ENUMGATE_SECRET"

// resolveSecrets expands Secret and OldSecrets (runtime placeholders such
// as {env.ENUMGATE_SECRET} or {file./run/secrets/enumgate}, so that the
// JSON config, autosave.json and the admin API only ever hold the
// placeholder) and checks them. The current secret comes first. Errors
// name the option and the placeholder, never a secret.
func (a *App) resolveSecrets() ([][]byte, error) {
	if a.Secret == "" {
		return nil, errors.New("enumgate: secret is required (e.g. secret {env.ENUMGATE_SECRET})")
	}
	secret, defaulted, err := ResolveSecret(a.Secret)
	if err != nil {
		return nil, fmt.Errorf("enumgate: secret: %w", err)
	}
	if len(secret) < 16 {
		return nil, errors.New("enumgate: secret is required and must be at least 16 bytes (e.g. secret {env.ENUMGATE_SECRET})")
	}
	switch {
	case defaulted != "":
		a.logger.Warn(DemoSecretWarning,
			zap.String("variable", defaulted),
			zap.String("risk", "the default secret is written in the config, so anyone who reads it can forge Enumgate-Confirmed headers and session bindings; set "+defaulted+" to 32 random bytes"))
	case !strings.Contains(a.Secret, "{"):
		a.logger.Warn("secret is written in the config itself: it shows in the JSON config, autosave.json and the admin API; use secret {env.ENUMGATE_SECRET}")
	}
	secrets := [][]byte{[]byte(secret)}
	for i, old := range a.OldSecrets {
		s, _, err := ResolveSecret(old)
		if err != nil {
			return nil, fmt.Errorf("enumgate: old_secrets[%d]: %w", i, err)
		}
		if len(s) < 16 {
			return nil, fmt.Errorf("enumgate: old_secrets[%d] must be at least 16 bytes", i)
		}
		if s == secret {
			return nil, fmt.Errorf("enumgate: old_secrets[%d] is the current secret", i)
		}
		secrets = append(secrets, []byte(s))
	}
	return secrets, nil
}

// ResolveSecret expands the runtime placeholders of a configured secret.
// A value that is exactly {env.NAME:DEFAULT} yields the variable NAME if
// it is set and not empty, else DEFAULT, and then defaulted names the
// variable (Caddy's replacer has no defaults of its own). Any other value
// is expanded by Caddy's replacer; a placeholder that expands to nothing
// (an unset variable, an empty file) is an error naming the placeholder.
func ResolveSecret(v string) (secret, defaulted string, err error) {
	if name, def, ok := envDefault(v); ok {
		if s := os.Getenv(name); s != "" {
			return s, "", nil
		}
		return def, name, nil
	}
	s, err := caddy.NewReplacer().ReplaceOrErr(v, true, false)
	if err != nil {
		if strings.HasPrefix(v, "{env.") {
			return "", "", fmt.Errorf("%w: set the %s environment variable", err, strings.TrimSuffix(strings.TrimPrefix(v, "{env."), "}"))
		}
		return "", "", err
	}
	return s, "", nil
}

// envDefault splits "{env.NAME:DEFAULT}" into NAME and DEFAULT.
func envDefault(v string) (name, def string, ok bool) {
	inner, found := strings.CutPrefix(v, "{env.")
	if !found || !strings.HasSuffix(inner, "}") {
		return "", "", false
	}
	inner = inner[:len(inner)-1]
	name, def, found = strings.Cut(inner, ":")
	if !found || name == "" || def == "" || strings.ContainsAny(name, "{}") || strings.ContainsAny(def, "{}") {
		return "", "", false
	}
	return name, def, true
}

// loadSender loads the sender module of the sms or email option (field
// names the App field), or nil if the option is not given, and refuses
// senders that cannot deliver that kind of message.
func (a *App) loadSender(ctx caddy.Context, option, field string, raw json.RawMessage) (challenge.Sender, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var name struct {
		Sender string `json:"sender"`
	}
	if err := json.Unmarshal(raw, &name); err != nil {
		return nil, fmt.Errorf("enumgate: %s: not a JSON object: %w", option, err)
	}
	if name.Sender == "" {
		return nil, fmt.Errorf("enumgate: %s: name the sender module with \"sender\" (webhook or smtp)", option)
	}
	if option == "sms" && name.Sender == "smtp" {
		return nil, errors.New("enumgate: sms smtp: SMTP sends e-mail, not SMS; use sms webhook with your SMS provider's URL")
	}
	mod, err := ctx.LoadModule(a, field)
	if err != nil {
		return nil, fmt.Errorf("enumgate: loading %s sender %q: %w", option, name.Sender, err)
	}
	s, ok := mod.(challenge.Sender)
	if !ok {
		return nil, fmt.Errorf("enumgate: %s module %q is not a sender", option, name.Sender)
	}
	return s, nil
}

// HasSender reports whether the app can carry out method: a registered
// method, and for one that sends (sms, email), with its sender configured.
// Handlers call it at provision time to refuse methods the app cannot
// deliver.
func (a *App) HasSender(method string) bool {
	return a.engine != nil && a.engine.CanSend(challenge.Method(method))
}

// methodNames are the names of the registered confirmation methods, the
// only ones rules may name.
func methodNames() []string {
	var out []string
	for _, m := range challenge.Methods() {
		out = append(out, string(m))
	}
	return out
}

// Subscribe adds fn to the subscribers of every step (journal,
// notifications): it is called once per step, in the order of the steps,
// and must not block (queue the work). Subscribe during Provision.
func (a *App) Subscribe(fn func(challenge.Event)) { a.subs = append(a.subs, fn) }

// observe is the one observer of every step, the engine's and the
// gateway's own refusals: each becomes one Prometheus count, one event of
// Caddy's events app, one log entry, and a call of every subscriber.
// Events never carry codes, answers, questions or keys.
func (a *App) observe(e challenge.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	a.observer.step(e)
	for _, fn := range a.subs {
		fn(e)
	}
	a.logStep(e)
}

// logStep writes one log entry for a step.
func (a *App) logStep(e challenge.Event) {
	lvl := zap.InfoLevel
	if e.Err != nil {
		lvl = zap.ErrorLevel
	}
	ce := a.logger.Check(lvl, "challenge "+string(e.Kind))
	if ce == nil {
		return
	}
	fields := []zap.Field{zap.String("challenge", e.ChallengeID), zap.String("user", e.User)}
	str := func(k, v string) {
		if v != "" {
			fields = append(fields, zap.String(k, v))
		}
	}
	str("operation", e.Operation)
	str("method", string(e.Method))
	str("amount", e.Amount)
	str("currency", e.Currency)
	str("payee", e.Payee) // as displayed: masked where the rule masks it
	str("reason", e.Reason)
	str("detail", e.Detail)
	str("client_ip", e.ClientIP)
	str("user_agent", e.UserAgent)
	if e.Delivery > 0 {
		fields = append(fields, zap.Int("delivery", e.Delivery))
	}
	if e.Kind == challenge.EventWrongAnswer {
		fields = append(fields, zap.Int("attempts_left", e.AttemptsLeft))
	}
	if e.Err != nil {
		fields = append(fields, zap.Error(e.Err))
	}
	ce.Write(fields...)
}

// accountParts returns the account service (nil without one), the
// operator's directory and the directory as the engine sees it.
func (a *App) accountParts() (*account.Service, challenge.Directory, challenge.Directory) {
	if a.account == nil {
		return nil, a.dir, a.dir
	}
	return a.account, a.dir, a.account.Directory()
}

// Engine returns the provisioned challenge engine.
func (a *App) Engine() *challenge.Engine { return a.engine }

// Start implements caddy.App.
func (a *App) Start() error { return nil }

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// Cleanup stops the notifications (dropping what waits) and closes the
// journal after appending what its Recorder holds.
func (a *App) Cleanup() error {
	a.stopNotifier()
	a.closeJournal()
	return nil
}

// Interface guards.
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
