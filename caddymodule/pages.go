package caddymodule

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/policy"
)

// webFS holds the built-in templates, static files and messages.
//
//go:embed web/*.html web/static web/i18n
var webFS embed.FS

// pages renders the customer-facing HTML pages of one handler.
type pages struct {
	tmpl    *template.Template
	static  map[string]asset // by file name under <prefix>static/
	assets  assets
	langs   *languages
	brand   brand
	smsPaid bool
	csp     string // the pages' Content-Security-Policy
}

// asset is a file served under <prefix>static/.
type asset struct {
	body  []byte
	ctype string
	etag  string // also the ?v= of its URL
}

// assets are the URLs of the page's stylesheets and script, versioned by
// content so they can be cached.
type assets struct {
	CSS, Theme, JS string
}

// brand is what the operator configured to show on every page.
type brand struct {
	Name string // operator's name, or ""
	Logo string // logo URL, or ""
	Help string // help link, or ""
}

// methodChoice is one method offered on the page.
type methodChoice struct {
	ID    challenge.Method
	Label string
	Hint  string
	Paid  bool
}

// pageData is what the templates see. The exported fields and methods
// are the contract for operators' templates.
type pageData struct {
	Lang   string // the page's language tag, e.g. "en"
	Dir    string // "ltr" or "rtl"
	Brand  brand
	Assets assets
	Prefix string // the handler's prefix, e.g. /.enumgate/
	Action string // where the page's forms post
	Token  string // the forms' token

	C         *challenge.Challenge
	ExpiresIn int  // seconds until the challenge expires
	ResendIn  int  // seconds until the method may be begun again
	Step      bool // show the answer step of the begun method
	Methods   []methodChoice

	Error     string        // the error shown, in the page's language
	ErrorHTML template.HTML // the error as HTML (with a countdown), if set; shown instead of Error
	ErrorCode string        // its stable code (data-error)
	Tone      string        // "" (an error) or "info": the message is news, not a failure
	Notice    string        // a status message (a new code was sent), in the page's language
	Deliver   bool          // offer "Try again": deliver the confirmed request again (Action, Token)
	Confirmed time.Time     // when the operation was confirmed, on the confirmed page
	Home      string        // where "back to the app" goes
	Retry     string        // the challenge page to open again, if that may help

	Account   *accountPage   // the account page's content
	Approvals *approvalsPage // the approvals page's content
	Refresh   int            // seconds before the page reloads itself (0: never)
	Cancel    bool           // offer to cancel the operation (Action, Token)

	cat     *catalog
	unknown *[]string // collects unknown message keys while checking
}

func (p *pages) data(cat *catalog, prefix string) *pageData {
	return &pageData{
		Lang: cat.lang, Dir: cat.dir, Brand: p.brand, Assets: p.assets, Prefix: prefix,
		Home: "/", cat: cat,
	}
}

// T returns the message key in the page's language, its {name}
// placeholders filled from args given as name, value pairs.
func (d *pageData) T(key string, args ...any) string {
	msg, ok := d.cat.msgs[key]
	if !ok {
		if d.unknown != nil {
			*d.unknown = append(*d.unknown, key)
		}
		return key
	}
	return format(msg, args, nil)
}

// TH is T for a sentence whose filled-in values are emphasised: the
// message is escaped, each value is escaped and put in <strong>, and
// values of type template.HTML are inserted as they are.
func (d *pageData) TH(key string, args ...any) template.HTML {
	msg, ok := d.cat.msgs[key]
	if !ok {
		if d.unknown != nil {
			*d.unknown = append(*d.unknown, key)
		}
		return template.HTML(template.HTMLEscapeString(key))
	}
	return template.HTML(format(template.HTMLEscapeString(msg), args, func(v any) string {
		if h, ok := v.(template.HTML); ok {
			return string(h)
		}
		return "<strong>" + template.HTMLEscapeString(fmt.Sprint(v)) + "</strong>"
	}))
}

