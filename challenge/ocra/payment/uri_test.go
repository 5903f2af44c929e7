package payment_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/enumgate/enumgate/challenge/ocra/payment"
)

func TestParseURIAccepts(t *testing.T) {
	login := payment.URI{Mode: payment.ModeLogin, Challenge: "48172203"}
	pay := payment.URI{Mode: payment.ModePayment, Challenge: "48172203", Purse: "Z123456789012", Amount: "10.00"}
	for _, tt := range []struct {
		uri  string
		want payment.URI
	}{
		{"enum:login?challenge=48172203", login},
		{"enum:l?c=48172203", login},
		{"ENUM:LOGIN?challenge=48172203", login},
		{"Enum:L?c=48172203", login},
		{"enum:login?challenge=4817+2203", login},
		{"enum:login?challenge=4817%202203", login},
		{"enum:login?challenge=4817-2203", login},
		{"enum:login?challenge=+4817-22-03+", login},
		{"enum:payment?challenge=48172203&purse=Z123456789012&amount=10.00", pay},
		{"enum:p?c=48172203&p=Z123456789012&a=10.00", pay},
		{"enum:payment?amount=10.00&purse=Z123456789012&challenge=4817-2203", pay},
		{"enum:PAYMENT?challenge=48172203&purse=Z123456789012&amount=10%2E00", pay},
		{"enum:p?c=48172203&p=123456789012&a=010,50",
			payment.URI{Mode: payment.ModePayment, Challenge: "48172203", Purse: "123456789012", Amount: "010,50"}},
		{"enum:p?c=SIG10000&p=DE89+3704+0044+0532+0130+00&a=0%2C5",
			payment.URI{Mode: payment.ModePayment, Challenge: "SIG10000", Purse: "DE89 3704 0044 0532 0130 00", Amount: "0,5"}},
		{"enum:login?challenge=" + strings.Repeat("9", 64), payment.URI{Mode: payment.ModeLogin, Challenge: strings.Repeat("9", 64)}},
	} {
		got, err := payment.ParseURI(tt.uri)
		if err != nil || got != tt.want {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v", tt.uri, got, err, tt.want)
		}
	}
}

func TestParseURIRejects(t *testing.T) {
	const pq = "challenge=1&purse=Z1&amount=1"
	for _, tt := range []struct{ uri, msg string }{
		{"", `scheme ""`},
		{"48172203", `scheme ""`},
		{"otpauth:login?challenge=1", `scheme "otpauth"`},
		{"enumgate:login?challenge=1", `scheme "enumgate"`},
		{"enum://login?challenge=1", `unexpected "//"`},
		{"enum:/login?challenge=1", `unexpected "//" or "/"`},
		{"enum:?challenge=1", `unknown mode ""`},
		{"enum:logon?challenge=1", `unknown mode "logon"`},
		{"enum:pay?" + pq, `unknown mode "pay"`},
		{"enum:login/x?challenge=1", `unknown mode "login/x"`},
		{"enum:login?challenge=1#x", "fragment"},
		{"enum:login?challenge=1#", "fragment"},
		{"enum:login", "missing parameter challenge"},
		{"enum:login?", "missing parameter challenge"},
		{"enum:login?challenge=", "empty challenge"},
		{"enum:login?challenge=+-+", "empty challenge"},
		{"enum:login?challenge=1&&x", "empty query parameter"},
		{"enum:login?&challenge=1", "empty query parameter"},
		{"enum:login?challenge=1&", "empty query parameter"},
		{"enum:login?challenge=1&challenge=2", "challenge given 2 times"},
		{"enum:login?challenge=1;x=2", "bad query"},
		{"enum:login?challenge=%zz", "bad query"},
		{"enum:login?challenge=12.34", `challenge character '.'`},
		{"enum:login?challenge=12%0034", `challenge character '\x00'`},
		{"enum:login?challenge=" + strings.Repeat("9", 65), "challenge too long"},
		{"enum:login?c=1", `unknown parameter "c" for "login" (want challenge)`},
		{"enum:l?challenge=1", `unknown parameter "challenge" for "l" (want c)`},
		{"enum:login?Challenge=1", `unknown parameter "Challenge"`},
		{"enum:login?challenge=1&purse=Z1", `unknown parameter "purse"`},
		{"enum:login?challenge=1&amount=1", `unknown parameter "amount"`},
		{"enum:payment?challenge=1&amount=1", "missing parameter purse"},
		{"enum:payment?challenge=1&purse=Z1", "missing parameter amount"},
		{"enum:p?c=1&p=Z1", "missing parameter a"},
		{"enum:p?c=1&p=Z1&a=1&p=Z2", "p given 2 times"},
		{"enum:p?c=1&p=Z1&amount=1", `unknown parameter "amount" for "p" (want c, p, a)`},
		{"enum:payment?" + pq + "&purse=Z2", "purse given 2 times"},
		{"enum:payment?" + pq + "&currency=USD", `unknown parameter "currency"`},
		{"enum:payment?challenge=1&purse=&amount=1", "invalid purse: empty"},
		{"enum:payment?challenge=1&purse=Z1&amount=", "invalid amount: empty"},
		{"enum:payment?challenge=1&purse=Z%2F1&amount=1", "invalid purse"},
		{"enum:payment?challenge=1&purse=Z1&amount=-1", "invalid amount: sign"},
		{"enum:payment?challenge=1&purse=Z1&amount=1,000.00", "invalid amount"},
		{"enum:payment?challenge=1&purse=Z1&amount=1e3", "invalid amount: exponent"},
		{"enum:login?challenge=\x7f1", "not a URI"},
		{"enum:login?challenge=1" + strings.Repeat("+", 500), "too long (522 bytes, at most 512)"},
	} {
		got, err := payment.ParseURI(tt.uri)
		if err == nil {
			t.Errorf("ParseURI(%q) = %+v, want error", tt.uri, got)
			continue
		}
		if !errors.Is(err, payment.ErrInvalid) {
			t.Errorf("ParseURI(%q): error %v does not match ErrInvalid", tt.uri, err)
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseURI(%q): error %q does not contain %q", tt.uri, err, tt.msg)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseURI(%q): error %q has several lines", tt.uri, err)
		}
		if got != (payment.URI{}) {
			t.Errorf("ParseURI(%q): partial URI %+v with the error", tt.uri, got)
		}
	}
}

