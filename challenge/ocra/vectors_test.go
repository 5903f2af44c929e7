package ocra_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/ocratest"
)

func vectorInput(v ocratest.Vector) ocra.Input {
	return ocra.Input{
		Counter:      v.Counter,
		HasCounter:   v.HasCounter,
		Question:     v.Question,
		Mutual:       v.Mutual,
		PIN:          v.PIN,
		Timestamp:    v.TimestampValue(),
		HasTimestamp: v.HasTimestamp,
	}
}

func TestComputeReproducesAllAppendixCVectors(t *testing.T) {
	if len(ocratest.Vectors) != 70 {
		t.Fatalf("len(ocratest.Vectors) = %d, want 70", len(ocratest.Vectors))
	}
	for _, v := range ocratest.Vectors {
		t.Run(v.Name(), func(t *testing.T) {
			s, err := ocra.ParseSuite(v.Suite)
			if err != nil {
				t.Fatal(err)
			}
			in := vectorInput(v)
			got, err := s.Compute(v.Key(), in)
			if err != nil {
				t.Fatal(err)
			}
			if got != v.Want {
				t.Fatalf("Compute = %s, want %s", got, v.Want)
			}
			ok, err := s.Verify(v.Key(), in, v.Want)
			if err != nil || !ok {
				t.Fatalf("Verify(RFC value) = %v, %v; want true, nil", ok, err)
			}
			if v.PIN != "" { // the same with the pre-hashed PIN
				in.PIN = ""
				in.PINHash, _ = hex.DecodeString(ocratest.PINHashSHA1)
				if got, err := s.Compute(v.Key(), in); err != nil || got != v.Want {
					t.Fatalf("Compute with PINHash = %s, %v; want %s", got, err, v.Want)
				}
			}
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The DataInput of one vector of each kind, written out field by field.
func TestDataInputLayoutMatchesReferenceImplementation(t *testing.T) {
	zeros := func(n int) []byte { return make([]byte, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name  string
		suite string
		in    ocra.Input
		want  []byte
	}{
		{
			name:  "counter, numeric question, SHA1 PIN",
			suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
			in:    ocra.Input{Counter: 1, HasCounter: true, Question: "12345678", PIN: "1234"},
			want: cat([]byte("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1\x00"),
				mustHex(t, "0000000000000001"),
				mustHex(t, "bc614e"), zeros(125), // 12345678 = 0xbc614e
				mustHex(t, ocratest.PINHashSHA1)),
		},
		{
			name:  "numeric question with an odd count of hex digits is shifted one nibble",
			suite: "OCRA-1:HOTP-SHA1-6:QN08",
			in:    ocra.Input{Question: "00000001"}, // "1" padded with '0' -> 0x10 0x00...
			want:  cat([]byte("OCRA-1:HOTP-SHA1-6:QN08\x00"), []byte{0x10}, zeros(127)),
		},
		{
			name:  "numeric zero",
			suite: "OCRA-1:HOTP-SHA1-6:QN08",
			in:    ocra.Input{Question: "00000000"},
			want:  cat([]byte("OCRA-1:HOTP-SHA1-6:QN08\x00"), zeros(128)),
		},
		{
			name:  "numeric 22222222 = 0x153158e0",
			suite: "OCRA-1:HOTP-SHA1-6:QN08",
			in:    ocra.Input{Question: "22222222"},
			want:  cat([]byte("OCRA-1:HOTP-SHA1-6:QN08\x00"), mustHex(t, "153158e0"), zeros(124)),
		},
		{
			name:  "alphanumeric question is its bytes, timestamp 8 bytes",
			suite: "OCRA-1:HOTP-SHA512-8:QA10-T1M",
			in:    ocra.Input{Question: "SIG1000000", Timestamp: 0x132d0b6, HasTimestamp: true},
			want: cat([]byte("OCRA-1:HOTP-SHA512-8:QA10-T1M\x00"),
				[]byte("SIG1000000"), zeros(118),
				mustHex(t, "000000000132d0b6")),
		},
		{
			name:  "hexadecimal question used as is, odd length padded with 0",
			suite: "OCRA-1:HOTP-SHA1-6:QH10-S004",
			in:    ocra.Input{Question: "00aBc", Session: []byte{1, 2, 3, 4}},
			want: cat([]byte("OCRA-1:HOTP-SHA1-6:QH10-S004\x00"),
				[]byte{0x00, 0xab, 0xc0}, zeros(125),
				[]byte{1, 2, 3, 4}),
		},
		{
			name:  "SHA256 and SHA512 PIN hashes",
			suite: "OCRA-1:HOTP-SHA1-6:QN08-PSHA512",
			in:    ocra.Input{Question: "1", PIN: "1234"},
			want: cat([]byte("OCRA-1:HOTP-SHA1-6:QN08-PSHA512\x00"), []byte{0x10}, zeros(127),
				mustHex(t, "d404559f602eab6fd602ac7680dacbfaadd13630335e951f097af3900e9de176b6db28512f2e000b9d04fba5133e8b1c6e8df59db3a8ab9d60be4b97cc9e81db")),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ocra.ParseSuite(tt.suite)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.DataInput(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("DataInput =\n%x\nwant\n%x", got, tt.want)
			}
			if len(got) != s.DataInputLen() {
				t.Fatalf("len = %d, DataInputLen = %d", len(got), s.DataInputLen())
			}
		})
	}
}
