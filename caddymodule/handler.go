package caddymodule

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/account"
	"github.com/enumgate/enumgate/challenge/trust"
	"github.com/enumgate/enumgate/policy"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of Handler fields.
const (
	DefaultUser    = "{http.auth.user.id}"
	DefaultSession = "{http.request.header.Authorization}"
	DefaultPrefix  = "/.enumgate/"
	DefaultMaxBody = 64 << 10
)

// maxBodyLimit bounds max_body: the Caddyfile parser and Validate both
// check it.
var maxBodyLimit = challenge.Limit{Name: "max_body", Min: 1, Max: 64 << 20, Default: DefaultMaxBody}

// Handler is the `http.handlers.enumgate` middleware. Requests that match
// a protect rule are held: the body is read (up to max_body), the request
// is stashed and a challenge issued; browsers are sent to the challenge
// page, API clients get a 401 with the challenge. After a correct answer
// the stashed request — exactly as received, plus a signed
// Enumgate-Confirmed header — goes to the next handler, and its response
// is the response to the answer. Every other request passes straight
// through. An inbound Enumgate-Confirmed header is always removed.
type Handler struct {
	// User is the placeholder that yields the authenticated user's id.
	// Requests that match a rule without a user get 401 and are never
	// forwarded. Default: {http.auth.user.id} (set by basic_auth or
	// forward_auth with copy_headers); a header set by an SSO layer in
	// front works too, e.g. {http.request.header.X-User}.
	User string `json:"user,omitempty"`

	// Session is the placeholder whose value binds a challenge to the
	// session it was issued in (kept as a keyed hash), e.g. a session
	// cookie: {http.request.cookie.session}. Default:
	// {http.request.header.Authorization}.
	Session string `json:"session,omitempty"`

	// Protect lists the rules; the first that matches a request applies.
	Protect []Rule `json:"protect,omitempty"`

	// Methods are the confirmation methods offered, in order of
	// preference, for rules that name none. Default: enum sms email.
	Methods []string `json:"methods,omitempty"`

	// TTL is how long a challenge lives, for rules that set none.
	// Default 5m.
	TTL caddy.Duration `json:"ttl,omitempty"`

	// MaxAttempts is the wrong-answer budget of a challenge, for rules that
	// set none. Default 3.
	MaxAttempts int `json:"max_attempts,omitempty"`

	// MaxBody is the largest body a protected request may have, in bytes;
	// larger requests get 413 and are not forwarded. Default 64 KiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// Prefix is the path under which the gateway serves its pages and API.
	// It must start and end with "/". Default /.enumgate/.
	Prefix string `json:"prefix,omitempty"`

	// LoginURL, if set, is where browsers without a user are redirected
	// (303) instead of getting a 401 page.
	LoginURL string `json:"login_url,omitempty"`

	// UI configures the challenge page customers see: the operator's
	// name, logo and colours, a help link, the languages (English and
	// Russian built in, chosen by Accept-Language) and template
	// overrides. Default: the built-in page without branding, in English
	// unless the browser prefers Russian.
	UI *UI `json:"ui,omitempty"`

	// AllowedOrigins are other origins (scheme://host[:port]) whose pages
	// may start a protected request, e.g. a separate front-end app. A
	// protected request that a browser marks Sec-Fetch-Site: cross-site,
	// or whose Origin is neither this site nor listed here, gets 403
	// cross_site and is not stashed. Requests without those headers (API
	// clients) are unaffected.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`

	// CaddyErrors lists error codes (see README "Errors"; "all" for
	// every one) whose pages for browsers are handed to Caddy as errors,
	// so that the operator's handle_errors restyles them. JSON answers
	// and the notices of the challenge page are never handed over.
	// Default: none; the gateway renders its own pages.
	CaddyErrors []string `json:"caddy_errors,omitempty"`
	caddyErrors map[string]bool

	// Sections are the protected sections (protect_section).
	Sections  []Section      `json:"sections,omitempty"`
	sections  *policy.Policy // their matching, apart from the rules
	trust     trust.Store
	grantKey  []byte
	force     map[int][]forceRule // by rule index
	approvers map[string][]string // the app's approvers' groups

	allowedOrigins []string
	observe        func(challenge.Event) // the app's observer of every step
	account        *account.Service      // the customer's account (nil: none)
	baseDir        challenge.Directory   // the operator's directory
	accountDir     challenge.Directory   // the directory as the engine sees it
	noUserWarned   int64                 // Unix seconds of the last "no user" warning (atomic)
	engine         *challenge.Engine
	policy         *policy.Policy
	methods        []challenge.Method
	logger         *zap.Logger
	pages          *pages
}