// OpLabel names the challenge's operation.
func (d *pageData) OpLabel() string {
	if d.C == nil {
		return ""
	}
	return opName(d.cat, d.C.Operation)
}

// AmountText is the amount formatted for the page's language, with its
// currency: "1 234,50 ₽" in Russian, "RUB 1,234.50" in English.
func (d *pageData) AmountText() string {
	if d.C == nil || d.C.Amount == "" {
		return ""
	}
	return policy.FormatAmount(d.C.Amount, d.C.Currency, d.Lang)
}

// OpName is operation op's name in the page's language.
func (d *pageData) OpName(op string) string { return opName(d.cat, op) }

// Amount formats an amount with its currency in the page's language.
func (d *pageData) Amount(amount, currency string) string {
	return policy.FormatAmount(amount, currency, d.Lang)
}

// PayeeText is the payee as the page shows it: masked where the rule
// masks it.
func (d *pageData) PayeeText() string {
	if d.C == nil {
		return ""
	}
	if d.C.PayeeDisplay != "" {
		return d.C.PayeeDisplay
	}
	return d.C.Payee
}

// FieldLabel names a further field's row: the message field.<label>,
// else the label made readable.
func (d *pageData) FieldLabel(label string) string {
	if t, ok := d.cat.msgs["field."+label]; ok {
		return t
	}
	return readable(label)
}

// Payment reports whether the E-num answer depends on payee and amount.
func (d *pageData) Payment() bool {
	return d.C != nil && d.C.Mode == challenge.ModePayment
}

// EnumURI is the enum: URI of the E-num question, "" before one is drawn.
func (d *pageData) EnumURI() string {
	if d.C == nil || d.C.Method != challenge.MethodEnum {
		return ""
	}
	return enumURI(d.C)
}

// EnumLink is EnumURI as a link that opens the E-num app on a phone that
// has it (the URI is the gateway's own, so it is marked safe).
func (d *pageData) EnumLink() template.URL { return template.URL(d.EnumURI()) }

// QR is the inline SVG QR code of EnumURI.
func (d *pageData) QR() template.HTML {
	u := d.EnumURI()
	if u == "" {
		return ""
	}
	return qrSVG(u, d.T("enum.qr"))
}

// PayeeLabel names the payee row of the summary for the operation.
func (d *pageData) PayeeLabel() string {
	if d.C != nil {
		if t, ok := d.cat.msgs["summary.payee."+d.C.Operation]; ok {
			return t
		}
	}
	return d.T("summary.payee")
}

// AnswerLabel labels the answer field for the begun method.
func (d *pageData) AnswerLabel() string {
	if d.C == nil || d.C.Method == "" {
		return d.T("answer.label.enum")
	}
	return d.firstText("answer.label."+string(d.C.Method), "answer.label.code")
}

// Sends reports whether the begun method sends its code (SMS, e-mail),
// so the page offers to send it again.
func (d *pageData) Sends() bool {
	if d.C == nil {
		return false
	}
	m, ok := challenge.LookupMethod(d.C.Method)
	if !ok {
		return false
	}
	_, sends := m.(challenge.Sending)
	return sends
}

// MethodText is the begun method's text of a kind ("heading", "sent",
// "resend"): the method's own message (method.<name>.<kind>, or
// resend.<name>), else the one of a method without messages of its own.
func (d *pageData) MethodText(kind string, args ...any) string {
	own, generic := d.methodKeys(kind)
	return d.firstText(own, generic, args...)
}

// MethodTextH is MethodText with the values emphasised (see TH).
func (d *pageData) MethodTextH(kind string, args ...any) template.HTML {
	own, generic := d.methodKeys(kind)
	if _, ok := d.cat.msgs[own]; ok {
		return d.TH(own, args...)
	}
	return d.TH(generic, args...)
}

func (d *pageData) methodKeys(kind string) (own, generic string) {
	m := ""
	if d.C != nil {
		m = string(d.C.Method)
	}
	if kind == "resend" {
		return "resend." + m, "resend.code"
	}
	return "method." + m + "." + kind, "method.code." + kind
}

