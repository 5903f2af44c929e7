package caddymodule_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
	"github.com/enumgate/enumgate/internal/redistest"
)

var aliceKey, _ = hex.DecodeString("3132333435363738393031323334353637383930313233343536373839303132")

// shownURIs maps each question the gateway drew to the enum: URI it gave
// with it (API "uri", the page's data-uri), as the app would scan it.
var shownURIs sync.Map

// enumApp answers a question as alice's E-num app does: in payment mode
// (the URI shown with the question says so) from the question, the payee
// and the amount; else from the question alone.
func enumApp(t *testing.T, question string) string {
	t.Helper()
	return appWithKey(t, aliceKey, question)
}

// bobApp is bob's E-num app.
func bobApp(t *testing.T, question string) string {
	t.Helper()
	return appWithKey(t, []byte("12345678901234567890"), question)
}

// appWithKey is an E-num app holding key.
func appWithKey(t *testing.T, key []byte, question string) string {
	t.Helper()
	s, err := ocra.ParseSuite("OCRA-1:HOTP-SHA256-8:QN08")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := shownURIs.Load(question); ok {
		u, err := payment.ParseURI(v.(string))
		if err != nil {
			t.Fatalf("the gateway's URI %q: %v", v, err)
		}
		if u.Mode == payment.ModePayment {
			a, err := payment.Answer(s, key, ocra.Input{Question: question}, u.Purse, u.Amount)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
	}
	a, err := s.Compute(key, ocra.Input{Question: question})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var transferBody = []byte(`{"to":"Z123456789012","amount":"10.00"}`)

// hold sends a protected transfer and returns the challenge id.
func (c *client) hold() string {
	c.t.Helper()
	r := c.do("POST", "/transfer", "application/json", transferBody)
	if r.Status != http.StatusUnauthorized {
		c.t.Fatalf("protected POST /transfer = %d %s, want 401", r.Status, r.Body)
	}
	return r.json(c.t)["challenge_id"].(string)
}

func (c *client) beginEnum(id string) string {
	c.t.Helper()
	r := c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "enum"})
	if r.Status != http.StatusOK {
		c.t.Fatalf("method enum = %d %s", r.Status, r.Body)
	}
	m := r.json(c.t)
	q := m["question"].(string)
	if u, _ := m["uri"].(string); u != "" {
		shownURIs.Store(q, u)
	}
	return q
}

func TestAPIFlowWithEnum(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")

	r := c.do("POST", "/transfer", "application/json", transferBody)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("protected request = %d %s", r.Status, r.Body)
	}
	body := r.json(t)
	id, _ := body["challenge_id"].(string)
	if got := r.Header.Get("WWW-Authenticate"); got != `Enumgate challenge="`+id+`"` {
		t.Fatalf("WWW-Authenticate = %q", got)
	}
	if body["operation"] != "transfer" || fmt.Sprint(body["methods"]) != "[enum sms email]" ||
		body["expires_in"].(float64) < 295 || body["href"] != "/.enumgate/api/challenges/"+id || body["amount"] != "10.00" || body["payee"] != "Z123456789012" {
		t.Fatalf("challenge body = %v", body)
	}
	if n := len(g.upstream.requests()); n != 0 {
		t.Fatalf("upstream saw %d requests before confirmation", n)
	}

	r = c.do("GET", "/.enumgate/api/challenges/"+id, "", nil)
	view := r.json(t)
	if r.Status != 200 || view["state"] != "choose_method" || view["attempts_left"].(float64) != 3 || view["challenge_id"] != id || view["operation"] != "transfer" {
		t.Fatalf("GET challenge = %d %v", r.Status, view)
	}

	q := c.beginEnum(id)
	if !regexp.MustCompile(`^[0-9]{8}$`).MatchString(q) {
		t.Fatalf("question %q", q)
	}
	r = c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)})
	if r.Status != http.StatusCreated || r.Header.Get("Enumgate-Result") != "confirmed" || r.json(t)["status"] != "completed" {
		t.Fatalf("answer = %d %v %s", r.Status, r.Header, r.Body)
	}
	reqs := g.upstream.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if got.Method != "POST" || got.URI != "/transfer" || !bytes.Equal(got.Body, transferBody) || got.Header.Get("X-User") != "alice" {
		t.Fatalf("replayed request = %+v", got)
	}
	h, err := challenge.VerifyConfirmed(challenge.ConfirmKey([]byte(testSecret)), got.Header.Get("Enumgate-Confirmed"), time.Now(), time.Minute)
	if err != nil || h.Method != "enum" || h.ChallengeID != id || h.Operation != "transfer" || h.User != "alice" {
		t.Fatalf("Enumgate-Confirmed = %+v, %v", h, err)
	}
	// Confirmed once: the same answer again says so and forwards nothing;
	// another answer finds no challenge to answer.
	r = c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)})
	if r.Status != http.StatusConflict || r.json(t)["error"] != "already_confirmed" || len(g.upstream.requests()) != 1 {
		t.Fatalf("second answer = %d %s", r.Status, r.Body)
	}
	r = c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": "00000000"})
	if r.Status != http.StatusNotFound || r.json(t)["error"] != "unknown_challenge" {
		t.Fatalf("another answer after confirmation = %d %s", r.Status, r.Body)
	}
}

