package ocra

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"strconv"
)

// questionFieldLen is the fixed size of the question field of the DataInput.
const questionFieldLen = 128

// Input holds the values of one OCRA computation. Which fields are needed
// depends on the suite; a field the suite needs must be set, and a field the
// suite does not use must be left at its zero value (both are checked).
//
// Because 0 is a legal counter and a legal timestamp, the presence of Counter
// and Timestamp is given by HasCounter and HasTimestamp. The PIN is present
// when PIN is non-empty or PINHash is non-nil.
type Input struct {
	// Counter is the counter C (suites with "C"); set HasCounter too.
	Counter uint64
	// HasCounter reports that Counter is given.
	HasCounter bool

	// Question is the challenge question Q in the suite's format: decimal
	// digits (N), ASCII letters and digits (A) or hexadecimal digits, either
	// case (H); 1 to QuestionMaxLen characters.
	Question string
	// Mutual marks mutual challenge-response (RFC 6287 §7.3): Question is
	// then the concatenation of the two parties' questions (client's then
	// server's for the server's response, and the reverse for the client's)
	// and may have up to twice QuestionMaxLen characters.
	Mutual bool

	// PIN is the raw PIN or password (suites with "P"), hashed with the
	// suite's PIN hash function.
	PIN string
	// PINHash is the already hashed PIN; it takes precedence over PIN when
	// non-nil and must have the size of the suite's PIN hash.
	PINHash []byte

	// Session is the session information S (suites with "Snnn"); exactly
	// SessionLen bytes.
	Session []byte

	// Timestamp is the number of time-steps T (suites with "T"), e.g.
	// 0x132d0b6 for T1M at 2008-03-25 12:06 UTC; see [TimeSteps]. Set
	// HasTimestamp too.
	Timestamp uint64
	// HasTimestamp reports that Timestamp is given.
	HasTimestamp bool
}

// DataInputLen returns the length in bytes of the suite's DataInput: the
// suite string, the 0x00 separator, then 8 bytes of counter, 128 bytes of
// question, the PIN hash, the session information and 8 bytes of timestamp,
// each if the suite uses it.
func (s *Suite) DataInputLen() int {
	n := len(s.str) + 1 + questionFieldLen + s.pin.size() + s.session
	if s.counter {
		n += 8
	}
	if s.step != 0 {
		n += 8
	}
	return n
}

// DataInput checks in against the suite and returns the message that is
// HMACed: suite || 0x00 || C || Q || P || S || T, laid out exactly as in the
// reference implementation of RFC 6287 (Appendix A):
//
//   - C: the counter, 8 bytes big-endian.
//   - Q: 128 bytes. The question is turned into a hexadecimal string (a
//     numeric question is converted to a number and written in hexadecimal
//     without leading zeros; an alphanumeric question is written as the
//     hexadecimal form of its bytes; a hexadecimal question is used as is),
//     which is right-padded with '0' to 256 hexadecimal digits. A numeric
//     question whose number has an odd count of hexadecimal digits is thus
//     shifted left by four bits.
//   - P: the hash of the PIN (20, 32 or 64 bytes).
//   - S: the session information, SessionLen bytes.
//   - T: the number of time-steps, 8 bytes big-endian.
func (s *Suite) DataInput(in Input) ([]byte, error) {
	if err := s.check(&in); err != nil {
		return nil, err
	}
	return s.appendDataInput(make([]byte, 0, s.DataInputLen()), &in), nil
}

// check validates in against the suite.
func (s *Suite) check(in *Input) error {
	if err := s.checkQuestion(in.Question, in.Mutual); err != nil {
		return err
	}
	switch {
	case s.counter && !in.HasCounter:
		return inputErr("counter", ErrMissing, "suite "+s.str+" needs a counter")
	case !s.counter && in.HasCounter:
		return inputErr("counter", ErrNotInSuite, "suite "+s.str+" has no counter (C)")
	}
	hasPIN := in.PIN != "" || in.PINHash != nil
	switch {
	case s.pin != hashNone && !hasPIN:
		return inputErr("pin", ErrMissing, "suite "+s.str+" needs a PIN")
	case s.pin == hashNone && hasPIN:
		return inputErr("pin", ErrNotInSuite, "suite "+s.str+" has no PIN (P)")
	case in.PINHash != nil && len(in.PINHash) != s.pin.size():
		return inputErr("pin hash", ErrLength, strconv.Itoa(len(in.PINHash))+" bytes, a "+s.pin.String()+" hash has "+strconv.Itoa(s.pin.size()))
	}
	switch {
	case s.session != 0 && len(in.Session) == 0:
		return inputErr("session", ErrMissing, "suite "+s.str+" needs "+strconv.Itoa(s.session)+" bytes of session information")
	case s.session == 0 && len(in.Session) != 0:
		return inputErr("session", ErrNotInSuite, "suite "+s.str+" has no session information (S)")
	case len(in.Session) != s.session:
		return inputErr("session", ErrLength, strconv.Itoa(len(in.Session))+" bytes, suite "+s.str+" needs exactly "+strconv.Itoa(s.session))
	}
	switch {
	case s.step != 0 && !in.HasTimestamp:
		return inputErr("timestamp", ErrMissing, "suite "+s.str+" needs a timestamp")
	case s.step == 0 && in.HasTimestamp:
		return inputErr("timestamp", ErrNotInSuite, "suite "+s.str+" has no timestamp (T)")
	}
	return nil
}

