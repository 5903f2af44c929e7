package payment_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/ocratest"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
)

func TestNormalizePurse(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Z123456789012", "123456789012"},
		{"z123456789012", "123456789012"},
		{"123456789012", "123456789012"},
		{" Z 1234 5678 9012 ", "123456789012"},
		{"Z-1234-5678-9012", "123456789012"},
		{"R987654321098", "987654321098"},
		{"DE89 3704 0044 0532 0130 00", "DE89370400440532013000"},
		{"de89370400440532013000", "DE89370400440532013000"},
		{"4276-1600-1234-5678", "4276160012345678"},
		{"a12345", "A12345"},                 // not a WebMoney purse: the letter stays
		{"Z12345678901", "Z12345678901"},     // 11 digits
		{"Z1234567890123", "Z1234567890123"}, // 13 digits
		{"ZZ23456789012", "ZZ23456789012"},   // two letters
		{"1Z23456789012", "1Z23456789012"},
		{"x", "X"},
		{"0", "0"},
		{strings.Repeat("9", 64), strings.Repeat("9", 64)},
		{strings.Repeat("9 ", 64), strings.Repeat("9", 64)},
	} {
		got, err := payment.NormalizePurse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizePurse(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if again, err := payment.NormalizePurse(got); err != nil || again != got {
			t.Errorf("NormalizePurse(%q) = %q, %v; not a fixed point", got, again, err)
		}
	}
}

