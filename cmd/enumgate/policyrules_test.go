package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/confirm"
	"github.com/enumgate/enumgate/internal/redistest"
)

// policyClient is a customer of two gateway processes on one Redis.
type policyClient struct {
	t       *testing.T
	user    string
	bases   []string
	session string
	ua      string
}

func (c policyClient) do(gw int, method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.bases[gw]+path, rd)
	user := c.user
	if user == "" {
		user = "alice"
	}
	req.Header.Set("X-User", user)
	req.Header.Set("X-Session", c.session)
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{"body": string(raw)}
	}
	return resp.StatusCode, m
}

// confirm answers the held request's challenge (the 401 m) with alice's
// E-num key at gateway gw and returns the answer's status.
func (c policyClient) confirm(gw int, m map[string]any) int {
	c.t.Helper()
	id, _ := m["challenge_id"].(string)
	status, begun := c.do(gw, "POST", "/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "enum"})
	if status != 200 {
		c.t.Fatalf("method enum = %d %v", status, begun)
	}
	suite, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA256-8:QN08")
	key, _ := hex.DecodeString("3132333435363738393031323334353637383930313233343536373839303132")
	if c.user == "bob" {
		key, _ = hex.DecodeString("3132333435363738393031323334353637383930")
	}
	a, err := suite.Compute(key, ocra.Input{Question: begun["question"].(string)})
	if err != nil {
		c.t.Fatal(err)
	}
	status, _ = c.do(gw, "POST", "/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": a})
	return status
}

