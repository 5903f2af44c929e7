package policy_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/enumgate/enumgate/policy"
)

func ExampleCompile() {
	amountOver, err := policy.ParseCondition("amount > 1000")
	if err != nil {
		panic(err)
	}
	p, err := policy.Compile([]policy.Rule{{
		Operation:   "transfer",
		HTTPMethods: []string{"POST"},
		Paths:       []string{"/transfer", "/api/transfers*"},
		Confirm:     []string{"enum", "sms"},
		TTL:         5 * time.Minute,
		When:        []policy.Condition{amountOver},
		AmountField: "amount",
		PayeeField:  "payee.wallet",
	}})
	if err != nil {
		panic(err)
	}
	rule := p.Match("POST", "/api/transfers/new")
	for _, body := range []string{
		`{"amount": 250, "payee": {"wallet": "Z123"}}`,
		`{"amount": "1500.00", "payee": {"wallet": "Z123"}}`,
		`{"payee": {"wallet": "Z123"}}`,
	} {
		d, err := rule.Evaluate("application/json", []byte(body))
		if err != nil {
			// errors.Is(err, policy.ErrAmbiguous): refuse, never confirm.
			fmt.Println(err)
			continue
		}
		fmt.Printf("protected=%v amount=%q payee=%q (%s)\n", d.Protected, d.Amount, d.Payee, d.Reason)
	}

	_, err = policy.Compile([]policy.Rule{{Operation: "withdrawal", Paths: []string{"withdraw"}}})
	fmt.Println(err)
	// Output:
	// protected=false amount="250" payee="Z123" (condition amount > "1000" does not hold)
	// protected=true amount="1500.00" payee="Z123" (all conditions hold)
	// policy: ambiguous operation: field amount is missing
	// rule 0 (withdrawal): path "withdraw" must start with "/" or "*"
}

func ExamplePolicy_Match() {
	p, err := policy.Compile([]policy.Rule{
		{Operation: "transfer", HTTPMethods: []string{"POST"}, Paths: []string{"/transfer"}},
		{Operation: "withdrawal", HTTPMethods: []string{"POST"}, Paths: []string{"/withdraw*"}},
		{Operation: "new_correspondent", Paths: []string{"/u/*/correspondents"}},
	})
	if err != nil {
		panic(err)
	}
	for _, req := range []struct{ method, path string }{
		{"POST", "/transfer"},
		{"POST", "/TRANSFER/"},
		{"POST", "//x/../transfer;jsessionid=1"},
		{"GET", "/transfer"},
		{"POST", "/withdraw/card"},
		{"PUT", "/u/alice/correspondents"},
		{"PUT", "/u/alice/bob/correspondents"},
		{"GET", "/static/app.js"},
	} {
		operation := "-"
		if c := p.Match(req.method, req.path); c != nil {
			operation = c.Rule.Operation
		}
		fmt.Printf("%-4s %-30s %s\n", req.method, req.path, operation)
	}
	// Output:
	// POST /transfer                      transfer
	// POST /TRANSFER/                     transfer
	// POST //x/../transfer;jsessionid=1   transfer
	// GET  /transfer                      -
	// POST /withdraw/card                 withdrawal
	// PUT  /u/alice/correspondents        new_correspondent
	// PUT  /u/alice/bob/correspondents    -
	// GET  /static/app.js                 -
}

func ExampleParseCondition() {
	for _, s := range []string{"amount >= 1e3", `currency == "RUB"`, "amount > lots"} {
		c, err := policy.ParseCondition(s)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Printf("%s | field=%s op=%s value=%s\n", c, c.Field, c.Op, c.Value)
	}
	// Output:
	// amount >= 1e3 | field=amount op=>= value=1e3
	// currency == RUB | field=currency op=== value=RUB
	// error: condition "amount > lots": operator > needs a decimal number, not "lots"
}

func ExampleCompiled_EvaluateRequest() {
	p, err := policy.Compile([]policy.Rule{{
		Operation:   "transfer",
		Paths:       []string{"/transfer"},
		AmountField: "amount",
		PayeeField:  "to",
		Currency:    "RUB",
		Show:        []policy.ShowField{{Field: "card", Label: "card", Optional: true}},
		Masks:       map[string]string{"card": policy.MaskLast4},
	}})
	if err != nil {
		panic(err)
	}
	rule := p.Match("POST", "/transfer")
	for _, body := range []string{
		`{"to": "Z123456789012", "amount": "1500.00", "card": "4111111111111111"}`,
		// The page would show 1.00; many upstreams execute the last one.
		`{"to": "Z123456789012", "amount": "1.00", "amount": "9999.00"}`,
	} {
		d, err := rule.EvaluateRequest("application/json", "", []byte(body))
		if errors.Is(err, policy.ErrAmbiguous) {
			fmt.Println("refused:", err)
			continue
		}
		fmt.Println(policy.FormatAmount(d.Amount, d.Currency, "en"), "to", d.PayeeDisplay)
		for _, f := range d.Fields {
			fmt.Printf("%s: %s (upstream gets %s)\n", f.Label, f.Display, f.Value)
		}
	}
	// Output:
	// RUB 1,500.00 to Z123456789012
	// card: •••• 1111 (upstream gets 4111111111111111)
	// refused: policy: ambiguous operation: field amount is ambiguous: repeated
}

func ExampleFormatAmount() {
	for _, lang := range []string{"ru", "en"} {
		for _, a := range []struct{ amount, currency string }{{"1234567.89", "RUB"}, {"10.5", "USD"}, {"1000", "KZT"}, {"42", ""}} {
			// strings.ReplaceAll makes the no-break spaces visible.
			fmt.Printf("%s %q\n", lang, strings.ReplaceAll(policy.FormatAmount(a.amount, a.currency, lang), "\u00a0", "_"))
		}
	}
	// Output:
	// ru "1_234_567,89_₽"
	// ru "10,5_$"
	// ru "1_000_KZT"
	// ru "42"
	// en "RUB 1,234,567.89"
	// en "USD 10.5"
	// en "KZT 1,000"
	// en "42"
}
