package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on conditions and field names.
const (
	MaxFieldDepth      = 8   // segments in a dotted field name
	MaxFieldSegmentLen = 64  // bytes in one segment
	MaxValueLen        = 256 // bytes in a condition's value
)

// maxConditionLen bounds the text ParseCondition reads.
const maxConditionLen = 1024

// Condition is one test on a field of the request body, as in
// "amount > 1000" or "currency == RUB". See [Compiled.EvaluateRequest] for
// how it is evaluated.
type Condition struct {
	// Field is a dotted path of segments of [A-Za-z0-9_-], at most
	// MaxFieldDepth deep: "amount", "payee.wallet", "items.0.sum".
	Field string
	// Op is one of ">", ">=", "<", "<=", "==", "!=".
	Op string
	// Value is compared with the field's value. For ">", ">=", "<" and
	// "<=" it must be a decimal number.
	Value string
}

// ParseCondition parses a condition written as "FIELD OP VALUE", for example
// "amount > 1000", "amount>=1e3", "currency == RUB" or
// `memo != "two words"`. Spaces around OP are optional. VALUE is the rest of
// the text with surrounding spaces removed, or a double-quoted Go string
// literal (needed for an empty value or one with surrounding spaces). The
// result is validated as Compile would validate it.
func ParseCondition(s string) (Condition, error) {
	if len(s) > maxConditionLen {
		return Condition{}, fmt.Errorf("condition is longer than %d bytes", maxConditionLen)
	}
	rest := strings.TrimSpace(s)
	i := 0
	for i < len(rest) && (isFieldByte(rest[i]) || rest[i] == '.') {
		i++
	}
	if i == 0 {
		return Condition{}, fmt.Errorf("condition %q: missing field name", s)
	}
	c := Condition{Field: rest[:i]}
	rest = strings.TrimLeft(rest[i:], " \t")
	for _, op := range [...]string{">=", "<=", "==", "!=", ">", "<"} {
		if strings.HasPrefix(rest, op) {
			c.Op = op
			break
		}
	}
	if c.Op == "" || len(rest) > len(c.Op) && strings.IndexByte("<>=!", rest[len(c.Op)]) >= 0 {
		op, _, _ := strings.Cut(rest, " ")
		return Condition{}, fmt.Errorf("condition %q: unknown operator %q (want one of > >= < <= == !=)", s, op)
	}
	rest = strings.TrimSpace(rest[len(c.Op):])
	switch {
	case rest == "":
		return Condition{}, fmt.Errorf("condition %q: missing value", s)
	case rest[0] == '"':
		v, err := strconv.Unquote(rest)
		if err != nil {
			return Condition{}, fmt.Errorf("condition %q: malformed quoted value", s)
		}
		c.Value = v
	default:
		c.Value = rest
	}
	if err := c.validate(); err != nil {
		return Condition{}, fmt.Errorf("condition %q: %w", s, err)
	}
	return c, nil
}

// String returns the condition in the syntax ParseCondition reads.
func (c Condition) String() string {
	v := c.Value
	if v == "" || strings.TrimSpace(v) != v || v[0] == '"' {
		v = strconv.Quote(v)
	}
	return c.Field + " " + c.Op + " " + v
}

func isOrdering(op string) bool { return op == ">" || op == ">=" || op == "<" || op == "<=" }

func (c Condition) validate() error {
	if err := validateField(c.Field); err != nil {
		return err
	}
	switch c.Op {
	case ">", ">=", "<", "<=", "==", "!=":
	default:
		return fmt.Errorf("unknown operator %q (want one of > >= < <= == !=)", c.Op)
	}
	if len(c.Value) > MaxValueLen {
		return fmt.Errorf("value is longer than %d bytes", MaxValueLen)
	}
	if !utf8.ValidString(c.Value) {
		return errors.New("value is not valid UTF-8")
	}
	for _, r := range c.Value {
		if unicode.IsControl(r) {
			return errors.New("value contains a control character")
		}
	}
	if _, ok := parseDecimal(c.Value); !ok && isOrdering(c.Op) {
		return fmt.Errorf("operator %s needs a decimal number, not %q", c.Op, c.Value)
	}
	return nil
}

func isFieldByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_' || c == '-'
}

// validateField checks a dotted field name.
func validateField(f string) error {
	if f == "" {
		return errors.New("field name is empty")
	}
	segs := strings.Split(f, ".")
	if len(segs) > MaxFieldDepth {
		return fmt.Errorf("field %q is deeper than %d segments", f, MaxFieldDepth)
	}
	for _, seg := range segs {
		if seg == "" || len(seg) > MaxFieldSegmentLen {
			return fmt.Errorf("field %q must be dot-separated segments of 1-%d characters", f, MaxFieldSegmentLen)
		}
		for i := 0; i < len(seg); i++ {
			if !isFieldByte(seg[i]) {
				return fmt.Errorf("field %q may contain only A-Z a-z 0-9 _ - and dots", f)
			}
		}
	}
	return nil
}

// compiledCond is a validated condition with its value pre-parsed.
type compiledCond struct {
	Condition
	num   decimal
	isNum bool
}

func compileCondition(c Condition) (compiledCond, error) {
	if err := c.validate(); err != nil {
		return compiledCond{}, err
	}
	cc := compiledCond{Condition: c}
	cc.num, cc.isNum = parseDecimal(c.Value)
	return cc, nil
}

// eval evaluates the condition on a field's text. ok is false when the
// condition cannot be decided (an ordering operator on a non-number).
func (c *compiledCond) eval(text string) (holds, ok bool) {
	if c.isNum {
		if d, isNum := parseDecimal(text); isNum {
			r := d.cmp(c.num)
			switch c.Op {
			case ">":
				return r > 0, true
			case ">=":
				return r >= 0, true
			case "<":
				return r < 0, true
			case "<=":
				return r <= 0, true
			case "==":
				return r == 0, true
			default:
				return r != 0, true
			}
		}
	}
	switch c.Op {
	case "==":
		// Lenient in the protecting direction: "rub" and " RUB" may well
		// mean RUB to the upstream.
		return text == c.Value || strings.EqualFold(strings.TrimSpace(text), strings.TrimSpace(c.Value)), true
	case "!=":
		// Strict in the protecting direction: only the identical text is
		// "equal".
		return text != c.Value, true
	}
	return false, false
}
