package trust_test

import (
	"math/big"
	"testing"

	"github.com/enumgate/enumgate/challenge/trust"
	"github.com/enumgate/enumgate/policy"
)

// exact reads a plain decimal with math/big, the reference.
func exact(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("not a number: " + s)
	}
	return r
}

// FuzzAmounts: an accepted amount is one policy.ValidAmount accepts;
// comparison and addition agree with math/big exactly; a sum is a valid
// amount in shortest form, or refused only when it has 19 integer digits.
func FuzzAmounts(f *testing.F) {
	for _, s := range [][2]string{
		{"0", "0"}, {"10.5", "10.50"}, {"0.99999999", "0.00000001"}, {"1.1", "2.2"},
		{"999999999999999999.99999999", "0.00000001"}, {"007", "1"}, {"1e3", "1"},
		{"123456789012345678.12345678", "0.5"}, {"", "."}, {"-1", "+1"},
	} {
		f.Add(s[0], s[1])
	}
	limit := exact("1000000000000000000")
	f.Fuzz(func(t *testing.T, a, b string) {
		c, err := trust.CompareAmounts(a, b)
		if err != nil {
			if sum, err := trust.AddAmounts(a, b); err == nil {
				t.Fatalf("AddAmounts(%q, %q) = %q but CompareAmounts refused them", a, b, sum)
			}
			return
		}
		if !policy.ValidAmount(a) || !policy.ValidAmount(b) {
			t.Fatalf("accepted %q, %q that policy.ValidAmount refuses", a, b)
		}
		x, y := exact(a), exact(b)
		if want := x.Cmp(y); c != want {
			t.Fatalf("CompareAmounts(%q, %q) = %d, want %d", a, b, c, want)
		}
		sum, err := trust.AddAmounts(a, b)
		want := new(big.Rat).Add(x, y)
		if err != nil {
			if want.Cmp(limit) < 0 {
				t.Fatalf("AddAmounts(%q, %q) refused a sum below 10^18: %v", a, b, err)
			}
			return
		}
		if !policy.ValidAmount(sum) || exact(sum).Cmp(want) != 0 {
			t.Fatalf("AddAmounts(%q, %q) = %q, want %s", a, b, sum, want.FloatString(8))
		}
		if again, _ := trust.AddAmounts(sum, "0"); again != sum {
			t.Fatalf("%q is not in shortest form (%q)", sum, again)
		}
	})
}