func TestAPIFlowWithSMSAndEmail(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	tests := []struct {
		method, to, sentTo string
	}{
		{"sms", "+79000000001", "+7•••••01"},
		{"email", "alice@example.test", "a•••@example.test"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			c.t = t
			id := c.hold()
			r := c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": tt.method})
			m := r.json(t)
			if r.Status != 200 || m["method"] != tt.method || m["sent_to"] != tt.sentTo || m["resend_in"].(float64) < 55 {
				t.Fatalf("method %s = %d %v", tt.method, r.Status, m)
			}
			code := g.phone.last(t, tt.to)["code"]
			r = c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": code})
			if r.Status != http.StatusCreated {
				t.Fatalf("answer = %d %s", r.Status, r.Body)
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	alice, bob := g.client(t, "alice"), g.client(t, "bob")
	id := alice.hold()
	path := "/.enumgate/api/challenges/" + id

	tests := []struct {
		name   string
		c      *client
		method string
		path   string
		body   string
		status int
		code   string
	}{
		{"answer before method", alice, "POST", path + "/answer", `{"answer":"12345678"}`, 409, "method_required"},
		{"unknown id", alice, "GET", "/.enumgate/api/challenges/AAAAAAAAAAAAAAAAAAAAAA", "", 404, "unknown_challenge"},
		{"malformed id", alice, "GET", "/.enumgate/api/challenges/x'y", "", 404, "unknown_challenge"},
		{"another user's challenge", bob, "GET", path, "", 404, "unknown_challenge"},
		{"another user's answer", bob, "POST", path + "/answer", `{"answer":"12345678"}`, 404, "unknown_challenge"},
		{"malformed JSON", alice, "POST", path + "/method", `{"method":`, 400, "bad_request"},
		{"unknown field", alice, "POST", path + "/method", `{"method":"enum","x":1}`, 400, "bad_request"},
		{"unknown method", alice, "POST", path + "/method", `{"method":"pigeon"}`, 400, "bad_request"},
		{"trailing JSON", alice, "POST", path + "/method", `{"method":"enum"} {}`, 400, "bad_request"},
		{"wrong HTTP method", alice, "GET", path + "/answer", "", 405, "method_not_allowed"},
		{"unknown API path", alice, "GET", "/.enumgate/nothing", "", 404, "not_found"},
		{"no user", &client{t: t, g: g}, "GET", path, "", 401, "unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.t = t
			r := tt.c.do(tt.method, tt.path, "application/json", []byte(tt.body))
			if r.Status != tt.status || r.json(t)["error"] != tt.code {
				t.Fatalf("= %d %s, want %d %s", r.Status, r.Body, tt.status, tt.code)
			}
		})
	}

	alice.t = t
	q := alice.beginEnum(id)
	for _, tc := range []struct {
		answer string
		status int
		code   string
		left   float64
	}{
		{"12.34", 400, "bad_request", -1},
		{"00000000", 422, "wrong_answer", 2},
		{"0000 0001", 422, "wrong_answer", 1},
		{"00000002", 403, "too_many_attempts", -1},
		{enumApp(t, q), 403, "too_many_attempts", -1},
	} {
		r := alice.postJSON(path+"/answer", map[string]string{"answer": tc.answer})
		m := r.json(t)
		if r.Status != tc.status || m["error"] != tc.code {
			t.Fatalf("answer %q = %d %s, want %d %s", tc.answer, r.Status, r.Body, tc.status, tc.code)
		}
		if tc.left >= 0 && m["attempts_left"] != tc.left {
			t.Fatalf("answer %q attempts_left = %v, want %v", tc.answer, m["attempts_left"], tc.left)
		}
	}
	if n := len(g.upstream.requests()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}

func TestResendWaitsForCooldown(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	id := c.hold()
	path := "/.enumgate/api/challenges/" + id + "/method"
	if r := c.postJSON(path, map[string]string{"method": "sms"}); r.Status != 200 {
		t.Fatalf("first sms = %d %s", r.Status, r.Body)
	}
	r := c.postJSON(path, map[string]string{"method": "sms"})
	if r.Status != http.StatusTooManyRequests || r.json(t)["error"] != "resend_too_soon" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("early resend = %d %v %s", r.Status, r.Header, r.Body)
	}
	if n := len(g.phone.msgs); n != 1 {
		t.Fatalf("%d SMS sent, want 1", n)
	}
}

func TestCancelViaAPI(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	id := c.hold()
	if r := c.do("DELETE", "/.enumgate/api/challenges/"+id, "", nil); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", r.Status, r.Body)
	}
	if r := c.do("GET", "/.enumgate/api/challenges/"+id, "", nil); r.Status != http.StatusNotFound {
		t.Fatalf("GET after cancel = %d", r.Status)
	}
}

func TestConcurrentCorrectAnswersReplayOnce(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	id := c.hold()
	answer := enumApp(t, c.beginEnum(id))
	var created, already atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": answer})
			switch r.Status {
			case http.StatusCreated:
				created.Add(1)
			case http.StatusConflict: // already_confirmed or delivery_in_progress
				already.Add(1)
			}
		})
	}
	wg.Wait()
	if created.Load() != 1 || already.Load() != 19 || len(g.upstream.requests()) != 1 {
		t.Fatalf("created %d, already confirmed %d, upstream %d; want 1, 19, 1", created.Load(), already.Load(), len(g.upstream.requests()))
	}
}

