package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/policy"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("enumgate", parseHandler)
	// After authentication, so the user exists; before proxying.
	httpcaddyfile.RegisterDirectiveOrder("enumgate", httpcaddyfile.After, "forward_auth")
	httpcaddyfile.RegisterGlobalOption("enumgate", parseApp)
}

func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var m Handler
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return &m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	enumgate {
//		user <placeholder>
//		session <placeholder>
//		protect <operation> [<HTTP methods>...] <paths...> {
//			when <field> <op> <value>
//			amount <field>
//			payee <field>
//			currency <CODE>
//			currency_field <field>
//			show <field> <label> [optional]
//			mask <field> last4
//			enum_mode <payment|authorization>
//			methods <enum|sms|email>...
//			ttl <duration>
//			max_attempts <n>
//		}
//		methods <enum|sms|email>...
//		ttl <duration>
//		max_attempts <n>
//		max_body <size>
//		prefix <path>
//		login_url <url>
//		allowed_origins <origin>...
//		caddy_errors <code...|all>
//		ui { ... }	(see parseUI in ui.go)
//	}
//
// HTTP methods are upper-case tokens; paths start with / or *.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "user":
			if !d.AllArgs(&h.User) {
				return d.ArgErr()
			}
		case "session":
			if !d.AllArgs(&h.Session) {
				return d.ArgErr()
			}
		case "prefix":
			if !d.AllArgs(&h.Prefix) {
				return d.ArgErr()
			}
		case "login_url":
			if !d.AllArgs(&h.LoginURL) {
				return d.ArgErr()
			}
		case "allowed_origins":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, o := range args {
				if _, err := normalizeOrigin(o); err != nil {
					return d.Errf("allowed_origins: %v", err)
				}
			}
			h.AllowedOrigins = append(h.AllowedOrigins, args...)
		case "caddy_errors":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			if _, err := caddyErrorCodes(args); err != nil {
				return d.Errf("caddy_errors: %v", err)
			}
			h.CaddyErrors = append(h.CaddyErrors, args...)
		case "ui":
			ui, err := parseUI(d)
			if err != nil {
				return err
			}
			h.UI = ui
		case "methods":
			h.Methods = d.RemainingArgs()
			if len(h.Methods) == 0 {
				return d.ArgErr()
			}
		case "ttl":
			v, err := durationArg(d)
			if err != nil {
				return err
			}
			h.TTL = v
		case "max_attempts":
			n, err := intArg(d, 1, policy.MaxMaxAttempts)
			if err != nil {
				return err
			}
			h.MaxAttempts = n
		case "max_body":
			n, err := sizeArg(d)
			if err == nil {
				err = maxBodyLimit.Check(n)
			}
			if err != nil {
				return d.Err(err.Error())
			}
			h.MaxBody = n
		case "protect":
			r, err := parseRule(d)
			if err != nil {
				return err
			}
			h.Protect = append(h.Protect, r)
		case "protect_section":
			sec, err := parseSection(d)
			if err != nil {
				return err
			}
			h.Sections = append(h.Sections, sec)
		default:
			return d.Errf("unknown enumgate subdirective %q", d.Val())
		}
	}
	return nil
}

// parseRule parses one protect rule and checks it at once, so a bad rule
// is an error that names its line in the Caddyfile.
func parseRule(d *caddyfile.Dispenser) (Rule, error) {
	line := d.Line()
	r, err := parseRuleTokens(d)
	if err != nil {
		return r, err
	}
	pr, err := r.policyRule()
	if err == nil {
		_, err = policy.CompileWith([]policy.Rule{pr}, policy.Options{Methods: methodNames()})
	}
	if err != nil {
		var re *policy.RuleError
		if errors.As(err, &re) {
			err = re.Err
		}
		return r, fmt.Errorf("%s:%d - protect %s: %w", d.File(), line, r.Operation, err)
	}
	return r, nil
}

