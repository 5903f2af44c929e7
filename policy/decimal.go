package policy

// maxNumberLen bounds the text of a number that is compared numerically.
// Longer numbers are not numbers for this package (conditions on them fail
// closed).
const maxNumberLen = 64

// maxExponent bounds the exponent of a number in scientific notation; a
// larger one makes the text a non-number.
const maxExponent = 1_000_000

// decimal is an exact decimal number: (-1)^neg × digits × 10^exp, where
// digits has neither leading nor trailing zeros. Zero has digits == "" and
// neg == false. No arithmetic is ever done on it, only comparison, so it
// cannot be made to allocate or compute huge values.
type decimal struct {
	neg    bool
	digits string
	exp    int
}

// parseDecimal parses s as a decimal number:
//
//	[+-] ( digits [ "." [digits] ] | "." digits ) [ ("e"|"E") [+-] digits ]
//
// with no surrounding spaces, no thousands separators, no hex, no
// Infinity/NaN, at most [maxNumberLen] bytes and an exponent of at most
// [maxExponent] in magnitude. This is a superset of JSON numbers and of what
// common parsers (JavaScript Number, Go ParseFloat, Python Decimal) read the
// same way; anything else is not a number.
func parseDecimal(s string) (decimal, bool) {
	if len(s) == 0 || len(s) > maxNumberLen {
		return decimal{}, false
	}
	var d decimal
	i := 0
	switch s[0] {
	case '-':
		d.neg = true
		i++
	case '+':
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[intStart:i]
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		fracStart := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		frac = s[fracStart:i]
	}
	if intPart == "" && frac == "" {
		return decimal{}, false
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return decimal{}, false
		}
		for ; i < len(s); i++ {
			if !isDigit(s[i]) {
				return decimal{}, false
			}
			exp = exp*10 + int(s[i]-'0')
			if exp > maxExponent {
				return decimal{}, false
			}
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return decimal{}, false
	}
	// Mantissa digits = intPart + frac, value = mantissa × 10^(exp-len(frac)).
	// Strip leading zeros (from intPart, then frac) and trailing zeros
	// (from frac, then intPart) without concatenating.
	exp -= len(frac)
	for len(intPart) > 0 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	if intPart == "" {
		for len(frac) > 0 && frac[0] == '0' {
			frac = frac[1:]
		}
	}
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
		exp++
	}
	if frac == "" {
		for len(intPart) > 0 && intPart[len(intPart)-1] == '0' {
			intPart = intPart[:len(intPart)-1]
			exp++
		}
	}
	switch {
	case intPart == "" && frac == "":
		return decimal{}, true // zero, sign dropped
	case frac == "":
		d.digits = intPart
	case intPart == "":
		d.digits = frac
	default:
		d.digits = intPart + frac
	}
	d.exp = exp
	return d, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (d decimal) sign() int {
	switch {
	case d.digits == "":
		return 0
	case d.neg:
		return -1
	default:
		return 1
	}
}

// cmp returns -1, 0 or +1 as d is less than, equal to or greater than e.
func (d decimal) cmp(e decimal) int {
	sd, se := d.sign(), e.sign()
	if sd != se {
		if sd < se {
			return -1
		}
		return 1
	}
	if sd == 0 {
		return 0
	}
	m := cmpMagnitude(d, e)
	if sd < 0 {
		return -m
	}
	return m
}

// cmpMagnitude compares |d| and |e|, both non-zero.
func cmpMagnitude(d, e decimal) int {
	// Position of the most significant digit decides first.
	pd, pe := len(d.digits)+d.exp, len(e.digits)+e.exp
	if pd != pe {
		if pd < pe {
			return -1
		}
		return 1
	}
	n := min(len(d.digits), len(e.digits))
	for i := range n {
		if d.digits[i] != e.digits[i] {
			if d.digits[i] < e.digits[i] {
				return -1
			}
			return 1
		}
	}
	// Equal prefix: the longer one has more non-zero digits after it.
	switch {
	case len(d.digits) < len(e.digits):
		return -1
	case len(d.digits) > len(e.digits):
		return 1
	}
	return 0
}
