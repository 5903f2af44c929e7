package ocratest

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"
)

func TestVectorsCount(t *testing.T) {
	if len(Vectors) != 70 {
		t.Fatalf("len(Vectors) = %d, want 70 (all of RFC 6287 Appendix C)", len(Vectors))
	}
	per := map[string]int{}
	names := map[string]bool{}
	for _, v := range Vectors {
		per[v.Section]++
		if names[v.Name()] {
			t.Errorf("duplicate vector name %q", v.Name())
		}
		names[v.Name()] = true
	}
	if per["C.1"] != 40 || per["C.2"] != 20 || per["C.3"] != 10 {
		t.Errorf("vectors per section = %v, want C.1:40 C.2:20 C.3:10", per)
	}
}

func TestKeysAreTheRFCStandardKeys(t *testing.T) {
	digits := strings.Repeat("1234567890", 7)
	for _, k := range []struct {
		hex string
		n   int
	}{{Key20, 20}, {Key32, 32}, {Key64, 64}} {
		b, err := hex.DecodeString(k.hex)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != digits[:k.n] {
			t.Errorf("key of %d bytes = %q, want %q", k.n, b, digits[:k.n])
		}
	}
}

func TestPINHashIsSHA1OfPIN(t *testing.T) {
	h := sha1.Sum([]byte(PIN))
	if got := hex.EncodeToString(h[:]); got != PINHashSHA1 {
		t.Errorf("SHA1(%q) = %s, want %s", PIN, got, PINHashSHA1)
	}
}

func TestVectorFieldsAreConsistent(t *testing.T) {
	for _, v := range Vectors {
		if v.HasTimestamp != strings.HasSuffix(v.Suite, "-T1M") || v.HasTimestamp && v.TimestampValue() != 0x132d0b6 {
			t.Errorf("%s: timestamp fields inconsistent with suite", v.Name())
		}
		if v.HasCounter != strings.Contains(v.Suite, ":C-") {
			t.Errorf("%s: counter flag inconsistent with suite", v.Name())
		}
		if (v.PIN != "") != strings.Contains(v.Suite, "-PSHA1") {
			t.Errorf("%s: PIN inconsistent with suite", v.Name())
		}
		if v.Mutual != (v.Section == "C.2") {
			t.Errorf("%s: Mutual must be set exactly for C.2", v.Name())
		}
		if n := len(v.Key()); n != 20 && n != 32 && n != 64 {
			t.Errorf("%s: key of %d bytes", v.Name(), n)
		}
	}
}
