package browsertest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/enumgate/enumgate/challenge/ocra/enroll"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
	"github.com/enumgate/enumgate/demo"
	"github.com/enumgate/enumgate/enumapp"
)

// The E-num web app (package enumapp) in real Chromium: the same answers
// as the Go code on every shared vector, a transfer in the demo confirmed
// from the page's QR image, the PIN wipe, offline reload, accessibility.

// aliceEnrolment is the demo's enrolment URI of alice (the README's).
func aliceEnrolment(t *testing.T) string {
	t.Helper()
	key, _ := hex.DecodeString(demo.Users[0].Key)
	uri := enroll.Enrollment{Issuer: "Demo Bank", Account: "alice", Key: key}.URI()
	if _, err := enroll.Parse(uri); err != nil {
		t.Fatal(err)
	}
	return uri
}

// appDocScreenshots are the app's screenshots -update-screenshots writes
// to docs/screenshots/.
var appDocScreenshots = map[string]bool{"app-confirm": true, "app-answer": true, "app-home": true}

// appShot is tab.screenshot plus docs/screenshots/ for the app's names.
func (b *tab) appShot(name string) {
	b.t.Helper()
	b.screenshot(name)
	if !*updateScreenshots || !appDocScreenshots[name] {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// appServer serves the app from its own httptest server: an origin of
// its own, so its IndexedDB and service worker are the test's alone.
func appServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(enumapp.New(""))
	t.Cleanup(srv.Close)
	return srv
}

// newAppTab opens a tab on the E-num app at url (a phone's browser: no
// login, no test user taken) and waits until the app is ready.
func newAppTab(t *testing.T, url, lang string, mobile bool) *tab {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	ctx, cancel := chromedp.NewContext(env.browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	b := &tab{t: t, ctx: ctx, base: url}
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
	if lang == "" {
		lang = "en"
	}
	// The phone's language: navigator.languages, which the app reads.
	b.call(func(ctx context.Context) error {
		v, err := chromedp.Call(ctx, browser.GetVersion, cdp.Empty{})
		if err != nil {
			return err
		}
		_, err = chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: v.UserAgent, AcceptLanguage: lang})
		return err
	})
	if mobile {
		b.do(chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)))
	}
	if s := b.open(""); s != 200 {
		t.Fatalf("the app = %d", s)
	}
	b.waitFor(`document.body.dataset.ready === "true"`, 10*time.Second)
	return b
}

// evalAsync evaluates an expression whose value is a promise.
func (b *tab) evalAsync(expr string, v any) {
	b.t.Helper()
	b.call(func(ctx context.Context) error {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			return fmt.Errorf("evaluating: %w", err)
		}
		return json.Unmarshal(raw, v)
	})
}

// appError is the app's alert, "" if none shows.
func (b *tab) appError() string {
	b.t.Helper()
	if !b.visible("#alert") {
		return ""
	}
	return b.text("#alert")
}

// setValue types text into an empty field.
func (b *tab) setValue(id, text string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`document.getElementById(%q).value = ""`, id), new(string))
	b.do(chromedp.SendKeys(chromedp.ID(id), text))
}

// enrol adds an account from its enrolment URI, pasted.
func (b *tab) enrol(uri string) {
	b.t.Helper()
	b.setValue("enroll-uri", uri)
	b.do(chromedp.Click(chromedp.CSS(`#enroll-form button[type=submit]`)))
	b.waitFor(`document.querySelectorAll("#accounts li").length > 0 || !document.getElementById("alert").hidden`, 5*time.Second)
	if e := b.appError(); e != "" {
		b.t.Fatalf("enrolling: %s", e)
	}
}

// answerTyped answers a typed question and returns the answer shown.
func (b *tab) answerTyped(q, purse, amount string) string {
	b.t.Helper()
	b.setValue("question", q)
	b.setValue("purse", purse)
	b.setValue("amount", amount)
	b.do(chromedp.Click(chromedp.CSS(`#question-form button[type=submit]`)))
	return b.confirmAndRead()
}