func parseRuleTokens(d *caddyfile.Dispenser) (Rule, error) {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return Rule{}, d.Errf("protect needs an operation name and at least one path: protect transfer POST /transfer")
	}
	r := Rule{Operation: args[0]}
	for _, a := range args[1:] {
		switch {
		case strings.HasPrefix(a, "/") || strings.HasPrefix(a, "*"):
			r.Paths = append(r.Paths, a)
		case len(r.Paths) == 0 && a == strings.ToUpper(a):
			r.HTTPMethods = append(r.HTTPMethods, a)
		default:
			return Rule{}, d.Errf("protect %s: %q is neither an upper-case HTTP method (before the paths) nor a path starting with / or *", r.Operation, a)
		}
	}
	if len(r.Paths) == 0 {
		return Rule{}, d.Errf("protect %s: at least one path is required", r.Operation)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "when":
			args := d.RemainingArgs()
			if len(args) != 3 {
				return Rule{}, d.Errf("when needs a field, an operator and a value: when amount > 1000")
			}
			r.When = append(r.When, strings.Join(args, " "))
		case "amount":
			if !d.AllArgs(&r.Amount) {
				return Rule{}, d.ArgErr()
			}
		case "payee":
			if !d.AllArgs(&r.Payee) {
				return Rule{}, d.ArgErr()
			}
		case "currency":
			if !d.AllArgs(&r.Currency) {
				return Rule{}, d.ArgErr()
			}
		case "currency_field":
			if !d.AllArgs(&r.CurrencyField) {
				return Rule{}, d.ArgErr()
			}
		case "show":
			args := d.RemainingArgs()
			if len(args) < 2 || len(args) > 3 || (len(args) == 3 && args[2] != "optional") {
				return Rule{}, d.Errf("show needs a field and a label, optionally followed by optional: show name correspondent_name")
			}
			r.Show = append(r.Show, ShowField{Field: args[0], Label: args[1], Optional: len(args) == 3})
		case "mask":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return Rule{}, d.Errf("mask needs a field and a kind: mask card last4")
			}
			if r.Mask == nil {
				r.Mask = map[string]string{}
			}
			if _, dup := r.Mask[args[0]]; dup {
				return Rule{}, d.Errf("mask %s given twice", args[0])
			}
			r.Mask[args[0]] = args[1]
		case "enum_mode":
			if !d.AllArgs(&r.EnumMode) {
				return Rule{}, d.ArgErr()
			}
		case "trusted_payees":
			args := d.RemainingArgs()
			switch {
			case len(args) == 1 && args[0] == "skip":
				r.TrustedPayees = &TrustedPayees{Skip: true}
			case len(args) == 3 && args[0] == "skip" && args[1] == "up_to" && policy.ValidAmount(args[2]):
				r.TrustedPayees = &TrustedPayees{Skip: true, UpTo: args[2]}
			default:
				return Rule{}, d.Errf("trusted_payees: want skip [up_to AMOUNT], e.g. trusted_payees skip up_to 5000.00")
			}
		case "approve_by":
			args := d.RemainingArgs()
			ab := &ApproveBy{}
			if len(args) == 0 || !challenge.ValidGroup(args[0]) {
				return Rule{}, d.Errf("approve_by needs an approvers' group: approve_by supervisors above 1000.00 [within 24h]")
			}
			ab.Group, args = args[0], args[1:]
			for len(args) >= 2 {
				switch args[0] {
				case "above":
					if !policy.ValidAmount(args[1]) {
						return Rule{}, d.Errf("approve_by above %q: not a plain decimal", args[1])
					}
					ab.Above = args[1]
				case "within":
					v, err := caddy.ParseDuration(args[1])
					if err != nil || challenge.ApprovalWindow.Check(int64(v)) != nil {
						return Rule{}, d.Errf("approve_by within %q: a duration from 1m to 7d", args[1])
					}
					ab.Within = caddy.Duration(v)
				default:
					return Rule{}, d.Errf("approve_by: unknown %q (want above AMOUNT, within DURATION)", args[0])
				}
				args = args[2:]
			}
			if len(args) != 0 {
				return Rule{}, d.ArgErr()
			}
			r.ApproveBy = ab
		case "force_when":
			cond := strings.Join(d.RemainingArgs(), " ")
			if _, err := parseForce(cond); err != nil {
				return Rule{}, d.Err(err.Error())
			}
			r.ForceWhen = append(r.ForceWhen, cond)
		case "methods":
			r.Methods = d.RemainingArgs()
			if len(r.Methods) == 0 {
				return Rule{}, d.ArgErr()
			}
		case "ttl":
			v, err := durationArg(d)
			if err != nil {
				return Rule{}, err
			}
			r.TTL = v
		case "max_attempts":
			n, err := intArg(d, 1, 20)
			if err != nil {
				return Rule{}, err
			}
			r.MaxAttempts = n
		default:
			return Rule{}, d.Errf("unknown protect option %q", d.Val())
		}
	}
	return r, nil
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	var s string
	if !d.AllArgs(&s) {
		return 0, d.ArgErr()
	}
	v, err := caddy.ParseDuration(s)
	if err != nil || v <= 0 {
		return 0, d.Errf("invalid duration %q", s)
	}
	return caddy.Duration(v), nil
}

