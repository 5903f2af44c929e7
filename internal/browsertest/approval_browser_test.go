package browsertest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
	"github.com/enumgate/enumgate/demo"
)

// Four-eyes approval of issue 12 in real Chromium, as Caddyfile.example
// sets it up (approvers supervisors bob; approve_by supervisors above
// 1000.00 on transfers): the customer confirms a large transfer in one
// browser context, bob approves or rejects it in another, with his own
// E-num confirmation, and the customer's page follows by itself.

// demoBob is the demo's approver (demo/users.json), with his own E-num key.
var demoBob = user{ID: "bob", Phone: "+79000000002", Email: "bob@example.test"}

// newContextTab is newTabFor in a browser context of its own: its own
// cookies and cache, as a second person's browser would have.
func newContextTab(t *testing.T, u user) *tab {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	ctx, cancel := chromedp.NewContext(env.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab in a new browser context: %v", err)
	}
	b := &tab{t: t, ctx: ctx, user: u, base: env.gw}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if s := m.String(); m.IsException() || strings.Contains(s, "Content Security Policy") || strings.Contains(s, "Content-Security-Policy") {
				b.mu.Lock()
				b.console = append(b.console, s)
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, s := range b.console {
			t.Errorf("browser console: %s", s)
		}
	})
	b.setLanguage("en")
	return b
}

// deviceAnswer is what the E-num app of demo user du answers on the
// challenge page shown: in payment mode to the page's enum: URI, else to
// the bare question (the mode the page shows decides, as in the app).
func (b *tab) deviceAnswer(du demo.User) string {
	b.t.Helper()
	q, uri := b.question(), b.attr("#question", "data-uri")
	s, err := ocra.ParseSuite(du.Suite)
	if err != nil {
		b.t.Fatal(err)
	}
	key, _ := hex.DecodeString(du.Key)
	if uri != "" {
		u, err := payment.ParseURI(uri)
		if err != nil {
			b.t.Fatalf("the page's URI %q: %v", uri, err)
		}
		if u.Mode == payment.ModePayment {
			a, err := payment.Answer(s, key, ocra.Input{Question: u.Challenge}, u.Purse, u.Amount)
			if err != nil {
				b.t.Fatalf("the payment answer to %q: %v", uri, err)
			}
			return a
		}
	}
	a, err := s.Compute(key, ocra.Input{Question: q})
	if err != nil {
		b.t.Fatalf("the answer to %q: %v", q, err)
	}
	return a
}

// submitDemoForm fills the named fields of a demo home page form and submits
// it; it returns the status of the page it leads to.
func (b *tab) submitDemoForm(action string, fields map[string]string) int64 {
	b.t.Helper()
	if s := b.open("/"); s != 200 {
		b.t.Fatalf("demo home = %d", s)
	}
	form := fmt.Sprintf(`form[action=%q]`, action)
	for name, v := range fields {
		b.do(chromedp.SetValue(fmt.Sprintf(`%s input[name=%q]`, form, name), v))
	}
	return b.click(form + " button")
}

