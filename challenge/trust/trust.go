package trust

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
	"unicode"
	"unicode/utf8"
)

// Store keeps what the gateway's policy decides per user, shared by every
// gateway: section grants, trusted payees, and the risk memory. Each call
// is atomic on its own. Implementations are safe for concurrent use and
// never retry a state change whose outcome is unknown. Every input is
// checked first: a bad one is an error matching ErrInvalid and changes
// nothing.
type Store interface {
	// Grant stores a section grant: a window opened by one confirmation,
	// bound to the user and the session binding (a keyed hash, given by
	// the caller). g.ID is a 22-character random id set by the caller
	// (base64url). It replaces an older grant of the same (user,
	// session, section) and any grant with the same id. A user keeps at
	// most MaxGrants: expired grants go first, then the one ending
	// soonest.
	Grant(ctx context.Context, g Grant) error
	// Granted returns the user's grant for session and section if it is
	// still open at now (now before Until).
	Granted(ctx context.Context, user string, session []byte, section string, now time.Time) (*Grant, bool, error)
	// Grants returns the user's grants open at now, newest (Created)
	// first, at most MaxGrants.
	Grants(ctx context.Context, user string, now time.Time) ([]Grant, error)
	// EndGrant ends the user's grant id at once; ErrNotFound if the user
	// has none with that id.
	EndGrant(ctx context.Context, user, id string) error

	// Trust adds a trusted payee, or replaces the one with the same
	// p.Payee; a user has at most MaxTrusted: ErrFull for one more.
	Trust(ctx context.Context, user string, p Payee) error
	// Untrust removes a trusted payee; ErrNotFound if it is not trusted.
	Untrust(ctx context.Context, user, payee string) error
	// Trusted returns the user's trusted payees sorted by Payee (bytes).
	Trusted(ctx context.Context, user string) ([]Payee, error)
	// TrustedPayee returns the trusted payee, false if it is not trusted.
	TrustedPayee(ctx context.Context, user, payee string) (*Payee, bool, error)

	// SeenPayee reports whether the user had a confirmed operation to
	// payee within the risk retention (RiskRetention unless configured);
	// MarkPayee records one at now. A user's most recent MaxSeenPayees
	// are kept.
	SeenPayee(ctx context.Context, user, payee string) (bool, error)
	MarkPayee(ctx context.Context, user, payee string, now time.Time) error
	// DailyTotal is the sum of the user's confirmed amounts in currency
	// ("" or three upper-case letters) on the UTC day of now, "0" if
	// none. AddDaily adds amount atomically and returns the new total.
	// Amounts are plain decimals (see CompareAmounts) summed exactly; a
	// total is at most MaxAmountIntDigits integer digits (ErrInvalid
	// beyond, nothing added), a user has at most MaxCurrencies a day
	// (ErrFull beyond). Totals are in their shortest form ("10.5", not
	// "10.50") and kept DailyRetention.
	DailyTotal(ctx context.Context, user, currency string, now time.Time) (string, error)
	AddDaily(ctx context.Context, user, currency, amount string, now time.Time) (string, error)
	// SeenClient reports whether client key k (e.g. "ip:203.0.113.0/24"
	// or "ua:<sha256>", the caller decides) was marked for the user
	// within the last `within` before now (a positive duration; one
	// longer than the risk retention acts as the retention); MarkClient
	// records it at now. A user's most recent MaxClients are kept.
	SeenClient(ctx context.Context, user, k string, within time.Duration, now time.Time) (bool, error)
	MarkClient(ctx context.Context, user, k string, now time.Time) error
	// Close releases the store's resources (not a shared Redis client).
	Close() error
}

// Grant is a section grant.
type Grant struct {
	// ID is the grant's id: 22 characters of base64url, random, set by
	// the caller.
	ID string
	// User is the user id, 1 to MaxUserLen bytes.
	User string
	// Session is the keyed hash of the session binding, 1 to
	// MaxSessionLen bytes.
	Session []byte
	// Section is the section's name ([a-z0-9_]{1,64}).
	Section string
	// Created is when the grant was opened.
	Created time.Time
	// Until is when it ends: after Created, at most MaxGrantLife later.
	Until time.Time
	// ChallengeID is the confirmation that opened it ("" or up to 64
	// characters of base64url).
	ChallengeID string
}

// Payee is a trusted payee.
type Payee struct {
	// Payee is the payee as the upstream receives it: 1 to MaxPayeeLen
	// bytes of UTF-8 without control characters.
	Payee string `json:"payee"`
	// UpTo is the amount limit (a plain decimal, see CompareAmounts); ""
	// for none.
	UpTo string `json:"up_to,omitempty"`
	// Added is when the customer added it.
	Added time.Time `json:"added"`
}

