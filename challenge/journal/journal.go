package journal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/enumgate/enumgate/challenge"
)

// Entry is one event in a user's journal. The JSON form is the one of the
// journal API: absent fields are omitted.
type Entry struct {
	// At is when the event happened. Append fills in the journal's clock
	// when it is zero.
	At time.Time `json:"at"`
	// Event names the step: the engine's event kinds ("issued",
	// "method_begun", "wrong_answer", "confirmed", ...) or an account
	// change ("device_added", ...): 1 to MaxEventLen bytes of a-z, 0-9,
	// '_' and '.'.
	Event string `json:"event"`
	// Operation is the protected operation, e.g. "transfer".
	Operation string `json:"operation,omitempty"`
	// Amount is the amount as a plain decimal.
	Amount string `json:"amount,omitempty"`
	// Currency is the amount's currency.
	Currency string `json:"currency,omitempty"`
	// Payee is the payee as shown to the customer (masked).
	Payee string `json:"payee,omitempty"`
	// Method is the confirmation method ("enum", "sms", "email").
	Method string `json:"method,omitempty"`
	// IP is the client's address.
	IP string `json:"ip,omitempty"`
	// UserAgent is the client's User-Agent.
	UserAgent string `json:"user_agent,omitempty"`
	// ChallengeID is the challenge concerned.
	ChallengeID string `json:"challenge_id,omitempty"`
	// Reason says why, in a few words, where there is one.
	Reason string `json:"reason,omitempty"`
	// Detail describes an account change (e.g. which address was
	// added), never a code or a key.
	Detail string `json:"detail,omitempty"`
}

// Bounds of an Entry's fields, in bytes.
const (
	// MaxEventLen bounds Entry.Event.
	MaxEventLen = 64
	// MaxFieldLen bounds Operation, Amount, Currency, Payee, Method, IP,
	// UserAgent, ChallengeID and Reason.
	MaxFieldLen = 256
	// MaxDetailLen bounds Detail.
	MaxDetailLen = 1024
	// MaxUserLen bounds user ids (challenge.MaxUserIDLen).
	MaxUserLen = challenge.MaxUserIDLen
)

// Bounds of Page.
const (
	// DefaultLimit is the page size when Page is given 0.
	DefaultLimit = 20
	// MaxLimit is the largest page.
	MaxLimit = 100
	// MaxCursorLen bounds a cursor: two 20-digit numbers and a dash.
	MaxCursorLen = 41
)

// Defaults of retention, for Memory and Redis.
const (
	// DefaultMaxEntries is how many entries a user's journal keeps.
	DefaultMaxEntries = 1000
	// DefaultMaxAge is how long entries are kept: 90 days.
	DefaultMaxAge = 90 * 24 * time.Hour
)

// Errors. Implementations wrap them with context; test with errors.Is.
var (
	// ErrBadCursor: a cursor that does not parse.
	ErrBadCursor = errors.New("journal: bad cursor")
	// ErrBadLimit: a page size outside 0..MaxLimit.
	ErrBadLimit = errors.New("journal: bad limit")
	// ErrBadUser: an empty or too long user id.
	ErrBadUser = errors.New("journal: bad user id")
	// ErrBadEntry: an entry with a missing or malformed event name, a
	// field over its bound or not valid UTF-8.
	ErrBadEntry = errors.New("journal: bad entry")
	// ErrClosed: the journal was closed.
	ErrClosed = errors.New("journal: closed")
)

// Journal stores the entries of each user. Implementations are safe for
// concurrent use.
type Journal interface {
	// Append adds e to user's journal as its newest entry, applying the
	// retention bounds.
	Append(ctx context.Context, user string, e Entry) error
	// Page returns up to limit of user's entries (0: DefaultLimit),
	// newest first, older than the cursor before ("" for the newest), and
	// the cursor of the next page ("" when there are no older entries).
	Page(ctx context.Context, user string, limit int, before string) (entries []Entry, next string, err error)
	// Close releases the journal; later calls fail with ErrClosed.
	// Redis leaves the client open (it belongs to the caller).
	Close()
}

// CheckUser returns ErrBadUser (wrapped) unless user is 1 to MaxUserLen
// bytes.
func CheckUser(user string) error {
	if user == "" || len(user) > MaxUserLen {
		return fmt.Errorf("%w: must be 1 to %d bytes", ErrBadUser, MaxUserLen)
	}
	return nil
}

// checkLimit returns the page size limit asks for.
func checkLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultLimit, nil
	case limit < 0 || limit > MaxLimit:
		return 0, fmt.Errorf("%w: %d is not 1 to %d", ErrBadLimit, limit, MaxLimit)
	}
	return limit, nil
}

