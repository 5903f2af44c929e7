package policy

import (
	"bytes"
	"errors"
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

// TestEvaluateThresholds: conditions compare numerically however the
// number is written; the amount is shown only when it is a plain decimal,
// and a protected request whose amount is not one is refused.
func TestEvaluateThresholds(t *testing.T) {
	c := compiledRule(t, Rule{When: conds(t, "amount > 1000"), AmountField: "amount"})
	tests := []struct {
		behavior  string
		ct, body  string
		protected bool
		amount    string
		refused   bool
	}{
		{"json number below", ctJSON, `{"amount": 999.99}`, false, "999.99", false},
		{"json number at", ctJSON, `{"amount": 1000}`, false, "1000", false},
		{"json number above", ctJSON, `{"amount": 1000.01}`, true, "1000.01", false},
		{"json exponent at is compared but not shown", ctJSON, `{"amount": 1e3}`, false, "", false},
		{"json exponent above is refused", ctJSON, `{"amount": 1.5e3}`, true, "", true},
		{"json string below", ctJSON, `{"amount": "999.99"}`, false, "999.99", false},
		{"json string above", ctJSON, `{"amount": "1000.01"}`, true, "1000.01", false},
		{"json precision beyond float64 is refused", ctJSON, `{"amount": 1000.0000000000000001}`, true, "", true},
		{"json precision beyond float64 as a string", ctJSON, `{"amount": "1000.00000001"}`, true, "1000.00000001", false},
		{"json string with unit fails closed and is refused", ctJSON, `{"amount": "1500 RUB"}`, true, "", true},
		{"json long number fails closed and is refused", ctJSON, `{"amount": 1` + strings.Repeat("0", 70) + `}`, true, "", true},
		{"form below", ctForm, `amount=999.99`, false, "999.99", false},
		{"form at", ctForm, `amount=1000`, false, "1000", false},
		{"form above", ctForm, `amount=1000.01&to=bob`, true, "1000.01", false},
		{"form exponent is compared but not shown", ctForm, `amount=1e3`, false, "", false},
		{"form encoded plus is refused", ctForm, `amount=%2B1000.5`, true, "", true},
		{"form empty value fails closed and is refused", ctForm, `amount=`, true, "", true},
		{"json with charset", ctJSON + "; charset=UTF-8", `{"amount": 5}`, false, "5", false},
		{"vendor json", "application/vnd.api+json", `{"amount": 5}`, false, "5", false},
		{"no content type json", "", `{"amount": 5}`, false, "5", false},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, err := c.Evaluate(tt.ct, []byte(tt.body))
			if tt.refused != errors.Is(err, ErrAmbiguous) || !tt.refused && err != nil {
				t.Fatalf("err = %v, want refused=%v", err, tt.refused)
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
	if d, err := c.Evaluate(ct, body); !d.Protected || !d.FailClosed || d.Amount != "" || !errors.Is(err, ErrAmbiguous) {
		t.Errorf("repeated part: %+v, %v", d, err)
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
		refused        bool // ambiguous: protected, but amount or payee cannot be shown
	}{
		{"all hold", `{"payment":{"amount":{"value":"150.00"},"currency":"RUB"},"payee":{"wallet":"Z123"}}`, true, false, "150.00", "Z123", "all conditions hold", false},
		{"one false", `{"payment":{"amount":{"value":150},"currency":"USD"},"payee":{"wallet":"Z123"}}`, false, false, "150", "Z123", "payment.currency", false},
		{"below, payee missing: not protected, nothing shown", `{"payment":{"amount":{"value":99.5},"currency":"RUB"}}`, false, false, "", "", "does not hold", false},
		{"missing leaf fails closed", `{"payment":{"amount":{},"currency":"RUB"}}`, true, true, "", "", "payment.amount.value is missing", true},
		{"missing branch fails closed", `{"payee":{"wallet":"Z1"}}`, true, true, "", "", "is missing", true},
		{"missing field fails closed even if another is false", `{"payment":{"currency":"USD"}}`, true, true, "", "", "is missing", true},
		{"scalar where object expected", `{"payment":{"amount":5,"currency":"RUB"}}`, true, true, "", "", "is missing", true},
		{"object value fails closed", `{"payment":{"amount":{"value":{"x":1}},"currency":"RUB"}}`, true, true, "", "", "not a string, number or boolean", true},
		{"null value fails closed", `{"payment":{"amount":{"value":null},"currency":"RUB"}}`, true, true, "", "", "not a string, number or boolean", true},
		{"duplicate key fails closed", `{"payment":{"amount":{"value":5,"value":50000},"currency":"RUB"}}`, true, true, "", "", "ambiguous", true},
		{"duplicate branch fails closed", `{"payment":{"amount":{"value":5},"currency":"RUB"},"payment":{"amount":{"value":50000},"currency":"RUB"}}`, true, true, "", "", "ambiguous", true},
		{"case look-alike key fails closed", `{"payment":{"amount":{"value":5,"Value":50000},"currency":"RUB"}}`, true, true, "", "", "ambiguous", true},
		{"case variant alone fails closed", `{"payment":{"amount":{"VALUE":5},"currency":"RUB"}}`, true, true, "", "", "ambiguous", true},
		{"ambiguous display field, condition false: not protected, nothing shown", `{"payment":{"amount":{"value":5},"currency":"RUB"},"payee":{"wallet":"a","wallet":"b"}}`, false, false, "", "", "does not hold", false},
		{"ambiguous display field, conditions hold: refused", `{"payment":{"amount":{"value":500},"currency":"RUB"},"payee":{"wallet":"a","wallet":"b"}}`, true, false, "", "", "payee.wallet is ambiguous", true},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, err := c.Evaluate(ctJSON, []byte(tt.body))
			if tt.refused != errors.Is(err, ErrAmbiguous) || !tt.refused && err != nil {
				t.Fatalf("err = %v, want refused=%v", err, tt.refused)
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
		{"repeated key fails closed", "payee.wallet=Z0&amount=5&amount=50000", true, true, ""},
		{"dotted and bracket both fail closed", "payee.wallet=Z0&payee[wallet]=Z9&amount=50", true, true, ""},
		{"case look-alike fails closed", "payee.wallet=Z0&amount=5&Amount=50000", true, true, ""},
		{"space look-alike fails closed", "payee.wallet=Z0&amount=5&+amount=50000", true, true, ""},
		{"php array look-alike fails closed", "payee.wallet=Z0&amount=5&amount[]=50000", true, true, ""},
		{"php map look-alike fails closed", "payee.wallet=Z0&amount=5&amount[x]=50000", true, true, ""},
		{"php name mangling look-alike fails closed", "payee.wallet=Z1&amount=5&payee_wallet=Z0", true, true, ""},
		{"missing fails closed", "payee.wallet=Z0", true, true, ""},
		{"semicolon separator is malformed", "payee.wallet=Z0;amount=5", true, true, ""},
		{"bad escape is malformed", "payee.wallet=Z0&amount=%zz", true, true, ""},
		{"json polyglot is malformed", `{"x":"&amount=5&payee.wallet=Z0&","amount":50000}`, true, true, ""},
		{"empty body fails closed", "", true, true, ""},
		{"non-utf-8 charset fails closed", "payee.wallet=Z1&amount=50", true, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			ct := ctForm
			if strings.HasPrefix(tt.behavior, "non-utf-8 charset") {
				ct += "; charset=utf-16"
			}
			d, err := c.Evaluate(ct, []byte(tt.body))
			if tt.failClosed != errors.Is(err, ErrAmbiguous) || !tt.failClosed && err != nil {
				t.Fatalf("err = %v; every request here that fails closed cannot show its amount or payee", err)
			}
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

// TestEvaluateMalformedBodiesFailClosed: a body that cannot be read makes
// conditions fail closed; a rule that shows fields refuses it.
func TestEvaluateMalformedBodiesFailClosed(t *testing.T) {
	onlyConds := compiledRule(t, Rule{When: conds(t, "amount > 1000")})
	shows := compiledRule(t, Rule{When: conds(t, "amount > 1000"), AmountField: "amount", PayeeField: "to"})
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
		{"invalid utf-8 in json", ctJSON, "{\"amount\": 5, \"x\": \"\xff\"}"},
		{"invalid utf-8 in a form", ctForm, "amount=5&x=\xff"},
		{"form with a latin-1 charset", ctForm + "; charset=iso-8859-1", "amount=5"},
		{"quoted-printable multipart part", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"amount\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=35\r\n--x--\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, err := onlyConds.Evaluate(tt.ct, []byte(tt.body))
			if err != nil {
				t.Fatalf("error %v; malformed bodies are not errors for a rule that shows nothing", err)
			}
			if !d.Protected || !d.FailClosed || d.Reason == "" {
				t.Errorf("got %+v, want protected, fail closed", d)
			}
			d, err = shows.Evaluate(tt.ct, []byte(tt.body))
			if !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("error %v; a rule that shows fields refuses a malformed body", err)
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
	if d, err := c.Evaluate(ctJSON, []byte(`{`)); !d.Protected || d.FailClosed || d.Amount != "" || !errors.Is(err, ErrAmbiguous) {
		t.Errorf("display only, malformed body: %+v, %v; want refused", d, err)
	}
	var nilRule *Compiled
	if d, err := nilRule.Evaluate(ctJSON, nil); err == nil || !d.Protected {
		t.Errorf("nil rule: %+v, %v", d, err)
	}
}

// TestEvaluateDisplayExact: a shown value is the value the upstream
// receives, never cleaned or cut; one that cannot be shown as it is is
// refused. (This replaces the sanitising of earlier versions, which showed
// a payee other than the one executed.)
func TestEvaluateDisplayExact(t *testing.T) {
	c := compiledRule(t, Rule{PayeeField: "to"})
	tests := []struct {
		behavior string
		body     string
		payee    string // "" means refused
	}{
		{"plain", `{"to":"Z123"}`, "Z123"},
		{"integer number as written", `{"to":123456789012}`, "123456789012"},
		{"exponent number refused", `{"to":1.50e2}`, ""},
		{"boolean refused", `{"to":true}`, ""},
		{"control characters refused", `{"to":"Z1\n2\t3\u0000\u007f"}`, ""},
		{"bidi override refused", `{"to":"Z\u202e321\u202c"}`, ""},
		{"zero width refused", `{"to":"Z\u200b1\ufeff"}`, ""},
		{"line separator refused", `{"to":"Z\u20281"}`, ""},
		{"surrounding spaces refused", `{"to":"  Z1  "}`, ""},
		{"inner spaces kept", `{"to":"Ivan  Petrov"}`, "Ivan  Petrov"},
		{"unicode kept", `{"to":"Иван Петров"}`, "Иван Петров"},
		{"combining mark kept", `{"to":"Jose\u0301"}`, "Jose\u0301"},
		{"more than 128 runes refused, not cut", `{"to":"` + strings.Repeat("я", 129) + `"}`, ""},
		{"exactly 128 runes kept", `{"to":"` + strings.Repeat("я", 128) + `"}`, strings.Repeat("я", 128)},
		{"array refused", `{"to":["a"]}`, ""},
		{"null refused", `{"to":null}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, err := c.Evaluate(ctJSON, []byte(tt.body))
			if d.Payee != tt.payee || (tt.payee == "") != errors.Is(err, ErrAmbiguous) {
				t.Errorf("Payee = %q, %v; want %q", d.Payee, err, tt.payee)
			}
			if d.PayeeDisplay != d.Payee {
				t.Errorf("PayeeDisplay %q != Payee %q without a mask", d.PayeeDisplay, d.Payee)
			}
		})
	}
	// Form values may carry invalid UTF-8.
	if d, err := c.Evaluate(ctForm, []byte("to=Z%FF1")); d.Payee != "" || !errors.Is(err, ErrAmbiguous) {
		t.Errorf("invalid UTF-8: Payee = %q, %v", d.Payee, err)
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
