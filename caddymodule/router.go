package caddymodule

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// serveOwn serves the gateway's pages, static files and JSON API under the
// prefix.
func (h *Handler) serveOwn(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	rest := strings.TrimPrefix(r.URL.Path, h.Prefix)
	switch {
	case rest == "api/journal":
		return h.serveJournalAPI(w, r)
	case rest == "journal":
		return h.serveJournalPage(w, r)
	case rest == "account":
		return h.serveAccountPage(w, r)
	case rest == "approvals":
		return h.serveApprovalsPage(w, r)
	case rest == "api/approvals" || strings.HasPrefix(rest, "api/approvals/"):
		return h.serveApprovalsAPI(w, r, next, strings.TrimPrefix(strings.TrimPrefix(rest, "api/approvals"), "/"))
	case rest == "api/account" || strings.HasPrefix(rest, "api/account/"):
		return h.serveAccountAPI(w, r, strings.TrimPrefix(strings.TrimPrefix(rest, "api/account"), "/"))
	case strings.HasPrefix(rest, "api/challenges/"):
		return h.serveAPI(w, r, next, strings.TrimPrefix(rest, "api/challenges/"))
	case strings.HasPrefix(rest, "challenge/"):
		return h.servePage(w, r, next, strings.TrimPrefix(rest, "challenge/"))
	case rest == "cancelled":
		return h.serveCancelled(w, r)
	case strings.HasPrefix(rest, "static/"):
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return h.methodNotAllowed(w, r, "GET, HEAD")
		}
		return h.pages.serveStatic(w, r, strings.TrimPrefix(rest, "static/"))
	}
	return h.fail(w, r, "not_found")
}
