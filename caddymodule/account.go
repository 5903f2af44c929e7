package caddymodule

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/account"
	"go.uber.org/zap"
)

// The customer's account: the page /.enumgate/account and the JSON API
// /.enumgate/api/account. Every change is itself confirmed by a challenge
// (the usual 401/303 flow, whose correct answer carries the change out)
// and journalled; reading needs none. A change is the customer's own
// request, held and replayed like a protected one (see replay.go): the
// replay reaches these handlers with the confirmation in its context.

// Account changes by the operation the challenge page names.
const (
	opAccountDevice        = "account_device"
	opAccountDeviceRemove  = "account_device_remove"
	opAccountContact       = "account_contact"
	opAccountContactRemove = "account_contact_remove"
	opAccountPrimary       = "account_primary"
	opAccountNotifications = "account_notifications"
	opAccountTrusted       = "account_trusted"
)

// maxAccountBody bounds account forms and JSON bodies.
const maxAccountBody = 4 << 10

type confirmedKey struct{}

// withConfirmation marks an internal replay as confirmed by conf.
func withConfirmation(ctx context.Context, conf *challenge.Confirmation) context.Context {
	return context.WithValue(ctx, confirmedKey{}, conf)
}

// confirmedAs reports whether r is the replay of a confirmed account
// change of operation op (only the gateway's own replay sets it).
func confirmedAs(r *http.Request, op string) bool {
	conf, ok := r.Context().Value(confirmedKey{}).(*challenge.Confirmation)
	return ok && conf.Challenge != nil && conf.Challenge.Operation == op
}

// ownPath reports whether a stashed request is one of the gateway's own
// (an account change), replayed to the gateway, never to the upstream.
func (h *Handler) ownPath(uri string) bool {
	u, err := url.ParseRequestURI(uri)
	return err == nil && strings.HasPrefix(u.Path, h.Prefix)
}

// changeShown is what the challenge of an account change shows besides
// its operation: shown is executed here too.
type changeShown struct {
	Payee, Amount string
	Fields        []challenge.Field
}

// holdChange holds an account change for confirmation, like a protected
// request: 401 with the challenge, or 303 to the challenge page.
func (h *Handler) holdChange(w http.ResponseWriter, r *http.Request, op string, body []byte, show ...changeShown) error {
	who := h.subject(r)
	var cs changeShown
	if len(show) > 0 {
		cs = show[0]
	}
	c, err := h.engine.Issue(r.Context(), challenge.Request{
		Subject: who, Operation: op, Methods: h.methods, TTL: time.Duration(h.TTL), MaxAttempts: h.MaxAttempts,
		Payee: cs.Payee, Amount: cs.Amount, Fields: cs.Fields,
		ReturnTo: h.Prefix + "account", Reason: "account change",
		Stash: stashOf(r, body),
	})
	if err != nil {
		return h.engineError(w, r, err, "")
	}
	return h.challengeIssued(w, r, who, c)
}

// change runs fn for an account change of operation op: at once if the
// request is its confirmed replay, or if the user has nothing to confirm
// with yet and may (free); otherwise it is held for confirmation first.
func (h *Handler) change(w http.ResponseWriter, r *http.Request, op string, body []byte, free bool, fn func() error, show ...changeShown) error {
	if confirmedAs(r, op) || free {
		return fn()
	}
	return h.holdChange(w, r, op, body, show...)
}

// shownField is one row of what an account change's challenge shows.
func shownField(label, value string) changeShown {
	return changeShown{Fields: []challenge.Field{{Name: "enumgate." + label, Label: label, Value: value, Display: value}}}
}

