package caddymodule_test

import (
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/confirm"
	"github.com/enumgate/enumgate/internal/redistest"
)

// approvalRules: transfers above 1000.00 wait for an approver of the
// group "supervisors" (bob).
const approvalRules = `
		user {http.request.header.X-User}
		session {http.request.header.X-Session}
		methods enum
		protect transfer POST /transfer {
			amount amount
			payee to
			currency RUB
			enum_mode authorization
			approve_by supervisors above 1000.00
		}
`

// enumAnswer answers question q with the demo key of user (alice or bob).
func enumAnswer(t *testing.T, user, q string) string {
	t.Helper()
	keys := map[string]string{"alice": "3132333435363738393031323334353637383930313233343536373839303132", "bob": "3132333435363738393031323334353637383930"}
	key, _ := hex.DecodeString(keys[user])
	s, _ := ocra.ParseSuite(challenge.DefaultSuite)
	a, err := s.Compute(key, ocra.Input{Question: q})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// answerEnum begins E-num for challenge id as c and answers it.
func answerEnum(t *testing.T, c *client, id string) response {
	t.Helper()
	q := c.beginEnum(id)
	return c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumAnswer(t, c.user, q)})
}

func TestFourEyesApproval(t *testing.T) {
	t.Run("memory", func(t *testing.T) { fourEyes(t, "") })
	t.Run("redis", func(t *testing.T) {
		rs := redistest.Start(t, redistest.Options{})
		fourEyes(t, "redis "+rs.URL)
	})
}