func intArg(d *caddyfile.Dispenser, lo, hi int) (int, error) {
	var s string
	if !d.AllArgs(&s) {
		return 0, d.ArgErr()
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, d.Errf("%s: %q is not a whole number from %d to %d", d.Val(), s, lo, hi)
	}
	return n, nil
}

// parseSection parses a protect_section. Syntax:
//
//	protect_section <name> [<METHODS>...] <paths>... {
//		grant <duration>
//		methods <method>...
//		ttl <duration>
//		max_attempts <n>
//	}
func parseSection(d *caddyfile.Dispenser) (Section, error) {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return Section{}, d.Errf("protect_section needs a name and at least one path: protect_section settings GET POST /settings*")
	}
	s := Section{Name: args[0]}
	for _, a := range args[1:] {
		switch {
		case strings.HasPrefix(a, "/") || strings.HasPrefix(a, "*"):
			s.Paths = append(s.Paths, a)
		case len(s.Paths) == 0 && a == strings.ToUpper(a):
			s.HTTPMethods = append(s.HTTPMethods, a)
		default:
			return Section{}, d.Errf("protect_section %s: %q is neither an upper-case HTTP method (before the paths) nor a path starting with / or *", s.Name, a)
		}
	}
	if len(s.Paths) == 0 {
		return Section{}, d.Errf("protect_section %s: at least one path is required", s.Name)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "grant":
			s.Grant, err = durationArg(d)
			if err == nil && (time.Duration(s.Grant) < minGrant || time.Duration(s.Grant) > maxGrant) {
				err = d.Errf("protect_section %s: grant %s out of range %s..%s", s.Name, time.Duration(s.Grant), minGrant, maxGrant)
			}
		case "methods":
			if s.Methods = d.RemainingArgs(); len(s.Methods) == 0 {
				err = d.ArgErr()
			}
		case "ttl":
			s.TTL, err = durationArg(d)
		case "max_attempts":
			s.MaxAttempts, err = intArg(d, 1, policy.MaxMaxAttempts)
		default:
			err = d.Errf("unknown protect_section option %q", d.Val())
		}
		if err != nil {
			return Section{}, err
		}
	}
	if _, err := policy.CompileWith([]policy.Rule{{Operation: s.Name, HTTPMethods: s.HTTPMethods, Paths: s.Paths, Confirm: s.Methods}},
		policy.Options{Methods: methodNames()}); err != nil {
		var re *policy.RuleError
		if errors.As(err, &re) {
			err = re.Err
		}
		return Section{}, d.Errf("protect_section %s: %v", s.Name, err)
	}
	return s, nil
}

// limitArg reads a whole number within the bounds of l.
func limitArg(d *caddyfile.Dispenser, l challenge.Limit) (int, error) {
	return intArg(d, int(l.Min), int(l.Max))
}