// accountRefusal classifies an error of the account service.
func accountRefusal(err error) (refusal, bool) {
	var (
		we *account.WrongCodeError
		wt *account.WaitError
	)
	switch {
	case errors.As(err, &we):
		return refusal{code: "wrong_code", n: we.AttemptsLeft}, true
	case errors.As(err, &wt):
		return refusal{code: "resend_too_soon", n: ceilSeconds(wt.Wait)}, true
	case errors.Is(err, account.ErrTaken):
		return refusal{code: "contact_taken"}, true
	case errors.Is(err, account.ErrUnknownVerification):
		return refusal{code: "unknown_verification"}, true
	case errors.Is(err, account.ErrUnknownEnrollment):
		return refusal{code: "unknown_enrollment"}, true
	case errors.Is(err, account.ErrUnknownRecovery):
		return refusal{code: "not_found"}, true
	case errors.Is(err, account.ErrRecoveryOpen):
		return refusal{code: "recovery_open"}, true
	case errors.Is(err, account.ErrLastContact):
		return refusal{code: "last_contact"}, true
	case errors.Is(err, account.ErrInvalid):
		return refusal{code: "bad_request", key: "error.account_invalid"}, true
	case errors.Is(err, challenge.ErrNoUser):
		return refusal{code: "not_enrolled"}, true
	case errors.As(err, new(*challenge.LimitError)):
		return refusalOf(err, time.Now())
	}
	return refusal{code: "unavailable"}, false
}

// accountError answers an error of the account service.
func (h *Handler) accountError(w http.ResponseWriter, r *http.Request, err error) error {
	f, ok := accountRefusal(err)
	if !ok {
		h.logger.Warn("account service unavailable", zap.Error(err))
	}
	return h.refuse(w, r, f)
}

// onFile reports whether value is the phone or an address the operator's
// directory has for the user: verifying it by a code needs no challenge
// first, even when the user could answer one (registration).
func (h *Handler) onFile(ctx context.Context, user, kind, value string) bool {
	if h.baseDir == nil {
		return false
	}
	u, err := h.baseDir.Lookup(ctx, user)
	if err != nil {
		return false
	}
	switch kind {
	case "phone":
		return u.Phone != "" && subtle.ConstantTimeCompare([]byte(u.Phone), []byte(strings.TrimSpace(value))) == 1
	case "email":
		for _, e := range u.Emails {
			if strings.EqualFold(e, strings.TrimSpace(value)) {
				return true
			}
		}
	}
	return false
}

// JSON of the account API. Field names are a contract (see README).
type (
	accountJSON struct {
		User              string             `json:"user"`
		Phone             string             `json:"phone,omitempty"`
		PhoneOnFile       bool               `json:"phone_on_file,omitempty"`
		Emails            []emailJSON        `json:"emails"`
		Devices           []deviceJSON       `json:"devices"`
		Notifications     account.Notify     `json:"notifications"`
		Enrollment        *enrollmentJSON    `json:"enrollment,omitempty"`
		Recovery          *recoveryJSON      `json:"recovery,omitempty"`
		NeedsRegistration bool               `json:"needs_registration"`
		Links             map[string]string  `json:"links"`
		Methods           []challenge.Method `json:"-"`
	}
	emailJSON struct {
		Address string `json:"address"`
		Primary bool   `json:"primary"`
	}
	deviceJSON struct {
		Name     string    `json:"name"`
		Suite    string    `json:"suite"`
		Enrolled time.Time `json:"enrolled"`
	}
	enrollmentJSON struct {
		EnrollmentID string `json:"enrollment_id"`
		URI          string `json:"uri,omitempty"`
		QRHref       string `json:"qr_href,omitempty"`
		Question     string `json:"question"`
		ExpiresIn    int    `json:"expires_in"`
		AttemptsLeft int    `json:"attempts_left"`
	}
	recoveryJSON struct {
		RecoveryID string     `json:"recovery_id"`
		State      string     `json:"state"`
		Opened     time.Time  `json:"opened"`
		Closed     *time.Time `json:"closed,omitempty"`
		Contact    string     `json:"contact,omitempty"`
	}
	verificationJSON struct {
		VerificationID string `json:"verification_id"`
		Kind           string `json:"kind"`
		SentTo         string `json:"sent_to"`
		ExpiresIn      int    `json:"expires_in"`
	}
	statusJSON struct {
		Status string `json:"status"`
	}
	contactRequest struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	}
	verifyRequest struct {
		VerificationID string `json:"verification_id"`
		Code           string `json:"code"`
	}
	activateRequest struct {
		EnrollmentID string `json:"enrollment_id"`
		Answer       string `json:"answer"`
	}
	enrollmentRef struct {
		EnrollmentID string `json:"enrollment_id"`
	}
	addressRequest struct {
		Address string `json:"address"`
	}
	recoveryRequest struct {
		Reason string `json:"reason"`
	}
)

