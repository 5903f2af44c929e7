package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// paymentRule shows an amount and a payee, with no conditions.
func paymentRule(t testing.TB) *Compiled {
	t.Helper()
	return compiledRule(t, Rule{AmountField: "amount", PayeeField: "to"})
}

// wantAmbiguous checks that EvaluateRequest refused the request and showed
// nothing.
func wantAmbiguous(t *testing.T, d Decision, err error, field string) {
	t.Helper()
	if !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("err = %v, want ErrAmbiguous (decision %+v)", err, d)
	}
	var ae *AmbiguousError
	if !errors.As(err, &ae) {
		t.Fatalf("err %T is not an *AmbiguousError", err)
	}
	if field != "*" && ae.Field != field {
		t.Errorf("AmbiguousError.Field = %q, want %q (%v)", ae.Field, field, err)
	}
	if !d.Protected {
		t.Errorf("refused but not protected: %+v", d)
	}
	if d.Amount != "" || d.Payee != "" || d.PayeeDisplay != "" || d.Currency != "" || d.Fields != nil {
		t.Errorf("refused but shows something: %+v", d)
	}
}

// TestAttackerFindings are the requests that were confirmed with a page
// showing less than the upstream executed. Each must now be refused.
func TestAttackerFindings(t *testing.T) {
	c := paymentRule(t)
	tests := []struct {
		behavior      string
		ct, query     string
		body          string
		field         string // AmbiguousError.Field; "" for the body as a whole
		secretInError string // body text that must not appear in the error
	}{
		{"duplicate amount key", ctJSON, "", `{"to":"Z123456789012","amount":"1.00","amount":"9999.00"}`, "amount", "9999"},
		{"duplicate payee key", ctJSON, "", `{"to":"Z111111111111","amount":"1.00","to":"ZEVIL0000000"}`, "to", "ZEVIL"},
		{"escaped look-alike key equals the shown key", ctJSON, "", `{"to":"Z123456789012","amount":"1.00","\u0061mount":"9999.00"}`, "amount", "9999"},
		{"escaped look-alike payee key", ctJSON, "", `{"to":"Z111111111111","amount":"1.00","\u0074o":"ZEVIL0000000"}`, "to", "ZEVIL"},
		{"utf-16 charset on ascii json", ctJSON + "; charset=utf-16", "", `{"to":"Z123456789012","amount":"1.00"}`, "", ""},
		{"iso-8859-1 charset on ascii json", ctJSON + "; charset=iso-8859-1", "", `{"to":"Z123456789012","amount":"1.00"}`, "", ""},
		{"iso-8859-1 charset on a form", ctForm + "; charset=ISO-8859-1", "", `to=Z123456789012&amount=1.00`, "", ""},
		{"form amount also in the query", ctForm, "amount=99.00", `to=Z123456789012&amount=14.00`, "amount", "99.00"},
		{"extra field nested 100 deep", ctJSON, "", `{"to":"Z123456789012","amount":"1.00","x":` + strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100) + `}`, "", ""},
		{"soft hyphen in payee", ctJSON, "", `{"to":"Z1234\u00ad56789012","amount":"1.00"}`, "to", ""},
		{"zero-width space in payee", ctJSON, "", `{"to":"Z1234\u200b56789012","amount":"1.00"}`, "to", ""},
		{"bidi override in payee", ctJSON, "", `{"to":"Z\u202e210987654321\u202c","amount":"1.00"}`, "to", ""},
		{"exponent amount", ctJSON, "", `{"to":"Z123456789012","amount":1e3}`, "amount", ""},
		{"comma decimal amount", ctJSON, "", `{"to":"Z123456789012","amount":"10,50"}`, "amount", ""},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, err := c.EvaluateRequest(tt.ct, tt.query, []byte(tt.body))
			wantAmbiguous(t, d, err, tt.field)
			if tt.secretInError != "" && (strings.Contains(err.Error(), tt.secretInError) || strings.Contains(d.Reason, tt.secretInError)) {
				t.Errorf("error %q or reason %q contains body text %q", err, d.Reason, tt.secretInError)
			}
		})
	}
}