// confirmAndRead waits for the confirmation, accepts it and returns the
// answer shown.
func (b *tab) confirmAndRead() string {
	b.t.Helper()
	b.waitFor(`!document.getElementById("confirm").hidden || !document.getElementById("alert").hidden`, 10*time.Second)
	if e := b.appError(); e != "" {
		b.t.Fatalf("the app: %s", e)
	}
	b.do(chromedp.Click(chromedp.ID("show-answer")))
	b.waitFor(`!document.getElementById("result").hidden`, 5*time.Second)
	a := b.attr("#answer", "data-answer")
	if shown := b.text("#answer"); strings.ReplaceAll(shown, " ", "") != a || len(a) == 8 && shown != a[:4]+" "+a[4:] {
		b.t.Fatalf("answer %q shown as %q, want it grouped", a, shown)
	}
	return a
}

// TestEnumAppAgreesWithGoOnSharedVectors runs the app's JavaScript (its
// ocra.js module, as served) against the vectors the Go tests read: all
// of RFC 6287 Appendix C and the payment-mode vectors, and parses the
// same URIs, purses and amounts as the Go code, accepting and refusing
// alike.
func TestEnumAppAgreesWithGoOnSharedVectors(t *testing.T) {
	t.Parallel()
	b := newAppTab(t, appServer(t).URL+"/", "", false)
	load := func(p string) string {
		raw, err := os.ReadFile(filepath.Join("..", "..", p))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}

	var rfc []struct{ Name, Got, GotHash, Want, Error string }
	b.evalAsync(`(async (f) => {
		const m = await import(new URL("ocra.js", location.href));
		const out = [];
		for (const v of f.vectors) {
			try {
				const su = m.parseSuite(v.suite);
				const input = { question: v.question, mutual: !!v.mutual };
				if (v.counter) input.counter = BigInt(v.counter);
				if (v.pin) input.pin = v.pin;
				if (v.timestamp) input.timestamp = BigInt("0x" + v.timestamp);
				const got = await m.compute(su, m.hex(v.key_hex), input);
				let gotHash = got;
				if (v.pin_hash_hex) gotHash = await m.compute(su, m.hex(v.key_hex), { ...input, pin: "", pinHash: m.hex(v.pin_hash_hex) });
				out.push({ Name: v.name, Got: got, GotHash: gotHash, Want: v.answer });
			} catch (e) { out.push({ Name: v.name, Error: String(e), Want: v.answer }); }
		}
		return out;
	})(`+load("challenge/ocra/ocratest/testdata/rfc6287.json")+`)`, &rfc)
	if len(rfc) != 70 {
		t.Fatalf("%d RFC 6287 vectors computed, want 70", len(rfc))
	}
	for _, v := range rfc {
		if v.Error != "" || v.Got != v.Want || v.GotHash != v.Want {
			t.Errorf("RFC 6287 %s: JS %q (pin hash %q) %s, want %s", v.Name, v.Got, v.GotHash, v.Error, v.Want)
		}
	}

	type payResult struct {
		Name, Purse, Amount, Suite, Session, SessionHex, Answer, Auth, Error string
	}
	var pay []payResult
	b.evalAsync(`(async (f) => {
		const m = await import(new URL("ocra.js", location.href));
		const out = [];
		for (const v of f.vectors) {
			try {
				const su = m.parseSuite(v.suite);
				const input = { question: v.question };
				if (v.pin) input.pin = v.pin;
				if (v.timestamp) input.timestamp = BigInt("0x" + v.timestamp);
				const p = await m.preparePayment(v.purse, v.amount);
				out.push({ Name: v.name, Purse: p.purse, Amount: p.amount, Suite: m.paymentSuite(su).str,
					Session: new TextDecoder().decode(p.session), SessionHex: m.toHex(p.session),
					Answer: await m.paymentAnswer(su, m.hex(v.key_hex), input, v.purse, v.amount),
					Auth: await m.compute(su, m.hex(v.key_hex), input) });
			} catch (e) { out.push({ Name: v.name, Error: String(e) }); }
		}
		return out;
	})(`+load("challenge/ocra/payment/testdata/vectors.json")+`)`, &pay)
	var file struct {
		Vectors []struct {
			Name, Answer        string
			NormalizedPurse     string `json:"normalized_purse"`
			NormalizedAmount    string `json:"normalized_amount"`
			PaymentSuite        string `json:"payment_suite"`
			Session             string
			SessionHex          string `json:"session_hex"`
			AuthorizationAnswer string `json:"authorization_answer"`
		}
	}
	if err := json.Unmarshal([]byte(load("challenge/ocra/payment/testdata/vectors.json")), &file); err != nil {
		t.Fatal(err)
	}
	if len(pay) != len(file.Vectors) || len(pay) == 0 {
		t.Fatalf("%d payment vectors computed, want %d", len(pay), len(file.Vectors))
	}
	for i, v := range file.Vectors {
		want := payResult{Name: v.Name, Purse: v.NormalizedPurse, Amount: v.NormalizedAmount, Suite: v.PaymentSuite,
			Session: v.Session, SessionHex: v.SessionHex, Answer: v.Answer, Auth: v.AuthorizationAnswer}
		if pay[i] != want {
			t.Errorf("payment vector %q:\n JS  %+v\n Go  %+v", v.Name, pay[i], want)
		}
	}

	// Parsing: the same inputs accepted or refused, with the same values.
	uris := []string{
		"enum:login?challenge=48172203", "enum:l?c=4817+2203", "enum:l?c=4817-2203", "ENUM:LOGIN?challenge=1",
		"enum:payment?challenge=48172203&purse=Z123456789012&amount=10.00", "enum:p?c=1&p=z%20123-456&a=0%2C50",
		"enum:p?a=7.&c=12&p=A12345", "enum:login", "enum:login?", "enum:sign?c=1", "enum://login?challenge=1",
		"enum:/login?challenge=1", "enum:l?c=1#x", "enum:l?c=1&c=2", "enum:l?c=1&&", "enum:l?challenge=1",
		"enum:p?c=1&p=Z1", "enum:p?c=1&p=Z1&a=1e3", "enum:p?c=1&p=Z1&a=-1", "enum:p?c=1&p=Z/1&a=1", "enum:l?c=%zz",
		"enum:l?c=1;x", "enum:l?c=", "enum:l?c=12.3", "enumgate://enroll?secret=AA", "enum:l?c=" + strings.Repeat("1", 65),
		"enum:p?c=1&p=" + strings.Repeat("1", 65) + "&a=1", "enum:p?c=1&p=1&a=" + strings.Repeat("1", 31), "enum:l?c=1&x=2",
		"enum:l?c=4817 2203", "enum:l?c=4817%202203", "enum:p?c=1&p=Z%D0%96&a=1", "enum:p?c=1&p=Z1&a=%201.50%20", "enum:p?c=1&p=Z1&a=,5",
		"enum:P?c=1&p=Z1&a=1", "enum:l?=1", "enum:l?c", "enum:l?c=1&", "enum:l?c=1\x00", "enum:p?c=1&p=&a=1",
	}
	enrolments := []string{
		aliceEnrolment(t), "enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=Example+Bank&account=alice",
		"enumgate://ENROLL/?secret=gezdgnbvgy3tqojqgezdgnbvgy&issuer=B&account=a%3Ab&suite=OCRA-1%3AHOTP-SHA1-6%3AQN08-T1M",
		"enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B", "enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B:C&account=a",
		"enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGZ&issuer=B&account=a", "enumgate://enroll?secret=GEZDGNBVGY3TQOJQ&issuer=B&account=a",
		"enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a&counter=1", "enumgate:enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a",
		"enumgate://enroll:80?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a", "enumgate://other?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a",
		"enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=+B&account=a", "enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a&suite=",
		"enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a&suite=OCRA-1:HOTP-SHA1-3:QN08", "enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY%3D&issuer=B&account=a",
		"enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a#f", "enumgate://enroll/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a",
		"enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=%D0%91%D0%B0%D0%BD%D0%BA&account=%C3%A9",
		"enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B%01&account=a", "enumgate://u@enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a",
		"enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=B&account=a&issuer=C", "enumgate://enroll?secret=&issuer=B&account=a",
	}
	var js struct {
		URIs, Enrolments []string
	}
	in, _ := json.Marshal(map[string][]string{"uris": uris, "enrolments": enrolments})
	b.evalAsync(`(async (f) => {
		const m = await import(new URL("ocra.js", location.href));
		const tryIt = (g) => { try { return g(); } catch (e) { return "error"; } };
		return {
			URIs: f.uris.map((u) => tryIt(() => { const q = m.parseQuestionURI(u); return [q.mode, q.challenge, q.purse, q.amount].join("|"); })),
			Enrolments: f.enrolments.map((u) => tryIt(() => { const e = m.parseEnrollURI(u); return [e.issuer, e.account, e.suite, m.toHex(e.key)].join("|"); })),
		};
	})(`+string(in)+`)`, &js)
	for i, u := range uris {
		want := "error"
		if q, err := payment.ParseURI(u); err == nil {
			want = strings.Join([]string{string(q.Mode), q.Challenge, q.Purse, q.Amount}, "|")
		}
		if js.URIs[i] != want {
			t.Errorf("question URI %q: JS %q, Go %q", u, js.URIs[i], want)
		}
	}
	for i, u := range enrolments {
		want := "error"
		if e, err := enroll.Parse(u); err == nil {
			want = strings.Join([]string{e.Issuer, e.Account, e.Suite, hex.EncodeToString(e.Key)}, "|")
		}
		if js.Enrolments[i] != want {
			t.Errorf("enrolment URI %q: JS %q, Go %q", u, js.Enrolments[i], want)
		}
	}
}

