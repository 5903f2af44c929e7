package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func validRule() Rule {
	return Rule{Operation: "transfer", HTTPMethods: []string{"POST"}, Paths: []string{"/transfer"}}
}

func TestCompileAcceptsValidRules(t *testing.T) {
	rules := []Rule{
		validRule(),
		{Operation: "a", Paths: []string{"*"}},
		{Operation: strings.Repeat("z", 64), Paths: []string{"/x"}},
		{Operation: "op_1", HTTPMethods: []string{"M-SEARCH", "x.y~z"}, Paths: []string{"/"}},
		{
			Operation:   "withdrawal",
			HTTPMethods: []string{"POST", "PUT"},
			Paths:       []string{"/withdraw*", "*.json", "*/pay/*", "/u/*/pay", "/a/*/b*", "/v?/[a-c]/x", `/lit\*`, "/api/"},
			Confirm:     []string{"enum", "sms", "email"},
			TTL:         30 * time.Second,
			MaxAttempts: 20,
			When: []Condition{
				{Field: "amount", Op: ">", Value: "1000"},
				{Field: "currency", Op: "==", Value: "RUB"},
				{Field: "payee.wallet", Op: "!=", Value: ""},
				{Field: "a.b.c.d.e.f.g.h", Op: "<=", Value: "-1.5e3"},
			},
			AmountField: "amount",
			PayeeField:  "payee.wallet",
		},
		{Operation: "ttl_max", Paths: []string{"/x"}, TTL: 24 * time.Hour, MaxAttempts: 1},
		{
			Operation: "card_payout", Paths: []string{"/cards"}, AmountField: "amount", PayeeField: "card", Currency: "RUB",
			Show:     []ShowField{{Field: "holder.name", Label: "card.holder"}, {Field: "memo", Label: "memo_2", Optional: true}},
			Masks:    map[string]string{"card": MaskLast4, "holder.name": MaskLast4},
			EnumMode: EnumModePayment,
		},
		{Operation: "fx", Paths: []string{"/fx"}, AmountField: "sum", CurrencyField: "sum_currency", EnumMode: EnumModeAuthorization},
		{Operation: "transfer", Paths: []string{"/x"}}, // names may repeat
	}
	if _, err := Compile(rules); err != nil {
		t.Fatalf("Compile: %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	long := "/" + strings.Repeat("a", MaxPatternLen)
	manyPaths := make([]string, MaxPathsPerRule+1)
	for i := range manyPaths {
		manyPaths[i] = "/p" + strings.Repeat("x", i)
	}
	manyConds := make([]Condition, MaxConditionsPerRule+1)
	for i := range manyConds {
		manyConds[i] = Condition{Field: "a", Op: ">", Value: "1"}
	}
	tests := []struct {
		name   string
		modify func(*Rule)
		want   string
	}{
		{"empty operation", func(r *Rule) { r.Operation = "" }, `rule 1 (""): operation name "" must be 1-64 characters of [a-z0-9_]`},
		{"upper-case operation", func(r *Rule) { r.Operation = "Transfer" }, `rule 1 ("Transfer"): operation name "Transfer"`},
		{"operation with dash", func(r *Rule) { r.Operation = "new-payee" }, `operation name "new-payee"`},
		{"operation too long", func(r *Rule) { r.Operation = strings.Repeat("a", 65) }, `must be 1-64 characters`},
		{"empty method", func(r *Rule) { r.HTTPMethods = []string{""} }, `rule 1 (transfer): method "" must be 1-32 characters`},
		{"method with space", func(r *Rule) { r.HTTPMethods = []string{"PO ST"} }, `method "PO ST" is not a valid HTTP method token`},
		{"method with slash", func(r *Rule) { r.HTTPMethods = []string{"POST/1"} }, `is not a valid HTTP method token`},
		{"method too long", func(r *Rule) { r.HTTPMethods = []string{strings.Repeat("A", 33)} }, `must be 1-32 characters`},
		{"duplicate method", func(r *Rule) { r.HTTPMethods = []string{"POST", "post"} }, `duplicate method "POST"`},
		{"no paths", func(r *Rule) { r.Paths = nil }, `rule 1 (transfer): no paths`},
		{"too many paths", func(r *Rule) { r.Paths = manyPaths }, `more than 64 paths`},
		{"empty path", func(r *Rule) { r.Paths = []string{""} }, `path is empty`},
		{"relative path", func(r *Rule) { r.Paths = []string{"x"} }, `rule 1 (transfer): path "x" must start with "/" or "*"`},
		{"path too long", func(r *Rule) { r.Paths = []string{long} }, `is longer than 256 bytes`},
		{"path invalid utf8", func(r *Rule) { r.Paths = []string{"/\xff"} }, `is not valid UTF-8`},
		{"path control char", func(r *Rule) { r.Paths = []string{"/a\nb"} }, `contains a control character`},
		{"path percent", func(r *Rule) { r.Paths = []string{"/a%2Fb"} }, `write the decoded path, not percent-escapes`},
		{"path placeholder", func(r *Rule) { r.Paths = []string{"/{http.vars.x}"} }, `placeholders are not supported`},
		{"path parameter", func(r *Rule) { r.Paths = []string{"/a;b"} }, `contains ";"`},
		{"path double slash", func(r *Rule) { r.Paths = []string{"//a"} }, `has an empty, "." or ".." segment`},
		{"path inner double slash", func(r *Rule) { r.Paths = []string{"/a//b"} }, `has an empty, "." or ".." segment`},
		{"path dot", func(r *Rule) { r.Paths = []string{"/a/./b"} }, `has an empty, "." or ".." segment`},
		{"path dot dot", func(r *Rule) { r.Paths = []string{"/a/../b"} }, `has an empty, "." or ".." segment`},
		{"path trailing dot dot", func(r *Rule) { r.Paths = []string{"*/.."} }, `has an empty, "." or ".." segment`},
		{"path unterminated class", func(r *Rule) { r.Paths = []string{"/[ab"} }, `malformed character class`},
		{"path empty class", func(r *Rule) { r.Paths = []string{"/[]"} }, `malformed character class`},
		{"path reversed range", func(r *Rule) { r.Paths = []string{"/[z-a]"} }, `is empty`},
		{"path dangling escape", func(r *Rule) { r.Paths = []string{`/a\`} }, `unfinished "\" escape`},
		{"path escaped double slash", func(r *Rule) { r.Paths = []string{`/a/\/b`} }, `could never match a cleaned request path`},
		{"duplicate path", func(r *Rule) { r.Paths = []string{"/a", "/a"} }, `duplicate path "/a"`},
		{"unknown confirmation", func(r *Rule) { r.Confirm = []string{"push"} }, `confirmation method "push" is not one of enum, sms, email`},
		{"duplicate confirmation", func(r *Rule) { r.Confirm = []string{"sms", "SMS"} }, `duplicate confirmation method "sms"`},
		{"ttl too short", func(r *Rule) { r.TTL = 29 * time.Second }, `ttl 29s must be 0 (inherit) or between 30s and 24h0m0s`},
		{"ttl too long", func(r *Rule) { r.TTL = 25 * time.Hour }, `ttl 25h0m0s must be`},
		{"ttl negative", func(r *Rule) { r.TTL = -time.Minute }, `ttl -1m0s must be`},
		{"max attempts negative", func(r *Rule) { r.MaxAttempts = -1 }, `max_attempts -1 must be 0 (inherit) or between 1 and 20`},
		{"max attempts too many", func(r *Rule) { r.MaxAttempts = 21 }, `max_attempts 21 must be`},
		{"too many conditions", func(r *Rule) { r.When = manyConds }, `more than 16 conditions`},
		{"condition empty field", func(r *Rule) { r.When = []Condition{{Field: "", Op: ">", Value: "1"}} }, `condition 0 ( > "1"): field name is empty`},
		{"condition bad field char", func(r *Rule) { r.When = []Condition{{Field: "a b", Op: ">", Value: "1"}} }, `may contain only`},
		{"condition empty segment", func(r *Rule) { r.When = []Condition{{Field: "a..b", Op: ">", Value: "1"}} }, `dot-separated segments`},
		{"condition too deep", func(r *Rule) { r.When = []Condition{{Field: "a.b.c.d.e.f.g.h.i", Op: ">", Value: "1"}} }, `deeper than 8 segments`},
		{"condition long segment", func(r *Rule) { r.When = []Condition{{Field: strings.Repeat("a", 65), Op: ">", Value: "1"}} }, `dot-separated segments of 1-64`},
		{"condition bad op", func(r *Rule) { r.When = []Condition{{Field: "a", Op: "=", Value: "1"}} }, `unknown operator "="`},
		{"condition non-numeric ordering", func(r *Rule) { r.When = []Condition{{Field: "a", Op: ">", Value: "lots"}} }, `operator > needs a decimal number, not "lots"`},
		{"condition value too long", func(r *Rule) { r.When = []Condition{{Field: "a", Op: "==", Value: strings.Repeat("v", 257)}} }, `value is longer than 256 bytes`},
		{"condition value control char", func(r *Rule) { r.When = []Condition{{Field: "a", Op: "==", Value: "a\tb"}} }, `control character`},
		{"condition value invalid utf8", func(r *Rule) { r.When = []Condition{{Field: "a", Op: "==", Value: "\xff"}} }, `not valid UTF-8`},
		{"amount field", func(r *Rule) { r.AmountField = "amount!" }, `rule 1 (transfer): amount field: field "amount!" may contain only`},
		{"payee field", func(r *Rule) { r.PayeeField = ".to" }, `payee field: field ".to"`},
		{"payee field same as amount field", func(r *Rule) { r.AmountField, r.PayeeField = "amount", "Amount" }, `payee field "Amount" is already shown as amount field`},
		{"currency lower case", func(r *Rule) { r.Currency = "rub" }, `currency "rub" must be three upper-case letters`},
		{"currency too long", func(r *Rule) { r.Currency = "RUBL" }, `currency "RUBL" must be three upper-case letters`},
		{"currency and currency field", func(r *Rule) { r.Currency, r.CurrencyField = "RUB", "cur" }, `currency and currency_field are both set`},
		{"currency field invalid", func(r *Rule) { r.CurrencyField = "a b" }, `currency field: field "a b" may contain only`},
		{"show field invalid", func(r *Rule) { r.Show = []ShowField{{Field: "", Label: "x"}} }, `show field 0: field name is empty`},
		{"show label empty", func(r *Rule) { r.Show = []ShowField{{Field: "name"}} }, `show field 0 (name): label "" must be 1-64 characters of [a-z0-9_.]`},
		{"show label upper case", func(r *Rule) { r.Show = []ShowField{{Field: "name", Label: "Name"}} }, `label "Name" must be`},
		{"show label too long", func(r *Rule) { r.Show = []ShowField{{Field: "name", Label: strings.Repeat("a", 65)}} }, `must be 1-64 characters`},
		{"show field twice", func(r *Rule) { r.Show = []ShowField{{Field: "name", Label: "a"}, {Field: "NAME", Label: "b"}} }, `show field "NAME" is already shown as show field`},
		{"show field is the payee", func(r *Rule) { r.PayeeField = "to"; r.Show = []ShowField{{Field: "to", Label: "a"}} }, `show field "to" is already shown as payee field`},
		{"too many show fields", func(r *Rule) {
			for i := range MaxShowFields + 1 {
				r.Show = append(r.Show, ShowField{Field: "f" + strings.Repeat("x", i), Label: "l"})
			}
		}, `more than 16 show fields`},
		{"unknown mask", func(r *Rule) { r.PayeeField = "card"; r.Masks = map[string]string{"card": "first6"} }, `mask "first6" for field "card" is not one of last4`},
		{"mask for an unshown field", func(r *Rule) { r.PayeeField = "card"; r.Masks = map[string]string{"pan": MaskLast4} }, `mask for field "pan": only the payee field and show fields can be masked`},
		{"mask for the amount", func(r *Rule) { r.AmountField = "amount"; r.Masks = map[string]string{"amount": MaskLast4} }, `mask for field "amount"`},
		{"unknown enum mode", func(r *Rule) { r.EnumMode = "login" }, `enum mode "login" is not one of payment, authorization`},
		{"payment mode without payee", func(r *Rule) { r.EnumMode, r.AmountField = EnumModePayment, "amount" }, `enum mode payment needs both an amount field and a payee field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := validRule()
			tt.modify(&bad)
			_, err := Compile([]Rule{validRule(), bad})
			if err == nil {
				t.Fatalf("Compile accepted %+v", bad)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			var re *RuleError
			if !errors.As(err, &re) || re.Index != 1 || re.Operation != bad.Operation || re.Unwrap() == nil {
				t.Errorf("error %#v is not a *RuleError for rule 1", err)
			}
		})
	}
}
