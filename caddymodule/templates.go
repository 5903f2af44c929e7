package caddymodule

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/account"
)

// templateNames are the templates an operator may replace, besides the
// method blocks method_<name>.html (see isMethodTemplate).
var templateNames = []string{"layout.html", "challenge.html", "error.html"}

// parseTemplates parses the built-in templates and then the operator's,
// which replace the built-in ones of the same name (and the blocks they
// define).
func parseTemplates(dir string) (*template.Template, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"group":     groupDigits,
		"spell":     spellDigits,
		"clock":     clock,
		"countdown": countdown,
		// Replaced below, once the templates it executes are parsed.
		"methodStep": func(*pageData) (template.HTML, error) { return "", nil },
	}).ParseFS(webFS, "web/*.html")
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return withMethodStep(t), nil
	}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("templates_dir %q is not a directory", dir)
	}
	fsys := os.DirFS(dir)
	names, _ := fs.Glob(fsys, "*.html")
	if len(names) == 0 {
		return nil, fmt.Errorf("templates_dir %q has no .html files (want %s)", dir, strings.Join(templateNames, ", "))
	}
	for _, n := range names {
		if !slices.Contains(templateNames, n) && !isMethodTemplate(n) {
			return nil, fmt.Errorf("templates_dir: unknown template %s (want %s); a method's step is method_<method>.html", n, strings.Join(templateNames, ", "))
		}
		b, err := readLimited(fsys, n, maxTemplateBytes)
		if err != nil {
			return nil, fmt.Errorf("templates_dir: %w", err)
		}
		if _, err := t.New(n).Parse(string(b)); err != nil {
			return nil, fmt.Errorf("templates_dir: %w", err)
		}
	}
	return withMethodStep(t), nil
}

// isMethodTemplate reports whether name is method_<name>.html of a
// registered confirmation method: its template block "method-<name>".
func isMethodTemplate(name string) bool {
	m, ok := strings.CutPrefix(name, "method_")
	if !ok {
		return false
	}
	m, ok = strings.CutSuffix(m, ".html")
	if !ok {
		return false
	}
	_, registered := challenge.LookupMethod(challenge.Method(m))
	return registered || m == "code"
}

// withMethodStep gives t the function methodStep, which renders the step
// of the begun method: its block "method-<name>" (method_<name>.html), or
// "method-code" for a method without one.
func withMethodStep(t *template.Template) *template.Template {
	return t.Funcs(template.FuncMap{"methodStep": func(d *pageData) (template.HTML, error) {
		if d == nil || d.C == nil {
			return "", nil
		}
		name := "method-" + string(d.C.Method)
		if t.Lookup(name) == nil {
			name = "method-code"
		}
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, name, d); err != nil {
			return "", err
		}
		return template.HTML(b.String()), nil
	}})
}