// Validate returns ErrBadEntry (wrapped, naming the field) unless e's
// event name is well formed and every field is valid UTF-8 within its
// bound.
func (e Entry) Validate() error {
	if e.Event == "" || len(e.Event) > MaxEventLen {
		return fmt.Errorf("%w: event must be 1 to %d bytes", ErrBadEntry, MaxEventLen)
	}
	for i := 0; i < len(e.Event); i++ {
		if c := e.Event[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return fmt.Errorf("%w: event may hold only a-z, 0-9, '_' and '.'", ErrBadEntry)
		}
	}
	for _, f := range e.fields() {
		if len(*f.v) > f.max {
			return fmt.Errorf("%w: %s is longer than %d bytes", ErrBadEntry, f.name, f.max)
		}
		if !utf8.ValidString(*f.v) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrBadEntry, f.name)
		}
	}
	return nil
}

type field struct {
	name string
	v    *string
	max  int
}

func (e *Entry) fields() [10]field {
	return [10]field{
		{"operation", &e.Operation, MaxFieldLen}, {"amount", &e.Amount, MaxFieldLen},
		{"currency", &e.Currency, MaxFieldLen}, {"payee", &e.Payee, MaxFieldLen},
		{"method", &e.Method, MaxFieldLen}, {"ip", &e.IP, MaxFieldLen},
		{"user_agent", &e.UserAgent, MaxFieldLen}, {"challenge_id", &e.ChallengeID, MaxFieldLen},
		{"reason", &e.Reason, MaxFieldLen}, {"detail", &e.Detail, MaxDetailLen},
	}
}

// size estimates the memory e takes.
func (e *Entry) size() int {
	n := 64 + len(e.Event) // the struct, the time, the id
	for _, f := range e.fields() {
		n += len(*f.v)
	}
	return n
}

// FromEvent returns the journal entry of a challenge event and the user
// it belongs to; ok is false for an event without a user. The entry
// carries the event's kind as its name, its time, operation, amount,
// currency, payee, method, client, challenge id and reason — never its
// error, which may quote a sender's reply — with invalid UTF-8 replaced
// and every field cut to its bound, so Append accepts it.
func FromEvent(ev challenge.Event) (user string, e Entry, ok bool) {
	if CheckUser(ev.User) != nil {
		return "", Entry{}, false
	}
	e = Entry{
		At: ev.Time, Event: string(ev.Kind), Operation: ev.Operation, Amount: ev.Amount, Currency: ev.Currency,
		Payee: ev.Payee, Method: string(ev.Method), IP: ev.ClientIP, UserAgent: ev.UserAgent,
		ChallengeID: ev.ChallengeID, Reason: ev.Reason,
	}
	if e.Validate() != nil {
		e.Event = clipEvent(e.Event)
		for _, f := range e.fields() {
			*f.v = clip(*f.v, f.max)
		}
	}
	return ev.User, e, true
}

// clipEvent makes an event name valid: other bytes become '_'.
func clipEvent(s string) string {
	if s == "" {
		return "unknown"
	}
	b := []byte(s[:min(len(s), MaxEventLen)])
	for i, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// clip returns s as valid UTF-8 of at most n bytes, cut at a rune.
func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = toValidUTF8(s)
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func toValidUTF8(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+w]...)
		}
		i += w
	}
	return string(b)
}

// id is an entry's position: the millisecond it was appended and a
// sequence number within that millisecond, ordered as a Redis stream id.
type id struct{ ms, seq uint64 }

func (a id) less(b id) bool { return a.ms < b.ms || a.ms == b.ms && a.seq < b.seq }

// String formats the id as a cursor, "<ms>-<seq>".
func (a id) String() string {
	var b [MaxCursorLen]byte
	out := strconv.AppendUint(b[:0], a.ms, 10)
	out = append(out, '-')
	return string(strconv.AppendUint(out, a.seq, 10))
}

// ParseCursor checks a cursor and returns it in its parts: the
// millisecond and the sequence number of the entry it follows. Only the
// canonical form "<ms>-<seq>" (decimal, no sign, no leading zeros, each
// part fitting 64 bits) parses, so each position has exactly one cursor;
// anything else is ErrBadCursor.
func ParseCursor(s string) (ms, seq uint64, err error) {
	a, err := parseID(s)
	return a.ms, a.seq, err
}

func parseID(s string) (id, error) {
	if len(s) > MaxCursorLen {
		return id{}, fmt.Errorf("%w: longer than %d bytes", ErrBadCursor, MaxCursorLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			ms, ok1 := parseUint(s[:i])
			seq, ok2 := parseUint(s[i+1:])
			if !ok1 || !ok2 {
				break
			}
			return id{ms, seq}, nil
		}
	}
	return id{}, fmt.Errorf("%w: not a cursor this journal handed out", ErrBadCursor)
}

// parseUint parses canonical decimal: digits only, no leading zero.
func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// cutoff returns the oldest append time (ms) maxAge keeps at now.
func cutoff(now time.Time, maxAge time.Duration) uint64 {
	c := now.Add(-maxAge).UnixMilli()
	if c < 0 {
		return 0
	}
	return uint64(c)
}

// nowMS returns now in ms since the epoch (0 before it).
func nowMS(now time.Time) uint64 {
	if ms := now.UnixMilli(); ms > 0 {
		return uint64(ms)
	}
	return 0
}
