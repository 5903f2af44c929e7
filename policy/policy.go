package policy

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Limits checked by Compile.
const (
	MaxOperationLen      = 64
	MaxMethodLen         = 32
	MaxPathsPerRule      = 64
	MaxConditionsPerRule = 16
	MinTTL               = 30 * time.Second
	MaxTTL               = 24 * time.Hour
	MaxMaxAttempts       = 20
)

// Rule is one operator rule, as written in config (Caddyfile:
// `protect transfer POST /transfer /api/transfers*`).
type Rule struct {
	// Operation names what the request does: "transfer", "withdrawal",
	// "new_correspondent" or any operator name of 1-64 characters of
	// [a-z0-9_].
	Operation string
	// HTTPMethods lists the request methods the rule applies to, e.g.
	// ["POST"]; empty means any method. Each must be an RFC 9110 token;
	// Compile upper-cases them. Matching is case-insensitive, and GET also
	// covers HEAD.
	HTTPMethods []string
	// Paths lists the path patterns the rule applies to (at least one). See
	// Policy.Match for their syntax and semantics.
	Paths []string
	// Confirm lists the allowed confirmation methods in order of
	// preference (method names such as "enum", "sms", "email"; Compile
	// lower-cases them and accepts those of Options.Methods); empty
	// means the caller's default.
	Confirm []string
	// TTL is how long a challenge lives; 0 means the caller's default,
	// otherwise it must be between 30s and 24h.
	TTL time.Duration
	// MaxAttempts is the wrong-answer budget of a challenge; 0 means the
	// caller's default, otherwise it must be between 1 and 20.
	MaxAttempts int
	// When lists conditions on the body that must all hold for the request
	// to be protected; empty means always protected. Conditions that cannot
	// be decided fail closed (see Compiled.EvaluateRequest).
	When []Condition
	// AmountField is the dotted body field shown as the amount, e.g.
	// "amount"; empty shows none. When named, every protected request must
	// carry it exactly once as a plain decimal (see ValidAmount), or
	// EvaluateRequest refuses the request with an *AmbiguousError.
	AmountField string
	// PayeeField is the dotted body field shown as the payee, e.g. "to" or
	// "payee.wallet"; empty shows none. When named, it is required like
	// AmountField.
	PayeeField string
	// Currency is the ISO 4217 code of the amount when the rule fixes it
	// (three upper-case ASCII letters, e.g. "RUB"); empty means none or
	// CurrencyField. At most one of Currency and CurrencyField may be set.
	Currency string
	// CurrencyField is the dotted body field that holds the currency code;
	// its value must be three upper-case ASCII letters and is read as
	// strictly as the amount. It is required when named.
	CurrencyField string
	// Show lists further fields shown on the confirmation page, in order
	// (for example the name of a new correspondent). At most MaxShowFields;
	// no field may be named twice or equal (ignoring case) AmountField,
	// PayeeField or CurrencyField.
	Show []ShowField
	// Masks maps a shown field (PayeeField or a Show field) to a mask
	// kind; the page shows the masked form, the upstream still gets the
	// value as sent. The only kind is MaskLast4: "•••• 1111".
	Masks map[string]string
	// EnumMode is the E-num mode of the rule's challenges: "" (automatic:
	// payment when the rule shows both an amount and a payee, otherwise
	// authorization), "payment" (needs AmountField and PayeeField) or
	// "authorization". See Compiled.PaymentMode.
	EnumMode string
}

// ShowField is one more field shown on the confirmation page.
type ShowField struct {
	// Field is the dotted body field, as for Rule.AmountField.
	Field string
	// Label is the message key or text the page shows before the value,
	// chosen by the operator: 1-64 characters of [a-z0-9_.], e.g.
	// "correspondent.name".
	Label string
	// Optional lets a request omit the field; it is then not shown. A
	// field that is not optional is required: a protected request without
	// it is refused.
	Optional bool
}

// Mask kinds for Rule.Masks.
const (
	// MaskLast4 shows four bullets (U+2022), a space and the last four
	// characters of the value (all of it if it is shorter): "•••• 1111".
	MaskLast4 = "last4"
)

