package account

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on client input.
const (
	// MaxEmailLen is the longest address, in bytes (RFC 5321 path limit).
	MaxEmailLen = 254
	// maxPhoneInput bounds a phone number as typed, separators included.
	maxPhoneInput = 32
	// MaxTextLen bounds a recovery reason or an operator's note, in runes.
	MaxTextLen = 500
	// MaxEmails is the most addresses one user may have.
	MaxEmails = 5
)

// NormalizePhone returns the E.164 form of a phone number: '+' and 8 to 15
// digits, the first not 0. Spaces, dots, dashes and parentheses between
// digits are dropped ("+7 (900) 000-00-04" is "+79000000004"); anything
// else is refused with an error matching ErrInvalid.
func NormalizePhone(s string) (string, error) {
	if len(s) > maxPhoneInput {
		return "", invalid("phone number too long (at most %d characters)", maxPhoneInput)
	}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "+") {
		return "", invalid("phone number must start with + and the country code, such as +79000000004")
	}
	b := make([]byte, 1, len(s))
	b[0] = '+'
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == ' ' || c == '.' || c == '-' || c == '(' || c == ')':
		default:
			return "", invalid("phone number may contain only digits after the +")
		}
	}
	if n := len(b) - 1; n < 8 || n > 15 {
		return "", invalid("phone number must have 8 to 15 digits, has %d", n)
	}
	if b[1] == '0' {
		return "", invalid("phone number must start with a country code (not 0)")
	}
	return string(b), nil
}

// NormalizeEmail returns a plain address with its domain in lower case
// ("Dave@Example.TEST" is "Dave@example.test"): at most MaxEmailLen bytes,
// valid for net/mail, without a display name, comments or angle brackets,
// and with a dot in the domain or a single-label domain of letters. Errors
// match ErrInvalid.
func NormalizeEmail(s string) (string, error) {
	if len(s) > MaxEmailLen {
		return "", invalid("address too long (at most %d bytes)", MaxEmailLen)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("address is empty")
	}
	if !utf8.ValidString(s) {
		return "", invalid("address is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "", invalid("address must not contain spaces or control characters")
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", invalid("not a plain address such as dave@example.org")
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", invalid("not a plain address such as dave@example.org")
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if strings.HasPrefix(domain, "[") {
		return "", invalid("address literals ([...]) are not accepted")
	}
	return local + "@" + domain, nil
}

// checkText validates a recovery reason or note: valid UTF-8, at most
// MaxTextLen runes, no control characters except line breaks (CRLF and CR
// become LF). Leading and trailing spaces are trimmed.
func checkText(field, s string) (string, error) {
	if len(s) > 4*MaxTextLen {
		return "", invalid("%s too long (at most %d characters)", field, MaxTextLen)
	}
	if !utf8.ValidString(s) {
		return "", invalid("%s is not valid UTF-8", field)
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n > MaxTextLen {
		return "", invalid("%s too long (%d characters, at most %d)", field, n, MaxTextLen)
	}
	for _, r := range s {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			return "", invalid("%s must not contain control or invisible characters", field)
		}
	}
	return s, nil
}