// eventually retries fn (the risk memory is written just after the
// response) until it holds.
func eventually(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSectionsTrustedPayeesAndRiskRulesAcrossTwoGateways runs two enumgate
// processes on one Redis: every decision of protect_section,
// trusted_payees and force_when made through one is seen by the other.
func TestSectionsTrustedPayeesAndRiskRulesAcrossTwoGateways(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{TCP: true})
	bin := filepath.Join(t.TempDir(), "enumgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building enumgate: %v\n%s", err, out)
	}
	var (
		mu   sync.Mutex
		seen []*http.Request
	)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Clone(r.Context()))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer upstream.Close()
	forwarded := func() []*http.Request { mu.Lock(); defer mu.Unlock(); return append([]*http.Request(nil), seen...) }
	users, _ := filepath.Abs("../../demo/users.json")
	var bases []string
	for range 2 {
		port := freePort(t)
		bases = append(bases, fmt.Sprintf("http://127.0.0.1:%d", port))
		gatewayProcess(t, bin, fmt.Sprintf(`{
	admin off
	persist_config off
	enumgate {
		secret shared-secret-of-both-gateways
		store redis %s
		users file %s
		approvers supervisors bob
	}
}
http://127.0.0.1:%d {
	enumgate {
		user {http.request.header.X-User}
		session {http.request.header.X-Session}
		methods enum
		protect_section settings GET POST /settings* {
			grant 10m
		}
		protect transfer POST /transfer {
			amount amount
			payee to
			currency RUB
			enum_mode authorization
			trusted_payees skip up_to 500.00
			approve_by supervisors above 1000.00
		}
		protect withdrawal POST /withdraw {
			when amount > 1000
			amount amount
			payee card
			currency RUB
			enum_mode authorization
			force_when new_payee
			force_when daily_total > 1500
		}
		protect new_correspondent POST /correspondents {
			when wallet == never
			payee wallet
			enum_mode authorization
			force_when new_client 30
		}
	}
	reverse_proxy %s
}
`, rs.URL, users, port, upstream.Listener.Addr()))
	}
	for _, b := range bases {
		waitUp(t, b+"/health")
	}
	alice := policyClient{t: t, bases: bases, session: "s1", ua: "browser-1"}

	t.Run("a section asks once, then is open on both gateways for this session only", func(t *testing.T) {
		status, m := alice.do(0, "GET", "/settings", nil)
		if status != http.StatusUnauthorized {
			t.Fatalf("first visit = %d %v", status, m)
		}
		if got := alice.confirm(0, m); got != http.StatusCreated {
			t.Fatalf("confirmation = %d", got)
		}
		if status, _ := alice.do(1, "GET", "/settings/profile", nil); status != http.StatusCreated {
			t.Fatalf("inside the section at the other gateway = %d, want it open", status)
		}
		other := alice
		other.session = "s2"
		if status, _ := other.do(1, "GET", "/settings", nil); status != http.StatusUnauthorized {
			t.Fatalf("another session = %d, want 401", status)
		}
		status, grants := alice.do(1, "GET", "/.enumgate/api/account/sections", nil)
		list, _ := grants["grants"].([]any)
		if status != 200 || len(list) != 1 {
			t.Fatalf("grants = %d %v", status, grants)
		}
		id := list[0].(map[string]any)["id"].(string)
		if status, m := alice.do(1, "DELETE", "/.enumgate/api/account/sections/"+id, nil); status != 200 {
			t.Fatalf("end now = %d %v", status, m)
		}
		if status, _ := alice.do(0, "GET", "/settings", nil); status != http.StatusUnauthorized {
			t.Fatalf("after end now = %d, want 401 at once on the other gateway", status)
		}
	})

	t.Run("a trusted payee under its limit goes through without a challenge, signed m=trusted", func(t *testing.T) {
		status, m := alice.do(0, "POST", "/.enumgate/api/account/trusted", map[string]string{"payee": "Z777", "up_to": "200.00"})
		if status != http.StatusUnauthorized {
			t.Fatalf("trusting = %d %v, want it confirmed first", status, m)
		}
		if got := alice.confirm(0, m); got != 200 {
			t.Fatalf("confirming the trust = %d", got)
		}
		before := len(forwarded())
		status, m = alice.do(1, "POST", "/transfer", map[string]string{"to": "Z777", "amount": "150.00"})
		if status != http.StatusCreated || len(forwarded()) != before+1 {
			t.Fatalf("transfer to a trusted payee = %d %v", status, m)
		}
		h := forwarded()[before].Header.Get("Enumgate-Confirmed")
		claims, err := confirm.Parse(challenge.ConfirmKey([]byte("shared-secret-of-both-gateways")), h)
		if err != nil || claims.Method != "trusted" || claims.User != "alice" || claims.Operation != "transfer" {
			t.Fatalf("header = %q (%+v, %v)", h, claims, err)
		}
		for _, c := range []struct {
			name, to, amount string
		}{{"over the payee's limit", "Z777", "250.00"}, {"another payee", "Z888", "10.00"}} {
			if status, _ := alice.do(1, "POST", "/transfer", map[string]string{"to": c.to, "amount": c.amount}); status != http.StatusUnauthorized {
				t.Fatalf("%s = %d, want a challenge", c.name, status)
			}
		}
		if status, _ := alice.do(0, "DELETE", "/.enumgate/api/account/trusted/Z777", nil); status != 200 {
			t.Fatalf("untrust = %d", status)
		}
		if status, _ := alice.do(1, "POST", "/transfer", map[string]string{"to": "Z777", "amount": "150.00"}); status != http.StatusUnauthorized {
			t.Fatalf("after untrust at the other gateway = %d, want a challenge at once", status)
		}
	})

	t.Run("the first withdrawal to a card and a day over the total are confirmed even under the threshold", func(t *testing.T) {
		status, m := alice.do(0, "POST", "/withdraw", map[string]string{"card": "4111", "amount": "100.00"})
		if status != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(m["fields"]), "new_payee") {
			t.Fatalf("first withdrawal to a new card = %d %v, want it forced with the reason", status, m)
		}
		if got := alice.confirm(0, m); got != http.StatusCreated {
			t.Fatalf("confirm = %d", got)
		}
		eventually(t, "the card is known at the other gateway", func() bool {
			status, _ := alice.do(1, "POST", "/withdraw", map[string]string{"card": "4111", "amount": "100.00"})
			return status == http.StatusCreated
		})
		// 100 + 100 so far (the eventual loop may have sent more; each
		// counts): push the day over 1500.
		status, m = alice.do(1, "POST", "/withdraw", map[string]string{"card": "4111", "amount": "1000.00"})
		if status != http.StatusCreated && status != http.StatusUnauthorized {
			t.Fatalf("withdrawal = %d %v", status, m)
		}
		eventually(t, "the day's total forces a confirmation", func() bool {
			status, m := alice.do(0, "POST", "/withdraw", map[string]string{"card": "4111", "amount": "400.00"})
			return status == http.StatusUnauthorized && strings.Contains(fmt.Sprint(m["fields"]), "daily_total")
		})
	})

	t.Run("confirmed at one gateway, approved by bob at the other, forwarded once", func(t *testing.T) {
		bob := policyClient{t: t, bases: bases, user: "bob", session: "b1", ua: "browser-b"}
		status, m := alice.do(0, "POST", "/transfer", map[string]string{"to": "Z999", "amount": "5000.00"})
		if status != http.StatusUnauthorized {
			t.Fatalf("transfer = %d %v", status, m)
		}
		id := m["challenge_id"].(string)
		if got := alice.confirm(0, m); got != http.StatusAccepted {
			t.Fatalf("alice's confirmation = %d, want 202 (awaiting approval)", got)
		}
		before := len(forwarded())
		status, l := bob.do(1, "GET", "/.enumgate/api/approvals", nil)
		if status != 200 || !strings.Contains(fmt.Sprint(l["approvals"]), id) {
			t.Fatalf("bob's approvals at the other gateway = %d %v", status, l)
		}
		status, held := bob.do(1, "POST", "/.enumgate/api/approvals/"+id+"/approve", map[string]string{})
		if status != http.StatusUnauthorized {
			t.Fatalf("approve = %d %v", status, held)
		}
		if got := bob.confirm(1, held); got != 200 {
			t.Fatalf("bob's confirmation = %d", got)
		}
		if n := len(forwarded()) - before; n != 1 {
			t.Fatalf("forwarded %d times, want once", n)
		}
		if status, v := alice.do(0, "GET", "/.enumgate/api/challenges/"+id, nil); status != 200 || v["state"] != "confirmed" {
			t.Fatalf("alice's view at the first gateway = %d %v", status, v)
		}
	})

	t.Run("a new browser is confirmed where the rule would not ask", func(t *testing.T) {
		// browser-1 confirmed operations above, so it is known; a new one
		// is not.
		alice := alice
		alice.ua = "browser-2"
		status, m := alice.do(0, "POST", "/correspondents", map[string]string{"wallet": "W1"})
		if status != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(m["fields"]), "new_client") {
			t.Fatalf("first from this browser = %d %v", status, m)
		}
		if got := alice.confirm(0, m); got != http.StatusCreated {
			t.Fatalf("confirm = %d", got)
		}
		eventually(t, "the browser is known at the other gateway", func() bool {
			status, _ := alice.do(1, "POST", "/correspondents", map[string]string{"wallet": "W2"})
			return status == http.StatusCreated
		})
		stranger := alice
		stranger.ua = "another-browser"
		if status, _ := stranger.do(1, "POST", "/correspondents", map[string]string{"wallet": "W3"}); status != http.StatusUnauthorized {
			t.Fatalf("another browser = %d, want a challenge", status)
		}
	})
}
