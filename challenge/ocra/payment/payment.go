package payment

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/enumgate/enumgate/challenge/ocra"
)

// Limits of the normalized values and of the raw input.
const (
	// MaxPurseLen bounds a normalized purse, in bytes.
	MaxPurseLen = 64
	// MaxAmountLen bounds an amount as given (after trimming surrounding
	// spaces), in bytes.
	MaxAmountLen = 30
	// maxRawPurseLen bounds a purse as given, spaces and dashes included.
	maxRawPurseLen = 128
)

// SessionLen is the length in bytes of the session information S of the
// payment suite: the lower-case hexadecimal SHA-256 of the payment.
const SessionLen = 64

// sessionComponent is the DataInput component inserted into the device suite.
const sessionComponent = "S064"

// domain separates payment hashes from any other use of SHA-256; the version
// changes if the derivation ever does.
const domain = "enum-payment-v1\x00"

// ErrInvalid is matched (with errors.Is) by every error of this package. The
// concrete error is an [*Error].
var ErrInvalid = errors.New("invalid payment")

// Error reports an invalid purse, amount, suite, input or URI. It matches
// [ErrInvalid]. Its message never contains the key.
type Error struct {
	Field  string // "purse", "amount", "suite", "session", "payment" or "uri"
	Reason string // what is wrong
}

// Error implements error.
func (e *Error) Error() string { return "payment: invalid " + e.Field + ": " + e.Reason }

// Unwrap returns [ErrInvalid].
func (e *Error) Unwrap() error { return ErrInvalid }

func invalid(field, reason string) error { return &Error{Field: field, Reason: reason} }

// NormalizePurse returns the canonical form of a payee (the recipient's
// purse, account number, IBAN or card number):
//
//  1. ASCII spaces and '-' are removed wherever they are (they only group
//     digits for reading);
//  2. ASCII letters are upper-cased;
//  3. what is left must be 1 to [MaxPurseLen] ASCII letters and digits;
//  4. a WebMoney purse, exactly one letter followed by exactly 12 digits,
//     loses its letter: "Z123456789012", "z123456789012" and "123456789012"
//     are the same payee.
//
// The input may have at most 128 bytes. Normalized purses are fixed points:
// NormalizePurse(p) == p for every p it returns.
func NormalizePurse(s string) (string, error) {
	if len(s) > maxRawPurseLen {
		return "", invalid("purse", "too long ("+strconv.Itoa(len(s))+" bytes, at most "+strconv.Itoa(maxRawPurseLen)+")")
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-':
		case 'a' <= c && c <= 'z':
			b = append(b, c-'a'+'A')
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b = append(b, c)
		default:
			return "", invalid("purse", "character "+strconv.QuoteRuneToASCII(rune(c))+" at position "+strconv.Itoa(i+1)+" (want ASCII letters and digits, grouped by spaces or '-')")
		}
	}
	switch {
	case len(b) == 0:
		return "", invalid("purse", "empty")
	case len(b) > MaxPurseLen:
		return "", invalid("purse", "too long ("+strconv.Itoa(len(b))+" letters and digits, at most "+strconv.Itoa(MaxPurseLen)+")")
	}
	if isWebMoneyPurse(b) {
		b = b[1:]
	}
	return string(b), nil
}