// Rule is one protect rule: which requests it catches and how they are
// confirmed.
type Rule struct {
	// Operation names what the request does: transfer, withdrawal,
	// new_correspondent or any name of [a-z0-9_]. Required.
	Operation string `json:"operation"`
	// HTTPMethods are the request methods caught; empty means any.
	HTTPMethods []string `json:"http_methods,omitempty"`
	// Paths are the path patterns caught: exact (/transfer), prefix
	// (/api/transfers*), suffix (*.json) or globs (/u/*/pay). Matching is
	// case-insensitive on the cleaned path. At least one.
	Paths []string `json:"paths"`
	// Methods are the confirmation methods offered, in order of
	// preference. Default: the handler's methods.
	Methods []string `json:"methods,omitempty"`
	// TTL overrides the handler's ttl.
	TTL caddy.Duration `json:"ttl,omitempty"`
	// MaxAttempts overrides the handler's max_attempts.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// When lists conditions on body fields that must all hold for the
	// request to be protected, e.g. "amount > 1000". A condition that
	// cannot be decided (missing field, unparseable body) protects the
	// request.
	When []string `json:"when,omitempty"`
	// Amount is the request field shown to the user as the amount. It
	// must be a plain decimal ("1234.50").
	Amount string `json:"amount,omitempty"`
	// Payee is the request field shown to the user as the payee.
	Payee string `json:"payee,omitempty"`
	// Currency is the amount's currency code (e.g. RUB), shown with it.
	Currency string `json:"currency,omitempty"`
	// CurrencyField is the request field that holds the currency code,
	// instead of a fixed Currency.
	CurrencyField string `json:"currency_field,omitempty"`
	// Show lists more request fields to show, e.g. a new correspondent's
	// name.
	Show []ShowField `json:"show,omitempty"`
	// Mask maps a shown field (the payee or a Show field) to how it is
	// masked on the page, in texts and logs: "last4" shows "•••• 1111".
	Mask map[string]string `json:"mask,omitempty"`
	// EnumMode is "payment" (the E-num answer also depends on payee and
	// amount) or "authorization". Default: payment when the rule shows an
	// amount and a payee.
	EnumMode string `json:"enum_mode,omitempty"`
	// TrustedPayees, if set, forwards an operation to a payee the customer
	// marked as trusted (in the account) without a challenge, with a
	// signed Enumgate-Confirmed header saying m=trusted.
	TrustedPayees *TrustedPayees `json:"trusted_payees,omitempty"`
	// ForceWhen lists risk conditions that force a confirmation where the
	// rule would otherwise not ask (its when conditions, or a trusted
	// payee): "new_payee", "daily_total > AMOUNT", "new_client [DAYS]".
	ForceWhen []string `json:"force_when,omitempty"`
	// ApproveBy, if set, makes operations above an amount wait, after the
	// customer's confirmation, for an approver of a group (four-eyes).
	ApproveBy *ApproveBy `json:"approve_by,omitempty"`
}

// ApproveBy configures a rule's four-eyes approval.
type ApproveBy struct {
	// Group names the approvers' group (the global approvers option).
	Group string `json:"group"`
	// Above is the amount (a plain decimal) above which approval is
	// needed; "" means every operation of the rule.
	Above string `json:"above,omitempty"`
	// Within is how long the confirmed operation waits for approval.
	// Default 24h; 1m..7d.
	Within caddy.Duration `json:"within,omitempty"`
}

// TrustedPayees configures a rule's trusted_payees.
type TrustedPayees struct {
	// Skip forwards operations to trusted payees without a challenge.
	Skip bool `json:"skip"`
	// UpTo, if set, is the highest amount (a plain decimal) forwarded so;
	// a payee's own limit, if lower, applies too.
	UpTo string `json:"up_to,omitempty"`
}

