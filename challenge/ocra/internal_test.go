package ocra

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// fastHMAC must equal crypto/hmac for every hash, key length (empty, shorter
// than, equal to and longer than the block size) and message length.
func TestFastHMACEqualsCryptoHMAC(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{1})
	for _, h := range []hashAlg{hashSHA1, hashSHA256, hashSHA512} {
		lens := []int{0, 1, 19, 20, 32, 63, 64, 65, 127, 128, 129, 300}
		for _, kl := range lens {
			for _, ml := range []int{0, 1, 55, 56, 64, 111, 112, 128, 152, 1000} {
				key := make([]byte, kl)
				msg := make([]byte, ml)
				rng.Read(key)
				rng.Read(msg)
				want := stdHMAC(h, nil, key, msg)
				buf := append(make([]byte, h.blockSize()), msg...)
				got := fastHMAC(h, nil, key, buf)
				if !bytes.Equal(got, want) {
					t.Fatalf("%v key %d msg %d: fastHMAC %x, crypto/hmac %x", h, kl, ml, got, want)
				}
			}
		}
	}
}

// The FIPS path (crypto/hmac) and the fast path agree on whole responses,
// including DataInputs too long for the stack buffer.
func TestFastPathEqualsFIPSPath(t *testing.T) {
	for _, suite := range []string{"OCRA-1:HOTP-SHA1-6:QN08", "OCRA-1:HOTP-SHA512-0:C-QA64-PSHA512-S999-T59M"} {
		s, err := ParseSuite(suite)
		if err != nil {
			t.Fatal(err)
		}
		in := Input{Question: "12345678", HasCounter: s.counter, PIN: "0", HasTimestamp: s.step != 0}
		if s.pin == hashNone {
			in.PIN = ""
		}
		in.Session = make([]byte, s.session)
		if err := s.check(&in); err != nil {
			t.Fatal(err)
		}
		key := []byte(strings.Repeat("k", 200))
		want := stdHMAC(s.hash, nil, key, s.appendDataInput(nil, &in))
		if got := s.fastMAC(nil, key, &in); !bytes.Equal(got, want) {
			t.Errorf("%s: fast %x, std %x", suite, got, want)
		}
	}
}

// referenceNumeric is the reference implementation's handling of a numeric
// question, with math/big: BigInteger(q, 10).toString(16), right-padded with
// '0' to 256 hexadecimal digits, decoded.
func referenceNumeric(q string) []byte {
	n, _ := new(big.Int).SetString(q, 10)
	h := n.Text(16)
	h += strings.Repeat("0", 256-len(h))
	b, _ := hex.DecodeString(h)
	return b
}

func TestPutNumericEqualsBigIntegerReference(t *testing.T) {
	rng := rand.New(rand.NewChaCha8([32]byte{2}))
	cases := []string{"0", "1", "9", "10", "15", "16", "255", "256", "4294967295", "4294967296",
		"00000000", "00000001", "12345678", "999999999", "1000000000",
		strings.Repeat("9", 64), strings.Repeat("9", 128), "1" + strings.Repeat("0", 127)}
	for range 2000 {
		n := 1 + rng.IntN(128)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		cases = append(cases, string(b))
	}
	for _, q := range cases {
		got := make([]byte, questionFieldLen)
		putNumeric(got, q)
		if want := referenceNumeric(q); !bytes.Equal(got, want) {
			t.Fatalf("question %s:\n got %x\nwant %x", q, got, want)
		}
	}
}

func TestParseSuiteRoundTripsInternalFields(t *testing.T) {
	s, err := ParseSuite("OCRA-1:HOTP-SHA512-10:C-QA64-PSHA512-S999-T59M")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.str) > maxSuiteLen {
		t.Fatalf("longest suite is %d bytes, longer than maxSuiteLen", len(s.str))
	}
}
