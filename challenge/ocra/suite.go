package ocra

import (
	"strconv"
	"strings"
	"time"
)

// DefaultSuite is the suite enumgate uses unless an operator configures
// another: HMAC-SHA256, 8 digits, a numeric question of up to 8 digits.
const DefaultSuite = "OCRA-1:HOTP-SHA256-8:QN08"

// maxSuiteLen bounds suite strings; the longest valid one,
// "OCRA-1:HOTP-SHA512-10:C-QA64-PSHA512-S999-T59M", has 46 bytes.
const maxSuiteLen = 64

// hashAlg identifies a hash function of the SHA family.
type hashAlg uint8

const (
	hashNone hashAlg = iota
	hashSHA1
	hashSHA256
	hashSHA512
)

func (h hashAlg) String() string {
	switch h {
	case hashSHA1:
		return "SHA1"
	case hashSHA256:
		return "SHA256"
	case hashSHA512:
		return "SHA512"
	}
	return ""
}

// size is the digest size in bytes.
func (h hashAlg) size() int {
	switch h {
	case hashSHA1:
		return 20
	case hashSHA256:
		return 32
	case hashSHA512:
		return 64
	}
	return 0
}

func parseHash(s string) hashAlg {
	switch s {
	case "SHA1":
		return hashSHA1
	case "SHA256":
		return hashSHA256
	case "SHA512":
		return hashSHA512
	}
	return hashNone
}

// Suite is a parsed and validated OCRA suite (RFC 6287 §6). It is immutable
// and safe for concurrent use. The zero value is not valid; use [ParseSuite].
type Suite struct {
	str     string
	hash    hashAlg
	digits  int
	qFormat byte
	qMax    int
	counter bool
	pin     hashAlg
	session int
	step    time.Duration
}

// ParseSuite parses and validates an OCRA suite string such as
// "OCRA-1:HOTP-SHA256-8:QN08". The grammar is
//
//	OCRA-1:HOTP-H-t:[C-]QFxx[-PH][-Snnn][-TG]
//
// where H is SHA1, SHA256 or SHA512; t is 0 (no truncation) or 4 to 10; F is
// A (alphanumeric), N (numeric) or H (hexadecimal) and xx the maximum question
// length, two digits from 04 to 64; Snnn the session length in bytes, three
// digits from 001 to 999; and G the time-step: 1-59S, 1-59M or 1-48H, without
// leading zeros. The DataInput components must appear in that order, each at
// most once, and Q is required. Suite strings are case-sensitive.
//
// Every error is a [*SuiteError] naming the offending part.
func ParseSuite(s string) (*Suite, error) {
	if s == "" {
		return nil, suiteErr(s, "", "empty suite string")
	}
	if len(s) > maxSuiteLen {
		return nil, suiteErr(s, "", "too long ("+strconv.Itoa(len(s))+" bytes; a valid suite has at most 46)")
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return nil, suiteErr(s, "", "want three colon-separated parts Algorithm:CryptoFunction:DataInput, got "+strconv.Itoa(len(parts)))
	}
	su := &Suite{str: s}
	if parts[0] != "OCRA-1" {
		reason := `unsupported algorithm (want "OCRA-1")`
		if strings.EqualFold(parts[0], "OCRA-1") {
			reason = `algorithm must be upper-case "OCRA-1" (suite strings are case-sensitive)`
		}
		return nil, suiteErr(s, parts[0], reason)
	}
	if err := su.parseCryptoFunction(parts[1]); err != nil {
		return nil, err
	}
	if err := su.parseDataInput(parts[2]); err != nil {
		return nil, err
	}
	return su, nil
}

func suiteErr(suite, part, reason string) *SuiteError {
	if len(suite) > maxSuiteLen+16 {
		suite = suite[:maxSuiteLen] + "..."
	}
	if len(part) > maxSuiteLen+16 {
		part = part[:maxSuiteLen] + "..."
	}
	return &SuiteError{Suite: suite, Part: part, Reason: reason}
}

