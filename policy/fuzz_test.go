package policy

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		"amount > 1000", "amount>=1e3", "currency == RUB", `memo != ""`, `memo == " x "`,
		"a.b.c < -0.5", "amount => 1", "x", "", `a == "\u00e9\x01"`, "a.b.c.d.e.f.g.h.i > 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCondition(s)
		if err != nil {
			if c != (Condition{}) {
				t.Fatalf("error with non-zero condition %+v", c)
			}
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("ParseCondition(%q) = %+v, which does not validate: %v", s, c, err)
		}
		again, err := ParseCondition(c.String())
		if err != nil || again != c {
			t.Fatalf("round trip of %q via %q: %+v, %v", s, c.String(), again, err)
		}
		cc, err := compileCondition(c)
		if err != nil {
			t.Fatal(err)
		}
		cc.eval(s) // must not panic
	})
}

// fuzzRules covers every kind of pattern.
func fuzzRules() []Rule {
	return append(typicalRules(),
		Rule{Operation: "exact_unicode", Paths: []string{"/Über/ſtraße"}},
		Rule{Operation: "glob_unicode", HTTPMethods: []string{"PATCH"}, Paths: []string{"/[À-ÿ]/*/é?", "/x/**/y"}},
		Rule{Operation: "contains", HTTPMethods: []string{"PUT"}, Paths: []string{"*/pay/*", "/trailing/"}},
	)
}

// slowMatch matches through pathReadings even for canonical paths, as a
// reference for the fast path.
func slowMatch(p *Policy, method, path string) *Compiled {
	var readings []string
	for _, q := range pathReadings(path) {
		readings = frameworkReadings(readings, q)
	}
	for _, c := range p.rules {
		if !c.methodMatches(method) {
			continue
		}
		for _, q := range readings {
			if c.pathMatches(q) {
				return c
			}
		}
	}
	return nil
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{
		"/transfer", "/TRANSFER/", "//transfer", "/x/../transfer", "/transfer;jsessionid=1", `/x\..\transfer`,
		"/tr%61nsfer", "/transfer.", "/transfer\x00.png", "/api/transfers/1", "/cards/1/payout", "/u/é/pay",
		"/Über/ſtraße", "/é/1/éx", "/x/a/b/y", "/shop/pay/x", "", "transfer", "/", "/\xff", "/%",
		"/transfer.json", "/index.php/transfer", "/app/index.php/transfer.json", "/.php/x", "/a.php",
	} {
		f.Add("POST", s, "/u/*/x*")
	}
	f.Add("PATCH", "/é/x/éé", "*.JSON")
	base := mustCompile(f, fuzzRules()...)
	f.Fuzz(func(t *testing.T, method, path, extra string) {
		p := base
		if x, err := Compile([]Rule{{Operation: "extra", Paths: []string{extra}}}); err == nil {
			p = &Policy{rules: append(base.Rules(), x.rules[0])}
		}
		got := p.Match(method, path)
		if want := slowMatch(p, method, path); got != want {
			t.Fatalf("Match(%q, %q) = %s, reference says %s", method, path, op(got), op(want))
		}
		if isCanonical(path) {
			if r := pathReadings(path); len(r) != 1 || r[0] != path {
				t.Fatalf("canonical %q has readings %q", path, r)
			}
		}
		if got == nil {
			return
		}
		same := func(variant string) {
			if c := p.Match(method, variant); c != got {
				t.Fatalf("Match(%q, %q) = %s but Match(%q) = %s", method, path, op(got), variant, op(c))
			}
		}
		same(path + "/")
		if utf8.ValidString(path) {
			same(strings.ToUpper(path))
			same(strings.ToLower(path))
			same(strings.Map(unicode.SimpleFold, path))
		}
		if c := p.Match(strings.ToLower(method), path); c != got {
			t.Fatalf("method case changed the match: %s vs %s", op(got), op(c))
		}
	})
}

func FuzzEvaluate(f *testing.F) {
	f.Add(ctJSON, "", []byte(`{"amount": 1000.01, "to": "Z1", "currency": "RUB"}`))
	f.Add(ctJSON, "amount=5", []byte(`{"payee":{"wallet":"x"},"amount":"5"}`))
	f.Add(ctForm, "", []byte(`amount=999.99&to=bob&currency=rub`))
	f.Add(ctForm, "x=1", []byte(`{"amount":5}`))
	f.Add("", "", []byte(`[1,2,3]`))
	mct, mbody := multipartBody(f, [][2]string{{"amount", "5000"}, {"to", "Z"}}, "file")
	f.Add(mct, "", mbody)
	f.Add("multipart/form-data; boundary=x", "", []byte("--x\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n5\r\n--x--\r\n"))
	rule := Rule{
		Operation:   "transfer",
		Paths:       []string{"/transfer"},
		When:        conds(f, "amount > 1000", "currency == RUB"),
		AmountField: "amount",
		PayeeField:  "payee.wallet",
	}
	c := compiledRule(f, rule)
	f.Fuzz(func(t *testing.T, ct, query string, body []byte) {
		d, err := c.EvaluateRequest(ct, query, body)
		if err != nil {
			t.Fatalf("error %v", err)
		}
		if d.FailClosed && !d.Protected {
			t.Fatalf("fail closed but not protected: %+v", d)
		}
		if !d.Protected && !strings.Contains(d.Reason, "does not hold") {
			t.Fatalf("unprotected without a false condition: %+v", d)
		}
		for _, s := range []string{d.Amount, d.Payee} {
			if n := utf8.RuneCountInString(s); n > maxDisplayRunes || !utf8.ValidString(s) {
				t.Fatalf("display value %q: %d runes", s, n)
			}
			for _, r := range s {
				if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
					t.Fatalf("display value %q has %U", s, r)
				}
			}
		}
		if d2, _ := c.EvaluateRequest(ct, query, body); d2 != d {
			t.Fatalf("not deterministic: %+v vs %+v", d, d2)
		}
	})
}