func TestURIFormat(t *testing.T) {
	for _, tt := range []struct {
		u           payment.URI
		full, short string
	}{
		{payment.URI{Mode: payment.ModeLogin, Challenge: "48172203"}, "enum:login?challenge=48172203", "enum:l?c=48172203"},
		{payment.URI{Mode: payment.ModePayment, Challenge: "48172203", Purse: "Z123456789012", Amount: "10.00"},
			"enum:payment?challenge=48172203&purse=Z123456789012&amount=10.00", "enum:p?c=48172203&p=Z123456789012&a=10.00"},
		{payment.URI{Mode: payment.ModePayment, Challenge: "SIG10000", Purse: "DE89 3704-0044", Amount: "0,5"},
			"enum:payment?challenge=SIG10000&purse=DE89+3704-0044&amount=0%2C5", "enum:p?c=SIG10000&p=DE89+3704-0044&a=0%2C5"},
	} {
		if err := tt.u.Validate(); err != nil {
			t.Errorf("%+v: %v", tt.u, err)
		}
		if got := tt.u.String(); got != tt.full {
			t.Errorf("String() = %s, want %s", got, tt.full)
		}
		if got := tt.u.Short(); got != tt.short {
			t.Errorf("Short() = %s, want %s", got, tt.short)
		}
		for _, s := range []string{tt.full, tt.short} {
			if got, err := payment.ParseURI(s); err != nil || got != tt.u {
				t.Errorf("ParseURI(%s) = %+v, %v; want %+v", s, got, err, tt.u)
			}
		}
	}
}

func TestURIValidateAndPayment(t *testing.T) {
	for _, u := range []payment.URI{
		{},
		{Mode: "transfer", Challenge: "1"},
		{Mode: payment.ModeLogin},
		{Mode: payment.ModeLogin, Challenge: "4817 2203"}, // a URI's challenge is already stripped
		{Mode: payment.ModeLogin, Challenge: "1", Purse: "Z1"},
		{Mode: payment.ModeLogin, Challenge: "1", Amount: "1"},
		{Mode: payment.ModePayment, Challenge: "1", Purse: "Z1"},
		{Mode: payment.ModePayment, Challenge: "1", Amount: "1"},
	} {
		if err := u.Validate(); !errors.Is(err, payment.ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want an error", u, err)
		}
	}
	u, err := payment.ParseURI("enum:p?c=1&p=z-1234-5678-9012&a=010,50")
	if err != nil {
		t.Fatal(err)
	}
	p, err := u.Payment()
	if err != nil || p.Purse() != "123456789012" || p.Amount() != "10.5" {
		t.Errorf("Payment() = %q %q, %v", p.Purse(), p.Amount(), err)
	}
	if _, err := (payment.URI{Mode: payment.ModeLogin, Challenge: "1"}).Payment(); !errors.Is(err, payment.ErrInvalid) {
		t.Errorf("login Payment(): %v", err)
	}
}

func TestStripQuestion(t *testing.T) {
	for in, want := range map[string]string{"4817 2203": "48172203", "4817-2203": "48172203", " 48-17 22-03 ": "48172203", "48172203": "48172203", "": "", "4817\t2203": "4817\t2203"} {
		if got := payment.StripQuestion(in); got != want {
			t.Errorf("StripQuestion(%q) = %q, want %q", in, got, want)
		}
	}
}