// parseCryptoFunction parses "HOTP-H-t".
func (su *Suite) parseCryptoFunction(cf string) error {
	if cf == "" {
		return suiteErr(su.str, cf, "empty CryptoFunction (want HOTP-H-t, e.g. HOTP-SHA256-8)")
	}
	f := strings.Split(cf, "-")
	if len(f) != 3 {
		return suiteErr(su.str, cf, "CryptoFunction must be HOTP-H-t, e.g. HOTP-SHA256-8")
	}
	if f[0] != "HOTP" {
		return suiteErr(su.str, cf, `unsupported function "`+f[0]+`" (want HOTP)`)
	}
	if su.hash = parseHash(f[1]); su.hash == hashNone {
		return suiteErr(su.str, cf, `unsupported hash function "`+f[1]+`" (want SHA1, SHA256 or SHA512)`)
	}
	d, ok := smallDecimal(f[2], 2)
	if !ok || (d != 0 && (d < 4 || d > 10)) {
		return suiteErr(su.str, cf, `truncation "`+f[2]+`" must be 0 (no truncation) or 4 to 10 digits, without leading zeros`)
	}
	su.digits = d
	return nil
}

// Ranks of the DataInput components, which must appear in this order.
const (
	rankC = iota + 1
	rankQ
	rankP
	rankS
	rankT
)

var rankName = [...]string{rankC: "C", rankQ: "Q", rankP: "P", rankS: "S", rankT: "T"}

// parseDataInput parses "[C-]QFxx[-PH][-Snnn][-TG]".
func (su *Suite) parseDataInput(di string) error {
	if di == "" {
		return suiteErr(su.str, di, "empty DataInput (want at least a question, e.g. QN08)")
	}
	last := 0
	for tok := range strings.SplitSeq(di, "-") {
		var rank int
		var err error
		switch {
		case tok == "":
			return suiteErr(su.str, di, "empty component (doubled, leading or trailing '-')")
		case tok[0] == 'C':
			rank, err = rankC, su.parseCounter(tok)
		case tok[0] == 'Q':
			rank, err = rankQ, su.parseQuestion(tok)
		case tok[0] == 'P':
			rank, err = rankP, su.parsePIN(tok)
		case tok[0] == 'S':
			rank, err = rankS, su.parseSession(tok)
		case tok[0] == 'T':
			rank, err = rankT, su.parseTime(tok)
		default:
			return suiteErr(su.str, tok, "unknown DataInput component (want C, QFxx, PH, Snnn or TG)")
		}
		if err != nil {
			return err
		}
		switch {
		case rank == last:
			return suiteErr(su.str, tok, "duplicate "+rankName[rank]+" component")
		case rank < last:
			return suiteErr(su.str, tok, rankName[rank]+" component out of order (the order is [C-]QFxx[-PH][-Snnn][-TG])")
		case rank > rankQ && last < rankQ:
			return suiteErr(su.str, tok, "the question component QFxx must come before "+rankName[rank])
		}
		last = rank
	}
	if last < rankQ {
		return suiteErr(su.str, di, "missing question component QFxx (e.g. QN08)")
	}
	return nil
}

func (su *Suite) parseCounter(tok string) error {
	if tok != "C" {
		return suiteErr(su.str, tok, `counter component must be exactly "C"`)
	}
	su.counter = true
	return nil
}

func (su *Suite) parseQuestion(tok string) error {
	if len(tok) != 4 {
		return suiteErr(su.str, tok, "question component must be QFxx: F one of A, N, H and xx two digits 04 to 64")
	}
	switch tok[1] {
	case 'A', 'N', 'H':
	default:
		return suiteErr(su.str, tok, "unknown question format '"+tok[1:2]+"' (want A, N or H)")
	}
	n, ok := fixedDecimal(tok[2:])
	if !ok || n < 4 || n > 64 {
		return suiteErr(su.str, tok, `question length "`+tok[2:]+`" must be two digits from 04 to 64`)
	}
	su.qFormat, su.qMax = tok[1], n
	return nil
}