// qrImage photographs the gateway page's QR code into a PNG file, as a
// phone's screenshot of the page would be.
func (b *tab) qrImage() string {
	b.t.Helper()
	var shot []byte
	b.call(func(ctx context.Context) error {
		var err error
		shot, err = chromedp.Run(ctx, chromedp.ScreenshotScale(chromedp.CSS(".eg-qr"), 2))
		return err
	})
	p := filepath.Join(b.t.TempDir(), "question-qr.png")
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// TestEnumAppConfirmsATransferFromTheQRImage is the whole path with only
// a browser: the app at the demo's /app enrols alice from her enrolment
// URI, reads the challenge page's QR image through its file input, shows
// what is confirmed in large type, and its answer confirms the transfer.
func TestEnumAppConfirmsATransferFromTheQRImage(t *testing.T) {
	t.Parallel()
	app := newAppTab(t, env.app+"/app/", "", false)
	app.enrol(aliceEnrolment(t))
	if got := app.text("#accounts li .name"); !strings.HasPrefix(got, "Demo Bank: alice") {
		t.Fatalf("accounts = %q", got)
	}
	app.appShot("app-home")

	b := newTab(t, tabOptions{})
	b.start(transfer)
	if s := b.choose("enum"); s != 200 {
		t.Fatalf("choosing E-num = %d", s)
	}
	b.question()
	uri := b.attr("#question", "data-uri")
	img := b.qrImage()

	app.do(chromedp.SetUploadFiles(chromedp.ID("question-file"), []string{img}))
	app.waitFor(`!document.getElementById("confirm").hidden || !document.getElementById("alert").hidden`, 10*time.Second)
	if e := app.appError(); e != "" {
		t.Fatalf("reading the QR image: %s", e)
	}
	if what, amount, payee := app.text("#confirm-what"), app.text("#confirm-amount"), app.text("#confirm-payee"); what != "A payment" || amount != "10.00" || payee != "Z123456789012" {
		t.Fatalf("the app confirms %q, amount %q, payee %q", what, amount, payee)
	}
	var size float64
	app.eval(`parseFloat(getComputedStyle(document.getElementById("confirm-amount")).fontSize)`, &size)
	if size < 24 {
		t.Errorf("the amount is shown at %vpx, want large type", size)
	}
	app.appShot("app-confirm")
	a := app.confirmAndRead()
	if want := uriAnswer(t, uri); a != want {
		t.Fatalf("the app answers %s, Go answers %s", a, want)
	}
	app.appShot("app-answer")
	b.confirmed(b.answer(a), "E-num")
}

// TestEnumAppPINWipe: with a PIN, the keys are sealed in IndexedDB under
// it; wrong PINs are counted across reloads and the third (as chosen)
// wipes every account; a right one in between resets the count.
func TestEnumAppPINWipe(t *testing.T) {
	t.Parallel()
	b := newAppTab(t, appServer(t).URL+"/", "", false)
	b.enrol(aliceEnrolment(t))
	b.setValue("new-pin", "1234")
	b.setValue("new-pin2", "1234")
	b.do(chromedp.SetValue(chromedp.ID("wipe-after"), "3"))
	b.do(chromedp.Click(chromedp.ID("set-pin")))
	b.waitFor(`document.getElementById("pin-state").textContent.includes("after 3 wrong PINs")`, 10*time.Second)

	// What IndexedDB holds: the key sealed, no wrapping key, no raw key.
	var rec struct {
		HasPIN, WrapStored, RawKeyInside bool
		SealedLen, Iterations            int
	}
	b.evalAsync(`new Promise((resolve, reject) => {
		const o = indexedDB.open("enum-app");
		o.onerror = () => reject(o.error);
		o.onsuccess = () => {
			const g = o.result.transaction("kv").objectStore("kv").get("vault");
			g.onsuccess = () => {
				const r = g.result, s = r.accounts[0].sealed;
				const hex = Array.from(s, (x) => x.toString(16).padStart(2, "0")).join("");
				resolve({ HasPIN: !!r.pin, WrapStored: !!r.wrap, RawKeyInside: hex.includes("3132333435363738"),
					SealedLen: s.length, Iterations: r.pin.iterations });
				o.result.close();
			};
		};
	})`, &rec)
	if !rec.HasPIN || rec.WrapStored || rec.RawKeyInside || rec.SealedLen != 12+32+16 || rec.Iterations < 600000 {
		t.Fatalf("IndexedDB holds %+v", rec)
	}

	lock := func() {
		b.do(chromedp.Click(chromedp.ID("lock-now")))
		b.waitFor(`!document.getElementById("lock").hidden`, 5*time.Second)
	}
	unlock := func(pin string) {
		b.setValue("unlock-pin", pin)
		b.eval(`document.getElementById("alert").hidden = true`, new(bool))
		b.do(chromedp.Click(chromedp.CSS(`#unlock-form button[type=submit]`)))
		b.waitFor(`!document.getElementById("alert").hidden || !document.getElementById("home").hidden`, 10*time.Second)
	}
	lock()
	unlock("0000")
	if got := b.appError(); !strings.Contains(got, "Wrong PIN. 2 more wrong PINs") {
		t.Fatalf("after a wrong PIN: %q", got)
	}
	// The count survives a reload: the app opens locked.
	b.load(chromedp.Reload())
	b.waitFor(`document.body.dataset.ready === "true"`, 10*time.Second)
	if !b.visible("#lock") || b.visible("#home") {
		t.Fatal("after a reload the app is not locked")
	}
	unlock("1111")
	if got := b.appError(); !strings.Contains(got, "1 more wrong PIN") {
		t.Fatalf("after two wrong PINs: %q", got)
	}
	unlock("1234")
	if !b.visible("#home") {
		t.Fatalf("the right PIN does not open: %q", b.appError())
	}
	if a := b.answerTyped("4817 2203", "", ""); a != plainAnswer(t, "48172203") {
		t.Fatalf("answer after unlock = %s", a)
	}
	b.do(chromedp.Click(chromedp.ID("done")))
	lock()
	for i := 1; i <= 2; i++ {
		unlock("9999")
		if got := b.appError(); !strings.Contains(got, fmt.Sprintf("%d more", 3-i)) {
			t.Fatalf("wrong PIN %d after a right one: %q (the right PIN did not reset the count)", i, got)
		}
	}
	unlock("9999")
	if got := b.appError(); !strings.Contains(got, "every account and the PIN were wiped") {
		t.Fatalf("third wrong PIN: %q", got)
	}
	if !b.visible("#home") || b.exists("#accounts li") || !strings.Contains(b.text("#pin-state"), "No PIN") {
		t.Fatalf("after the wipe: accounts %q, PIN %q", b.text("#accounts"), b.text("#pin-state"))
	}
}

// TestEnumAppWorksOffline: after the first load the service worker has
// the app; with its server gone, a reload still opens it and it answers.
func TestEnumAppWorksOffline(t *testing.T) {
	t.Parallel()
	srv := appServer(t)
	b := newAppTab(t, srv.URL+"/", "", false)
	b.waitFor(`!!navigator.serviceWorker.controller`, 15*time.Second)
	b.enrol(aliceEnrolment(t))
	srv.Close()
	if s := b.load(chromedp.Reload()); s != 200 {
		t.Fatalf("reload offline = %d", s)
	}
	b.waitFor(`document.body.dataset.ready === "true"`, 10*time.Second)
	if got := b.text("#accounts li .name"); !strings.HasPrefix(got, "Demo Bank: alice") {
		t.Fatalf("offline, accounts = %q", got)
	}
	u := payment.URI{Mode: payment.ModePayment, Challenge: "48172203", Purse: "Z123456789012", Amount: "10.00"}
	b.setValue("question", u.Short())
	b.do(chromedp.Click(chromedp.CSS(`#question-form button[type=submit]`)))
	if a := b.confirmAndRead(); a != uriAnswer(t, u.String()) {
		t.Fatalf("offline answer %s, want %s", a, uriAnswer(t, u.String()))
	}
}

// TestEnumAppAccessibleRussianNarrow: at 320 px in Russian nothing
// overflows, the page is in Russian, and axe-core finds no violation on
// the home page, the confirmation and the answer.
func TestEnumAppAccessibleRussianNarrow(t *testing.T) {
	t.Parallel()
	axeJS, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	b := newAppTab(t, appServer(t).URL+"/", "ru-RU,ru;q=0.9", true)
	if lang := b.attr("html", "lang"); lang != "ru" || b.text("#answer-h") != "Ответ на вопрос" {
		t.Fatalf("lang %q, heading %q", lang, b.text("#answer-h"))
	}
	b.enrol(aliceEnrolment(t))
	check := func(state string) {
		var width int
		b.eval(`document.documentElement.scrollWidth`, &width)
		if width > 320 {
			b.screenshot("overflow-" + state)
			t.Errorf("%s: the page is %d px wide at a 320 px viewport", state, width)
		}
		var violations []struct {
			ID    string
			Nodes []struct{ Target []string }
		}
		b.evalAsync(string(axeJS)+`;axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations.map((v) => ({ ID: v.id, Nodes: v.nodes.map((n) => ({ Target: n.target.map(String) })) })))`, &violations)
		for _, v := range violations {
			t.Errorf("%s: axe: %s at %v", state, v.ID, v.Nodes)
		}
	}
	check("home")
	b.setValue("question", "enum:p?c=48172203&p=Z123456789012&a=10.00")
	b.do(chromedp.Click(chromedp.CSS(`#question-form button[type=submit]`)))
	b.waitFor(`!document.getElementById("confirm").hidden`, 5*time.Second)
	if got := b.text("#confirm-what"); got != "Платёж" {
		t.Fatalf("confirmation in Russian = %q", got)
	}
	check("confirm")
	b.do(chromedp.Click(chromedp.ID("show-answer")))
	b.waitFor(`!document.getElementById("result").hidden`, 5*time.Second)
	check("answer")
	b.screenshot("app-mobile")
	// English on request, remembered.
	b.do(chromedp.Click(chromedp.ID("lang")))
	if b.attr("html", "lang") != "en" || b.text("#answer-h") != "Answer a question" {
		t.Fatalf("after switching: lang %q, %q", b.attr("html", "lang"), b.text("#answer-h"))
	}
}
