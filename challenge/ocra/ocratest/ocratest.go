// Package ocratest holds the test vectors of RFC 6287 Appendix C
// (https://www.rfc-editor.org/rfc/rfc6287#appendix-C) as data, so that any
// implementation or command built on package ocra can check itself against
// all of them. It imports nothing from this repository.
package ocratest

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// The keys of RFC 6287 Appendix C, hexadecimal: the ASCII digits
// "1234567890" repeated and cut to 20, 32 and 64 bytes.
const (
	Key20 = "3132333435363738393031323334353637383930"
	Key32 = Key20 + "313233343536373839303132"
	Key64 = Key20 + Key20 + Key20 + "31323334"
)

// PIN is the PIN of the RFC's PIN suites; PINHashSHA1 is its SHA-1 hash as
// printed in the RFC.
const (
	PIN         = "1234"
	PINHashSHA1 = "7110eda4d09e062aa5e4a390b0a572ac0d2c0220"
)

// Timestamp is the T value of the RFC's T1M suites: 0x132d0b6 minutes since
// the Unix epoch, 2008-03-25 12:06:00 UTC.
const Timestamp = "132d0b6"

// Vector is one row of RFC 6287 Appendix C.
type Vector struct {
	Section string // "C.1" one-way, "C.2" mutual, "C.3" signature
	Role    string // C.2 only: "server" or "client" computation
	Suite   string
	KeyHex  string // one of Key20, Key32, Key64

	Counter    uint64
	HasCounter bool

	// Question as printed in the RFC. In C.2 it is the concatenation of
	// the two parties' questions (Mutual is true), so it may be twice as
	// long as the suite's question length.
	Question string
	Mutual   bool

	PIN string // raw PIN, "" if the suite has none

	Timestamp    string // hexadecimal time-steps as printed in the RFC, "" if none
	HasTimestamp bool

	Want string // the OCRA value
}

// Key returns the decoded key.
func (v Vector) Key() []byte {
	k, err := hex.DecodeString(v.KeyHex)
	if err != nil {
		panic("ocratest: bad key in table: " + err.Error())
	}
	return k
}

// TimestampValue returns the decoded Timestamp (0 if there is none).
func (v Vector) TimestampValue() uint64 {
	if !v.HasTimestamp {
		return 0
	}
	t, err := strconv.ParseUint(v.Timestamp, 16, 64)
	if err != nil {
		panic("ocratest: bad timestamp in table: " + err.Error())
	}
	return t
}

// Name returns a short unique name for subtests, e.g.
// "C.1/OCRA-1:HOTP-SHA1-6:QN08/Q=00000000".
func (v Vector) Name() string {
	var b strings.Builder
	b.WriteString(v.Section)
	if v.Role != "" {
		b.WriteString("/" + v.Role)
	}
	b.WriteString("/" + v.Suite)
	if v.HasCounter {
		fmt.Fprintf(&b, "/C=%d", v.Counter)
	}
	b.WriteString("/Q=" + v.Question)
	if v.HasTimestamp {
		b.WriteString("/T=" + v.Timestamp)
	}
	return b.String()
}

