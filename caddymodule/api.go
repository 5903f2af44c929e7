package caddymodule

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/policy"
)

// JSON bodies of the API. Field names are a contract (see README).
type (
	// operationJSON is what the customer confirms: raw values exactly as
	// the upstream receives them, and their display forms.
	operationJSON struct {
		Amount        string      `json:"amount,omitempty"`
		Currency      string      `json:"currency,omitempty"`
		AmountDisplay string      `json:"amount_display,omitempty"`
		Payee         string      `json:"payee,omitempty"`
		PayeeDisplay  string      `json:"payee_display,omitempty"`
		Fields        []fieldJSON `json:"fields,omitempty"`
		Mode          string      `json:"mode"`
	}
	fieldJSON struct {
		Name    string `json:"name"`
		Label   string `json:"label"`
		Value   string `json:"value"`
		Display string `json:"display"`
	}
	challengeCreated struct {
		ChallengeID string `json:"challenge_id"`
		Operation   string `json:"operation"`
		operationJSON
		Methods   []challenge.Method `json:"methods"`
		ExpiresIn int                `json:"expires_in"`
		Href      string             `json:"href"`
	}
	challengeView struct {
		ChallengeID string `json:"challenge_id"`
		Operation   string `json:"operation"`
		operationJSON
		Methods      []challenge.Method `json:"methods"`
		State        challenge.State    `json:"state"`
		ConfirmedAt  *time.Time         `json:"confirmed_at,omitempty"`
		Method       challenge.Method   `json:"method,omitempty"`
		AttemptsLeft int                `json:"attempts_left"`
		ExpiresIn    int                `json:"expires_in"`
	}
	methodBegun struct {
		Method   challenge.Method `json:"method"`
		Question string           `json:"question,omitempty"`
		// Mode, URI, Payee and Amount are set for enum: the E-num mode,
		// the enum: URI of the page's QR code, and in payment mode the
		// normalized payee and amount the app computes the answer from.
		Mode     string `json:"mode,omitempty"`
		URI      string `json:"uri,omitempty"`
		Payee    string `json:"payee,omitempty"`
		Amount   string `json:"amount,omitempty"`
		SentTo   string `json:"sent_to,omitempty"`
		ResendIn *int   `json:"resend_in,omitempty"`
	}
	apiError struct {
		Error        string `json:"error"`
		Message      string `json:"message"`
		AttemptsLeft *int   `json:"attempts_left,omitempty"`
		ResendIn     *int   `json:"resend_in,omitempty"`
		RetryIn      *int   `json:"retry_in,omitempty"`
	}
	methodRequest struct {
		Method string `json:"method"`
	}
	answerRequest struct {
		Answer string `json:"answer"`
	}
)

// maxAPIBody bounds the JSON bodies of API calls.
const maxAPIBody = 4 << 10

// securityHeaders are set on every response the gateway itself makes.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	securityHeaders(w)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// fail writes an error as JSON for API clients and as a page for browsers.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, code, msg string) error {
	if wantsHTML(r) {
		return h.pages.renderError(w, r, status, code, msg, h.Prefix)
	}
	return writeJSON(w, status, apiError{Error: code, Message: msg})
}

// failRetry is fail with a retry_in for API clients.
func (h *Handler) failRetry(w http.ResponseWriter, r *http.Request, status int, code, msg string, retryIn int) error {
	if wantsHTML(r) {
		return h.pages.renderError(w, r, status, code, msg, h.Prefix)
	}
	return writeJSON(w, status, apiError{Error: code, Message: msg, RetryIn: &retryIn})
}

