package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// Admin API bounds.
const (
	// adminPrefix is where the enumgate admin routes live on Caddy's
	// admin endpoint.
	adminPrefix = "/enumgate/"
	// maxUserID is the longest user id the admin API accepts, in bytes.
	maxUserID = 256
	// adminTimeout bounds one admin request's store and directory calls.
	adminTimeout = 10 * time.Second
)

// AdminAPI (`admin.api.enumgate`) serves the operator routes of the
// running enumgate app on Caddy's admin endpoint, whatever its store:
//
//	GET  /enumgate/users/{id}         the user as the gateway sees it (masked)
//	POST /enumgate/users/{id}/unlock  lift the user's lockout
//	GET  /enumgate/journal/{id}       the user's authorization journal (?limit=&before=)
//	GET  /enumgate/recovery           customers' recovery requests (see recovery.go)
//	POST /enumgate/recovery/{id}/close
//
// It reaches the app of the running config at each request, so a reload
// is seen at once. Responses and logs never carry keys, codes or full
// phone numbers and addresses.
type AdminAPI struct {
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.enumgate",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision keeps the logger. The app is not looked up here: admin
// routers are provisioned before the config's apps.
func (a *AdminAPI) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger(a)
	return nil
}

// Routes implements caddy.AdminRouter.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: adminPrefix, Handler: caddy.AdminHandlerFunc(a.serve)}}
}

// UserInfo is what the admin API (and `enumgate users show` through it)
// tells about a user: the lock, and the contact data masked.
type UserInfo struct {
	User        string     `json:"user"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	Phone       string     `json:"phone,omitempty"`
	Emails      []string   `json:"emails"`
	Devices     int        `json:"devices"`
}

// Unlocked is the answer to an unlock.
type Unlocked struct {
	User     string `json:"user"`
	Unlocked bool   `json:"unlocked"`
}

// adminError is the body of every error of the admin API.
type adminError struct {
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

// errNoApp is returned when the running config has no enumgate app.
var errNoApp = errors.New("the running config has no enumgate app")

func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	if seg, ok := strings.CutPrefix(r.URL.EscapedPath(), adminPrefix+"journal/"); ok {
		return a.serveJournal(w, r, seg)
	}
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), adminPrefix+"recovery"); ok && (rest == "" || rest[0] == '/') {
		return a.serveRecovery(w, r, rest)
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), adminPrefix+"users/")
	if !ok {
		return writeAdmin(w, http.StatusNotFound, adminError{"not_found", "enumgate admin routes: GET /enumgate/users/{id}, POST /enumgate/users/{id}/unlock, GET /enumgate/journal/{id}"})
	}
	seg, action, _ := strings.Cut(rest, "/")
	id, err := url.PathUnescape(seg)
	if err != nil || !validUserID(id) {
		return writeAdmin(w, http.StatusBadRequest, adminError{"bad_request", fmt.Sprintf("a user id is 1 to %d bytes of printable UTF-8", maxUserID)})
	}
	switch action {
	case "":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			return writeAdmin(w, http.StatusMethodNotAllowed, adminError{"method_not_allowed", "use GET"})
		}
	case "unlock":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			return writeAdmin(w, http.StatusMethodNotAllowed, adminError{"method_not_allowed", "use POST"})
		}
	default:
		return writeAdmin(w, http.StatusNotFound, adminError{"not_found", "no such enumgate admin route"})
	}
	app, err := runningApp()
	if err != nil {
		return writeAdmin(w, http.StatusServiceUnavailable, adminError{"not_configured", err.Error()})
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	if action == "unlock" {
		err = app.unlockUser(ctx, id)
		if err == nil {
			a.logger.Info("user unlocked by the operator", zap.String("user", id))
			return writeAdmin(w, http.StatusOK, Unlocked{User: id, Unlocked: true})
		}
	} else {
		var info UserInfo
		if info, err = app.userInfo(ctx, id); err == nil {
			return writeAdmin(w, http.StatusOK, info)
		}
	}
	if errors.Is(err, challenge.ErrNoUser) {
		return writeAdmin(w, http.StatusNotFound, adminError{"unknown_user", "the user directory does not know this user"})
	}
	a.logger.Error("admin request failed", zap.String("user", id), zap.String("action", actionName(action)), zap.Error(err))
	return writeAdmin(w, http.StatusServiceUnavailable, adminError{"unavailable", "the store or the user directory is unavailable; see the gateway's log"})
}

func actionName(action string) string {
	if action == "" {
		return "show"
	}
	return action
}

// runningApp returns the enumgate app of the running config.
func runningApp() (*App, error) {
	v, err := caddy.ActiveContext().AppIfConfigured("enumgate")
	if err != nil {
		return nil, errNoApp
	}
	app, ok := v.(*App)
	if !ok || app.store == nil || app.dir == nil {
		return nil, errNoApp
	}
	return app, nil
}

// validUserID reports whether id is a plausible user id: 1 to maxUserID
// bytes of valid UTF-8 without control characters.
func validUserID(id string) bool {
	if id == "" || len(id) > maxUserID || !utf8.ValidString(id) {
		return false
	}
	for _, c := range id {
		if unicode.IsControl(c) {
			return false
		}
	}
	return true
}

// userInfo looks id up in the directory and the store: an error wrapping
// challenge.ErrNoUser if the directory does not know the user.
func (a *App) userInfo(ctx context.Context, id string) (UserInfo, error) {
	u, err := a.dir.Lookup(ctx, id)
	if err != nil {
		return UserInfo{}, err
	}
	until, err := a.store.LockedUntil(ctx, id, time.Now())
	if err != nil {
		return UserInfo{}, fmt.Errorf("reading the lock: %w", err)
	}
	info := UserInfo{User: id, Emails: []string{}, Devices: len(u.Devices)}
	if !until.IsZero() {
		t := until.UTC()
		info.LockedUntil = &t
	}
	if u.Phone != "" {
		info.Phone = challenge.MaskPhone(u.Phone)
	}
	for _, e := range u.Emails {
		info.Emails = append(info.Emails, challenge.MaskEmail(e))
	}
	return info, nil
}

// unlockUser lifts the lock of a user the directory knows: an error
// wrapping challenge.ErrNoUser otherwise.
func (a *App) unlockUser(ctx context.Context, id string) error {
	if _, err := a.dir.Lookup(ctx, id); err != nil {
		return err
	}
	if err := a.store.Unlock(ctx, id); err != nil {
		return fmt.Errorf("unlocking: %w", err)
	}
	return nil
}

func writeAdmin(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// An error here is the client gone: nothing more to tell it.
	_ = json.NewEncoder(w).Encode(v)
	return nil
}

// Interface guards.
var (
	_ caddy.AdminRouter = (*AdminAPI)(nil)
	_ caddy.Provisioner = (*AdminAPI)(nil)
)
