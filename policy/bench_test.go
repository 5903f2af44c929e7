package policy

import (
	"strings"
	"testing"
)

func BenchmarkMatchMiss(b *testing.B) {
	p := mustCompile(b, typicalRules()...)
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range missPaths {
			if p.Match(m.method, m.path) != nil {
				b.Fatal("unexpected match")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(missPaths)), "ns/path")
}

func BenchmarkMatchHitClean(b *testing.B) {
	p := mustCompile(b, typicalRules()...)
	b.ReportAllocs()
	for b.Loop() {
		if p.Match("POST", "/api/v1/keys") == nil {
			b.Fatal("no match")
		}
	}
}

func BenchmarkMatchHitDirty(b *testing.B) {
	p := mustCompile(b, typicalRules()...)
	b.ReportAllocs()
	for b.Loop() {
		if p.Match("POST", "/API//Transfers/../transfers/1/") == nil {
			b.Fatal("no match")
		}
	}
}

// BenchmarkMatchHostile is a long path that opens every alternative reading.
func BenchmarkMatchHostile(b *testing.B) {
	p := mustCompile(b, typicalRules()...)
	path := "/A%2e;x\\b.\x00" + strings.Repeat("/seg;p=1\\x.", 400) // ~5 KB
	b.ReportAllocs()
	b.SetBytes(int64(len(path)))
	for b.Loop() {
		p.Match("POST", path)
	}
}

func BenchmarkEvaluateJSON(b *testing.B) {
	c := compiledRule(b, Rule{When: conds(b, "amount > 1000", "currency == RUB"), AmountField: "amount", PayeeField: "payee.wallet"})
	body := []byte(`{"amount":"1500.00","currency":"RUB","payee":{"wallet":"Z123456789012"},"memo":"rent"}`)
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := c.Evaluate(ctJSON, body); !d.Protected {
			b.Fatal("not protected")
		}
	}
}

func BenchmarkEvaluateForm(b *testing.B) {
	c := compiledRule(b, Rule{When: conds(b, "amount > 1000"), AmountField: "amount", PayeeField: "to"})
	body := []byte(`amount=1500.00&currency=RUB&to=Z123456789012&memo=rent`)
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := c.Evaluate(ctForm, body); !d.Protected {
			b.Fatal("not protected")
		}
	}
}

// BenchmarkPathMatchesMiss is the check a caller makes before looking for
// method overrides on a request no rule matches.
func BenchmarkPathMatchesMiss(b *testing.B) {
	p := mustCompile(b, typicalRules()...)
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range missPaths {
			if p.PathMatches(m.path) && m.method == "" {
				b.Fatal("unreachable")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(missPaths)), "ns/path")
}

func BenchmarkOverrideMethodsNone(b *testing.B) {
	header := map[string][]string{"Accept": {"text/html"}, "Content-Type": {ctForm}, "Cookie": {"s=1"}, "User-Agent": {"x"}}
	body := []byte(`amount=1500.00&currency=RUB&to=Z123456789012&memo=rent`)
	b.ReportAllocs()
	for b.Loop() {
		if OverrideMethods(header, "lang=en", ctForm, body) != nil {
			b.Fatal("override")
		}
	}
}

func BenchmarkEvaluateJSONShowFields(b *testing.B) {
	c := compiledRule(b, Rule{
		AmountField: "amount", PayeeField: "payee.wallet", CurrencyField: "currency",
		Show:  []ShowField{{Field: "card", Label: "card"}, {Field: "memo", Label: "memo", Optional: true}},
		Masks: map[string]string{"card": MaskLast4},
	})
	body := []byte(`{"amount":"1500.00","currency":"RUB","payee":{"wallet":"Z123456789012"},"card":"4111111111111111","memo":"rent"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Evaluate(ctJSON, body); err != nil {
			b.Fatal(err)
		}
	}
}
