package ocra_test

import (
	"errors"
	"testing"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/ocratest"
)

func FuzzParseSuite(f *testing.F) {
	for _, v := range ocratest.Vectors {
		f.Add(v.Suite)
	}
	for _, s := range propertySuites {
		f.Add(s)
	}
	for _, s := range []string{"", "OCRA-1:HOTP-SHA1-6:QN08-T0H", "OCRA-1:HOTP-SHA1-6:C--QN08", "ocra-1:hotp-sha1-6:qn08", "OCRA-1:HOTP-SHA1-6:QN08-S064-T1M-P"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, str string) {
		s, err := ocra.ParseSuite(str)
		if err != nil {
			var se *ocra.SuiteError
			if s != nil || !errors.Is(err, ocra.ErrInvalidSuite) || !errors.As(err, &se) || se.Reason == "" {
				t.Fatalf("ParseSuite(%q) = %v, %#v", str, s, err)
			}
			return
		}
		if s.String() != str {
			t.Fatalf("String() = %q, want %q", s.String(), str)
		}
		s2, err := ocra.ParseSuite(s.String())
		if err != nil || *s2 != *s {
			t.Fatalf("re-parse of %q: %+v, %v; want %+v", str, s2, err, s)
		}
		if d := s.Digits(); d != 0 && (d < 4 || d > 10) {
			t.Fatalf("Digits() = %d", d)
		}
		if q := s.QuestionMaxLen(); q < 4 || q > 64 {
			t.Fatalf("QuestionMaxLen() = %d", q)
		}
		if f := s.QuestionFormat(); f != 'A' && f != 'N' && f != 'H' {
			t.Fatalf("QuestionFormat() = %q", f)
		}
	})
}

func FuzzCompute(f *testing.F) {
	suites := append([]string{}, propertySuites...)
	for _, v := range ocratest.Vectors {
		suites = append(suites, v.Suite)
	}
	for i, v := range ocratest.Vectors {
		if i%7 == 0 {
			f.Add(uint8(len(propertySuites)+i), v.Key(), v.Question, v.Counter, v.PIN, []byte(nil), v.TimestampValue(), uint8(0x80))
		}
	}
	f.Add(uint8(0), []byte("k"), "12345678", uint64(0), "", []byte(nil), uint64(0), uint8(0))
	f.Add(uint8(5), []byte{}, "abc", uint64(1), "1234", []byte{1, 2}, uint64(3), uint8(0xff))
	f.Fuzz(func(t *testing.T, idx uint8, key []byte, question string, counter uint64, pin string, session []byte, ts uint64, flags uint8) {
		s, err := ocra.ParseSuite(suites[int(idx)%len(suites)])
		if err != nil {
			t.Fatal(err)
		}
		in := ocra.Input{
			Counter: counter, HasCounter: flags&1 != 0,
			Question: question, Mutual: flags&2 != 0,
			PIN:       pin,
			Session:   session,
			Timestamp: ts, HasTimestamp: flags&4 != 0,
		}
		if flags&8 != 0 {
			in.PINHash = []byte(pin)
		}
		if flags&0x80 != 0 { // fit the inputs to the suite to reach the computation more often
			in.HasCounter, in.HasTimestamp = s.HasCounter(), s.TimeStep() != 0
			if s.PINHash() == "" {
				in.PIN, in.PINHash = "", nil
			} else if in.PIN == "" && in.PINHash == nil {
				in.PIN = "0"
			}
			in.Session = append(in.Session, make([]byte, s.SessionLen())...)[:s.SessionLen()]
			if s.SessionLen() == 0 {
				in.Session = nil
			}
		}
		r, err := s.Compute(key, in)
		if err != nil {
			if r != "" || !errors.Is(err, ocra.ErrInvalidInput) {
				t.Fatalf("Compute = %q, %v", r, err)
			}
			return
		}
		if len(r) != s.ResponseLen() {
			t.Fatalf("response %q has %d characters, want %d", r, len(r), s.ResponseLen())
		}
		for _, c := range []byte(r) {
			if !('0' <= c && c <= '9' || s.Digits() == 0 && 'a' <= c && c <= 'f') {
				t.Fatalf("response %q has character %q", r, c)
			}
		}
		if ok, err := s.Verify(key, in, r); !ok || err != nil {
			t.Fatalf("Verify(Compute) = %v, %v", ok, err)
		}
	})
}