// Section is a protected section (Caddyfile protect_section): the first
// request in it is held and confirmed, then a grant bound to the user and
// session opens the section for a while. Operation rules inside it still
// confirm each operation.
type Section struct {
	// Name names the section: [a-z0-9_], 1-64 characters.
	Name string `json:"name"`
	// HTTPMethods are the request methods it covers; empty means any.
	HTTPMethods []string `json:"http_methods,omitempty"`
	// Paths are the section's path patterns, as for rules.
	Paths []string `json:"paths"`
	// Grant is how long the section stays open after a confirmation.
	// Default 10m; 1m..24h.
	Grant caddy.Duration `json:"grant,omitempty"`
	// Methods, TTL and MaxAttempts override the handler's for the
	// confirmation.
	Methods     []string       `json:"methods,omitempty"`
	TTL         caddy.Duration `json:"ttl,omitempty"`
	MaxAttempts int            `json:"max_attempts,omitempty"`
}

// ShowField is one more field a rule shows.
type ShowField struct {
	// Field is the request field, e.g. "name" or "payee.name".
	Field string `json:"field"`
	// Label names the row: a message key field.<label> in the messages
	// files, else the label itself made readable ("full_name" is "Full
	// name"). 1-64 characters of [a-z0-9_.].
	Label string `json:"label"`
	// Optional lets the request lack the field (the row is left out);
	// otherwise a request without it is refused as ambiguous.
	Optional bool `json:"optional,omitempty"`
}

// policyRule converts the rule to the policy's form.
func (r Rule) policyRule() (policy.Rule, error) {
	pr := policy.Rule{
		Operation: r.Operation, HTTPMethods: r.HTTPMethods, Paths: r.Paths, Confirm: r.Methods,
		TTL: time.Duration(r.TTL), MaxAttempts: r.MaxAttempts, AmountField: r.Amount, PayeeField: r.Payee,
		Currency: r.Currency, CurrencyField: r.CurrencyField, Masks: r.Mask, EnumMode: r.EnumMode,
	}
	for _, f := range r.Show {
		pr.Show = append(pr.Show, policy.ShowField{Field: f.Field, Label: f.Label, Optional: f.Optional})
	}
	for _, w := range r.When {
		c, err := policy.ParseCondition(w)
		if err != nil {
			return pr, err
		}
		pr.When = append(pr.When, c)
	}
	return pr, nil
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.enumgate",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision compiles the rules and binds the handler to the enumgate app.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.User == "" {
		h.User = DefaultUser
	}
	if h.Session == "" {
		h.Session = DefaultSession
	}
	if h.Prefix == "" {
		h.Prefix = DefaultPrefix
	}
	if h.MaxBody == 0 {
		h.MaxBody = DefaultMaxBody
	}
	explicitMethods := len(h.Methods) > 0
	if !explicitMethods {
		for _, m := range challenge.BuiltinMethods() {
			h.Methods = append(h.Methods, string(m))
		}
	}
	for _, m := range h.Methods {
		cm, err := challenge.ParseMethod(m)
		if err != nil {
			return fmt.Errorf("enumgate: methods: %w", err)
		}
		h.methods = append(h.methods, cm)
	}
	rules := make([]policy.Rule, 0, len(h.Protect))
	for i, r := range h.Protect {
		pr, err := r.policyRule()
		if err != nil {
			return fmt.Errorf("enumgate: rule %d (%s): %w", i, r.Operation, err)
		}
		rules = append(rules, pr)
	}
	var err error
	if h.policy, err = policy.CompileWith(rules, policy.Options{Methods: methodNames()}); err != nil {
		return fmt.Errorf("enumgate: %w", err)
	}
	appIface, err := ctx.App("enumgate")
	if err != nil {
		return fmt.Errorf("enumgate: %w", err)
	}
	h.engine = appIface.(*App).Engine()
	h.observe = appIface.(*App).observe
	h.account, h.baseDir, h.accountDir = appIface.(*App).accountParts()
	h.trust, h.grantKey = appIface.(*App).trust, appIface.(*App).grantKey
	h.approvers = appIface.(*App).Approvers
	if err := h.provisionApprovals(); err != nil {
		return err
	}
	if err := h.provisionSections(); err != nil {
		return err
	}
	if err := h.provisionRisk(); err != nil {
		return err
	}
	if err := h.checkSenders(explicitMethods); err != nil {
		return err
	}
	if h.pages, err = loadUI(h.UI, h.Prefix, h.logger); err != nil {
		return err
	}
	if err := h.pages.checkMethods(h.methodsInUse()); err != nil {
		return fmt.Errorf("enumgate: ui: %w", err)
	}
	if h.caddyErrors, err = caddyErrorCodes(h.CaddyErrors); err != nil {
		return fmt.Errorf("enumgate: caddy_errors: %w", err)
	}
	h.allowedOrigins = h.allowedOrigins[:0]
	for _, o := range h.AllowedOrigins {
		n, err := normalizeOrigin(o)
		if err != nil {
			return fmt.Errorf("enumgate: allowed_origins: %w", err)
		}
		h.allowedOrigins = append(h.allowedOrigins, n)
	}
	return nil
}

