package policy

import "strings"

// Limits of a shown amount (see ValidAmount).
const (
	MaxAmountLen      = 30
	MaxAmountFraction = 8
	// maxJSONNumberDigits bounds the significant digits of an amount sent
	// as a JSON number: every decimal of at most 15 significant digits
	// survives a round trip through a float64, so an upstream that reads
	// JSON numbers as float64 (JavaScript, Go's interface{}) reads the
	// amount that is shown.
	maxJSONNumberDigits = 15
)

// ValidAmount reports whether s is a plain decimal amount as shown on a
// confirmation page: one or more ASCII digits without leading zeros ("0"
// itself and "0.5" are fine, "007" is not), optionally "." and 1 to 8
// digits, at most 30 characters in all. No sign, exponent, thousands
// separator, comma, space or other digits: every upstream reads such a
// text as the same number.
func ValidAmount(s string) bool {
	if s == "" || len(s) > MaxAmountLen {
		return false
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || len(intPart) > 1 && intPart[0] == '0' || !allDigits(intPart) {
		return false
	}
	if hasDot && (frac == "" || len(frac) > MaxAmountFraction || !allDigits(frac)) {
		return false
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// significantDigits counts the digits of a valid amount without leading
// zeros ("0.05" has 1, "100" has 3).
func significantDigits(s string) int {
	n, lead := 0, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' || lead && c == '0' {
			continue
		}
		lead = false
		n++
	}
	return n
}

// currencySymbols are the symbols FormatAmount uses in Russian.
var currencySymbols = map[string]string{"RUB": "₽", "USD": "$", "EUR": "€"}

// FormatAmount formats a valid amount (see ValidAmount) for the
// confirmation page in language lang, keeping its fraction digits as given
// ("10.5" stays 10.5, "10" stays 10):
//
//   - lang "ru" or any lang starting with "ru" (ignoring case): groups of
//     three digits separated by U+00A0 NO-BREAK SPACE, a decimal comma,
//     then U+00A0 and the currency symbol (₽ for RUB, $ for USD, € for
//     EUR) or code: "1 234 567,89 ₽", "10,5 KZT";
//   - any other lang: the currency code, a space, and the number grouped
//     with commas and a decimal point: "RUB 1,234,567.89".
//
// An empty currency gives the number alone. An amount that is not valid is
// returned unchanged.
func FormatAmount(amount, currency, lang string) string {
	if !ValidAmount(amount) {
		return amount
	}
	ru := len(lang) >= 2 && strings.EqualFold(lang[:2], "ru")
	group, point := ",", "."
	if ru {
		group, point = "\u00a0", ","
	}
	intPart, frac, hasDot := strings.Cut(amount, ".")
	var b strings.Builder
	b.Grow(len(amount) + len(amount)/3*2 + len(currency) + 8)
	if !ru && currency != "" {
		b.WriteString(currency)
		b.WriteByte(' ')
	}
	for i := 0; i < len(intPart); i++ {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteByte(intPart[i])
	}
	if hasDot {
		b.WriteString(point)
		b.WriteString(frac)
	}
	if ru && currency != "" {
		b.WriteString("\u00a0")
		if sym, ok := currencySymbols[currency]; ok {
			b.WriteString(sym)
		} else {
			b.WriteString(currency)
		}
	}
	return b.String()
}
