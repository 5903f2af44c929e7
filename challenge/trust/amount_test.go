package trust_test

import (
	"errors"
	"testing"

	"github.com/enumgate/enumgate/challenge/trust"
)

func TestCompareAmounts(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"0", "0", 0},
		{"10.5", "10.50", 0},
		{"10", "10.00000000", 0},
		{"9.99999999", "10", -1},
		{"10.00000001", "10", 1},
		{"0.1", "0.09", 1},
		{"1000.01", "999.99", 1},
		{"999999999999999999.99999999", "999999999999999999.99999998", 1},
		// Beyond float64: these differ only in the 26th digit.
		{"123456789012345678.12345678", "123456789012345678.12345679", -1},
	}
	for _, c := range cases {
		got, err := trust.CompareAmounts(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("CompareAmounts(%s, %s) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
		if back, _ := trust.CompareAmounts(c.b, c.a); back != -c.want {
			t.Errorf("CompareAmounts(%s, %s) = %d, not the opposite", c.b, c.a, back)
		}
	}
}

func TestAmountsRefuseWhatIsNotAPlainDecimal(t *testing.T) {
	for _, s := range []string{
		"", ".5", "5.", "05", "00", "-1", "+1", "1e3", "1E3", "1,5", "1 000", " 1", "1 ",
		"0x10", "NaN", "Inf", "１", "1.123456789", "1000000000000000000", "1..2", "1.2.3",
	} {
		if _, err := trust.CompareAmounts(s, "1"); !errors.Is(err, trust.ErrInvalid) {
			t.Errorf("CompareAmounts(%q) = %v, want ErrInvalid", s, err)
		}
		if _, err := trust.AddAmounts("1", s); !errors.Is(err, trust.ErrInvalid) {
			t.Errorf("AddAmounts(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestAddAmounts(t *testing.T) {
	cases := []struct{ a, b, want string }{
		{"0", "0", "0"},
		{"0.5", "0.50", "1"},
		{"10.25", "0.75", "11"},
		{"0.00000001", "0.00000001", "0.00000002"},
		{"0.99999999", "0.00000001", "1"},
		{"1.1", "2.2", "3.3"}, // 3.3000000000000003 in float64
		{"999999999999999998", "1.99999999", "999999999999999999.99999999"},
		{"123456789012345678.9", "0.1", "123456789012345679"},
	}
	for _, c := range cases {
		if got, err := trust.AddAmounts(c.a, c.b); err != nil || got != c.want {
			t.Errorf("AddAmounts(%s, %s) = %q, %v; want %q", c.a, c.b, got, err, c.want)
		}
	}
	if _, err := trust.AddAmounts("999999999999999999.99999999", "0.00000001"); !errors.Is(err, trust.ErrInvalid) {
		t.Errorf("a sum of 19 integer digits = %v, want ErrInvalid", err)
	}
}