// methodsInUse are the confirmation methods the handler may offer: its
// methods and those its rules name.
func (h *Handler) methodsInUse() []challenge.Method {
	var out []challenge.Method
	add := func(ms []string) {
		for _, m := range ms {
			if cm := challenge.Method(strings.ToLower(m)); !slices.Contains(out, cm) {
				out = append(out, cm)
			}
		}
	}
	add(h.Methods)
	for _, r := range h.Protect {
		add(r.Methods)
	}
	return out
}

// checkSenders refuses methods written in the config that the gateway
// cannot send: a customer would be offered nothing, or the wrong thing.
// The default method list quietly leaves out what has no sender.
func (h *Handler) checkSenders(explicit bool) error {
	check := func(where string, methods []string) error {
		for _, m := range methods {
			cm, err := challenge.ParseMethod(m)
			if err != nil {
				continue // reported by the rule's own checks
			}
			if !h.engine.CanSend(cm) {
				return fmt.Errorf("enumgate: %s offers %s, but the global enumgate block has no %s sender: add one (`%s webhook …` or `%s smtp …`) or remove %s", where, m, m, m, m, m)
			}
		}
		return nil
	}
	if explicit {
		if err := check("methods", h.Methods); err != nil {
			return err
		}
	}
	for _, r := range h.Protect {
		if err := check("protect "+r.Operation+" methods", r.Methods); err != nil {
			return err
		}
	}
	return nil
}

// hasPlaceholder reports whether s contains a {placeholder}.
func hasPlaceholder(s string) bool {
	i := strings.IndexByte(s, '{')
	return i >= 0 && strings.IndexByte(s[i:], '}') > 1
}

