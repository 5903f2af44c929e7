package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/chromedp/chromedp"

	"github.com/enumgate/enumgate/caddymodule"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
)

// The customer's account (/.enumgate/account) in real Chromium: dave
// registers and activates a device, a second e-mail address comes and
// goes, notification switches are saved, and a lost device goes through
// support and back to "set up".

// dave is the demo's customer without a device (demo/users.json).
var dave = user{ID: "dave", Phone: "+79000000004", Email: "dave@example.test"}

// goEnv is the environment the go tool ran the tests with, before
// TestMain pointed HOME and XDG_* at a temporary directory: `go build`
// finds its warm cache there.
var goEnv = func() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "ENUM_CONFIG_DIR" {
			env = append(env, kv)
		}
	}
	return env
}()

// newTabFor is newTab for a given user (such as the demo's dave) rather
// than the next test user.
func newTabFor(t *testing.T, u user, o tabOptions) *tab {
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
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	b := &tab{t: t, ctx: ctx, user: u, base: o.base}
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
	return b
}

// enumCLI is the E-num app of cmd/enum, built from this module, with a
// device store of its own.
type enumCLI struct {
	t        *testing.T
	bin, dir string
	buildErr error
}

// buildEnum builds cmd/enum for the test in the background; the app
// comes out of the channel where it is needed (a failed build fails the
// test at its first run).
func buildEnum(t *testing.T) <-chan *enumCLI {
	t.Helper()
	e := &enumCLI{t: t, bin: filepath.Join(t.TempDir(), "enum"), dir: t.TempDir()}
	ready := make(chan *enumCLI, 1)
	go func() {
		defer func() { ready <- e }()
		goTool, err := exec.LookPath("go")
		if err != nil {
			e.buildErr = fmt.Errorf("the go tool is needed to build cmd/enum: %w", err)
			return
		}
		cmd := exec.Command(goTool, "build", "-o", e.bin, "github.com/enumgate/enumgate/cmd/enum")
		cmd.Env = goEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			e.buildErr = fmt.Errorf("go build ./cmd/enum: %w\n%s", err, out)
		}
	}()
	return ready
}