func viewJSON(v *account.View, prefix string) accountJSON {
	out := accountJSON{
		User: v.User, Phone: v.Phone, PhoneOnFile: v.PhoneOnFile, Notifications: v.Notify,
		NeedsRegistration: v.NeedsRegistration, Emails: []emailJSON{}, Devices: []deviceJSON{},
		Links: map[string]string{"page": prefix + "account", "journal": prefix + "api/journal"},
	}
	for _, e := range v.Emails {
		out.Emails = append(out.Emails, emailJSON{Address: e.Address, Primary: e.Primary})
	}
	for _, d := range v.Devices {
		out.Devices = append(out.Devices, deviceJSON{Name: d.Name, Suite: d.Suite, Enrolled: d.Enrolled.UTC()})
	}
	if e := v.Enrollment; e != nil {
		out.Enrollment = &enrollmentJSON{EnrollmentID: e.ID, Question: e.Question, ExpiresIn: secondsUntil(e.Expires), AttemptsLeft: e.AttemptsLeft}
	}
	if rc := v.Recovery; rc != nil {
		out.Recovery = recoveryOf(rc)
	}
	return out
}

func recoveryOf(rc *account.Recovery) *recoveryJSON {
	j := &recoveryJSON{RecoveryID: rc.ID, State: rc.State, Opened: rc.Opened.UTC(), Contact: rc.Contact}
	if !rc.Closed.IsZero() {
		at := rc.Closed.UTC()
		j.Closed = &at
	}
	return j
}

// qrHref is the enrolment QR code as a data: URI (an image the page or an
// app shows; the secret is never served from a URL of its own).
func qrHref(uri string) string {
	svg := qrSVG(uri, "E-num")
	if svg == "" {
		return ""
	}
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(svg))
}

// readAccountBody reads a small body once, for the change and its stash.
func readAccountBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, maxAccountBody))
}

// decodeStrict decodes a JSON body strictly (no unknown fields, one value).
func decodeStrict(body []byte, v any) bool { return decodeJSON(bytes.NewReader(body), v) }