// Validate checks the handler's settings.
func (h *Handler) Validate() error {
	if !hasPlaceholder(h.User) {
		return fmt.Errorf("enumgate: user %q has no placeholder, so every customer would be that one user; use the placeholder your login sets, e.g. {http.auth.user.id} or {http.request.header.X-User}", h.User)
	}
	if !strings.HasPrefix(h.Prefix, "/") || !strings.HasSuffix(h.Prefix, "/") || len(h.Prefix) < 3 {
		return fmt.Errorf("enumgate: prefix %q must start and end with / and name a path", h.Prefix)
	}
	if err := maxBodyLimit.Check(h.MaxBody); err != nil {
		return fmt.Errorf("enumgate: %w", err)
	}
	if h.TTL != 0 && (time.Duration(h.TTL) < policy.MinTTL || time.Duration(h.TTL) > policy.MaxTTL) {
		return fmt.Errorf("enumgate: ttl %s out of range %s..%s", time.Duration(h.TTL), policy.MinTTL, policy.MaxTTL)
	}
	if h.MaxAttempts < 0 || h.MaxAttempts > policy.MaxMaxAttempts {
		return fmt.Errorf("enumgate: max_attempts %d out of range 1..%d", h.MaxAttempts, policy.MaxMaxAttempts)
	}
	if h.LoginURL != "" {
		if u, err := url.Parse(h.LoginURL); err != nil || (u.Host != "" && u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf("enumgate: login_url %q is not a URL", h.LoginURL)
		}
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler. The unprotected path
// (no rule matches) does one header delete, a prefix check and the policy
// match, and allocates nothing.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	delete(r.Header, challenge.ConfirmedHeader)
	delete(r.Header, challenge.ApprovedHeader)
	if r.Trailer != nil || len(r.TransferEncoding) > 0 {
		// Declared trailers, or a chunked body that may end with
		// undeclared ones (net/http adds those to r.Trailer at the end).
		stripConfirmedTrailer(r)
	}
	if strings.HasPrefix(r.URL.Path, h.Prefix) {
		return h.serveOwn(w, withClient(r), next)
	}
	if !h.policy.PathMatches(r.URL.Path) && (h.sections == nil || !h.sections.PathMatches(r.URL.Path)) {
		return next.ServeHTTP(w, r)
	}
	if rule := h.policy.Match(r.Method, r.URL.Path); rule != nil {
		return h.protect(w, withClient(r), next, rule, nil)
	}
	if h.sections != nil {
		if sec := h.sections.Match(r.Method, r.URL.Path); sec != nil {
			return h.section(w, withClient(r), next, sec)
		}
	}
	return h.overridden(w, r, next)
}

// overridden handles a request whose method no rule protects on a path
// some rule does: many frameworks take the method from an override header
// (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override) or a _method
// field of the query, a form body or a JSON body (Laravel), so the request
// is protected when any of those names a protected method. Such a body is
// read and given back to the next handler unchanged.
func (h *Handler) overridden(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	ct := r.Header.Get("Content-Type")
	var body []byte
	form, isJSON := bodyKind(ct)
	// A form's _method is what Rails, Laravel and Symfony read: a form too
	// large to judge is refused (fail closed). Laravel also reads one from
	// JSON; a JSON body is judged when it fits in max_body, else passed on.
	if r.Body != nil && r.Body != http.NoBody && (form || isJSON && r.ContentLength >= 0 && r.ContentLength <= h.MaxBody) {
		var err error
		if body, err = h.readBody(w, r); err != nil {
			return h.bodyError(w, r, err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
	}
	methods := policy.OverrideMethods(r.Header, r.URL.RawQuery, ct, body)
	if len(methods) == 0 {
		return next.ServeHTTP(w, r)
	}
	rule := h.policy.MatchAny(methods, r.URL.Path)
	if rule == nil {
		if h.sections != nil {
			// An override cannot dodge a section either.
			if sec := h.sections.MatchAny(methods, r.URL.Path); sec != nil {
				return h.section(w, withClient(r), next, sec)
			}
		}
		return next.ServeHTTP(w, r)
	}
	return h.protect(w, withClient(r), next, rule, body) // body nil: not read yet
}

// bodyKind reports whether a body of Content-Type ct may carry a _method
// field as a form, or as JSON (also no type, which frameworks sniff).
func bodyKind(ct string) (form, isJSON bool) {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	form = mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
	isJSON = mt == "" || mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
	return form, isJSON
}

// errBodyTooLarge reports a body over max_body.
var errBodyTooLarge = errors.New("body too large")

// readBody reads the request body, at most max_body bytes.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > h.MaxBody {
		return nil, errBodyTooLarge
	}
	if r.Body == nil {
		return []byte{}, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errBodyTooLarge
		}
		return nil, err
	}
	return body, nil
}

// bodyError answers a body readBody refused.
func (h *Handler) bodyError(w http.ResponseWriter, r *http.Request, err error) error {
	if errors.Is(err, errBodyTooLarge) {
		return h.fail(w, r, "body_too_large")
	}
	return h.fail(w, r, "bad_request")
}

// refused reports a protected request refused before a challenge, as one
// step of the app's observer. detail names fields, never values.
func (h *Handler) refused(r *http.Request, code, operation, user, detail string) {
	c := clientOf(r)
	h.observe(challenge.Event{Kind: challenge.EventRefused, Time: time.Now(), User: user, Operation: operation,
		Reason: code, Detail: detail, ClientIP: c.IP, UserAgent: c.UserAgent})
}

// warnNoUser logs, at most once a minute, that a protected request came
// without a user: usually a misspelt user placeholder or a login layer
// that sets another one, so customers are told to log in in vain.
func (h *Handler) warnNoUser(operation, path string) {
	now := time.Now().Unix()
	last := atomic.LoadInt64(&h.noUserWarned)
	if now-last < 60 || !atomic.CompareAndSwapInt64(&h.noUserWarned, last, now) {
		return
	}
	h.logger.Warn("protected request without a user: the user placeholder is empty (check that it names what your login layer sets); such requests get 401 (logged at most once a minute)",
		zap.String("placeholder", h.User), zap.String("operation", operation), zap.String("path", path))
}

