package demo

import (
	"errors"
	"strconv"
	"strings"
)

// maxAmountCents bounds an amount: 1,000,000.00.
const maxAmountCents = 100_000_000

var (
	errAmountSyntax = errors.New("amount must be a positive number with at most 2 decimals, e.g. 10.00")
	errAmountZero   = errors.New("amount must be more than 0.00")
	errAmountLarge  = errors.New("amount must be at most 1000000.00")
)

// parseAmount parses a positive decimal amount with at most two
// decimals ("10", "10.5", "10.50"; surrounding spaces allowed; no sign,
// exponent, grouping or leading/trailing dot) and returns it in cents.
func parseAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || !allDigits(whole) ||
		(hasDot && (frac == "" || len(frac) > 2 || !allDigits(frac))) {
		return 0, errAmountSyntax
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, errAmountSyntax
	}
	if w > maxAmountCents/100 {
		return 0, errAmountLarge
	}
	cents := w * 100
	switch len(frac) {
	case 1:
		cents += int64(frac[0]-'0') * 10
	case 2:
		cents += int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	}
	if cents == 0 {
		return 0, errAmountZero
	}
	if cents > maxAmountCents {
		return 0, errAmountLarge
	}
	return cents, nil
}

// formatAmount renders cents as a decimal with two places: 1050 → "10.50".
func formatAmount(cents int64) string {
	s := strconv.FormatInt(cents/100, 10) + "."
	if c := cents % 100; c < 10 {
		return s + "0" + strconv.FormatInt(c, 10)
	} else {
		return s + strconv.FormatInt(c, 10)
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