func TestUnprotectedTrafficPassesUnchanged(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	tests := []struct {
		method, path string
		body         []byte
	}{
		{"GET", "/operations?page=2", nil},
		{"POST", "/search", []byte(`{"q":"x"}`)},
		{"PUT", "/transfer", []byte("not protected: PUT")},
		{"POST", "/transfers-archive", []byte("a")},
		{"POST", "/big", bytes.Repeat([]byte("x"), 100<<10)}, // larger than max_body: only protected requests are bounded
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			c.t = t
			before := len(g.upstream.requests())
			r := c.do(tt.method, tt.path, "application/octet-stream", tt.body, "X-Custom", "kept", "Enumgate-Confirmed", "v=1; forged")
			if r.Status != http.StatusCreated {
				t.Fatalf("= %d %s", r.Status, r.Body)
			}
			reqs := g.upstream.requests()
			got := reqs[len(reqs)-1]
			if len(reqs) != before+1 || got.Method != tt.method || got.URI != tt.path || !bytes.Equal(got.Body, tt.body) || got.Header.Get("X-Custom") != "kept" {
				t.Fatalf("upstream got %s %s (%d bytes), headers %v", got.Method, got.URI, len(got.Body), got.Header)
			}
			if _, forged := got.Header["Enumgate-Confirmed"]; forged {
				t.Fatal("a client's Enumgate-Confirmed header reached the upstream")
			}
		})
	}
}

func TestForgedConfirmationHeaderNeverReachesUpstream(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	forged := challenge.Confirmed{ChallengeID: "x", Operation: "transfer", Method: "enum", User: "alice", Time: time.Now()}.Sign([]byte("guessed"))
	r := c.do("POST", "/transfer", "application/json", transferBody, "Enumgate-Confirmed", forged)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("protected request with a forged header = %d, want a challenge", r.Status)
	}
	id := r.json(t)["challenge_id"].(string)
	q := c.beginEnum(id)
	c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)})
	got := g.upstream.requests()[0].Header.Values("Enumgate-Confirmed")
	if len(got) != 1 || got[0] == forged {
		t.Fatalf("upstream got Enumgate-Confirmed %q", got)
	}
}

