package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// inboxPost posts a message to the phone inbox.
func inboxPost(t *testing.T, a *App, body string) int {
	t.Helper()
	return serve(t, a, req("POST", "/phone/inbox", body, "Content-Type", "application/json")).Code
}

// phoneMessages returns GET /phone/messages for the raw query string q.
func phoneMessages(t *testing.T, a *App, q string) []map[string]any {
	t.Helper()
	w := serve(t, a, req("GET", "/phone/messages?"+q, ""))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var list []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || list == nil {
		t.Fatalf("body %s is not a JSON array: %v", w.Body, err)
	}
	for _, m := range list {
		checkKeys(t, m, "to", "text", "code", "at")
	}
	return list
}

func TestPhoneInbox(t *testing.T) {
	var clock time.Time
	a := newApp(t, func(a *App) { a.now = func() time.Time { return clock } })
	msgs := []string{
		`{"method":"sms","to":"+79000000001","text":"Code 111111 for transfer","code":"111111","user":"alice","operation":"transfer","challenge_id":"c1"}`,
		`{"method":"email","to":"alice@example.test","text":"Answer 22222222","code":"22222222","user":"alice"}`,
		`{"method":"sms","to":"+79000000002","text":"Code 333333","code":"333333","user":"bob"}`,
		`{"to":"+79000000001","text":"Code 444444","code":"444444","extra":{"ignored":true}}`,
	}
	for i, m := range msgs {
		clock = testNow.Add(time.Duration(i) * time.Second)
		if code := inboxPost(t, a, m); code != http.StatusNoContent {
			t.Fatalf("message %d: status %d, want 204", i, code)
		}
	}
	tests := []struct {
		name, query string
		codes       []string
	}{
		{"escaped plus", "to=%2B79000000001", []string{"444444", "111111"}},
		{"unescaped plus", "to=+79000000001", []string{"444444", "111111"}},
		{"bob", "to=%2B79000000002", []string{"333333"}},
		{"email, any case", "to=Alice@Example.test", []string{"22222222"}},
		{"nobody", "to=%2B79999999999", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list := phoneMessages(t, a, tt.query)
			var codes []string
			for _, m := range list {
				codes = append(codes, m["code"].(string))
			}
			if fmt.Sprint(codes) != fmt.Sprint(tt.codes) {
				t.Errorf("codes = %v, want %v (newest first)", codes, tt.codes)
			}
		})
	}
	first := phoneMessages(t, a, "to=%2B79000000001")[1]
	want := map[string]any{"to": "+79000000001", "text": "Code 111111 for transfer", "code": "111111", "at": "2026-11-27T12:00:00Z"}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %#v, want %#v", k, first[k], v)
		}
	}
}

func TestPhoneBadRequests(t *testing.T) {
	a := newApp(t)
	tests := []struct {
		name, ctype, body string
		status            int
	}{
		{"no to", "application/json", `{"text":"hi"}`, 400},
		{"no text", "application/json", `{"to":"+79000000001","text":"  "}`, 400},
		{"not JSON", "application/json", `to=+7&text=hi`, 400},
		{"array", "application/json", `[]`, 400},
		{"number field", "application/json", `{"to":"+79000000001","text":"hi","code":123456}`, 400},
		{"control in to", "application/json", `{"to":"+7\n9","text":"hi"}`, 400},
		{"long to", "application/json", `{"to":"` + strings.Repeat("1", maxAddressLen+1) + `","text":"hi"}`, 400},
		{"long text", "application/json", `{"to":"+79000000001","text":"` + strings.Repeat("x", maxTextLen+1) + `"}`, 400},
		{"too large", "application/json", `{"to":"+79000000001","text":"hi","pad":"` + strings.Repeat("x", maxInboxBody) + `"}`, 400},
		{"form", "application/x-www-form-urlencoded", `to=%2B79000000001&text=hi`, 415},
		{"text/plain", "text/plain", `{"to":"+79000000001","text":"hi"}`, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, a, req("POST", "/phone/inbox", tt.body, "Content-Type", tt.ctype))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d", w.Code, tt.status)
			}
			decodeObject(t, w.Body.Bytes(), "error", "message")
		})
	}
	if n := len(a.state.messages("")); n != 0 {
		t.Errorf("%d messages stored from bad requests", n)
	}
	for _, q := range []string{"", "to=", "to=%20", "other=1"} {
		w := serve(t, a, req("GET", "/phone/messages?"+q, ""))
		if w.Code != http.StatusBadRequest {
			t.Errorf("GET /phone/messages?%s: status %d, want 400", q, w.Code)
		}
	}
}

func TestPhoneInboxBounded(t *testing.T) {
	a := newApp(t)
	const total = maxMessages + 50
	for i := range total {
		body := fmt.Sprintf(`{"to":"+79000000001","text":"message %d","code":"%06d"}`, i, i)
		if code := inboxPost(t, a, body); code != http.StatusNoContent {
			t.Fatalf("message %d: status %d", i, code)
		}
	}
	list := phoneMessages(t, a, "to=%2B79000000001")
	if len(list) != maxMessages {
		t.Fatalf("%d messages kept, want %d", len(list), maxMessages)
	}
	if got, want := list[0]["code"], fmt.Sprintf("%06d", total-1); got != want {
		t.Errorf("newest = %v, want %v", got, want)
	}
	if got, want := list[len(list)-1]["code"], fmt.Sprintf("%06d", total-maxMessages); got != want {
		t.Errorf("oldest kept = %v, want %v", got, want)
	}
}

func TestPhonePage(t *testing.T) {
	a := newApp(t)
	inboxPost(t, a, `{"method":"sms","to":"+79000000002","text":"Demo Bank: code 765432 <b>","code":"765432"}`)
	inboxPost(t, a, `{"method":"email","to":"carol@example.test","text":"hello carol","code":"11112222"}`)
	w := serve(t, a, req("GET", "/phone", "")) // no X-Demo-User: the phone is not behind the gateway
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, s := range []string{
		`<meta http-equiv="refresh" content="3">`, `<p class="code">765432</p>`, "code 765432 &lt;b&gt;",
		"&#43;79000000001", "alice@example.test", "&#43;79000000002", "bob@example.test",
		"Other addresses", "carol@example.test", "11112222",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("phone page lacks %q", s)
		}
	}
	if strings.Contains(body, "<b>") {
		t.Error("phone page shows unescaped message text")
	}
}
