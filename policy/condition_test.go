package policy

import (
	"math/big"
	"strings"
	"testing"
)

func TestParseCondition(t *testing.T) {
	tests := []struct {
		in   string
		want Condition
	}{
		{"amount > 1000", Condition{"amount", ">", "1000"}},
		{"amount>1000", Condition{"amount", ">", "1000"}},
		{"  amount   >=   1e3  ", Condition{"amount", ">=", "1e3"}},
		{"amount<-5", Condition{"amount", "<", "-5"}},
		{"amount <= .5", Condition{"amount", "<=", ".5"}},
		{"currency == RUB", Condition{"currency", "==", "RUB"}},
		{"currency != USD", Condition{"currency", "!=", "USD"}},
		{"payee.wallet == Z123", Condition{"payee.wallet", "==", "Z123"}},
		{"memo == two words", Condition{"memo", "==", "two words"}},
		{`memo == " padded "`, Condition{"memo", "==", " padded "}},
		{`memo != ""`, Condition{"memo", "!=", ""}},
		{"a-b_c.D9 == x", Condition{"a-b_c.D9", "==", "x"}},
		{"items.0.sum > 0", Condition{"items.0.sum", ">", "0"}},
	}
	for _, tt := range tests {
		got, err := ParseCondition(tt.in)
		if err != nil {
			t.Errorf("ParseCondition(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseCondition(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		// String round-trips.
		again, err := ParseCondition(got.String())
		if err != nil || again != got {
			t.Errorf("ParseCondition(%q.String() = %q) = %+v, %v", tt.in, got.String(), again, err)
		}
	}
}

func TestParseConditionErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "missing field name"},
		{"> 5", "missing field name"},
		{"amount", "unknown operator"},
		{"amount 1000", "unknown operator"},
		{"amount = 1000", `unknown operator "="`},
		{"amount === 1000", `unknown operator "==="`},
		{"amount => 1000", `unknown operator "=>"`},
		{"amount <> 1000", `unknown operator "<>"`},
		{"amount >", "missing value"},
		{"amount > lots", "needs a decimal number"},
		{"amount > 1,000", "needs a decimal number"},
		{"amount > 0x10", "needs a decimal number"},
		{"amount > 1e9999999", "needs a decimal number"},
		{`memo == "unterminated`, "malformed quoted value"},
		{`memo == "a" b`, "malformed quoted value"},
		{"a..b > 1", "dot-separated segments"},
		{".a > 1", "dot-separated segments"},
		{"a b > 1", "unknown operator"},
		{"a.b.c.d.e.f.g.h.i > 1", "deeper than 8"},
		{"memo == " + strings.Repeat("x", 300), "longer than 256"},
		{strings.Repeat("x", 2000), "longer than 1024"},
	}
	for _, tt := range tests {
		_, err := ParseCondition(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCondition(%q) error = %v, want one containing %q", tt.in, err, tt.want)
		}
	}
}

