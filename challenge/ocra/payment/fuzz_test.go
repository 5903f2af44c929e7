package payment_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/enumgate/enumgate/challenge/ocra/payment"
)

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"enum:login?challenge=48172203",
		"enum:l?c=4817+2203",
		"enum:payment?challenge=48172203&purse=Z123456789012&amount=10.00",
		"enum:p?c=4817-2203&p=z123456789012&a=010,50",
		"ENUM:P?c=SIG10000&p=DE89+3704+0044+0532+0130+00&a=0%2C5",
		"enum:payment?amount=1&purse=Z1&challenge=1&challenge=2",
		"enum://login?challenge=1",
		"enum:login?challenge=1#x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := payment.ParseURI(s)
		if err != nil {
			if !errors.Is(err, payment.ErrInvalid) || u != (payment.URI{}) {
				t.Fatalf("ParseURI(%q) = %+v, %v", s, u, err)
			}
			return
		}
		if err := u.Validate(); err != nil {
			t.Fatalf("ParseURI(%q) = %+v, which Validate refuses: %v", s, u, err)
		}
		if strings.ContainsAny(u.Challenge, " -") {
			t.Fatalf("ParseURI(%q): challenge %q not stripped", s, u.Challenge)
		}
		for _, again := range []string{u.String(), u.Short()} {
			// At most 23+64+7+128+8+32 bytes: always parseable again.
			if len(again) > 262 {
				t.Fatalf("%q has %d bytes", again, len(again))
			}
			v, err := payment.ParseURI(again)
			if err != nil || v != u {
				t.Fatalf("ParseURI(%q) = %+v, %v; want %+v (from %q)", again, v, err, u, s)
			}
		}
		if u.Mode == payment.ModePayment {
			if _, err := u.Payment(); err != nil {
				t.Fatalf("ParseURI(%q) accepted a payment that Prepare refuses: %v", s, err)
			}
		}
	})
}

func FuzzNormalizePurse(f *testing.F) {
	for _, s := range []string{"Z123456789012", "z 1234-5678-9012", "DE89 3704 0044 0532 0130 00", "a12345", "", "Z1.2", "З123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := payment.NormalizePurse(s)
		if err != nil {
			if !errors.Is(err, payment.ErrInvalid) || p != "" {
				t.Fatalf("NormalizePurse(%q) = %q, %v", s, p, err)
			}
			return
		}
		if p == "" || len(p) > payment.MaxPurseLen {
			t.Fatalf("NormalizePurse(%q) = %q: bad length", s, p)
		}
		for i := 0; i < len(p); i++ {
			if c := p[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') {
				t.Fatalf("NormalizePurse(%q) = %q: character %q", s, p, c)
			}
		}
		if again, err := payment.NormalizePurse(p); err != nil || again != p {
			t.Fatalf("NormalizePurse(%q) = %q, %v; not a fixed point", p, again, err)
		}
		// Case, spaces and dashes never matter.
		if q, err := payment.NormalizePurse(strings.ToLower(s)); err != nil || q != p {
			t.Fatalf("NormalizePurse(lower %q) = %q, %v; want %q", s, q, err, p)
		}
	})
}

func FuzzNormalizeAmount(f *testing.F) {
	for _, s := range []string{"010,50", "10.00", "0.50", ",5", ".99999999999999999999999999991", "7.", "0", "1e3", "-1", "1,000.00", " 1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := payment.NormalizeAmount(s)
		if err != nil {
			if !errors.Is(err, payment.ErrInvalid) || a != "" {
				t.Fatalf("NormalizeAmount(%q) = %q, %v", s, a, err)
			}
			return
		}
		if again, err := payment.NormalizeAmount(a); err != nil || again != a {
			t.Fatalf("NormalizeAmount(%q) = %q, %v; not a fixed point", a, again, err)
		}
		if len(a) > len(strings.Trim(s, " ")) || strings.Contains(a, ",") || strings.HasSuffix(a, ".") || strings.HasSuffix(a, "0") && strings.Contains(a, ".") ||
			len(a) > 1 && a[0] == '0' && a[1] != '.' {
			t.Fatalf("NormalizeAmount(%q) = %q: not canonical", s, a)
		}
		// The value is kept: compare as exact rationals.
		raw := strings.ReplaceAll(strings.Trim(s, " "), ",", ".")
		x, ok1 := new(big.Rat).SetString(strings.TrimSuffix(raw, "."))
		y, ok2 := new(big.Rat).SetString(a)
		if !ok1 || !ok2 || x.Cmp(y) != 0 {
			t.Fatalf("NormalizeAmount(%q) = %q: value changed (%v %v)", s, a, x, y)
		}
	})
}
