package browsertest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// clockRe is how the page shows time left: m:ss.
var clockRe = regexp.MustCompile(`^\d+:\d\d$`)

// TestExpiry comes first: it waits out a 30s ttl while the other tests
// run. With JavaScript the page counts down and, at zero, says the
// confirmation expired and disables the answer; without it, the server
// refuses even a right answer after expiry.
func TestExpiry(t *testing.T) {
	t.Parallel()
	js := newTab(t, tabOptions{base: env.short})
	nojs := newTab(t, tabOptions{base: env.short, noScript: true})
	js.start(transfer)
	nojs.start(transfer)
	js.choose("enum")
	nojs.choose("enum")
	q := nojs.question()
	begun := time.Now()

	before := js.text("#eg-expires")
	if !clockRe.MatchString(before) || before > "0:30" {
		t.Fatalf("time left = %q, want m:ss of at most 0:30", before)
	}
	js.waitFor(`document.getElementById("eg-expires").textContent !== `+jsString(before), 3*time.Second)
	if js.visible("#eg-expired") {
		t.Fatal("the expiry message shows before expiry")
	}
	js.waitFor(`!document.getElementById("eg-expired").hidden`, 35*time.Second)
	var disabled bool
	js.eval(`document.getElementById("answer").disabled`, &disabled)
	if !disabled || js.text("#eg-expires") != "0:00" {
		t.Fatalf("at expiry: answer disabled %v, time left %q", disabled, js.text("#eg-expires"))
	}
	if got := js.text("#eg-expired"); !strings.Contains(got, "expired") || js.attr("#eg-expired a", "href") != "/" {
		t.Fatalf("expiry message = %q, link %q", got, js.attr("#eg-expired a", "href"))
	}
	js.screenshot("expired")

	// Without JavaScript the countdown never moved; the server decides.
	if got := nojs.text("#eg-expires"); !clockRe.MatchString(got) || got == "0:00" {
		t.Fatalf("no-script time left = %q", got)
	}
	time.Sleep(time.Until(begun.Add(31 * time.Second)))
	if s := nojs.answer(enumAnswer(t, q)); s != 404 || nojs.attr("[data-error]", "data-error") != "unknown_challenge" {
		t.Fatalf("a right answer after expiry = %d %q, want 404 unknown_challenge", s, nojs.attr("[data-error]", "data-error"))
	}
	if nojs.attr(".eg-buttons a", "href") != "/" {
		t.Fatalf("the expired page has no way back to the app")
	}
	if s := js.load(chromedp.Reload()); s != 404 || js.attr("[data-error]", "data-error") != "unknown_challenge" {
		t.Fatalf("reloading after expiry = %d", s)
	}
}