// serveAccountAPI serves /.enumgate/api/account[/...].
func (h *Handler) serveAccountAPI(w http.ResponseWriter, r *http.Request, rest string) error {
	if h.account == nil {
		return h.fail(w, r, "not_found")
	}
	who := h.subject(r)
	if who.User == "" {
		return h.fail(w, r, "unauthenticated")
	}
	ctx := r.Context()
	if r.Method != http.MethodGet && r.Method != http.MethodHead && h.crossSite(r) {
		h.refused(r, "cross_site", "account", who.User, "")
		return h.fail(w, r, "cross_site")
	}
	var body []byte
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodDelete {
		var err error
		if body, err = readAccountBody(w, r); err != nil {
			return h.fail(w, r, "body_too_large")
		}
	}
	lang := h.pages.langs.negotiate(r.Header.Get("Accept-Language")).lang
	bad := func(key string) error { return h.refuse(w, r, refusal{code: "bad_request", key: key}) }
	switch {
	case rest == "":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return h.methodNotAllowed(w, r, "GET")
		}
		v, err := h.account.View(ctx, who.User)
		if err != nil {
			return h.accountError(w, r, err)
		}
		return writeJSON(w, http.StatusOK, viewJSON(v, h.Prefix))

	case rest == "device":
		switch r.Method {
		case http.MethodPost:
			if len(body) > 0 && !decodeStrict(body, &struct{}{}) {
				return bad("error.api_body")
			}
			return h.change(w, r, opAccountDevice, body, false, func() error {
				e, err := h.account.StartEnrollment(ctx, who.User, lang)
				if err != nil {
					return h.accountError(w, r, err)
				}
				return writeJSON(w, http.StatusOK, enrollmentJSON{
					EnrollmentID: e.ID, URI: e.URI, QRHref: qrHref(e.URI), Question: e.Question,
					ExpiresIn: secondsUntil(e.Expires), AttemptsLeft: e.AttemptsLeft,
				})
			})
		case http.MethodDelete:
			return h.change(w, r, opAccountDeviceRemove, nil, false, func() error {
				if err := h.account.RemoveDevice(ctx, who.User); err != nil {
					return h.accountError(w, r, err)
				}
				return writeJSON(w, http.StatusOK, statusJSON{"removed"})
			})
		}
		return h.methodNotAllowed(w, r, "POST, DELETE")

	case rest == "device/activate":
		if r.Method != http.MethodPost {
			return h.methodNotAllowed(w, r, "POST")
		}
		var req activateRequest
		if !decodeStrict(body, &req) || req.EnrollmentID == "" {
			return bad("error.api_activate")
		}
		if err := h.account.Activate(ctx, who.User, req.EnrollmentID, req.Answer); err != nil {
			return h.accountError(w, r, err)
		}
		return writeJSON(w, http.StatusOK, statusJSON{"active"})

	case rest == "device/resend":
		if r.Method != http.MethodPost {
			return h.methodNotAllowed(w, r, "POST")
		}
		var req enrollmentRef
		if !decodeStrict(body, &req) || req.EnrollmentID == "" {
			return bad("error.api_body")
		}
		if err := h.account.ResendActivation(ctx, who.User, req.EnrollmentID, lang); err != nil {
			return h.accountError(w, r, err)
		}
		return writeJSON(w, http.StatusOK, statusJSON{"sent"})

	case rest == "contacts":
		if r.Method != http.MethodPost {
			return h.methodNotAllowed(w, r, "POST")
		}
		var req contactRequest
		if !decodeStrict(body, &req) || (req.Kind != "phone" && req.Kind != "email") {
			return bad("error.api_contact")
		}
		free := h.onFile(ctx, who.User, req.Kind, req.Value)
		return h.changeOrFirst(w, r, opAccountContact, body, free, func() error {
			v, err := h.account.StartVerification(ctx, who.User, req.Kind, req.Value, lang)
			if err != nil {
				return h.accountError(w, r, err)
			}
			return writeJSON(w, http.StatusOK, verificationJSON{VerificationID: v.ID, Kind: v.Kind, SentTo: v.To, ExpiresIn: secondsUntil(v.Expires)})
		}, shownField("contact_"+req.Kind, req.Value))

	case rest == "contacts/verify":
		if r.Method != http.MethodPost {
			return h.methodNotAllowed(w, r, "POST")
		}
		var req verifyRequest
		if !decodeStrict(body, &req) || req.VerificationID == "" {
			return bad("error.api_verify")
		}
		if err := h.account.ConfirmVerification(ctx, who.User, req.VerificationID, req.Code); err != nil {
			return h.accountError(w, r, err)
		}
		return writeJSON(w, http.StatusOK, statusJSON{"verified"})

	case rest == "contacts/primary":
		if r.Method != http.MethodPost {
			return h.methodNotAllowed(w, r, "POST")
		}
		var req addressRequest
		if !decodeStrict(body, &req) || req.Address == "" {
			return bad("error.api_address")
		}
		return h.change(w, r, opAccountPrimary, body, false, func() error {
			if err := h.account.MakePrimary(ctx, who.User, req.Address); err != nil {
				return h.accountError(w, r, err)
			}
			return writeJSON(w, http.StatusOK, statusJSON{"primary"})
		}, shownField("contact_email", req.Address))

	case strings.HasPrefix(rest, "contacts/"):
		if r.Method != http.MethodDelete {
			return h.methodNotAllowed(w, r, "DELETE")
		}
		addr, err := url.PathUnescape(strings.TrimPrefix(rest, "contacts/"))
		if err != nil || addr == "" || len(addr) > 254 {
			return bad("error.api_address")
		}
		return h.change(w, r, opAccountContactRemove, nil, false, func() error {
			if err := h.account.RemoveEmail(ctx, who.User, addr); err != nil {
				return h.accountError(w, r, err)
			}
			return writeJSON(w, http.StatusOK, statusJSON{"removed"})
		}, shownField("contact_email", addr))

	case rest == "notifications":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			n, _, err := h.account.Notify(ctx, who.User)
			if err != nil {
				return h.accountError(w, r, err)
			}
			return writeJSON(w, http.StatusOK, n)
		case http.MethodPut:
			var n account.Notify
			if !decodeStrict(body, &n) {
				return bad("error.api_notifications")
			}
			return h.change(w, r, opAccountNotifications, body, false, func() error {
				if err := h.account.SetNotify(ctx, who.User, n); err != nil {
					return h.accountError(w, r, err)
				}
				return writeJSON(w, http.StatusOK, n)
			})
		}
		return h.methodNotAllowed(w, r, "GET, PUT")

	case rest == "trusted" || strings.HasPrefix(rest, "trusted/"):
		if h.trust == nil {
			return h.fail(w, r, "not_found")
		}
		return h.serveTrustedAPI(w, r, who, strings.TrimPrefix(strings.TrimPrefix(rest, "trusted"), "/"), body)

	case rest == "sections" || strings.HasPrefix(rest, "sections/"):
		if h.trust == nil {
			return h.fail(w, r, "not_found")
		}
		id := strings.TrimPrefix(strings.TrimPrefix(rest, "sections"), "/")
		switch {
		case id == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			gs, err := h.grantList(r, who)
			if err != nil {
				return h.accountError(w, r, err)
			}
			return writeJSON(w, http.StatusOK, gs)
		case id != "" && r.Method == http.MethodDelete:
			if err := h.endGrant(r, who.User, id); err != nil {
				return h.trustError(w, r, err)
			}
			return writeJSON(w, http.StatusOK, statusJSON{"ended"})
		}
		return h.methodNotAllowed(w, r, "GET, DELETE")

	case rest == "recovery":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			v, err := h.account.View(ctx, who.User)
			if err != nil {
				return h.accountError(w, r, err)
			}
			if v.Recovery == nil {
				return h.fail(w, r, "not_found")
			}
			return writeJSON(w, http.StatusOK, recoveryOf(v.Recovery))
		case http.MethodPost:
			var req recoveryRequest
			if !decodeStrict(body, &req) {
				return bad("error.api_recovery")
			}
			rc, err := h.account.OpenRecovery(ctx, who.User, req.Reason)
			if err != nil {
				return h.accountError(w, r, err)
			}
			return writeJSON(w, http.StatusCreated, recoveryOf(rc))
		}
		return h.methodNotAllowed(w, r, "GET, POST")
	}
	return h.fail(w, r, "not_found")
}

