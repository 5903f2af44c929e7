package trust

import (
	"strconv"
	"strings"
)

// Limits of an amount the store keeps (see CompareAmounts, AddAmounts).
const (
	// MaxAmountIntDigits is the most integer digits of an amount and of a
	// daily total.
	MaxAmountIntDigits = 18
	// MaxAmountFracDigits is the most fraction digits of an amount
	// (policy.MaxAmountFraction).
	MaxAmountFracDigits = 8
)

const (
	intLimit  = 1_000_000_000_000_000_000 // 10^18: integer parts stay below
	fracScale = 100_000_000               // 10^8: fractions are counted in 10^-8
)

// amount is an exact non-negative decimal: i + f/10^8, i < 10^18, f < 10^8.
// No floats anywhere: the parts are integers.
type amount struct{ i, f uint64 }

// parseAmount reads a plain decimal as policy.ValidAmount accepts it (ASCII
// digits without leading zeros, optionally "." and 1 to 8 digits; no sign,
// exponent, separator or space) with at most MaxAmountIntDigits integer
// digits. Errors match ErrInvalid.
func parseAmount(s string) (amount, error) {
	intPart, frac, hasDot := strings.Cut(s, ".")
	switch {
	case intPart == "" || !digits(intPart):
		return amount{}, invalid("amount %q must be a plain decimal such as 1500 or 10.25", clip(s))
	case len(intPart) > 1 && intPart[0] == '0':
		return amount{}, invalid("amount %q must not have leading zeros", clip(s))
	case len(intPart) > MaxAmountIntDigits:
		return amount{}, invalid("amount %q has more than %d integer digits", clip(s), MaxAmountIntDigits)
	case hasDot && (frac == "" || !digits(frac)):
		return amount{}, invalid("amount %q must be a plain decimal such as 1500 or 10.25", clip(s))
	case len(frac) > MaxAmountFracDigits:
		return amount{}, invalid("amount %q has more than %d fraction digits", clip(s), MaxAmountFracDigits)
	}
	i, _ := strconv.ParseUint(intPart, 10, 64) // at most 18 digits: fits
	var f uint64
	if frac != "" {
		f, _ = strconv.ParseUint(frac, 10, 64)
		for range MaxAmountFracDigits - len(frac) {
			f *= 10
		}
	}
	return amount{i, f}, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clip shortens a rejected input for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// add returns a+b; false if the integer part would reach 10^18.
func (a amount) add(b amount) (amount, bool) {
	s := amount{a.i + b.i, a.f + b.f} // both below 2·10^18: no uint64 overflow
	if s.f >= fracScale {
		s.f -= fracScale
		s.i++
	}
	if s.i >= intLimit {
		return amount{}, false
	}
	return s, true
}

// cmp returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a amount) cmp(b amount) int {
	switch {
	case a.i < b.i || a.i == b.i && a.f < b.f:
		return -1
	case a == b:
		return 0
	}
	return 1
}

// String returns the shortest plain decimal of a: "0", "12", "10.5",
// "0.00000001" (no trailing zeros in the fraction, no "." without one).
func (a amount) String() string {
	s := strconv.FormatUint(a.i, 10)
	if a.f == 0 {
		return s
	}
	fs := strconv.FormatUint(a.f+fracScale, 10)[1:] // 8 digits, leading zeros kept
	return s + "." + strings.TrimRight(fs, "0")
}

// CompareAmounts compares two plain decimal amounts exactly: -1, 0 or +1
// as a is less than, equal to or greater than b ("10.50" equals "10.5").
// An amount is what policy.ValidAmount accepts with at most
// MaxAmountIntDigits integer digits; anything else is an error matching
// ErrInvalid.
func CompareAmounts(a, b string) (int, error) {
	x, err := parseAmount(a)
	if err != nil {
		return 0, err
	}
	y, err := parseAmount(b)
	if err != nil {
		return 0, err
	}
	return x.cmp(y), nil
}

// AddAmounts returns the exact sum of two plain decimal amounts (see
// CompareAmounts) in its shortest form ("0.5"+"0.50" is "1"); ErrInvalid
// if either is not an amount or the sum has more than MaxAmountIntDigits
// integer digits. This is the arithmetic of Store.AddDaily.
func AddAmounts(a, b string) (string, error) {
	x, err := parseAmount(a)
	if err != nil {
		return "", err
	}
	y, err := parseAmount(b)
	if err != nil {
		return "", err
	}
	s, ok := x.add(y)
	if !ok {
		return "", errTooLarge
	}
	return s.String(), nil
}
