package demo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
)

var receiptPath = regexp.MustCompile(`^/receipt/([0-9a-f]{12})$`)

const formType = "application/x-www-form-urlencoded"

func TestOperationSuccess(t *testing.T) {
	tests := []struct {
		name, path, ctype, body string
		accept                  string
		wantOp, wantTo, wantAmt string
	}{
		{"transfer form", "/transfer", formType, "to=Z123456789012&amount=10.00", "", "transfer", "Z123456789012", "10.00"},
		{"transfer form browser", "/transfer", formType, "to=Z1&amount=7", "text/html,application/xhtml+xml", "transfer", "Z1", "7.00"},
		{"transfer JSON string", "/transfer", "application/json", `{"to":"Z123456789012","amount":"10.5"}`, "", "transfer", "Z123456789012", "10.50"},
		{"transfer JSON number", "/transfer", "application/json; charset=utf-8", `{"to":" Z2 ","amount":12.34,"memo":"ignored"}`, "application/json", "transfer", "Z2", "12.34"},
		{"transfer JSON with HTML accept", "/transfer", "application/json", `{"to":"Z3","amount":1}`, "text/html", "transfer", "Z3", "1.00"},
		{"withdraw form", "/withdraw", formType, "card=4111+1111+1111+1111&amount=25.00", "", "withdrawal", "4111 1111 1111 1111", "25.00"},
		{"withdraw JSON", "/withdraw", "application/json", `{"card":"4111111111111111","amount":1000000}`, "", "withdrawal", "4111111111111111", "1000000.00"},
		{"correspondent form", "/correspondents", formType, "wallet=Z987654321098&name=Carol", "", "new_correspondent", "Z987654321098", ""},
		{"correspondent JSON", "/correspondents", "application/json", `{"wallet":"Z987654321098","name":"Кэрол","amount":null}`, "", "new_correspondent", "Z987654321098", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t)
			w := serve(t, a, req("POST", tt.path, tt.body, "Content-Type", tt.ctype, "Accept", tt.accept, UserHeader, "alice"))
			browser := tt.ctype == formType || strings.Contains(tt.accept, "text/html")
			var id string
			if browser {
				if w.Code != http.StatusSeeOther {
					t.Fatalf("status = %d, want 303; body %s", w.Code, w.Body)
				}
				m := receiptPath.FindStringSubmatch(w.Header().Get("Location"))
				if m == nil {
					t.Fatalf("Location = %q, want /receipt/{id}", w.Header().Get("Location"))
				}
				id = m[1]
			} else {
				if w.Code != http.StatusCreated {
					t.Fatalf("status = %d, want 201; body %s", w.Code, w.Body)
				}
				if ct := w.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				got := decodeObject(t, w.Body.Bytes(), "id", "operation", "to", "amount", "status", "confirmed_by")
				want := map[string]any{"operation": tt.wantOp, "to": tt.wantTo, "amount": tt.wantAmt,
					"status": "completed", "confirmed_by": ""}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s = %#v, want %#v", k, got[k], v)
					}
				}
				id, _ = got["id"].(string)
			}
			op, ok := a.state.get("alice", id)
			if !ok {
				t.Fatalf("operation %q not recorded", id)
			}
			if op.Operation != tt.wantOp || op.To != tt.wantTo || op.Amount != tt.wantAmt ||
				op.Status != "completed" || op.User != "alice" || !op.At.Equal(testNow) {
				t.Errorf("recorded %+v", op)
			}
		})
	}
}

func TestOperationBadInput(t *testing.T) {
	long := strings.Repeat("Z", maxPayeeLen+1)
	tests := []struct {
		name, path, ctype, body string
		status                  int
		msg                     string // part of the message
	}{
		{"amount zero", "/transfer", formType, "to=Z1&amount=0.00", 400, "more than 0"},
		{"amount negative", "/transfer", formType, "to=Z1&amount=-1", 400, "positive"},
		{"amount three decimals", "/transfer", formType, "to=Z1&amount=1.234", 400, "2 decimals"},
		{"amount words", "/withdraw", formType, "card=4111&amount=ten", 400, "amount"},
		{"amount exponent", "/transfer", "application/json", `{"to":"Z1","amount":1e3}`, 400, "amount"},
		{"amount too large", "/transfer", "application/json", `{"to":"Z1","amount":"1000000.01"}`, 400, "at most"},
		{"amount huge", "/transfer", "application/json", `{"to":"Z1","amount":"99999999999999999999"}`, 400, "amount"},
		{"amount missing", "/transfer", formType, "to=Z1", 400, "amount is required"},
		{"amount bool", "/withdraw", "application/json", `{"card":"4111","amount":true}`, 400, "number or a string"},
		{"to missing", "/transfer", formType, "amount=1", 400, "to is required"},
		{"to blank", "/transfer", "application/json", `{"to":"   ","amount":1}`, 400, "to is required"},
		{"to too long", "/transfer", formType, "to=" + long + "&amount=1", 400, "at most 64"},
		{"to control", "/transfer", "application/json", `{"to":"Z1\u0000","amount":1}`, 400, "printable"},
		{"to number", "/transfer", "application/json", `{"to":123,"amount":1}`, 400, "to must be a string"},
		{"to twice", "/transfer", formType, "to=Z1&to=Z2&amount=1", 400, "more than once"},
		{"card missing", "/withdraw", formType, "amount=1", 400, "card is required"},
		{"wallet missing", "/correspondents", formType, "name=Carol", 400, "wallet is required"},
		{"name missing", "/correspondents", "application/json", `{"wallet":"Z1"}`, 400, "name is required"},
		{"name too long", "/correspondents", formType, "wallet=Z1&name=" + strings.Repeat("n", maxNameLen+1), 400, "at most 100"},
		{"JSON array", "/transfer", "application/json", `[{"to":"Z1","amount":1}]`, 400, "JSON object"},
		{"JSON null", "/transfer", "application/json", `null`, 400, "JSON object"},
		{"JSON broken", "/transfer", "application/json", `{"to":`, 400, "JSON object"},
		{"JSON trailing", "/transfer", "application/json", `{"to":"Z1","amount":1} {}`, 400, "JSON object"},
		{"body too large", "/transfer", formType, "to=Z1&amount=1&pad=" + strings.Repeat("x", maxBody), 400, "larger than 64 KiB"},
		{"malformed form", "/transfer", formType, "to=%zz&amount=1", 400, "malformed"},
		{"no content type", "/transfer", "", `{"to":"Z1","amount":1}`, 415, "application/json"},
		{"text/plain", "/transfer", "text/plain", `to=Z1&amount=1`, 415, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t)
			w := serve(t, a, req("POST", tt.path, tt.body, "Content-Type", tt.ctype, UserHeader, "alice"))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if tt.ctype == formType {
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("form post error Content-Type = %q, want HTML", ct)
				}
				if !strings.Contains(w.Body.String(), tt.msg) {
					t.Errorf("page does not say %q: %s", tt.msg, w.Body)
				}
			} else {
				got := decodeObject(t, w.Body.Bytes(), "error", "message")
				want := "bad_request"
				if tt.status == 415 {
					want = "unsupported_media_type"
				}
				if got["error"] != want {
					t.Errorf("error = %v, want %s", got["error"], want)
				}
				if msg, _ := got["message"].(string); !strings.Contains(msg, tt.msg) {
					t.Errorf("message = %q, want it to contain %q", msg, tt.msg)
				}
			}
			if n := len(a.state.list("alice")); n != 0 {
				t.Errorf("%d operations recorded after bad input", n)
			}
		})
	}
}

func TestMissingUser(t *testing.T) {
	a := newApp(t)
	tests := []struct {
		method, path, ctype, body, user string
	}{
		{"GET", "/", "", "", ""},
		{"GET", "/operations", "", "", ""},
		{"GET", "/receipt/0123456789ab", "", "", ""},
		{"POST", "/transfer", formType, "to=Z1&amount=1", ""},
		{"POST", "/withdraw", "application/json", `{"card":"4111","amount":1}`, ""},
		{"POST", "/correspondents", formType, "wallet=Z1&name=C", "   "},
		{"POST", "/transfer", formType, "to=Z1&amount=1", "ali\x01ce"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			hdr := []string{"Content-Type", tt.ctype}
			if tt.user != "" {
				hdr = append(hdr, UserHeader, tt.user)
			}
			w := serve(t, a, req(tt.method, tt.path, tt.body, hdr...))
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", w.Code)
			}
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if !strings.Contains(w.Body.String(), LoginURL) || !strings.Contains(w.Body.String(), "log in at ") {
				t.Errorf("body does not point to %s: %s", LoginURL, w.Body)
			}
			if tt.ctype == "application/json" {
				got := decodeObject(t, w.Body.Bytes(), "error", "message")
				if got["error"] != "unauthorized" {
					t.Errorf("error = %v", got["error"])
				}
			}
		})
	}
	if n := len(a.state.ops); n != 0 {
		t.Errorf("%d operations recorded without a user", n)
	}
}