// TestEnumTransfer is the main path: a transfer confirmed with the E-num
// app, the question read from the page and answered by ocra.
func TestEnumTransfer(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	b.start(transfer)

	// The summary comes first: operation, amount, payee, time left.
	if got := b.text(".eg-summary"); !strings.Contains(got, "Transfer") || !strings.Contains(got, "10.00") ||
		!strings.Contains(got, "Z123456789012") || !strings.Contains(got, "Time left") {
		t.Fatalf("summary = %q", got)
	}
	if got := b.text("#eg-expires"); !clockRe.MatchString(got) {
		t.Fatalf("time left = %q", got)
	}
	// The methods in the policy's order, the first focused.
	var order []string
	b.eval(`[...document.querySelectorAll(".eg-methods button")].map(e => e.dataset.method)`, &order)
	if strings.Join(order, " ") != "enum sms email" {
		t.Fatalf("methods = %v, want enum sms email", order)
	}
	var focused string
	b.eval(`document.activeElement.dataset.method || document.activeElement.id`, &focused)
	if focused != "enum" {
		t.Fatalf("focus on %q, want the first method", focused)
	}
	if b.exists("#answer") {
		t.Fatal("an answer field before a method was chosen")
	}
	// The operator's branding: name, logo (served under the CSP), help
	// link, SMS marked as paid.
	var logoWidth int
	b.eval(`document.querySelector(".eg-logo").naturalWidth`, &logoWidth)
	if b.text(".eg-name") != "Demo Bank" || logoWidth == 0 || b.attr(".eg-help a", "href") != "https://bank.example/help" {
		t.Fatalf("branding: name %q, logo width %d, help %q", b.text(".eg-name"), logoWidth, b.attr(".eg-help a", "href"))
	}
	if got := b.text(`button[data-method="sms"] .eg-badge`); got != "paid" {
		t.Fatalf("SMS badge = %q, want paid", got)
	}
	b.screenshot("choose-method")

	// The page's headers: strict CSP without inline script or style.
	var hdr map[string]any
	b.call(func(ctx context.Context) error {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+b.path()))
		if resp != nil {
			hdr = resp.Headers
		}
		return err
	})
	csp, _ := hdr["content-security-policy"].(string)
	if csp == "" {
		csp, _ = hdr["Content-Security-Policy"].(string)
	}
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP = %q (headers %v)", csp, hdr)
	}

	if s := b.choose("enum"); s != 200 {
		t.Fatalf("choosing E-num = %d", s)
	}
	q := b.question()
	if got := b.text("#question [aria-hidden]"); got != q[:4]+" "+q[4:] {
		t.Fatalf("question shown as %q, want %q grouped by four", got, q)
	}
	for attr, want := range map[string]string{"inputmode": "numeric", "autocomplete": "one-time-code"} {
		if got := b.attr("#answer", attr); got != want {
			t.Errorf("answer %s = %q, want %q", attr, got, want)
		}
	}
	b.eval(`document.activeElement.id`, &focused)
	if focused != "answer" {
		t.Fatalf("focus on %q, want the answer field", focused)
	}
	if got := b.text(".eg-methods h2"); got != "Or choose another method" {
		t.Fatalf("other methods heading = %q", got)
	}
	b.screenshot("enum-question")

	// Typed as the app shows it, in groups.
	a := enumAnswer(t, q)
	b.confirmed(b.answer(a[:4]+" "+a[4:]), "E-num")
}

// TestSMSWithdrawalInRussian confirms a withdrawal with an SMS code read
// from the demo phone, with a browser that prefers Russian.
func TestSMSWithdrawalInRussian(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{lang: "ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7"})
	b.start(withdrawal)
	if lang := b.attr("html", "lang"); lang != "ru" {
		t.Fatalf("page language = %q", lang)
	}
	if got := b.text("h1"); got != "Подтвердите операцию" {
		t.Fatalf("h1 = %q", got)
	}
	// The card is masked; the amount is formatted the Russian way.
	if got := b.text(".eg-summary"); !strings.Contains(got, "Вывод средств") || !strings.Contains(got, "На карту") ||
		!strings.Contains(got, "•••• 1111") || strings.Contains(got, "4111 1111") || !strings.Contains(strings.ReplaceAll(got, "\u00a0", " "), "25,00 ₽") {
		t.Fatalf("summary = %q", got)
	}
	if s := b.choose("sms"); s != 200 {
		t.Fatalf("choosing SMS = %d", s)
	}
	masked := "+7•••••" + b.user.Phone[len(b.user.Phone)-2:]
	if got := b.text(".eg-sent"); got != "Мы отправили код по SMS на номер "+masked+"." {
		t.Fatalf("sent line = %q", got)
	}
	if got := b.text("label[for=answer]"); got != "Код из SMS" {
		t.Fatalf("label = %q", got)
	}
	code := waitMessage(t, b.user.Phone, 1)
	// The SMS reads like a bank's, in the page's language, and ends with
	// the WebOTP line for this site.
	sms := messages(t, b.user.Phone)[0].Text
	if want := "Вывод средств 25,00\u00a0₽ на •••• 1111. Код " + code + ". Никому его не сообщайте.\n\n@127.0.0.1 #" + code; sms != want {
		t.Fatalf("SMS = %q, want %q", sms, want)
	}
	b.screenshot("russian")
	b.confirmed(b.answer(code), "SMS")
}

