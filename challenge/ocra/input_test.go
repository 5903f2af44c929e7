package ocra_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/enumgate/enumgate/challenge/ocra"
)

func TestComputeRejectsInvalidInput(t *testing.T) {
	key := []byte("12345678901234567890")
	tests := []struct {
		name  string
		suite string
		key   []byte
		in    ocra.Input
		field string
		want  error
	}{
		{"empty key", "OCRA-1:HOTP-SHA1-6:QN08", []byte{}, ocra.Input{Question: "1"}, "key", ocra.ErrMissing},
		{"nil key", "OCRA-1:HOTP-SHA1-6:QN08", nil, ocra.Input{Question: "1"}, "key", ocra.ErrMissing},
		{"empty question", "OCRA-1:HOTP-SHA1-6:QN08", key, ocra.Input{}, "question", ocra.ErrMissing},
		{"letter in numeric question", "OCRA-1:HOTP-SHA1-6:QN08", key, ocra.Input{Question: "1234a678"}, "question", ocra.ErrFormat},
		{"sign in numeric question", "OCRA-1:HOTP-SHA1-6:QN08", key, ocra.Input{Question: "-1"}, "question", ocra.ErrFormat},
		{"space in numeric question", "OCRA-1:HOTP-SHA1-6:QN08", key, ocra.Input{Question: "1234 678"}, "question", ocra.ErrFormat},
		{"punctuation in alphanumeric question", "OCRA-1:HOTP-SHA1-6:QA08", key, ocra.Input{Question: "SIG-1"}, "question", ocra.ErrFormat},
		{"non-ASCII in alphanumeric question", "OCRA-1:HOTP-SHA1-6:QA08", key, ocra.Input{Question: "SIGé"}, "question", ocra.ErrFormat},
		{"non-hex in hexadecimal question", "OCRA-1:HOTP-SHA1-6:QH08", key, ocra.Input{Question: "abcg"}, "question", ocra.ErrFormat},
		{"question one too long", "OCRA-1:HOTP-SHA1-6:QN08", key, ocra.Input{Question: "123456789"}, "question", ocra.ErrTooLong},
		{"two questions without Mutual", "OCRA-1:HOTP-SHA256-8:QA08", key, ocra.Input{Question: "CLI22220SRV11110"}, "question", ocra.ErrTooLong},
		{"mutual question one too long", "OCRA-1:HOTP-SHA256-8:QA08", key, ocra.Input{Question: "CLI22220SRV111101", Mutual: true}, "question", ocra.ErrTooLong},
		{"missing counter", "OCRA-1:HOTP-SHA512-8:C-QN08", key, ocra.Input{Question: "1", Counter: 5}, "counter", ocra.ErrMissing},
		{"counter for a suite without C", "OCRA-1:HOTP-SHA1-6:QN08", key, ocra.Input{Question: "1", HasCounter: true}, "counter", ocra.ErrNotInSuite},
		{"missing PIN", "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", key, ocra.Input{Question: "1"}, "pin", ocra.ErrMissing},
		{"PIN for a suite without P", "OCRA-1:HOTP-SHA1-6:QN08", key, ocra.Input{Question: "1", PIN: "1234"}, "pin", ocra.ErrNotInSuite},
		{"PIN hash for a suite without P", "OCRA-1:HOTP-SHA1-6:QN08", key, ocra.Input{Question: "1", PINHash: make([]byte, 20)}, "pin", ocra.ErrNotInSuite},
		{"PIN hash of the wrong size", "OCRA-1:HOTP-SHA256-8:QN08-PSHA256", key, ocra.Input{Question: "1", PINHash: make([]byte, 20)}, "pin hash", ocra.ErrLength},
		{"empty non-nil PIN hash", "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", key, ocra.Input{Question: "1", PIN: "1234", PINHash: []byte{}}, "pin hash", ocra.ErrLength},
		{"missing session", "OCRA-1:HOTP-SHA1-6:QN08-S064", key, ocra.Input{Question: "1"}, "session", ocra.ErrMissing},
		{"session one byte short", "OCRA-1:HOTP-SHA1-6:QN08-S064", key, ocra.Input{Question: "1", Session: make([]byte, 63)}, "session", ocra.ErrLength},
		{"session one byte long", "OCRA-1:HOTP-SHA1-6:QN08-S064", key, ocra.Input{Question: "1", Session: make([]byte, 65)}, "session", ocra.ErrLength},
		{"session for a suite without S", "OCRA-1:HOTP-SHA1-6:QN08", key, ocra.Input{Question: "1", Session: []byte{1}}, "session", ocra.ErrNotInSuite},
		{"missing timestamp", "OCRA-1:HOTP-SHA512-8:QN08-T1M", key, ocra.Input{Question: "1", Timestamp: 0x132d0b6}, "timestamp", ocra.ErrMissing},
		{"timestamp for a suite without T", "OCRA-1:HOTP-SHA1-6:QN08", key, ocra.Input{Question: "1", HasTimestamp: true}, "timestamp", ocra.ErrNotInSuite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ocra.ParseSuite(tt.suite)
			if err != nil {
				t.Fatal(err)
			}
			check := func(op string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s: no error", op)
				}
				if !errors.Is(err, ocra.ErrInvalidInput) || !errors.Is(err, tt.want) {
					t.Errorf("%s: error %q does not match ErrInvalidInput and %v", op, err, tt.want)
				}
				var ie *ocra.InputError
				if !errors.As(err, &ie) || ie.Field != tt.field {
					t.Errorf("%s: error %#v, want an *InputError for field %q", op, err, tt.field)
				}
				if !strings.Contains(err.Error(), tt.field+": ") {
					t.Errorf("%s: message %q does not name %q", op, err, tt.field)
				}
			}
			r, err := s.Compute(tt.key, tt.in)
			check("Compute", err)
			if r != "" {
				t.Errorf("Compute returned %q with the error", r)
			}
			ok, err := s.Verify(tt.key, tt.in, "000000")
			check("Verify", err)
			if ok {
				t.Error("Verify returned true with an error")
			}
			if tt.field != "key" {
				_, err = s.DataInput(tt.in)
				check("DataInput", err)
			}
		})
	}
}

