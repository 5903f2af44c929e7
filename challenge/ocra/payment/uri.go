package payment

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// Scheme is the URI scheme of E-num question URIs.
const Scheme = "enum"

// MaxURILen bounds the URI accepted by [ParseURI], in bytes.
const MaxURILen = 512

// MaxChallengeLen bounds a challenge (question) in a URI, after spaces and
// dashes are removed: the longest OCRA question.
const MaxChallengeLen = 64

// Mode is what a question URI asks the app to confirm.
type Mode string

// The modes of a question URI.
const (
	// ModeLogin is authorization: the answer depends on the question only.
	ModeLogin Mode = "login"
	// ModePayment is payment: the answer also depends on the payee and the
	// amount.
	ModePayment Mode = "payment"
)

// short returns the one-letter spelling of a mode.
func (m Mode) short() string {
	if m == ModePayment {
		return "p"
	}
	return "l"
}

// URI is an E-num question URI, usually shown as a QR code next to the
// question number:
//
//	enum:login?challenge=QUESTION
//	enum:payment?challenge=QUESTION&purse=PURSE&amount=AMOUNT
//
// or in the short form
//
//	enum:l?c=QUESTION
//	enum:p?c=QUESTION&p=PURSE&a=AMOUNT
//
// Challenge is the question without spaces and dashes; Purse and Amount are
// as given in the URI (valid, but not normalized), which is what the app
// shows the user. Use [URI.Payment] for their normalized form.
type URI struct {
	Mode      Mode
	Challenge string
	Purse     string // payment only
	Amount    string // payment only
}

// Param names: full and short form.
var (
	fullNames  = [3]string{"challenge", "purse", "amount"}
	shortNames = [3]string{"c", "p", "a"}
)

// String returns the full form of u, values query-escaped, parameters in the
// order challenge, purse, amount; purse and amount only for payments.
func (u URI) String() string { return u.format(string(u.Mode), fullNames) }

// Short returns the short form of u (enum:l?c=… or enum:p?c=…&p=…&a=…),
// which makes a smaller QR code.
func (u URI) Short() string { return u.format(u.Mode.short(), shortNames) }

func (u URI) format(mode string, names [3]string) string {
	var b strings.Builder
	b.WriteString(Scheme + ":" + mode + "?" + names[0] + "=" + url.QueryEscape(u.Challenge))
	if u.Mode == ModePayment {
		b.WriteString("&" + names[1] + "=" + url.QueryEscape(u.Purse))
		b.WriteString("&" + names[2] + "=" + url.QueryEscape(u.Amount))
	}
	return b.String()
}

// Validate checks u as ParseURI checks a URI: a known mode; a challenge of 1
// to [MaxChallengeLen] ASCII letters and digits; for a payment a valid purse
// and amount; for a login neither.
func (u URI) Validate() error {
	if u.Mode != ModeLogin && u.Mode != ModePayment {
		return invalid("uri", "unknown mode "+strconv.Quote(string(u.Mode))+" (want login or payment)")
	}
	if err := checkChallenge(u.Challenge); err != nil {
		return err
	}
	if u.Mode == ModeLogin {
		if u.Purse != "" || u.Amount != "" {
			return invalid("uri", "a login has no purse or amount")
		}
		return nil
	}
	_, err := Prepare(u.Purse, u.Amount)
	return err
}

// Payment returns the normalized payment of a payment URI.
func (u URI) Payment() (Payment, error) {
	if u.Mode != ModePayment {
		return Payment{}, invalid("uri", "mode "+strconv.Quote(string(u.Mode))+" is not a payment")
	}
	return Prepare(u.Purse, u.Amount)
}

