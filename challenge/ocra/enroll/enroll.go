// Package enroll builds and parses E-num enrolment URIs, which carry a device
// key from the enumgate gateway to the user's E-num app (for example as a QR
// code):
//
//	enumgate://enroll?secret=BASE32&suite=OCRA-1%3AHOTP-SHA256-8%3AQN08&issuer=ISSUER&account=ACCOUNT
//
// The format, checked in full by [Parse]:
//
//   - scheme "enumgate" and host "enroll" (both case-insensitive), no user,
//     port or fragment, and an empty path (or "/");
//   - the query has exactly the parameters below, each at most once,
//     percent-encoded as in application/x-www-form-urlencoded;
//   - secret (required): the key, RFC 4648 base32 without padding,
//     case-insensitive, canonical (unused trailing bits zero); 16 to 256
//     bytes, since RFC 4226 requires keys of at least 128 bits;
//   - suite (optional): an OCRA suite (RFC 6287); when absent,
//     OCRA-1:HOTP-SHA256-8:QN08 ([ocra.DefaultSuite]);
//   - issuer (required): who issued the key, e.g. the bank's name; 1 to 256
//     bytes of UTF-8 without control characters, without ':' and without
//     leading or trailing spaces;
//   - account (required): the user's account at the issuer; the same rules
//     except that ':' is allowed.
//
// [Enrollment.URI] writes the parameters in the order secret, suite, issuer,
// account, the secret in upper case, and always writes the suite.
package enroll

import (
	"encoding/base32"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/enumgate/enumgate/challenge/ocra"
)

const (
	// Scheme is the URI scheme of enrolment URIs.
	Scheme = "enumgate"
	// Host is the host part ("action") of enrolment URIs.
	Host = "enroll"
	// MinKeyLen and MaxKeyLen bound the key length in bytes.
	MinKeyLen, MaxKeyLen = 16, 256
	// MaxNameLen bounds Issuer and Account in bytes.
	MaxNameLen = 256
	// maxURILen bounds the URI accepted by Parse.
	maxURILen = 4096
)

// ErrInvalid is matched (with errors.Is) by every error of Parse and
// Validate.
var ErrInvalid = errors.New("invalid enrolment")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Enrollment is one device key with what the app needs to use it.
type Enrollment struct {
	Issuer  string // who issued the key, e.g. "Example Bank"
	Account string // the user's account at the issuer, e.g. "alice"
	Suite   string // the OCRA suite; "" means ocra.DefaultSuite
	Key     []byte // the shared secret key
}

// URI returns the enrolment URI of e. For a valid e (see Validate),
// Parse(e.URI()) returns e with Suite filled in.
func (e Enrollment) URI() string {
	suite := e.Suite
	if suite == "" {
		suite = ocra.DefaultSuite
	}
	var b strings.Builder
	b.WriteString(Scheme + "://" + Host + "?secret=")
	b.WriteString(b32.EncodeToString(e.Key))
	b.WriteString("&suite=" + url.QueryEscape(suite))
	b.WriteString("&issuer=" + url.QueryEscape(e.Issuer))
	b.WriteString("&account=" + url.QueryEscape(e.Account))
	return b.String()
}

// Validate checks e as Parse checks an enrolment URI (an empty Suite is
// valid and means ocra.DefaultSuite).
func (e Enrollment) Validate() error {
	if err := checkName("issuer", e.Issuer, false); err != nil {
		return err
	}
	if err := checkName("account", e.Account, true); err != nil {
		return err
	}
	if e.Suite != "" {
		if _, err := ocra.ParseSuite(e.Suite); err != nil {
			return invalid(strings.TrimPrefix(err.Error(), "ocra: "))
		}
	}
	if n := len(e.Key); n < MinKeyLen || n > MaxKeyLen {
		return invalid("the key has " + strconv.Itoa(n) + " bytes, want " + strconv.Itoa(MinKeyLen) + " to " + strconv.Itoa(MaxKeyLen))
	}
	return nil
}

