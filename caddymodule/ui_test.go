package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/enumgate/enumgate/challenge"
)

func TestNegotiateLanguage(t *testing.T) {
	available := []string{"en", "pt-br", "ru"}
	for _, tt := range []struct {
		header, want string
	}{
		{"", "en"},
		{"ru", "ru"},
		{"RU-ru", "ru"},
		{"ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"},
		{"en-US,en;q=0.9,ru;q=0.8", "en"},
		{"en;q=0.3, ru;q=0.7", "ru"},
		{"en;q=0.3,ru;q=0.7,de", "ru"},
		{"de-DE,de;q=0.9", "en"},
		{"de, *;q=0.5", "en"},
		{"ru;q=0, en", "en"},
		{"ru;q=0", "en"},
		{"uk, ru-UA;q=0.8", "ru"},
		{"pt", "pt-br"},
		{"pt-BR", "pt-br"},
		{"pt-PT;q=0.9, ru;q=0.8", "pt-br"},
		{"ru;q=abc, en;q=0.1", "en"},
		{"ru;q=2", "en"},
		{"ru ; q = 0.5 , en ; q = 0.4", "ru"},
		{",,;;,", "en"},
		{strings.Repeat("de,", 100) + "ru", "en"}, // only the first ranges count
	} {
		if got := negotiate(tt.header, available, "en"); got != tt.want {
			t.Errorf("negotiate(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
	if got := negotiate("de", available, "ru"); got != "ru" {
		t.Errorf("operator default: negotiate(de) = %q, want ru", got)
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMessageFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"de.json": `{"lang.name": "Deutsch", "page.title": "Vorgang bestätigen", "sms.sent": "Code per SMS an {to} gesendet."}`,
		"ru.json": `{"answer.submit": "Готово"}`,
	})
	p, err := loadUI(&UI{MessagesDir: dir, DefaultLanguage: "DE"}, "/.enumgate/", nil)
	if err != nil {
		t.Fatal(err)
	}
	de := p.langs.byTag["de"]
	if de == nil || p.langs.def != "de" {
		t.Fatalf("languages %v, default %q", p.langs.tags, p.langs.def)
	}
	if de.text("page.title") != "Vorgang bestätigen" || de.text("answer.submit") != "Confirm" {
		t.Fatalf("de: title %q, submit %q (want the English fallback)", de.text("page.title"), de.text("answer.submit"))
	}
	ru := p.langs.byTag["ru"]
	if ru.text("answer.submit") != "Готово" || ru.text("page.title") != "Подтвердите операцию" {
		t.Fatalf("ru override: submit %q, title %q", ru.text("answer.submit"), ru.text("page.title"))
	}
	if got := p.langs.negotiate("fr, de;q=0.5").lang; got != "de" {
		t.Fatalf("negotiated %q", got)
	}

	// Built-in languages are complete and consistent.
	p, err = loadUI(nil, "/.enumgate/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.langs.tags, " ") != "en ru" {
		t.Fatalf("built-in languages = %v", p.langs.tags)
	}
	_, missing, err := loadLanguages("", "")
	if err != nil || len(missing["ru"]) != 0 {
		t.Fatalf("built-in ru lacks %v (%v)", missing["ru"], err)
	}
}

func TestMessageFileErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		dir   string
		def   string
		want  string
	}{
		{name: "no dir", dir: "/nonexistent/enumgate/i18n", want: "is not a directory"},
		{name: "no files", files: map[string]string{"README": "x"}, want: "has no <language>.json files"},
		{name: "file name", files: map[string]string{"english.json": `{}`}, want: "must be a language tag"},
		{name: "not json", files: map[string]string{"de.json": `{"page.title": `}, want: "de.json: not a JSON object of strings"},
		{name: "not strings", files: map[string]string{"de.json": `{"page.title": 1}`}, want: "not a JSON object of strings"},
		{name: "unknown key", files: map[string]string{"de.json": `{"page.titel": "x"}`}, want: `de.json: unknown message key "page.titel"`},
		{name: "empty", files: map[string]string{"de.json": `{"page.title": " "}`}, want: `message "page.title" is empty`},
		{name: "placeholder", files: map[string]string{"de.json": `{"sms.sent": "an {phone}"}`}, want: "uses {phone}"},
		{name: "direction", files: map[string]string{"he.json": `{"lang.dir": "up"}`}, want: "lang.dir must be ltr or rtl"},
		{name: "placeholder in an operator's label", files: map[string]string{"en.json": `{"op.payment": "Pay {to}"}`}, want: `label "op.payment" may not use placeholders`},
		{name: "operator key of another kind", files: map[string]string{"en.json": `{"opx.payment": "Pay"}`}, want: `unknown message key "opx.payment"`},
		{name: "default", files: map[string]string{"de.json": `{}`}, def: "fr", want: `default_language "fr" is not available (have de, en, ru)`},
		{name: "too big", files: map[string]string{"de.json": `{"page.title": "` + strings.Repeat("x", maxMessagesBytes) + `"}`}, want: "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = writeFiles(t, tt.files)
			}
			_, err := loadUI(&UI{MessagesDir: dir, DefaultLanguage: tt.def}, "/.enumgate/", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "enumgate: ui: ") {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := loadUI(&UI{DefaultLanguage: "de"}, "/.enumgate/", nil); err == nil {
		t.Fatal("default_language de without a de.json was accepted")
	}
}

// TestOperatorsOwnOperationNames: messages files may name the operator's
// own operations, payee rows and shown fields; a language without the
// label falls back to English, then to the readable name.
func TestOperatorsOwnOperationNames(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"en.json": `{"op.payment": "Merchant payment", "summary.payee.payment": "Merchant", "field.order_no": "Order"}`,
		"ru.json": `{"op.payment": "Оплата услуг"}`,
	})
	p, err := loadUI(&UI{MessagesDir: dir}, "/.enumgate/", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := sampleChallenge()
	c.Operation = "payment"
	c.Fields = []challenge.Field{{Name: "order", Label: "order_no", Value: "A-1", Display: "A-1"}, {Name: "x", Label: "shop_code", Value: "7", Display: "7"}}
	en := renderPage(t, p, "en", c, nil)
	for _, want := range []string{`<dd class="eg-op">Merchant payment</dd>`, `<dt>Merchant</dt>`, `<dt>Order</dt>`, `<dt>Shop code</dt>`} {
		if !strings.Contains(en, want) {
			t.Errorf("English page lacks %q", want)
		}
	}
	ru := renderPage(t, p, "ru", c, nil)
	for _, want := range []string{`<dd class="eg-op">Оплата услуг</dd>`, `<dt>Merchant</dt>`, `<dt>Order</dt>`} {
		if !strings.Contains(ru, want) {
			t.Errorf("Russian page lacks %q", want)
		}
	}
	if got := messageText(p.langs.byTag["ru"], challenge.Message{Method: challenge.MethodSMS, Operation: "payment", Amount: "5", Currency: "RUB", Code: "123456"}, "bank.example"); got != "Оплата услуг 5\u00a0₽. Код 123456. Никому его не сообщайте.\n\n@bank.example #123456" {
		t.Errorf("Russian SMS = %q", got)
	}
}

func TestRightToLeftLanguage(t *testing.T) {
	dir := writeFiles(t, map[string]string{"he.json": `{"lang.name": "עברית", "lang.dir": "rtl", "page.title": "אישור הפעולה"}`})
	p, err := loadUI(&UI{MessagesDir: dir}, "/.enumgate/", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := renderPage(t, p, "he", sampleChallenge(), nil)
	if !strings.Contains(body, `<html lang="he" dir="rtl">`) || !strings.Contains(body, "אישור הפעולה") {
		t.Fatalf("rtl page:\n%s", body)
	}
}

func TestColors(t *testing.T) {
	for _, tt := range []struct {
		color string
		ok    bool
	}{
		{DefaultPrimaryColor, true},
		{DefaultAccentColor, true},
		{"#000", true},
		{"#0B5CAD", true},
		{"#767676", true}, // 4.54:1, the lightest grey that passes
		{"#777777", false},
		{"#ffcc00", false},
		{"#fff", false},
		{"0b5cad", false},
		{"#0b5cad0", false},
		{"#0b5caz", false},
		{"red", false},
		{"", false},
	} {
		if err := checkColor(tt.color); (err == nil) != tt.ok {
			t.Errorf("checkColor(%q) = %v, want ok %v", tt.color, err, tt.ok)
		}
	}
	if r := contrast("#000", "#fff"); r < 20.99 || r > 21.01 {
		t.Errorf("contrast black/white = %v, want 21", r)
	}
	if _, err := loadUI(&UI{PrimaryColor: "#ffcc00"}, "/.enumgate/", nil); err == nil || !strings.Contains(err.Error(), "primary_color: #ffcc00 has a contrast ratio of 1.5:1") {
		t.Fatalf("light primary colour: %v", err)
	}
	if _, err := loadUI(&UI{AccentColor: "blue"}, "/.enumgate/", nil); err == nil || !strings.Contains(err.Error(), "accent_color") {
		t.Fatalf("bad accent colour: %v", err)
	}
	p, err := loadUI(&UI{PrimaryColor: "#123ABC", AccentColor: "#8a3b00"}, "/x/", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := p.serveStatic(w, httptest.NewRequest("GET", "/x/static/theme.css", nil), "theme.css"); err != nil {
		t.Fatal(err)
	}
	if b := w.Body.String(); !strings.Contains(b, "--eg-primary: #123abc;") || !strings.Contains(b, "--eg-accent: #8a3b00;") ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
		t.Fatalf("theme.css = %s %v", b, w.Header())
	}
}

// TestBuiltInContrast checks the colour pairs of enumgate.css for WCAG AA:
// 4.5:1 for text, 3:1 for the borders of fields. The operator's colours
// are checked by checkColor against white, the background they are
// used on as text.
func TestBuiltInContrast(t *testing.T) {
	css, err := webFS.ReadFile("web/static/enumgate.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"white": "#ffffff"}
	for _, m := range regexp.MustCompile(`--eg-([a-z-]+): (#[0-9a-f]{6});`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	for _, tt := range []struct {
		fg, bg string
		min    float64
	}{
		{"fg", "card", 4.5}, {"fg", "soft", 4.5}, {"muted", "card", 4.5}, {"muted", "soft", 4.5}, {"muted", "bg", 4.5},
		{"bad", "bad-bg", 4.5}, {"bad", "card", 4.5}, {"badge", "badge-bg", 4.5},
		{"primary", "card", 4.5}, {"primary", "soft", 4.5}, {"accent", "card", 4.5}, {"accent", "soft", 4.5},
		{"white", "primary", 4.5}, {"field", "card", 3}, {"accent", "bg", 3},
	} {
		fg, bg := vars[tt.fg], vars[tt.bg]
		if fg == "" || bg == "" {
			t.Fatalf("enumgate.css has no --eg-%s or --eg-%s", tt.fg, tt.bg)
		}
		if r := contrast(fg, bg); r < tt.min {
			t.Errorf("--eg-%s on --eg-%s: %.2f:1, want %.1f:1", tt.fg, tt.bg, r, tt.min)
		}
	}
}

func TestTemplateOverrides(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"layout.html": `{{define "brand"}}<header class="bank">{{.Brand.Name}} — {{.T "page.title"}}</header>{{end}}`,
	})
	p, err := loadUI(&UI{TemplatesDir: dir, Name: "Acme"}, "/.enumgate/", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := renderPage(t, p, "ru", sampleChallenge(), nil)
	if !strings.Contains(body, `<header class="bank">Acme — Подтвердите операцию</header>`) || !strings.Contains(body, `name="token" value=`) {
		t.Fatalf("overridden brand block missing:\n%s", body)
	}

	for _, tt := range []struct {
		name  string
		files map[string]string
		dir   string
		want  string
	}{
		{name: "no dir", dir: "/nonexistent/enumgate/templates", want: "templates_dir \"/nonexistent/enumgate/templates\" is not a directory"},
		{name: "empty dir", files: map[string]string{"notes.txt": "x"}, want: "has no .html files"},
		{name: "unknown file", files: map[string]string{"challange.html": "x"}, want: "unknown template challange.html (want layout.html, challenge.html, error.html)"},
		{name: "parse error", files: map[string]string{"challenge.html": "{{if .C}}"}, want: "templates_dir: template: challenge.html"},
		{name: "missing field", files: map[string]string{"error.html": "{{.Nope}}"}, want: "error.html (en)"},
		{name: "unknown key", files: map[string]string{"challenge.html": `{{.T "page.titel"}}`}, want: "unknown message keys: page.titel"},
		{name: "bad function", files: map[string]string{"challenge.html": `{{shout .C}}`}, want: `function "shout" not defined`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = writeFiles(t, tt.files)
			}
			_, err := loadUI(&UI{TemplatesDir: dir}, "/.enumgate/", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLogoAndLinks(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"logo.svg":  `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>`,
		"logo.bmp":  "BM",
		"empty.png": "",
		"big.png":   strings.Repeat("x", maxLogoBytes+1),
	})
	p, err := loadUI(&UI{Logo: filepath.Join(dir, "logo.svg"), Name: "Acme", HelpURL: "/help"}, "/.enumgate/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.brand.Logo, "/.enumgate/static/logo.svg?v=") || p.brand.Help != "/help" {
		t.Fatalf("brand = %+v", p.brand)
	}
	w := httptest.NewRecorder()
	p.serveStatic(w, httptest.NewRequest("GET", p.brand.Logo, nil), "logo.svg")
	if w.Code != 200 || w.Header().Get("Content-Type") != "image/svg+xml" || !strings.Contains(w.Header().Get("Content-Security-Policy"), "sandbox") ||
		w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("logo = %d %v", w.Code, w.Header())
	}
	for _, tt := range []struct {
		ui   UI
		want string
	}{
		{UI{Logo: filepath.Join(dir, "logo.bmp")}, "want an http(s) URL or an .svg"},
		{UI{Logo: filepath.Join(dir, "empty.png")}, "is empty"},
		{UI{Logo: filepath.Join(dir, "big.png")}, "larger than 256 KiB"},
		{UI{Logo: filepath.Join(dir, "none.png")}, "no such file"},
		{UI{Logo: "ftp://example.com/logo.png"}, "want an http(s) URL"},
		{UI{Logo: "https://cdn.example;script-src */logo.png"}, "want an http(s) URL"},
		{UI{HelpURL: "javascript:alert(1)"}, "help_url"},
		{UI{HelpURL: "//evil.example/help"}, "help_url"},
		{UI{HelpURL: "help"}, "help_url"},
		{UI{Name: "two\nlines"}, "name must be one line"},
	} {
		if _, err := loadUI(&tt.ui, "/.enumgate/", nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error = %v, want %q", tt.ui, err, tt.want)
		}
	}
	for _, ok := range []string{"https://bank.example/help", "http://bank.example", "/support?topic=confirm"} {
		if !safeLink(ok) {
			t.Errorf("safeLink(%q) = false", ok)
		}
	}
	for path, want := range map[string]string{
		"/": "/", "/pay?x=1": "/pay?x=1", "": "", "//evil.example/": "", "/\t/evil.example": "", `/\evil`: "",
		"https://evil.example/": "", "pay": "", "/a b": "",
	} {
		if got := returnTo(path); got != want {
			t.Errorf("returnTo(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestPageSecurityHeaders(t *testing.T) {
	p, err := loadUI(&UI{Logo: "https://cdn.bank.example/logo.png"}, "/.enumgate/", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := p.render(w, http.StatusOK, "challenge.html", sampleData(t, p, "en", sampleChallenge())); err != nil {
		t.Fatal(err)
	}
	h := w.Header()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: https://cdn.bank.example", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "same-origin" || h.Get("X-Frame-Options") != "DENY" ||
		h.Get("Content-Language") != "en" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers = %v", h)
	}
	// Nothing inline for the CSP to refuse.
	body := w.Body.String()
	for _, bad := range []string{"<script>", "style=", "<style", "onclick", "onsubmit", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("page has inline %q", bad)
		}
	}
	for _, name := range []string{"enumgate.css", "enumgate.js", "theme.css"} {
		w := httptest.NewRecorder()
		if err := p.serveStatic(w, httptest.NewRequest("GET", "/.enumgate/static/"+name, nil), name); err != nil || w.Code != 200 {
			t.Errorf("static %s = %d %v", name, w.Code, err)
		}
		if !strings.Contains(body, "/.enumgate/static/"+name+"?v="+p.static[name].etag) {
			t.Errorf("page does not link %s by version", name)
		}
	}
	if err := p.serveStatic(httptest.NewRecorder(), httptest.NewRequest("GET", "/.enumgate/static/x.js", nil), "x.js"); err == nil {
		t.Error("unknown static file served")
	}
}

func TestChallengePageContent(t *testing.T) {
	p, err := loadUI(&UI{SMSPaid: true}, "/.enumgate/", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := sampleChallenge()
	body := renderPage(t, p, "en", c, nil)
	for _, want := range []string{
		`<dd class="eg-op">Transfer</dd>`, `<dd class="eg-amount" data-amount="10.00" data-currency="">10.00</dd>`, `<dt>To wallet</dt>`,
		`data-seconds="300"`, ">5:00<", `How do you want to confirm?`,
		`data-method="enum" autofocus`, `SMS code <span class="eg-badge">paid</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("choose-method page lacks %q", want)
		}
	}
	if strings.Index(body, `data-method="enum"`) > strings.Index(body, `data-method="sms"`) ||
		strings.Index(body, `data-method="sms"`) > strings.Index(body, `data-method="email"`) {
		t.Error("methods not in the policy's order")
	}

	c.Method, c.Question, c.State = challenge.MethodEnum, "12345678", challenge.StateAwaitingAnswer
	body = renderPage(t, p, "en", c, func(d *pageData) { d.setError("wrong_answer", "", 2) })
	for _, want := range []string{
		`data-question="12345678"`, `<span aria-hidden="true">1234 5678</span>`, `1 2 3 4 5 6 7 8`,
		`inputmode="numeric"`, `autocomplete="one-time-code"`, `autofocus`, `aria-invalid="true"`,
		`data-error="wrong_answer">The answer is wrong. Check the digits and try again. Attempts left: 2.</p>`,
		`Or choose another method`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("enum page lacks %q", want)
		}
	}
	if strings.Contains(body, `data-method="enum"`) {
		t.Error("the current method is offered as another method")
	}

	// The masked destination is escaped; the resend waits.
	c.Method, c.Question, c.SentTo, c.ResendAt = challenge.MethodSMS, "", "+7•<b>01", time.Now().Add(42*time.Second)
	body = renderPage(t, p, "ru", c, nil)
	for _, want := range []string{
		`Мы отправили код по SMS на номер <strong>+7•&lt;b&gt;01</strong>.`, `id="eg-resend" class="eg-link" data-seconds="42" disabled`,
		`<span class="eg-countdown" data-seconds="42">0:42</span>`, `<noscript>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("sms page lacks %q", want)
		}
	}

	// Over the SMS limit nothing was sent: no SMS step, no SMS choice.
	body = renderPage(t, p, "en", c, func(d *pageData) { d.setError("sms_limit", "", 0) })
	if strings.Contains(body, `id="answer"`) || strings.Contains(body, `data-method="sms"`) || !strings.Contains(body, `data-method="email"`) ||
		!strings.Contains(body, `data-error="sms_limit"`) {
		t.Errorf("sms_limit page:\n%s", body)
	}
}

func TestErrorPages(t *testing.T) {
	p, err := loadUI(&UI{HelpURL: "https://bank.example/help"}, "/.enumgate/", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		code, path, lang, want string
		retry                  bool
	}{
		{"unknown_challenge", "/.enumgate/challenge/AAAAAAAAAAAAAAAAAAAAAA", "en", "has expired or no longer exists", false},
		{"unavailable", "/.enumgate/challenge/AAAAAAAAAAAAAAAAAAAAAA", "ru", "Сервис подтверждения недоступен", true},
		{"locked", "/transfer", "ru;q=0.5, en", "confirmations are paused", false},
		{"forbidden", "/.enumgate/challenge/AAAAAAAAAAAAAAAAAAAAAA", "en", "not sent from the confirmation page", true},
		{"unavailable", "/transfer", "en", "unavailable", false},
	} {
		r := httptest.NewRequest("POST", tt.path, nil)
		r.Header.Set("Accept-Language", tt.lang)
		w := httptest.NewRecorder()
		if err := p.renderError(w, r, 418, tt.code, "English text", "/.enumgate/"); err != nil {
			t.Fatal(err)
		}
		body := w.Body.String()
		if w.Code != 418 || !strings.Contains(body, `data-error="`+tt.code+`"`) || !strings.Contains(body, tt.want) ||
			!strings.Contains(body, `href="https://bank.example/help"`) || strings.Contains(body, "English text") {
			t.Errorf("%s at %s: %d\n%s", tt.code, tt.path, w.Code, body)
		}
		if got := strings.Contains(body, `href="`+tt.path+`"`); got != tt.retry {
			t.Errorf("%s at %s: retry link %v, want %v", tt.code, tt.path, got, tt.retry)
		}
	}
	// A code without a message keeps the English text it came with.
	w := httptest.NewRecorder()
	p.renderError(w, httptest.NewRequest("GET", "/", nil), 400, "brand_new", "Something new.", "/.enumgate/")
	if !strings.Contains(w.Body.String(), "Something new.") {
		t.Errorf("unknown code page:\n%s", w.Body)
	}
}

func TestParseUI(t *testing.T) {
	d := caddyfile.NewTestDispenser(`enumgate {
		ui {
			name Demo Bank
			logo /etc/enumgate/logo.svg
			primary_color "#0B5CAD"
			accent_color 1d6b4f
			help_url https://bank.example/help
			default_language ru
			sms_paid
			messages_dir /etc/enumgate/i18n
			templates_dir /etc/enumgate/templates
		}
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(h.UI)
	want := `{"name":"Demo Bank","logo":"/etc/enumgate/logo.svg","primary_color":"#0B5CAD","accent_color":"#1d6b4f",` +
		`"help_url":"https://bank.example/help","default_language":"ru","sms_paid":true,` +
		`"messages_dir":"/etc/enumgate/i18n","templates_dir":"/etc/enumgate/templates"}`
	if string(got) != want {
		t.Fatalf("ui = %s\nwant %s", got, want)
	}
	for _, tt := range []struct{ in, want string }{
		{"ui {\n primary_color #0b5cad\n }", "quote it"},
		{"ui {\n accent_color \"#ffeeee\"\n }", "contrast ratio"},
		{"ui {\n accent_color \"#12345\"\n }", "not a hex colour"},
		{"ui {\n colour red\n }", `unknown ui option "colour"`},
		{"ui {\n sms_paid yes\n }", "wrong argument count"},
		{"ui {\n name\n }", "wrong argument count"},
		{"ui {\n logo a b\n }", "wrong argument count"},
		{"ui extra {\n }", "wrong argument count"},
	} {
		d := caddyfile.NewTestDispenser("enumgate {\n" + tt.in + "\n}")
		var h Handler
		if err := h.UnmarshalCaddyfile(d); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestClockAndDigits(t *testing.T) {
	for s, want := range map[int]string{-5: "0:00", 0: "0:00", 9: "0:09", 65: "1:05", 300: "5:00", 3725: "1:02:05"} {
		if got := clock(s); got != want {
			t.Errorf("clock(%d) = %q, want %q", s, got, want)
		}
	}
	if groupDigits("123456789") != "1234 5678 9" || spellDigits("1234") != "1 2 3 4" {
		t.Error("digit grouping")
	}
	if got := format("{a} and {b} and {c}", []any{"a", 1, "b", "x"}, nil); got != "1 and x and {c}" {
		t.Errorf("format = %q", got)
	}
}

func sampleChallenge() *challenge.Challenge {
	return &challenge.Challenge{
		ID: "AAAAAAAAAAAAAAAAAAAAAA", Operation: "transfer", Amount: "10.00", Payee: "Z123456789012",
		Methods: []challenge.Method{challenge.MethodEnum, challenge.MethodSMS, challenge.MethodEmail},
		State:   challenge.StateChooseMethod, AttemptsLeft: 3, Expires: time.Now().Add(300*time.Second + 400*time.Millisecond),
	}
}

func sampleData(t *testing.T, p *pages, lang string, c *challenge.Challenge) *pageData {
	t.Helper()
	d := p.data(p.langs.negotiate(lang), "/.enumgate/")
	d.Action, d.Token = "/.enumgate/challenge/"+c.ID, "tok"
	d.setChallenge(c, p.smsPaid)
	return d
}

func renderPage(t *testing.T, p *pages, lang string, c *challenge.Challenge, edit func(*pageData)) string {
	t.Helper()
	d := sampleData(t, p, lang, c)
	if edit != nil {
		edit(d)
	}
	w := httptest.NewRecorder()
	if err := p.render(w, http.StatusOK, "challenge.html", d); err != nil {
		t.Fatal(err)
	}
	return w.Body.String()
}

func TestPaymentModePage(t *testing.T) {
	p, err := loadUI(nil, "/.enumgate/", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := sampleChallenge()
	c.Amount, c.Currency, c.Payee, c.PayeeDisplay = "1234567.89", "RUB", "4111111111111111", "•••• 1111"
	c.Fields = []challenge.Field{{Name: "name", Label: "correspondent_name", Value: "Ivan  Petrov", Display: "Ivan  Petrov"}}
	c.Mode, c.Method, c.Question, c.State = challenge.ModePayment, challenge.MethodEnum, "12345678", challenge.StateAwaitingAnswer
	c.PaymentPurse, c.PaymentAmount = "4111111111111111", "1234567.89"
	body := renderPage(t, p, "ru", c, nil)
	for _, want := range []string{
		"1\u00a0234\u00a0567,89\u00a0₽", `<dd class="eg-payee">•••• 1111</dd>`,
		`<dt>Имя</dt><dd class="eg-field" data-field="name">Ivan  Petrov</dd>`,
		`data-mode="payment"`, `<dd class="eg-pay-amount">1234567.89</dd>`, `<dd class="eg-pay-payee">4111111111111111</dd>`,
		`data-uri="enum:payment?challenge=12345678&amp;purse=4111111111111111&amp;amount=1234567.89"`,
		`<svg class="eg-qr"`, `href="enum:payment?challenge=12345678&amp;purse=4111111111111111&amp;amount=1234567.89"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("payment page lacks %q", want)
		}
	}
	if strings.Contains(body, "<style") || strings.Contains(body, " style=") || strings.Contains(body, "<script>") {
		t.Error("the QR code needs inline style or script, which the CSP forbids")
	}

	// Authorization mode: a login URI, no payment details.
	c.Mode = challenge.ModeAuthorization
	body = renderPage(t, p, "en", c, nil)
	if !strings.Contains(body, `data-uri="enum:login?challenge=12345678"`) || strings.Contains(body, "eg-pay-amount") {
		t.Errorf("authorization page:\n%s", body)
	}
}