func TestStrictViewAccepts(t *testing.T) {
	c := compiledRule(t, Rule{
		AmountField: "amount", PayeeField: "payee.wallet", CurrencyField: "currency",
		Show:  []ShowField{{Field: "name", Label: "correspondent.name"}, {Field: "card", Label: "card", Optional: true}, {Field: "memo", Label: "memo", Optional: true}},
		Masks: map[string]string{"card": MaskLast4},
	})
	tests := []struct {
		behavior  string
		ct, query string
		body      string
		want      Decision
	}{
		{
			"json strings", ctJSON, "",
			`{"amount":"1234567.89","currency":"RUB","payee":{"wallet":"Z123456789012"},"name":"Иван Петров","card":"4111111111111111"}`,
			Decision{Protected: true, Amount: "1234567.89", Payee: "Z123456789012", PayeeDisplay: "Z123456789012", Currency: "RUB",
				Fields: []Field{{"name", "correspondent.name", "Иван Петров", "Иван Петров"}, {"card", "card", "4111111111111111", "•••• 1111"}}},
		},
		{
			"json number amount, optional fields absent", ctJSON + "; charset=UTF-8", "",
			`{"amount":10.5,"currency":"USD","payee":{"wallet":"Z1"},"name":"Bob"}`,
			Decision{Protected: true, Amount: "10.5", Payee: "Z1", PayeeDisplay: "Z1", Currency: "USD", Fields: []Field{{"name", "correspondent.name", "Bob", "Bob"}}},
		},
		{
			"optional field present but empty is shown empty", ctJSON, "",
			`{"amount":"0.50","currency":"EUR","payee":{"wallet":"Z1"},"name":"Bob","memo":""}`,
			Decision{Protected: true, Amount: "0.50", Payee: "Z1", PayeeDisplay: "Z1", Currency: "EUR",
				Fields: []Field{{"name", "correspondent.name", "Bob", "Bob"}, {"memo", "memo", "", ""}}},
		},
		{
			"form with bracket key, us-ascii", ctForm + "; charset=us-ascii", "",
			`amount=10&currency=RUB&payee%5Bwallet%5D=Z1&name=Ann+Lee`,
			Decision{Protected: true, Amount: "10", Payee: "Z1", PayeeDisplay: "Z1", Currency: "RUB", Fields: []Field{{"name", "correspondent.name", "Ann Lee", "Ann Lee"}}},
		},
		{
			"fields split between query and form", ctForm, "amount=10&currency=RUB",
			`payee.wallet=Z1&name=Ann`,
			Decision{Protected: true, Amount: "10", Payee: "Z1", PayeeDisplay: "Z1", Currency: "RUB", Fields: []Field{{"name", "correspondent.name", "Ann", "Ann"}}},
		},
		{
			"form value with percent-encoded utf-8", ctForm, "",
			`amount=10&currency=RUB&payee.wallet=Z1&name=%D0%98%D0%B2%D0%B0%D0%BD`,
			Decision{Protected: true, Amount: "10", Payee: "Z1", PayeeDisplay: "Z1", Currency: "RUB", Fields: []Field{{"name", "correspondent.name", "Иван", "Иван"}}},
		},
		{
			"unrelated non-utf-8 form value is not shown and not refused", ctForm, "",
			`amount=10&currency=RUB&payee.wallet=Z1&name=Ann&comment=%C8%E2%E0%ED`,
			Decision{Protected: true, Amount: "10", Payee: "Z1", PayeeDisplay: "Z1", Currency: "RUB", Fields: []Field{{"name", "correspondent.name", "Ann", "Ann"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, err := c.EvaluateRequest(tt.ct, tt.query, []byte(tt.body))
			if err != nil {
				t.Fatalf("err %v", err)
			}
			d.Reason = ""
			if !reflect.DeepEqual(d, tt.want) {
				t.Errorf("got  %+v\nwant %+v", d, tt.want)
			}
		})
	}
}

func TestStrictViewRefuses(t *testing.T) {
	c := compiledRule(t, Rule{
		AmountField: "amount", PayeeField: "payee.wallet",
		Show: []ShowField{{Field: "name", Label: "name", Optional: true}},
	})
	const (
		okPayee = `"payee":{"wallet":"Z1"}`
	)
	tests := []struct {
		behavior string
		ct, q    string
		body     string
		field    string
	}{
		// Reading the body.
		{"json that does not parse", ctJSON, "", `{"amount":"1",` + okPayee, ""},
		{"trailing json value", ctJSON, "", `{"amount":"1",` + okPayee + `}{"amount":"9"}`, ""},
		{"invalid utf-8 in a json string", ctJSON, "", "{\"amount\":\"1\"," + okPayee + ",\"memo\":\"\xff\"}", ""},
		{"invalid utf-8 in a form body", ctForm, "", "amount=1&payee.wallet=Z1&memo=\xff", ""},
		{"form body that is valid json", ctForm, "", `{"amount":"1",` + okPayee + `}`, ""},
		{"unknown content type", "text/plain", "", `{"amount":"1",` + okPayee + `}`, ""},
		{"no content type, not json", "", "", `amount=1&payee.wallet=Z1`, ""},
		{"utf-8 lookalike charset", ctJSON + "; charset=utf-7", "", `{"amount":"1",` + okPayee + `}`, ""},
		{"us-ascii charset with non-ascii bytes", ctJSON + "; charset=us-ascii", "", `{"amount":"1",` + okPayee + `,"name":"Иван"}`, ""},
		{"duplicate key in an unrelated object", ctJSON, "", `{"amount":"1",` + okPayee + `,"meta":{"k":1,"k":2}}`, ""},
		{"duplicate key after unescaping in an unrelated object", ctJSON, "", `{"amount":"1",` + okPayee + `,"meta":{"k":1,"\u006b":2}}`, ""},
		{"nesting beyond the limit", ctJSON, "", `{"amount":"1",` + okPayee + `,"x":` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `}`, ""},
		{"malformed query", ctJSON, "a=%zz", `{"amount":"1",` + okPayee + `}`, ""},
		{"semicolon in form", ctForm, "", `amount=1;payee.wallet=Z1`, ""},
		{"form charset field not utf-8", ctForm, "", `_charset_=windows-1251&amount=1&payee.wallet=Z1`, ""},
		// Where the field is.
		{"case variant of the amount key", ctJSON, "", `{"amount":"1","Amount":"9",` + okPayee + `}`, "amount"},
		{"case variant alone", ctJSON, "", `{"AMOUNT":"1",` + okPayee + `}`, "amount"},
		{"duplicate branch", ctJSON, "", `{"amount":"1",` + okPayee + `,"payee":{"wallet":"Z1"}}`, "payee.wallet"},
		{"space look-alike in json", ctJSON, "", `{"amount":"1","amount ":"9",` + okPayee + `}`, "amount"},
		{"bracket look-alike in json", ctJSON, "", `{"amount":"1","amount[]":"9",` + okPayee + `}`, "amount"},
		{"flat dotted look-alike in json", ctJSON, "", `{"amount":"1",` + okPayee + `,"payee.wallet":"Z9"}`, "payee.wallet"},
		{"nul look-alike in json", ctJSON, "", `{"amount":"1","amount\u0000x":"9",` + okPayee + `}`, "amount"},
		{"case variant of a branch", ctJSON, "", `{"amount":"1",` + okPayee + `,"Payee":{"wallet":"Z9"}}`, "payee.wallet"},
		{"repeated form key", ctForm, "", `amount=1&amount=9&payee.wallet=Z1`, "amount"},
		{"percent-encoded repeated form key", ctForm, "", `amount=1&%61mount=9&payee.wallet=Z1`, "amount"},
		{"dotted and bracket form keys", ctForm, "", `amount=1&payee.wallet=Z1&payee[wallet]=Z9`, "payee.wallet"},
		{"php array form key", ctForm, "", `amount=1&amount[]=9&payee.wallet=Z1`, "amount"},
		{"php name mangling look-alike", ctForm, "", `amount=1&payee.wallet=Z1&payee_wallet=Z9`, "payee.wallet"},
		{"space form key", ctForm, "", `amount=1&+amount=9&payee.wallet=Z1`, "amount"},
		{"field in query and json body", ctJSON, "amount=9", `{"amount":"1",` + okPayee + `}`, "amount"},
		{"field repeated in query", ctJSON, "amount=1&amount=9", `{` + okPayee + `}`, "amount"},
		{"look-alike in query", ctJSON, "Amount=9", `{"amount":"1",` + okPayee + `}`, "amount"},
		{"required amount missing", ctJSON, "", `{` + okPayee + `}`, "amount"},
		{"required payee missing", ctJSON, "", `{"amount":"1"}`, "payee.wallet"},
		{"empty body", ctJSON, "", ``, "amount"},
		// What the value is.
		{"amount object", ctJSON, "", `{"amount":{"v":1},` + okPayee + `}`, "amount"},
		{"amount array", ctJSON, "", `{"amount":["1"],` + okPayee + `}`, "amount"},
		{"amount null", ctJSON, "", `{"amount":null,` + okPayee + `}`, "amount"},
		{"amount boolean", ctJSON, "", `{"amount":true,` + okPayee + `}`, "amount"},
		{"amount negative", ctJSON, "", `{"amount":-5,` + okPayee + `}`, "amount"},
		{"amount with plus", ctForm, "", `amount=%2B5&payee.wallet=Z1`, "amount"},
		{"amount with leading zeros", ctJSON, "", `{"amount":"007",` + okPayee + `}`, "amount"},
		{"amount with spaces", ctJSON, "", `{"amount":" 5",` + okPayee + `}`, "amount"},
		{"amount with thousands separator", ctJSON, "", `{"amount":"1,000",` + okPayee + `}`, "amount"},
		{"amount with a unit", ctJSON, "", `{"amount":"5 RUB",` + okPayee + `}`, "amount"},
		{"amount starting with a dot", ctJSON, "", `{"amount":".5",` + okPayee + `}`, "amount"},
		{"amount ending with a dot", ctJSON, "", `{"amount":"5.",` + okPayee + `}`, "amount"},
		{"amount with nine fraction digits", ctJSON, "", `{"amount":"1.123456789",` + okPayee + `}`, "amount"},
		{"amount too long", ctJSON, "", `{"amount":"` + strings.Repeat("9", 31) + `",` + okPayee + `}`, "amount"},
		{"json number amount beyond float64 precision", ctJSON, "", `{"amount":1234567890123456.7,` + okPayee + `}`, "amount"},
		{"empty amount", ctForm, "", `amount=&payee.wallet=Z1`, "amount"},
		{"empty payee", ctForm, "", `amount=1&payee.wallet=`, "payee.wallet"},
		{"payee as json boolean", ctJSON, "", `{"amount":"1","payee":{"wallet":true}}`, "payee.wallet"},
		{"payee as exponent number", ctJSON, "", `{"amount":"1","payee":{"wallet":1.5e12}}`, "payee.wallet"},
		{"payee with leading space", ctJSON, "", `{"amount":"1","payee":{"wallet":" Z1"}}`, "payee.wallet"},
		{"payee with trailing space", ctForm, "", `amount=1&payee.wallet=Z1+`, "payee.wallet"},
		{"payee with a tab", ctJSON, "", `{"amount":"1","payee":{"wallet":"Z\t1"}}`, "payee.wallet"},
		{"payee with a newline", ctForm, "", `amount=1&payee.wallet=Z%0A1`, "payee.wallet"},
		{"payee with no-break space", ctJSON, "", `{"amount":"1","payee":{"wallet":"Z\u00a01"}}`, "payee.wallet"},
		{"payee with ideographic space", ctJSON, "", `{"amount":"1","payee":{"wallet":"Z\u30001"}}`, "payee.wallet"},
		{"payee with line separator", ctJSON, "", `{"amount":"1","payee":{"wallet":"Z\u20281"}}`, "payee.wallet"},
		{"payee with replacement character", ctJSON, "", `{"amount":"1","payee":{"wallet":"Z\ufffd1"}}`, "payee.wallet"},
		{"payee with lone surrogate", ctJSON, "", `{"amount":"1","payee":{"wallet":"Z\ud8001"}}`, "payee.wallet"},
		{"payee with private use character", ctJSON, "", `{"amount":"1","payee":{"wallet":"Z\ue0001"}}`, "payee.wallet"},
		{"payee with unassigned code point", ctJSON, "", `{"amount":"1","payee":{"wallet":"Z\u03781"}}`, "payee.wallet"},
		{"payee with hangul filler", ctJSON, "", `{"amount":"1","payee":{"wallet":"Z\u31641"}}`, "payee.wallet"},
		{"payee with variation selector", ctJSON, "", `{"amount":"1","payee":{"wallet":"Z\ufe0f1"}}`, "payee.wallet"},
		{"payee with byte order mark", ctJSON, "", `{"amount":"1","payee":{"wallet":"Z\ufeff1"}}`, "payee.wallet"},
		{"payee with invalid utf-8 from a form", ctForm, "", `amount=1&payee.wallet=Z%FF1`, "payee.wallet"},
		{"payee longer than 128 runes", ctJSON, "", `{"amount":"1","payee":{"wallet":"` + strings.Repeat("я", 129) + `"}}`, "payee.wallet"},
		{"optional show field with a control character", ctJSON, "", `{"amount":"1",` + okPayee + `,"name":"a\u0007"}`, "name"},
		{"optional show field repeated", ctForm, "", `amount=1&payee.wallet=Z1&name=a&name=b`, "name"},
		{"optional show field as an object", ctJSON, "", `{"amount":"1",` + okPayee + `,"name":{}}`, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			d, err := c.EvaluateRequest(tt.ct, tt.q, []byte(tt.body))
			wantAmbiguous(t, d, err, tt.field)
		})
	}
}

func TestStrictViewUnicodeCaseLookalikes(t *testing.T) {
	c := compiledRule(t, Rule{PayeeField: "sk"})
	for _, body := range []string{
		`{"sk":"a","\u017f\u212a":"b"}`, // LONG S and KELVIN SIGN: encoding/json takes them for s and k
		`{"\u017fk":"b"}`,
	} {
		d, err := c.Evaluate(ctJSON, []byte(body))
		wantAmbiguous(t, d, err, "sk")
	}
}

func TestStrictViewMultipart(t *testing.T) {
	c := paymentRule(t)
	ct, body := multipartBody(t, [][2]string{{"amount", "5.00"}, {"to", "Z1"}}, "receipt")
	d, err := c.Evaluate(ct, body)
	if err != nil || d.Amount != "5.00" || d.Payee != "Z1" {
		t.Fatalf("plain multipart: %+v, %v", d, err)
	}
	refused := []struct {
		behavior string
		ct, body string
	}{
		{"repeated part", "", ""},
		{"file part carrying the amount", "", ""},
		{"quoted-printable part", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nZ1\r\n--x\r\nContent-Disposition: form-data; name=\"amount\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=39999\r\n--x--\r\n"},
		{"part with a non-utf-8 charset", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"to\"\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\nZ1\r\n--x\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n1\r\n--x--\r\n"},
		{"part named with rfc 2231", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nZ1\r\n--x\r\nContent-Disposition: form-data; name=\"x\"; name*=utf-8''amount\r\n\r\n1\r\n--x--\r\n"},
		{"two content dispositions", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nZ1\r\n--x\r\nContent-Disposition: form-data; name=\"amount\"\r\nContent-Disposition: form-data; name=\"memo\"\r\n\r\n1\r\n--x--\r\n"},
		{"multipart charset", "multipart/form-data; boundary=x; charset=utf-16", "--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nZ1\r\n--x\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n1\r\n--x--\r\n"},
		{"invalid utf-8 in a value", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nZ1\r\n--x\r\nContent-Disposition: form-data; name=\"memo\"\r\n\r\n\xff\r\n--x\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n1\r\n--x--\r\n"},
	}
	refused[0].ct, refused[0].body = multipartBodyString(t, [][2]string{{"amount", "5"}, {"amount", "50000"}, {"to", "Z1"}})
	refused[1].ct, refused[1].body = multipartBodyString(t, [][2]string{{"amount", "5"}, {"to", "Z1"}}, "amount")
	for _, tt := range refused {
		t.Run(tt.behavior, func(t *testing.T) {
			d, err := c.Evaluate(tt.ct, []byte(tt.body))
			wantAmbiguous(t, d, err, "*")
		})
	}
}

func multipartBodyString(t testing.TB, fields [][2]string, files ...string) (string, string) {
	ct, b := multipartBody(t, fields, files...)
	return ct, string(b)
}

// TestStrictViewWithConditions: conditions keep failing closed, and a
// request whose conditions do not hold is not refused for what it would
// have shown.
func TestStrictViewWithConditions(t *testing.T) {
	c := compiledRule(t, Rule{When: conds(t, "amount > 1000"), AmountField: "amount", PayeeField: "to"})
	d, err := c.Evaluate(ctJSON, []byte(`{"amount":"5000","amount":"5","to":"a"}`))
	if !errors.Is(err, ErrAmbiguous) || !d.Protected || !d.FailClosed {
		t.Errorf("duplicate condition field: %+v, %v; want fail closed and refused", d, err)
	}
	d, err = c.Evaluate(ctJSON, []byte(`{"amount":"5","to":"a","to":"b"}`))
	if err != nil || d.Protected || d.Payee != "" || d.Amount != "" {
		t.Errorf("duplicate shown field, condition false: %+v, %v; want unprotected, no error, nothing shown", d, err)
	}
	d, err = c.Evaluate(ctJSON, []byte(`{"amount":"5","to":" a"}`))
	if err != nil || d.Protected || d.Payee != "" || d.Amount != "" {
		t.Errorf("unprotected request with an unshowable payee: %+v, %v; want unprotected, no error, nothing shown", d, err)
	}
	d, err = c.Evaluate(ctJSON, []byte(`{"amount":"5000","to":" a"}`))
	if !errors.Is(err, ErrAmbiguous) || !d.Protected || d.FailClosed {
		t.Errorf("protected request with an unshowable payee: %+v, %v", d, err)
	}
	d, err = c.Evaluate(ctJSON, []byte(`{"amount":"5000.00","to":"Z1"}`))
	if err != nil || !d.Protected || d.Amount != "5000.00" || d.Payee != "Z1" {
		t.Errorf("protected: %+v, %v", d, err)
	}
	// A rule that shows nothing never refuses.
	c = compiledRule(t, Rule{When: conds(t, "amount > 1000")})
	for _, body := range []string{`{"amount":5,"amount":5000}`, `{"amount":5,"Amount":5000}`, `{`, `{"amount":5}{"amount":5000}`} {
		if d, err := c.Evaluate(ctJSON, []byte(body)); err != nil || !d.Protected || !d.FailClosed {
			t.Errorf("conditions only, %s: %+v, %v; want fail closed, no error", body, d, err)
		}
	}
}

func TestStrictViewCurrencyAndMasks(t *testing.T) {
	c := compiledRule(t, Rule{AmountField: "amount", PayeeField: "card", Currency: "RUB", Masks: map[string]string{"card": MaskLast4}})
	d, err := c.Evaluate(ctJSON, []byte(`{"amount":"10","card":"4111 1111 1111 1111"}`))
	if err != nil || d.Currency != "RUB" || d.Payee != "4111 1111 1111 1111" || d.PayeeDisplay != "•••• 1111" {
		t.Errorf("masked card: %+v, %v", d, err)
	}
	d, err = c.Evaluate(ctJSON, []byte(`{"amount":"10","card":"123"}`))
	if err != nil || d.PayeeDisplay != "•••• 123" {
		t.Errorf("short masked value: %+v, %v", d, err)
	}
	c = compiledRule(t, Rule{AmountField: "amount", CurrencyField: "cur"})
	for _, body := range []string{`{"amount":"1","cur":"rub"}`, `{"amount":"1","cur":"RUBL"}`, `{"amount":"1","cur":"R B"}`, `{"amount":"1"}`, `{"amount":"1","cur":1}`} {
		d, err := c.Evaluate(ctJSON, []byte(body))
		wantAmbiguousT(t, body, d, err)
	}
	c = compiledRule(t, Rule{Currency: "EUR"})
	if d, err := c.Evaluate("", nil); err != nil || d.Currency != "EUR" || c.NeedsBody() {
		t.Errorf("fixed currency alone: %+v, %v, NeedsBody=%v", d, err, c.NeedsBody())
	}
}

func wantAmbiguousT(t *testing.T, name string, d Decision, err error) {
	t.Helper()
	if !errors.Is(err, ErrAmbiguous) || d.Currency != "" || d.Amount != "" {
		t.Errorf("%s: %+v, %v; want refused", name, d, err)
	}
}

func TestNeedsBodyWhenAnyFieldIsShown(t *testing.T) {
	for _, r := range []Rule{
		{AmountField: "a"}, {PayeeField: "a"}, {CurrencyField: "a"},
		{Show: []ShowField{{Field: "a", Label: "a", Optional: true}}},
	} {
		if !compiledRule(t, r).NeedsBody() {
			t.Errorf("NeedsBody false for %+v", r)
		}
	}
}

func TestAmbiguousErrorText(t *testing.T) {
	e := &AmbiguousError{Field: "amount", Reason: "is repeated"}
	if got := e.Error(); got != "policy: ambiguous operation: field amount is repeated" {
		t.Errorf("Error() = %q", got)
	}
	e = &AmbiguousError{Reason: "JSON body cannot be parsed"}
	if got := e.Error(); got != "policy: ambiguous operation: JSON body cannot be parsed" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(e, ErrAmbiguous) || errors.Is(errors.New("x"), ErrAmbiguous) {
		t.Error("errors.Is")
	}
}

func TestValidAmount(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "1": true, "10": true, "1234567.89": true, "0.5": true, "0.00000001": true, "10.5": true,
		strings.Repeat("9", 30): true, strings.Repeat("9", 21) + ".12345678": true,
		"": false, "00": false, "007": false, "01.5": false, ".5": false, "5.": false, "+5": false, "-5": false,
		"1e3": false, "1E3": false, "10,50": false, "1 000": false, " 5": false, "5 ": false, "0x10": false,
		"1.123456789": false, strings.Repeat("9", 31): false, "1..2": false, "1.2.3": false, "١٢": false, "NaN": false, "Infinity": false,
	} {
		if got := ValidAmount(s); got != want {
			t.Errorf("ValidAmount(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestFormatAmount(t *testing.T) {
	const nb = "\u00a0"
	tests := []struct{ amount, currency, lang, want string }{
		{"1234567.89", "RUB", "ru", "1" + nb + "234" + nb + "567,89" + nb + "₽"},
		{"1234567.89", "RUB", "ru-RU", "1" + nb + "234" + nb + "567,89" + nb + "₽"},
		{"1234567.89", "RUB", "en", "RUB 1,234,567.89"},
		{"1234567.89", "RUB", "de", "RUB 1,234,567.89"},
		{"1234567.89", "RUB", "", "RUB 1,234,567.89"},
		{"10.5", "USD", "ru", "10,5" + nb + "$"},
		{"10", "EUR", "ru", "10" + nb + "€"},
		{"1000", "KZT", "ru", "1" + nb + "000" + nb + "KZT"},
		{"1000", "USD", "en", "USD 1,000"},
		{"999", "", "en", "999"},
		{"1000.50", "", "ru", "1" + nb + "000,50"},
		{"0.00000001", "EUR", "en", "EUR 0.00000001"},
		{"123456", "RUB", "en", "RUB 123,456"},
		{"1234", "RUB", "en", "RUB 1,234"},
		{"1e3", "RUB", "en", "1e3"},
	}
	for _, tt := range tests {
		if got := FormatAmount(tt.amount, tt.currency, tt.lang); got != tt.want {
			t.Errorf("FormatAmount(%q, %q, %q) = %q, want %q", tt.amount, tt.currency, tt.lang, got, tt.want)
		}
	}
}