// Parse parses and validates an enrolment URI (see the package
// documentation for the format). Error messages never contain the secret.
func Parse(uri string) (Enrollment, error) {
	var e Enrollment
	if len(uri) > maxURILen {
		return e, invalid("URI too long (" + strconv.Itoa(len(uri)) + " bytes, at most " + strconv.Itoa(maxURILen) + ")")
	}
	u, err := url.Parse(uri)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URI, secret included
		}
		return e, invalid("not a URI: " + err.Error())
	}
	const want = "want " + Scheme + "://" + Host + "?secret=...&issuer=...&account=..."
	switch {
	case u.Scheme != Scheme:
		return e, invalid("scheme " + strconv.Quote(u.Scheme) + ", " + want)
	case u.Opaque != "":
		return e, invalid("missing \"//\" after \"" + Scheme + ":\", " + want)
	case u.User != nil:
		return e, invalid("unexpected user information, " + want)
	case u.Port() != "" || strings.HasSuffix(u.Host, ":"):
		return e, invalid("unexpected port, " + want)
	case !strings.EqualFold(u.Host, Host):
		return e, invalid("host " + strconv.Quote(u.Host) + ", " + want)
	case u.Path != "" && u.Path != "/":
		return e, invalid("unexpected path " + strconv.Quote(u.Path) + ", " + want)
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return e, invalid("unexpected fragment, " + want)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return e, invalid("bad query: " + err.Error())
	}
	for k, vs := range q {
		switch k {
		case "secret", "suite", "issuer", "account":
		default:
			return e, invalid("unknown parameter " + strconv.Quote(k) + " (want secret, suite, issuer, account)")
		}
		if len(vs) > 1 {
			return e, invalid("parameter " + k + " given " + strconv.Itoa(len(vs)) + " times")
		}
	}
	if e.Key, err = parseSecret(q); err != nil {
		return Enrollment{}, err
	}
	e.Suite = ocra.DefaultSuite
	if vs, ok := q["suite"]; ok {
		if vs[0] == "" {
			return Enrollment{}, invalid("empty suite parameter (omit it for " + ocra.DefaultSuite + ")")
		}
		e.Suite = vs[0]
	}
	e.Issuer, e.Account = q.Get("issuer"), q.Get("account")
	if _, ok := q["issuer"]; !ok {
		return Enrollment{}, invalid("missing issuer parameter")
	}
	if _, ok := q["account"]; !ok {
		return Enrollment{}, invalid("missing account parameter")
	}
	if err := e.Validate(); err != nil {
		return Enrollment{}, err
	}
	return e, nil
}

func parseSecret(q url.Values) ([]byte, error) {
	vs, ok := q["secret"]
	if !ok || vs[0] == "" {
		return nil, invalid("missing secret parameter")
	}
	s := strings.ToUpper(vs[0])
	if strings.Contains(s, "=") {
		return nil, invalid("secret must be base32 without '=' padding")
	}
	switch len(s) % 8 {
	case 1, 3, 6: // no byte count encodes to these lengths
		return nil, invalid("secret is not valid base32: impossible length " + strconv.Itoa(len(s)))
	}
	key, err := b32.DecodeString(s)
	if err != nil {
		var ce base32.CorruptInputError
		if errors.As(err, &ce) {
			return nil, invalid("secret is not valid base32 (A-Z, 2-7): bad character or length at offset " + strconv.FormatInt(int64(ce), 10))
		}
		return nil, invalid("secret is not valid base32")
	}
	if b32.EncodeToString(key) != s {
		return nil, invalid("secret is not canonical base32 (its last character has unused bits set)")
	}
	return key, nil
}

func checkName(field, v string, colonOK bool) error {
	switch {
	case v == "":
		return invalid(field + " must not be empty")
	case len(v) > MaxNameLen:
		return invalid(field + " too long (" + strconv.Itoa(len(v)) + " bytes, at most " + strconv.Itoa(MaxNameLen) + ")")
	case !utf8.ValidString(v):
		return invalid(field + " is not valid UTF-8")
	case strings.TrimSpace(v) != v:
		return invalid(field + " must not begin or end with spaces")
	case !colonOK && strings.Contains(v, ":"):
		return invalid(field + " must not contain ':'")
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return invalid(field + " must not contain control characters")
		}
	}
	return nil
}

// invalid returns an error matching ErrInvalid.
func invalid(msg string) error { return &Error{msg} }

// Error is the error type of Parse and Validate; it matches ErrInvalid.
type Error struct{ msg string }

// Error implements error.
func (e *Error) Error() string { return "enroll: " + ErrInvalid.Error() + ": " + e.msg }

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }
