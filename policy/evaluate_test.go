package policy

import (
	"bytes"
	"mime/multipart"
	"strings"
	"testing"
)

const (
	ctJSON = "application/json"
	ctForm = "application/x-www-form-urlencoded"
)

func compiledRule(t testing.TB, r Rule) *Compiled {
	t.Helper()
	if r.Operation == "" {
		r.Operation = "transfer"
	}
	if r.Paths == nil {
		r.Paths = []string{"/transfer"}
	}
	return mustCompile(t, r).Rules()[0]
}

func conds(t testing.TB, ss ...string) []Condition {
	t.Helper()
	var out []Condition
	for _, s := range ss {
		c, err := ParseCondition(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func multipartBody(t testing.TB, fields [][2]string, files ...string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range files {
		fw, err := w.CreateFormFile(name, "x.txt")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write([]byte("99999999"))
	}
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

func TestEvaluateThresholds(t *testing.T) {
	c := compiledRule(t, Rule{When: conds(t, "amount > 1000"), AmountField: "amount"})
	tests := []struct {
		behavior  string
		ct, body  string
		protected bool
		amount    string
	}{
		{"json number below", ctJSON, `{"amount": 999.99}`, false, "999.99"},
		{"json number at", ctJSON, `{"amount": 1000}`, false, "1000"},
		{"json number above", ctJSON, `{"amount": 1000.01}`, true, "1000.01"},
		{"json exponent at", ctJSON, `{"amount": 1e3}`, false, "1e3"},
		{"json exponent above", ctJSON, `{"amount": 1.5e3}`, true, "1.5e3"},
		{"json string below", ctJSON, `{"amount": "999.99"}`, false, "999.99"},
		{"json string above", ctJSON, `{"amount": "1000.01"}`, true, "1000.01"},
		{"json precision beyond float64", ctJSON, `{"amount": 1000.0000000000000001}`, true, "1000.0000000000000001"},
		{"json string with unit fails closed", ctJSON, `{"amount": "1500 RUB"}`, true, "1500 RUB"},
		{"json long number fails closed", ctJSON, `{"amount": 1` + strings.Repeat("0", 70) + `}`, true, "1" + strings.Repeat("0", 70)},
		{"form below", ctForm, `amount=999.99`, false, "999.99"},
		{"form at", ctForm, `amount=1000`, false, "1000"},
		{"form above", ctForm, `amount=1000.01&to=bob`, true, "1000.01"},
		{"form exponent", ctForm, `amount=1e3`, false, "1e3"},
		{"form encoded plus", ctForm, `amount=%2B1000.5`, true, "+1000.5"},
		{"form empty value fails closed", ctForm, `amount=`, true, ""},
		{"json with charset", ctJSON + "; charset=UTF-8", `{"amount": 5}`, false, "5"},
		{"vendor json", "application/vnd.api+json", `{"amount": 5}`, false, "5"},
		{"no content type json", "", `{"amount": 5}`, false, "5"},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, err := c.Evaluate(tt.ct, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if d.Protected != tt.protected || d.Amount != tt.amount {
				t.Errorf("Evaluate(%s, %s) = %+v, want protected=%v amount=%q", tt.ct, tt.body, d, tt.protected, tt.amount)
			}
		})
	}
}

func TestEvaluateMultipart(t *testing.T) {
	c := compiledRule(t, Rule{When: conds(t, "amount > 1000"), AmountField: "amount", PayeeField: "to"})
	ct, body := multipartBody(t, [][2]string{{"amount", "500"}, {"to", "Z123"}}, "receipt")
	d, _ := c.Evaluate(ct, body)
	if d.Protected || d.Amount != "500" || d.Payee != "Z123" {
		t.Errorf("below threshold: %+v", d)
	}
	ct, body = multipartBody(t, [][2]string{{"amount", "5000"}})
	if d, _ := c.Evaluate(ct, body); !d.Protected || d.FailClosed {
		t.Errorf("above threshold: %+v", d)
	}
	ct, body = multipartBody(t, [][2]string{{"amount", "5"}, {"amount", "50000"}})
	if d, _ := c.Evaluate(ct, body); !d.Protected || !d.FailClosed || d.Amount != "" {
		t.Errorf("repeated part: %+v", d)
	}
	ct, body = multipartBody(t, nil, "amount")
	if d, _ := c.Evaluate(ct, body); !d.Protected || !d.FailClosed {
		t.Errorf("file part is not a value: %+v", d)
	}
	if d, _ := c.Evaluate("multipart/form-data", body); !d.Protected || !d.FailClosed {
		t.Errorf("no boundary: %+v", d)
	}
	if d, _ := c.Evaluate(ct, body[:len(body)/2]); !d.Protected || !d.FailClosed {
		t.Errorf("truncated: %+v", d)
	}
}

func TestEvaluateNestedJSON(t *testing.T) {
	c := compiledRule(t, Rule{
		When:        conds(t, "payment.amount.value >= 100", "payment.currency == RUB"),
		AmountField: "payment.amount.value",
		PayeeField:  "payee.wallet",
	})
	tests := []struct {
		behavior       string
		body           string
		protected      bool
		failClosed     bool
		amount, payee  string
		reasonContains string
	}{
		{"all hold", `{"payment":{"amount":{"value":"150.00"},"currency":"RUB"},"payee":{"wallet":"Z123"}}`, true, false, "150.00", "Z123", "all conditions hold"},
		{"one false", `{"payment":{"amount":{"value":150},"currency":"USD"},"payee":{"wallet":"Z123"}}`, false, false, "150", "Z123", "payment.currency"},
		{"below", `{"payment":{"amount":{"value":99.5},"currency":"RUB"}}`, false, false, "99.5", "", "does not hold"},
		{"missing leaf fails closed", `{"payment":{"amount":{},"currency":"RUB"}}`, true, true, "", "", "payment.amount.value is missing"},
		{"missing branch fails closed", `{"payee":{"wallet":"Z1"}}`, true, true, "", "Z1", "is missing"},
		{"missing field fails closed even if another is false", `{"payment":{"currency":"USD"}}`, true, true, "", "", "is missing"},
		{"scalar where object expected", `{"payment":{"amount":5,"currency":"RUB"}}`, true, true, "", "", "is missing"},
		{"object value fails closed", `{"payment":{"amount":{"value":{"x":1}},"currency":"RUB"}}`, true, true, "", "", "not a string, number or boolean"},
		{"null value fails closed", `{"payment":{"amount":{"value":null},"currency":"RUB"}}`, true, true, "", "", "not a string, number or boolean"},
		{"duplicate key fails closed", `{"payment":{"amount":{"value":5,"value":50000},"currency":"RUB"}}`, true, true, "", "", "ambiguous"},
		{"duplicate branch fails closed", `{"payment":{"amount":{"value":5},"currency":"RUB"},"payment":{"amount":{"value":50000},"currency":"RUB"}}`, true, true, "", "", "ambiguous"},
		{"case look-alike key fails closed", `{"payment":{"amount":{"value":5,"Value":50000},"currency":"RUB"}}`, true, true, "", "", "ambiguous"},
		{"case variant alone fails closed", `{"payment":{"amount":{"VALUE":5},"currency":"RUB"}}`, true, true, "", "", "ambiguous"},
		{"ambiguous display field is not shown", `{"payment":{"amount":{"value":5},"currency":"RUB"},"payee":{"wallet":"a","wallet":"b"}}`, false, false, "5", "", "does not hold"},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, err := c.Evaluate(ctJSON, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if d.Protected != tt.protected || d.FailClosed != tt.failClosed || d.Amount != tt.amount || d.Payee != tt.payee || !strings.Contains(d.Reason, tt.reasonContains) {
				t.Errorf("got %+v\nwant protected=%v failClosed=%v amount=%q payee=%q reason~%q", d, tt.protected, tt.failClosed, tt.amount, tt.payee, tt.reasonContains)
			}
		})
	}
}

func TestEvaluateJSONArrays(t *testing.T) {
	c := compiledRule(t, Rule{When: conds(t, "items.1.sum > 10")})
	for _, tt := range []struct {
		body      string
		protected bool
		failed    bool
	}{
		{`{"items":[{"sum":1},{"sum":5}]}`, false, false},
		{`{"items":[{"sum":1},{"sum":50}]}`, true, false},
		{`{"items":[{"sum":1}]}`, true, true},
		{`{"items":{"1":{"sum":5}}}`, false, false},
	} {
		d, _ := c.Evaluate(ctJSON, []byte(tt.body))
		if d.Protected != tt.protected || d.FailClosed != tt.failed {
			t.Errorf("%s: %+v", tt.body, d)
		}
	}
	c = compiledRule(t, Rule{When: conds(t, "items.01.sum > 10")})
	if d, _ := c.Evaluate(ctJSON, []byte(`{"items":[{"sum":1},{"sum":5}]}`)); !d.FailClosed {
		t.Errorf("leading-zero index must not index an array: %+v", d)
	}
}

func TestEvaluateFormFields(t *testing.T) {
	c := compiledRule(t, Rule{When: conds(t, "payee.wallet != Z0", "amount > 10"), AmountField: "amount", PayeeField: "payee.wallet"})
	tests := []struct {
		behavior   string
		body       string
		protected  bool
		failClosed bool
		payee      string
	}{
		{"dotted key as is", "payee.wallet=Z1&amount=50", true, false, "Z1"},
		{"bracket key is the same field", "payee%5Bwallet%5D=Z1&amount=50", true, false, "Z1"},
		{"exempt payee", "payee.wallet=Z0&amount=50", false, false, "Z0"},
		{"repeated key fails closed", "payee.wallet=Z0&amount=5&amount=50000", true, true, "Z0"},
		{"dotted and bracket both fail closed", "payee.wallet=Z0&payee[wallet]=Z9&amount=50", true, true, ""},
		{"case look-alike fails closed", "payee.wallet=Z0&amount=5&Amount=50000", true, true, "Z0"},
		{"space look-alike fails closed", "payee.wallet=Z0&amount=5&+amount=50000", true, true, "Z0"},
		{"php array look-alike fails closed", "payee.wallet=Z0&amount=5&amount[]=50000", true, true, "Z0"},
		{"missing fails closed", "payee.wallet=Z0", true, true, "Z0"},
		{"semicolon separator is malformed", "payee.wallet=Z0;amount=5", true, true, ""},
		{"bad escape is malformed", "payee.wallet=Z0&amount=%zz", true, true, ""},
		{"json polyglot is malformed", `{"x":"&amount=5&payee.wallet=Z0&","amount":50000}`, true, true, ""},
		{"empty body fails closed", "", true, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, _ := c.Evaluate(ctForm, []byte(tt.body))
			if d.Protected != tt.protected || d.FailClosed != tt.failClosed || d.Payee != tt.payee {
				t.Errorf("got %+v, want protected=%v failClosed=%v payee=%q", d, tt.protected, tt.failClosed, tt.payee)
			}
		})
	}
}

func TestEvaluateQueryString(t *testing.T) {
	c := compiledRule(t, Rule{When: conds(t, "amount > 1000"), AmountField: "amount"})
	tests := []struct {
		behavior   string
		ct, query  string
		body       string
		protected  bool
		failClosed bool
		amount     string
	}{
		{"field only in query", ctJSON, "amount=5", `{}`, false, false, "5"},
		{"field only in query above", ctForm, "amount=5000", ``, true, false, "5000"},
		{"field in query and form body is ambiguous", ctForm, "amount=50000", `amount=5`, true, true, ""},
		{"field in query and json body is ambiguous", ctJSON, "amount=50000", `{"amount":5}`, true, true, ""},
		{"look-alike in query", ctJSON, "AMOUNT=50000", `{"amount":5}`, true, true, ""},
		{"other query parameters are fine", ctJSON, "lang=en&x=1", `{"amount":5}`, false, false, "5"},
		{"malformed query fails closed", ctJSON, "a=%zz", `{"amount":5}`, true, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, _ := c.EvaluateRequest(tt.ct, tt.query, []byte(tt.body))
			if d.Protected != tt.protected || d.FailClosed != tt.failClosed || d.Amount != tt.amount {
				t.Errorf("got %+v, want protected=%v failClosed=%v amount=%q", d, tt.protected, tt.failClosed, tt.amount)
			}
		})
	}
}

func TestEvaluateMalformedBodiesFailClosed(t *testing.T) {
	c := compiledRule(t, Rule{When: conds(t, "amount > 1000"), AmountField: "amount", PayeeField: "to"})
	tests := []struct {
		behavior string
		ct, body string
	}{
		{"truncated json", ctJSON, `{"amount": 5`},
		{"trailing json value", ctJSON, `{"amount": 5}{"amount": 50000}`},
		{"trailing garbage", ctJSON, `{"amount": 5} x`},
		{"json with bom", ctJSON, "\ufeff{\"amount\": 5}"},
		{"json utf-16 charset", ctJSON + "; charset=utf-16", `{"amount": 5}`},
		{"json too deep", ctJSON, `{"amount":5,"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`},
		{"json single quotes", ctJSON, `{'amount': 5}`},
		{"not json without content type", "", `amount=5`},
		{"unknown content type", "text/plain", `amount=5`},
		{"xml", "application/xml", `<amount>5</amount>`},
		{"malformed content type", "application/", `{"amount": 5}`},
		{"empty json body", ctJSON, ``},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, err := c.Evaluate(tt.ct, []byte(tt.body))
			if err != nil {
				t.Fatalf("error %v; malformed bodies are not errors", err)
			}
			if !d.Protected || !d.FailClosed || d.Amount != "" || d.Payee != "" || d.Reason == "" {
				t.Errorf("got %+v, want protected, fail closed, no display values", d)
			}
		})
	}
}

