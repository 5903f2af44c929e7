package caddymodule

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/enumgate/enumgate/challenge"
)

//go:embed web
var webFS embed.FS

// pages renders the customer-facing HTML pages.
type pages struct {
	tmpl   *template.Template
	static fs.FS
}

func loadPages() (*pages, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"group":       groupDigits,
		"methodLabel": methodLabel,
		"opLabel":     operationLabel,
	}).ParseFS(webFS, "web/*.html")
	if err != nil {
		return nil, err
	}
	static, _ := fs.Sub(webFS, "web/static")
	return &pages{tmpl: t, static: static}, nil
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

func methodLabel(m challenge.Method) string {
	switch m {
	case challenge.MethodEnum:
		return "E-num app"
	case challenge.MethodSMS:
		return "SMS code"
	case challenge.MethodEmail:
		return "Answer by e-mail"
	}
	return string(m)
}

func operationLabel(op string) string {
	switch op {
	case "transfer":
		return "Transfer"
	case "withdrawal":
		return "Withdrawal"
	case "new_correspondent":
		return "New correspondent"
	}
	return strings.ReplaceAll(op, "_", " ")
}

type pageData struct {
	Prefix    string
	Action    string
	Token     string
	C         *challenge.Challenge
	ExpiresIn int
	ResendIn  int
	Error     string
	ErrorCode string
	Home      string
}

func (p *pages) render(w http.ResponseWriter, status int, name string, d pageData) error {
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	return p.tmpl.ExecuteTemplate(w, name, d)
}

func (p *pages) renderError(w http.ResponseWriter, _ *http.Request, status int, code, msg, prefix string) error {
	return p.render(w, status, "error.html", pageData{Prefix: prefix, Error: msg, ErrorCode: code, Home: "/"})
}

func (p *pages) serveStatic(w http.ResponseWriter, r *http.Request, name string) error {
	if name != "enumgate.css" {
		return caddyhttp.Error(http.StatusNotFound, errors.New("no such static file"))
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeFileFS(w, r, p.static, name)
	return nil
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
// forms (choose a method, answer, cancel), each bound to the challenge and
// session by a token.
func (h *Handler) servePage(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, id string) error {
	who := h.subject(r)
	if who.User == "" {
		return h.fail(w, r, http.StatusUnauthorized, "unauthenticated", "Log in before confirming an operation.")
	}
	ctx := r.Context()
	d := pageData{Prefix: h.Prefix, Action: h.Prefix + "challenge/" + id, Token: h.engine.FormToken(id, who), Home: "/"}
	status := http.StatusOK
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
		if err := r.ParseForm(); err != nil {
			return h.fail(w, r, http.StatusBadRequest, "bad_request", "The form could not be read.")
		}
		if !sameOrigin(r) || !h.engine.CheckFormToken(id, who, r.PostForm.Get("token")) {
			return h.fail(w, r, http.StatusForbidden, "forbidden", "This form was not sent from the confirmation page. Open the page again.")
		}
		var err error
		switch r.PostForm.Get("action") {
		case "method":
			m, perr := challenge.ParseMethod(r.PostForm.Get("method"))
			if perr != nil {
				return h.fail(w, r, http.StatusBadRequest, "bad_request", "Choose one of the offered methods.")
			}
			if _, err = h.engine.Begin(ctx, id, who, m); err == nil {
				http.Redirect(w, r, d.Action, http.StatusSeeOther)
				return nil
			}
		case "answer":
			var conf *challenge.Confirmation
			if conf, err = h.engine.Verify(ctx, id, who, r.PostForm.Get("answer")); err == nil {
				return h.replay(w, r, next, conf)
			}
		case "cancel":
			home := d.Home
			if c, gerr := h.engine.Get(ctx, id, who); gerr == nil && c.ReturnTo != "" {
				home = c.ReturnTo
			}
			if err = h.engine.Cancel(ctx, id, who); err == nil || errors.Is(err, challenge.ErrUnknown) {
				http.Redirect(w, r, home, http.StatusSeeOther)
				return nil
			}
		default:
			return h.fail(w, r, http.StatusBadRequest, "bad_request", "Unknown form action.")
		}
		var (
			we *challenge.WrongAnswerError
			ce *challenge.CooldownError
			se *challenge.SMSLimitError
		)
		switch {
		case errors.As(err, &se):
			status, d.ErrorCode = http.StatusTooManyRequests, "sms_limit"
			d.Error = "No more SMS can be sent for now. Choose the E-num app or e-mail instead."
		case errors.As(err, &we):
			status, d.ErrorCode = http.StatusUnprocessableEntity, "wrong_answer"
			d.Error = "The answer is wrong. Check the digits and try again."
		case errors.As(err, &ce):
			status, d.ErrorCode = http.StatusTooManyRequests, "resend_too_soon"
			d.Error = "A code was sent a moment ago. Wait before asking for another, or choose another method."
		case errors.Is(err, challenge.ErrMalformed):
			status, d.ErrorCode = http.StatusBadRequest, "bad_request"
			d.Error = "Type only the digits of the answer."
		case errors.Is(err, challenge.ErrMethodRequired):
			status, d.ErrorCode = http.StatusConflict, "method_required"
			d.Error = "Choose a confirmation method first."
		default:
			return h.engineError(w, r, err, id)
		}
	default:
		return h.fail(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "Use GET or POST.")
	}
	c, err := h.engine.Get(ctx, id, who)
	if err != nil {
		return h.engineError(w, r, err, id)
	}
	if c.State == challenge.StateExhausted {
		return h.fail(w, r, http.StatusForbidden, "too_many_attempts", "Too many wrong answers. Start the operation again.")
	}
	d.C, d.ExpiresIn = c, secondsUntil(c.Expires)
	if !c.ResendAt.IsZero() {
		d.ResendIn = secondsUntil(c.ResendAt)
	}
	return h.pages.render(w, status, "challenge.html", d)
}