func checkChallenge(c string) error {
	switch {
	case c == "":
		return invalid("uri", "empty challenge")
	case len(c) > MaxChallengeLen:
		return invalid("uri", "challenge too long ("+strconv.Itoa(len(c))+" characters, at most "+strconv.Itoa(MaxChallengeLen)+")")
	}
	for i := 0; i < len(c); i++ {
		if !isAlnum(c[i]) {
			return invalid("uri", "challenge character "+strconv.QuoteRuneToASCII(rune(c[i]))+" at position "+strconv.Itoa(i+1)+" (want ASCII letters and digits)")
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// StripQuestion removes the spaces and dashes a user may type or see in a
// question ("4817 2203", "4817-2203").
func StripQuestion(q string) string {
	if !strings.ContainsAny(q, " -") {
		return q
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, q)
}

// ParseURI parses and validates an E-num question URI (see [URI]):
//
//   - at most [MaxURILen] bytes;
//   - scheme "enum" and mode (login, payment, or l, p) case-insensitive, in
//     the opaque form "enum:MODE?QUERY" (no "//", path or fragment);
//   - the full mode names take the full parameter names (challenge, purse,
//     amount), the short ones the short names (c, p, a); parameter names are
//     case-sensitive; an unknown or repeated parameter is an error;
//   - values are form-encoded (%XX, '+' for a space);
//   - challenge: spaces and dashes removed, then 1 to [MaxChallengeLen]
//     ASCII letters and digits;
//   - purse and amount: both required for a payment, refused for a login,
//     each valid as for [NormalizePurse] and [NormalizeAmount] (they are
//     returned as given).
func ParseURI(s string) (URI, error) {
	if len(s) > MaxURILen {
		return URI{}, invalid("uri", "too long ("+strconv.Itoa(len(s))+" bytes, at most "+strconv.Itoa(MaxURILen)+")")
	}
	const want = "want enum:login?challenge=... or enum:payment?challenge=...&purse=...&amount=..."
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return URI{}, invalid("uri", "not a URI: "+err.Error())
	}
	switch {
	case u.Scheme != Scheme: // url.Parse lower-cases the scheme
		return URI{}, invalid("uri", "scheme "+strconv.Quote(u.Scheme)+", "+want)
	case u.Opaque == "" && (u.Host != "" || u.Path != "" || u.User != nil):
		return URI{}, invalid("uri", "unexpected \"//\" or \"/\" after \"enum:\", "+want)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return URI{}, invalid("uri", "unexpected fragment, "+want)
	}
	var out URI
	var names [3]string
	switch strings.ToLower(u.Opaque) {
	case "login":
		out.Mode, names = ModeLogin, fullNames
	case "l":
		out.Mode, names = ModeLogin, shortNames
	case "payment":
		out.Mode, names = ModePayment, fullNames
	case "p":
		out.Mode, names = ModePayment, shortNames
	default:
		return URI{}, invalid("uri", "unknown mode "+strconv.Quote(u.Opaque)+", "+want)
	}
	if u.RawQuery != "" && strings.Contains("&"+u.RawQuery+"&", "&&") {
		return URI{}, invalid("uri", "empty query parameter (doubled, leading or trailing '&')")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return URI{}, invalid("uri", "bad query: "+err.Error())
	}
	allowed := names[:1]
	if out.Mode == ModePayment {
		allowed = names[:]
	}
	for k, vs := range q {
		i := index(allowed, k)
		if i < 0 {
			return URI{}, invalid("uri", "unknown parameter "+strconv.Quote(k)+" for "+strconv.Quote(u.Opaque)+" (want "+strings.Join(allowed, ", ")+")")
		}
		if len(vs) > 1 {
			return URI{}, invalid("uri", "parameter "+k+" given "+strconv.Itoa(len(vs))+" times")
		}
	}
	for _, k := range allowed {
		if _, ok := q[k]; !ok {
			return URI{}, invalid("uri", "missing parameter "+k)
		}
	}
	out.Challenge = StripQuestion(q.Get(names[0]))
	if out.Mode == ModePayment {
		out.Purse, out.Amount = q.Get(names[1]), q.Get(names[2])
	}
	if err := out.Validate(); err != nil {
		return URI{}, err
	}
	return out, nil
}

func index(names []string, k string) int {
	for i, n := range names {
		if n == k {
			return i
		}
	}
	return -1
}
