package ocra_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/ocra"
)

func TestParseSuiteAcceptsValidSuites(t *testing.T) {
	tests := []struct {
		suite    string
		hash     string
		digits   int
		format   byte
		qmax     int
		counter  bool
		pin      string
		session  int
		step     time.Duration
		inputLen int
	}{
		{"OCRA-1:HOTP-SHA1-6:QN08", "SHA1", 6, 'N', 8, false, "", 0, 0, 23 + 1 + 128},
		{"OCRA-1:HOTP-SHA256-8:QN08", "SHA256", 8, 'N', 8, false, "", 0, 0, 25 + 1 + 128},
		{"OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", "SHA256", 8, 'N', 8, true, "SHA1", 0, 0, 33 + 1 + 8 + 128 + 20},
		{"OCRA-1:HOTP-SHA512-8:QN08-T1M", "SHA512", 8, 'N', 8, false, "", 0, time.Minute, 29 + 1 + 128 + 8},
		{"OCRA-1:HOTP-SHA512-8:QA10-T1M", "SHA512", 8, 'A', 10, false, "", 0, time.Minute, 29 + 1 + 128 + 8},
		{"OCRA-1:HOTP-SHA1-0:QH04-S001-T48H", "SHA1", 0, 'H', 4, false, "", 1, 48 * time.Hour, 33 + 1 + 128 + 1 + 8},
		{"OCRA-1:HOTP-SHA256-4:QN10-S064", "SHA256", 4, 'N', 10, false, "", 64, 0, 30 + 1 + 128 + 64},
		{"OCRA-1:HOTP-SHA1-6:QN08-T30S", "SHA1", 6, 'N', 8, false, "", 0, 30 * time.Second, 28 + 1 + 128 + 8},
		{"OCRA-1:HOTP-SHA1-9:QH40-PSHA256-T1H", "SHA1", 9, 'H', 40, false, "SHA256", 0, time.Hour, 35 + 1 + 128 + 32 + 8},
		{"OCRA-1:HOTP-SHA512-10:C-QA64-PSHA512-S999-T59M", "SHA512", 10, 'A', 64, true, "SHA512", 999, 59 * time.Minute, 46 + 1 + 8 + 128 + 64 + 999 + 8},
	}
	for _, tt := range tests {
		t.Run(tt.suite, func(t *testing.T) {
			s, err := ocra.ParseSuite(tt.suite)
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != tt.suite || s.Hash() != tt.hash || s.Digits() != tt.digits ||
				s.QuestionFormat() != tt.format || s.QuestionMaxLen() != tt.qmax ||
				s.HasCounter() != tt.counter || s.PINHash() != tt.pin ||
				s.SessionLen() != tt.session || s.TimeStep() != tt.step || s.DataInputLen() != tt.inputLen {
				t.Errorf("got %q %s %d %c %d %v %q %d %v %d", s, s.Hash(), s.Digits(), s.QuestionFormat(),
					s.QuestionMaxLen(), s.HasCounter(), s.PINHash(), s.SessionLen(), s.TimeStep(), s.DataInputLen())
			}
		})
	}
}