// E-num modes for Rule.EnumMode.
const (
	EnumModePayment       = "payment"
	EnumModeAuthorization = "authorization"
)

// MaxShowFields bounds Rule.Show; MaxLabelLen bounds ShowField.Label.
const (
	MaxShowFields = 16
	MaxLabelLen   = 64
)

// RuleError is the error Compile returns for an invalid rule. The Caddy
// layer may use Index to add the file and line of the rule.
type RuleError struct {
	Index     int    // position of the rule in the slice given to Compile, from 0
	Operation string // the rule's Operation as written
	Err       error  // what is wrong
}

// Error formats the error as `rule 2 (transfer): path "x" must start with "/" or "*"`.
func (e *RuleError) Error() string {
	op := e.Operation
	if validOperation(op) != nil {
		op = fmt.Sprintf("%q", op)
	}
	return fmt.Sprintf("rule %d (%s): %v", e.Index, op, e.Err)
}

// Unwrap returns the underlying error.
func (e *RuleError) Unwrap() error { return e.Err }

// Policy is a compiled, immutable list of rules. It is safe for concurrent
// use. The zero value and nil match nothing.
type Policy struct {
	rules []*Compiled
}

// Compiled is one validated rule, ready to match and evaluate. It is
// immutable and safe for concurrent use.
type Compiled struct {
	// Rule is the rule as normalised by Compile (methods upper-cased,
	// confirmation methods lower-cased). It is a copy: changing it changes
	// nothing in the compiled policy.
	Rule Rule
	// Index is the rule's position in the slice given to Compile.
	Index int

	methods  []string // upper-cased; GET implies HEAD
	mbits    uint16   // methods that are in knownMethods
	patterns []pattern
	conds    []compiledCond
}

// Compile validates rules and compiles them into a Policy. Rules keep their
// order: the first rule that matches a request wins. An error is a
// *RuleError naming the first invalid rule and what is wrong with it.
// Compiling no rules gives a Policy that matches nothing.
func Compile(rules []Rule) (*Policy, error) {
	return CompileWith(rules, Options{Methods: DefaultMethods})
}

// Options tune CompileWith.
type Options struct {
	// Methods are the confirmation method names rules may name; nil
	// accepts any name of 1 to 32 bytes of [a-z0-9_]. The policy knows no
	// method itself: the program passes those it can carry out.
	Methods []string
}

// DefaultMethods are the Options.Methods of Compile; nil, unless the
// program sets them.
var DefaultMethods []string

// CompileWith is Compile with options.
func CompileWith(rules []Rule, o Options) (*Policy, error) {
	p := &Policy{rules: make([]*Compiled, 0, len(rules))}
	for i, r := range rules {
		c, err := compileRule(r, o)
		if err != nil {
			return nil, &RuleError{Index: i, Operation: r.Operation, Err: err}
		}
		c.Index = i
		p.rules = append(p.rules, c)
	}
	return p, nil
}

func validOperation(op string) error {
	if op == "" || len(op) > MaxOperationLen {
		return fmt.Errorf("operation name %q must be 1-%d characters of [a-z0-9_]", op, MaxOperationLen)
	}
	for i := 0; i < len(op); i++ {
		if c := op[i]; !('a' <= c && c <= 'z' || isDigit(c) || c == '_') {
			return fmt.Errorf("operation name %q must be 1-%d characters of [a-z0-9_]", op, MaxOperationLen)
		}
	}
	return nil
}