// TestEmailNewCorrespondent confirms a new correspondent with the answer
// number sent by e-mail.
func TestEmailNewCorrespondent(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{lang: "en-GB,en;q=0.9"})
	b.start(correspondent)
	if got := b.text(".eg-summary"); !strings.Contains(got, "New correspondent") || !strings.Contains(got, "Wallet") ||
		!strings.Contains(got, "Z987654321098") || strings.Contains(got, "Amount") {
		t.Fatalf("summary = %q", got)
	}
	b.choose("email")
	if got, want := b.text(".eg-sent"), "We sent the answer number by e-mail to "+b.user.Email[:1]+"•••@example.test."; got != want {
		t.Fatalf("sent line = %q, want %q", got, want)
	}
	code := waitMessage(t, b.user.Email, 1)
	b.screenshot("email")
	b.confirmed(b.answer(code), "e-mail")
}

// TestWrongThenRightAnswer: a wrong answer says so, with the attempts
// left, keeps the question, and a right answer still confirms.
func TestWrongThenRightAnswer(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	b.start(transfer)
	b.choose("enum")
	q := b.question()
	if s := b.answer("0000-0000"); s != 422 {
		t.Fatalf("wrong answer = %d, want 422", s)
	}
	if code := b.attr("[data-error]", "data-error"); code != "wrong_answer" {
		t.Fatalf("error code = %q", code)
	}
	if got := b.text("#eg-error"); got != "The answer is wrong. Check the digits and try again. Attempts left: 2." {
		t.Fatalf("error = %q", got)
	}
	if b.attr("#eg-error", "role") != "alert" || b.attr("#answer", "aria-invalid") != "true" ||
		!strings.Contains(b.attr("#answer", "aria-describedby"), "eg-error") {
		t.Fatal("the error is not announced or not tied to the answer field")
	}
	if got := b.question(); got != q {
		t.Fatalf("the question changed after a wrong answer: %s, then %s", q, got)
	}
	b.screenshot("wrong-answer")
	b.confirmed(b.answer(enumAnswer(t, q)), "E-num")
}

// TestAttemptsExhausted: the third wrong answer ends the challenge; the
// page offers the way back and nothing reaches the app.
func TestAttemptsExhausted(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	b.start(withdrawal)
	b.choose("enum")
	for i, want := range []int64{422, 422, 403} {
		if s := b.answer(fmt.Sprintf("1234567%d", i)); s != want {
			t.Fatalf("wrong answer %d = %d, want %d", i+1, s, want)
		}
		if i == 0 {
			// POST/redirect/GET: a reload shows the page again and sends
			// nothing, so it costs no attempt.
			if s := b.load(chromedp.Reload()); s != 422 || !strings.Contains(b.text("#eg-error"), "Attempts left: 2.") {
				t.Fatalf("reload after a wrong answer = %d %q", s, b.text("#eg-error"))
			}
		}
	}
	if code := b.attr("[data-error]", "data-error"); code != "too_many_attempts" {
		t.Fatalf("error code = %q", code)
	}
	b.screenshot("exhausted")
	if s := b.click(".eg-buttons a"); s != 200 || b.path() != "/" {
		t.Fatalf("back to the app = %d %s", s, b.path())
	}
	b.open("/operations")
	if got := b.text("main"); !strings.Contains(got, "No operations yet") {
		t.Fatalf("operations after exhaustion: %q", got)
	}
}

// TestLockedSaysNotWhichFactor: five failed answers in a row lock the
// user for a while; the page says so without naming the failing factor.
func TestLockedSaysNotWhichFactor(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	b.start(transfer)
	b.choose("enum")
	for i := range 3 {
		b.answer(fmt.Sprintf("1111111%d", i))
	}
	b.start(transfer)
	b.choose("enum")
	b.answer("22222220")
	if s := b.answer("22222221"); s != 403 {
		t.Fatalf("fifth failure = %d, want 403", s)
	}
	if code := b.attr("[data-error]", "data-error"); code != "locked" {
		t.Fatalf("error code = %q", code)
	}
	// The lock page says how long: a countdown from 30 minutes.
	if got := b.text("#eg-error .eg-countdown"); got != "30:00" && got != "29:59" && got != "29:58" {
		t.Fatalf("lock countdown = %q", got)
	}
	if got := strings.ToLower(b.text("#eg-error")); strings.Contains(got, "wrong") || strings.Contains(got, "answer") {
		t.Fatalf("the lock message names the factor: %q", got)
	}
	b.screenshot("locked")
}

