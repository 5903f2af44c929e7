package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/url"
	"reflect"
	"regexp"
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
		if any := p.MatchAny([]string{method}, path); any != got && method != AnyMethod {
			t.Fatalf("MatchAny([%q], %q) = %s, Match says %s", method, path, op(any), op(got))
		}
		anyMethod := false
		for _, c := range p.rules {
			if slowMatch(&Policy{rules: []*Compiled{{patterns: c.patterns}}}, method, path) != nil {
				anyMethod = true
				break
			}
		}
		if p.PathMatches(path) != anyMethod {
			t.Fatalf("PathMatches(%q) = %v, reference says %v", path, !anyMethod, anyMethod)
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
		if err != nil && !errors.Is(err, ErrAmbiguous) {
			t.Fatalf("error %v", err)
		}
		if d.FailClosed && !d.Protected {
			t.Fatalf("fail closed but not protected: %+v", d)
		}
		if !d.Protected && !strings.Contains(d.Reason, "does not hold") {
			t.Fatalf("unprotected without a false condition: %+v", d)
		}
		if err != nil && (!d.Protected || d.Amount != "" || d.Payee != "") {
			t.Fatalf("refused (%v) but %+v", err, d)
		}
		if err == nil && d.Protected && (!ValidAmount(d.Amount) || d.Payee == "") {
			t.Fatalf("protected and not refused, but amount %q payee %q", d.Amount, d.Payee)
		}
		for _, s := range []string{d.Amount, d.Payee} {
			if n := utf8.RuneCountInString(s); n > maxDisplayRunes || !utf8.ValidString(s) {
				t.Fatalf("display value %q: %d runes", s, n)
			}
			if strings.TrimSpace(s) != s {
				t.Fatalf("display value %q has surrounding space", s)
			}
			for _, r := range s {
				if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || !unicode.IsGraphic(r) || unicode.IsSpace(r) && r != ' ' {
					t.Fatalf("display value %q has %U", s, r)
				}
			}
		}
		if d2, _ := c.EvaluateRequest(ct, query, body); !reflect.DeepEqual(d2, d) {
			t.Fatalf("not deterministic: %+v vs %+v", d, d2)
		}
	})
}

// strictContentTypes are the Content-Types FuzzStrictView tries; those
// from index 4 on must always be refused when the body is not empty.
var strictContentTypes = []string{
	ctJSON, ctForm, "", "multipart/form-data; boundary=x",
	ctJSON + "; charset=utf-16", ctForm + "; charset=iso-8859-1", "text/plain", "multipart/form-data; boundary=x; charset=koi8-r",
}

// strictStruct is how a Go upstream would bind the fuzzed fields:
// encoding/json matches these keys ignoring case.
type strictStruct struct {
	Amount any `json:"amount"`
	To     any `json:"to"`
	Name   any `json:"name"`
	Memo   *struct {
		Text any `json:"text"`
	} `json:"memo"`
}

// reading is what an independent parser read for one field: the values
// found (none, one, or more when repeated), and bad when it could not be
// read as a scalar.
type reading struct {
	values []string
	bad    bool
}

func (r *reading) addJSON(v any, ok bool) {
	if !ok {
		return
	}
	switch v := v.(type) {
	case string:
		r.values = append(r.values, v)
	case json.Number:
		r.values = append(r.values, string(v))
	default:
		r.bad = true
	}
}

