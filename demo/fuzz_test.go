package demo

import (
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // 0: error
	}{
		{"10", 1000}, {"10.5", 1050}, {"10.50", 1050}, {" 0.01 ", 1}, {"007.10", 710},
		{"1000000", 100_000_000}, {"1000000.00", 100_000_000},
		{"", 0}, {"0", 0}, {"0.00", 0}, {"1000000.01", 0}, {"-1", 0}, {"+1", 0}, {"1.", 0},
		{".5", 0}, {"1.234", 0}, {"1e3", 0}, {"1,5", 0}, {"1 000", 0}, {"0x10", 0},
		{"١٢", 0}, {"9223372036854775807", 0}, {"1.5.5", 0}, {"NaN", 0},
	}
	for _, tt := range tests {
		got, err := parseAmount(tt.in)
		if tt.want == 0 {
			if err == nil {
				t.Errorf("parseAmount(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseAmount(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for cents, want := range map[int64]string{1: "0.01", 10: "0.10", 1050: "10.50", 100_000_000: "1000000.00"} {
		if got := formatAmount(cents); got != want {
			t.Errorf("formatAmount(%d) = %q, want %q", cents, got, want)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"10.00", "0.01", "1000000", "1.234", "-1", " 5 ", "1e3", "99999999999999999999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cents, err := parseAmount(s)
		if err != nil {
			return
		}
		if cents <= 0 || cents > maxAmountCents {
			t.Fatalf("parseAmount(%q) = %d, out of range", s, cents)
		}
		text := formatAmount(cents)
		again, err := parseAmount(text)
		if err != nil || again != cents {
			t.Fatalf("parseAmount(%q) = %d; formatted %q reparses as %d, %v", s, cents, text, again, err)
		}
		if strings.TrimLeft(strings.TrimSpace(s), "0") == "" {
			t.Fatalf("parseAmount(%q) accepted no digits", s)
		}
	})
}

func FuzzDecodeInbox(f *testing.F) {
	for _, s := range []string{
		`{"method":"sms","to":"+79000000001","text":"Code 123456","code":"123456","user":"alice","operation":"transfer","challenge_id":"c1"}`,
		`{"to":"alice@example.test","text":"hi"}`,
		`{"to":"","text":"x"}`, `[]`, `null`, `{"to":1}`, `{"to":"a\u0000","text":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decodeInbox(body)
		if err != nil {
			return
		}
		if m.To == "" || strings.TrimSpace(m.Text) == "" || len(m.To) > maxAddressLen ||
			len(m.Text) > maxTextLen || !printable(m.To) {
			t.Fatalf("decodeInbox(%q) accepted %+v", body, m)
		}
		for _, s := range []string{m.Method, m.Code, m.User, m.Operation, m.ChallengeID} {
			if len(s) > maxFieldLen || !printable(s) {
				t.Fatalf("decodeInbox(%q) accepted field %q", body, s)
			}
		}
	})
}