// firstText is the message key if the messages have it, else generic.
func (d *pageData) firstText(key, generic string, args ...any) string {
	if _, ok := d.cat.msgs[key]; ok {
		return d.T(key, args...)
	}
	return d.T(generic, args...)
}

// setChallenge fills in what the page shows of c.
func (d *pageData) setChallenge(c *challenge.Challenge, smsPaid bool) {
	d.C = c
	d.ExpiresIn = secondsUntil(c.Expires)
	if !c.ResendAt.IsZero() {
		d.ResendIn = secondsUntil(c.ResendAt)
	}
	d.Step = c.Method != ""
	d.Methods = d.Methods[:0]
	for _, m := range c.Methods {
		if m == c.Method {
			continue
		}
		var hint string
		if to := c.Destinations[string(m)]; to != "" {
			hint = d.T("method."+string(m)+".hint_to", "to", to)
		} else {
			hint = d.T("method." + string(m) + ".hint")
		}
		d.Methods = append(d.Methods, methodChoice{
			ID: m, Label: d.T("method." + string(m)), Hint: hint,
			Paid: m == challenge.MethodSMS && smsPaid,
		})
	}
	if rt := returnTo(c.ReturnTo); rt != "" {
		d.Home = rt
	}
}

// setError shows the error code on the challenge page, with the message
// key (default error.<code>). Call it after setChallenge.
func (d *pageData) setError(code, key string, attemptsLeft int) {
	if key == "" {
		key = "error." + code
	}
	d.ErrorCode, d.Error = code, d.T(key)
	switch code {
	case "wrong_answer":
		d.Error += " " + d.T("answer.attempts", "n", attemptsLeft)
	case "sms_limit":
		// Nothing was sent: hide the SMS step and the SMS choice.
		if d.C != nil && d.C.Method == challenge.MethodSMS {
			d.Step = false
		}
		ms := d.Methods[:0]
		for _, m := range d.Methods {
			if m.ID != challenge.MethodSMS {
				ms = append(ms, m)
			}
		}
		d.Methods = ms
	}
}

// render writes the page with the pages' security headers.
func (p *pages) render(w http.ResponseWriter, status int, name string, d *pageData) error {
	return p.renderView(w, status, name, d, d.Lang)
}

// renderError shows an error page in the browser's language; msg is the
// English text, used if the messages have no error.<code>.
func (p *pages) renderError(w http.ResponseWriter, r *http.Request, status int, code, msg, prefix string) error {
	return p.renderErrorKey(w, r, status, code, "error."+code, msg, prefix)
}

func (p *pages) renderErrorKey(w http.ResponseWriter, r *http.Request, status int, code, key, msg, prefix string) error {
	cat := p.langs.negotiate(r.Header.Get("Accept-Language"))
	d := p.data(cat, prefix)
	d.ErrorCode, d.Error = code, msg
	if t, ok := cat.msgs[key]; ok {
		d.Error = t
	}
	switch code {
	case "forbidden", "unavailable", "outcome_unknown", "bad_request", "method_required", "method_not_offered", "method_not_allowed":
		// Opening the challenge page again may help.
		if rest, ok := strings.CutPrefix(r.URL.Path, prefix+"challenge/"); ok && challenge.ValidID(rest) {
			d.Retry = r.URL.Path
		}
	}
	return p.render(w, status, "error.html", d)
}