// engineError maps an engine error to its status and error code. id, if
// set, lets browser pages offer a way back to the challenge.
func (h *Handler) engineError(w http.ResponseWriter, r *http.Request, err error, id string) error {
	var (
		we *challenge.WrongAnswerError
		ce *challenge.CooldownError
		le *challenge.LockedError
		se *challenge.SMSLimitError
		te *challenge.TooManyPendingError
		ae *challenge.AlreadyConfirmedError
	)
	switch {
	case errors.As(err, &te):
		n := 0
		if !te.RetryAt.IsZero() {
			n = ceilSeconds(time.Until(te.RetryAt))
			w.Header().Set("Retry-After", strconv.Itoa(n))
		}
		return h.failRetry(w, r, http.StatusTooManyRequests, "too_many_pending", "You have too many operations waiting for confirmation. Finish or cancel one, or wait.", n)
	case errors.As(err, &ae) && ae.Delivered:
		return h.fail(w, r, http.StatusConflict, "already_confirmed", "This operation is already confirmed and was delivered to the bank.")
	case errors.As(err, &ae):
		n := max(ceilSeconds(time.Until(ae.RetryAt)), 0)
		w.Header().Set("Retry-After", strconv.Itoa(n))
		return h.failRetry(w, r, http.StatusConflict, "delivery_in_progress", "This operation is confirmed; its delivery to the bank may still be in progress. Try again shortly.", n)
	case errors.Is(err, challenge.ErrNotDelivered):
		c := &challenge.Challenge{ID: id}
		if wantsHTML(r) {
			if got, gerr := h.engine.Get(r.Context(), id, h.subject(r)); gerr == nil {
				c = got // for the way back to the app
			}
		}
		return h.notDelivered(w, r, c)
	case errors.Is(err, challenge.ErrDeliveriesExhausted):
		return h.fail(w, r, http.StatusBadGateway, "delivery_failed", "Your confirmation was accepted, but the bank did not answer after several tries. Contact support.")
	case errors.Is(err, challenge.ErrNotSent):
		return h.fail(w, r, http.StatusServiceUnavailable, "not_sent", "The code could not be sent. Nothing was charged; try again or choose another method.")
	case errors.As(err, &le):
		n := secondsUntil(le.Until)
		w.Header().Set("Retry-After", strconv.Itoa(n))
		return h.failRetry(w, r, http.StatusForbidden, "locked", "Your account is temporarily locked after too many failed confirmations. Try again later or contact support.", n)
	case errors.As(err, &se) && se.Method == challenge.MethodEmail:
		n := ceilSeconds(se.Wait)
		return writeJSON(w, http.StatusTooManyRequests, apiError{Error: "email_limit", Message: "No more e-mails can be sent for now. Choose the E-num app or SMS.", ResendIn: &n})
	case errors.As(err, &se):
		n := ceilSeconds(se.Wait)
		return writeJSON(w, http.StatusTooManyRequests, apiError{Error: "sms_limit", Message: "No more SMS can be sent for now. Choose the E-num app or e-mail.", ResendIn: &n})
	case errors.As(err, &we):
		n := we.AttemptsLeft
		return writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "wrong_answer", Message: "The answer is wrong.", AttemptsLeft: &n})
	case errors.As(err, &ce):
		n := ceilSeconds(ce.Wait)
		w.Header().Set("Retry-After", strconv.Itoa(n))
		return writeJSON(w, http.StatusTooManyRequests, apiError{Error: "resend_too_soon", Message: "Wait before sending the code again.", ResendIn: &n})
	case errors.Is(err, challenge.ErrUnknown):
		return h.fail(w, r, http.StatusNotFound, "unknown_challenge", "This confirmation does not exist or has expired. Start the operation again.")
	case errors.Is(err, challenge.ErrTooManyAttempts):
		return h.fail(w, r, http.StatusForbidden, "too_many_attempts", "Too many wrong answers. Start the operation again.")
	case errors.Is(err, challenge.ErrMalformed):
		return h.fail(w, r, http.StatusBadRequest, "bad_request", "The answer must be the digits shown by the E-num app or received by SMS or e-mail.")
	case errors.Is(err, challenge.ErrMethodRequired):
		return h.fail(w, r, http.StatusConflict, "method_required", "Choose a confirmation method first.")
	case errors.Is(err, challenge.ErrMethodNotOffered):
		return h.fail(w, r, http.StatusBadRequest, "method_not_offered", "This confirmation method is not available for this operation.")
	case errors.Is(err, challenge.ErrNotEnrolled):
		return h.fail(w, r, http.StatusForbidden, "not_enrolled", "Your account cannot confirm this operation: no confirmation method is set up. Contact support.")
	}
	// The cause (store outage, sender failure) is logged where it happens,
	// once per outage for the store; per request it is only debug noise.
	h.logger.Debug("confirmation service unavailable", zap.String("challenge", id), zap.Error(err))
	return h.fail(w, r, http.StatusServiceUnavailable, "unavailable", "The confirmation service is unavailable. Nothing was sent to the bank; try again in a few minutes.")
}

// operationJSON describes c's operation for the API, display forms in
// the language the client asks for.
func (h *Handler) operationJSON(r *http.Request, c *challenge.Challenge) operationJSON {
	lang := h.pages.langs.negotiate(r.Header.Get("Accept-Language")).lang
	o := operationJSON{
		Amount: c.Amount, Currency: c.Currency, Payee: c.Payee, PayeeDisplay: c.PayeeDisplay,
		Mode: string(c.Mode),
	}
	if c.Amount != "" {
		o.AmountDisplay = policy.FormatAmount(c.Amount, c.Currency, lang)
	}
	for _, f := range c.Fields {
		o.Fields = append(o.Fields, fieldJSON{Name: f.Name, Label: f.Label, Value: f.Value, Display: f.Display})
	}
	return o
}

