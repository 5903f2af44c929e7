package demo

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/confirm"
)

func init() {
	caddy.RegisterModule(App{})
}

// Defaults and limits.
const (
	// DefaultMaxAge is how old an Enumgate-Confirmed header may be before
	// the app refuses it.
	DefaultMaxAge = 2 * time.Minute

	// SecretEnv is the environment variable the secret is read from when
	// the config does not give one.
	SecretEnv = "ENUMGATE_SECRET"

	// UserHeader is the request header that names the logged-in user; the
	// gateway sets it from its authentication.
	UserHeader = "X-Demo-User"

	// LoginURL is where the demo's users log in: the gateway.
	LoginURL = "http://localhost:8080"

	// PhoneURL is where the demo phone is shown: the app itself, directly,
	// not through the gateway.
	PhoneURL = "http://localhost:9080/phone"

	maxUserLen = 256
)

// App is the demo payment app, a terminal HTTP handler: it serves every
// request that reaches it (404 for paths it does not know) and never
// calls the next handler. Transfers, withdrawals and new correspondents
// need a valid Enumgate-Confirmed header, bound to the very request.
type App struct {
	// Secret is the enumgate gateway's secret. The app derives from it the
	// key that verifies Enumgate-Confirmed headers. Placeholders such as
	// {env.ENUMGATE_SECRET} are expanded at provisioning; prefer one to a
	// literal secret, which the admin API would show. A value that is
	// exactly {env.NAME:DEFAULT} takes DEFAULT when NAME is unset or
	// empty, with a WARN (a default in the config is public). Default: the
	// value of the ENUMGATE_SECRET environment variable; if that is empty
	// too, provisioning fails.
	Secret string `json:"secret,omitempty"`

	// MaxAge is how old (or how far ahead) an Enumgate-Confirmed header
	// may be and still be accepted; challenge ids accepted are remembered
	// for this long to refuse replays. Default: 2m.
	MaxAge caddy.Duration `json:"max_age,omitempty"`

	key      []byte
	verifier *confirm.Verifier
	state    *state
	logger   *zap.Logger
	now      func() time.Time
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.enumgate_demo",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision expands the secret, derives the confirmation key, applies
// defaults and attaches the shared in-memory state, whose replay memory
// the header verifier uses (so a reload does not forget the ids seen).
func (a *App) Provision(ctx caddy.Context) error {
	return a.provisionWith(ctx, ctx.Logger())
}

// provisionWith is Provision with the logger given.
func (a *App) provisionWith(ctx caddy.Context, logger *zap.Logger) error {
	a.logger = logger
	secret, defaulted, err := resolveSecret(a.Secret)
	if err != nil {
		return err
	}
	if defaulted != "" {
		a.logger.Warn("using the public demo secret: set "+defaulted,
			zap.String("variable", defaulted),
			zap.String("risk", "the default secret is written in the config, so anyone who reads it can forge Enumgate-Confirmed headers; set "+defaulted+" to the gateway's secret"))
	}
	a.key = challenge.ConfirmKey([]byte(secret))
	if a.MaxAge == 0 {
		a.MaxAge = caddy.Duration(DefaultMaxAge)
	}
	if a.now == nil {
		a.now = time.Now
	}
	st, _, err := statePool.LoadOrNew(stateKey, func() (caddy.Destructor, error) {
		return newState(), nil
	})
	if err != nil {
		return fmt.Errorf("loading demo state: %w", err)
	}
	a.state = st.(*state)
	a.verifier = &confirm.Verifier{
		Key:     a.key,
		MaxAge:  time.Duration(a.MaxAge),
		MaxBody: maxBody,
		User:    user,
		Memory:  a.state.seen,
		Now:     func() time.Time { return a.now() },
	}
	return nil
}

// resolveSecret expands the configured secret (see App.Secret) and
// reports, in defaulted, the variable whose default was taken.
func resolveSecret(v string) (secret, defaulted string, err error) {
	if inner, ok := strings.CutPrefix(v, "{env."); ok && strings.HasSuffix(inner, "}") {
		name, def, found := strings.Cut(inner[:len(inner)-1], ":")
		if found && name != "" && def != "" && !strings.ContainsAny(name+def, "{}") {
			if s := os.Getenv(name); s != "" {
				return s, "", nil
			}
			return def, name, nil
		}
	}
	secret = caddy.NewReplacer().ReplaceAll(v, "")
	if secret == "" {
		secret = os.Getenv(SecretEnv)
	}
	if secret == "" {
		return "", "", fmt.Errorf("no secret: set secret (e.g. {env.%s}) or the %s environment variable to the gateway's secret", SecretEnv, SecretEnv)
	}
	return secret, "", nil
}

// Validate checks the provisioned configuration.
func (a *App) Validate() error {
	if a.MaxAge <= 0 {
		return fmt.Errorf("max_age must be positive, got %s", time.Duration(a.MaxAge))
	}
	return nil
}

// Cleanup releases the app's hold on the shared state.
func (a *App) Cleanup() error {
	if a.state == nil {
		return nil
	}
	a.state = nil
	_, err := statePool.Delete(stateKey)
	return err
}

// ServeHTTP serves the demo app. It is terminal: next is never called.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	p := r.URL.Path
	switch {
	case p == "/":
		return a.allow(w, r, a.home, http.MethodGet)
	case p == "/transfer":
		return a.allow(w, r, a.operate(kindTransfer), http.MethodPost)
	case p == "/withdraw":
		return a.allow(w, r, a.operate(kindWithdrawal), http.MethodPost)
	case p == "/correspondents":
		return a.allow(w, r, a.operate(kindCorrespondent), http.MethodPost)
	case p == "/operations":
		return a.allow(w, r, a.operations, http.MethodGet)
	case p == "/settings":
		return a.settings(w, r)
	case strings.HasPrefix(p, "/receipt/"):
		return a.allow(w, r, a.receipt, http.MethodGet)
	case p == "/static/demo.css":
		return a.allow(w, r, serveCSS, http.MethodGet)
	case p == "/phone":
		return a.allow(w, r, a.phonePage, http.MethodGet)
	case p == "/phone/inbox":
		return a.allow(w, r, a.inbox, http.MethodPost)
	case p == "/phone/messages":
		return a.allow(w, r, a.messages, http.MethodGet)
	case p == "/app" || strings.HasPrefix(p, "/app/"):
		return a.serveEnumApp(w, r)
	}
	return a.fail(w, r, http.StatusNotFound, "not_found", "There is no such page.")
}