func TestVerifyRejectsWrongResponses(t *testing.T) {
	s, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA1-6:QN08")
	key := []byte("12345678901234567890")
	in := ocra.Input{Question: "00000000"} // RFC: 237653
	for _, resp := range []string{"", "23765", "2376530", "237654", "337653", " 237653", "237653\n", "２３７６５３"} {
		if ok, err := s.Verify(key, in, resp); ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want false, nil", resp, ok, err)
		}
	}
}

func TestVerifyIgnoresHexCaseWithoutTruncation(t *testing.T) {
	s, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA1-0:QN08")
	key := []byte("12345678901234567890")
	in := ocra.Input{Question: "1"}
	r, err := s.Compute(key, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(r) != 40 || strings.ToLower(r) != r {
		t.Fatalf("Compute = %q, want 40 lower-case hex digits", r)
	}
	for _, resp := range []string{r, strings.ToUpper(r)} {
		if ok, err := s.Verify(key, in, resp); !ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v", resp, ok, err)
		}
	}
}

// Responses, for every truncation, are the RFC 4226 truncation of
// HMAC(key, DataInput) computed independently here with crypto/hmac. 9 and 10
// digits are outside the reference implementation's DIGITS_POWER table; 10
// digits show the whole 31-bit value.
func TestComputeTruncatesHMACOfDataInput(t *testing.T) {
	key := []byte("12345678901234567890")
	in := ocra.Input{Question: "12345678"}
	for _, d := range []int{0, 4, 5, 6, 7, 8, 9, 10} {
		for _, h := range []string{"SHA1", "SHA256", "SHA512"} {
			suite := "OCRA-1:HOTP-" + h + "-" + strconv.Itoa(d) + ":QN08"
			s, err := ocra.ParseSuite(suite)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := s.DataInput(in)
			if err != nil {
				t.Fatal(err)
			}
			newHash := map[string]func() hash.Hash{"SHA1": sha1.New, "SHA256": sha256.New, "SHA512": sha512.New}[h]
			m := hmac.New(newHash, key)
			m.Write(msg)
			raw := m.Sum(nil)
			want := hex.EncodeToString(raw)
			if d > 0 {
				off := raw[len(raw)-1] & 0x0f
				bin := uint64(raw[off]&0x7f)<<24 | uint64(raw[off+1])<<16 | uint64(raw[off+2])<<8 | uint64(raw[off+3])
				want = fmt.Sprintf("%0*d", d, bin%uint64(math.Pow10(d)))
			}
			got, err := s.Compute(key, in)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: %s, want %s", suite, got, want)
			}
			if len(got) != s.ResponseLen() {
				t.Errorf("%s: len %d, ResponseLen %d", suite, len(got), s.ResponseLen())
			}
		}
	}
}
