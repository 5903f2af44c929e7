package account_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/enumgate/enumgate/challenge/account"
)

// FuzzNormalizePhone: an accepted number is E.164 and normalizes to itself.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+79000000004", "+7 (900) 000-00-04", "89000000004", "+0123456789", "+7", "+1.555.000.0000", " +44 20 7946 0000 ", "+７９００"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := account.NormalizePhone(s)
		if err != nil {
			if p != "" {
				t.Fatalf("error with a result %q", p)
			}
			return
		}
		if len(p) < 9 || len(p) > 16 || p[0] != '+' || p[1] == '0' || strings.Trim(p[1:], "0123456789") != "" {
			t.Fatalf("NormalizePhone(%q) = %q, not E.164", s, p)
		}
		if q, err := account.NormalizePhone(p); err != nil || q != p {
			t.Fatalf("not idempotent: %q -> %q, %v", p, q, err)
		}
	})
}

// FuzzNormalizeEmail: an accepted address is bounded, plain, with a
// lower-case domain, and normalizes to itself.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"dave@example.test", "Dave@EXAMPLE.Test", "a <b@c.d>", "\"quoted local\"@x.test", "a@[127.0.0.1]", "a@b@c", "ä@ü.test", "a@b", "a\x00@b.c", strings.Repeat("a", 300) + "@b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := account.NormalizeEmail(s)
		if err != nil {
			if e != "" {
				t.Fatalf("error with a result %q", e)
			}
			return
		}
		at := strings.LastIndexByte(e, '@')
		if len(e) > account.MaxEmailLen || !utf8.ValidString(e) || at <= 0 || strings.ToLower(e[at:]) != e[at:] || strings.ContainsAny(e, " <>\t\r\n") {
			t.Fatalf("NormalizeEmail(%q) = %q", s, e)
		}
		if q, err := account.NormalizeEmail(e); err != nil || q != e {
			t.Fatalf("not idempotent: %q -> %q, %v", e, q, err)
		}
	})
}
