package caddymodule

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/caddymodule/senders"
	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/account"
	"github.com/enumgate/enumgate/policy"
)

// NotifyPrefs tells whether user wants e-mail on confirmed operations
// and on rejected ones (wrong answers, attempts exhausted, lockout,
// expiry, refusals), and to which addresses. The account service
// provides it (App.SetNotifyPrefs); it is called from the notifier's
// worker, never from a customer's request, with a context that ends
// after a few seconds.
type NotifyPrefs func(ctx context.Context, user string) (confirmed, rejected bool, to []string, err error)

// Bounds of the notifier.
const (
	// notifyQueue is how many steps wait for a notification at most;
	// beyond it they are dropped and counted.
	notifyQueue = 256
	// notifyPrefsTimeout bounds one call of NotifyPrefs.
	notifyPrefsTimeout = 5 * time.Second
	// notifySendTimeout bounds sending one notification.
	notifySendTimeout = 15 * time.Second
	// notifyMaxTo bounds the addresses of one notification.
	notifyMaxTo = 10
	// notifyMaxField bounds each value a notification quotes, in bytes.
	notifyMaxField = 256
)

// notificationsTotal counts the notifications by result: sent (the
// sender accepted the mail), failed (the preferences or the sender
// failed) and dropped (the queue was full, or the app stopped first).
var notificationsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "enumgate", Name: "notifications_total",
	Help: "E-mail notifications of confirmed and rejected operations: sent, failed (preferences or sender), dropped (queue full).",
}, []string{"result"})

// notifyKinds are the steps that notify: confirmed, and the rejected
// ones.
var notifyKinds = map[challenge.EventKind]bool{
	challenge.EventConfirmed: false, challenge.EventWrongAnswer: true, challenge.EventExhausted: true,
	challenge.EventLocked: true, challenge.EventExpired: true, challenge.EventRefused: true,
	// Four-eyes approval: waiting and approved are news like a
	// confirmation, a rejection or a wait that ran out like a refusal.
	challenge.EventAwaitingApproval: false, challenge.EventApproved: false,
	challenge.EventRejected: true, challenge.EventApprovalExpired: true,
}

// securityKinds are the account's security notices: sent whatever the
// switches say, since they tell the customer of a change to how their
// operations are confirmed.
var securityKinds = map[challenge.EventKind]bool{
	account.EventContactAdded: true, account.EventContactRemoved: true, account.EventPrimaryChanged: true,
	account.EventDeviceActivated: true, account.EventDeviceRemoved: true,
	account.EventRecoveryOpened: true, account.EventRecoveryClosed: true,
}

// notifier e-mails customers of their confirmed and rejected
// operations. It never blocks the observer: steps wait in a bounded
// queue for one worker, which asks the preferences, words the mail in
// every built-in language and sends it, each call bounded by a timeout.
type notifier struct {
	prefs  *atomic.Pointer[NotifyPrefs]
	send   func(ctx context.Context, to []string, m notification) error
	langs  *languages
	logger *zap.Logger
	q      chan challenge.Event
	warn   rateGate

	prefsTimeout, sendTimeout time.Duration

	mu      sync.RWMutex // guards closed against sends on a closed q
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	results struct{ sent, failed, dropped prometheus.Counter }
}

// notification is one mail: the subject, text and HTML in every
// built-in language, the default one (Lang) first.
type notification struct {
	Subject, Text, HTML, Lang string
	Event                     challenge.Event
}

// SetNotifyPrefs connects the notifications to the account service:
// from then on confirmed and rejected steps are e-mailed as prefs says
// (nil: no notifications, the default). Safe to call at any time.
func (a *App) SetNotifyPrefs(prefs NotifyPrefs) {
	side := a.sideOf()
	if prefs == nil {
		side.prefs.Store(nil)
		return
	}
	side.prefs.Store(&prefs)
	if a.mailer == nil && a.logger != nil {
		a.logger.Warn("notifications are switched on but the enumgate block has no email sender: none can be sent")
	}
}