// serveStatic serves the page's stylesheets, script and logo.
func (p *pages) serveStatic(w http.ResponseWriter, r *http.Request, name string) error {
	a, ok := p.static[name]
	if !ok {
		return caddyhttp.Error(http.StatusNotFound, errors.New("no such static file"))
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return caddyhttp.Error(http.StatusMethodNotAllowed, errors.New("static files are read with GET or HEAD"))
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	if r.URL.Query().Get("v") == a.etag {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	h.Set("ETag", `"`+a.etag+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	return nil
}

// groupDigits splits a question into groups of four for reading:
// "12345678" becomes "1234 5678".
func groupDigits(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// spellDigits spaces out a number so a screen reader reads it digit by
// digit: "1234" becomes "1 2 3 4".
func spellDigits(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// clock formats seconds as m:ss (h:mm:ss from an hour).
func clock(s int) string {
	s = max(s, 0)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// countdown is a clock the page's script counts down.
func countdown(s int) template.HTML {
	s = max(s, 0)
	return template.HTML(`<span class="eg-countdown" data-seconds="` + strconv.Itoa(s) + `">` + clock(s) + `</span>`)
}

// returnTo returns path if it is a plain path on this site, else "".
func returnTo(path string) string {
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || len(path) > 2048 {
		return ""
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c <= ' ' || c == '\\' || c == 0x7f {
			return ""
		}
	}
	if u, err := url.Parse(path); err != nil || u.Host != "" || u.Scheme != "" {
		return ""
	}
	return path
}

// maxFormBody bounds the challenge page's form posts.
const maxFormBody = 8 << 10

// sameOrigin refuses form posts another site made the browser send:
// Sec-Fetch-Site, where the browser sends it, must not be cross-site, and
// an Origin header must name this host.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// servePage serves the challenge page: GET shows it; POST handles its
// forms (choose a method, resend, answer, cancel), each bound to the
// challenge and session by a token and refused from other sites. Every
// form POST that the customer could repeat answers 303 (POST/redirect/
// GET): a reload never sends an answer or a code again. What the POST
// found (a wrong answer, a new code sent, a wait) travels to the GET as
// a signed notice in the query.
func (h *Handler) servePage(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, id string) error {
	who := h.subject(r)
	if who.User == "" {
		return h.fail(w, r, "unauthenticated")
	}
	ctx := r.Context()
	d := h.pages.data(h.pages.langs.negotiate(r.Header.Get("Accept-Language")), h.Prefix)
	d.Action, d.Token = h.Prefix+"challenge/"+id, h.engine.FormToken(id, who)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		return h.postPage(w, r, next, id, who, d)
	default:
		return h.methodNotAllowed(w, r, "GET, HEAD, POST")
	}
	n, hasNotice := h.readNotice(r, id, who)
	if hasNotice && n.code == "locked" {
		return h.renderLocked(w, r, n.until)
	}
	c, err := h.engine.Get(ctx, id, who)
	if err != nil {
		return h.engineError(w, r, err, id)
	}
	switch c.State {
	case challenge.StateExhausted:
		return h.fail(w, r, "too_many_attempts")
	case challenge.StateConfirmed:
		// Back after success: it is done; never "start again".
		return h.renderConfirmed(w, r, c)
	case challenge.StateNotDelivered:
		return h.notDelivered(w, r, c)
	case challenge.StateDelivering:
		d.ErrorCode, d.Error, d.Tone, d.Retry = "delivering", d.T("notice.delivering"), "info", d.Action
		return h.pages.render(w, http.StatusOK, "error.html", d)
	case challenge.StateAwaitingApproval:
		return h.renderAwaiting(w, r, d, c)
	case challenge.StateRejected:
		d.setChallenge(c, h.pages.smsPaid)
		d.ErrorCode, d.Error = "rejected", d.T("error.rejected")
		return h.pages.render(w, http.StatusForbidden, "error.html", d)
	}
	d.setChallenge(c, h.pages.smsPaid)
	status := http.StatusOK
	if hasNotice {
		status = d.setNotice(n)
	}
	return h.pages.render(w, status, "challenge.html", d)
}

// postPage handles one form of the challenge page.
func (h *Handler) postPage(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, id string, who challenge.Subject, d *pageData) error {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return h.refuse(w, r, refusal{code: "bad_request", key: "error.form"})
	}
	if !sameOrigin(r) || !h.engine.CheckFormToken(id, who, r.PostForm.Get("token")) {
		return h.refuse(w, r, refusal{code: "forbidden", key: "error.forbidden"})
	}
	var (
		err error
		ok  notice
	)
	switch r.PostForm.Get("action") {
	case "method":
		m, perr := challenge.ParseMethod(r.PostForm.Get("method"))
		if perr != nil {
			return h.refuse(w, r, refusal{code: "bad_request", key: "error.choose_offered"})
		}
		if _, err = h.engine.BeginWith(ctx, id, who, m, h.beginOptions(r)); err == nil && r.PostForm.Get("resend") != "" {
			ok = notice{code: "sent"}
		}
	case "answer":
		var conf *challenge.Confirmation
		if conf, err = h.engine.Verify(ctx, id, who, r.PostForm.Get("answer")); err == nil {
			return h.replay(w, r, next, conf)
		}
	case "deliver":
		var conf *challenge.Confirmation
		if conf, err = h.engine.Deliver(ctx, id, who); err == nil {
			return h.replay(w, r, next, conf)
		}
	case "cancel":
		home := "/"
		if c, gerr := h.engine.Get(ctx, id, who); gerr == nil {
			if rt := returnTo(c.ReturnTo); rt != "" {
				home = rt
			}
		}
		if err = h.engine.Cancel(ctx, id, who); err == nil || errors.Is(err, challenge.ErrUnknown) {
			http.Redirect(w, r, h.Prefix+"cancelled?to="+url.QueryEscape(home), http.StatusSeeOther)
			return nil
		}
	default:
		return h.refuse(w, r, refusal{code: "bad_request", key: "error.unknown_action"})
	}
	if err != nil {
		var found bool
		if ok, found = noticeFor(err, time.Now()); !found {
			if a := r.PostForm.Get("action"); a == "answer" || a == "deliver" {
				return h.answerError(w, r, err, id)
			}
			return h.engineError(w, r, err, id)
		}
	}
	http.Redirect(w, r, d.Action+h.noticeQuery(ok, id, who), http.StatusSeeOther)
	return nil
}

// renderConfirmed is the page of a confirmed, delivered operation: when,
// and the way back to the app.
func (h *Handler) renderConfirmed(w http.ResponseWriter, r *http.Request, c *challenge.Challenge) error {
	cat := h.pages.langs.negotiate(r.Header.Get("Accept-Language"))
	d := h.pages.data(cat, h.Prefix)
	d.setChallenge(c, h.pages.smsPaid)
	d.ErrorCode, d.Tone, d.Confirmed = "confirmed", "ok", c.ConfirmedAt
	d.Error = format(cat.text("notice.confirmed"), []any{"time", c.ConfirmedAt.UTC().Format("15:04") + " UTC"}, nil)
	return h.pages.render(w, http.StatusOK, "error.html", d)
}

// serveCancelled is the page a cancelled confirmation lands on: nothing
// was done, and a way back to the app.
func (h *Handler) serveCancelled(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return h.methodNotAllowed(w, r, "GET, HEAD")
	}
	cat := h.pages.langs.negotiate(r.Header.Get("Accept-Language"))
	d := h.pages.data(cat, h.Prefix)
	d.ErrorCode, d.Error, d.Tone = "cancelled", cat.text("notice.cancelled"), "info"
	if rt := returnTo(r.URL.Query().Get("to")); rt != "" {
		d.Home = rt
	}
	return h.pages.render(w, http.StatusOK, "error.html", d)
}

// renderLocked is the page of a locked account: how long the lock lasts,
// counted down.
func (h *Handler) renderLocked(w http.ResponseWriter, r *http.Request, until time.Time) error {
	n := secondsUntil(until)
	cat := h.pages.langs.negotiate(r.Header.Get("Accept-Language"))
	d := h.pages.data(cat, h.Prefix)
	d.ErrorCode = "locked"
	d.ErrorHTML = template.HTML(format(template.HTMLEscapeString(cat.text("error.locked_wait")), []any{"time", countdown(n)}, func(v any) string {
		if h, ok := v.(template.HTML); ok {
			return string(h)
		}
		return template.HTMLEscapeString(fmt.Sprint(v))
	}))
	w.Header().Set("Retry-After", strconv.Itoa(n))
	return h.pages.render(w, http.StatusForbidden, "error.html", d)
}