// Vectors are all 70 test vectors of RFC 6287 Appendix C, in the RFC's
// order: C.1 one-way challenge-response (40), C.2 mutual challenge-response
// (20), C.3 plain signature (10). Keys: "Standard 20Byte", "Standard 32Byte"
// and "Standard 64Byte" of the RFC are Key20, Key32 and Key64.
var Vectors = []Vector{
	// C.1 One-Way Challenge-Response.
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA1-6:QN08", KeyHex: Key20, Question: "00000000", Want: "237653"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA1-6:QN08", KeyHex: Key20, Question: "11111111", Want: "243178"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA1-6:QN08", KeyHex: Key20, Question: "22222222", Want: "653583"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA1-6:QN08", KeyHex: Key20, Question: "33333333", Want: "740991"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA1-6:QN08", KeyHex: Key20, Question: "44444444", Want: "608993"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA1-6:QN08", KeyHex: Key20, Question: "55555555", Want: "388898"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA1-6:QN08", KeyHex: Key20, Question: "66666666", Want: "816933"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA1-6:QN08", KeyHex: Key20, Question: "77777777", Want: "224598"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA1-6:QN08", KeyHex: Key20, Question: "88888888", Want: "750600"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA1-6:QN08", KeyHex: Key20, Question: "99999999", Want: "294470"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KeyHex: Key32, Counter: 0, HasCounter: true, Question: "12345678", PIN: PIN, Want: "65347737"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KeyHex: Key32, Counter: 1, HasCounter: true, Question: "12345678", PIN: PIN, Want: "86775851"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KeyHex: Key32, Counter: 2, HasCounter: true, Question: "12345678", PIN: PIN, Want: "78192410"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KeyHex: Key32, Counter: 3, HasCounter: true, Question: "12345678", PIN: PIN, Want: "71565254"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KeyHex: Key32, Counter: 4, HasCounter: true, Question: "12345678", PIN: PIN, Want: "10104329"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KeyHex: Key32, Counter: 5, HasCounter: true, Question: "12345678", PIN: PIN, Want: "65983500"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KeyHex: Key32, Counter: 6, HasCounter: true, Question: "12345678", PIN: PIN, Want: "70069104"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KeyHex: Key32, Counter: 7, HasCounter: true, Question: "12345678", PIN: PIN, Want: "91771096"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KeyHex: Key32, Counter: 8, HasCounter: true, Question: "12345678", PIN: PIN, Want: "75011558"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KeyHex: Key32, Counter: 9, HasCounter: true, Question: "12345678", PIN: PIN, Want: "08522129"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KeyHex: Key32, Question: "00000000", PIN: PIN, Want: "83238735"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KeyHex: Key32, Question: "11111111", PIN: PIN, Want: "01501458"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KeyHex: Key32, Question: "22222222", PIN: PIN, Want: "17957585"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KeyHex: Key32, Question: "33333333", PIN: PIN, Want: "86776967"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KeyHex: Key32, Question: "44444444", PIN: PIN, Want: "86807031"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:C-QN08", KeyHex: Key64, Counter: 0, HasCounter: true, Question: "00000000", Want: "07016083"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:C-QN08", KeyHex: Key64, Counter: 1, HasCounter: true, Question: "11111111", Want: "63947962"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:C-QN08", KeyHex: Key64, Counter: 2, HasCounter: true, Question: "22222222", Want: "70123924"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:C-QN08", KeyHex: Key64, Counter: 3, HasCounter: true, Question: "33333333", Want: "25341727"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:C-QN08", KeyHex: Key64, Counter: 4, HasCounter: true, Question: "44444444", Want: "33203315"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:C-QN08", KeyHex: Key64, Counter: 5, HasCounter: true, Question: "55555555", Want: "34205738"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:C-QN08", KeyHex: Key64, Counter: 6, HasCounter: true, Question: "66666666", Want: "44343969"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:C-QN08", KeyHex: Key64, Counter: 7, HasCounter: true, Question: "77777777", Want: "51946085"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:C-QN08", KeyHex: Key64, Counter: 8, HasCounter: true, Question: "88888888", Want: "20403879"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:C-QN08", KeyHex: Key64, Counter: 9, HasCounter: true, Question: "99999999", Want: "31409299"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:QN08-T1M", KeyHex: Key64, Question: "00000000", Timestamp: Timestamp, HasTimestamp: true, Want: "95209754"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:QN08-T1M", KeyHex: Key64, Question: "11111111", Timestamp: Timestamp, HasTimestamp: true, Want: "55907591"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:QN08-T1M", KeyHex: Key64, Question: "22222222", Timestamp: Timestamp, HasTimestamp: true, Want: "22048402"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:QN08-T1M", KeyHex: Key64, Question: "33333333", Timestamp: Timestamp, HasTimestamp: true, Want: "24218844"},
	{Section: "C.1", Suite: "OCRA-1:HOTP-SHA512-8:QN08-T1M", KeyHex: Key64, Question: "44444444", Timestamp: Timestamp, HasTimestamp: true, Want: "36209546"},

	// C.2 Mutual Challenge-Response. The server computes its response over
	// the client's question followed by its own, the client over the
	// server's question followed by its own.
	{Section: "C.2", Role: "server", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "CLI22220SRV11110", Mutual: true, Want: "28247970"},
	{Section: "C.2", Role: "server", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "CLI22221SRV11111", Mutual: true, Want: "01984843"},
	{Section: "C.2", Role: "server", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "CLI22222SRV11112", Mutual: true, Want: "65387857"},
	{Section: "C.2", Role: "server", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "CLI22223SRV11113", Mutual: true, Want: "03351211"},
	{Section: "C.2", Role: "server", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "CLI22224SRV11114", Mutual: true, Want: "83412541"},
	{Section: "C.2", Role: "client", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "SRV11110CLI22220", Mutual: true, Want: "15510767"},
	{Section: "C.2", Role: "client", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "SRV11111CLI22221", Mutual: true, Want: "90175646"},
	{Section: "C.2", Role: "client", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "SRV11112CLI22222", Mutual: true, Want: "33777207"},
	{Section: "C.2", Role: "client", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "SRV11113CLI22223", Mutual: true, Want: "95285278"},
	{Section: "C.2", Role: "client", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "SRV11114CLI22224", Mutual: true, Want: "28934924"},
	{Section: "C.2", Role: "server", Suite: "OCRA-1:HOTP-SHA512-8:QA08", KeyHex: Key64, Question: "CLI22220SRV11110", Mutual: true, Want: "79496648"},
	{Section: "C.2", Role: "server", Suite: "OCRA-1:HOTP-SHA512-8:QA08", KeyHex: Key64, Question: "CLI22221SRV11111", Mutual: true, Want: "76831980"},
	{Section: "C.2", Role: "server", Suite: "OCRA-1:HOTP-SHA512-8:QA08", KeyHex: Key64, Question: "CLI22222SRV11112", Mutual: true, Want: "12250499"},
	{Section: "C.2", Role: "server", Suite: "OCRA-1:HOTP-SHA512-8:QA08", KeyHex: Key64, Question: "CLI22223SRV11113", Mutual: true, Want: "90856481"},
	{Section: "C.2", Role: "server", Suite: "OCRA-1:HOTP-SHA512-8:QA08", KeyHex: Key64, Question: "CLI22224SRV11114", Mutual: true, Want: "12761449"},
	{Section: "C.2", Role: "client", Suite: "OCRA-1:HOTP-SHA512-8:QA08-PSHA1", KeyHex: Key64, Question: "SRV11110CLI22220", Mutual: true, PIN: PIN, Want: "18806276"},
	{Section: "C.2", Role: "client", Suite: "OCRA-1:HOTP-SHA512-8:QA08-PSHA1", KeyHex: Key64, Question: "SRV11111CLI22221", Mutual: true, PIN: PIN, Want: "70020315"},
	{Section: "C.2", Role: "client", Suite: "OCRA-1:HOTP-SHA512-8:QA08-PSHA1", KeyHex: Key64, Question: "SRV11112CLI22222", Mutual: true, PIN: PIN, Want: "01600026"},
	{Section: "C.2", Role: "client", Suite: "OCRA-1:HOTP-SHA512-8:QA08-PSHA1", KeyHex: Key64, Question: "SRV11113CLI22223", Mutual: true, PIN: PIN, Want: "18951020"},
	{Section: "C.2", Role: "client", Suite: "OCRA-1:HOTP-SHA512-8:QA08-PSHA1", KeyHex: Key64, Question: "SRV11114CLI22224", Mutual: true, PIN: PIN, Want: "32528969"},

	// C.3 Plain Signature.
	{Section: "C.3", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "SIG10000", Want: "53095496"},
	{Section: "C.3", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "SIG11000", Want: "04110475"},
	{Section: "C.3", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "SIG12000", Want: "31331128"},
	{Section: "C.3", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "SIG13000", Want: "76028668"},
	{Section: "C.3", Suite: "OCRA-1:HOTP-SHA256-8:QA08", KeyHex: Key32, Question: "SIG14000", Want: "46554205"},
	{Section: "C.3", Suite: "OCRA-1:HOTP-SHA512-8:QA10-T1M", KeyHex: Key64, Question: "SIG1000000", Timestamp: Timestamp, HasTimestamp: true, Want: "77537423"},
	{Section: "C.3", Suite: "OCRA-1:HOTP-SHA512-8:QA10-T1M", KeyHex: Key64, Question: "SIG1100000", Timestamp: Timestamp, HasTimestamp: true, Want: "31970405"},
	{Section: "C.3", Suite: "OCRA-1:HOTP-SHA512-8:QA10-T1M", KeyHex: Key64, Question: "SIG1200000", Timestamp: Timestamp, HasTimestamp: true, Want: "10235557"},
	{Section: "C.3", Suite: "OCRA-1:HOTP-SHA512-8:QA10-T1M", KeyHex: Key64, Question: "SIG1300000", Timestamp: Timestamp, HasTimestamp: true, Want: "95213541"},
	{Section: "C.3", Suite: "OCRA-1:HOTP-SHA512-8:QA10-T1M", KeyHex: Key64, Question: "SIG1400000", Timestamp: Timestamp, HasTimestamp: true, Want: "65360607"},
}
