package caddymodule_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// browser is a form-posting client on the challenge page.
type browser struct {
	*client
	loc, token string
}

func startBrowser(t *testing.T, g *gateway, user string) *browser {
	t.Helper()
	c := g.client(t, user)
	c.html = true
	r := c.do("POST", "/transfer", "application/x-www-form-urlencoded", []byte("to=Z123456789012&amount=10.00"))
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/.enumgate/challenge/") {
		t.Fatalf("protected request = %d %q", r.Status, loc)
	}
	page := c.do("GET", loc, "", nil)
	token, _ := pageForm(t, page.Body)
	return &browser{client: c, loc: loc, token: token}
}

// post submits a form of the page; it must answer 303 (POST/redirect/GET),
// and post follows the redirect once.
func (b *browser) post(v url.Values) (location string, page response) {
	b.t.Helper()
	v.Set("token", b.token)
	r := b.do("POST", b.loc, "application/x-www-form-urlencoded", []byte(v.Encode()))
	if r.Status != http.StatusSeeOther {
		b.t.Fatalf("form %v = %d, want 303\n%s", v, r.Status, r.Body)
	}
	location = r.Header.Get("Location")
	return location, b.do("GET", location, "", nil)
}

func TestEveryFormAnswersSeeOtherAndThePageTellsTheTruth(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraGlobal: "lockout 2 10m\n\t\tresend_cooldown 1s\n\t\temail_limits {\n\t\t\tuser_cooldown off\n\t\t\taddress_cooldown off\n\t\t}"})

	t.Run("a resend says a new code went out and the old one is void", func(t *testing.T) {
		b := startBrowser(t, g, "alice")
		b.t = t
		b.post(url.Values{"action": {"method"}, "method": {"email"}})
		// Within the cooldown the resend waits, and the page says so.
		_, page := b.post(url.Values{"action": {"method"}, "method": {"email"}, "resend": {"1"}})
		if page.Status != http.StatusTooManyRequests || !bytes.Contains(page.Body, []byte(`data-error="resend_too_soon"`)) {
			t.Fatalf("early resend page = %d\n%s", page.Status, page.Body)
		}
		time.Sleep(1100 * time.Millisecond)
		_, page = b.post(url.Values{"action": {"method"}, "method": {"email"}, "resend": {"1"}})
		if page.Status != 200 || !bytes.Contains(page.Body, []byte(`data-notice="sent"`)) ||
			!bytes.Contains(page.Body, []byte("The previous answer number no longer works.")) {
			t.Fatalf("resend page = %d\n%s", page.Status, page.Body)
		}
		// A reload of that page sends nothing again.
		before := len(g.phone.msgs)
		b.do("GET", b.loc, "", nil)
		if len(g.phone.msgs) != before {
			t.Fatal("reloading the page sent another e-mail")
		}
	})

	t.Run("cancel lands on a page that says nothing was done", func(t *testing.T) {
		b := startBrowser(t, g, "bob")
		b.t = t
		loc, page := b.post(url.Values{"action": {"cancel"}})
		if !strings.HasPrefix(loc, "/.enumgate/cancelled?to=") || page.Status != 200 ||
			!bytes.Contains(page.Body, []byte("Nothing was sent to the bank")) || !bytes.Contains(page.Body, []byte(`data-error="cancelled"`)) {
			t.Fatalf("after cancel: %q %d\n%s", loc, page.Status, page.Body)
		}
		if r := b.do("GET", "/.enumgate/cancelled?to=https://evil.example/", "", nil); bytes.Contains(r.Body, []byte("evil.example")) {
			t.Fatal("the cancelled page links to another site")
		}
	})

	t.Run("the lock page says how long the lock lasts", func(t *testing.T) {
		b := startBrowser(t, g, "alice")
		b.t = t
		b.post(url.Values{"action": {"method"}, "method": {"enum"}})
		b.post(url.Values{"action": {"answer"}, "answer": {"00000000"}})
		loc, page := b.post(url.Values{"action": {"answer"}, "answer": {"00000001"}})
		if !strings.Contains(loc, "?n=locked.") || page.Status != http.StatusForbidden ||
			!bytes.Contains(page.Body, []byte(`data-error="locked"`)) || !bytes.Contains(page.Body, []byte(`class="eg-countdown" data-seconds="`)) ||
			page.Header.Get("Retry-After") == "" {
			t.Fatalf("lock page: %q %d %v\n%s", loc, page.Status, page.Header, page.Body)
		}
		if !bytes.Contains(page.Body, []byte(">10:00<")) && !bytes.Contains(page.Body, []byte(">9:59<")) {
			t.Fatalf("lock page does not count down from 10 minutes:\n%s", page.Body)
		}
	})
}

func TestAReturningCustomerStartsWithTheLastMethod(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	b := startBrowser(t, g, "alice")
	_, page := b.post(url.Values{"action": {"method"}, "method": {"enum"}})
	_, q := pageForm(t, page.Body)
	v := url.Values{"action": {"answer"}, "answer": {enumApp(t, q)}, "token": {b.token}}
	r := b.do("POST", b.loc, "application/x-www-form-urlencoded", []byte(v.Encode()))
	var cookie string
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "enumgate_method" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if r.Header.Get("Enumgate-Result") != "confirmed" || cookie == "" {
		t.Fatalf("confirmation = %d %v", r.Status, r.Header)
	}

	// The next transfer opens on the E-num question, other methods below.
	r = b.do("POST", "/transfer", "application/x-www-form-urlencoded", []byte("to=Z123456789012&amount=11.00"), "Cookie", cookie)
	page = b.do("GET", r.Header.Get("Location"), "", nil, "Cookie", cookie)
	if _, q := pageForm(t, page.Body); q == "" || !bytes.Contains(page.Body, []byte("Or choose another method")) {
		t.Fatalf("returning customer's first screen:\n%s", page.Body)
	}

	// Bob, in the same browser, chooses for himself.
	bob := g.client(t, "bob")
	bob.html = true
	r = bob.do("POST", "/transfer", "application/x-www-form-urlencoded", []byte("to=Z123456789012&amount=11.00"), "Cookie", cookie)
	page = bob.do("GET", r.Header.Get("Location"), "", nil, "Cookie", cookie)
	if _, q := pageForm(t, page.Body); q != "" || !bytes.Contains(page.Body, []byte("How do you want to confirm?")) {
		t.Fatalf("another user's first screen:\n%s", page.Body)
	}
}