func sizeArg(d *caddyfile.Dispenser) (int64, error) {
	var s string
	if !d.AllArgs(&s) {
		return 0, d.ArgErr()
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 || n > 1<<40 {
		return 0, d.Errf("invalid size %q (e.g. 64KiB)", s)
	}
	return int64(n), nil
}

// parseApp parses the `enumgate` global option. Syntax:
//
//	enumgate {
//		secret <secret>
//		old_secrets <secret>...
//		store <backend> [<args...>] [{ ... }]
//		users <source> [<args...>] [{ ... }]
//		sms <sender> [<args...>] [{ ... }]
//		email <sender> [<args...>] [{ ... }]
//		question_length <n>
//		code_length <n>
//		resend_cooldown <duration>
//		time_window <steps>
//		lockout <failures> <duration>
//		sms_limits {
//			user_cooldown <duration>|off
//			phone_cooldown <duration>|off
//			user_hourly <n>|off
//			daily_budget <n>|off
//		}
//		approvers <group> <user>...
//		email_limits {		(the same options; address_cooldown = phone_cooldown)
//			user_cooldown <duration>|off
//			address_cooldown <duration>|off
//			user_hourly <n>|off
//			daily_budget <n>|off
//		}
//		journal {
//			max_entries <n>
//			max_age <duration>
//		}
//	}
func parseApp(d *caddyfile.Dispenser, _ any) (any, error) {
	var a App
	d.Next() // option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	var warnings []caddyconfig.Warning
	guest := func(namespace, inlineKey string) (json.RawMessage, error) {
		if !d.NextArg() {
			return nil, d.ArgErr()
		}
		name := d.Val()
		mod, err := caddyfile.UnmarshalModule(d, namespace+"."+name)
		if err != nil {
			return nil, err
		}
		return caddyconfig.JSONModuleObject(mod, inlineKey, name, &warnings), nil
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "secret":
			if !d.AllArgs(&a.Secret) {
				return nil, d.ArgErr()
			}
		case "old_secrets":
			a.OldSecrets = append(a.OldSecrets, d.RemainingArgs()...)
			if len(a.OldSecrets) == 0 {
				return nil, d.ArgErr()
			}
		case "store":
			a.StoreRaw, err = guest("enumgate.stores", "backend")
		case "users":
			a.UsersRaw, err = guest("enumgate.users", "source")
		case "sms":
			a.SMSRaw, err = guest("enumgate.senders", "sender")
		case "email":
			a.EmailRaw, err = guest("enumgate.senders", "sender")
		case "question_length":
			a.QuestionLength, err = limitArg(d, challenge.Limits.QuestionLength)
		case "code_length":
			a.CodeLength, err = limitArg(d, challenge.Limits.CodeLength)
		case "time_window":
			a.TimeWindow, err = limitArg(d, challenge.Limits.TimeWindow)
		case "resend_cooldown":
			var v caddy.Duration
			v, err = durationArg(d)
			if err == nil {
				if lerr := challenge.Limits.ResendCooldown.Check(int64(v)); lerr != nil {
					err = d.Err(lerr.Error())
				}
			}
			a.ResendCooldown = v
		case "lockout":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Errf("lockout needs a number of failures and a duration: lockout 5 30m")
			}
			n, aerr := strconv.Atoi(args[0])
			dur, derr := caddy.ParseDuration(args[1])
			la, lf := challenge.Limits.LockoutAfter, challenge.Limits.LockoutFor
			if aerr != nil || derr != nil || la.Check(int64(n)) != nil || lf.Check(int64(dur)) != nil {
				return nil, d.Errf("lockout %s %s: want %d to %d failures and a duration from %s to %s", args[0], args[1],
					la.Min, la.Max, time.Duration(lf.Min), time.Duration(lf.Max))
			}
			a.LockoutAfter, a.LockoutFor = n, caddy.Duration(dur)
		case "sms_limits":
			a.SMSLimits, err = parseSMSLimits(d)
		case "email_limits":
			a.EmailLimits, err = parseSMSLimits(d)
		case "approvers":
			args := d.RemainingArgs()
			if len(args) < 2 || !challenge.ValidGroup(args[0]) {
				return nil, d.Errf("approvers needs a group name ([a-z0-9_]) and at least one user: approvers supervisors bob")
			}
			if a.Approvers == nil {
				a.Approvers = map[string][]string{}
			}
			a.Approvers[args[0]] = append(a.Approvers[args[0]], args[1:]...)
		case "journal":
			a.Journal, err = parseJournal(d)
		default:
			return nil, d.Errf("unknown enumgate global option %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return httpcaddyfile.App{Name: "enumgate", Value: caddyconfig.JSON(a, &warnings)}, nil
}

// parseJournal parses the journal block of the enumgate global option.
func parseJournal(d *caddyfile.Dispenser) (*JournalConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	j := &JournalConfig{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "max_entries":
			j.MaxEntries, err = intArg(d, 1, maxJournalEntries)
		case "max_age":
			j.MaxAge, err = durationArg(d)
			if err == nil && time.Duration(j.MaxAge) > maxJournalAge {
				err = d.Errf("journal max_age %s is longer than %s", time.Duration(j.MaxAge), maxJournalAge)
			}
		default:
			err = d.Errf("unknown journal option %q (max_entries, max_age)", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return j, nil
}

func parseSMSLimits(d *caddyfile.Dispenser) (*SMSLimits, error) {
	block := d.Val()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	l := &SMSLimits{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		var v string
		if !d.AllArgs(&v) {
			return nil, d.ArgErr()
		}
		switch name {
		case "user_cooldown", "phone_cooldown", "address_cooldown": // address_cooldown: e-mail's name for it
			dur := caddy.Duration(-1)
			if v != "off" {
				p, err := caddy.ParseDuration(v)
				if err != nil || p <= 0 {
					return nil, d.Errf("%s: invalid duration %q (or off)", name, v)
				}
				dur = caddy.Duration(p)
			}
			if name == "user_cooldown" {
				l.UserCooldown = dur
			} else {
				l.PhoneCooldown = dur
			}
		case "user_hourly", "daily_budget":
			n := -1
			if v != "off" {
				var err error
				if n, err = strconv.Atoi(v); err != nil || n < 1 {
					return nil, d.Errf("%s: %q is not a positive whole number (or off)", name, v)
				}
			}
			if name == "user_hourly" {
				l.UserHourly = n
			} else {
				l.DailyBudget = n
			}
		default:
			return nil, d.Errf("unknown %s option %q", block, name)
		}
	}
	return l, nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)

// parseUI parses the ui block of the enumgate directive. Syntax:
//
//	ui {
//		name <text...>
//		logo <url|file>
//		primary_color <#rrggbb>
//		accent_color <#rrggbb>
//		help_url <url|path>
//		default_language <tag>
//		sms_paid
//		messages_dir <dir>
//		templates_dir <dir>
//	}
//
// In a Caddyfile "#" starts a comment, so write colours quoted
// ("#0b5cad") or without the "#" (0b5cad).
func parseUI(d *caddyfile.Dispenser) (*UI, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	u := new(UI)
	one := func(dst *string) error {
		if !d.AllArgs(dst) {
			return d.ArgErr()
		}
		return nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "name":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			u.Name = strings.Join(args, " ")
		case "logo":
			err = one(&u.Logo)
		case "primary_color", "accent_color":
			var c string
			if !d.AllArgs(&c) {
				return nil, d.Errf(`%s needs one hex colour; quote it ("#0b5cad") or leave out the "#" (0b5cad), because "#" starts a comment`, opt)
			}
			if !strings.HasPrefix(c, "#") {
				c = "#" + c
			}
			if err := checkColor(c); err != nil {
				return nil, d.Errf("%s: %v", opt, err)
			}
			if opt == "primary_color" {
				u.PrimaryColor = c
			} else {
				u.AccentColor = c
			}
		case "help_url":
			err = one(&u.HelpURL)
		case "default_language":
			err = one(&u.DefaultLanguage)
		case "sms_paid":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			u.SMSPaid = true
		case "messages_dir":
			err = one(&u.MessagesDir)
		case "templates_dir":
			err = one(&u.TemplatesDir)
		default:
			return nil, d.Errf("unknown ui option %q", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	return u, nil
}