// withClient puts the client's address and User-Agent into r's context,
// so the engine's events name them (not on the pass-through path).
func withClient(r *http.Request) *http.Request {
	return r.WithContext(challenge.WithClient(r.Context(), clientOf(r)))
}

// clientOf is the client of r: its address as Caddy determined it (with
// trusted proxies) and its User-Agent.
func clientOf(r *http.Request) challenge.Client {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	if ip == "" {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			ip = host
		}
	}
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	return challenge.Client{IP: ip, UserAgent: ua}
}

// subject resolves the user and session binding of a request.
func (h *Handler) subject(r *http.Request) challenge.Subject {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	return challenge.Subject{User: repl.ReplaceKnown(h.User, ""), Session: repl.ReplaceKnown(h.Session, "")}
}

// wantsHTML reports whether the client is a browser rather than an API
// client.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// protect holds a request a rule matched. body is the request body if it
// was read already (nil: read it now).
func (h *Handler) protect(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, rule *policy.Compiled, body []byte) error {
	who := h.subject(r)
	if who.User == "" {
		h.warnNoUser(rule.Rule.Operation, r.URL.Path)
		if h.LoginURL != "" && wantsHTML(r) {
			http.Redirect(w, r, h.LoginURL, http.StatusSeeOther)
			return nil
		}
		return h.fail(w, r, "unauthenticated")
	}
	if h.crossSite(r) {
		h.refused(r, "cross_site", rule.Rule.Operation, who.User, "")
		return h.fail(w, r, "cross_site")
	}
	if body == nil {
		var err error
		if body, err = h.readBody(w, r); err != nil {
			return h.bodyError(w, r, err)
		}
	}
	decision, err := rule.EvaluateRequest(r.Header.Get("Content-Type"), r.URL.RawQuery, body)
	if err != nil {
		// The page would show something other than what the upstream
		// executes: refuse. The reason names fields, never values.
		h.refused(r, "ambiguous_operation", rule.Rule.Operation, who.User, err.Error())
		return h.fail(w, r, "ambiguous_operation")
	}
	conf := h.Protect[rule.Index]
	trusted := decision.Protected && h.trustedSkip(r, conf, who.User, decision)
	if !decision.Protected || trusted {
		// The rule would not ask: unless a risk rule says otherwise.
		if why, detail := h.forced(r, rule.Index, who.User, decision); why != "" {
			decision.Protected, decision.Reason = true, "forced: "+why
			decision.Fields = append(decision.Fields, h.reasonPolicyField(r, why, detail, decision.Currency))
			c := clientOf(r)
			h.observe(challenge.Event{Kind: EventForced, Time: time.Now(), User: who.User, Operation: rule.Rule.Operation,
				Amount: decision.Amount, Currency: decision.Currency, Payee: decision.PayeeDisplay, Reason: why, ClientIP: c.IP, UserAgent: c.UserAgent})
		} else if trusted {
			return h.forwardTrusted(w, r, next, rule.Rule.Operation, who.User, body, decision)
		}
	}
	if !decision.Protected && len(h.force[rule.Index]) > 0 {
		// Let through by the gateway's own state (the risk rules did not
		// fire): signed m=policy, so the upstream can tell.
		return h.forwardUnasked(w, r, next, rule.Rule.Operation, who.User, body, decision, "policy")
	}
	if !decision.Protected {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
		return next.ServeHTTP(w, r)
	}
	methods, ttl, attempts := h.ruleSettings(rule)
	mode := challenge.ModeAuthorization
	if rule.PaymentMode() {
		mode = challenge.ModePayment
	}
	fields := make([]challenge.Field, 0, len(decision.Fields))
	for _, f := range decision.Fields {
		fields = append(fields, challenge.Field{Name: f.Name, Label: f.Label, Value: f.Value, Display: f.Display})
	}
	c, err := h.engine.Issue(r.Context(), challenge.Request{
		Subject: who, Operation: rule.Rule.Operation, Amount: decision.Amount, Payee: decision.Payee,
		Currency: decision.Currency, PayeeDisplay: decision.PayeeDisplay, Fields: fields, Mode: mode,
		Methods: methods, TTL: ttl, MaxAttempts: attempts, ReturnTo: sameOriginReferer(r), Reason: decision.Reason,
		Approval: h.approvalFor(conf, decision),
		Stash:    stashOf(r, body),
	})
	if errors.Is(err, challenge.ErrMalformed) {
		// Payment mode, but the payee or amount is not one the E-num app
		// can take: as ambiguous as any other unreadable operation.
		h.refused(r, "ambiguous_operation", rule.Rule.Operation, who.User, "payee or amount unusable in payment mode")
		return h.fail(w, r, "ambiguous_operation")
	}
	if err != nil {
		if errors.As(err, new(*challenge.TooManyPendingError)) {
			h.refused(r, "too_many_pending", rule.Rule.Operation, who.User, "")
		}
		return h.engineError(w, r, err, "")
	}
	return h.challengeIssued(w, r, who, c)
}