// startNotifier starts the notifications' worker and subscribes it to
// every step. Without an e-mail sender nothing is ever sent.
func (a *App) startNotifier(ctx caddy.Context) error {
	if err := a.observer.register(notificationsTotal, false); err != nil {
		return err
	}
	langs, _, err := loadLanguages("", DefaultLanguage)
	if err != nil {
		return err
	}
	n := &notifier{
		prefs: &a.side.prefs, langs: langs, logger: a.logger, q: make(chan challenge.Event, notifyQueue),
		prefsTimeout: notifyPrefsTimeout, sendTimeout: notifySendTimeout, done: make(chan struct{}),
	}
	n.results.sent = notificationsTotal.WithLabelValues("sent")
	n.results.failed = notificationsTotal.WithLabelValues("failed")
	n.results.dropped = notificationsTotal.WithLabelValues("dropped")
	n.send = a.mailTransport()
	n.ctx, n.cancel = context.WithCancel(context.Background())
	go n.work()
	a.side.notifier = n
	a.Subscribe(n.notify)
	context.AfterFunc(ctx, a.stopNotifier)
	return nil
}

// stopNotifier stops the worker: a notification being sent is cancelled,
// those waiting are dropped (and counted). Safe to call more than once.
func (a *App) stopNotifier() {
	if a.side == nil || a.side.notifier == nil {
		return
	}
	n := a.side.notifier
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		n.cancel()
		close(n.q)
	}
	n.mu.Unlock()
	<-n.done
}