// answerError is engineError for an answer or a delivery: when the store
// failed, the answer may or may not have been taken, so the customer is
// told exactly that, and that sending the same answer again is safe (it
// is never counted or confirmed twice).
func (h *Handler) answerError(w http.ResponseWriter, r *http.Request, err error, id string) error {
	if errors.Is(err, challenge.ErrUnavailable) && !errors.Is(err, challenge.ErrNotSent) {
		h.logger.Debug("answer outcome unknown", zap.String("challenge", id), zap.Error(err))
		n := 5
		w.Header().Set("Retry-After", strconv.Itoa(n))
		if wantsHTML(r) {
			return h.pages.renderError(w, r, http.StatusServiceUnavailable, "outcome_unknown", "", h.Prefix)
		}
		return writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "outcome_unknown",
			Message: "We could not tell whether your answer was taken. Send the same answer again: it is never counted or carried out twice.", RetryIn: &n})
	}
	return h.engineError(w, r, err, id)
}

// serveOwn serves the gateway's pages, static files and JSON API under the
// prefix.
func (h *Handler) serveOwn(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	rest := strings.TrimPrefix(r.URL.Path, h.Prefix)
	switch {
	case strings.HasPrefix(rest, "api/challenges/"):
		return h.serveAPI(w, r, next, strings.TrimPrefix(rest, "api/challenges/"))
	case strings.HasPrefix(rest, "challenge/"):
		return h.servePage(w, r, next, strings.TrimPrefix(rest, "challenge/"))
	case rest == "cancelled":
		return h.serveCancelled(w, r)
	case strings.HasPrefix(rest, "static/"):
		return h.pages.serveStatic(w, r, strings.TrimPrefix(rest, "static/"))
	}
	return h.fail(w, r, http.StatusNotFound, "not_found", "Not found.")
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return writeJSON(w, http.StatusMethodNotAllowed, apiError{Error: "method_not_allowed", Message: "Use " + allow + "."})
}

// decodeBody decodes a small JSON body strictly.
func decodeBody(r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAPIBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false
	}
	var extra json.RawMessage
	return dec.Decode(&extra) == io.EOF
}

func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, rest string) error {
	id, action, _ := strings.Cut(rest, "/")
	who := h.subject(r)
	if who.User == "" {
		return writeJSON(w, http.StatusUnauthorized, apiError{Error: "unauthenticated", Message: "Log in first."})
	}
	ctx := r.Context()
	switch action {
	case "":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			c, err := h.engine.Get(ctx, id, who)
			if err != nil {
				return h.engineError(w, r, err, id)
			}
			v := challengeView{
				ChallengeID: c.ID, Operation: c.Operation, operationJSON: h.operationJSON(r, c),
				Methods: c.Methods, State: c.State, Method: c.Method,
				AttemptsLeft: c.AttemptsLeft, ExpiresIn: secondsUntil(c.Expires),
			}
			if !c.ConfirmedAt.IsZero() {
				at := c.ConfirmedAt.UTC()
				v.ConfirmedAt = &at
			}
			return writeJSON(w, http.StatusOK, v)
		case http.MethodDelete:
			if err := h.engine.Cancel(ctx, id, who); err != nil {
				return h.engineError(w, r, err, id)
			}
			securityHeaders(w)
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return methodNotAllowed(w, "GET, DELETE")
	case "method":
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		var req methodRequest
		if !decodeBody(r, &req) {
			return h.fail(w, r, http.StatusBadRequest, "bad_request", `Send {"method": "enum"}, "sms" or "email".`)
		}
		m, err := challenge.ParseMethod(req.Method)
		if err != nil {
			return h.fail(w, r, http.StatusBadRequest, "bad_request", `Send {"method": "enum"}, "sms" or "email".`)
		}
		c, err := h.engine.BeginWith(ctx, id, who, m, h.beginOptions(r))
		if err != nil {
			return h.engineError(w, r, err, id)
		}
		out := methodBegun{Method: c.Method, Question: c.Question, SentTo: c.SentTo}
		if c.Method == challenge.MethodEnum {
			out.Mode, out.URI = string(c.Mode), enumURI(c)
			out.Payee, out.Amount = c.PaymentPurse, c.PaymentAmount
		}
		if !c.ResendAt.IsZero() {
			n := secondsUntil(c.ResendAt)
			out.ResendIn = &n
		}
		return writeJSON(w, http.StatusOK, out)
	case "answer":
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		var req answerRequest
		if !decodeBody(r, &req) {
			return h.fail(w, r, http.StatusBadRequest, "bad_request", `Send {"answer": "12345678"}.`)
		}
		conf, err := h.engine.Verify(ctx, id, who, req.Answer)
		if err != nil {
			return h.answerError(w, r, err, id)
		}
		return h.replay(w, r, next, conf)
	case "deliver":
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		conf, err := h.engine.Deliver(ctx, id, who)
		if err != nil {
			return h.answerError(w, r, err, id)
		}
		return h.replay(w, r, next, conf)
	}
	return h.fail(w, r, http.StatusNotFound, "not_found", "Not found.")
}