func (su *Suite) parsePIN(tok string) error {
	if tok == "P" {
		return suiteErr(su.str, tok, "PIN component needs its hash function, e.g. PSHA1")
	}
	if su.pin = parseHash(tok[1:]); su.pin == hashNone {
		return suiteErr(su.str, tok, `unsupported PIN hash function "`+tok[1:]+`" (want SHA1, SHA256 or SHA512)`)
	}
	return nil
}

func (su *Suite) parseSession(tok string) error {
	n, ok := fixedDecimal(tok[1:])
	if len(tok) != 4 || !ok {
		return suiteErr(su.str, tok, "session component must be Snnn with a three-digit length in bytes, e.g. S064")
	}
	if n == 0 {
		return suiteErr(su.str, tok, "session length must be at least 1 byte")
	}
	su.session = n
	return nil
}

func (su *Suite) parseTime(tok string) error {
	const form = "time-step component must be TG with G one of 1-59S, 1-59M, 1-48H (no leading zeros), e.g. T1M"
	if len(tok) < 3 {
		return suiteErr(su.str, tok, form)
	}
	n, ok := smallDecimal(tok[1:len(tok)-1], 2)
	if !ok {
		return suiteErr(su.str, tok, form)
	}
	var unit time.Duration
	var maxN int
	switch tok[len(tok)-1] {
	case 'S':
		unit, maxN = time.Second, 59
	case 'M':
		unit, maxN = time.Minute, 59
	case 'H':
		unit, maxN = time.Hour, 48
	default:
		return suiteErr(su.str, tok, form)
	}
	if n == 0 {
		return suiteErr(su.str, tok, "time-step must not be zero")
	}
	if n > maxN {
		return suiteErr(su.str, tok, "time-step out of range (seconds and minutes 1-59, hours 1-48)")
	}
	su.step = time.Duration(n) * unit
	return nil
}

// smallDecimal parses 1 to maxLen ASCII digits without a leading zero (except
// "0" itself).
func smallDecimal(s string, maxLen int) (int, bool) {
	if len(s) == 0 || len(s) > maxLen || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	return fixedDecimal(s)
}

// fixedDecimal parses a non-empty string of at most 3 ASCII digits, leading
// zeros allowed.
func fixedDecimal(s string) (int, bool) {
	if len(s) == 0 || len(s) > 3 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// String returns the suite string, exactly as given to ParseSuite (which only
// accepts canonical spellings). It is the string hashed into the DataInput.
func (s *Suite) String() string { return s.str }

// Digits returns the truncation: the number of decimal digits of a response,
// 4 to 10, or 0 for no truncation, in which case a response is the full HMAC
// in lower-case hexadecimal (2×Size() characters).
func (s *Suite) Digits() int { return s.digits }

// ResponseLen returns the length in characters of a response: Digits(), or
// twice the HMAC size when Digits() is 0.
func (s *Suite) ResponseLen() int {
	if s.digits == 0 {
		return 2 * s.hash.size()
	}
	return s.digits
}

// Hash returns the HMAC hash function: "SHA1", "SHA256" or "SHA512".
func (s *Suite) Hash() string { return s.hash.String() }

// QuestionFormat returns the question format: 'A' (alphanumeric), 'N'
// (numeric) or 'H' (hexadecimal).
func (s *Suite) QuestionFormat() byte { return s.qFormat }

// QuestionMaxLen returns the maximum length in characters of a question,
// 4 to 64 (of each of the two questions in mutual mode).
func (s *Suite) QuestionMaxLen() int { return s.qMax }

// HasCounter reports whether the suite uses a counter (C).
func (s *Suite) HasCounter() bool { return s.counter }

// PINHash returns the hash function applied to the PIN ("SHA1", "SHA256" or
// "SHA512"), or "" if the suite uses no PIN.
func (s *Suite) PINHash() string { return s.pin.String() }

// SessionLen returns the length in bytes of the session information, or 0 if
// the suite uses none.
func (s *Suite) SessionLen() int { return s.session }

// TimeStep returns the size of a time-step, or 0 if the suite uses no
// timestamp.
func (s *Suite) TimeStep() time.Duration { return s.step }