// isTokenByte reports whether c is a tchar of RFC 9110 section 5.6.2.
func isTokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func compileRule(r Rule, o Options) (*Compiled, error) {
	if err := validOperation(r.Operation); err != nil {
		return nil, err
	}
	c := &Compiled{}
	norm := Rule{
		Operation:     r.Operation,
		TTL:           r.TTL,
		MaxAttempts:   r.MaxAttempts,
		AmountField:   r.AmountField,
		PayeeField:    r.PayeeField,
		Currency:      r.Currency,
		CurrencyField: r.CurrencyField,
		EnumMode:      r.EnumMode,
	}

	// Methods.
	hasGet, hasHead := false, false
	for _, m := range r.HTTPMethods {
		if m == "" || len(m) > MaxMethodLen {
			return nil, fmt.Errorf("method %q must be 1-%d characters", m, MaxMethodLen)
		}
		for i := 0; i < len(m); i++ {
			if !isTokenByte(m[i]) {
				return nil, fmt.Errorf("method %q is not a valid HTTP method token", m)
			}
		}
		m = strings.ToUpper(m)
		for _, have := range norm.HTTPMethods {
			if have == m {
				return nil, fmt.Errorf("duplicate method %q", m)
			}
		}
		norm.HTTPMethods = append(norm.HTTPMethods, m)
		hasGet = hasGet || m == "GET"
		hasHead = hasHead || m == "HEAD"
	}
	c.methods = append([]string(nil), norm.HTTPMethods...)
	if hasGet && !hasHead {
		c.methods = append(c.methods, "HEAD")
	}
	for _, m := range c.methods {
		c.mbits |= methodBit(m)
	}

	// Paths.
	if len(r.Paths) == 0 {
		return nil, errors.New("no paths")
	}
	if len(r.Paths) > MaxPathsPerRule {
		return nil, fmt.Errorf("more than %d paths", MaxPathsPerRule)
	}
	for i, raw := range r.Paths {
		for _, prev := range r.Paths[:i] {
			if prev == raw {
				return nil, fmt.Errorf("duplicate path %q", raw)
			}
		}
		pat, err := compilePattern(raw)
		if err != nil {
			return nil, err
		}
		c.patterns = append(c.patterns, pat)
	}
	norm.Paths = append([]string(nil), r.Paths...)

	// Confirmation methods.
	for _, m := range r.Confirm {
		lm := strings.ToLower(m)
		if err := o.checkMethod(m, lm); err != nil {
			return nil, err
		}
		for _, have := range norm.Confirm {
			if have == lm {
				return nil, fmt.Errorf("duplicate confirmation method %q", lm)
			}
		}
		norm.Confirm = append(norm.Confirm, lm)
	}

	// Challenge settings.
	if r.TTL != 0 && (r.TTL < MinTTL || r.TTL > MaxTTL) {
		return nil, fmt.Errorf("ttl %v must be 0 (inherit) or between %v and %v", r.TTL, MinTTL, MaxTTL)
	}
	if r.MaxAttempts != 0 && (r.MaxAttempts < 1 || r.MaxAttempts > MaxMaxAttempts) {
		return nil, fmt.Errorf("max_attempts %d must be 0 (inherit) or between 1 and %d", r.MaxAttempts, MaxMaxAttempts)
	}

	// Body fields.
	if len(r.When) > MaxConditionsPerRule {
		return nil, fmt.Errorf("more than %d conditions", MaxConditionsPerRule)
	}
	for i, cond := range r.When {
		cc, err := compileCondition(cond)
		if err != nil {
			return nil, fmt.Errorf("condition %d (%s %s %q): %w", i, cond.Field, cond.Op, cond.Value, err)
		}
		c.conds = append(c.conds, cc)
	}
	norm.When = append([]Condition(nil), r.When...)
	if r.AmountField != "" {
		if err := validateField(r.AmountField); err != nil {
			return nil, fmt.Errorf("amount field: %w", err)
		}
	}
	if r.PayeeField != "" {
		if err := validateField(r.PayeeField); err != nil {
			return nil, fmt.Errorf("payee field: %w", err)
		}
	}
	if err := compileShown(r, &norm); err != nil {
		return nil, err
	}
	c.Rule = norm
	return c, nil
}