// Bounds of the stores.
const (
	// MaxUserLen is the longest user id, in bytes (challenge.MaxUserIDLen).
	MaxUserLen = 256
	// MaxSessionLen is the longest session binding hash, in bytes.
	MaxSessionLen = 64
	// MaxSectionLen is the longest section name.
	MaxSectionLen = 64
	// MaxPayeeLen is the longest payee, in bytes.
	MaxPayeeLen = 256
	// MaxClientKeyLen is the longest client key, in bytes.
	MaxClientKeyLen = 256
	// MaxChallengeIDLen is the longest Grant.ChallengeID.
	MaxChallengeIDLen = 64
	// GrantIDLen is the length of a Grant.ID.
	GrantIDLen = 22
	// MaxGrantLife is the longest grant (Until - Created).
	MaxGrantLife = 7 * 24 * time.Hour

	// MaxGrants is the most grants a user keeps (and Grants lists).
	MaxGrants = 100
	// MaxTrusted is the most trusted payees a user may have.
	MaxTrusted = 100
	// MaxSeenPayees is the most payees remembered per user; the least
	// recently marked go first (and are new again).
	MaxSeenPayees = 1000
	// MaxClients is the most client keys remembered per user; the least
	// recently marked go first.
	MaxClients = 1000
	// MaxCurrencies is the most currencies a user's daily totals count
	// in one day.
	MaxCurrencies = 16

	// RiskRetention is how long a marked payee or client is remembered
	// unless configured otherwise (400 days).
	RiskRetention = 400 * 24 * time.Hour
	// DailyRetention is how long a daily total is kept after its last
	// addition.
	DailyRetention = 48 * time.Hour
)

func checkUser(user string) error {
	if user == "" || len(user) > MaxUserLen {
		return invalid("user id must be 1 to %d bytes", MaxUserLen)
	}
	return nil
}

func checkSection(s string) error {
	if s == "" || len(s) > MaxSectionLen {
		return invalid("section name must be 1 to %d characters of [a-z0-9_]", MaxSectionLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return invalid("section name %q must be 1 to %d characters of [a-z0-9_]", clip(s), MaxSectionLen)
		}
	}
	return nil
}

func checkSession(s []byte) error {
	if len(s) == 0 || len(s) > MaxSessionLen {
		return invalid("session binding must be 1 to %d bytes", MaxSessionLen)
	}
	return nil
}

func base64url(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func checkGrantID(id string) error {
	if len(id) != GrantIDLen || !base64url(id) {
		return invalid("grant id must be %d characters of base64url", GrantIDLen)
	}
	return nil
}

// checkGrant validates g.
func checkGrant(g *Grant) error {
	if err := checkGrantID(g.ID); err != nil {
		return err
	}
	if err := checkUser(g.User); err != nil {
		return err
	}
	if err := checkSession(g.Session); err != nil {
		return err
	}
	if err := checkSection(g.Section); err != nil {
		return err
	}
	if len(g.ChallengeID) > MaxChallengeIDLen || !base64url(g.ChallengeID) {
		return invalid("challenge id must be up to %d characters of base64url", MaxChallengeIDLen)
	}
	if g.Created.IsZero() || !g.Until.After(g.Created) {
		return invalid("a grant needs a creation time and must end after it")
	}
	if g.Until.Sub(g.Created) > MaxGrantLife {
		return invalid("a grant may last at most %s", MaxGrantLife)
	}
	return nil
}

// checkText validates a payee or client key: 1 to max bytes of UTF-8
// without control characters.
func checkText(what, s string, max int) error {
	if s == "" || len(s) > max {
		return invalid("%s must be 1 to %d bytes", what, max)
	}
	if !utf8.ValidString(s) {
		return invalid("%s must be valid UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid("%s must not contain control characters", what)
		}
	}
	return nil
}

func checkPayee(p string) error { return checkText("payee", p, MaxPayeeLen) }

func checkClient(k string) error { return checkText("client key", k, MaxClientKeyLen) }

func checkTrusted(p *Payee) error {
	if err := checkPayee(p.Payee); err != nil {
		return err
	}
	if p.UpTo != "" {
		if _, err := parseAmount(p.UpTo); err != nil {
			return err
		}
	}
	return nil
}

func checkCurrency(c string) error {
	if c == "" || len(c) == 3 && upper(c[0]) && upper(c[1]) && upper(c[2]) {
		return nil
	}
	return invalid("currency %q must be empty or three upper-case letters (ISO 4217)", clip(c))
}

func upper(c byte) bool { return 'A' <= c && c <= 'Z' }

func checkWithin(d time.Duration) error {
	if d <= 0 {
		return invalid("the window of a client check must be positive")
	}
	return nil
}

// day is the UTC day of t as YYYYMMDD.
func day(t time.Time) string { return t.UTC().Format("20060102") }

// hashHex is the SHA-256 of s in hex: how payees and client keys are
// named at rest.
func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// slotHex names a grant's (section, session) slot.
func slotHex(section string, session []byte) string {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(section)))
	b = append(b, section...)
	b = append(b, session...)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// msTime is t at millisecond precision in UTC, as the stores keep it.
func msTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }
