package caddymodule_test

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
	"github.com/enumgate/enumgate/confirm"
	"github.com/enumgate/enumgate/internal/redistest"
)

// daveUsers is the test users plus dave: a customer the bank knows (phone
// and e-mail on file) with no E-num device yet.
func daveUsers(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(usersFile(t))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(string(b), "]}")
	s := string(b)[:i] + `, {"id": "dave", "phone": "+79000000004", "emails": ["dave@example.test"]}` + string(b)[i:]
	p := t.TempDir() + "/users.json"
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// confirmWithSMS answers a held account change (the 401 r) by SMS and
// returns the answer's response: the change carried out.
func confirmWithSMS(t *testing.T, g *gateway, c *client, r response, phone string) response {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("account change = %d %s, want 401 (held for confirmation)", r.Status, r.Body)
	}
	id := r.json(t)["challenge_id"].(string)
	if m := c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "sms"}); m.Status != 200 {
		t.Fatalf("method sms = %d %s", m.Status, m.Body)
	}
	return c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": lastCode(t, g, phone)})
}

func TestDaveRegistersAndActivatesADeviceThroughTheAPI(t *testing.T) {
	t.Run("memory", func(t *testing.T) { daveRegisters(t, "") })
	t.Run("redis", func(t *testing.T) {
		rs := redistest.Start(t, redistest.Options{})
		daveRegisters(t, "redis "+rs.URL)
	})
}

func daveRegisters(t *testing.T, st string) {
	// Codes follow each other quickly here; TestAccountCodesCountAgainstTheSMSLimits
	// checks the cooldowns.
	g := startGateway(t, gatewayOptions{users: "file " + daveUsers(t), store: st,
		extraGlobal: "sms_limits {\n\t\t\tuser_cooldown off\n\t\t\tphone_cooldown off\n\t\t}"})
	dave := g.client(t, "dave")
	upstreamBefore := len(g.upstream.requests())

	r := dave.do("GET", "/.enumgate/api/account", "", nil)
	if r.Status != 200 || r.json(t)["needs_registration"] != true {
		t.Fatalf("account = %d %s", r.Status, r.Body)
	}
	// Phone and e-mail, each verified by a code; on file, so no challenge first.
	for _, c := range []struct{ kind, value, to string }{
		{"phone", "+79000000004", "+79000000004"},
		{"email", "dave@example.test", "dave@example.test"},
	} {
		r = dave.postJSON("/.enumgate/api/account/contacts", map[string]string{"kind": c.kind, "value": c.value})
		if r.Status != 200 {
			t.Fatalf("start %s verification = %d %s", c.kind, r.Status, r.Body)
		}
		vid := r.json(t)["verification_id"].(string)
		if w := dave.postJSON("/.enumgate/api/account/contacts/verify", map[string]string{"verification_id": vid, "code": "000000"}); w.Status != 422 || w.json(t)["error"] != "wrong_code" {
			t.Fatalf("wrong code = %d %s", w.Status, w.Body)
		}
		code := lastCode(t, g, c.to)
		if r = dave.postJSON("/.enumgate/api/account/contacts/verify", map[string]string{"verification_id": vid, "code": code}); r.Status != 200 {
			t.Fatalf("verify %s = %d %s", c.kind, r.Status, r.Body)
		}
	}
	// A device: the change is confirmed (SMS to the verified phone), and its
	// answer returns the enrolment.
	r = confirmWithSMS(t, g, dave, dave.postJSON("/.enumgate/api/account/device", map[string]string{}), "+79000000004")
	if r.Status != 200 {
		t.Fatalf("enrolment after confirmation = %d %s", r.Status, r.Body)
	}
	e := r.json(t)
	uri, _ := e["uri"].(string)
	if e["enrollment_id"] == "" || !strings.HasPrefix(e["qr_href"].(string), "data:image/svg+xml;base64,") || e["question"] == "" {
		t.Fatalf("enrolment = %s", r.Body)
	}
	if len(g.upstream.requests()) != upstreamBefore {
		t.Fatal("an account change reached the upstream")
	}
	en, err := enroll.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	suite, err := ocra.ParseSuite(en.Suite)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := suite.Compute(en.Key, ocra.Input{Question: e["question"].(string)})
	if err != nil {
		t.Fatal(err)
	}
	act := func(a string) response {
		return dave.postJSON("/.enumgate/api/account/device/activate", map[string]string{"enrollment_id": e["enrollment_id"].(string), "answer": a})
	}
	if w := act("00000000"); w.Status != 422 || w.json(t)["error"] != "wrong_code" || w.json(t)["attempts_left"] == nil {
		t.Fatalf("wrong activation answer = %d %s", w.Status, w.Body)
	}
	if r = act(answer); r.Status != 200 || r.json(t)["status"] != "active" {
		t.Fatalf("activate = %d %s", r.Status, r.Body)
	}
	// The new device confirms a transfer.
	id := dave.hold()
	q := dave.beginEnum(id)
	pay, err := payment.Prepare("Z123456789012", "10.00") // the transfer rule runs in payment mode
	if err != nil {
		t.Fatal(err)
	}
	a, err := pay.Answer(suite, en.Key, ocra.Input{Question: q})
	if err != nil {
		t.Fatal(err)
	}
	if r = dave.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": a}); r.Status != http.StatusCreated {
		t.Fatalf("transfer with the new device = %d %s", r.Status, r.Body)
	}
	// Notification switches are a change too, confirmed now with the new
	// device (authorization mode: an account change has no amount).
	r = dave.do("PUT", "/.enumgate/api/account/notifications", "application/json", []byte(`{"confirmed":true,"rejected":true,"additional_addresses":false}`))
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("notifications = %d %s, want 401", r.Status, r.Body)
	}
	id = r.json(t)["challenge_id"].(string)
	q = dave.beginEnum(id)
	if a, err = suite.Compute(en.Key, ocra.Input{Question: q}); err != nil {
		t.Fatal(err)
	}
	r = dave.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": a})
	if r.Status != 200 || r.json(t)["confirmed"] != true {
		t.Fatalf("notifications after confirmation = %d %s", r.Status, r.Body)
	}
	if r = dave.do("GET", "/.enumgate/api/account/notifications", "", nil); r.Status != 200 || r.json(t)["rejected"] != true {
		t.Fatalf("notifications = %d %s", r.Status, r.Body)
	}
}