// TestResendCooldown: the SMS resend waits out a visible cooldown, which
// the server enforces; a resent code replaces the first.
func TestResendCooldown(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	b.start(transfer)
	b.choose("sms")
	first := waitMessage(t, b.user.Phone, 1)
	var disabled bool
	b.eval(`document.getElementById("eg-resend").disabled`, &disabled)
	wait := b.text("#eg-resend-wait .eg-countdown")
	if !disabled || !clockRe.MatchString(wait) || wait > "0:03" || wait == "0:00" {
		t.Fatalf("resend disabled %v, wait %q", disabled, wait)
	}
	if !strings.Contains(b.text("#eg-resend-wait"), "You can ask for a new one in") {
		t.Fatalf("resend wait = %q", b.text("#eg-resend-wait"))
	}
	// The server refuses an early resend too.
	b.eval(`document.getElementById("eg-resend").disabled = false`, new(bool))
	if s := b.click("#eg-resend"); s != 429 || b.attr("[data-error]", "data-error") != "resend_too_soon" {
		t.Fatalf("early resend = %d %q", s, b.attr("[data-error]", "data-error"))
	}
	b.waitFor(`!document.getElementById("eg-resend").disabled && document.getElementById("eg-resend-wait").hidden`, 5*time.Second)
	if s := b.click("#eg-resend"); s != 200 {
		t.Fatalf("resend = %d", s)
	}
	second := waitMessage(t, b.user.Phone, 2)
	if second == first {
		t.Fatal("the resent code is the first code")
	}
	if s := b.answer(first); s != 422 {
		t.Fatalf("the replaced code = %d, want 422", s)
	}
	b.confirmed(b.answer(second), "SMS")
}

// TestSMSLimitOffersOtherMethods: past the hourly SMS limit the page says
// so, stops offering SMS and confirms with E-num.
func TestSMSLimitOffersOtherMethods(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	for i := range 3 { // user_hourly 3 in the test Caddyfile
		b.start(transfer)
		if s := b.choose("sms"); s != 200 {
			t.Fatalf("SMS %d = %d", i+1, s)
		}
	}
	b.start(transfer)
	if s := b.choose("sms"); s != 429 {
		t.Fatalf("SMS over the limit = %d, want 429", s)
	}
	if code := b.attr("[data-error]", "data-error"); code != "sms_limit" {
		t.Fatalf("error code = %q", code)
	}
	if b.exists("#answer") || b.exists(`button[data-method="sms"]`) {
		t.Fatal("the page still offers SMS after the limit")
	}
	if !b.exists(`button[data-method="enum"]`) || !b.exists(`button[data-method="email"]`) {
		t.Fatal("the page offers no other method")
	}
	b.screenshot("sms-limit")
	b.choose("enum")
	b.confirmed(b.answer(enumAnswer(t, b.question())), "E-num")
}

// TestCancel: cancelling goes back to the page the operation came from,
// and the challenge is gone.
func TestCancel(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	b.start(withdrawal)
	page := b.path()
	b.choose("enum")
	// Cancel lands on a page that says nothing was done, with the way
	// back to the page the operation came from.
	if s := b.click(".eg-cancel button"); s != 200 || b.path() != "/.enumgate/cancelled" || !strings.Contains(b.text("#eg-error"), "Nothing was sent to the bank") {
		t.Fatalf("cancel = %d, page %s %q", s, b.path(), b.text("#eg-error"))
	}
	if s := b.click(".eg-buttons a"); s != 200 || b.path() != "/" {
		t.Fatalf("back to the app = %d, page %s, want the app's home", s, b.path())
	}
	if got := b.text("h1"); !strings.Contains(got, b.user.ID) {
		t.Fatalf("after cancel h1 = %q", got)
	}
	if s := b.open(page); s != 404 || b.attr("[data-error]", "data-error") != "unknown_challenge" {
		t.Fatalf("the cancelled challenge = %d", s)
	}
	b.open("/operations")
	if !strings.Contains(b.text("main"), "No operations yet") {
		t.Fatal("a cancelled operation reached the app")
	}
}