func TestNormalizePurseRejects(t *testing.T) {
	for _, tt := range []struct{ in, msg string }{
		{"", "empty"},
		{"   ", "empty"},
		{"- -", "empty"},
		{strings.Repeat("9", 65), "too long (65 letters and digits, at most 64)"},
		{strings.Repeat(" ", 129), "too long (129 bytes, at most 128)"},
		{"Z1234\t5678", `'\t' at position 6`},
		{"Z123.456", `'.' at position 5`},
		{"Z123_456", `'_'`},
		{"Z123/456", `'/'`},
		{"Z123+456", `'+'`},
		{"З123456789012", `'\u00d0' at position 1`}, // Cyrillic Ze, a homoglyph of Z: refused, not folded
		{"Z12\x00", `'\x00'`},
	} {
		got, err := payment.NormalizePurse(tt.in)
		if err == nil {
			t.Errorf("NormalizePurse(%q) = %q, want error", tt.in, got)
			continue
		}
		var pe *payment.Error
		if !errors.Is(err, payment.ErrInvalid) || !errors.As(err, &pe) || pe.Field != "purse" {
			t.Errorf("NormalizePurse(%q): error %v is not a purse *payment.Error", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("NormalizePurse(%q): error %q does not contain %q", tt.in, err, tt.msg)
		}
	}
}

func TestNormalizeAmount(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"010,50", "10.5"},
		{"10.00", "10"},
		{"0.50", "0.5"},
		{"10", "10"},
		{"10.", "10"},
		{"10,", "10"},
		{"0", "0"},
		{"000", "0"},
		{"0.000", "0"},
		{"00.10", "0.1"},
		{"1500,00", "1500"},
		{"1000000", "1000000"},
		{" 7.25 ", "7.25"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
		{"0.0000000000000000000000000001", "0.0000000000000000000000000001"},
	} {
		got, err := payment.NormalizeAmount(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeAmount(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if again, err := payment.NormalizeAmount(got); err != nil || again != got {
			t.Errorf("NormalizeAmount(%q) = %q, %v; not a fixed point", got, again, err)
		}
	}
}

func TestNormalizeAmountRejects(t *testing.T) {
	for _, tt := range []struct{ in, msg string }{
		{"", "empty"},
		{"  ", "empty"},
		{".", "no digit before the decimal separator"},
		{",", "no digit before the decimal separator"},
		{",5", "no digit before the decimal separator (write 0,...)"},
		{".05", "no digit before the decimal separator (write 0....)"},
		{" .5", "no digit before"},
		{"-10", "sign"},
		{"+10", "sign"},
		{"1e3", "exponent"},
		{"1E3", "exponent"},
		{"1,000.50", "more than one"},
		{"1.000.000", "more than one"},
		{"1 000", `' '`},
		{"1'000", `'\''`},
		{"10 USD", `' '`},
		{"$10", `'$'`},
		{"１０", `'\u00ef'`}, // full-width digits
		{"0x10", `'x'`},
		{"1234567890123456789012345678901", "too long (31 bytes, at most 30)"},
		{"\t10", `'\t'`},
	} {
		got, err := payment.NormalizeAmount(tt.in)
		if err == nil {
			t.Errorf("NormalizeAmount(%q) = %q, want error", tt.in, got)
			continue
		}
		var pe *payment.Error
		if !errors.Is(err, payment.ErrInvalid) || !errors.As(err, &pe) || pe.Field != "amount" {
			t.Errorf("NormalizeAmount(%q): error %v is not an amount *payment.Error", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("NormalizeAmount(%q): error %q does not contain %q", tt.in, err, tt.msg)
		}
	}
}

func mustSuite(t testing.TB, s string) *ocra.Suite {
	t.Helper()
	su, err := ocra.ParseSuite(s)
	if err != nil {
		t.Fatal(err)
	}
	return su
}

func TestPaymentSuite(t *testing.T) {
	for _, tt := range []struct{ device, want string }{
		{"OCRA-1:HOTP-SHA256-8:QN08", "OCRA-1:HOTP-SHA256-8:QN08-S064"},
		{"OCRA-1:HOTP-SHA1-6:QN08-PSHA1", "OCRA-1:HOTP-SHA1-6:QN08-PSHA1-S064"},
		{"OCRA-1:HOTP-SHA512-8:QN08-T1M", "OCRA-1:HOTP-SHA512-8:QN08-S064-T1M"},
		{"OCRA-1:HOTP-SHA1-6:QN06-PSHA256-T30S", "OCRA-1:HOTP-SHA1-6:QN06-PSHA256-S064-T30S"},
		{"OCRA-1:HOTP-SHA512-0:QH64-T48H", "OCRA-1:HOTP-SHA512-0:QH64-S064-T48H"},
		{"OCRA-1:HOTP-SHA512-10:QA64-PSHA512-T59M", "OCRA-1:HOTP-SHA512-10:QA64-PSHA512-S064-T59M"},
	} {
		d := mustSuite(t, tt.device)
		s, err := payment.PaymentSuite(d)
		if err != nil || s.String() != tt.want {
			t.Errorf("PaymentSuite(%s) = %v, %v; want %s", tt.device, s, err, tt.want)
			continue
		}
		if s.SessionLen() != payment.SessionLen || s.TimeStep() != d.TimeStep() || s.PINHash() != d.PINHash() ||
			s.Digits() != d.Digits() || s.Hash() != d.Hash() || s.QuestionFormat() != d.QuestionFormat() || s.QuestionMaxLen() != d.QuestionMaxLen() {
			t.Errorf("PaymentSuite(%s) = %s changes more than S", tt.device, s)
		}
	}
	for _, tt := range []struct{ device, msg string }{
		{"OCRA-1:HOTP-SHA1-6:QN08-S064", "already has session information"},
		{"OCRA-1:HOTP-SHA1-6:QN08-S128-T1M", "already has session information"},
		{"OCRA-1:HOTP-SHA1-6:C-QN08", "counter"},
	} {
		s, err := payment.PaymentSuite(mustSuite(t, tt.device))
		if err == nil || !errors.Is(err, payment.ErrInvalid) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("PaymentSuite(%s) = %v, %v; want an error containing %q", tt.device, s, err, tt.msg)
		}
	}
	if _, err := payment.PaymentSuite(nil); !errors.Is(err, payment.ErrInvalid) {
		t.Errorf("PaymentSuite(nil): %v", err)
	}
}

func TestSessionInfo(t *testing.T) {
	// sha256("enum-payment-v1\x00123456789012\x0010"), see testdata.
	const want = "73ef51cece90eece9dc26c0d15a65d0c7d4170b3e713e5d1ba03cded917a7786"
	if got := string(payment.SessionInfo("123456789012", "10")); got != want {
		t.Errorf("SessionInfo = %s, want %s", got, want)
	}
	// The separator keeps purse and amount apart.
	if string(payment.SessionInfo("1", "23")) == string(payment.SessionInfo("12", "3")) {
		t.Error("SessionInfo(1, 23) == SessionInfo(12, 3)")
	}
}

func TestPrepare(t *testing.T) {
	p, err := payment.Prepare("Z 1234-5678-9012", "0010,500")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Valid() || p.Purse() != "123456789012" || p.Amount() != "10.5" || string(p.Session()) != string(payment.SessionInfo("123456789012", "10.5")) {
		t.Errorf("Prepare = %q %q %q", p.Purse(), p.Amount(), p.Session())
	}
	// Session returns a copy.
	p.Session()[0] = 'X'
	if p.Session()[0] == 'X' {
		t.Error("Session returns the payment's own bytes")
	}
	for _, tt := range [][2]string{{"", "10"}, {"Z1", ""}, {"Z1", "-1"}, {"Z_1", "1"}} {
		if p, err := payment.Prepare(tt[0], tt[1]); !errors.Is(err, payment.ErrInvalid) || p.Valid() {
			t.Errorf("Prepare(%q, %q) = %v, %v; want an invalid payment error", tt[0], tt[1], p, err)
		}
	}
}

func TestAnswerIsOCRAOfThePaymentSuite(t *testing.T) {
	key, _ := hex.DecodeString(ocratest.Key32)
	d := mustSuite(t, "OCRA-1:HOTP-SHA256-8:QN08-PSHA1-T1M")
	in := ocra.Input{Question: "48172203", PIN: "1234", Timestamp: 0x132d0b6, HasTimestamp: true}
	got, err := payment.Answer(d, key, in, "Z123456789012", "10.00")
	if err != nil {
		t.Fatal(err)
	}
	ps := mustSuite(t, "OCRA-1:HOTP-SHA256-8:QN08-PSHA1-S064-T1M")
	in2 := in
	in2.Session = payment.SessionInfo("123456789012", "10")
	want, err := ps.Compute(key, in2)
	if err != nil || got != want {
		t.Fatalf("Answer = %s, want %s (%v)", got, want, err)
	}
	// Each input changes the answer.
	login, _ := d.Compute(key, in)
	other := map[string]string{"login": login}
	for name, args := range map[string][2]string{"purse": {"Z123456789013", "10"}, "amount": {"Z123456789012", "10.01"}} {
		a, err := payment.Answer(d, key, in, args[0], args[1])
		if err != nil {
			t.Fatal(err)
		}
		other[name] = a
	}
	in3 := in
	in3.Timestamp++
	other["time-step"], _ = payment.Answer(d, key, in3, "Z123456789012", "10")
	in3 = in
	in3.Question = "48172204"
	other["question"], _ = payment.Answer(d, key, in3, "Z123456789012", "10")
	for name, a := range other {
		if a == got {
			t.Errorf("changing the %s keeps the answer %s", name, got)
		}
	}
	// Verify with the payment suite and Input accepts the answer.
	p, _ := payment.Prepare("123456789012", "10")
	pin, err := p.Input(in)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := ps.Verify(key, pin, got); !ok || err != nil {
		t.Errorf("Verify = %v, %v", ok, err)
	}
	// The zero Payment and a preset session are refused.
	if _, err := (payment.Payment{}).Answer(d, key, in); !errors.Is(err, payment.ErrInvalid) {
		t.Errorf("zero Payment: %v", err)
	}
	in3 = in
	in3.Session = []byte("x")
	if _, err := p.Answer(d, key, in3); !errors.Is(err, payment.ErrInvalid) || !strings.Contains(err.Error(), "session") {
		t.Errorf("preset session: %v", err)
	}
	// ocra's input errors come through.
	if _, err := p.Answer(d, key, ocra.Input{Question: "1", PIN: "1234"}); !errors.Is(err, ocra.ErrMissing) {
		t.Errorf("missing timestamp: %v", err)
	}
	if _, err := payment.Answer(d, key, in, "Z1", "ten"); !errors.Is(err, payment.ErrInvalid) {
		t.Errorf("bad amount: %v", err)
	}
	if _, err := p.Answer(mustSuite(t, "OCRA-1:HOTP-SHA1-6:C-QN08"), key, in); !errors.Is(err, payment.ErrInvalid) {
		t.Errorf("counter suite: %v", err)
	}
}

// TestGatewayLoopDoesNotAllocate: with the payment suite derived once per
// device and the input prepared once, each expected answer (device × time
// step) costs what an authorization answer costs.
func TestGatewayLoopDoesNotAllocate(t *testing.T) {
	key, _ := hex.DecodeString(ocratest.Key64)
	// The longest DataInput: SHA512 PIN hash, 64-byte question, T.
	ps, err := payment.PaymentSuite(mustSuite(t, "OCRA-1:HOTP-SHA512-10:QA64-PSHA512-T59M"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := payment.Prepare("DE89 3704 0044 0532 0130 00", "1500,00")
	in, _ := p.Input(ocra.Input{Question: strings.Repeat("Q", 64), PIN: "1234", HasTimestamp: true})
	n := testing.AllocsPerRun(100, func() {
		in.Timestamp++
		var buf [16]byte
		r, err := ps.Compute(key, in)
		if err != nil {
			t.Fatal(err)
		}
		copy(buf[:], r)
	})
	// Compute returns a string (one allocation); the DataInput itself stays
	// on the stack.
	if n > 1 {
		t.Errorf("%v allocations per answer, want at most 1", n)
	}
}

func BenchmarkGatewayAnswers(b *testing.B) {
	key, _ := hex.DecodeString(ocratest.Key32)
	device := mustSuite(b, "OCRA-1:HOTP-SHA256-8:QN08-T1M")
	b.ReportAllocs()
	for b.Loop() {
		// Per verification: one Prepare, one PaymentSuite per device, one
		// Compute per time step (window 1: three steps).
		p, err := payment.Prepare("Z123456789012", "10.00")
		if err != nil {
			b.Fatal(err)
		}
		ps, err := payment.PaymentSuite(device)
		if err != nil {
			b.Fatal(err)
		}
		in, _ := p.Input(ocra.Input{Question: "48172203", HasTimestamp: true, Timestamp: 0x132d0b6})
		for w := range uint64(3) {
			in.Timestamp = 0x132d0b5 + w
			if _, err := ps.Compute(key, in); err != nil {
				b.Fatal(err)
			}
		}
	}
}