func TestConditionEval(t *testing.T) {
	tests := []struct {
		cond     string
		text     string
		holds    bool
		decided  bool
		behavior string
	}{
		{"amount > 1000", "999.99", false, true, "below threshold"},
		{"amount > 1000", "1000", false, true, "at threshold"},
		{"amount > 1000", "1000.00", false, true, "at threshold with zeros"},
		{"amount > 1000", "1000.01", true, true, "above threshold"},
		{"amount > 1000", "1000.000000000000000000001", true, true, "above threshold beyond float precision"},
		{"amount > 1000", "1e3", false, true, "exponent equal"},
		{"amount > 1000", "1.0001E3", true, true, "exponent above"},
		{"amount > 1000", "+1001", true, true, "plus sign"},
		{"amount > 1000", "-5000", false, true, "negative"},
		{"amount > 1000", "0001001", true, true, "leading zeros"},
		{"amount > 1000", " 1001", false, false, "spaces are not numbers"},
		{"amount > 1000", "1,001", false, false, "thousands separator is not a number"},
		{"amount > 1000", "1001 RUB", false, false, "unit is not a number"},
		{"amount > 1000", "Infinity", false, false, "infinity is not a number"},
		{"amount > 1000", "", false, false, "empty is not a number"},
		{"amount > 1000", "1" + strings.Repeat("0", 64), false, false, "over 64 characters is not a number"},
		{"amount >= 1000", "1000", true, true, "at threshold inclusive"},
		{"amount < 0", "-0.0", false, true, "negative zero is zero"},
		{"amount <= 0", "-0.0", true, true, "negative zero inclusive"},
		{"amount == 1000", "1000.0", true, true, "numeric equality"},
		{"amount == 1000", "1e3", true, true, "numeric equality exponent"},
		{"amount != 1000", "1000.0", false, true, "numeric inequality"},
		{"amount == 1000", "abc", false, true, "equality falls back to text"},
		{"currency == RUB", "RUB", true, true, "text equal"},
		{"currency == RUB", "rub", true, true, "text equal ignoring case"},
		{"currency == RUB", " RUB ", true, true, "text equal ignoring spaces"},
		{"currency == RUB", "USD", false, true, "text different"},
		{"currency != USD", "RUB", true, true, "text not equal"},
		{"currency != USD", "USD", false, true, "text identical"},
		{"currency != USD", "usd", true, true, "not-equal is strict about case"},
		{"flag == true", "true", true, true, "boolean text"},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			c, err := ParseCondition(tt.cond)
			if err != nil {
				t.Fatal(err)
			}
			cc, err := compileCondition(c)
			if err != nil {
				t.Fatal(err)
			}
			holds, decided := cc.eval(tt.text)
			if holds != tt.holds || decided != tt.decided {
				t.Errorf("%s on %q = %v, %v; want %v, %v", tt.cond, tt.text, holds, decided, tt.holds, tt.decided)
			}
		})
	}
}

func TestParseDecimal(t *testing.T) {
	valid := []string{"0", "-0", "+0", "1", "-1", "1.5", ".5", "5.", "1e3", "1E+3", "1e-3", "0.000", "00012.3400", "1e1000000", "-1.5e-1000000"}
	for _, s := range valid {
		if _, ok := parseDecimal(s); !ok {
			t.Errorf("parseDecimal(%q) rejected", s)
		}
	}
	invalid := []string{"", "-", "+", ".", "e3", "1e", "1e+", "1.2.3", "--1", "1 ", " 1", "0x10", "1_000", "1,5", "NaN", "Infinity", "1e1000001", "1e99999999999999999999", strings.Repeat("1", 65)}
	for _, s := range invalid {
		if _, ok := parseDecimal(s); ok {
			t.Errorf("parseDecimal(%q) accepted", s)
		}
	}
}

func TestDecimalCompare(t *testing.T) {
	ordered := []string{"-1e5", "-1000.01", "-1000", "-999.99", "-1", "-1e-9", "0", "1e-9", "0.001", ".5", "1", "999.99", "1e3", "1000.000001", "1000.01", "1.5e3", "99999", "1e5", "1e6"}
	for i, a := range ordered {
		for j, b := range ordered {
			da, _ := parseDecimal(a)
			db, _ := parseDecimal(b)
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := da.cmp(db); got != want {
				t.Errorf("cmp(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	for _, eq := range [][2]string{{"1000", "1e3"}, {"1000.000", "1000"}, {"0.5", ".5"}, {"-0", "0"}, {"012", "12.0"}, {"1.5e3", "1500"}, {"15e-1", "1.5"}} {
		a, _ := parseDecimal(eq[0])
		b, _ := parseDecimal(eq[1])
		if a.cmp(b) != 0 {
			t.Errorf("%s != %s", eq[0], eq[1])
		}
	}
}

// ratOf converts a decimal-syntax string to a big.Rat for cross-checking;
// ok is false when the exponent is too large to compute cheaply.
func ratOf(s string) (*big.Rat, bool) {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e := strings.TrimLeft(s[i+1:], "+-")
		if len(e) > 3 {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "1000", "1000.01", "1e3", "-.5", "+5.", "0001", "1e-999999", "abc"} {
		f.Add(s, "1000")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		da, okA := parseDecimal(a)
		db, okB := parseDecimal(b)
		if !okA || !okB {
			return
		}
		if da.cmp(db) != -db.cmp(da) {
			t.Fatalf("cmp not antisymmetric for %q, %q", a, b)
		}
		ra, ok1 := ratOf(a)
		rb, ok2 := ratOf(b)
		if ok1 && ok2 {
			if got, want := da.cmp(db), ra.Cmp(rb); got != want {
				t.Fatalf("cmp(%q, %q) = %d, big.Rat says %d", a, b, got, want)
			}
		}
	})
}
