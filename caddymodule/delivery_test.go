package caddymodule_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAConfirmationSurvivesADownUpstream: the payment app is down when
// the right answer arrives. The customer is told the confirmation stands
// but was not delivered; when the app is back, "Try again" delivers the
// same request, with the same id and header, exactly once.
func TestAConfirmationSurvivesADownUpstream(t *testing.T) {
	for _, tt := range []struct {
		name string
		html bool
	}{{"API", false}, {"browser", true}} {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{})
			c := g.client(t, "alice")
			id := c.hold()
			q := c.beginEnum(id)
			addr := g.upstream.addr()
			g.upstream.Close() // the app is down

			var r response
			if tt.html {
				c.html = true
				page := c.do("GET", "/.enumgate/challenge/"+id, "", nil)
				token, _ := pageForm(t, page.Body)
				r = c.do("POST", "/.enumgate/challenge/"+id, "application/x-www-form-urlencoded",
					[]byte(url.Values{"action": {"answer"}, "answer": {enumApp(t, q)}, "token": {token}}.Encode()))
				if r.Status != http.StatusBadGateway || !bytes.Contains(r.Body, []byte(`data-error="not_delivered"`)) ||
					!bytes.Contains(r.Body, []byte(`name="action" value="deliver"`)) || r.Header.Get("Enumgate-Result") != "not_delivered" {
					t.Fatalf("answer with the app down = %d %v\n%s", r.Status, r.Header, r.Body)
				}
			} else {
				r = c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)})
				if m := r.json(t); r.Status != http.StatusBadGateway || m["error"] != "not_delivered" || m["retry_in"] == nil {
					t.Fatalf("answer with the app down = %d %s", r.Status, r.Body)
				}
				c.html = false
				if v := c.do("GET", "/.enumgate/api/challenges/"+id, "", nil).json(t); v["state"] != "not_delivered" || v["confirmed_at"] == nil {
					t.Fatalf("GET = %v", v)
				}
			}

			g.upstream.restart(t, addr) // the app is back
			http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			if tt.html {
				page := c.do("GET", "/.enumgate/challenge/"+id, "", nil)
				token, _ := pageForm(t, page.Body)
				r = c.do("POST", "/.enumgate/challenge/"+id, "application/x-www-form-urlencoded",
					[]byte(url.Values{"action": {"deliver"}, "token": {token}}.Encode()))
				// The upstream's own answer to the stashed (JSON) request.
				if r.Status != http.StatusCreated || r.Header.Get("Enumgate-Result") != "confirmed" {
					t.Fatalf("Try again = %d %v\n%s", r.Status, r.Header, r.Body)
				}
				// Back after success: a green page, never "start again".
				page = c.do("GET", "/.enumgate/challenge/"+id, "", nil)
				if page.Status != 200 || !bytes.Contains(page.Body, []byte(`data-error="confirmed"`)) || !bytes.Contains(page.Body, []byte("Confirmed at ")) {
					t.Fatalf("back after success = %d\n%s", page.Status, page.Body)
				}
			} else {
				r = c.postJSON("/.enumgate/api/challenges/"+id+"/deliver", nil)
				if r.Status != http.StatusCreated || r.Header.Get("Enumgate-Result") != "confirmed" {
					t.Fatalf("deliver = %d %s", r.Status, r.Body)
				}
				if r := c.postJSON("/.enumgate/api/challenges/"+id+"/deliver", nil); r.Status != http.StatusConflict || r.json(t)["error"] != "already_confirmed" {
					t.Fatalf("deliver after the app answered = %d %s", r.Status, r.Body)
				}
				if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)}); r.Status != http.StatusConflict {
					t.Fatalf("the answer again = %d %s", r.Status, r.Body)
				}
				if v := c.do("GET", "/.enumgate/api/challenges/"+id, "", nil).json(t); v["state"] != "confirmed" {
					t.Fatalf("GET after delivery = %v", v)
				}
			}
			got := g.upstream.requests()
			if len(got) != 1 || got[0].Header.Get("Idempotency-Key") != id || !strings.HasPrefix(got[0].Header.Get("Enumgate-Confirmed"), "v=2; id="+id) {
				t.Fatalf("the app received %d requests: %+v", len(got), got)
			}
		})
	}
}