// oracle reads field (top-level, or "memo.text") from query and body with
// the standard library, as a Go upstream would, through a map and through
// strictStruct; ok is false if the request cannot be read at all.
func oracle(ct, query string, body []byte) (read map[string][]reading, ok bool) {
	fields := []string{"amount", "to", "name", "memo.text"}
	read = map[string][]reading{}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, false
	}
	formReading := func(vals url.Values, f string) reading {
		var r reading
		r.values = append(r.values, vals[f]...)
		if f == "memo.text" {
			r.values = append(r.values, vals["memo[text]"]...)
		}
		return r
	}
	for _, f := range fields {
		read[f] = append(read[f], formReading(q, f))
	}
	if len(body) == 0 {
		return read, true
	}
	switch ct {
	case ctJSON, "":
		if !json.Valid(body) || !utf8.Valid(body) {
			return nil, false
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			// Not an object: no field is present.
			for _, f := range fields {
				read[f] = append(read[f], reading{}, reading{})
			}
			return read, true
		}
		var s strictStruct
		dec = json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var ute *json.UnmarshalTypeError
		if err := dec.Decode(&s); err != nil && !errors.As(err, &ute) {
			return nil, false
		}
		for _, f := range fields {
			var viaMap, viaStruct reading
			if f == "memo.text" {
				if memo, ok := m["memo"].(map[string]any); ok {
					v, ok := memo["text"]
					viaMap.addJSON(v, ok)
				}
				if s.Memo != nil {
					viaStruct.addJSON(s.Memo.Text, s.Memo.Text != nil)
				}
			} else {
				v, ok := m[f]
				viaMap.addJSON(v, ok)
				sv := map[string]any{"amount": s.Amount, "to": s.To, "name": s.Name}[f]
				viaStruct.addJSON(sv, sv != nil)
			}
			read[f] = append(read[f], viaMap, viaStruct)
		}
	case ctForm:
		if !utf8.Valid(body) {
			return nil, false
		}
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, false
		}
		for _, f := range fields {
			read[f] = append(read[f], formReading(vals, f))
		}
	case "multipart/form-data; boundary=x":
		form, err := multipart.NewReader(bytes.NewReader(body), "x").ReadForm(1 << 20)
		if err != nil {
			return nil, false
		}
		defer form.RemoveAll()
		for _, f := range fields {
			r := formReading(form.Value, f)
			if len(form.File[f]) > 0 {
				r.bad = true
			}
			read[f] = append(read[f], r)
		}
	default:
		return nil, false
	}
	return read, true
}

// agreed returns the one value every reading agrees on. present is false
// when no reading has the field; ok is false when the readings disagree,
// repeat it, or cannot read it. The query reading (first) and the body
// readings together must hold it once; all body readings must agree.
func agreed(rs []reading) (v string, present, ok bool) {
	q, body := rs[0], rs[1:]
	for _, r := range rs {
		if r.bad || len(r.values) > 1 {
			return "", false, false
		}
	}
	var bodyVals []string
	for i, r := range body {
		if (len(r.values) == 1) != (len(body[0].values) == 1) {
			return "", false, false // one body reading has it, another not
		}
		if len(r.values) == 1 {
			if i > 0 && r.values[0] != bodyVals[0] {
				return "", false, false
			}
			bodyVals = append(bodyVals, r.values[0])
		}
	}
	switch {
	case len(q.values) == 1 && len(bodyVals) > 0:
		return "", false, false
	case len(q.values) == 1:
		return q.values[0], true, true
	case len(bodyVals) > 0:
		return bodyVals[0], true, true
	}
	return "", false, true
}

