package ocra_test

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/quick"

	"github.com/enumgate/enumgate/challenge/ocra"
)

var propertySuites = []string{
	"OCRA-1:HOTP-SHA1-6:QN08",
	"OCRA-1:HOTP-SHA256-8:QN08",
	"OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
	"OCRA-1:HOTP-SHA512-8:QN08-T1M",
	"OCRA-1:HOTP-SHA512-8:QA10-T1M",
	"OCRA-1:HOTP-SHA1-4:QH64-S128",
	"OCRA-1:HOTP-SHA256-10:C-QA64-PSHA256-S512-T30S",
	"OCRA-1:HOTP-SHA512-9:QN64-PSHA512-S001-T48H",
	"OCRA-1:HOTP-SHA1-0:QN04",
	"OCRA-1:HOTP-SHA512-0:C-QH16",
	"OCRA-1:HOTP-SHA256-5:QA04-S999",
}

// testRNG is a deterministic random source usable as an io.Reader.
type testRNG struct {
	c *rand.ChaCha8
	*rand.Rand
}

func newTestRNG(seed byte) *testRNG {
	c := rand.NewChaCha8([32]byte{seed})
	return &testRNG{c, rand.New(c)}
}

func (r *testRNG) Read(p []byte) (int, error) { return r.c.Read(p) }

// randomInput returns a key and a valid input for s.
func randomInput(t *testing.T, rng *testRNG, s *ocra.Suite) ([]byte, ocra.Input) {
	key := make([]byte, 1+rng.IntN(150))
	rng.Read(key)
	mutual := rng.IntN(4) == 0
	q, err := s.RandomQuestion(rng, 1+rng.IntN(s.QuestionMaxLen()))
	if err != nil {
		t.Fatal(err)
	}
	if mutual {
		q2, _ := s.RandomQuestion(rng, 0)
		q += q2
	}
	in := ocra.Input{Question: q, Mutual: mutual}
	if s.HasCounter() {
		in.Counter, in.HasCounter = rng.Uint64(), true
	}
	if s.PINHash() != "" {
		in.PIN = string(rune('0' + rng.IntN(10)))
	}
	if n := s.SessionLen(); n > 0 {
		in.Session = make([]byte, n)
		rng.Read(in.Session)
	}
	if s.TimeStep() != 0 {
		in.Timestamp, in.HasTimestamp = rng.Uint64(), true
	}
	return key, in
}

// For random valid inputs: the response has exactly ResponseLen characters
// (Digits() decimal digits, or lower-case hex without truncation), Verify
// accepts it, Verify rejects it with any one character changed, and the
// DataInput has DataInputLen bytes.
func TestPropertyResponses(t *testing.T) {
	rng := newTestRNG(3)
	for _, suite := range propertySuites {
		s, err := ocra.ParseSuite(suite)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(suite, func(t *testing.T) {
			for range 300 {
				key, in := randomInput(t, rng, s)
				r, err := s.Compute(key, in)
				if err != nil {
					t.Fatalf("Compute(%+v): %v", in, err)
				}
				if len(r) != s.ResponseLen() || s.Digits() != 0 && len(r) != s.Digits() {
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
				i := rng.IntN(len(r))
				changed := []byte(r)
				changed[i] = "0123456789"[(int(changed[i]-'0')+1+rng.IntN(9))%10]
				if ok, err := s.Verify(key, in, string(changed)); ok || err != nil {
					t.Fatalf("Verify(%s, changed from %s) = %v, %v; want false", changed, r, ok, err)
				}
				di, err := s.DataInput(in)
				if err != nil || len(di) != s.DataInputLen() {
					t.Fatalf("DataInput: %d bytes, %v; want %d", len(di), err, s.DataInputLen())
				}
				if !bytes.HasPrefix(di, append([]byte(suite), 0)) {
					t.Fatalf("DataInput does not start with the suite and 0x00")
				}
			}
		})
	}
}

// Different counters give different DataInputs and (almost always)
// different responses; checked with testing/quick.
func TestPropertyCounterChangesDataInput(t *testing.T) {
	s, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA512-8:C-QN08")
	f := func(a, b uint64, q uint32) bool {
		question := strconv.FormatUint(uint64(q%1e8), 10)
		da, errA := s.DataInput(ocra.Input{Counter: a, HasCounter: true, Question: question})
		db, errB := s.DataInput(ocra.Input{Counter: b, HasCounter: true, Question: question})
		return errA == nil && errB == nil && bytes.Equal(da, db) == (a == b)
	}
	if err := quick.Check(f, nil); err != nil {
		t.Error(err)
	}
}

// The response does not depend on anything but the key and the input:
// computing twice, or concurrently, gives the same answer.
func TestComputeIsDeterministicAndConcurrencySafe(t *testing.T) {
	s, _ := ocra.ParseSuite(ocra.DefaultSuite)
	key := []byte("12345678901234567890123456789012")
	want, _ := s.Compute(key, ocra.Input{Question: "12345678"})
	done := make(chan string)
	for range 8 {
		go func() {
			r := ""
			for range 100 {
				r, _ = s.Compute(key, ocra.Input{Question: "12345678"})
			}
			done <- r
		}()
	}
	for range 8 {
		if got := <-done; got != want {
			t.Fatalf("concurrent Compute = %s, want %s", got, want)
		}
	}
}