// signed returns an Enumgate-Confirmed header value.
func signed(key []byte, id, user string, m challenge.Method, at time.Time) string {
	return challenge.Confirmed{ChallengeID: id, Operation: "transfer", Method: m, User: user,
		Time: at, Digest: []byte("0123456789abcdef0123456789abcdef")}.Sign(key)
}

func TestConfirmedBy(t *testing.T) {
	key := challenge.ConfirmKey([]byte(testSecret))
	otherKey := challenge.ConfirmKey([]byte("another gateway"))
	valid := signed(key, "c1", "alice", challenge.MethodEnum, testNow)
	tests := []struct {
		name    string
		headers []string // Enumgate-Confirmed values, in order
		user    string
		want    string
	}{
		{"absent", nil, "alice", ""},
		{"valid enum", []string{valid}, "alice", "enum"},
		{"valid sms, a minute old", []string{signed(key, "c2", "alice", challenge.MethodSMS, testNow.Add(-time.Minute))}, "alice", "sms"},
		{"valid email", []string{signed(key, "c3", "alice", challenge.MethodEmail, testNow)}, "alice", "email"},
		{"forged", []string{signed(otherKey, "c4", "alice", challenge.MethodEnum, testNow)}, "alice", ""},
		{"tampered", []string{strings.Replace(valid, "u=alice", "u=bob", 1)}, "bob", ""},
		{"stale", []string{signed(key, "c5", "alice", challenge.MethodEnum, testNow.Add(-3*time.Minute))}, "alice", ""},
		{"from the future", []string{signed(key, "c6", "alice", challenge.MethodEnum, testNow.Add(3*time.Minute))}, "alice", ""},
		{"other user's", []string{signed(key, "c7", "bob", challenge.MethodEnum, testNow)}, "alice", ""},
		{"unknown method", []string{signed(key, "c8", "alice", "carrier-pigeon", testNow)}, "alice", ""},
		{"no challenge id", []string{signed(key, "", "alice", challenge.MethodEnum, testNow)}, "alice", ""},
		{"garbage", []string{"v=1; nonsense"}, "alice", ""},
		{"two headers", []string{valid, signed(key, "c9", "alice", challenge.MethodEnum, testNow)}, "alice", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t)
			r := req("POST", "/transfer", `{"to":"Z1","amount":"5"}`, "Content-Type", "application/json", UserHeader, tt.user)
			for _, h := range tt.headers {
				r.Header.Add(challenge.ConfirmedHeader, h)
			}
			w := serve(t, a, r)
			if w.Code != http.StatusCreated {
				t.Fatalf("status = %d, want 201 (the app completes either way); body %s", w.Code, w.Body)
			}
			got := decodeObject(t, w.Body.Bytes(), "id", "operation", "to", "amount", "status", "confirmed_by")
			if got["confirmed_by"] != tt.want {
				t.Errorf("confirmed_by = %q, want %q", got["confirmed_by"], tt.want)
			}
		})
	}
}