// changeOrFirst is change for a contact: free when the value is on file;
// also free when the user has no way to answer a challenge at all (the
// first contact of a new account is proved by its own code).
func (h *Handler) changeOrFirst(w http.ResponseWriter, r *http.Request, op string, body []byte, free bool, fn func() error, show ...changeShown) error {
	if confirmedAs(r, op) || free {
		return fn()
	}
	v, err := h.account.View(r.Context(), h.subject(r).User)
	if err == nil && v.NeedsRegistration && !h.canConfirm(r.Context(), h.subject(r).User) {
		return fn()
	}
	return h.holdChange(w, r, op, body, show...)
}

// canConfirm reports whether the user could answer a challenge with one
// of the handler's methods.
func (h *Handler) canConfirm(ctx context.Context, user string) bool {
	u, err := h.accountDir.Lookup(ctx, user)
	if err != nil {
		return true // unknown: hold, and let the engine say why
	}
	for _, m := range h.methods {
		d, ok := challenge.LookupMethod(m)
		if ok && h.engine.CanSend(m) && d.Usable(u) {
			return true
		}
	}
	return false
}

// --- the account page ---

// accountPage is what account.html shows besides pageData.
type accountPage struct {
	V            *account.View
	Enrollment   *account.Enrollment // just started: URI and QR shown once
	QR           template.HTML
	Verification string // the id of a code just sent, for the verify form
	VerifyKind   string
	Journal      string       // the journal page
	EnrollLink   template.URL // Enrollment.URI as a link (the gateway's own enumgate: URI)
	Trusted      []trustedPayeeJSON
	Grants       []grantJSON
	Policy       bool // the store keeps trusted payees and grants
}

// accountNotices are the notices the account page may show after a form.
var accountNotices = map[string]bool{
	"code_sent": true, "verified": true, "activated": true, "activation_sent": true, "device_removed": true,
	"email_removed": true, "primary_changed": true, "notifications_saved": true, "recovery_opened": true,
	"trusted_added": true, "trusted_removed": true, "grant_ended": true,
}

var noticeArg = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// accountNotice is the signed query that carries a notice (or an error
// code) and its argument to the account page after a form.
func (h *Handler) accountNotice(who challenge.Subject, code, arg string) string {
	if arg == "" {
		arg = "0"
	}
	return "?n=" + code + "." + arg + "." + h.noticeTag("account", who, code, arg)
}