// run runs `enum ARGS…` and returns its standard output, trimmed.
func (e *enumCLI) run(args ...string) string {
	e.t.Helper()
	if e.buildErr != nil {
		e.t.Fatal(e.buildErr)
	}
	cmd := exec.Command(e.bin, args...)
	cmd.Env = append(goEnv, "ENUM_CONFIG_DIR="+e.dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("enum %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// inbox counts the messages the demo phone has for to, so a later
// nextCode waits for a new one.
func inbox(t *testing.T, to string) int {
	t.Helper()
	return len(messages(t, to))
}

// nextCode waits for a message to to after the first seen ones that
// carries a code, and returns the newest such code (the account's
// security notices go to the same address and carry none).
func nextCode(t *testing.T, to string, seen int) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		msgs := messages(t, to)
		for _, m := range msgs[:max(len(msgs)-seen, 0)] {
			if m.Code != "" {
				return m.Code
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new code to %s after %d messages: %+v", to, seen, msgs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// account opens the account page.
func (b *tab) account() {
	b.t.Helper()
	if s := b.open("/.enumgate/account"); s != 200 {
		b.screenshot("account")
		b.t.Fatalf("the account page = %d", s)
	}
}

// notice is the account page's notice after a form, "" if none.
func (b *tab) notice() string {
	b.t.Helper()
	return b.text("#eg-notice")
}

// held checks that a change was held: the challenge page for op.
func (b *tab) held(status int64, op string) {
	b.t.Helper()
	if status != 200 || !strings.HasPrefix(b.path(), "/.enumgate/challenge/") {
		b.screenshot("not-held")
		b.t.Fatalf("the change = %d at %s, want the challenge page", status, b.path())
	}
	if got := b.text(".eg-summary"); !strings.Contains(got, op) {
		b.t.Fatalf("the challenge page confirms %q, want %q", got, op)
	}
}

// confirmWithEnum answers the challenge page with E-num (the test
// users' device) and returns the status of the answer's page. The page
// starts with E-num at once when the user confirmed with it before.
func (b *tab) confirmWithEnum() int64 {
	b.t.Helper()
	if !b.exists("#question") {
		if s := b.choose("enum"); s != 200 {
			b.t.Fatalf("choosing E-num = %d", s)
		}
	}
	return b.answer(enumAnswer(b.t, b.question()))
}

// getJSON opens a path of the gateway's JSON API in the tab (the tab's
// login, its cookies; the pages' CSP allows no fetch) and decodes it.
func (b *tab) getJSON(path string, v any) {
	b.t.Helper()
	if s := b.open(path); s != 200 {
		b.t.Fatalf("GET %s = %d: %s", path, s, b.text("body"))
	}
	var raw string
	b.eval(`document.body.innerText`, &raw)
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		b.t.Fatalf("GET %s: %v: %s", path, err, raw)
	}
}

// methods are the methods the challenge page offers.
func (b *tab) methods() []string {
	b.t.Helper()
	var m []string
	b.eval(`[...document.querySelectorAll(".eg-methods button")].map(e => e.dataset.method)`, &m)
	return m
}

// TestDaveRegistersAndActivatesADevice is the registration of issue 11:
// dave, whom the bank knows but who has no device, verifies his phone
// and e-mail with the codes sent to them, sets up the E-num app (the
// change confirmed by SMS), enrols it from the page's QR image with
// cmd/enum, answers the activation question, and confirms a transfer
// with the new key.
func TestDaveRegistersAndActivatesADevice(t *testing.T) {
	t.Parallel()
	b := newTabFor(t, dave, tabOptions{})
	built := buildEnum(t) // meanwhile, the browser works

	b.account()
	if !b.exists(`[data-section="registration"]`) || !b.exists(`[data-device="none"]`) {
		b.screenshot("dave-account")
		t.Fatalf("dave's account does not ask him to register: %q", b.text("main"))
	}
	if got := b.text(".eg-phone"); !strings.Contains(got, "on file, not verified") {
		t.Fatalf("phone = %q, want dave's number on file", got)
	}
	b.screenshot("register")

	// Phone and e-mail: on file, so a code is sent without a challenge.
	for _, c := range []struct{ form, value string }{{"phone", dave.Phone}, {"email", dave.Email}} {
		seen := inbox(t, c.value)
		b.do(chromedp.SendKeys(chromedp.ID(c.form), c.value))
		if s := b.click(fmt.Sprintf(`form[data-form=%q] button[type=submit]`, c.form)); s != 200 || b.path() != "/.enumgate/account" {
			t.Fatalf("sending the %s code = %d at %s", c.form, s, b.path())
		}
		if b.notice() != "We sent a code. Enter it below." || !b.exists(`[data-section="verify"] #code`) {
			b.screenshot("no-verify-form")
			t.Fatalf("after sending the %s code: notice %q", c.form, b.notice())
		}
		b.do(chromedp.SendKeys(chromedp.ID("code"), nextCode(t, c.value, seen)))
		if s := b.click(`[data-section="verify"] button[type=submit]`); s != 200 || b.notice() != "Verified." {
			t.Fatalf("verifying the %s = %d, notice %q, error %q", c.form, s, b.notice(), b.text("#eg-error"))
		}
	}
	if got := b.text(".eg-phone"); got != dave.Phone {
		t.Fatalf("verified phone shown as %q", got)
	}
	if got := b.text(`[data-email="dave@example.test"]`); !strings.Contains(got, "primary") {
		t.Fatalf("verified address shown as %q", got)
	}

	// Setting up the device is a change: confirmed by SMS, the only
	// method dave has; the answer's page shows the enrolment once.
	if got := b.text("#eg-enroll"); got != "Set up the E-num app" {
		t.Fatalf("device button = %q", got)
	}
	b.held(b.click("#eg-enroll"), "Set up an E-num device")
	if m := b.methods(); strings.Join(m, " ") != "sms email" {
		t.Fatalf("methods to confirm the set-up = %v, want sms email (no device yet)", m)
	}
	seen := inbox(t, dave.Phone)
	if s := b.choose("sms"); s != 200 {
		t.Fatalf("choosing SMS = %d", s)
	}
	code := nextCode(t, dave.Phone, seen)
	seen = inbox(t, dave.Phone)
	if s := b.answer(code); s != 200 || !b.exists(".eg-enrollment") {
		b.screenshot("no-enrolment")
		t.Fatalf("after the SMS code = %d at %s: %q", s, b.path(), b.text("main"))
	}
	b.screenshot("enrolment")
	uri := b.scanQR()
	if shown := b.text(".eg-enroll-uri"); uri != shown || !strings.HasPrefix(uri, "enumgate://enroll?") {
		t.Fatalf("QR code = %q, link on the page = %q", uri, shown)
	}
	if e, err := enroll.Parse(uri); err != nil || e.Account != "dave" {
		t.Fatalf("the enrolment URI %q: %+v, %v", uri, e, err)
	}
	q := b.attr("#question", "data-question")
	// The question is also the activation code sent by SMS.
	if got := nextCode(t, dave.Phone, seen); got != q {
		t.Fatalf("activation code by SMS = %q, question on the page = %q", got, q)
	}

	enum := <-built
	if out := enum.run("enroll", uri); !strings.Contains(out, "enrolled") || !strings.Contains(out, "dave") {
		t.Fatalf("enum enroll: %q", out)
	}
	a := enum.run("answer", "--account", "dave", q)
	b.do(chromedp.SendKeys(chromedp.ID("answer"), a))
	if s := b.click(`.eg-enrollment button[type=submit]`); s != 200 || b.path() != "/.enumgate/account" {
		t.Fatalf("activating = %d at %s", s, b.path())
	}
	if got := b.notice(); got != "Your E-num app is active. Use it to confirm operations." {
		t.Fatalf("after activating: notice %q, error %q", got, b.text("#eg-error"))
	}
	if got := b.text(".eg-device"); !strings.HasPrefix(got, "Active: ") {
		t.Fatalf("device = %q, want active", got)
	}
	if b.exists(`[data-section="registration"]`) || b.text("#eg-enroll") != "Replace the device" {
		t.Fatalf("after activation the page still asks to register (button %q)", b.text("#eg-enroll"))
	}
	b.screenshot("active")

	// The new key confirms a transfer (payment mode: `enum answer URI`).
	b.start(transfer)
	if m := b.methods(); len(m) == 0 || m[0] != "enum" {
		t.Fatalf("methods for dave's transfer = %v, want E-num first", m)
	}
	b.choose("enum")
	b.question()
	b.confirmed(b.answer(enum.run("answer", b.attr("#question", "data-uri"))), "E-num")
}

// TestSecondEmailAddress: the address on file is verified by a code; a
// second one is added (the change confirmed by a challenge, the address
// by the code sent to it), made primary, and removed again once the
// first is primary once more.
func TestSecondEmailAddress(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	second := b.user.ID + ".work@example.test"
	b.account()
	if got := b.text(fmt.Sprintf(`[data-email=%q]`, b.user.Email)); !strings.Contains(got, "primary") {
		t.Fatalf("the address on file = %q", got)
	}
	verify := func(code string) int64 {
		t.Helper()
		b.do(chromedp.SendKeys(chromedp.ID("code"), code))
		return b.click(`[data-section="verify"] button[type=submit]`)
	}

	// The address on file: a code, no challenge (only a verified address
	// can be made primary again later).
	seen := inbox(t, b.user.Email)
	b.do(chromedp.SendKeys(chromedp.ID("email"), b.user.Email))
	if s := b.click(`form[data-form="email"] button[type=submit]`); s != 200 || b.notice() != "We sent a code. Enter it below." {
		t.Fatalf("a code to the address on file = %d at %s, error %q", s, b.path(), b.text("#eg-error"))
	}
	if s := verify(nextCode(t, b.user.Email, seen)); s != 200 || b.notice() != "Verified." {
		t.Fatalf("verifying the address on file = %d, error %q", s, b.text("#eg-error"))
	}

	// A new address: the change is held first.
	seen = inbox(t, second)
	b.do(chromedp.SendKeys(chromedp.ID("email"), second))
	b.held(b.click(`form[data-form="email"] button[type=submit]`), "Change your contacts")
	if s := b.confirmWithEnum(); s != 200 || b.path() != "/.enumgate/account" || b.notice() != "We sent a code. Enter it below." {
		b.screenshot("second-email")
		t.Fatalf("after confirming = %d at %s, notice %q, error %q", s, b.path(), b.notice(), b.text("#eg-error"))
	}
	// A wrong code says so and adds nothing; the right one verifies.
	code := nextCode(t, second, seen)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if s := verify(wrong); s != 422 || b.attr("[data-error]", "data-error") != "wrong_code" || !strings.Contains(b.text("#eg-error"), "Attempts left: 2.") {
		t.Fatalf("a wrong code = %d %q %q", s, b.attr("[data-error]", "data-error"), b.text("#eg-error"))
	}
	if b.exists(fmt.Sprintf(`[data-email=%q]`, second)) {
		t.Fatal("the address is listed before it was verified")
	}
	b.load(chromedp.NavigateBack())
	if !b.exists(`[data-section="verify"] #code`) {
		b.screenshot("verify-again")
		t.Fatalf("back at %s without the code form", b.path())
	}
	if s := verify(code); s != 200 || b.notice() != "Verified." {
		t.Fatalf("the right code = %d, notice %q, error %q", s, b.notice(), b.text("#eg-error"))
	}
	var listed []string
	b.eval(`[...document.querySelectorAll(".eg-emails li")].map(e => e.dataset.email)`, &listed)
	if strings.Join(listed, " ") != b.user.Email+" "+second || !strings.Contains(b.text(fmt.Sprintf(`[data-email=%q]`, second)), "Make primary") {
		t.Fatalf("addresses = %v (%q), want the first (primary) and the second", listed, b.text(".eg-emails"))
	}

	// Make it primary, then the first again: each a confirmed change.
	for _, addr := range []string{second, b.user.Email} {
		b.held(b.click(fmt.Sprintf(`[data-email=%q] input[value="make_primary"] ~ button`, addr)), "Change the primary e-mail address")
		if s := b.confirmWithEnum(); s != 200 || b.notice() != "The primary address was changed." {
			t.Fatalf("making %s primary = %d, notice %q, error %q", addr, s, b.notice(), b.text("#eg-error"))
		}
		if got := b.text(fmt.Sprintf(`[data-email=%q]`, addr)); !strings.Contains(got, "primary") || strings.Contains(got, "Make primary") {
			t.Fatalf("%s after making it primary: %q", addr, got)
		}
		b.eval(`[...document.querySelectorAll(".eg-emails li")].map(e => e.dataset.email)`, &listed)
		if listed[0] != addr {
			t.Fatalf("addresses = %v, want the primary %s first", listed, addr)
		}
		if addr == second {
			b.screenshot("second-primary")
		}
	}

	b.held(b.click(fmt.Sprintf(`[data-email=%q] input[value="remove_email"] ~ button`, second)), "Remove an e-mail address")
	if s := b.confirmWithEnum(); s != 200 || b.notice() != "The address was removed." {
		t.Fatalf("removing = %d, notice %q, error %q", s, b.notice(), b.text("#eg-error"))
	}
	b.eval(`[...document.querySelectorAll(".eg-emails li")].map(e => e.dataset.email)`, &listed)
	if strings.Join(listed, " ") != b.user.Email {
		t.Fatalf("addresses after removing = %v", listed)
	}
}

// switches are the account page's notification checkboxes.
type switches struct{ Confirmed, Rejected, Additional bool }

func (b *tab) switches() switches {
	b.t.Helper()
	var s switches
	b.eval(`({Confirmed: document.getElementById("n-confirmed").checked, Rejected: document.getElementById("n-rejected").checked,
		Additional: document.getElementById("n-additional").checked})`, &s)
	return s
}

// TestNotificationSwitches: the switches start at confirmed and rejected
// operations to the primary address; saving others is confirmed by a
// challenge, and they are kept (page and API) after a reload.
func TestNotificationSwitches(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	b.account()
	if got := b.switches(); got != (switches{Confirmed: true, Rejected: true}) {
		t.Fatalf("default switches = %+v", got)
	}
	b.do(chromedp.Click(chromedp.ID("n-confirmed")), chromedp.Click(chromedp.ID("n-additional")))
	b.held(b.click(`[data-section="notifications"] button[type=submit]`), "Change notification settings")
	if s := b.confirmWithEnum(); s != 200 || b.notice() != "Your notification settings were saved." {
		t.Fatalf("saving = %d at %s, notice %q, error %q", s, b.path(), b.notice(), b.text("#eg-error"))
	}
	want := switches{Rejected: true, Additional: true}
	if got := b.switches(); got != want {
		t.Fatalf("switches after saving = %+v, want %+v", got, want)
	}
	b.load(chromedp.Reload())
	if got := b.switches(); got != want {
		t.Fatalf("switches after a reload = %+v, want %+v", got, want)
	}
	var api map[string]bool
	b.getJSON("/.enumgate/api/account/notifications", &api)
	if !(api["confirmed"] == false && api["rejected"] && api["additional_addresses"]) {
		t.Fatalf("the API's switches = %v", api)
	}
	b.account()
	b.screenshot("notifications")

	// Switches not confirmed are not saved.
	b.do(chromedp.Click(chromedp.ID("n-rejected")))
	b.held(b.click(`[data-section="notifications"] button[type=submit]`), "Change notification settings")
	b.click(".eg-cancel button")
	b.account()
	if got := b.switches(); got != want {
		t.Fatalf("switches after a cancelled change = %+v, want %+v", got, want)
	}
}

// adminAPI is the gateway's admin API (admin.api.enumgate), which
// `enumgate recovery` calls, served on a listener of the test's own: the
// harness runs Caddy with admin off.
func adminAPI(t *testing.T) *httptest.Server {
	t.Helper()
	mod, err := caddy.GetModule("admin.api.enumgate")
	if err != nil {
		t.Fatal(err)
	}
	a := mod.New().(*caddymodule.AdminAPI)
	if err := a.Provision(caddy.ActiveContext()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, r := range a.Routes() {
		mux.HandleFunc(r.Pattern, func(w http.ResponseWriter, req *http.Request) {
			if err := r.Handler.ServeHTTP(w, req); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// adminDo calls the admin API and decodes its JSON answer into out.
func adminDo(t *testing.T, srv *httptest.Server, method, path string, body, out any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e map[string]any
		json.NewDecoder(resp.Body).Decode(&e)
		t.Fatalf("admin %s %s = %d %v", method, path, resp.StatusCode, e)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("admin %s %s: %v", method, path, err)
	}
}

// TestLostDeviceRecovery is the recovery round trip: the customer says
// "I lost my device"; the request waits for support and changes nothing;
// the operator closes it with a reset on the admin API; the account page
// shows no device and offers the set-up again, which can no longer be
// confirmed with the old device.
func TestLostDeviceRecovery(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	admin := adminAPI(t)
	b.account()
	if !b.exists(".eg-device") {
		t.Fatal("the test user has no device to lose")
	}
	b.do(chromedp.SendKeys(chromedp.ID("reason"), "phone stolen"))
	if s := b.click(`[data-section="recovery"] button[type=submit]`); s != 200 || b.notice() != "Your request was sent to support." {
		t.Fatalf("I lost my device = %d, notice %q, error %q", s, b.notice(), b.text("#eg-error"))
	}
	id := b.attr("[data-recovery]", "data-recovery")
	if id == "" || !strings.Contains(b.text("[data-recovery]"), id) {
		t.Fatalf("the page names no request: %q", b.text(`[data-section="recovery"]`))
	}
	if !b.exists(".eg-device") {
		t.Fatal("an open request removed the device before support did")
	}
	b.screenshot("recovery-open")

	// The operator sees it (`enumgate recovery list`) and closes it with
	// a reset (`enumgate recovery close ID --reset-device`).
	var list caddymodule.Recoveries
	adminDo(t, admin, "GET", "/enumgate/recovery", nil, &list)
	var found *caddymodule.RecoveryInfo
	for i := range list.Requests {
		if list.Requests[i].ID == id {
			found = &list.Requests[i]
		}
	}
	if found == nil || found.User != b.user.ID || found.State != "open" || found.Reason != "phone stolen" {
		t.Fatalf("the operator's list has %+v for %s: %+v", found, id, list.Requests)
	}
	var closed caddymodule.RecoveryInfo
	adminDo(t, admin, "POST", "/enumgate/recovery/"+id+"/close", caddymodule.RecoveryClose{ResetDevice: true, Note: "passport checked"}, &closed)
	if closed.State == "open" || !closed.ResetDevice || closed.Closed == nil {
		t.Fatalf("closed request = %+v", closed)
	}

	b.account()
	if b.exists(".eg-device") || !b.exists(`[data-device="none"]`) {
		t.Fatalf("after the reset the page shows %q", b.text(`[data-section="device"]`))
	}
	if got := b.text("#eg-enroll"); got != "Set up the E-num app" {
		t.Fatalf("device button after the reset = %q", got)
	}
	if b.exists("[data-recovery]") || !b.exists("#reason") {
		t.Fatal("the closed request still shows as open")
	}
	b.screenshot("recovery-reset")
	// The set-up again: confirmed by SMS or e-mail, no longer by E-num.
	b.held(b.click("#eg-enroll"), "Set up an E-num device")
	if m := b.methods(); strings.Join(m, " ") != "sms email" {
		t.Fatalf("methods after the reset = %v, want sms email", m)
	}
	b.click(".eg-cancel button")
}