func TestStreamingAndUpgradesPassThrough(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	t.Run("streamed response arrives chunk by chunk", func(t *testing.T) {
		start := time.Now()
		resp, err := http.Get(g.base + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		first := time.Since(start)
		if err != nil || line != "chunk 0\n" {
			t.Fatalf("first chunk %q, %v", line, err)
		}
		rest, _ := io.ReadAll(br)
		total := time.Since(start)
		// The upstream takes >= 100ms to finish; the first chunk must not
		// wait for the end.
		if string(rest) != "chunk 1\nchunk 2\n" || total < 100*time.Millisecond || first > total-50*time.Millisecond {
			t.Fatalf("first chunk after %v, all after %v (%q): the response was buffered", first, total, rest)
		}
	})
	t.Run("websocket upgrade echoes", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(g.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade = %v, %v", resp, err)
		}
		fmt.Fprint(conn, "ping\n")
		if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
			t.Fatalf("echo %q, %v", line, err)
		}
	})
}

func TestBodyLimitUserAndConditions(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	tests := []struct {
		name   string
		c      *client
		path   string
		body   string
		status int
		code   string
	}{
		{"body over max_body", c, "/transfer", `{"to":"` + strings.Repeat("x", 2000) + `"}`, 413, "body_too_large"},
		{"no user", &client{t: t, g: g}, "/transfer", string(transferBody), 401, "unauthenticated"},
		{"withdrawal below the threshold passes", c, "/withdraw", `{"card":"4111","amount":"999.99"}`, 201, ""},
		{"withdrawal at the threshold passes", c, "/withdraw", `{"card":"4111","amount":1000}`, 201, ""},
		{"withdrawal above the threshold is held", c, "/withdraw", `{"card":"4111","amount":"1000.01"}`, 401, ""},
		// Held (fail closed), but the amount it would show is missing: refused.
		{"withdrawal without an amount is refused, not forwarded", c, "/withdraw", `{"card":"4111"}`, 422, "ambiguous_operation"},
		{"form-encoded withdrawal above is held", c, "/withdraw", "", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.t = t
			before := len(g.upstream.requests())
			var r response
			if tt.body == "" {
				r = tt.c.do("POST", tt.path, "application/x-www-form-urlencoded", []byte(url.Values{"card": {"4111"}, "amount": {"5000"}}.Encode()))
			} else {
				r = tt.c.do("POST", tt.path, "application/json", []byte(tt.body))
			}
			if r.Status != tt.status {
				t.Fatalf("= %d %s, want %d", r.Status, r.Body, tt.status)
			}
			if tt.code != "" && r.json(t)["error"] != tt.code {
				t.Fatalf("error = %s, want %s", r.Body, tt.code)
			}
			forwarded := len(g.upstream.requests()) - before
			if (tt.status == 201) != (forwarded == 1) {
				t.Fatalf("forwarded %d requests", forwarded)
			}
		})
	}
}

func TestFailClosed(t *testing.T) {
	t.Run("store down", func(t *testing.T) {
		g := startGateway(t, gatewayOptions{store: "failing"})
		c := g.client(t, "alice")
		r := c.do("POST", "/transfer", "application/json", transferBody)
		if r.Status != http.StatusServiceUnavailable || r.json(t)["error"] != "unavailable" {
			t.Fatalf("protected request = %d %s", r.Status, r.Body)
		}
		c.html = true
		r = c.do("POST", "/transfer", "application/x-www-form-urlencoded", []byte("to=Z1&amount=1"))
		if r.Status != http.StatusServiceUnavailable || !bytes.Contains(r.Body, []byte("unavailable")) || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("browser protected request = %d %s", r.Status, r.Body)
		}
		c.html = false
		if r := c.do("GET", "/operations", "", nil); r.Status != http.StatusCreated {
			t.Fatalf("unprotected request = %d", r.Status)
		}
		if n := len(g.upstream.requests()); n != 1 {
			t.Fatalf("upstream saw %d requests, want only the unprotected one", n)
		}
	})
	t.Run("sms provider down", func(t *testing.T) {
		g := startGateway(t, gatewayOptions{})
		g.phone.fail = true
		c := g.client(t, "alice")
		id := c.hold()
		r := c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "sms"})
		if r.Status != http.StatusServiceUnavailable || r.json(t)["error"] != "not_sent" {
			t.Fatalf("sms = %d %s", r.Status, r.Body)
		}
		if n := len(g.upstream.requests()); n != 0 {
			t.Fatalf("upstream saw %d requests", n)
		}
	})
}