func (h *Handler) readAccountNotice(r *http.Request, who challenge.Subject) (code, arg string, ok bool) {
	raw := r.URL.Query().Get("n")
	if raw == "" || len(raw) > 96 {
		return "", "", false
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || !noticeArg.MatchString(parts[1]) {
		return "", "", false
	}
	if _, isReply := replies[parts[0]]; !accountNotices[parts[0]] && !isReply {
		return "", "", false
	}
	if subtle.ConstantTimeCompare([]byte(parts[2]), []byte(h.noticeTag("account", who, parts[0], parts[1]))) != 1 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// serveAccountPage serves /.enumgate/account: GET shows the account, POST
// handles its forms (each bound to the session by a token, refused from
// other sites); changes are confirmed by a challenge first.
func (h *Handler) serveAccountPage(w http.ResponseWriter, r *http.Request) error {
	if h.account == nil {
		return h.fail(w, r, "not_found")
	}
	who := h.subject(r)
	if who.User == "" {
		if h.LoginURL != "" && wantsHTML(r) {
			http.Redirect(w, r, h.LoginURL, http.StatusSeeOther)
			return nil
		}
		return h.fail(w, r, "unauthenticated")
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return h.renderAccount(w, r, who, nil)
	case http.MethodPost:
		return h.postAccount(w, r, who)
	}
	return h.methodNotAllowed(w, r, "GET, HEAD, POST")
}

func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, who challenge.Subject, ap *accountPage) error {
	v, err := h.account.View(r.Context(), who.User)
	if err != nil {
		return h.accountError(w, r, err)
	}
	if ap == nil {
		ap = &accountPage{}
	}
	ap.V, ap.Journal = v, h.Prefix+"journal"
	if h.trust != nil {
		ap.Policy = true
		if t, err := h.trustedList(r, who.User); err == nil {
			ap.Trusted = t.Payees
		}
		if g, err := h.grantList(r, who); err == nil {
			ap.Grants = g.Grants
		}
	}
	d := h.pages.data(h.pages.langs.negotiate(r.Header.Get("Accept-Language")), h.Prefix)
	d.Action, d.Token, d.Account = h.Prefix+"account", h.engine.FormToken("account", who), ap
	status := http.StatusOK
	if code, arg, ok := h.readAccountNotice(r, who); ok {
		if accountNotices[code] {
			d.Notice = d.T("account.notice." + code)
			if code == "code_sent" {
				ap.Verification = arg
			}
		} else {
			rp := replies[code]
			d.ErrorCode, d.Error, status = code, d.T("error."+code), rp.status
			if code == "wrong_code" {
				n := arg
				if i := strings.LastIndexByte(arg, '_'); i > 0 {
					ap.Verification, n = arg[:i], arg[i+1:]
				}
				d.Error += " " + d.T("answer.attempts", "n", n)
			}
		}
	}
	return h.pages.render(w, status, "account.html", d)
}

// postAccount handles one form of the account page.
func (h *Handler) postAccount(w http.ResponseWriter, r *http.Request, who challenge.Subject) error {
	body, err := readAccountBody(w, r)
	if err != nil {
		return h.refuse(w, r, refusal{code: "bad_request", key: "error.form"})
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return h.refuse(w, r, refusal{code: "bad_request", key: "error.form"})
	}
	if !sameOrigin(r) || !h.engine.CheckFormToken("account", who, form.Get("token")) {
		return h.refuse(w, r, refusal{code: "forbidden", key: "error.forbidden"})
	}
	ctx := r.Context()
	lang := h.pages.langs.negotiate(r.Header.Get("Accept-Language")).lang
	done := func(code, arg string) error {
		http.Redirect(w, r, h.Prefix+"account"+h.accountNotice(who, code, arg), http.StatusSeeOther)
		return nil
	}
	failed := func(err error) error {
		f, ok := accountRefusal(err)
		if !ok {
			h.logger.Warn("account service unavailable", zap.Error(err))
		}
		arg := "0"
		if f.code == "wrong_code" {
			arg = strconv.Itoa(f.n)
			if id := form.Get("verification_id"); form.Get("action") == "verify" && len(id) <= 22 && noticeArg.MatchString(id) {
				arg = id + "_" + arg // the code form again, for the next try
			}
		}
		return done(f.code, arg)
	}
	switch form.Get("action") {
	case "start_verification":
		kind, value := form.Get("kind"), form.Get("value")
		if kind != "phone" && kind != "email" {
			return done("bad_request", "")
		}
		return h.changeOrFirst(w, r, opAccountContact, body, h.onFile(ctx, who.User, kind, value), func() error {
			v, err := h.account.StartVerification(ctx, who.User, kind, value, lang)
			if err != nil {
				return failed(err)
			}
			return done("code_sent", v.ID)
		}, shownField("contact_"+kind, value))
	case "verify":
		if err := h.account.ConfirmVerification(ctx, who.User, form.Get("verification_id"), form.Get("code")); err != nil {
			return failed(err)
		}
		return done("verified", "")
	case "start_enrollment":
		return h.change(w, r, opAccountDevice, body, false, func() error {
			e, err := h.account.StartEnrollment(ctx, who.User, lang)
			if err != nil {
				return failed(err)
			}
			// Shown once, in the answer to this request: the URI holds the
			// new key, so it is never served again.
			return h.renderAccount(w, r, who, &accountPage{Enrollment: e, QR: qrSVG(e.URI, "E-num"), EnrollLink: template.URL(e.URI)})
		})
	case "activate":
		if err := h.account.Activate(ctx, who.User, form.Get("enrollment_id"), form.Get("answer")); err != nil {
			return failed(err)
		}
		return done("activated", "")
	case "resend_activation":
		if err := h.account.ResendActivation(ctx, who.User, form.Get("enrollment_id"), lang); err != nil {
			return failed(err)
		}
		return done("activation_sent", "")
	case "remove_device":
		return h.change(w, r, opAccountDeviceRemove, body, false, func() error {
			if err := h.account.RemoveDevice(ctx, who.User); err != nil {
				return failed(err)
			}
			return done("device_removed", "")
		})
	case "remove_email":
		return h.change(w, r, opAccountContactRemove, body, false, func() error {
			if err := h.account.RemoveEmail(ctx, who.User, form.Get("address")); err != nil {
				return failed(err)
			}
			return done("email_removed", "")
		}, shownField("contact_email", form.Get("address")))
	case "make_primary":
		return h.change(w, r, opAccountPrimary, body, false, func() error {
			if err := h.account.MakePrimary(ctx, who.User, form.Get("address")); err != nil {
				return failed(err)
			}
			return done("primary_changed", "")
		}, shownField("contact_email", form.Get("address")))
	case "notifications":
		n := account.Notify{Confirmed: form.Get("confirmed") != "", Rejected: form.Get("rejected") != "",
			AdditionalAddresses: form.Get("additional_addresses") != ""}
		return h.change(w, r, opAccountNotifications, body, false, func() error {
			if err := h.account.SetNotify(ctx, who.User, n); err != nil {
				return failed(err)
			}
			return done("notifications_saved", "")
		})
	case "trust":
		if h.trust == nil {
			return done("not_found", "")
		}
		payee, upTo := strings.TrimSpace(form.Get("payee")), strings.TrimSpace(form.Get("up_to"))
		if !validTrusted(payee, upTo) {
			return done("bad_request", "")
		}
		return h.change(w, r, opAccountTrusted, body, false, func() error {
			if err := h.trustPayee(r, who.User, payee, upTo); err != nil {
				return done(trustCode(err), "")
			}
			return done("trusted_added", "")
		}, trustedShown(payee, upTo))
	case "untrust":
		if h.trust == nil {
			return done("not_found", "")
		}
		if err := h.untrustPayee(r, who.User, form.Get("payee")); err != nil {
			return done(trustCode(err), "")
		}
		return done("trusted_removed", "")
	case "end_grant":
		if h.trust == nil {
			return done("not_found", "")
		}
		if err := h.endGrant(r, who.User, form.Get("grant")); err != nil {
			return done(trustCode(err), "")
		}
		return done("grant_ended", "")
	case "recovery":
		if _, err := h.account.OpenRecovery(ctx, who.User, form.Get("reason")); err != nil {
			return failed(err)
		}
		return done("recovery_opened", "")
	}
	return done("bad_request", "")
}
