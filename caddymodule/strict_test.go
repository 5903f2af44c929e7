package caddymodule_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
)

// strictRules show what banks show: amount with currency, payee (a card
// masked), a correspondent's name.
const strictRules = `
		user {http.request.header.X-User}
		session {http.request.header.X-Session}
		protect transfer POST /transfer /api/transfers* {
			amount amount
			currency RUB
			payee to
		}
		protect withdrawal POST /withdraw* {
			amount amount
			currency_field currency
			payee card
			mask card last4
		}
		protect new_correspondent POST /correspondents {
			payee wallet
			show name correspondent_name
		}
		protect transfer_put PUT /put-transfer
		max_body 16KiB
`

// nested returns a JSON object with field nested depth deep.
func nested(depth int) string {
	return `{"to":"Z123456789012","amount":"1.00","x":` + strings.Repeat(`{"a":`, depth) + `1` + strings.Repeat(`}`, depth) + `}`
}

func TestAmbiguousOperationsAreRefusedAndNeverForwarded(t *testing.T) {
	g := startGateway(t, gatewayOptions{handler: strictRules})
	c := g.client(t, "alice")
	tests := []struct {
		name, path, ctype, body string
	}{
		{"duplicate amount", "/transfer", "application/json", `{"to":"Z123456789012","amount":"1.00","amount":"9999.00"}`},
		{"duplicate payee", "/transfer", "application/json", `{"to":"Z111111111111","amount":"1.00","to":"ZEVIL0000000"}`},
		{"escaped look-alike key", "/transfer", "application/json", `{"to":"Z123456789012","amount":"1.00","\u0061mount":"9999.00"}`},
		{"case variant of a shown key", "/transfer", "application/json", `{"to":"Z123456789012","amount":"1.00","Amount":"9999.00"}`},
		{"UTF-16 charset on ASCII JSON", "/transfer", "application/json; charset=utf-16", `{"to":"Z123456789012","amount":"1.00"}`},
		{"ISO-8859-1 charset on ASCII JSON", "/transfer", "application/json; charset=iso-8859-1", `{"to":"Z123456789012","amount":"1.00"}`},
		{"shown field in query and form body", "/transfer?amount=99.00", "application/x-www-form-urlencoded", `to=Z123456789012&amount=14.00`},
		{"shown field repeated in a form", "/transfer", "application/x-www-form-urlencoded", `to=Z123456789012&amount=1.00&amount=9999.00`},
		{"extra field nested 100 deep", "/transfer", "application/json", nested(100)},
		{"soft hyphen in the payee", "/transfer", "application/json", `{"to":"Z1234\u00ad56789012","amount":"1.00"}`},
		{"zero-width space in the payee", "/transfer", "application/json", `{"to":"Z1234\u200b56789012","amount":"1.00"}`},
		{"bidi override in the payee", "/transfer", "application/json", `{"to":"\u202eZ123456789012","amount":"1.00"}`},
		{"exponent amount", "/transfer", "application/json", `{"to":"Z123456789012","amount":"1e3"}`},
		{"decimal comma amount", "/transfer", "application/json", `{"to":"Z123456789012","amount":"10,50"}`},
		{"missing amount", "/transfer", "application/json", `{"to":"Z123456789012"}`},
		{"missing name", "/correspondents", "application/json", `{"wallet":"Z123456789012"}`},
		{"invalid JSON", "/transfer", "application/json", `{"to":"Z123456789012","amount":"1.00"`},
		{"form that is also JSON", "/transfer", "application/x-www-form-urlencoded", `{"to":"Z123456789012","amount":"1.00"}`},
		{"unknown body type", "/transfer", "text/plain", `to=Z123456789012&amount=1.00`},
		{"currency that is not a code", "/withdraw", "application/json", `{"card":"4111111111111111","amount":"1.00","currency":"rub "}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			r := c.do("POST", tt.path, tt.ctype, []byte(tt.body))
			if r.Status != http.StatusUnprocessableEntity || r.json(t)["error"] != "ambiguous_operation" {
				t.Fatalf("= %d %s, want 422 ambiguous_operation", r.Status, r.Body)
			}
		})
	}
	if n := len(g.upstream.requests()); n != 0 {
		t.Fatalf("upstream saw %d refused requests", n)
	}

	// A browser gets the page in its language.
	c.t, c.html = t, true
	r := c.do("POST", "/transfer", "application/json", []byte(tests[0].body), "Accept-Language", "ru")
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), `data-error="ambiguous_operation"`) ||
		!strings.Contains(string(r.Body), "нельзя прочитать однозначно") {
		t.Fatalf("browser = %d\n%s", r.Status, r.Body)
	}
}

// TestShownIsExecuted: what the API shows is what the upstream receives,
// read back the way an upstream reads it (encoding/json, url.ParseQuery).
func TestShownIsExecuted(t *testing.T) {
	g := startGateway(t, gatewayOptions{handler: strictRules})
	c := g.client(t, "alice")
	tests := []struct {
		name, path, ctype, body          string
		field, payeeField                string
		amountDisplay, payeeDisplay, cur string
	}{
		{"JSON transfer", "/transfer", "application/json", `{"to":"Z123456789012","amount":"1234567.89"}`, "amount", "to", "RUB 1,234,567.89", "Z123456789012", "RUB"},
		{"JSON number amount", "/transfer", "application/json", `{"to":"Z123456789012","amount":10.5}`, "amount", "to", "RUB 10.5", "Z123456789012", "RUB"},
		{"form transfer", "/transfer", "application/x-www-form-urlencoded", `to=Z123456789012&amount=14.00`, "amount", "to", "RUB 14.00", "Z123456789012", "RUB"},
		{"masked card, currency from the body", "/withdraw", "application/json", `{"card":"4111111111111111","amount":"50.00","currency":"USD"}`, "amount", "card", "USD 50.00", "•••• 1111", "USD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			r := c.do("POST", tt.path, tt.ctype, []byte(tt.body))
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("= %d %s", r.Status, r.Body)
			}
			m := r.json(t)
			var want map[string]any
			if tt.ctype == "application/json" {
				dec := json.NewDecoder(strings.NewReader(tt.body))
				dec.UseNumber()
				if err := dec.Decode(&want); err != nil {
					t.Fatal(err)
				}
			} else {
				q, _ := url.ParseQuery(tt.body)
				want = map[string]any{}
				for k := range q {
					want[k] = q.Get(k)
				}
			}
			if fmt.Sprint(m["amount"]) != fmt.Sprint(want[tt.field]) || m["payee"] != want[tt.payeeField] {
				t.Fatalf("shown amount %v payee %v, upstream reads %v %v", m["amount"], m["payee"], want[tt.field], want[tt.payeeField])
			}
			if m["amount_display"] != tt.amountDisplay || m["payee_display"] != tt.payeeDisplay || m["currency"] != tt.cur || m["mode"] != "payment" {
				t.Fatalf("display = %v", m)
			}
		})
	}

	// Russian formatting, and the correspondent's name as a further field.
	r := c.do("POST", "/transfer", "application/json", []byte(`{"to":"Z123456789012","amount":"1234567.89"}`), "Accept-Language", "ru")
	if got := r.json(t)["amount_display"]; got != "1\u00a0234\u00a0567,89\u00a0₽" {
		t.Fatalf("Russian amount = %q", got)
	}
	r = c.do("POST", "/correspondents", "application/json", []byte(`{"wallet":"Z123456789012","name":"Ivan Petrov"}`))
	m := r.json(t)
	fields, _ := m["fields"].([]any)
	if m["mode"] != "authorization" || len(fields) != 1 || fmt.Sprint(fields[0]) != "map[display:Ivan Petrov label:correspondent_name name:name value:Ivan Petrov]" {
		t.Fatalf("new correspondent = %v", m)
	}
}

func TestCrossSiteStartsAreRefused(t *testing.T) {
	g := startGateway(t, gatewayOptions{handler: strictRules + "\n\t\tallowed_origins https://app.bank.example"})
	c := g.client(t, "alice")
	c.html = true
	// The attack: an auto-submitted form whose query shows a small
	// transfer while its body carries a large one.
	const attack = "/transfer?amount=1.00&to=Z123"
	tests := []struct {
		name, path string
		header     []string
		status     int
	}{
		{"auto-submitted form from another site", attack, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, http.StatusForbidden},
		{"cross-site without an origin", attack, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"foreign origin without fetch metadata", attack, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"opaque origin", attack, []string{"Origin", "null"}, http.StatusForbidden},
		{"same-site sibling not allowed", "/transfer", []string{"Sec-Fetch-Site", "same-site", "Origin", "https://other.bank.example"}, http.StatusForbidden},
		{"the site's own page", "/transfer", []string{"Sec-Fetch-Site", "same-origin", "Origin", g.base}, http.StatusSeeOther},
		{"an allowed origin", "/transfer", []string{"Sec-Fetch-Site", "same-site", "Origin", "https://app.bank.example"}, http.StatusSeeOther},
		{"no browser headers (API client)", "/transfer", nil, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			r := c.do("POST", tt.path, "application/x-www-form-urlencoded", []byte("to=ZEVIL0000000&amount=9999.00"), tt.header...)
			if r.Status != tt.status {
				t.Fatalf("= %d %s, want %d", r.Status, r.Body, tt.status)
			}
			if tt.status == http.StatusForbidden && !strings.Contains(string(r.Body), `data-error="cross_site"`) {
				t.Fatalf("refusal page lacks cross_site:\n%s", r.Body)
			}
		})
	}
	if n := len(g.upstream.requests()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}

func TestMethodOverridesAreReadLikeFrameworksDo(t *testing.T) {
	g := startGateway(t, gatewayOptions{handler: strictRules})
	c := g.client(t, "alice")
	body := []byte(`{"to":"Z123456789012","amount":"1.00"}`)
	tests := []struct {
		name, method, path, ctype string
		body                      []byte
		header                    []string
	}{
		{"the second override header names POST", "PUT", "/transfer", "application/json", body,
			[]string{"X-HTTP-Method-Override", "GET", "X-Method-Override", "POST"}},
		{"a list in one header", "PUT", "/transfer", "application/json", body, []string{"X-HTTP-Method", "GET, post"}},
		{"_method in the query", "PUT", "/transfer?_method=POST", "application/json", body, nil},
		{"_method in a form body", "PATCH", "/transfer", "application/x-www-form-urlencoded", []byte("_method=POST&to=Z123456789012&amount=1.00"), nil},
		{"_method=PUT on a POST", "POST", "/put-transfer", "application/x-www-form-urlencoded", []byte("_method=PUT&x=1"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			r := c.do(tt.method, tt.path, tt.ctype, tt.body, tt.header...)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("= %d %s, want a challenge", r.Status, r.Body)
			}
		})
	}
	if n := len(g.upstream.requests()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
	// A form on a protected path that overrides to an unprotected method
	// passes with its body intact.
	c.t = t
	r := c.do("PATCH", "/transfer", "application/x-www-form-urlencoded", []byte("_method=DELETE&x=1"))
	if got := g.upstream.requests(); r.Status != http.StatusCreated || len(got) != 1 || string(got[0].Body) != "_method=DELETE&x=1" {
		t.Fatalf("unprotected override = %d, upstream %+v", r.Status, got)
	}
}

// rawRequest sends a hand-written HTTP/1.1 request and returns the
// response.
func rawRequest(t *testing.T, addr, req string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp
}

func TestReplayIsBuiltFromTheStashAlone(t *testing.T) {
	g := startGateway(t, gatewayOptions{handler: strictRules})
	c := g.client(t, "alice")
	id := c.hold()
	q := c.beginEnum(id)
	a := enumApp(t, q)

	// The answer comes chunked, with headers and a forged trailer of its own.
	answer := `{"answer":"` + a + `"}`
	addr := strings.TrimPrefix(g.base, "http://")
	resp := rawRequest(t, addr, "POST /.enumgate/api/challenges/"+id+"/answer HTTP/1.1\r\n"+
		"Host: "+addr+"\r\nX-User: alice\r\nX-Session: session-of-alice\r\nX-Answering: yes\r\n"+
		"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nTrailer: Enumgate-Confirmed\r\n\r\n"+
		fmt.Sprintf("%x\r\n%s\r\n0\r\nEnumgate-Confirmed: v=2; forged\r\n\r\n", len(answer), answer))
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("answer = %d %s", resp.StatusCode, b)
	}
	got := g.upstream.requests()
	if len(got) != 1 {
		t.Fatalf("upstream saw %d requests", len(got))
	}
	r := got[0]
	if r.Header.Get("X-Answering") != "" || len(r.Trailer) != 0 || len(r.TransferEncoding) != 0 ||
		r.ContentLength != int64(len(transferBody)) || string(r.Body) != string(transferBody) {
		t.Fatalf("replayed request carries the answering request's parts: %+v", r)
	}
	if v := r.Header.Values("Enumgate-Confirmed"); len(v) != 1 || strings.Contains(v[0], "forged") {
		t.Fatalf("Enumgate-Confirmed = %q", v)
	}
}

func TestConfirmedTrailerNeverReachesUpstream(t *testing.T) {
	g := startGateway(t, gatewayOptions{handler: strictRules})
	addr := strings.TrimPrefix(g.base, "http://")
	resp := rawRequest(t, addr, "POST /unprotected HTTP/1.1\r\nHost: "+addr+"\r\nX-User: alice\r\n"+
		"Transfer-Encoding: chunked\r\nTrailer: Enumgate-Confirmed, X-Other\r\n\r\n"+
		"3\r\nabc\r\n0\r\nEnumgate-Confirmed: v=2; forged\r\nX-Other: kept\r\n\r\n")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("unprotected = %d", resp.StatusCode)
	}
	got := g.upstream.requests()
	if len(got) != 1 || string(got[0].Body) != "abc" || got[0].Trailer.Get("Enumgate-Confirmed") != "" || got[0].Trailer.Get("X-Other") != "kept" {
		t.Fatalf("upstream got %+v", got)
	}
	// Undeclared trailers too.
	rawRequest(t, addr, "POST /unprotected HTTP/1.1\r\nHost: "+addr+"\r\nX-User: alice\r\n"+
		"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nEnumgate-Confirmed: v=2; forged\r\n\r\n")
	if got := g.upstream.requests(); len(got) != 2 || got[1].Trailer.Get("Enumgate-Confirmed") != "" || got[1].Header.Get("Enumgate-Confirmed") != "" {
		t.Fatalf("upstream got %+v", got[len(got)-1])
	}
}

func TestPaymentModeThroughTheAPI(t *testing.T) {
	g := startGateway(t, gatewayOptions{handler: strictRules})
	c := g.client(t, "alice")
	r := c.do("POST", "/transfer", "application/json", []byte(`{"to":"Z123456789012","amount":"010.50"}`))
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("amount with leading zero = %d, want refused", r.Status)
	}
	r = c.do("POST", "/transfer", "application/json", []byte(`{"to":"Z123456789012","amount":"10.50"}`))
	id := r.json(t)["challenge_id"].(string)
	r = c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "enum"})
	m := r.json(t)
	q, _ := m["question"].(string)
	if m["mode"] != "payment" || m["payee"] != "123456789012" || m["amount"] != "10.5" ||
		m["uri"] != "enum:payment?challenge="+q+"&purse=Z123456789012&amount=10.50" {
		t.Fatalf("method = %v", m)
	}
	suite, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA256-8:QN08")
	plain, _ := suite.Compute(aliceKey, ocra.Input{Question: q})
	r = c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": plain})
	if r.Status != http.StatusUnprocessableEntity || r.json(t)["error"] != "wrong_answer" {
		t.Fatalf("the bare question's answer = %d %s, want wrong_answer", r.Status, r.Body)
	}
	u, err := payment.ParseURI(m["uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	a, err := payment.Answer(suite, aliceKey, ocra.Input{Question: u.Challenge}, u.Purse, u.Amount)
	if err != nil {
		t.Fatal(err)
	}
	r = c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": a})
	if r.Status != http.StatusCreated {
		t.Fatalf("payment-mode answer = %d %s", r.Status, r.Body)
	}
}

func TestTextsNameTheOperationInThePagesLanguage(t *testing.T) {
	g := startGateway(t, gatewayOptions{handler: strictRules})
	c := g.client(t, "alice")
	r := c.do("POST", "/withdraw", "application/json", []byte(`{"card":"4111111111111111","amount":"10.00","currency":"RUB"}`))
	id := r.json(t)["challenge_id"].(string)
	req, _ := json.Marshal(map[string]string{"method": "sms"})
	if r := c.do("POST", "/.enumgate/api/challenges/"+id+"/method", "application/json", req, "Accept-Language", "ru-RU,ru;q=0.9"); r.Status != 200 {
		t.Fatalf("sms = %d %s", r.Status, r.Body)
	}
	m := g.phone.last(t, "+79000000001")
	code := m["code"]
	host, _, _ := net.SplitHostPort(strings.TrimPrefix(g.base, "http://"))
	want := "Вывод средств 10,00\u00a0₽ на •••• 1111. Код " + code + ". Никому его не сообщайте.\n\n@" + host + " #" + code
	if m["text"] != want {
		t.Fatalf("SMS text = %q, want %q", m["text"], want)
	}
	if strings.Contains(fmt.Sprint(m), "4111111111111111") {
		t.Fatalf("the SMS carries the full card number: %v", m)
	}
}

func TestALargeBodyOnAProtectedPath(t *testing.T) {
	g := startGateway(t, gatewayOptions{}) // max_body 1KiB
	c := g.client(t, "alice")
	big := strings.Repeat("x", 4<<10)
	// A JSON update too large to judge is an ordinary request of its app.
	if r := c.do("PATCH", "/transfer", "application/json", []byte(`{"note":"`+big+`"}`)); r.Status != http.StatusCreated {
		t.Fatalf("large JSON PATCH = %d %s", r.Status, r.Body)
	}
	// A form too large to judge for _method is refused, not forwarded.
	if r := c.do("PATCH", "/transfer", "application/x-www-form-urlencoded", []byte("note="+big+"&_method=POST")); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("large form PATCH = %d %s", r.Status, r.Body)
	}
	if n := len(g.upstream.requests()); n != 1 {
		t.Fatalf("upstream saw %d requests", n)
	}
}