// pageForm extracts the token and the question from a challenge page.
func pageForm(t *testing.T, page []byte) (token, question string) {
	t.Helper()
	m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no token in page:\n%s", page)
	}
	q := regexp.MustCompile(`data-question="([0-9]+)"`).FindSubmatch(page)
	if q != nil {
		question = string(q[1])
		if u := regexp.MustCompile(`data-uri="([^"]+)"`).FindSubmatch(page); u != nil {
			shownURIs.Store(question, html.UnescapeString(string(u[1])))
		}
	}
	return string(m[1]), question
}

func TestBrowserFlow(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	c.html = true
	form := func(path string, v url.Values, extra ...string) response {
		return c.do("POST", path, "application/x-www-form-urlencoded", []byte(v.Encode()), extra...)
	}
	r := form("/transfer", url.Values{"to": {"Z123"}, "amount": {"10.00"}})
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/.enumgate/challenge/") {
		t.Fatalf("browser protected request = %d %q", r.Status, loc)
	}
	r = c.do("GET", loc, "", nil)
	if r.Status != 200 || !bytes.Contains(r.Body, []byte("Transfer")) || !bytes.Contains(r.Body, []byte("Z123")) ||
		r.Header.Get("Cache-Control") != "no-store" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("challenge page = %d %v\n%s", r.Status, r.Header, r.Body)
	}
	token, _ := pageForm(t, r.Body)
	for _, masked := range []string{"7•••••01", "a•••@example.test"} { // html/template writes + as &#43;
		if !bytes.Contains(r.Body, []byte(masked)) {
			t.Errorf("the method choice does not show %s", masked)
		}
	}
	if bytes.Contains(r.Body, []byte("79000000001")) || bytes.Contains(r.Body, []byte("alice@example.test")) {
		t.Error("the page shows the phone or e-mail address unmasked")
	}

	// Forms without the token or from another site are refused.
	if r := form(loc, url.Values{"action": {"method"}, "method": {"enum"}}); r.Status != http.StatusForbidden {
		t.Fatalf("form without token = %d", r.Status)
	}
	if r := form(loc, url.Values{"action": {"method"}, "method": {"enum"}, "token": {token}}, "Sec-Fetch-Site", "cross-site"); r.Status != http.StatusForbidden {
		t.Fatalf("cross-site form = %d", r.Status)
	}

	r = form(loc, url.Values{"action": {"method"}, "method": {"enum"}, "token": {token}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != loc {
		t.Fatalf("choose enum = %d %v", r.Status, r.Header)
	}
	r = c.do("GET", loc, "", nil)
	_, q := pageForm(t, r.Body)
	if q == "" || !bytes.Contains(r.Body, []byte(q[:4]+" "+q[4:])) {
		t.Fatalf("page shows no grouped question:\n%s", r.Body)
	}
	// A wrong answer: POST/redirect/GET, so a reload sends nothing again.
	r = form(loc, url.Values{"action": {"answer"}, "answer": {"00000000"}, "token": {token}})
	next := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(next, loc+"?n=wrong_answer.") {
		t.Fatalf("wrong answer = %d %q\n%s", r.Status, next, r.Body)
	}
	r = c.do("GET", next, "", nil)
	if r.Status != http.StatusUnprocessableEntity || !bytes.Contains(r.Body, []byte(`data-error="wrong_answer"`)) || !bytes.Contains(r.Body, []byte("Attempts left: 2.")) {
		t.Fatalf("page after a wrong answer = %d\n%s", r.Status, r.Body)
	}
	// A notice made up by someone else shows nothing.
	if r := c.do("GET", loc+"?n=wrong_answer.0.forged", "", nil); r.Status != 200 || bytes.Contains(r.Body, []byte(`data-error=`)) {
		t.Fatalf("forged notice = %d\n%s", r.Status, r.Body)
	}
	a := enumApp(t, q)
	r = form(loc, url.Values{"action": {"answer"}, "answer": {a[:4] + "-" + a[4:]}, "token": {token}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/receipt/1" || r.Header.Get("Enumgate-Result") != "confirmed" {
		t.Fatalf("right answer = %d %v %s", r.Status, r.Header, r.Body)
	}
	got := g.upstream.requests()
	if len(got) != 1 || string(got[0].Body) != "amount=10.00&to=Z123" {
		t.Fatalf("upstream got %+v", got)
	}
}

func TestReloadKeepsPendingChallenges(t *testing.T) {
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			st := "memory"
			if backend == "redis" {
				st = "redis " + redistest.Start(t, redistest.Options{}).URL
			}
			g := startGateway(t, gatewayOptions{store: st})
			c := g.client(t, "alice")
			id := c.hold()
			q := c.beginEnum(id)
			// Reload with a different config on the same port.
			g.reload(t, gatewayOptions{store: st, handler: defaultRules + "\n\t\tttl 10m"})
			// The old server closed its connections; don't reuse them.
			http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)})
			if r.Status != http.StatusCreated {
				t.Fatalf("answer after reload = %d %s", r.Status, r.Body)
			}
		})
	}
}