// isWebMoneyPurse reports whether b (upper-cased) is one letter followed by
// 12 digits.
func isWebMoneyPurse(b []byte) bool {
	if len(b) != 13 || b[0] < 'A' || b[0] > 'Z' {
		return false
	}
	for _, c := range b[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// NormalizeAmount returns the canonical form of an amount: one or more
// ASCII digits, optionally followed by one decimal separator ('.' or ',')
// and more digits. Surrounding ASCII spaces are trimmed; the rest may have
// at most [MaxAmountLen] bytes. Leading zeros of the integer part are
// dropped (one 0 is kept), as are trailing zeros of the fraction and a
// separator with no fraction left; the separator becomes '.':
//
//	"010,50" → "10.5"   "10.00" → "10"   "0.50" → "0.5"   "7." → "7"
//
// An amount without integer digits (",5") is refused: normalization then
// never lengthens an amount, so every normalized amount is itself valid.
//
// Signs, exponents, group separators (a second '.' or ',', inner spaces,
// apostrophes) and currency symbols are refused. Normalized amounts are fixed
// points. The currency is not part of the amount: see the package
// documentation.
func NormalizeAmount(s string) (string, error) {
	s = strings.Trim(s, " ")
	switch {
	case s == "":
		return "", invalid("amount", "empty")
	case len(s) > MaxAmountLen:
		return "", invalid("amount", "too long ("+strconv.Itoa(len(s))+" bytes, at most "+strconv.Itoa(MaxAmountLen)+")")
	}
	sep := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
		case c == '.' || c == ',':
			if sep >= 0 {
				return "", invalid("amount", "more than one '.' or ',' at position "+strconv.Itoa(i+1)+" (one decimal separator, no group separators)")
			}
			sep = i
		case c == '+' || c == '-':
			return "", invalid("amount", "sign at position "+strconv.Itoa(i+1)+" (want digits with an optional decimal separator)")
		case c == 'e' || c == 'E':
			return "", invalid("amount", "exponent at position "+strconv.Itoa(i+1)+" (want digits with an optional decimal separator)")
		default:
			return "", invalid("amount", "character "+strconv.QuoteRuneToASCII(rune(c))+" at position "+strconv.Itoa(i+1)+" (want digits with an optional decimal separator)")
		}
	}
	intPart, frac := s, ""
	if sep >= 0 {
		intPart, frac = s[:sep], s[sep+1:]
	}
	if intPart == "" {
		return "", invalid("amount", "no digit before the decimal separator (write 0"+s[:1]+"...)")
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	frac = strings.TrimRight(frac, "0")
	if frac == "" {
		return intPart, nil
	}
	return intPart + "." + frac, nil
}

// PaymentSuite returns the suite of payment-mode answers for a device
// suite: the device suite with the session-information component S064
// inserted where RFC 6287 puts S, after Q and P and before T:
//
//	OCRA-1:HOTP-SHA256-8:QN08        → OCRA-1:HOTP-SHA256-8:QN08-S064
//	OCRA-1:HOTP-SHA1-6:QN08-PSHA1-T1M → OCRA-1:HOTP-SHA1-6:QN08-PSHA1-S064-T1M
//
// A device suite that already has session information (S) or a counter (C)
// is refused: S is taken by the payment, and the gateway keeps no counter.
// The result is a new suite; derive it once per device and reuse it.
func PaymentSuite(device *ocra.Suite) (*ocra.Suite, error) {
	if device == nil {
		return nil, invalid("suite", "no device suite")
	}
	switch {
	case device.SessionLen() != 0:
		return nil, invalid("suite", "device suite "+device.String()+" already has session information (S); payment mode needs S for the payment")
	case device.HasCounter():
		return nil, invalid("suite", "device suite "+device.String()+" has a counter (C), which payment mode does not support")
	}
	str := device.String()
	colon := strings.LastIndexByte(str, ':')
	parts := strings.Split(str[colon+1:], "-")
	at := len(parts)
	if last := parts[len(parts)-1]; last[0] == 'T' {
		at--
	}
	parts = append(parts[:at], append([]string{sessionComponent}, parts[at:]...)...)
	s, err := ocra.ParseSuite(str[:colon+1] + strings.Join(parts, "-"))
	if err != nil { // cannot happen for a parsed suite without C and S
		return nil, invalid("suite", err.Error())
	}
	return s, nil
}

// SessionInfo returns the session information S of a payment: the 64 ASCII
// bytes of the lower-case hexadecimal SHA-256 of
//
//	"enum-payment-v1" 0x00 purse 0x00 amount
//
// purse and amount must already be normalized ([NormalizePurse],
// [NormalizeAmount]); SessionInfo hashes them as given. Use [Prepare] for
// raw values.
func SessionInfo(purse, amount string) []byte {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write([]byte(purse))
	h.Write([]byte{0})
	h.Write([]byte(amount))
	var sum [sha256.Size]byte
	return hex.AppendEncode(make([]byte, 0, SessionLen), h.Sum(sum[:0]))
}

// Payment is a normalized payment (payee and amount) with its session
// information, ready to compute answers for any number of devices and time
// steps. It is immutable and safe for concurrent use. The zero value is not
// valid: use [Prepare].
type Payment struct {
	purse, amount string
	session       string // SessionLen bytes
}

// Prepare normalizes purse and amount (see [NormalizePurse] and
// [NormalizeAmount]) and computes the session information once.
func Prepare(purse, amount string) (Payment, error) {
	p, err := NormalizePurse(purse)
	if err != nil {
		return Payment{}, err
	}
	a, err := NormalizeAmount(amount)
	if err != nil {
		return Payment{}, err
	}
	return Payment{purse: p, amount: a, session: string(SessionInfo(p, a))}, nil
}

// Purse returns the normalized purse.
func (p Payment) Purse() string { return p.purse }

// Amount returns the normalized amount.
func (p Payment) Amount() string { return p.amount }

// Session returns a copy of the session information S.
func (p Payment) Session() []byte { return []byte(p.session) }

// Valid reports whether p was made by [Prepare].
func (p Payment) Valid() bool { return len(p.session) == SessionLen }

// Input returns in with its session information set to the payment's, for
// [ocra.Suite.Compute] or [ocra.Suite.Verify] with the payment suite (see
// [PaymentSuite]). Everything else in in (question, PIN, timestamp) is kept.
// It fails if p is not valid or in already has session information.
func (p Payment) Input(in ocra.Input) (ocra.Input, error) {
	if !p.Valid() {
		return in, invalid("payment", "not prepared (use payment.Prepare)")
	}
	if len(in.Session) != 0 {
		return in, invalid("session", "the input already has session information; in payment mode S is the payment's")
	}
	in.Session = []byte(p.session)
	return in, nil
}

// Answer returns the payment-mode answer of a device: the OCRA response of
// [PaymentSuite](device) for key and in with the payment's session
// information. in carries what the device suite needs (question, PIN or
// PINHash, timestamp) and no session information. Errors are [*Error] for
// the payment and suite, and ocra's [*ocra.InputError] for the input.
func (p Payment) Answer(device *ocra.Suite, key []byte, in ocra.Input) (string, error) {
	in, err := p.Input(in)
	if err != nil {
		return "", err
	}
	s, err := PaymentSuite(device)
	if err != nil {
		return "", err
	}
	return s.Compute(key, in)
}

// Answer returns the payment-mode answer of a device for a payee and an
// amount as given (they are normalized first): Prepare(purse, amount), then
// [Payment.Answer].
func Answer(device *ocra.Suite, key []byte, in ocra.Input, purse, amount string) (string, error) {
	p, err := Prepare(purse, amount)
	if err != nil {
		return "", err
	}
	return p.Answer(device, key, in)
}