// check renders every template in every language with sample data, so a
// broken template or message file fails at Provision and not in front of
// a customer.
func (p *pages) check() error {
	now := time.Now()
	base := challenge.Challenge{
		ID: "AAAAAAAAAAAAAAAAAAAAAA", Operation: "transfer", Amount: "10.00", Payee: "Z123456789012", PayeeDisplay: "Z123456789012",
		Methods: []challenge.Method{challenge.MethodEnum, challenge.MethodSMS, challenge.MethodEmail},
		State:   challenge.StateChooseMethod, AttemptsLeft: 3, Expires: now.Add(5 * time.Minute),
	}
	enum, sms, email := base, base, base
	enum.State, enum.Method, enum.Question = challenge.StateAwaitingAnswer, challenge.MethodEnum, "12345678"
	sms.State, sms.Method, sms.SentTo, sms.ResendAt = challenge.StateAwaitingAnswer, challenge.MethodSMS, "+7•••••01", now.Add(time.Minute)
	email.State, email.Method, email.SentTo, email.Operation = challenge.StateAwaitingAnswer, challenge.MethodEmail, "a•••@example.test", "new_correspondent"
	email.Fields = []challenge.Field{{Name: "name", Label: "correspondent_name", Value: "Ivan Petrov", Display: "Ivan Petrov"}}
	pay := enum
	pay.Mode, pay.Currency, pay.PaymentPurse, pay.PaymentAmount = challenge.ModePayment, "RUB", "123456789012", "10"
	samples := []struct {
		c    challenge.Challenge
		code string
	}{{base, ""}, {enum, "wrong_answer"}, {sms, "resend_too_soon"}, {email, ""}, {sms, "sms_limit"}, {pay, ""}}
	for _, tag := range p.langs.tags {
		cat := p.langs.byTag[tag]
		var unknown []string
		for _, s := range samples {
			c := s.c
			d := p.data(cat, "/.enumgate/")
			d.unknown = &unknown
			d.Action, d.Token = "/.enumgate/challenge/"+c.ID, "token"
			d.setChallenge(&c, p.smsPaid)
			if s.code != "" {
				d.setError(s.code, "", 2)
			}
			if err := p.tmpl.ExecuteTemplate(io.Discard, "challenge.html", d); err != nil {
				return fmt.Errorf("challenge.html (%s): %w", tag, err)
			}
		}
		d := p.data(cat, "/.enumgate/")
		d.unknown = &unknown
		d.setError("unknown_challenge", "", 0)
		d.Retry = "/.enumgate/challenge/x"
		if err := p.tmpl.ExecuteTemplate(io.Discard, "error.html", d); err != nil {
			return fmt.Errorf("error.html (%s): %w", tag, err)
		}
		jd := p.data(cat, "/.enumgate/")
		jd.unknown = &unknown
		if err := p.tmpl.ExecuteTemplate(io.Discard, "journal.html", journalSample(jd)); err != nil {
			return fmt.Errorf("journal.html (%s): %w", tag, err)
		}
		for _, sample := range []*approvalsPage{{Done: "refused"}, {Done: "rejected"}, {Done: "approved", Pending: []approvalJSON{{ID: "AAAAAAAAAAAAAAAAAAAAAA", Operation: "transfer",
			Amount: "5000.00", Currency: "RUB", Payee: "Z1", Display: "Z1", User: "alice", At: now, Until: now,
			Fields: []fieldJSON{{Name: "n", Label: "correspondent_name", Value: "x", Display: "x"}}}}}} {
			d := p.data(cat, "/.enumgate/")
			d.unknown = &unknown
			d.Action, d.Approvals = "/.enumgate/api/approvals/", sample
			if err := p.tmpl.ExecuteTemplate(io.Discard, "approvals.html", d); err != nil {
				return fmt.Errorf("approvals.html (%s): %w", tag, err)
			}
		}
		{
			c := challenge.Challenge{ID: "AAAAAAAAAAAAAAAAAAAAAA", Operation: "transfer", Amount: "5000.00", Payee: "Z1", PayeeDisplay: "Z1",
				State: challenge.StateAwaitingApproval, Expires: now.Add(time.Hour), ApprovalUntil: now.Add(time.Hour)}
			d := p.data(cat, "/.enumgate/")
			d.unknown = &unknown
			d.Action, d.Token = "/.enumgate/challenge/"+c.ID, "token"
			d.setChallenge(&c, false)
			d.ErrorCode, d.Tone, d.Refresh, d.Cancel = "awaiting_approval", "ok", 5, true
			d.Error = d.T("notice.awaiting_approval", "time", "x")
			if err := p.tmpl.ExecuteTemplate(io.Discard, "error.html", d); err != nil {
				return fmt.Errorf("error.html (%s, awaiting approval): %w", tag, err)
			}
		}
		for _, ap := range accountSamples(now) {
			d := p.data(cat, "/.enumgate/")
			d.unknown = &unknown
			d.Action, d.Token, d.Account, d.Notice = "/.enumgate/account", "token", ap, "notice"
			if err := p.tmpl.ExecuteTemplate(io.Discard, "account.html", d); err != nil {
				return fmt.Errorf("account.html (%s): %w", tag, err)
			}
		}
		if len(unknown) > 0 {
			return fmt.Errorf("templates use unknown message keys: %s", strings.Join(slices.Compact(slices.Sorted(slices.Values(unknown))), ", "))
		}
	}
	return nil
}