// compileShown validates the fields a rule shows (other than the amount
// and payee field names themselves) and copies them into norm.
func compileShown(r Rule, norm *Rule) error {
	if r.Currency != "" && !validCurrency(r.Currency) {
		return fmt.Errorf("currency %q must be three upper-case letters (ISO 4217), e.g. RUB", r.Currency)
	}
	if r.CurrencyField != "" {
		if r.Currency != "" {
			return errors.New("currency and currency_field are both set; choose one")
		}
		if err := validateField(r.CurrencyField); err != nil {
			return fmt.Errorf("currency field: %w", err)
		}
	}
	// Every shown field, named once: two names an upstream may take for
	// one another (Go's encoding/json ignores case) would show one value
	// twice or two values for one field.
	type named struct{ what, field string }
	var shown []named
	add := func(what, field string) error {
		if field == "" {
			return nil
		}
		for _, s := range shown {
			if strings.EqualFold(s.field, field) {
				return fmt.Errorf("%s %q is already shown as %s", what, field, s.what)
			}
		}
		shown = append(shown, named{what, field})
		return nil
	}
	for _, f := range []named{{"amount field", r.AmountField}, {"payee field", r.PayeeField}, {"currency field", r.CurrencyField}} {
		if err := add(f.what, f.field); err != nil {
			return err
		}
	}
	if len(r.Show) > MaxShowFields {
		return fmt.Errorf("more than %d show fields", MaxShowFields)
	}
	for i, sf := range r.Show {
		if err := validateField(sf.Field); err != nil {
			return fmt.Errorf("show field %d: %w", i, err)
		}
		if err := validLabel(sf.Label); err != nil {
			return fmt.Errorf("show field %d (%s): %w", i, sf.Field, err)
		}
		if err := add("show field", sf.Field); err != nil {
			return err
		}
	}
	norm.Show = append([]ShowField(nil), r.Show...)
	if len(r.Masks) > 0 {
		keys := make([]string, 0, len(r.Masks))
		for k := range r.Masks {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		norm.Masks = make(map[string]string, len(r.Masks))
		for _, k := range keys {
			kind := r.Masks[k]
			if kind != MaskLast4 {
				return fmt.Errorf("mask %q for field %q is not one of %s", kind, k, MaskLast4)
			}
			ok := k != "" && k == r.PayeeField
			for _, sf := range r.Show {
				ok = ok || k == sf.Field
			}
			if !ok {
				return fmt.Errorf("mask for field %q: only the payee field and show fields can be masked, and %q is neither", k, k)
			}
			norm.Masks[k] = kind
		}
	}
	switch r.EnumMode {
	case "", EnumModeAuthorization:
	case EnumModePayment:
		if r.AmountField == "" || r.PayeeField == "" {
			return errors.New("enum mode payment needs both an amount field and a payee field")
		}
	default:
		return fmt.Errorf("enum mode %q is not one of payment, authorization", r.EnumMode)
	}
	return nil
}

// validCurrency reports whether s is three upper-case ASCII letters.
func validCurrency(s string) bool {
	return len(s) == 3 && isUpper(s[0]) && isUpper(s[1]) && isUpper(s[2])
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

func validLabel(l string) error {
	if l == "" || len(l) > MaxLabelLen {
		return fmt.Errorf("label %q must be 1-%d characters of [a-z0-9_.]", l, MaxLabelLen)
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !('a' <= c && c <= 'z' || isDigit(c) || c == '_' || c == '.') {
			return fmt.Errorf("label %q must be 1-%d characters of [a-z0-9_.]", l, MaxLabelLen)
		}
	}
	return nil
}

// Rules returns the compiled rules in order. The slice is a copy; the
// rules themselves are shared and must not be modified.
func (p *Policy) Rules() []*Compiled {
	if p == nil {
		return nil
	}
	return append([]*Compiled(nil), p.rules...)
}

// Match returns the first rule (in the order given to Compile) that applies
// to a request with this method and path, or nil if none does. path must be
// the URL's decoded path (r.URL.Path in net/http).
//
// # Methods
//
// A rule with no methods applies to every method. Otherwise the request's
// method must equal one of the rule's methods ignoring case ("post" is
// POST: some frameworks upper-case the method), and a rule listing GET also
// applies to HEAD (most frameworks run the GET handler for HEAD).
//
// # Paths
//
// The path is compared in canonical form: ASCII and Unicode letters folded
// to lower case (so "/TRANSFER" and "/tranſfer" are "/transfer"), rooted,
// with "//", "/./" and "/../" resolved, and without a trailing slash
// ("/transfer/", "//transfer" and "/x/../transfer" are "/transfer").
// Patterns are folded the same way. A trailing slash is insignificant on
// both sides: a pattern matches a path if it matches the path with or
// without one (so "/api/transfers/*" also covers "/api/transfers").
//
// Because upstreams differ, a path may have several readings, and a rule
// applies if any reading matches: the plain one above, and every
// combination of one more round of percent-decoding, truncation at NUL,
// "\" as a separator, removal of ";" path parameters from each segment
// ("/transfer;jsessionid=x" and "/x/..;/transfer" are "/transfer"), and
// removal of Windows trailing dots and spaces ("/transfer." is
// "/transfer"). Each of these readings is also read as routing frameworks
// do: without the extension of the last segment ("/transfer.json" is
// "/transfer", as in Rails formats and Spring suffix patterns), and without
// a PHP front controller segment ("/index.php/transfer" is "/transfer").
//
// # Patterns
//
// Patterns follow Caddy's path matcher, with the differences noted:
//
//   - "/transfer": exact match.
//   - "/api/transfers*": prefix match ("*" at the end matches anything,
//     including "/").
//   - "*.json": suffix match ("*" at the start matches anything).
//   - "*/pay/*": substring match.
//   - "/u/*/pay", "/a/*/b*", "/v?/x", "/[ab]/x": globs as in path.Match: a
//     "*" inside the pattern matches within one segment, "?" one rune other
//     than "/", "[...]" a character class, "\" escapes. Unlike Caddy, a "*"
//     at either end of a glob matches across "/" (so "/a/*/b*" covers
//     "/a/x/b/c"), and "**" anywhere matches across "/".
//   - "*": every path.
//
// Patterns must start with "/" or "*", be at most MaxPatternLen bytes, and
// may not contain "%" (compare decoded paths), ";", "{" or "}", or an
// empty, "." or ".." segment (which no cleaned path has).
//
// # Cost
//
// A path already in canonical form (the common case: lower-case ASCII,
// clean, without '%', ';', '\' or NUL, no segment ending in '.' or ' ', and
// no "*.php" segment other than the first) is matched without allocating.
// Other paths allocate their readings; a hostile path costs time linear in
// its length (at most 48 readings, each read up to 4 ways).
func (p *Policy) Match(method, path string) *Compiled {
	if p == nil || len(p.rules) == 0 {
		return nil
	}
	mbit := methodBit(method)
	var buf [4]string
	var readings []string
	if canonical, plain := scanPath(path); canonical {
		if plain {
			// The common case: the path is its only reading.
			for _, c := range p.rules {
				if c.methodMatchesBit(method, mbit) && c.pathMatches(path) {
					return c
				}
			}
			return nil
		}
		readings = frameworkReadings(buf[:0], path)
	} else {
		for _, q := range pathReadings(path) {
			readings = frameworkReadings(readings, q)
		}
	}
	for _, c := range p.rules {
		if !c.methodMatchesBit(method, mbit) {
			continue
		}
		for _, q := range readings {
			if c.pathMatches(q) {
				return c
			}
		}
	}
	return nil
}

// PathMatches reports whether some rule's path patterns match path, read
// as Match reads it, whatever the rule's methods. It costs what Match
// costs. A caller uses it to decide whether to look for method overrides
// (see OverrideMethods): only a request on a path that some rule protects
// for some method needs them. A caller may also call it before Match: if
// it is false, no rule applies to the request whatever its method.
func (p *Policy) PathMatches(path string) bool {
	if p == nil || len(p.rules) == 0 {
		return false
	}
	if canonical, plain := scanPath(path); canonical && plain {
		// The common case, as in Match, without the method test.
		for _, c := range p.rules {
			if c.pathMatches(path) {
				return true
			}
		}
		return false
	}
	return p.first(methodQuery{any: true}, path) != nil
}

// AnyMethod, among the methods given to MatchAny, matches every rule
// whatever its methods. OverrideMethods returns it when a request names
// more override values than it reads.
const AnyMethod = "*"

// MatchAny returns the first rule (in the order given to Compile) that
// applies to path, read as Match reads it, and to any of methods (matched
// as Match matches one method; AnyMethod matches every rule), or nil if
// none does. A caller passes the request's method together with the
// methods of OverrideMethods.
func (p *Policy) MatchAny(methods []string, path string) *Compiled {
	if len(methods) == 0 {
		return nil
	}
	return p.first(methodQuery{list: methods}, path)
}

// methodQuery says which methods a rule must apply to: any of list or, if
// any is set, every method. (Match keeps its own loop, so that the common
// case stays as cheap as it can be.)
type methodQuery struct {
	list []string
	any  bool
}

// accepts reports whether rule c applies to a method of q.
func (c *Compiled) accepts(q *methodQuery) bool {
	if q.any || len(c.methods) == 0 {
		return true
	}
	for _, m := range q.list {
		if m == AnyMethod || c.methodMatches(m) {
			return true
		}
	}
	return false
}

// first returns the first rule that accepts q and whose patterns match a
// reading of path, as Match does for one method.
func (p *Policy) first(q methodQuery, path string) *Compiled {
	if p == nil || len(p.rules) == 0 {
		return nil
	}
	var buf [4]string
	var readings []string
	if canonical, plain := scanPath(path); canonical {
		if plain {
			// The common case: the path is its only reading.
			for _, c := range p.rules {
				if c.accepts(&q) && c.pathMatches(path) {
					return c
				}
			}
			return nil
		}
		readings = frameworkReadings(buf[:0], path)
	} else {
		for _, r := range pathReadings(path) {
			readings = frameworkReadings(readings, r)
		}
	}
	for _, c := range p.rules {
		if !c.accepts(&q) {
			continue
		}
		for _, r := range readings {
			if c.pathMatches(r) {
				return c
			}
		}
	}
	return nil
}

// knownMethods are matched by bit, so that the common case costs one
// comparison per rule.
var knownMethods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}

// methodBit returns the bit of a known method (compared ignoring case), or 0.
func methodBit(m string) uint16 {
	for i, k := range knownMethods {
		if m == k {
			return 1 << i
		}
	}
	for i, k := range knownMethods {
		if strings.EqualFold(m, k) {
			return 1 << i
		}
	}
	return 0
}

func (c *Compiled) methodMatches(method string) bool {
	return c.methodMatchesBit(method, methodBit(method))
}

// methodMatchesBit is methodMatches with methodBit(method) precomputed.
func (c *Compiled) methodMatchesBit(method string, bit uint16) bool {
	if len(c.methods) == 0 {
		return true
	}
	if bit != 0 {
		return c.mbits&bit != 0
	}
	for _, m := range c.methods {
		if strings.EqualFold(method, m) {
			return true
		}
	}
	return false
}

// pathMatches reports whether the canonical path q matches any pattern.
func (c *Compiled) pathMatches(q string) bool {
	for i := range c.patterns {
		if c.patterns[i].match(q) {
			return true
		}
	}
	return false
}

// NeedsBody reports whether Evaluate needs the request body: the rule has
// conditions or shows a field (amount, payee, currency field or a show
// field). If it is false, the caller may call Evaluate with a nil body.
func (c *Compiled) NeedsBody() bool {
	return len(c.conds) > 0 || c.shows()
}

// shows reports whether the rule shows any field read from the request.
func (c *Compiled) shows() bool {
	r := &c.Rule
	return r.AmountField != "" || r.PayeeField != "" || r.CurrencyField != "" || len(r.Show) > 0
}

// PaymentMode reports whether the rule's challenges use E-num payment
// mode, where the answer depends on the amount and the payee: EnumMode is
// "payment", or EnumMode is empty and the rule shows both an amount and a
// payee.
func (c *Compiled) PaymentMode() bool {
	switch c.Rule.EnumMode {
	case EnumModePayment:
		return true
	case "":
		return c.Rule.AmountField != "" && c.Rule.PayeeField != ""
	}
	return false
}

// checkMethod checks a rule's confirmation method m (lm lower-cased).
func (o Options) checkMethod(m, lm string) error {
	if o.Methods == nil {
		if lm == "" || len(lm) > MaxMethodLen || strings.IndexFunc(lm, func(c rune) bool {
			return !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_')
		}) >= 0 {
			return fmt.Errorf("confirmation method %q must be 1-%d characters of [a-z0-9_]", m, MaxMethodLen)
		}
		return nil
	}
	if !slices.Contains(o.Methods, lm) {
		return fmt.Errorf("confirmation method %q is not one of %s", m, strings.Join(o.Methods, ", "))
	}
	return nil
}