func TestEvaluateWithoutConditions(t *testing.T) {
	c := compiledRule(t, Rule{})
	if c.NeedsBody() {
		t.Error("NeedsBody without conditions or fields")
	}
	if d, err := c.Evaluate("", nil); err != nil || !d.Protected || d.FailClosed {
		t.Errorf("got %+v, %v", d, err)
	}
	c = compiledRule(t, Rule{AmountField: "amount"})
	if !c.NeedsBody() {
		t.Error("NeedsBody false with an amount field")
	}
	if d, _ := c.Evaluate(ctJSON, []byte(`{"amount":7}`)); !d.Protected || d.FailClosed || d.Amount != "7" {
		t.Errorf("display only: %+v", d)
	}
	if d, _ := c.Evaluate(ctJSON, []byte(`{`)); !d.Protected || d.FailClosed || d.Amount != "" {
		t.Errorf("display only, malformed body: %+v", d)
	}
	var nilRule *Compiled
	if d, err := nilRule.Evaluate(ctJSON, nil); err == nil || !d.Protected {
		t.Errorf("nil rule: %+v, %v", d, err)
	}
}

func TestEvaluateDisplaySanitised(t *testing.T) {
	c := compiledRule(t, Rule{AmountField: "amount", PayeeField: "to"})
	tests := []struct {
		behavior string
		body     string
		payee    string
	}{
		{"plain", `{"to":"Z123"}`, "Z123"},
		{"number as written", `{"to":1.50e2}`, "1.50e2"},
		{"boolean", `{"to":true}`, "true"},
		{"control characters removed", `{"to":"Z1\n2\t3\u0000\u007f"}`, "Z123"},
		{"bidi override removed", `{"to":"Z\u202e321\u202c"}`, "Z321"},
		{"zero width removed", `{"to":"Z\u200b1\ufeff"}`, "Z1"},
		{"line separator removed", `{"to":"Z\u20281"}`, "Z1"},
		{"spaces trimmed", `{"to":"  Z1  "}`, "Z1"},
		{"unicode kept", `{"to":"Иван Петров"}`, "Иван Петров"},
		{"truncated to 128 runes", `{"to":"` + strings.Repeat("я", 200) + `"}`, strings.Repeat("я", 127) + "…"},
		{"exactly 128 runes kept", `{"to":"` + strings.Repeat("я", 128) + `"}`, strings.Repeat("я", 128)},
		{"array not shown", `{"to":["a"]}`, ""},
		{"null not shown", `{"to":null}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, _ := c.Evaluate(ctJSON, []byte(tt.body))
			if d.Payee != tt.payee {
				t.Errorf("Payee = %q, want %q", d.Payee, tt.payee)
			}
		})
	}
	// Form values may carry invalid UTF-8.
	d, _ := c.Evaluate(ctForm, []byte("to=Z%FF1"))
	if d.Payee != "Z\uFFFD1" {
		t.Errorf("invalid UTF-8: Payee = %q", d.Payee)
	}
}

func TestBracketsToDots(t *testing.T) {
	for in, want := range map[string]string{
		"a":          "a",
		"a[b]":       "a.b",
		"a[b][c]":    "a.b.c",
		"a[]":        "a[]",
		"[a]":        "[a]",
		"a[b]c":      "a[b]c",
		"a[b":        "a[b",
		"a[b.c]":     "a[b.c]",
		"a[b][c][d]": "a.b.c.d",
	} {
		if got := bracketsToDots(in); got != want {
			t.Errorf("bracketsToDots(%q) = %q, want %q", in, got, want)
		}
	}
}