// checkMethods renders the challenge page in every language for each
// confirmation method in use that is not built in, so a method without
// its messages fails at Provision and not in front of a customer.
func (p *pages) checkMethods(methods []challenge.Method) error {
	now := time.Now()
	for _, m := range methods {
		switch m {
		case challenge.MethodEnum, challenge.MethodSMS, challenge.MethodEmail:
			continue // checked with the built-in samples
		}
		c := challenge.Challenge{
			ID: "AAAAAAAAAAAAAAAAAAAAAA", Operation: "transfer", Amount: "10.00", Payee: "Z123456789012", PayeeDisplay: "Z123456789012",
			Methods: []challenge.Method{challenge.MethodEnum, m}, State: challenge.StateChooseMethod, AttemptsLeft: 3,
			Expires: now.Add(5 * time.Minute), Destinations: map[string]string{string(m): "•••01"},
		}
		begun := c
		begun.State, begun.Methods, begun.Method, begun.SentTo, begun.ResendAt = challenge.StateAwaitingAnswer, []challenge.Method{m, challenge.MethodEnum}, m, "•••01", now.Add(time.Minute)
		for _, tag := range p.langs.tags {
			var unknown []string
			for _, sample := range []challenge.Challenge{c, begun} {
				d := p.data(p.langs.byTag[tag], "/.enumgate/")
				d.unknown = &unknown
				d.Action, d.Token = "/.enumgate/challenge/"+c.ID, "token"
				d.setChallenge(&sample, p.smsPaid)
				if err := p.tmpl.ExecuteTemplate(io.Discard, "challenge.html", d); err != nil {
					return fmt.Errorf("challenge.html (%s, method %s): %w", tag, m, err)
				}
			}
			if len(unknown) > 0 {
				return fmt.Errorf("method %s has no messages %s (add them to messages_dir)", m, strings.Join(slices.Compact(slices.Sorted(slices.Values(unknown))), ", "))
			}
		}
	}
	return nil
}

// accountSamples are account pages in their states, for check: a new
// customer with a code just sent, a customer with everything and an open
// recovery request, and a device setup in progress.
func accountSamples(now time.Time) []*accountPage {
	newcomer := &account.View{User: "dave", Phone: "+79000000004", PhoneOnFile: true, NeedsRegistration: true}
	full := &account.View{User: "alice", Phone: "+79000000001",
		Emails:     []account.Email{{Address: "alice@example.test", Primary: true}, {Address: "a2@example.test"}},
		Devices:    []account.DeviceInfo{{Name: "phone", Suite: challenge.DefaultSuite, Enrolled: now}},
		Notify:     account.Notify{Confirmed: true, Rejected: true},
		Enrollment: &account.Enrollment{ID: "AAAAAAAAAAAAAAAAAAAAAA", Question: "12345678", Expires: now.Add(time.Minute), AttemptsLeft: 3},
		Recovery:   &account.Recovery{ID: "BBBBBBBBBBBBBBBBBBBBBB", State: "open", Opened: now}}
	enrolling := &account.Enrollment{ID: "AAAAAAAAAAAAAAAAAAAAAA", URI: "enumgate://enroll?secret=GEZDGNBV&issuer=x&account=dave", Question: "12345678", Expires: now.Add(time.Minute), AttemptsLeft: 3}
	return []*accountPage{
		{V: newcomer, Verification: "CCCCCCCCCCCCCCCCCCCCCC", Journal: "/.enumgate/journal"},
		{V: full, Journal: "/.enumgate/journal", Policy: true,
			Trusted: []trustedPayeeJSON{{Payee: "Z123456789012", UpTo: "1000.00"}},
			Grants:  []grantJSON{{ID: "DDDDDDDDDDDDDDDDDDDDDD", Section: "settings", Until: now}}},
		{V: newcomer, Enrollment: enrolling, QR: qrSVG(enrolling.URI, "E-num"), Journal: "/.enumgate/journal"},
	}
}
