package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// actionTimeout bounds every browser action of a test.
const actionTimeout = 20 * time.Second

// docScreenshots are the screenshots -update-screenshots writes to
// docs/screenshots/.
var docScreenshots = map[string]bool{
	"choose-method": true, "enum-question": true, "wrong-answer": true, "russian": true, "mobile": true,
}

// tab is one browser tab acting as one user.
type tab struct {
	t    *testing.T
	ctx  context.Context
	user user
	base string // the gateway

	mu      sync.Mutex
	console []string // CSP violations and script errors seen
}

type tabOptions struct {
	lang     string // Accept-Language; default "en"
	noScript bool   // run with JavaScript off
	mobile   bool   // a phone's viewport
	base     string // the gateway; default env.gw
}

// newTab opens a tab in the shared browser for a new test user.
func newTab(t *testing.T, o tabOptions) *tab {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	if o.lang == "" {
		o.lang = "en"
	}
	if o.base == "" {
		o.base = env.gw
	}
	ctx, cancel := chromedp.NewContext(env.browser)
	t.Cleanup(cancel)
	// The first Do opens the tab; it has no timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	b := &tab{t: t, ctx: ctx, user: newUser(t), base: o.base}
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
	b.setLanguage(o.lang)
	if o.noScript {
		b.call(func(ctx context.Context) error {
			_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		})
	}
	if o.mobile {
		b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)))
	}
	return b
}

// setLanguage sets the tab's Accept-Language (and its login).
func (b *tab) setLanguage(lang string) {
	b.t.Helper()
	b.call(func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{
			"Authorization": basicAuth(b.user.ID), "Accept-Language": lang,
		}})
		return err
	})
}

func (b *tab) call(f func(ctx context.Context) error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		b.t.Fatal(err)
	}
}

// do runs actions.
func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.call(func(ctx context.Context) error { return chromedp.Do(ctx, actions...) })
}

// load runs actions that load a page and returns the page's status.
func (b *tab) load(actions ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	var status int64
	b.call(func(ctx context.Context) error {
		resp, err := chromedp.RunResponse(ctx, actions...)
		if resp != nil {
			status = resp.Status
		}
		return err
	})
	return status
}

// open loads a path of the gateway and returns the status.
func (b *tab) open(path string) int64 {
	b.t.Helper()
	var status int64
	b.call(func(ctx context.Context) error {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
		if resp != nil {
			status = resp.Status
		}
		return err
	})
	return status
}

// click clicks the element and waits for the page it loads; it returns
// the page's status.
func (b *tab) click(css string) int64 {
	b.t.Helper()
	return b.load(chromedp.Click(chromedp.CSS(css)))
}

// eval evaluates a JavaScript expression and decodes its value into v.
func (b *tab) eval(expr string, v any) {
	b.t.Helper()
	b.call(func(ctx context.Context) error {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
		if err != nil {
			return fmt.Errorf("evaluating %s: %w", expr, err)
		}
		return json.Unmarshal(raw, v)
	})
}

// text returns the trimmed text content of the first element that
// matches css, or "" if none does.
func (b *tab) text(css string) string {
	b.t.Helper()
	var s string
	b.eval(fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, css), &s)
	return strings.Join(strings.Fields(s), " ")
}

// attr returns an attribute of the first element that matches css.
func (b *tab) attr(css, name string) string {
	b.t.Helper()
	var s string
	b.eval(fmt.Sprintf(`((e)=>e&&e.getAttribute(%q)||"")(document.querySelector(%q))`, name, css), &s)
	return s
}

func (b *tab) exists(css string) bool {
	b.t.Helper()
	var ok bool
	b.eval(fmt.Sprintf(`!!document.querySelector(%q)`, css), &ok)
	return ok
}

// visible reports whether the element is rendered (not hidden).
func (b *tab) visible(css string) bool {
	b.t.Helper()
	var ok bool
	b.eval(fmt.Sprintf(`((e)=>!!e&&e.getClientRects().length>0)(document.querySelector(%q))`, css), &ok)
	return ok
}

// path is the current page's path.
func (b *tab) path() string {
	b.t.Helper()
	var s string
	b.eval(`location.pathname`, &s)
	return s
}

// waitFor polls a JavaScript condition until it holds.
func (b *tab) waitFor(expr string, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var ok bool
		b.eval(expr, &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.screenshot("timeout")
			b.t.Fatalf("after %s still not %s", within, expr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot saves the page as name.png in the test's temporary
// directory, in $ENUMGATE_SCREENSHOT_DIR if set, and in docs/screenshots
// when asked to and name is one of docScreenshots.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	var png []byte
	b.call(func(ctx context.Context) error {
		var err error
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		return err
	})
	p := filepath.Join(b.t.TempDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", p)
	if dir := os.Getenv("ENUMGATE_SCREENSHOT_DIR"); dir != "" {
		// Keep every screenshot for a look after the run.
		if err := os.WriteFile(filepath.Join(dir, b.t.Name()+"-"+name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	if *updateScreenshots && docScreenshots[name] {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// Operations of the demo app: the form of its home page to submit.
const (
	transfer      = `form[action="/transfer"] button`
	withdrawal    = `form[action="/withdraw"] button`
	correspondent = `form[action="/correspondents"] button`
)

// start submits one of the demo's operations from its home page and
// checks that the challenge page holds it.
func (b *tab) start(op string) {
	b.t.Helper()
	if s := b.open("/"); s != 200 {
		b.t.Fatalf("demo home = %d", s)
	}
	if s := b.click(op); s != 200 {
		b.t.Fatalf("submitting %s = %d, want the challenge page", op, s)
	}
	if p := b.path(); !strings.HasPrefix(p, "/.enumgate/challenge/") {
		b.t.Fatalf("after submitting %s the page is %s, want the challenge page", op, p)
	}
}

// choose picks a confirmation method on the challenge page.
func (b *tab) choose(method string) int64 {
	b.t.Helper()
	return b.click(fmt.Sprintf(`.eg-methods button[data-method=%q]`, method))
}

// answer types an answer and submits it; it returns the status.
func (b *tab) answer(a string) int64 {
	b.t.Helper()
	b.do(chromedp.SendKeys(chromedp.ID("answer"), a))
	return b.click(`.eg-answer button[type=submit]`)
}

// question returns the E-num question the page shows.
func (b *tab) question() string {
	b.t.Helper()
	q := b.attr("#question", "data-question")
	if q == "" {
		b.screenshot("no-question")
		b.t.Fatal("the page shows no E-num question")
	}
	if u := b.attr("#question", "data-uri"); u != "" {
		shownURIs.Store(q, u)
	}
	return q
}

// confirmed checks the page is the demo's receipt, confirmed by method.
func (b *tab) confirmed(status int64, by string) {
	b.t.Helper()
	if status != 200 || !strings.HasPrefix(b.path(), "/receipt/") {
		b.screenshot("not-confirmed")
		b.t.Fatalf("after the answer: status %d, page %s, want the receipt", status, b.path())
	}
	if got := b.text(".receipt"); !strings.Contains(got, "Confirmed by "+by) {
		b.t.Fatalf("receipt = %q, want confirmed by %s", got, by)
	}
}