func TestParseSuiteRejects(t *testing.T) {
	tests := []struct {
		name   string
		suite  string
		part   string // wanted SuiteError.Part
		reason string // substring of SuiteError.Reason
	}{
		{"empty string", "", "", "empty suite"},
		{"overlong string", "OCRA-1:HOTP-SHA1-6:QN08" + strings.Repeat("-T1M", 20), "", "too long"},
		{"two parts", "OCRA-1:HOTP-SHA1-6", "", "three colon-separated parts"},
		{"four parts", "OCRA-1:HOTP-SHA1-6:QN08:QN08", "", "three colon-separated parts"},
		{"unknown algorithm version", "OCRA-2:HOTP-SHA1-6:QN08", "OCRA-2", `want "OCRA-1"`},
		{"lower-case algorithm", "ocra-1:HOTP-SHA1-6:QN08", "ocra-1", "case-sensitive"},
		{"empty crypto function", "OCRA-1::QN08", "", "empty CryptoFunction"},
		{"crypto function without truncation", "OCRA-1:HOTP-SHA1:QN08", "HOTP-SHA1", "HOTP-H-t"},
		{"hash written SHA-1", "OCRA-1:HOTP-SHA-1-6:QN08", "HOTP-SHA-1-6", "HOTP-H-t"},
		{"TOTP function", "OCRA-1:TOTP-SHA1-6:QN08", "TOTP-SHA1-6", `unsupported function "TOTP"`},
		{"lower-case function", "OCRA-1:hotp-SHA1-6:QN08", "hotp-SHA1-6", `unsupported function "hotp"`},
		{"unknown hash", "OCRA-1:HOTP-MD5-6:QN08", "HOTP-MD5-6", `unsupported hash function "MD5"`},
		{"SHA384 hash", "OCRA-1:HOTP-SHA384-6:QN08", "HOTP-SHA384-6", `unsupported hash function "SHA384"`},
		{"truncation 1", "OCRA-1:HOTP-SHA1-1:QN08", "HOTP-SHA1-1", "0 (no truncation) or 4 to 10"},
		{"truncation 3", "OCRA-1:HOTP-SHA1-3:QN08", "HOTP-SHA1-3", "0 (no truncation) or 4 to 10"},
		{"truncation 11", "OCRA-1:HOTP-SHA1-11:QN08", "HOTP-SHA1-11", "0 (no truncation) or 4 to 10"},
		{"truncation with leading zero", "OCRA-1:HOTP-SHA1-08:QN08", "HOTP-SHA1-08", "without leading zeros"},
		{"truncation not a number", "OCRA-1:HOTP-SHA1-a0:QN08", "HOTP-SHA1-a0", "truncation"},
		{"truncation empty", "OCRA-1:HOTP-SHA1-:QN08", "HOTP-SHA1-", "truncation"},
		{"empty DataInput", "OCRA-1:HOTP-SHA1-6:", "", "empty DataInput"},
		{"DataInput without question", "OCRA-1:HOTP-SHA1-6:C", "C", "missing question"},
		{"PIN before any question", "OCRA-1:HOTP-SHA1-6:PSHA1", "PSHA1", "must come before P"},
		{"unknown question format", "OCRA-1:HOTP-SHA1-6:QX08", "QX08", "unknown question format 'X'"},
		{"lower-case question format", "OCRA-1:HOTP-SHA1-6:Qn08", "Qn08", "unknown question format 'n'"},
		{"question length 03", "OCRA-1:HOTP-SHA1-6:QN03", "QN03", "04 to 64"},
		{"question length 65", "OCRA-1:HOTP-SHA1-6:QN65", "QN65", "04 to 64"},
		{"question length of one digit", "OCRA-1:HOTP-SHA1-6:QN8", "QN8", "QFxx"},
		{"question length of three digits", "OCRA-1:HOTP-SHA1-6:QN008", "QN008", "QFxx"},
		{"question length not a number", "OCRA-1:HOTP-SHA1-6:QNxx", "QNxx", "04 to 64"},
		{"question without format", "OCRA-1:HOTP-SHA1-6:Q", "Q", "QFxx"},
		{"counter with a value", "OCRA-1:HOTP-SHA1-6:C1-QN08", "C1", `exactly "C"`},
		{"counter after question", "OCRA-1:HOTP-SHA1-6:QN08-C", "C", "out of order"},
		{"duplicate question", "OCRA-1:HOTP-SHA1-6:QN08-QA08", "QA08", "duplicate Q"},
		{"duplicate counter", "OCRA-1:HOTP-SHA1-6:C-C-QN08", "C", "duplicate C"},
		{"duplicate PIN", "OCRA-1:HOTP-SHA1-6:QN08-PSHA1-PSHA1", "PSHA1", "duplicate P"},
		{"PIN after session", "OCRA-1:HOTP-SHA1-6:QN08-S064-PSHA1", "PSHA1", "out of order"},
		{"session after time", "OCRA-1:HOTP-SHA1-6:QN08-T1M-S064", "S064", "out of order"},
		{"doubled separator", "OCRA-1:HOTP-SHA1-6:C--QN08", "C--QN08", "empty component"},
		{"trailing separator", "OCRA-1:HOTP-SHA1-6:QN08-", "QN08-", "empty component"},
		{"leading separator", "OCRA-1:HOTP-SHA1-6:-QN08", "-QN08", "empty component"},
		{"unknown component", "OCRA-1:HOTP-SHA1-6:QN08-X1", "X1", "unknown DataInput component"},
		{"bare PIN (RFC default PSHA1 not expanded)", "OCRA-1:HOTP-SHA1-6:QN08-P", "P", "needs its hash function"},
		{"unknown PIN hash", "OCRA-1:HOTP-SHA1-6:QN08-PMD5", "PMD5", `unsupported PIN hash function "MD5"`},
		{"lower-case PIN hash", "OCRA-1:HOTP-SHA1-6:QN08-Psha1", "Psha1", `unsupported PIN hash function "sha1"`},
		{"bare session (RFC default S064 not expanded)", "OCRA-1:HOTP-SHA1-6:QN08-S", "S", "three-digit length"},
		{"session length of two digits", "OCRA-1:HOTP-SHA1-6:QN08-S64", "S64", "three-digit length"},
		{"session length of four digits", "OCRA-1:HOTP-SHA1-6:QN08-S0640", "S0640", "three-digit length"},
		{"session length not a number", "OCRA-1:HOTP-SHA1-6:QN08-SXXX", "SXXX", "three-digit length"},
		{"session length zero", "OCRA-1:HOTP-SHA1-6:QN08-S000", "S000", "at least 1 byte"},
		{"bare time-step (RFC default T1M not expanded)", "OCRA-1:HOTP-SHA1-6:QN08-T", "T", "1-59S, 1-59M, 1-48H"},
		{"time-step without unit", "OCRA-1:HOTP-SHA1-6:QN08-T10", "T10", "1-59S, 1-59M, 1-48H"},
		{"time-step in days", "OCRA-1:HOTP-SHA1-6:QN08-T1D", "T1D", "1-59S, 1-59M, 1-48H"},
		{"lower-case time-step unit", "OCRA-1:HOTP-SHA1-6:QN08-T1m", "T1m", "1-59S, 1-59M, 1-48H"},
		{"time-step with leading zero", "OCRA-1:HOTP-SHA1-6:QN08-T01M", "T01M", "no leading zeros"},
		{"time-step of three digits", "OCRA-1:HOTP-SHA1-6:QN08-T100M", "T100M", "1-59S, 1-59M, 1-48H"},
		{"zero hours", "OCRA-1:HOTP-SHA1-6:QN08-T0H", "T0H", "must not be zero"},
		{"zero seconds", "OCRA-1:HOTP-SHA1-6:QN08-T0S", "T0S", "must not be zero"},
		{"60 seconds", "OCRA-1:HOTP-SHA1-6:QN08-T60S", "T60S", "out of range"},
		{"60 minutes", "OCRA-1:HOTP-SHA1-6:QN08-T60M", "T60M", "out of range"},
		{"49 hours", "OCRA-1:HOTP-SHA1-6:QN08-T49H", "T49H", "out of range"},
		{"compound time-step", "OCRA-1:HOTP-SHA1-6:QN08-T1H30M", "T1H30M", "1-59S, 1-59M, 1-48H"},
		{"surrounding space", " OCRA-1:HOTP-SHA1-6:QN08", " OCRA-1", "unsupported algorithm"},
		{"trailing space", "OCRA-1:HOTP-SHA1-6:QN08 ", "QN08 ", "QFxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ocra.ParseSuite(tt.suite)
			if err == nil {
				t.Fatalf("ParseSuite(%q) = %v, want error", tt.suite, s)
			}
			if !errors.Is(err, ocra.ErrInvalidSuite) {
				t.Errorf("error %v does not match ErrInvalidSuite", err)
			}
			var se *ocra.SuiteError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SuiteError", err)
			}
			if se.Part != tt.part {
				t.Errorf("Part = %q, want %q (error: %v)", se.Part, tt.part, err)
			}
			if !strings.Contains(se.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", se.Reason, tt.reason)
			}
			if !strings.HasPrefix(err.Error(), "ocra: invalid suite ") {
				t.Errorf("message %q lacks the prefix", err)
			}
			if tt.part != "" && !strings.Contains(err.Error(), `"`+tt.part+`"`) {
				t.Errorf("message %q does not name the bad part %q", err, tt.part)
			}
		})
	}
}

func TestSuiteErrorShortensHugeInput(t *testing.T) {
	_, err := ocra.ParseSuite(strings.Repeat("x", 1<<20))
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("error for a 1 MiB suite: %d bytes", len(err.Error()))
	}
}