// waitForReload polls a JavaScript condition while the page may reload
// itself (a meta refresh): an evaluation that fails because a navigation
// is under way is tried again.
func (b *tab) waitForReload(expr string, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
		cancel()
		var ok bool
		if err == nil && json.Unmarshal(raw, &ok) == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.screenshot("timeout")
			b.t.Fatalf("after %s still not %s (last error %v)", within, expr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// transferAwaitingApproval has the customer confirm a transfer of amount (above the
// approval threshold) with E-num, and checks the page then says it waits
// for approval and reloads itself. It returns the challenge's id.
func (b *tab) transferAwaitingApproval(amount string) string {
	b.t.Helper()
	if s := b.submitDemoForm("/transfer", map[string]string{"amount": amount}); s != 200 || !strings.HasPrefix(b.path(), "/.enumgate/challenge/") {
		b.t.Fatalf("a transfer of %s = %d at %s, want the challenge page", amount, s, b.path())
	}
	id := strings.TrimPrefix(b.path(), "/.enumgate/challenge/")
	if s := b.choose("enum"); s != 200 || b.attr("#question", "data-mode") != "payment" {
		b.t.Fatalf("choosing E-num = %d, mode %q, want payment", s, b.attr("#question", "data-mode"))
	}
	if s := b.answer(enumAnswer(b.t, b.question())); s != 200 || b.path() != "/.enumgate/challenge/"+id || b.attr("[data-error]", "data-error") != "awaiting_approval" {
		b.screenshot("not-awaiting")
		b.t.Fatalf("the customer's answer = %d at %s (%q), want the challenge page awaiting approval", s, b.path(), b.attr("[data-error]", "data-error"))
	}
	if got := b.text("#eg-error"); !strings.Contains(got, "waits for a second person's approval") || !strings.Contains(got, "this page updates itself") {
		b.t.Fatalf("the waiting page says %q", got)
	}
	// It reloads itself without script, and can still be cancelled.
	if r := b.attr(`meta[http-equiv="refresh"]`, "content"); r == "" {
		b.t.Fatal("the waiting page does not reload itself")
	}
	if !b.exists(".eg-cancel button") {
		b.t.Fatal("the waiting page offers no cancel")
	}
	return id
}

// decideApproval has bob open the approvals page, check what waits there under
// id, press Approve or Reject (decision), confirm it on his own challenge
// page with his E-num device, and land back on the approvals page.
func (a *tab) decideApproval(id, customer, amount, decision string) {
	a.t.Helper()
	if s := a.open("/.enumgate/approvals"); s != 200 || a.text("h1") != "Operations waiting for your approval" {
		a.t.Fatalf("the approvals page = %d, h1 %q", s, a.text("h1"))
	}
	item := fmt.Sprintf(`[data-approval=%q]`, id)
	if !a.exists(item) {
		a.screenshot("approvals")
		a.t.Fatalf("the approvals page does not list %s: %q", id, a.text("main"))
	}
	// The strict view: operation, amount, payee and the customer.
	if op, am, p, c := a.text(item+" .eg-op"), a.text(item+" .eg-amount"), a.text(item+" .eg-payee"), a.text(item+" .eg-customer"); op != "Transfer" ||
		!strings.Contains(strings.ReplaceAll(am, ",", ""), amount) || p != "Z123456789012" || c != customer {
		a.t.Fatalf("the approvals page shows operation %q, amount %q, payee %q, customer %q", op, am, p, c)
	}
	a.screenshot("approvals-" + decision)
	if s := a.click(item + fmt.Sprintf(` button[data-decide=%q]`, decision)); s != 200 || !strings.HasPrefix(a.path(), "/.enumgate/challenge/") {
		a.t.Fatalf("%s = %d at %s, want bob's challenge page", decision, s, a.path())
	}
	want := map[string]string{"approve": "Approve an operation", "reject": "Reject an operation"}[decision]
	if got := a.text(".eg-summary"); !strings.Contains(got, want) || !strings.Contains(strings.ReplaceAll(got, ",", ""), amount) ||
		!strings.Contains(got, "Z123456789012") || !strings.Contains(got, customer) {
		a.t.Fatalf("bob's challenge page confirms %q, want %q with amount, payee and customer", got, want)
	}
	if !a.exists("#question") {
		if s := a.choose("enum"); s != 200 {
			a.t.Fatalf("bob choosing E-num = %d", s)
		}
	}
	if mode := a.attr("#question", "data-mode"); mode != "authorization" {
		a.t.Fatalf("the approver's E-num mode = %q, want authorization", mode)
	}
	done := map[string]string{"approve": "Approved: the operation was passed to the bank.", "reject": "Rejected: the operation will not be carried out."}[decision]
	if s := a.answer(a.deviceAnswer(demo.Users[1])); s != 200 || a.path() != "/.enumgate/approvals" || a.text("#eg-notice") != done {
		a.screenshot("not-decided")
		a.t.Fatalf("bob's answer = %d at %s, notice %q, want the approvals page saying %q", s, a.path(), a.text("#eg-notice"), done)
	}
	if a.exists(item) {
		a.t.Fatalf("%s is still listed after the decision", id)
	}
}

// operationRows are the rows of the demo app's operations list.
func (b *tab) operationRows() []string {
	b.t.Helper()
	if s := b.open("/operations"); s != 200 {
		b.t.Fatalf("/operations = %d", s)
	}
	var rows []string
	b.eval(`[...document.querySelectorAll("main tbody tr")].map(r => r.textContent.replace(/\s+/g, " ").trim())`, &rows)
	return rows
}

// fourEyes is the approval round trip of issue 12: a transfer above
// 1000.00 waits, after the customer's confirmation in one browser
// context, for bob, who decides on it in his own with his own E-num
// answer; the customer's page turns to the outcome (data-error code page)
// by itself, within its refresh. It returns the customer's tab.
func fourEyes(t *testing.T, amount, decision, page string) *tab {
	t.Helper()
	customer := newContextTab(t, newUser(t))
	approver := newContextTab(t, demoBob)
	id := customer.transferAwaitingApproval(amount)
	customer.screenshot("awaiting-approval")

	approver.decideApproval(id, customer.user.ID, amount, decision)

	customer.waitForReload(fmt.Sprintf(`((e) => !!e && e.dataset.error === %q)(document.querySelector("[data-error]"))`, page), 15*time.Second)
	customer.screenshot("after-" + decision)
	return customer
}

// TestFourEyesApprovalApproved: bob approves a transfer of 5000.00; the
// customer's page says it is confirmed, and the demo app has the
// transfer exactly once, confirmed by E-num.
func TestFourEyesApprovalApproved(t *testing.T) {
	t.Parallel()
	customer := fourEyes(t, "5000.00", "approve", "confirmed")
	if got := customer.text("#eg-error"); !strings.Contains(got, "Confirmed at ") {
		t.Fatalf("the customer's page after approval says %q", got)
	}
	rows := customer.operationRows()
	if len(rows) != 1 || !strings.Contains(rows[0], "Transfer") || !strings.Contains(rows[0], "Z123456789012") ||
		!strings.Contains(rows[0], "5000.00") || !strings.Contains(rows[0], "Confirmed by E-num") {
		t.Fatalf("the demo app's operations after approval: %q, want the transfer once, confirmed by E-num", rows)
	}
}

// TestFourEyesApprovalRejected: bob rejects a transfer of 7000.00; the
// customer's page says so, and the demo app has nothing.
func TestFourEyesApprovalRejected(t *testing.T) {
	t.Parallel()
	customer := fourEyes(t, "7000.00", "reject", "rejected")
	if got := customer.text("#eg-error"); got != "The operation was rejected by an approver. It was not carried out." {
		t.Fatalf("the customer's page after rejection says %q", got)
	}
	if rows := customer.operationRows(); len(rows) != 0 || !strings.Contains(customer.text("main"), "No operations yet") {
		t.Fatalf("the demo app's operations after rejection: %q, want none", rows)
	}
}
