package browsertest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestSectionGrant is the protected section of issue 12 in front of the
// demo's /settings (protect_section settings GET POST /settings* { grant
// 10m }): the first visit asks, the confirmation opens the page and the
// section, later requests in it (a visit, a change) go through at once,
// and "End now" on the account page closes it: the next visit asks again.
func TestSectionGrant(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	settings := func() bool {
		t.Helper()
		if s := b.open("/settings"); s != 200 {
			t.Fatalf("/settings = %d", s)
		}
		switch p := b.path(); {
		case p == "/settings":
			return true
		case strings.HasPrefix(p, "/.enumgate/challenge/"):
			return false
		default:
			t.Fatalf("/settings led to %s", p)
		}
		return false
	}
	if settings() {
		t.Fatal("the first visit to /settings did not ask for a confirmation")
	}
	b.screenshot("section-challenge")
	if s := b.confirmWithEnum(); s != 200 || b.text("h1") != "Settings" || !strings.Contains(b.text("body"), b.user.ID) {
		b.screenshot("section-not-open")
		t.Fatalf("after confirming = %d at %s: h1 %q", s, b.path(), b.text("h1"))
	}

	// Open: a visit and a change go through without a challenge.
	if !settings() {
		t.Fatal("the second visit asked again")
	}
	b.do(chromedp.SendKeys(chromedp.ID("nick"), "Captain"))
	if s := b.click(`form[action="/settings"] button`); s != 200 || b.path() != "/settings" || b.text("#nickname") != "Captain" || b.text(".confirmed") != "Saved." {
		t.Fatalf("a change inside the section = %d at %s, nickname %q", s, b.path(), b.text("#nickname"))
	}

	// The account page shows the open section and ends it.
	b.account()
	grant := `[data-section-name="settings"]`
	if got := b.text(grant); !strings.Contains(got, "settings, open until") {
		t.Fatalf("open sections: %q", b.text(`[data-section="sections"]`))
	}
	b.screenshot("section-open")
	if s := b.click(grant + " button[type=submit]"); s != 200 || b.notice() != "The section is closed; it asks for a confirmation again." {
		t.Fatalf("End now = %d, notice %q, error %q", s, b.notice(), b.text("#eg-error"))
	}
	if b.exists(grant) || b.text(`[data-section="sections"] .eg-hint`) != "No protected section is open." {
		t.Fatalf("after End now: %q", b.text(`[data-section="sections"]`))
	}
	if settings() {
		t.Fatal("after End now /settings opened without a confirmation")
	}
	b.click(".eg-cancel button")
}