func fourEyes(t *testing.T, st string) {
	g := startGateway(t, gatewayOptions{handler: approvalRules, store: st, extraGlobal: "approvers supervisors bob"})
	alice, bob := g.client(t, "alice"), g.client(t, "bob")
	hold := func(amount string) string {
		t.Helper()
		r := alice.do("POST", "/transfer", "application/json", []byte(`{"to":"Z123456789012","amount":"`+amount+`"}`))
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("transfer %s = %d %s", amount, r.Status, r.Body)
		}
		return r.json(t)["challenge_id"].(string)
	}

	// Above the threshold: confirmed by alice, then waiting.
	id := hold("5000.00")
	r := answerEnum(t, alice, id)
	if r.Status != http.StatusAccepted || r.json(t)["state"] != "awaiting_approval" || r.json(t)["challenge_id"] != id {
		t.Fatalf("alice's answer = %d %s, want 202 awaiting_approval", r.Status, r.Body)
	}
	if n := len(g.upstream.requests()); n != 0 {
		t.Fatalf("the upstream saw %d requests before approval", n)
	}
	if v := alice.do("GET", "/.enumgate/api/challenges/"+id, "", nil); v.json(t)["state"] != "awaiting_approval" {
		t.Fatalf("state = %s", v.Body)
	}
	// Never the customer.
	if l := alice.do("GET", "/.enumgate/api/approvals", "", nil); l.Status != 200 || strings.Contains(string(l.Body), id) {
		t.Fatalf("alice's approvals = %d %s", l.Status, l.Body)
	}
	if a := alice.postJSON("/.enumgate/api/approvals/"+id+"/approve", map[string]string{}); a.Status != http.StatusNotFound {
		t.Fatalf("alice approving her own = %d %s", a.Status, a.Body)
	}
	// bob sees it with the same strict view, and approves with his own confirmation.
	l := bob.do("GET", "/.enumgate/api/approvals", "", nil)
	if l.Status != 200 || !strings.Contains(string(l.Body), `"id":"`+id+`"`) || !strings.Contains(string(l.Body), `"amount":"5000.00"`) ||
		!strings.Contains(string(l.Body), `"user":"alice"`) || !strings.Contains(string(l.Body), `"payee":"Z123456789012"`) {
		t.Fatalf("bob's approvals = %d %s", l.Status, l.Body)
	}
	held := bob.postJSON("/.enumgate/api/approvals/"+id+"/approve", map[string]string{})
	if held.Status != http.StatusUnauthorized || held.json(t)["operation"] != "approval_approve" || held.json(t)["amount"] != "5000.00" {
		t.Fatalf("approve = %d %s, want bob's own challenge first", held.Status, held.Body)
	}
	r = answerEnum(t, bob, held.json(t)["challenge_id"].(string))
	if r.Status != 200 || r.json(t)["status"] != "approved" || r.json(t)["delivered"] != true {
		t.Fatalf("bob's confirmation = %d %s", r.Status, r.Body)
	}
	reqs := g.upstream.requests()
	if len(reqs) != 1 || string(reqs[0].Body) != `{"to":"Z123456789012","amount":"5000.00"}` {
		t.Fatalf("upstream = %+v", reqs)
	}
	key := challenge.ConfirmKey([]byte(testSecret))
	c1, err1 := confirm.Parse(key, reqs[0].Header.Get("Enumgate-Confirmed"))
	c2, err2 := confirm.Parse(key, reqs[0].Header.Get("Enumgate-Approved"))
	if err1 != nil || err2 != nil || c1.User != "alice" || c2.User != "bob" || c1.ChallengeID != id || c2.ChallengeID != id || c2.Method != "enum" {
		t.Fatalf("headers: %+v %v / %+v %v", c1, err1, c2, err2)
	}
	if v := alice.do("GET", "/.enumgate/api/challenges/"+id, "", nil); v.json(t)["state"] != "confirmed" {
		t.Fatalf("state after approval = %s", v.Body)
	}
	if again := bob.postJSON("/.enumgate/api/approvals/"+id+"/approve", map[string]string{}); again.Status != http.StatusNotFound {
		t.Fatalf("approving twice = %d %s", again.Status, again.Body)
	}

	// A rejection: never forwarded, and alice sees it.
	id = hold("2000.00")
	if r := answerEnum(t, alice, id); r.Status != http.StatusAccepted {
		t.Fatalf("answer = %d %s", r.Status, r.Body)
	}
	held = bob.postJSON("/.enumgate/api/approvals/"+id+"/reject", map[string]string{})
	if r := answerEnum(t, bob, held.json(t)["challenge_id"].(string)); r.Status != 200 || r.json(t)["status"] != "rejected" {
		t.Fatalf("reject = %d %s", r.Status, r.Body)
	}
	if v := alice.do("GET", "/.enumgate/api/challenges/"+id, "", nil); v.json(t)["state"] != "rejected" {
		t.Fatalf("state after rejection = %s", v.Body)
	}
	if n := len(g.upstream.requests()); n != 1 {
		t.Fatalf("a rejected operation reached the upstream (%d requests)", n)
	}

	// At or under the threshold: as always.
	id = hold("1000.00")
	if r := answerEnum(t, alice, id); r.Status != http.StatusCreated {
		t.Fatalf("transfer of 1000.00 = %d %s", r.Status, r.Body)
	}
}

// TestAnInboundApprovedHeaderNeverReachesTheUpstream: like
// Enumgate-Confirmed, a client's own Enumgate-Approved is dropped, on the
// way through and on the replay of a confirmed request (which carries
// only the gateway's own).
func TestAnInboundApprovedHeaderNeverReachesTheUpstream(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	if r := c.do("POST", "/unprotected", "application/json", []byte(`{}`), "Enumgate-Approved", "v=2; forged"); r.Status/100 != 2 {
		t.Fatalf("pass-through = %d", r.Status)
	}
	r := c.do("POST", "/transfer", "application/json", transferBody, "Enumgate-Approved", "v=2; forged")
	id := r.json(t)["challenge_id"].(string)
	if a := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, c.beginEnum(id))}); a.Status != http.StatusCreated {
		t.Fatalf("answer = %d %s", a.Status, a.Body)
	}
	for i, got := range g.upstream.requests() {
		if _, ok := got.Header["Enumgate-Approved"]; ok {
			t.Fatalf("request %d reached the upstream with Enumgate-Approved: %v", i, got.Header)
		}
	}
	if n := len(g.upstream.requests()); n != 2 {
		t.Fatalf("upstream saw %d requests, want 2", n)
	}
}