type handlerFunc func(http.ResponseWriter, *http.Request) error

// allow runs h if r's method is method (GET also admits HEAD), and
// answers 405 otherwise.
func (a *App) allow(w http.ResponseWriter, r *http.Request, h handlerFunc, method string) error {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return h(w, r)
	}
	allowed := method
	if method == http.MethodGet {
		allowed = "GET, HEAD"
	}
	w.Header().Set("Allow", allowed)
	return a.fail(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "Use "+method+" here.")
}

// user returns the logged-in user from X-Demo-User, or "" if there is
// none or it is not a plausible user id.
func user(r *http.Request) string {
	vs := r.Header.Values(UserHeader)
	if len(vs) != 1 {
		return ""
	}
	u := strings.TrimSpace(vs[0])
	if len(u) > maxUserLen || !printable(u) {
		return ""
	}
	return u
}

// requireUser returns the logged-in user, or answers 401 and returns "".
func (a *App) requireUser(w http.ResponseWriter, r *http.Request) (string, error) {
	if u := user(r); u != "" {
		return u, nil
	}
	// Not Basic: the app does no authentication of its own, and a Basic
	// challenge would make browsers prompt for a password it ignores.
	w.Header().Set("WWW-Authenticate", `X-Demo-User realm="Demo Bank"`)
	if respondJSON(r) {
		return "", writeJSON(w, http.StatusUnauthorized, apiError{Error: "unauthorized", Message: "log in at " + LoginURL})
	}
	return "", a.render(w, http.StatusUnauthorized, "login", page{Title: "Please log in", Data: LoginURL})
}

// confirmation checks the Enumgate-Confirmed header of r, an operation
// of the logged-in user, and returns the confirmation method ("enum",
// "sms" or "email"); or, if the header is missing or is not a valid
// confirmation of this very request by that user, the error to answer
// with instead of performing the operation. A header counts once: its
// challenge id is remembered for max_age. r.Body is left whole for the
// operation.
func (a *App) confirmation(r *http.Request) (string, *badRequest) {
	c, refused := a.confirmed(r)
	return c.Method, refused
}

// confirmed is confirmation with the whole claims.
func (a *App) confirmed(r *http.Request) (confirm.Claims, *badRequest) {
	refuse := func(msg string) *badRequest {
		return &badRequest{status: http.StatusForbidden, code: "not_confirmed", msg: msg}
	}
	c, err := a.verifier.Verify(r)
	if err == nil {
		// "trusted": the gateway forwarded it unasked, to a payee the
		// customer trusts (trusted_payees skip); the receipt says so.
		// "policy": let through unasked by the gateway's rules (under a
		// rule's threshold, the risk rules did not fire).
		if _, err := challenge.ParseMethod(c.Method); err != nil && c.Method != "trusted" && c.Method != "policy" {
			a.logger.Info("operation refused: not confirmed", zap.String("user", c.User), zap.Error(err))
			return confirm.Claims{}, refuse("The confirmation names an unknown method.")
		}
		return c, nil
	}
	a.logger.Info("operation refused: not confirmed", zap.String("user", user(r)), zap.Error(err))
	switch mm, _ := errors.AsType[*confirm.MismatchError](err); {
	case errors.Is(err, confirm.ErrMissing):
		return confirm.Claims{}, &badRequest{status: http.StatusForbidden, code: "confirmation_required",
			msg: "This operation must be confirmed: make it through the enumgate gateway at " + LoginURL + "."}
	case mm != nil && mm.Part == "user":
		return confirm.Claims{}, refuse("The confirmation was made by another user.")
	case mm != nil:
		return confirm.Claims{}, refuse("The confirmation was made for another request: its " + mm.Part + " differs.")
	case errors.Is(err, confirm.ErrReplayed):
		br := refuse("This confirmation has already been used.")
		br.replayed = true
		return confirm.Claims{}, br
	case errors.Is(err, confirm.ErrStale):
		return confirm.Claims{}, refuse("This confirmation has expired, or the clocks disagree.")
	case errors.Is(err, confirm.ErrTooLarge):
		return confirm.Claims{}, invalid("request body is larger than %d KiB", maxBody>>10)
	case errors.Is(err, confirm.ErrMemoryFull):
		return confirm.Claims{}, &badRequest{status: http.StatusServiceUnavailable, code: "unavailable",
			msg: "Too many confirmations at once; try again in a few minutes."}
	case errors.Is(err, confirm.ErrMalformed), errors.Is(err, confirm.ErrSignature):
		return confirm.Claims{}, refuse("The Enumgate-Confirmed header is not a valid confirmation.")
	}
	// What is left is an error reading the body.
	return confirm.Claims{}, invalid("reading request body: %v", err)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*App)(nil)
	_ caddy.Validator             = (*App)(nil)
	_ caddy.CleanerUpper          = (*App)(nil)
	_ caddyhttp.MiddlewareHandler = (*App)(nil)
)
