package policy_test

import (
	"fmt"
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
		d, _ := rule.Evaluate("application/json", []byte(body))
		fmt.Printf("protected=%v amount=%q payee=%q (%s)\n", d.Protected, d.Amount, d.Payee, d.Reason)
	}

	_, err = policy.Compile([]policy.Rule{{Operation: "withdrawal", Paths: []string{"withdraw"}}})
	fmt.Println(err)
	// Output:
	// protected=false amount="250" payee="Z123" (condition amount > "1000" does not hold)
	// protected=true amount="1500.00" payee="Z123" (all conditions hold)
	// protected=true amount="" payee="Z123" (fail closed: field amount is missing)
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
