package ocra_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/ocra"
)

func TestRandomQuestionHasSuiteFormatAndLength(t *testing.T) {
	for _, tt := range []struct {
		suite    string
		alphabet string
	}{
		{"OCRA-1:HOTP-SHA256-8:QN08", "0123456789"},
		{"OCRA-1:HOTP-SHA256-8:QA64", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"},
		{"OCRA-1:HOTP-SHA256-8:QH12", "0123456789ABCDEF"},
	} {
		s, _ := ocra.ParseSuite(tt.suite)
		key := []byte("k")
		for n := 0; n <= s.QuestionMaxLen(); n++ {
			q, err := s.RandomQuestion(rand.Reader, n)
			if err != nil {
				t.Fatal(err)
			}
			want := n
			if n == 0 {
				want = s.QuestionMaxLen()
			}
			if len(q) != want {
				t.Fatalf("%s: RandomQuestion(%d) = %q, want %d characters", tt.suite, n, q, want)
			}
			if strings.Trim(q, tt.alphabet) != "" {
				t.Fatalf("%s: %q has characters outside %q", tt.suite, q, tt.alphabet)
			}
			if _, err := s.Compute(key, ocra.Input{Question: q}); err != nil {
				t.Fatalf("%s: question %q not accepted: %v", tt.suite, q, err)
			}
		}
	}
}

func TestRandomQuestionRejectsLengthOutOfRange(t *testing.T) {
	s, _ := ocra.ParseSuite(ocra.DefaultSuite)
	for _, n := range []int{-1, 9, 1000} {
		if q, err := s.RandomQuestion(rand.Reader, n); !errors.Is(err, ocra.ErrLength) || !errors.Is(err, ocra.ErrInvalidInput) {
			t.Errorf("RandomQuestion(%d) = %q, %v; want ErrLength", n, q, err)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func TestRandomQuestionReportsBrokenRandomSource(t *testing.T) {
	s, _ := ocra.ParseSuite(ocra.DefaultSuite)
	for name, r := range map[string]io.Reader{
		"failing reader":               errReader{},
		"short reader":                 bytes.NewReader([]byte{1, 2, 3}),
		"reader of rejected bytes":     constReader(0xff), // 0xff >= 250 is always rejected for digits
		"empty reader":                 bytes.NewReader(nil),
		"reader of rejected, then EOF": bytes.NewReader(bytes.Repeat([]byte{0xfa}, 100)),
	} {
		if q, err := s.RandomQuestion(r, 0); !errors.Is(err, ocra.ErrRandom) {
			t.Errorf("%s: RandomQuestion = %q, %v; want ErrRandom", name, q, err)
		}
	}
}

// Bytes that would bias the result (at or above the largest multiple of the
// alphabet size) are skipped, not reduced modulo the alphabet size.
func TestRandomQuestionSkipsBiasedBytes(t *testing.T) {
	for _, tt := range []struct {
		suite string
		bytes []byte
		want  string
	}{
		{"OCRA-1:HOTP-SHA1-6:QN04", []byte{250, 251, 252, 253, 254, 255, 0, 9, 10, 249}, "0909"},
		{"OCRA-1:HOTP-SHA1-6:QA04", []byte{248, 255, 61, 62, 0, 247}, "z00z"},
		{"OCRA-1:HOTP-SHA1-6:QH04", []byte{255, 0, 16, 31}, "F00F"},
	} {
		s, _ := ocra.ParseSuite(tt.suite)
		got, err := s.RandomQuestion(bytes.NewReader(append(tt.bytes, make([]byte, 8)...)), 4)
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.suite, got, err, tt.want)
		}
	}
}

// A chi-squared test over a deterministic pseudo-random source: every
// character is (statistically) equally likely.
func TestRandomQuestionIsUniform(t *testing.T) {
	rng := mrand.NewChaCha8([32]byte{4})
	for _, tt := range []struct {
		suite string
		k     int
		crit  float64 // chi-squared critical value, k-1 degrees of freedom, p = 0.001
	}{
		{"OCRA-1:HOTP-SHA1-6:QN64", 10, 27.88},
		{"OCRA-1:HOTP-SHA1-6:QH64", 16, 37.70},
		{"OCRA-1:HOTP-SHA1-6:QA64", 62, 99.61},
	} {
		s, _ := ocra.ParseSuite(tt.suite)
		counts := map[rune]int{}
		total := 0
		for range 2000 {
			q, err := s.RandomQuestion(rng, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range q {
				counts[c]++
				total++
			}
		}
		if len(counts) != tt.k {
			t.Fatalf("%s: %d distinct characters, want %d", tt.suite, len(counts), tt.k)
		}
		exp := float64(total) / float64(tt.k)
		chi := 0.0
		for _, n := range counts {
			chi += (float64(n) - exp) * (float64(n) - exp) / exp
		}
		if chi > tt.crit {
			t.Errorf("%s: chi-squared %.1f > %.1f", tt.suite, chi, tt.crit)
		}
	}
}

func TestTimeSteps(t *testing.T) {
	rfc := time.Date(2008, 3, 25, 12, 6, 30, 0, time.UTC) // within minute 0x132d0b6
	for _, tt := range []struct {
		t    time.Time
		step time.Duration
		want uint64
	}{
		{rfc, time.Minute, 0x132d0b6},
		{rfc, 30 * time.Second, 2*0x132d0b6 + 1}, // 30 s into the minute
		{rfc, time.Second, uint64(rfc.Unix())},
		{rfc, time.Hour, uint64(rfc.Unix()) / 3600},
		{rfc, 48 * time.Hour, uint64(rfc.Unix()) / (48 * 3600)},
		{rfc.In(time.FixedZone("X", 5*3600)), time.Minute, 0x132d0b6}, // zone-independent
		{time.Unix(0, 0), time.Minute, 0},
		{time.Unix(59, 999999999), time.Minute, 0},
		{time.Unix(60, 0), time.Minute, 1},
		{time.Unix(-1, 0), time.Minute, 0},
		{rfc, 0, 0},
		{rfc, -time.Minute, 0},
		{rfc, time.Millisecond, 0},
	} {
		if got := ocra.TimeSteps(tt.t, tt.step); got != tt.want {
			t.Errorf("TimeSteps(%v, %v) = %#x, want %#x", tt.t, tt.step, got, tt.want)
		}
	}
}