// mailTransport returns how notifications go out: through the app's
// e-mail sender — one mail to every address, text and HTML, when it is a
// senders.Mailer (smtp), else one challenge.Message per address (Method
// email, To, Subject, Text; no Code) — or nowhere without one.
func (a *App) mailTransport() func(ctx context.Context, to []string, m notification) error {
	s := a.mailer
	if s == nil {
		return nil
	}
	if ms, ok := s.(senders.Mailer); ok {
		return func(ctx context.Context, to []string, m notification) error {
			return ms.SendMail(ctx, senders.Mail{To: to, Subject: m.Subject, Text: m.Text, HTML: m.HTML, Lang: m.Lang})
		}
	}
	return func(ctx context.Context, to []string, m notification) error {
		var errs []error
		for _, addr := range to {
			e := m.Event
			msg := challenge.Message{
				Method: challenge.MethodEmail, To: addr, Text: m.Text, Subject: m.Subject, Lang: m.Lang,
				User: e.User, Operation: e.Operation, ChallengeID: e.ChallengeID, Amount: e.Amount,
				Currency: e.Currency, Payee: e.Payee,
			}
			if err := s.Send(ctx, msg); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

// notify queues a step for a notification without blocking: only the
// steps that notify, with a user, while preferences are connected.
func (n *notifier) notify(e challenge.Event) {
	if _, ok := notifyKinds[e.Kind]; !ok && !securityKinds[e.Kind] || e.User == "" || n.prefs.Load() == nil || n.send == nil {
		return
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if !n.closed {
		select {
		case n.q <- e:
			return
		default:
		}
	}
	n.results.dropped.Inc()
	if n.warn.allow(time.Now()) {
		n.logger.Warn("notification dropped: the queue is full (the mail server is slow or down)", zap.String("user", e.User), zap.String("event", string(e.Kind)))
	}
}

func (n *notifier) work() {
	defer close(n.done)
	for e := range n.q {
		if n.ctx.Err() != nil {
			n.results.dropped.Inc()
			continue
		}
		n.handle(e)
	}
}

// handle asks the preferences and sends one notification.
func (n *notifier) handle(e challenge.Event) {
	p := n.prefs.Load()
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.prefsTimeout)
	confirmed, rejected, to, err := (*p)(ctx, e.User)
	cancel()
	if err != nil {
		n.results.failed.Inc()
		n.logger.Error("notification not sent: reading the user's preferences failed", zap.String("user", e.User),
			zap.String("event", string(e.Kind)), zap.Error(err))
		return
	}
	if !securityKinds[e.Kind] {
		if wanted := notifyKinds[e.Kind]; wanted && !rejected || !wanted && !confirmed {
			return
		}
	}
	to = cleanAddresses(to)
	if len(to) == 0 {
		return
	}
	m := n.compose(e)
	ctx, cancel = context.WithTimeout(n.ctx, n.sendTimeout)
	err = n.send(ctx, to, m)
	cancel()
	if err != nil {
		n.results.failed.Inc()
		n.logger.Error("notification not sent", zap.String("user", e.User), zap.String("event", string(e.Kind)),
			zap.String("challenge", e.ChallengeID), zap.Error(err))
		return
	}
	n.results.sent.Inc()
}

// cleanAddresses keeps the plain addresses of to that parse, once each,
// at most notifyMaxTo.
func cleanAddresses(to []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range to {
		a, err := mail.ParseAddress(t)
		if err != nil || len(a.Address) > 254 || strings.ContainsAny(a.Address, "\r\n") {
			continue
		}
		k := strings.ToLower(a.Address)
		if seen[k] || len(out) == notifyMaxTo {
			continue
		}
		seen[k] = true
		out = append(out, a.Address)
	}
	return out
}

// compose words the notification of e: in each built-in language (the
// default first) what happened, the operation, amount, payee (as shown,
// masked), time, IP and user agent; never a code, which events never
// carry. The subject joins the languages' subjects.
func (n *notifier) compose(e challenge.Event) notification {
	tags := append([]string{n.langs.def}, n.langs.tags...)
	var subjects, parts []string
	var sections []notifySection
	seen := map[string]bool{}
	for _, tag := range tags {
		if seen[tag] {
			continue
		}
		seen[tag] = true
		cat := n.langs.byTag[tag]
		lines := notifyLines(cat, e)
		subjects = append(subjects, notifySubject(cat, e))
		parts = append(parts, strings.Join(lines, "\n"))
		sections = append(sections, notifySection{Lang: tag, Dir: cat.dir, Lines: lines})
	}
	m := notification{Subject: clipUTF8(strings.Join(subjects, " / "), 256), Text: strings.Join(parts, "\n\n-- \n\n"), Lang: n.langs.def, Event: e}
	var b bytes.Buffer
	if err := notifyHTML.Execute(&b, struct {
		Lang, Subject string
		Sections      []notifySection
	}{m.Lang, m.Subject, sections}); err == nil {
		m.HTML = b.String()
	}
	return m
}

// notifySection is one language's part of a notification's HTML.
type notifySection struct {
	Lang, Dir string
	Lines     []string
}

// notifyHTML is the HTML of a notification: each language's part in a
// section of its own, lines as paragraphs (the empty ones separate).
var notifyHTML = template.Must(template.New("notify").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
{{- range $i, $s := .Sections}}
{{- if $i}}<hr>{{end}}
<section lang="{{$s.Lang}}" dir="{{$s.Dir}}">
{{- range $s.Lines}}{{if .}}<p style="margin: .25em 0">{{.}}</p>{{else}}<br>{{end}}{{end}}
</section>
{{- end}}
</body></html>
`))

func notifySubject(cat *catalog, e challenge.Event) string {
	op := ""
	if e.Operation != "" {
		op = opName(cat, quoted(e.Operation))
	}
	switch {
	case securityKinds[e.Kind]:
		return cat.text("notify.subject.account")
	case e.Kind == challenge.EventConfirmed:
		return format(cat.text("notify.subject.confirmed"), []any{"operation", op}, nil)
	case op == "":
		return cat.text("notify.subject.rejected_plain")
	}
	return format(cat.text("notify.subject.rejected"), []any{"operation", op}, nil)
}

// notifyLines are one language's lines of a notification.
func notifyLines(cat *catalog, e challenge.Event) []string {
	lines := []string{cat.text("notify.lead." + string(e.Kind)), ""}
	add := func(key, name, v string) {
		if v = quoted(v); v != "" {
			lines = append(lines, format(cat.text(key), []any{name, v}, nil))
		}
	}
	if e.Operation != "" {
		add("notify.operation", "operation", opName(cat, quoted(e.Operation)))
	}
	if e.Amount != "" {
		add("notify.amount", "amount", policy.FormatAmount(quoted(e.Amount), quoted(e.Currency), cat.lang))
	}
	add("notify.payee", "payee", e.Payee)
	if securityKinds[e.Kind] {
		add("notify.detail", "detail", e.Detail) // masked by the account: never a code or key
	}
	add("notify.time", "time", e.Time.UTC().Format("2006-01-02 15:04:05")+" UTC")
	add("notify.ip", "ip", e.ClientIP)
	add("notify.user_agent", "user_agent", e.UserAgent)
	lines = append(lines, "", cat.text("notify.not_you"), cat.text("notify.never_code"))
	return lines
}

// quoted makes a value safe to quote in a mail: valid UTF-8, control
// characters (line breaks) as spaces, at most notifyMaxField bytes.
func quoted(v string) string {
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, clipUTF8(v, notifyMaxField))
	return strings.TrimSpace(v)
}
