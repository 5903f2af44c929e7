package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
)

// reply is how the gateway answers one refusal or failure of its own: the
// status and where its number goes. The error code (the table's key) is
// a contract; the text is the message "error.<code>" (or a more precise
// key) in the customer's language, on the JSON API and on the pages alike.
type reply struct {
	status int
	// wait says what the refusal's number is and where it goes.
	wait waitField
	// jsonOnly: answered as JSON even to a browser (the page shows these
	// as notices on the challenge page instead; see notice.go).
	jsonOnly bool
}

// waitField says where a refusal's number goes.
type waitField uint8

const (
	noNumber     waitField = iota
	retryIn                // retry_in and, when above zero, Retry-After
	retryAlways            // retry_in and Retry-After, even at zero
	resendIn               // resend_in
	resendAfter            // resend_in and Retry-After
	attemptsLeft           // attempts_left
)

// replies is the one table of the gateway's own answers: error code →
// reply. README "Errors" lists it for API clients; handle_errors may
// restyle the browser pages of the codes an operator lists in
// caddy_errors.
var replies = map[string]reply{
	"bad_request":          {status: http.StatusBadRequest},
	"method_not_offered":   {status: http.StatusBadRequest},
	"unauthenticated":      {status: http.StatusUnauthorized},
	"forbidden":            {status: http.StatusForbidden},
	"cross_site":           {status: http.StatusForbidden},
	"locked":               {status: http.StatusForbidden, wait: retryAlways},
	"too_many_attempts":    {status: http.StatusForbidden},
	"not_enrolled":         {status: http.StatusForbidden},
	"not_found":            {status: http.StatusNotFound},
	"unknown_challenge":    {status: http.StatusNotFound},
	"method_not_allowed":   {status: http.StatusMethodNotAllowed},
	"method_required":      {status: http.StatusConflict},
	"already_confirmed":    {status: http.StatusConflict},
	"delivery_in_progress": {status: http.StatusConflict, wait: retryAlways},
	"body_too_large":       {status: http.StatusRequestEntityTooLarge},
	"wrong_answer":         {status: http.StatusUnprocessableEntity, wait: attemptsLeft, jsonOnly: true},
	"ambiguous_operation":  {status: http.StatusUnprocessableEntity},
	"too_many_pending":     {status: http.StatusTooManyRequests, wait: retryIn},
	"resend_too_soon":      {status: http.StatusTooManyRequests, wait: resendAfter, jsonOnly: true},
	"sms_limit":            {status: http.StatusTooManyRequests, wait: resendIn, jsonOnly: true},
	"email_limit":          {status: http.StatusTooManyRequests, wait: resendIn, jsonOnly: true},
	"delivery_failed":      {status: http.StatusBadGateway},
	"not_delivered":        {status: http.StatusBadGateway, wait: retryAlways},
	"unavailable":          {status: http.StatusServiceUnavailable},
	// The account's own.
	"wrong_code":           {status: http.StatusUnprocessableEntity, wait: attemptsLeft},
	"unknown_verification": {status: http.StatusNotFound},
	"unknown_enrollment":   {status: http.StatusNotFound},
	"contact_taken":        {status: http.StatusConflict},
	"last_contact":         {status: http.StatusConflict},
	"recovery_open":        {status: http.StatusConflict},
	"too_many_trusted":     {status: http.StatusConflict},
	// Four-eyes approval.
	"rejected":        {status: http.StatusForbidden},
	"already_decided": {status: http.StatusConflict},
	"not_sent":        {status: http.StatusServiceUnavailable},
	"outcome_unknown": {status: http.StatusServiceUnavailable, wait: retryAlways},
}

// refusal is one answer of the table: the code, its number (seconds or
// attempts, as the table says), and the message key and its arguments
// ("" means "error.<code>").
type refusal struct {
	code string
	n    int
	key  string
	args []any
}

// refusalOf classifies an engine error. ok is false for errors that have
// no answer of their own (the service is unavailable).
func refusalOf(err error, now time.Time) (f refusal, ok bool) {
	var (
		we *challenge.WrongAnswerError
		ce *challenge.CooldownError
		le *challenge.LockedError
		se *challenge.LimitError
		te *challenge.TooManyPendingError
		ae *challenge.AlreadyConfirmedError
	)
	switch {
	case errors.As(err, &te):
		n := 0
		if !te.RetryAt.IsZero() {
			n = ceilSeconds(te.RetryAt.Sub(now))
		}
		return refusal{code: "too_many_pending", n: n}, true
	case errors.As(err, &ae) && ae.Delivered:
		return refusal{code: "already_confirmed"}, true
	case errors.As(err, &ae):
		return refusal{code: "delivery_in_progress", n: max(ceilSeconds(ae.RetryAt.Sub(now)), 0)}, true
	case errors.Is(err, challenge.ErrRejected):
		return refusal{code: "rejected"}, true
	case errors.As(err, new(*challenge.AlreadyDecidedError)):
		return refusal{code: "already_decided"}, true
	case errors.Is(err, challenge.ErrDeliveriesExhausted):
		return refusal{code: "delivery_failed"}, true
	case errors.Is(err, challenge.ErrNotSent):
		return refusal{code: "not_sent"}, true
	case errors.As(err, &le):
		return refusal{code: "locked", n: max(ceilSeconds(le.Until.Sub(now)), 0)}, true
	case errors.As(err, &se) && se.Method == challenge.MethodEmail:
		return refusal{code: "email_limit", n: ceilSeconds(se.Wait)}, true
	case errors.As(err, &se):
		return refusal{code: "sms_limit", n: ceilSeconds(se.Wait)}, true
	case errors.As(err, &we):
		return refusal{code: "wrong_answer", n: we.AttemptsLeft}, true
	case errors.As(err, &ce):
		return refusal{code: "resend_too_soon", n: ceilSeconds(ce.Wait)}, true
	case errors.Is(err, challenge.ErrUnknown):
		return refusal{code: "unknown_challenge"}, true
	case errors.Is(err, challenge.ErrTooManyAttempts):
		return refusal{code: "too_many_attempts"}, true
	case errors.Is(err, challenge.ErrMalformed):
		return refusal{code: "bad_request", key: "error.answer_digits"}, true
	case errors.Is(err, challenge.ErrMethodRequired):
		return refusal{code: "method_required"}, true
	case errors.Is(err, challenge.ErrMethodNotOffered):
		return refusal{code: "method_not_offered"}, true
	case errors.Is(err, challenge.ErrNotEnrolled):
		return refusal{code: "not_enrolled"}, true
	}
	return refusal{code: "unavailable"}, false
}