func TestAccountChangesAreBoundedAndRefusedClearly(t *testing.T) {
	g := startGateway(t, gatewayOptions{users: "file " + daveUsers(t)})
	dave := g.client(t, "dave")
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown kind", "POST", "/.enumgate/api/account/contacts", `{"kind":"fax","value":"1"}`, 400, "bad_request"},
		{"unknown field", "POST", "/.enumgate/api/account/contacts", `{"kind":"phone","value":"+79000000004","x":1}`, 400, "bad_request"},
		{"a contact not on file is held for confirmation", "POST", "/.enumgate/api/account/contacts", `{"kind":"phone","value":"not a phone"}`, 401, ""},
		{"activation of nothing", "POST", "/.enumgate/api/account/device/activate", `{"enrollment_id":"AAAAAAAAAAAAAAAAAAAAAA","answer":"1"}`, 404, "unknown_enrollment"},
		{"a huge body", "POST", "/.enumgate/api/account/recovery", `{"reason":"` + strings.Repeat("x", 5000) + `"}`, 413, "body_too_large"},
		{"a wrong method", "PATCH", "/.enumgate/api/account/device", ``, 405, "method_not_allowed"},
		{"unknown route", "GET", "/.enumgate/api/account/nope", ``, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dave.do(tt.method, tt.path, "application/json", []byte(tt.body))
			if r.Status != tt.status || (tt.code != "" && r.json(t)["error"] != tt.code) {
				t.Fatalf("= %d %s, want %d %s", r.Status, r.Body, tt.status, tt.code)
			}
		})
	}
	if r := g.client(t, "").do("GET", "/.enumgate/api/account", "", nil); r.Status != 401 {
		t.Fatalf("account without a user = %d", r.Status)
	}
}

// TestAccountCodesCountAgainstTheSMSLimits: verification codes are SMS like
// any other: they count against the user's limits, so the account cannot
// be used to bomb a phone.
func TestAccountCodesCountAgainstTheSMSLimits(t *testing.T) {
	g := startGateway(t, gatewayOptions{users: "file " + daveUsers(t), extraGlobal: "sms_limits {\n\t\t\tuser_hourly 1\n\t\t}"})
	dave := g.client(t, "dave")
	if r := dave.postJSON("/.enumgate/api/account/contacts", map[string]string{"kind": "phone", "value": "+79000000004"}); r.Status != 200 {
		t.Fatalf("first code = %d %s", r.Status, r.Body)
	}
	id := dave.hold()
	r := dave.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "sms"})
	if r.Status != http.StatusTooManyRequests || r.json(t)["error"] != "sms_limit" {
		t.Fatalf("an SMS after the hour's one = %d %s, want 429 sms_limit", r.Status, r.Body)
	}
}

// lastCode is the code of the last message to to that carries one (the
// account's security notices go to the same address and carry none).
func lastCode(t *testing.T, g *gateway, to string) string {
	t.Helper()
	g.phone.mu.Lock()
	defer g.phone.mu.Unlock()
	for i := len(g.phone.msgs) - 1; i >= 0; i-- {
		if m := g.phone.msgs[i]; m["to"] == to && m["code"] != "" {
			return m["code"]
		}
	}
	t.Fatalf("no code sent to %s", to)
	return ""
}

// TestWhatARiskRuleLetsThroughIsSignedAndBound: a rule with risk rules
// that lets an operation through unasked forwards it with an
// Enumgate-Confirmed header saying m=policy, bound to that very request,
// so the upstream can check what the gateway let through.
func TestWhatARiskRuleLetsThroughIsSignedAndBound(t *testing.T) {
	g := startGateway(t, gatewayOptions{handler: `
		user {http.request.header.X-User}
		session {http.request.header.X-Session}
		methods enum
		protect withdrawal POST /withdraw {
			when amount > 1000
			force_when new_payee
			amount amount
			payee card
			enum_mode authorization
		}
`})
	c := g.client(t, "alice")
	body := []byte(`{"card":"4111","amount":"10.00"}`)
	if r := c.do("POST", "/withdraw", "application/json", body); r.Status != http.StatusUnauthorized {
		t.Fatalf("first withdrawal to a new card = %d %s, want a challenge", r.Status, r.Body)
	} else if a := c.postJSON("/.enumgate/api/challenges/"+r.json(t)["challenge_id"].(string)+"/answer",
		map[string]string{"answer": enumApp(t, c.beginEnum(r.json(t)["challenge_id"].(string)))}); a.Status != http.StatusCreated {
		t.Fatalf("confirmation = %d %s", a.Status, a.Body)
	}
	var r response
	deadline := time.Now().Add(5 * time.Second)
	for r = c.do("POST", "/withdraw", "application/json", body); r.Header.Get("Enumgate-Result") != "policy"; r = c.do("POST", "/withdraw", "application/json", body) {
		if time.Now().After(deadline) {
			t.Fatalf("the second withdrawal = %d %v, want it let through (m=policy)", r.Status, r.Header)
		}
		if r.Status == http.StatusUnauthorized {
			time.Sleep(50 * time.Millisecond) // the card is remembered just after the response
		}
	}
	reqs := g.upstream.requests()
	got := reqs[len(reqs)-1]
	v := confirm.Verifier{Key: challenge.ConfirmKey([]byte(testSecret))}
	req, _ := http.NewRequest(got.Method, "http://"+got.Host+got.URI, bytes.NewReader(got.Body))
	req.Host, req.Header = got.Host, got.Header
	claims, err := v.Verify(req)
	if err != nil || claims.Method != "policy" || claims.User != "alice" || claims.Operation != "withdrawal" ||
		got.Header.Get("Idempotency-Key") != claims.ChallengeID {
		t.Fatalf("the let-through header: %+v, %v (Idempotency-Key %q)", claims, err, got.Header.Get("Idempotency-Key"))
	}
}
