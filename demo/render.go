package demo

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

//go:embed templates/*.html static/demo.css
var files embed.FS

// errNoSuchTemplate reports a page name without a template (a bug).
var errNoSuchTemplate = errors.New("no such page template")

// page is what the layout template gets.
type page struct {
	Title   string
	User    string // the logged-in user; "" outside the bank
	Phone   bool   // the phone's look instead of the bank's
	Refresh int    // seconds between automatic reloads; 0: none
	Data    any    // the page's own data
}

var funcs = template.FuncMap{
	"opTitle": func(op string) string {
		switch op {
		case "transfer":
			return "Transfer"
		case "withdrawal":
			return "Withdrawal to card"
		case "new_correspondent":
			return "New correspondent"
		}
		return op
	},
	"confirmation": func(method string) string {
		switch method {
		case "enum":
			return "Confirmed by E-num"
		case "sms":
			return "Confirmed by SMS"
		case "email":
			return "Confirmed by e-mail"
		case "trusted":
			return "Trusted payee (no confirmation asked)"
		case "policy":
			return "Allowed by the gateway's rules (no confirmation asked)"
		}
		return "Not confirmed by enumgate"
	},
	"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05") },
}

// pages maps a page name to its template set (layout + page).
var pages = func() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html"))
	m := map[string]*template.Template{}
	for _, name := range []string{"home", "receipt", "operations", "error", "login", "phone", "settings"} {
		m[name] = template.Must(template.Must(layout.Clone()).ParseFS(files, "templates/"+name+".html"))
	}
	return m
}()

// render writes page name with status, as HTML.
func (a *App) render(w http.ResponseWriter, status int, name string, p page) error {
	t, ok := pages[name]
	if !ok {
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("%w: %s", errNoSuchTemplate, name))
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("rendering %s page: %w", name, err))
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "same-origin")
	noStore(h)
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// writeJSON writes v as a JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("encoding JSON response: %w", err))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	noStore(h)
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

func noStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// fail answers with an error: JSON {"error": code, "message": msg} or
// an HTML page, as respondJSON decides.
func (a *App) fail(w http.ResponseWriter, r *http.Request, status int, code, msg string) error {
	if respondJSON(r) {
		return writeJSON(w, status, apiError{Error: code, Message: msg})
	}
	return a.render(w, status, "error", page{Title: http.StatusText(status), User: user(r), Data: msg})
}

// respondJSON reports whether to answer r with JSON rather than HTML.
// A POST gets HTML if its Accept has text/html or its body is a form,
// and JSON otherwise; other requests get JSON only if Accept has
// application/json and not text/html.
func respondJSON(r *http.Request) bool {
	accept := strings.ToLower(strings.Join(r.Header.Values("Accept"), ","))
	if strings.Contains(accept, "text/html") {
		return false
	}
	if r.Method == http.MethodPost {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		return ct != "application/x-www-form-urlencoded" && ct != "multipart/form-data"
	}
	return strings.Contains(accept, "application/json")
}

// serveCSS serves the stylesheet.
func serveCSS(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeFileFS(w, r, files, "static/demo.css")
	return nil
}