// Refusal is the error an enumgate handler returns to Caddy for the codes
// an operator lists in caddy_errors, so that handle_errors can restyle
// the page: {http.error.status_code} is the status, {http.error.message}
// the text in the customer's language, and {http.vars.enumgate_error} the
// error code.
type Refusal struct {
	// Code is the error code, e.g. "unavailable".
	Code string
	// Message is the text in the customer's language.
	Message string
}

// Error implements error.
func (e *Refusal) Error() string { return e.Message }

// refuse answers f: JSON for API clients ({"error", "message", and the
// table's number field}), a page in the customer's language for browsers,
// or, for a code the operator lists in caddy_errors, a caddyhttp.Error
// for the operator's handle_errors.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, f refusal) error {
	rp, ok := replies[f.code]
	if !ok {
		h.logger.Error("enumgate: an answer without a row in the reply table", zap.String("code", f.code))
		rp = replies["unavailable"]
	}
	key := f.key
	if key == "" {
		key = "error." + f.code
	}
	cat := h.pages.langs.negotiate(r.Header.Get("Accept-Language"))
	msg := format(cat.text(key), f.args, nil)
	switch rp.wait {
	case retryAlways, resendAfter:
		w.Header().Set("Retry-After", strconv.Itoa(f.n))
	case retryIn:
		if f.n > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.n))
		}
	}
	if wantsHTML(r) && !rp.jsonOnly {
		if h.caddyErrors[f.code] {
			caddyhttp.SetVar(r.Context(), "enumgate_error", f.code)
			return caddyhttp.Error(rp.status, &Refusal{Code: f.code, Message: msg})
		}
		return h.pages.renderErrorKey(w, r, rp.status, f.code, key, msg, h.Prefix)
	}
	out := apiError{Error: f.code, Message: msg}
	n := f.n
	switch rp.wait {
	case retryIn, retryAlways:
		out.RetryIn = &n
	case resendIn, resendAfter:
		out.ResendIn = &n
	case attemptsLeft:
		out.AttemptsLeft = &n
	}
	return writeJSON(w, rp.status, out)
}

// fail answers with the reply of code and its default message.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code string) error {
	return h.refuse(w, r, refusal{code: code})
}

// engineError answers an engine error from the reply table. id, if set,
// lets browser pages offer a way back to the challenge.
func (h *Handler) engineError(w http.ResponseWriter, r *http.Request, err error, id string) error {
	if errors.Is(err, challenge.ErrNotDelivered) {
		c := &challenge.Challenge{ID: id}
		if wantsHTML(r) {
			if got, gerr := h.engine.Get(r.Context(), id, h.subject(r)); gerr == nil {
				c = got // for the way back to the app
			}
		}
		return h.notDelivered(w, r, c)
	}
	f, ok := refusalOf(err, time.Now())
	if !ok {
		// The cause (store outage, sender failure) is logged where it
		// happens, once per outage for the store; per request it is only
		// debug noise.
		h.logger.Debug("confirmation service unavailable", zap.String("challenge", id), zap.Error(err))
	}
	return h.refuse(w, r, f)
}

// answerError is engineError for an answer or a delivery: when the store
// failed, the answer may or may not have been taken, so the customer is
// told exactly that, and that sending the same answer again is safe (it
// is never counted or confirmed twice).
func (h *Handler) answerError(w http.ResponseWriter, r *http.Request, err error, id string) error {
	var aw *challenge.AwaitingApprovalError
	if errors.As(err, &aw) {
		return h.awaiting(w, r, id, aw.Until)
	}
	if errors.Is(err, challenge.ErrUnavailable) && !errors.Is(err, challenge.ErrNotSent) {
		h.logger.Debug("answer outcome unknown", zap.String("challenge", id), zap.Error(err))
		return h.refuse(w, r, refusal{code: "outcome_unknown", n: 5})
	}
	return h.engineError(w, r, err, id)
}

// methodNotAllowed answers 405 naming the methods allowed.
func (h *Handler) methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) error {
	w.Header().Set("Allow", allow)
	return h.refuse(w, r, refusal{code: "method_not_allowed", key: "error.use_methods", args: []any{"methods", allow}})
}

// caddyErrorCodes checks the codes of caddy_errors ("all" means every
// code that has a page).
func caddyErrorCodes(codes []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, c := range codes {
		if c == "all" {
			for code, rp := range replies {
				if !rp.jsonOnly {
					out[code] = true
				}
			}
			continue
		}
		rp, ok := replies[c]
		if !ok || rp.jsonOnly {
			return nil, fmt.Errorf("%q is not an error code with a page (see README, Errors)", c)
		}
		out[c] = true
	}
	return out, nil
}