func TestMethodOverrideHeadersCannotDodgeARule(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
		r := c.do("PUT", "/transfer", "application/json", transferBody, h, "POST")
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("PUT /transfer with %s: POST = %d, want a challenge", h, r.Status)
		}
	}
	if n := len(g.upstream.requests()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}

func TestLockedUserGetsLockedNotWhichFactor(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraGlobal: "lockout 2 10m"})
	c := g.client(t, "alice")
	id := c.hold()
	c.beginEnum(id)
	path := "/.enumgate/api/challenges/" + id + "/answer"
	if r := c.postJSON(path, map[string]string{"answer": "00000000"}); r.Status != 422 {
		t.Fatalf("first wrong answer = %d %s", r.Status, r.Body)
	}
	r := c.postJSON(path, map[string]string{"answer": "00000001"})
	m := r.json(t)
	if r.Status != http.StatusForbidden || m["error"] != "locked" || m["retry_in"].(float64) < 590 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("second wrong answer = %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "wrong") {
		t.Fatalf("the lock message says which factor failed: %s", r.Body)
	}
	r = c.do("POST", "/transfer", "application/json", transferBody)
	if r.Status != http.StatusForbidden || r.json(t)["error"] != "locked" {
		t.Fatalf("new transfer while locked = %d %s", r.Status, r.Body)
	}
	if n := len(g.upstream.requests()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}

func TestSMSLimitOffersOtherMethods(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraGlobal: "sms_limits {\n\t\t\tuser_hourly 1\n\t\t}"})
	c := g.client(t, "alice")
	id := c.hold()
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "sms"}); r.Status != 200 {
		t.Fatalf("first sms = %d %s", r.Status, r.Body)
	}
	id = c.hold()
	r := c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "sms"})
	if r.Status != http.StatusTooManyRequests || r.json(t)["error"] != "sms_limit" {
		t.Fatalf("second sms = %d %s", r.Status, r.Body)
	}
	if q := c.beginEnum(id); q == "" {
		t.Fatal("no E-num question after the SMS limit")
	}
}

func TestUsersWhoCannotConfirmAreTold(t *testing.T) {
	g := startGateway(t, gatewayOptions{handler: defaultRules + "\n\t\tprotect sms_only POST /sms-only {\n\t\t\tmethods sms\n\t\t}"})
	// mallory is authenticated but not in the users file.
	r := g.client(t, "mallory").do("POST", "/transfer", "application/json", transferBody)
	if r.Status != http.StatusForbidden || r.json(t)["error"] != "not_enrolled" {
		t.Fatalf("unknown user = %d %s", r.Status, r.Body)
	}
	// A method the challenge does not offer.
	c := g.client(t, "alice")
	r = c.do("POST", "/sms-only", "application/json", transferBody)
	id := r.json(t)["challenge_id"].(string)
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "enum"}); r.Status != http.StatusBadRequest || r.json(t)["error"] != "method_not_offered" {
		t.Fatalf("enum on an sms-only challenge = %d %s", r.Status, r.Body)
	}
	if n := len(g.upstream.requests()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}