// ruleSettings are a compiled rule's confirmation methods, ttl and
// attempt budget: its own, else the handler's.
func (h *Handler) ruleSettings(rule *policy.Compiled) ([]challenge.Method, time.Duration, int) {
	methods := h.methods
	if len(rule.Rule.Confirm) > 0 {
		methods = make([]challenge.Method, 0, len(rule.Rule.Confirm))
		for _, m := range rule.Rule.Confirm {
			methods = append(methods, challenge.Method(m))
		}
	}
	ttl, attempts := rule.Rule.TTL, rule.Rule.MaxAttempts
	if ttl == 0 {
		ttl = time.Duration(h.TTL)
	}
	if attempts == 0 {
		attempts = h.MaxAttempts
	}
	return methods, ttl, attempts
}

// stashOf is the request r, with its body read already, as a challenge
// keeps it for replay (and as a forwarding's header binds it).
func stashOf(r *http.Request, body []byte) *challenge.Stash {
	return &challenge.Stash{
		Method: r.Method, Host: r.Host, URI: r.RequestURI, Proto: r.Proto, RemoteAddr: r.RemoteAddr,
		Header: r.Header.Clone(), Body: body,
	}
}

// challengeIssued answers a request held for challenge c: browsers go to
// the challenge page (starting with the method that worked last time),
// API clients get 401 with the challenge.
func (h *Handler) challengeIssued(w http.ResponseWriter, r *http.Request, who challenge.Subject, c *challenge.Challenge) error {
	if wantsHTML(r) {
		// A returning customer starts with the method that worked last
		// time: the first screen shows its question or code.
		if m, ok := h.lastMethod(r, who.User, c); ok {
			if _, err := h.engine.BeginWith(r.Context(), c.ID, who, m, h.beginOptions(r)); err != nil {
				h.logger.Debug("starting the last method failed; the customer chooses", zap.String("challenge", c.ID), zap.Error(err))
			}
		}
		http.Redirect(w, r, h.Prefix+"challenge/"+c.ID, http.StatusSeeOther)
		return nil
	}
	w.Header().Set("WWW-Authenticate", `Enumgate challenge="`+c.ID+`"`)
	return writeJSON(w, http.StatusUnauthorized, challengeCreated{
		ChallengeID: c.ID, Operation: c.Operation, operationJSON: h.operationJSON(r, c), Methods: c.Methods,
		ExpiresIn: secondsUntil(c.Expires), Href: h.Prefix + "api/challenges/" + c.ID,
	})
}

// sameOriginReferer returns the path and query of the request's Referer
// if it is on this host, else "".
func sameOriginReferer(r *http.Request) string {
	ref := r.Header.Get("Referer")
	if ref == "" || len(ref) > 2048 {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host != r.Host || (u.Scheme != "http" && u.Scheme != "https") || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return ""
	}
	return u.RequestURI()
}

// ceilSeconds rounds a wait up to whole seconds, so a client told to wait
// N seconds is never early.
func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func secondsUntil(t time.Time) int {
	s := int(time.Until(t).Round(time.Second) / time.Second)
	return max(s, 0)
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
