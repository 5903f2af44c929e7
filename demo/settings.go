package demo

import (
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"
)

// The demo's settings: a page of personal data behind the gateway's
// protected section "settings" (Caddyfile.example: protect_section
// settings GET POST /settings* { grant 10m }). The app itself protects
// nothing: the gateway asks once and then lets the section open for ten
// minutes.

var nicknames sync.Map // user → display name

// settings shows (GET) and changes (POST, form field "nickname") the
// user's display name.
func (a *App) settings(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		return a.fail(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "Use GET or POST.")
	}
	u, err := a.requireUser(w, r)
	if u == "" {
		return err
	}
	saved := false
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		if err := r.ParseForm(); err != nil {
			return a.fail(w, r, http.StatusBadRequest, "bad_request", "The form could not be read.")
		}
		n := strings.TrimSpace(r.PostForm.Get("nickname"))
		if n == "" || utf8.RuneCountInString(n) > 64 || !utf8.ValidString(n) {
			return a.fail(w, r, http.StatusBadRequest, "bad_request", "A display name is 1 to 64 characters.")
		}
		nicknames.Store(u, n)
		saved = true
	}
	name, _ := nicknames.Load(u)
	nick, _ := name.(string)
	var profile User
	for _, x := range append(append([]User(nil), Users...), NewUsers...) {
		if x.ID == u {
			profile = x
		}
	}
	return a.render(w, http.StatusOK, "settings", page{Title: "Settings", User: u,
		Data: struct {
			User     User
			Nickname string
			Saved    bool
		}{profile, nick, saved}})
}