func (s *Suite) checkQuestion(q string, mutual bool) error {
	if q == "" {
		return inputErr("question", ErrMissing, "the question must not be empty")
	}
	for i := 0; i < len(q); i++ {
		if !s.questionChar(q[i]) {
			return inputErr("question", ErrFormat, "character "+strconv.QuoteRuneToASCII(rune(q[i]))+" at position "+strconv.Itoa(i+1)+" is not "+formatName(s.qFormat))
		}
	}
	maxLen := s.qMax
	if mutual {
		maxLen *= 2
	}
	if len(q) > maxLen {
		d := strconv.Itoa(len(q)) + " characters, suite " + s.str + " allows at most " + strconv.Itoa(maxLen)
		if mutual {
			d += " (two questions of up to " + strconv.Itoa(s.qMax) + ")"
		}
		return inputErr("question", ErrTooLong, d)
	}
	return nil
}

func (s *Suite) questionChar(c byte) bool {
	switch {
	case '0' <= c && c <= '9':
		return true
	case s.qFormat == 'A':
		return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
	case s.qFormat == 'H':
		return 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f'
	}
	return false
}

func formatName(f byte) string {
	switch f {
	case 'A':
		return "alphanumeric (A-Z, a-z, 0-9)"
	case 'H':
		return "hexadecimal (0-9, A-F, a-f)"
	}
	return "a decimal digit"
}

// appendDataInput appends the DataInput for a checked input to dst.
func (s *Suite) appendDataInput(dst []byte, in *Input) []byte {
	dst = append(dst, s.str...)
	dst = append(dst, 0)
	if s.counter {
		dst = binary.BigEndian.AppendUint64(dst, in.Counter)
	}
	start := len(dst)
	dst = append(dst, make([]byte, questionFieldLen)...)
	putQuestion(dst[start:], s.qFormat, in.Question)
	switch {
	case s.pin == hashNone:
	case in.PINHash != nil:
		dst = append(dst, in.PINHash...)
	case s.pin == hashSHA1:
		h := sha1.Sum([]byte(in.PIN))
		dst = append(dst, h[:]...)
	case s.pin == hashSHA256:
		h := sha256.Sum256([]byte(in.PIN))
		dst = append(dst, h[:]...)
	case s.pin == hashSHA512:
		h := sha512.Sum512([]byte(in.PIN))
		dst = append(dst, h[:]...)
	}
	dst = append(dst, in.Session...)
	if s.step != 0 {
		dst = binary.BigEndian.AppendUint64(dst, in.Timestamp)
	}
	return dst
}

// putQuestion writes a checked question into the zeroed 128-byte field q.
func putQuestion(q []byte, format byte, question string) {
	switch format {
	case 'A':
		copy(q, question)
	case 'H':
		for i := 0; i < len(question); i++ {
			v := hexVal(question[i])
			if i%2 == 0 {
				q[i/2] = v << 4
			} else {
				q[i/2] |= v
			}
		}
	case 'N':
		putNumeric(q, question)
	}
}

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// putNumeric writes a decimal question as the reference implementation does:
// new BigInteger(question, 10).toString(16), right-padded with '0' to 256
// hexadecimal digits, decoded to 128 bytes. A question has at most 128
// digits (two questions of 64), a number below 2^426, which fits in 14 32-bit
// limbs and 54 bytes.
func putNumeric(q []byte, digits string) {
	var limbs [14]uint32 // little-endian, base 2^32
	n := 0               // limbs in use
	for i := 0; i < len(digits); {
		k := min(9, len(digits)-i)
		var chunk uint32
		for _, c := range []byte(digits[i : i+k]) {
			chunk = chunk*10 + uint32(c-'0')
		}
		i += k
		carry := uint64(chunk)
		for l := range n {
			v := uint64(limbs[l])*pow10[k] + carry
			limbs[l], carry = uint32(v), v>>32
		}
		if carry != 0 {
			limbs[n] = uint32(carry)
			n++
		}
	}
	var be [4 * len(limbs)]byte
	for l := range n {
		binary.BigEndian.PutUint32(be[len(be)-4*(l+1):], limbs[l])
	}
	b := be[len(be)-4*n:]
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) == 0 {
		return // "0" padded with '0': all zero bytes
	}
	if b[0] >= 0x10 { // even count of hexadecimal digits
		copy(q, b)
		return
	}
	// Odd count: the hexadecimal string starts with a single digit, so the
	// padding shifts the whole number left by one nibble.
	for i := range b {
		v := b[i] << 4
		if i+1 < len(b) {
			v |= b[i+1] >> 4
		}
		q[i] = v
	}
}