var plainAmount = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]{1,8})?$`)

// showable is an independent statement of what a shown value may be.
func showable(s string) bool {
	if utf8.RuneCountInString(s) > 128 || strings.TrimSpace(s) != s || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return false
	}
	for _, r := range s {
		if r == ' ' {
			continue
		}
		if r == utf8.RuneError || !unicode.IsGraphic(r) || unicode.IsSpace(r) || unicode.In(r, unicode.Zs, unicode.Cf, unicode.Co, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
			return false
		}
	}
	return true
}

// FuzzStrictView checks the strict view against the standard library:
// whenever EvaluateRequest shows a request (no error), every shown value
// is the one encoding/json (into a map, and into a struct, matching keys
// ignoring case), url.ParseQuery or mime/multipart read, once, from query
// and body together; otherwise it must have refused.
func FuzzStrictView(f *testing.F) {
	seeds := []struct {
		ct    int
		query string
		body  string
	}{
		{0, "", `{"to":"Z123456789012","amount":"1.00"}`},
		{0, "", `{"to":"Z123456789012","amount":"1.00","amount":"9999.00"}`},
		{0, "", `{"to":"Z111111111111","amount":"1.00","to":"ZEVIL0000000"}`},
		{0, "", `{"to":"Z123456789012","amount":"1.00","\u0061mount":"9999.00"}`},
		{0, "", `{"to":"Z1","amount":"1.00","AMOUNT":"9999.00"}`},
		{0, "", `{"to":"Z1","amount":"1.00","Amount ":"9999.00"}`},
		{0, "", `{"to":"Z1","amount":"1.00","name":"Ivan","NAME":"Evil"}`},
		{0, "", `{"to":"Z1","amount":1234567.89,"memo":{"text":"rent","TEXT":"x"}}`},
		{0, "", `{"to":"Z1","amount":"1.00","memo":"x"}`},
		{4, "", `{"to":"Z123456789012","amount":"1.00"}`},
		{5, "", `to=Z123456789012&amount=1.00`},
		{1, "amount=99.00", `to=Z123456789012&amount=14.00`},
		{1, "", `to=Z1&amount=14.00&memo%5Btext%5D=hi&memo.text=ho`},
		{1, "", `to=Z1&amount=14.00&name=a%00b`},
		{0, "", `{"to":"Z1","amount":"1.00","x":` + strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100) + `}`},
		{0, "", `{"to":"Z1234\u00ad5678","amount":"1.00"}`},
		{0, "", `{"to":"Z1234\u200b5678","amount":"1.00"}`},
		{0, "", `{"to":"Z\u202e8765\u202c","amount":"1.00"}`},
		{0, "", `{"to":"Z1","amount":1e3}`},
		{0, "", `{"to":"Z1","amount":"10,50"}`},
		{0, "", `{"to":"Z1","amount":"007"}`},
		{0, "", `{"to":123456789012345678,"amount":"1"}`},
		{2, "", `{"to":"Z1","amount":"1"}`},
		{2, "", `to=Z1&amount=1`},
		{3, "", "--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nZ1\r\n--x\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n5.00\r\n--x--\r\n"},
		{3, "", "--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nZ1\r\n--x\r\nContent-Disposition: form-data; name=\"amount\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=39\r\n--x--\r\n"},
		{3, "", "--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nZ1\r\n--x\r\nContent-Disposition: form-data; name=\"amount\"; filename=\"\"\r\n\r\n9\r\n--x\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n1\r\n--x--\r\n"},
		{6, "", `to=Z1&amount=1`},
		{7, "", "--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nZ1\r\n--x--\r\n"},
		{0, "to=Z1&amount=1", ``},
		{0, "name=a&name=b", `{"to":"Z1","amount":"1"}`},
	}
	for _, s := range seeds {
		f.Add(uint8(s.ct), s.query, []byte(s.body))
	}
	rules := []*Compiled{
		compiledRule(f, Rule{AmountField: "amount", PayeeField: "to", Show: []ShowField{
			{Field: "name", Label: "name", Optional: true}, {Field: "memo.text", Label: "memo", Optional: true},
		}}),
		compiledRule(f, Rule{Show: []ShowField{
			{Field: "to", Label: "to", Optional: true}, {Field: "name", Label: "name", Optional: true}, {Field: "memo.text", Label: "memo", Optional: true},
		}}),
	}
	f.Fuzz(func(t *testing.T, cti uint8, query string, body []byte) {
		ct := strictContentTypes[int(cti)%len(strictContentTypes)]
		read, readable := oracle(ct, query, body)
		for ri, c := range rules {
			d, err := c.EvaluateRequest(ct, query, body)
			if err != nil {
				if !errors.Is(err, ErrAmbiguous) {
					t.Fatalf("rule %d: error %v", ri, err)
				}
				continue
			}
			if int(cti)%len(strictContentTypes) >= 4 && len(body) > 0 {
				t.Fatalf("rule %d: %q body shown: %+v", ri, ct, d)
			}
			if !readable {
				t.Fatalf("rule %d: the standard library cannot read the request, but it is shown: %+v", ri, d)
			}
			shown := map[string]string{}
			if c.Rule.AmountField != "" {
				shown["amount"], shown["to"] = d.Amount, d.Payee
				if !plainAmount.MatchString(d.Amount) || len(d.Amount) > 30 {
					t.Fatalf("rule %d: amount %q is not a plain decimal", ri, d.Amount)
				}
			}
			for _, fl := range d.Fields {
				shown[fl.Name] = fl.Value
				if fl.Display != fl.Value {
					t.Fatalf("unmasked field %s displays %q for %q", fl.Name, fl.Display, fl.Value)
				}
			}
			for field, v := range shown {
				want, present, ok := agreed(read[field])
				if !ok || !present || want != v {
					t.Fatalf("rule %d: field %s shown as %q, but the standard library reads %+v (agreed %q, present %v, ok %v)", ri, field, v, read[field], want, present, ok)
				}
				if v != "" && !showable(v) {
					t.Fatalf("rule %d: field %s: %q is not showable", ri, field, v)
				}
			}
			for _, sf := range c.Rule.Show {
				if _, isShown := shown[sf.Field]; isShown {
					continue
				}
				if _, present, _ := agreed(read[sf.Field]); present {
					t.Fatalf("rule %d: optional field %s left out, but the standard library reads %+v", ri, sf.Field, read[sf.Field])
				}
			}
		}
	})
}
