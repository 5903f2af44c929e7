package demo

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
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
			w := serve(t, a, confirmed(req("POST", tt.path, tt.body, "Content-Type", tt.ctype, "Accept", tt.accept, UserHeader, "alice"),
				"alice", challenge.MethodEnum, testNow))
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
					"status": "completed", "confirmed_by": "enum"}
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
				op.Status != "completed" || op.User != "alice" || !op.At.Equal(testNow) || op.ConfirmedBy != "enum" {
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
			w := serve(t, a, confirmed(req("POST", tt.path, tt.body, "Content-Type", tt.ctype, UserHeader, "alice"),
				"alice", challenge.MethodEnum, testNow))
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

var lastID atomic.Int64

// nextID returns a fresh challenge id.
func nextID() string { return fmt.Sprintf("c%d", lastID.Add(1)) }

// headerFor returns the Enumgate-Confirmed header the gateway signs with
// key when user confirmed r by m at at: bound to r's method, host, path,
// query and body (r.Body is put back).
func headerFor(key []byte, r *http.Request, id, user string, m challenge.Method, at time.Time) string {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return challenge.Confirmed{ChallengeID: id, Operation: "transfer", Method: m, User: user, Time: at,
		RequestMethod: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
		BodySHA256: sha256.Sum256(body)}.Sign(key)
}

// confirmed adds to r the header the gateway adds after user confirmed r
// by m at at, and returns r.
func confirmed(r *http.Request, user string, m challenge.Method, at time.Time) *http.Request {
	r.Header.Set(challenge.ConfirmedHeader, headerFor(testKey, r, nextID(), user, m, at))
	return r
}

var testKey = challenge.ConfirmKey([]byte(testSecret))

func TestUnconfirmedOperationsAreRefused(t *testing.T) {
	tests := []struct {
		name, path, ctype, body string
	}{
		{"transfer JSON", "/transfer", "application/json", `{"to":"Z1","amount":"1"}`},
		{"transfer form", "/transfer", formType, "to=Z1&amount=1"},
		{"withdrawal JSON", "/withdraw", "application/json", `{"card":"4111","amount":"1"}`},
		{"new correspondent form", "/correspondents", formType, "wallet=Z1&name=Carol"},
		{"bad input", "/transfer", "application/json", `{"to":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t)
			w := serve(t, a, req("POST", tt.path, tt.body, "Content-Type", tt.ctype, UserHeader, "alice"))
			if w.Code != http.StatusForbidden {
				t.Fatalf("status = %d, want 403; body %s", w.Code, w.Body)
			}
			if tt.ctype == formType {
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") ||
					!strings.Contains(w.Body.String(), "must be confirmed") || !strings.Contains(w.Body.String(), LoginURL) {
					t.Errorf("page (%s) does not say the operation must be confirmed at the gateway: %s", ct, w.Body)
				}
			} else {
				got := decodeObject(t, w.Body.Bytes(), "error", "message")
				if got["error"] != "confirmation_required" {
					t.Errorf("error = %v, want confirmation_required", got["error"])
				}
			}
			if n := len(a.state.list("alice")); n != 0 {
				t.Errorf("%d operations performed without confirmation", n)
			}
		})
	}
}

func TestConfirmation(t *testing.T) {
	otherKey := challenge.ConfirmKey([]byte("another gateway"))
	const body = `{"to":"Z1","amount":"1.00"}`
	sign := func(key []byte, user string, m challenge.Method, at time.Time) func(*http.Request) []string {
		return func(r *http.Request) []string { return []string{headerFor(key, r, nextID(), user, m, at)} }
	}
	valid := sign(testKey, "alice", challenge.MethodEnum, testNow)
	// signedFor signs the header for another request and returns it for r.
	signedFor := func(method, target, host, body string) func(*http.Request) []string {
		return func(*http.Request) []string {
			other := req(method, target, body)
			other.Host = host
			return valid(other)
		}
	}
	tests := []struct {
		name    string
		path    string
		body    string                       // "": body
		headers func(*http.Request) []string // Enumgate-Confirmed values
		user    string
		want    string // confirmed_by; "" for a 403
		msg     string // part of the refusal's message
	}{
		{"valid enum", "/transfer", "", valid, "alice", "enum", ""},
		{"valid sms, a minute old", "/transfer", "", sign(testKey, "alice", challenge.MethodSMS, testNow.Add(-time.Minute)), "alice", "sms", ""},
		{"valid email", "/transfer", "", sign(testKey, "alice", challenge.MethodEmail, testNow), "alice", "email", ""},
		{"forged", "/transfer", "", sign(otherKey, "alice", challenge.MethodEnum, testNow), "alice", "", "not a valid confirmation"},
		{"tampered user", "/transfer", "", func(r *http.Request) []string {
			return []string{strings.Replace(valid(r)[0], "u=alice", "u=bob", 1)}
		}, "bob", "", "not a valid confirmation"},
		{"stale", "/transfer", "", sign(testKey, "alice", challenge.MethodEnum, testNow.Add(-3*time.Minute)), "alice", "", "expired"},
		{"from the future", "/transfer", "", sign(testKey, "alice", challenge.MethodEnum, testNow.Add(3*time.Minute)), "alice", "", "expired"},
		{"other user's", "/transfer", "", sign(testKey, "bob", challenge.MethodEnum, testNow), "alice", "", "another user"},
		{"unknown method", "/transfer", "", sign(testKey, "alice", "carrier-pigeon", testNow), "alice", "", "unknown method"},
		{"garbage", "/transfer", "", func(*http.Request) []string { return []string{"v=2; nonsense"} }, "alice", "", "not a valid confirmation"},
		{"version 1, well signed", "/transfer", "", func(*http.Request) []string {
			v1 := fmt.Sprintf("v=1; id=c; op=transfer; m=enum; u=alice; t=%d; d=AAAA", testNow.Unix())
			m := hmac.New(sha256.New, testKey)
			m.Write([]byte(v1))
			return []string{v1 + "; sig=" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))}
		}, "alice", "", "not a valid confirmation"},
		{"two headers", "/transfer", "", func(r *http.Request) []string { return append(valid(r), valid(r)...) }, "alice", "", "not a valid confirmation"},
		// A header taken from a 1.00 transfer, on 9999.00 to another payee.
		{"for another amount and payee", "/transfer", `{"to":"Z666","amount":"9999.00"}`, signedFor("POST", "/transfer", "example.com", `{"to":"Z1","amount":"1.00"}`), "alice", "", "body differs"},
		{"for a transfer, on a withdrawal", "/withdraw", `{"card":"Z1","amount":"1.00"}`, signedFor("POST", "/transfer", "example.com", body), "alice", "", "path differs"},
		{"for another query", "/transfer", "", signedFor("POST", "/transfer?from=savings", "example.com", body), "alice", "", "query differs"},
		{"for another host", "/transfer", "", signedFor("POST", "/transfer", "other.example", body), "alice", "", "host differs"},
		{"for another method", "/transfer", "", signedFor("PUT", "/transfer", "example.com", body), "alice", "", "method differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t)
			r := req("POST", tt.path, cmp.Or(tt.body, body), "Content-Type", "application/json", UserHeader, tt.user)
			for _, h := range tt.headers(r) {
				r.Header.Add(challenge.ConfirmedHeader, h)
			}
			w := serve(t, a, r)
			if tt.want == "" {
				if w.Code != http.StatusForbidden {
					t.Fatalf("status = %d, want 403; body %s", w.Code, w.Body)
				}
				got := decodeObject(t, w.Body.Bytes(), "error", "message")
				if got["error"] != "not_confirmed" || !strings.Contains(got["message"].(string), tt.msg) {
					t.Errorf("refusal = %v, want not_confirmed saying %q", got, tt.msg)
				}
				if n := len(a.state.list(tt.user)); n != 0 {
					t.Errorf("%d operations performed on a refused confirmation", n)
				}
				return
			}
			if w.Code != http.StatusCreated {
				t.Fatalf("status = %d, want 201; body %s", w.Code, w.Body)
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
	const body = `{"card":"4111","amount":"5"}`
	newReq := func() *http.Request {
		return req("POST", "/withdraw", body, "Content-Type", "application/json", UserHeader, "alice")
	}
	h := headerFor(testKey, newReq(), "once", "alice", challenge.MethodEnum, testNow)
	post := func(h string) (int, string) {
		r := newReq()
		r.Header.Set(challenge.ConfirmedHeader, h)
		w := serve(t, a, r)
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if w.Code == http.StatusCreated {
			return w.Code, m["confirmed_by"].(string)
		}
		return w.Code, m["message"].(string)
	}
	if code, by := post(h); code != http.StatusCreated || by != "enum" {
		t.Fatalf("first use: %d %q, want 201 enum", code, by)
	}
	if code, msg := post(h); code != http.StatusForbidden || !strings.Contains(msg, "already been used") {
		t.Errorf("replay: %d %q, want 403 already used", code, msg)
	}
	// After max_age the header is stale, so forgetting the id is safe:
	// the next accepted header prunes it.
	later := testNow.Add(DefaultMaxAge + time.Second)
	a.now = func() time.Time { return later }
	if code, msg := post(h); code != http.StatusForbidden || !strings.Contains(msg, "expired") {
		t.Errorf("replay after max_age: %d %q, want 403 expired", code, msg)
	}
	if code, by := post(headerFor(testKey, newReq(), "next", "alice", challenge.MethodSMS, later)); code != http.StatusCreated || by != "sms" {
		t.Errorf("new header: %d %q, want 201 sms", code, by)
	}
	if n := a.state.seen.Len(); n != 1 {
		t.Errorf("%d challenge ids remembered, want only the new one", n)
	}
	if n := len(a.state.list("alice")); n != 2 {
		t.Errorf("%d operations performed, want 2", n)
	}
}

// TestConfirmedConcurrent checks that one header, sent many times at
// once, performs the operation exactly once.
func TestConfirmedConcurrent(t *testing.T) {
	a := newApp(t)
	const body = `{"to":"Z1","amount":"1"}`
	newReq := func() *http.Request {
		return req("POST", "/transfer", body, "Content-Type", "application/json", UserHeader, "alice")
	}
	h := headerFor(testKey, newReq(), "race", "alice", challenge.MethodEnum, testNow)
	const n = 32
	var wg sync.WaitGroup
	results := make(chan int, n)
	for range n {
		wg.Go(func() {
			r := newReq()
			r.Header.Set(challenge.ConfirmedHeader, h)
			w := httptest.NewRecorder()
			if err := a.ServeHTTP(w, r, failNext(t)); err != nil {
				t.Error(err)
			}
			results <- w.Code
		})
	}
	wg.Wait()
	close(results)
	done, refused := 0, 0
	for code := range results {
		switch code {
		case http.StatusCreated:
			done++
		case http.StatusForbidden:
			refused++
		}
	}
	if done != 1 || refused != n-1 {
		t.Errorf("%d performed, %d refused of %d concurrent uses; want 1 and %d", done, refused, n, n-1)
	}
	if got := len(a.state.list("alice")); got != 1 {
		t.Errorf("%d operations recorded, want 1", got)
	}
}

// post makes an operation as user, confirmed by m, and returns its id.
func post(t *testing.T, a *App, user, path, body string, m challenge.Method) string {
	t.Helper()
	r := confirmed(req("POST", path, body, "Content-Type", "application/json", UserHeader, user), user, m, a.now())
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
	clock = testNow
	first := post(t, a, "alice", "/transfer", `{"to":"Z111","amount":"1"}`, challenge.MethodSMS)
	clock = testNow.Add(time.Minute)
	post(t, a, "bob", "/transfer", `{"to":"Zbob","amount":"2"}`, challenge.MethodEnum)
	clock = testNow.Add(2 * time.Minute)
	second := post(t, a, "alice", "/correspondents", `{"wallet":"Z222","name":"<b>Mallory</b>"}`, challenge.MethodEmail)

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
		for _, s := range []string{"Confirmed by SMS", "Confirmed by e-mail", "&lt;b&gt;Mallory&lt;/b&gt;"} {
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
	byEnum := post(t, a, "alice", "/transfer", `{"to":"Z123456789012","amount":"10"}`, challenge.MethodEnum)
	bySMS := post(t, a, "alice", "/withdraw", `{"card":"4111 1111","amount":"3.5"}`, challenge.MethodSMS)
	tests := []struct {
		name, id, user string
		accept         string
		status         int
		want           []string
	}{
		{"by E-num", byEnum, "alice", "", 200, []string{"Transfer", "Z123456789012", "10.00", "2026-11-27 12:00:00 UTC", "Confirmed by E-num"}},
		{"by SMS", bySMS, "alice", "text/html", 200, []string{"Withdrawal to card", "4111 1111", "3.50", "Confirmed by SMS"}},
		{"JSON", byEnum, "alice", "application/json", 200, []string{`"confirmed_by":"enum"`, `"at":"2026-11-27T12:00:00Z"`}},
		{"another user's", byEnum, "bob", "", 404, nil},
		{"another user's JSON", byEnum, "bob", "application/json", 404, []string{`"error":"not_found"`}},
		{"unknown", "ffffffffffff", "alice", "", 404, nil},
		{"nested", byEnum + "/x", "alice", "", 404, nil},
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
	form := url.Values{"to": {"Z123456789012"}, "amount": {"10.00"}}.Encode()
	r := confirmed(req("POST", "/transfer", form, "Content-Type", formType, "Accept", "text/html", UserHeader, "bob"),
		"bob", challenge.MethodEmail, testNow)
	w := serve(t, a, r)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("status %d", w.Code)
	}
	w = serve(t, a, req("GET", w.Header().Get("Location"), "", UserHeader, "bob"))
	if !strings.Contains(w.Body.String(), "Confirmed by e-mail") {
		t.Errorf("receipt: %s", w.Body)
	}
}