func TestConfirmedReplay(t *testing.T) {
	a := newApp(t)
	key := challenge.ConfirmKey([]byte(testSecret))
	h := signed(key, "once", "alice", challenge.MethodEnum, testNow)
	post := func() string {
		r := req("POST", "/withdraw", `{"card":"4111","amount":"5"}`, "Content-Type", "application/json", UserHeader, "alice")
		r.Header.Set(challenge.ConfirmedHeader, h)
		w := serve(t, a, r)
		return decodeObject(t, w.Body.Bytes(), "id", "operation", "to", "amount", "status", "confirmed_by")["confirmed_by"].(string)
	}
	if got := post(); got != "enum" {
		t.Fatalf("first use: confirmed_by = %q, want enum", got)
	}
	if got := post(); got != "" {
		t.Errorf("replay: confirmed_by = %q, want empty", got)
	}
	// After max_age the header is stale, so forgetting the id is safe:
	// the next verified header prunes it.
	later := testNow.Add(DefaultMaxAge + time.Second)
	a.now = func() time.Time { return later }
	if got := post(); got != "" {
		t.Errorf("replay after max_age: confirmed_by = %q, want empty", got)
	}
	h = signed(key, "next", "alice", challenge.MethodSMS, later)
	if got := post(); got != "sms" {
		t.Errorf("new header: confirmed_by = %q, want sms", got)
	}
	if _, ok := a.state.seen["once"]; ok || len(a.state.seen) != 1 {
		t.Errorf("seen ids = %v, want only the new one", a.state.seen)
	}
}

// TestConfirmedConcurrent checks that one header, sent many times at
// once, is reported as a confirmation exactly once.
func TestConfirmedConcurrent(t *testing.T) {
	a := newApp(t)
	h := signed(challenge.ConfirmKey([]byte(testSecret)), "race", "alice", challenge.MethodEnum, testNow)
	const n = 32
	var wg sync.WaitGroup
	results := make(chan string, n)
	for range n {
		wg.Go(func() {
			r := req("POST", "/transfer", `{"to":"Z1","amount":"1"}`, "Content-Type", "application/json", UserHeader, "alice")
			r.Header.Set(challenge.ConfirmedHeader, h)
			w := httptest.NewRecorder()
			if err := a.ServeHTTP(w, r, failNext(t)); err != nil {
				t.Error(err)
			}
			var body created
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Error(err)
			}
			results <- body.ConfirmedBy
		})
	}
	wg.Wait()
	close(results)
	confirmed := 0
	for r := range results {
		if r == "enum" {
			confirmed++
		}
	}
	if confirmed != 1 {
		t.Errorf("%d of %d concurrent uses reported as confirmed, want 1", confirmed, n)
	}
	if len(a.state.list("alice")) != n {
		t.Errorf("not every operation was recorded")
	}
}

// post makes an operation as user and returns its id.
func post(t *testing.T, a *App, user, path, body, confirmed string) string {
	t.Helper()
	r := req("POST", path, body, "Content-Type", "application/json", UserHeader, user)
	if confirmed != "" {
		r.Header.Set(challenge.ConfirmedHeader, confirmed)
	}
	w := serve(t, a, r)
	if w.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var c created
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestOperationsList(t *testing.T) {
	var clock time.Time
	a := newApp(t, func(a *App) { a.now = func() time.Time { return clock } })
	key := challenge.ConfirmKey([]byte(testSecret))
	clock = testNow
	first := post(t, a, "alice", "/transfer", `{"to":"Z111","amount":"1"}`, signed(key, "l1", "alice", challenge.MethodSMS, clock))
	clock = testNow.Add(time.Minute)
	post(t, a, "bob", "/transfer", `{"to":"Zbob","amount":"2"}`, "")
	clock = testNow.Add(2 * time.Minute)
	second := post(t, a, "alice", "/correspondents", `{"wallet":"Z222","name":"<b>Mallory</b>"}`, "")

	t.Run("JSON", func(t *testing.T) {
		w := serve(t, a, req("GET", "/operations", "", "Accept", "application/json", UserHeader, "alice"))
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		var list []map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("%d operations, want 2 (alice's only): %s", len(list), w.Body)
		}
		for _, m := range list {
			checkKeys(t, m, "id", "operation", "to", "amount", "status", "confirmed_by", "at")
		}
		if list[0]["id"] != second || list[1]["id"] != first {
			t.Errorf("order = %v, %v; want newest first", list[0]["id"], list[1]["id"])
		}
		want := map[string]any{"id": first, "operation": "transfer", "to": "Z111", "amount": "1.00",
			"status": "completed", "confirmed_by": "sms", "at": "2026-11-27T12:00:00Z"}
		for k, v := range want {
			if list[1][k] != v {
				t.Errorf("%s = %#v, want %#v", k, list[1][k], v)
			}
		}
	})
	t.Run("JSON empty", func(t *testing.T) {
		w := serve(t, a, req("GET", "/operations", "", "Accept", "application/json", UserHeader, "carol"))
		if got := strings.TrimSpace(w.Body.String()); got != "[]" {
			t.Errorf("body = %s, want []", got)
		}
	})
	t.Run("HTML", func(t *testing.T) {
		w := serve(t, a, req("GET", "/operations", "", "Accept", "text/html", UserHeader, "alice"))
		body := w.Body.String()
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
		}
		i1, i2 := strings.Index(body, "/receipt/"+second), strings.Index(body, "/receipt/"+first)
		if i1 < 0 || i2 < 0 || i1 > i2 {
			t.Errorf("receipt links missing or not newest first")
		}
		for _, s := range []string{"Confirmed by SMS", "Not confirmed by enumgate", "&lt;b&gt;Mallory&lt;/b&gt;"} {
			if !strings.Contains(body, s) {
				t.Errorf("page lacks %q", s)
			}
		}
		if strings.Contains(body, "Zbob") || strings.Contains(body, "<b>Mallory") {
			t.Error("page shows another user's operation or unescaped input")
		}
	})
}