// TestWithoutJavaScript: every step works as plain HTML forms, switching
// methods on the way; the countdowns are the server's numbers.
func TestWithoutJavaScript(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{noScript: true})
	b.start(withdrawal)
	b.choose("sms")
	if !b.visible("#eg-resend-wait a") {
		t.Fatal("no way to reload for a resend without JavaScript")
	}
	var disabled bool
	b.eval(`document.getElementById("eg-resend").disabled`, &disabled)
	if !disabled {
		t.Fatal("resend enabled during the cooldown")
	}
	shown := b.text("#eg-expires")
	time.Sleep(1100 * time.Millisecond)
	if got := b.text("#eg-expires"); got != shown {
		t.Fatalf("the countdown moved without JavaScript: %q then %q", shown, got)
	}
	b.screenshot("no-javascript-sms")
	// Another method at this step.
	if s := b.choose("enum"); s != 200 {
		t.Fatalf("switching to E-num = %d", s)
	}
	b.confirmed(b.answer(enumAnswer(t, b.question())), "E-num")
}

// TestLanguages: the page follows Accept-Language, q-values included,
// and falls back to English.
func TestLanguages(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{})
	b.start(transfer)
	for _, tt := range []struct{ header, lang, h1 string }{
		{"ru", "ru", "Подтвердите операцию"},
		{"en-US,en;q=0.9,ru;q=0.8", "en", "Confirm the operation"},
		{"en;q=0.3, ru;q=0.7", "ru", "Подтвердите операцию"},
		{"de-DE,de;q=0.9", "en", "Confirm the operation"},
		{"ru;q=0, de", "en", "Confirm the operation"},
		{"uk, ru-UA;q=0.8", "ru", "Подтвердите операцию"},
	} {
		b.setLanguage(tt.header)
		b.load(chromedp.Reload())
		if lang, h1 := b.attr("html", "lang"), b.text("h1"); lang != tt.lang || h1 != tt.h1 {
			t.Errorf("Accept-Language %q: lang %q, h1 %q; want %q, %q", tt.header, lang, h1, tt.lang, tt.h1)
		}
	}
	// Error pages too.
	b.setLanguage("ru")
	if s := b.open("/.enumgate/challenge/AAAAAAAAAAAAAAAAAAAAAA"); s != 404 || b.text("h1") != "Операция не подтверждена" {
		t.Fatalf("Russian error page = %d %q", s, b.text("h1"))
	}
	b.screenshot("error-russian")
}

// TestMobile: at a phone's width nothing scrolls sideways, the targets
// are big enough to tap, and the whole flow works by touch.
func TestMobile(t *testing.T) {
	t.Parallel()
	b := newTab(t, tabOptions{mobile: true})
	b.start(transfer)
	var fits bool
	b.eval(`document.documentElement.scrollWidth <= window.innerWidth`, &fits)
	if !fits {
		t.Fatal("the challenge page scrolls sideways on a phone")
	}
	var small []string
	b.eval(`[...document.querySelectorAll("button")].filter(e => e.getBoundingClientRect().height < 44).map(e => e.textContent.trim())`, &small)
	if len(small) > 0 {
		t.Fatalf("buttons smaller than 44px: %q", small)
	}
	b.load(chromedp.Tap(chromedp.CSS(`.eg-methods button[data-method="enum"]`)))
	q := b.question()
	b.eval(`document.documentElement.scrollWidth <= window.innerWidth`, &fits)
	if !fits {
		t.Fatal("the question page scrolls sideways on a phone")
	}
	b.screenshot("mobile")
	b.do(chromedp.SendKeys(chromedp.ID("answer"), enumAnswer(t, q)))
	b.confirmed(b.load(chromedp.Tap(chromedp.CSS(".eg-answer button"))), "E-num")
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