func TestReceipt(t *testing.T) {
	a := newApp(t)
	key := challenge.ConfirmKey([]byte(testSecret))
	confirmed := post(t, a, "alice", "/transfer", `{"to":"Z123456789012","amount":"10"}`, signed(key, "r1", "alice", challenge.MethodEnum, testNow))
	plain := post(t, a, "alice", "/withdraw", `{"card":"4111 1111","amount":"3.5"}`, "")
	tests := []struct {
		name, id, user string
		accept         string
		status         int
		want           []string
	}{
		{"confirmed", confirmed, "alice", "", 200, []string{"Transfer", "Z123456789012", "10.00", "2026-11-27 12:00:00 UTC", "Confirmed by E-num"}},
		{"not confirmed", plain, "alice", "text/html", 200, []string{"Withdrawal to card", "4111 1111", "3.50", "Not confirmed by enumgate"}},
		{"JSON", confirmed, "alice", "application/json", 200, []string{`"confirmed_by":"enum"`, `"at":"2026-11-27T12:00:00Z"`}},
		{"another user's", confirmed, "bob", "", 404, nil},
		{"another user's JSON", confirmed, "bob", "application/json", 404, []string{`"error":"not_found"`}},
		{"unknown", "ffffffffffff", "alice", "", 404, nil},
		{"nested", confirmed + "/x", "alice", "", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, a, req("GET", "/receipt/"+url.PathEscape(tt.id), "", "Accept", tt.accept, UserHeader, tt.user))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d", w.Code, tt.status)
			}
			for _, s := range tt.want {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("body lacks %q:\n%s", s, w.Body)
				}
			}
		})
	}
}

func TestHome(t *testing.T) {
	a := newApp(t)
	w := serve(t, a, req("GET", "/", "", UserHeader, `al"ice<x>`))
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, s := range []string{
		`action="/transfer"`, `action="/withdraw"`, `action="/correspondents"`,
		`name="to" value="Z123456789012"`, `name="amount" value="10.00"`, `name="card"`, `name="wallet"`, `name="name"`,
		`href="/operations"`, `href="` + PhoneURL + `"`, `/static/demo.css`, "al&#34;ice&lt;x&gt;",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("home page lacks %q", s)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "<x>") {
		t.Error("home page has script or unescaped user input")
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func TestFormPostThroughGatewayShape(t *testing.T) {
	// A browser form post, as the gateway replays it, ends on the receipt.
	a := newApp(t)
	key := challenge.ConfirmKey([]byte(testSecret))
	form := url.Values{"to": {"Z123456789012"}, "amount": {"10.00"}}.Encode()
	r := req("POST", "/transfer", form, "Content-Type", formType, "Accept", "text/html", UserHeader, "bob")
	r.Header.Set(challenge.ConfirmedHeader, signed(key, "g1", "bob", challenge.MethodEmail, testNow))
	w := serve(t, a, r)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("status %d", w.Code)
	}
	w = serve(t, a, req("GET", w.Header().Get("Location"), "", UserHeader, "bob"))
	if !strings.Contains(w.Body.String(), "Confirmed by e-mail") {
		t.Errorf("receipt: %s", w.Body)
	}
}
