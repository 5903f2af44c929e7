package caddymodule

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/trust"
	"github.com/enumgate/enumgate/policy"
)

// Trusted correspondents: a rule with trusted_payees skip forwards an
// operation to a payee the customer trusts (the account's list, kept in
// the shared store, so removing one takes effect at once everywhere)
// without a challenge, up to the rule's and the payee's limits, with a
// signed Enumgate-Confirmed header saying m=trusted.

// trustedSkip reports whether rule r forwards this operation without a
// challenge because its payee is trusted and the amount within limits. A
// store that cannot say forwards nothing unconfirmed (fail closed).
func (h *Handler) trustedSkip(r *http.Request, rule Rule, user string, d policy.Decision) bool {
	t := rule.TrustedPayees
	if t == nil || !t.Skip || d.Payee == "" || h.approvalFor(rule, d) != nil {
		return false // a second person's approval is never skipped
	}
	p, ok, err := h.trust.TrustedPayee(r.Context(), user, d.Payee)
	if err != nil {
		h.logger.Warn("trusted payees unavailable: the operation is confirmed", zap.Error(err))
		return false
	}
	if !ok {
		return false
	}
	for _, limit := range []string{t.UpTo, p.UpTo} {
		if limit == "" {
			continue
		}
		if d.Amount == "" || cmpOver(d.Amount, limit) {
			return false
		}
	}
	return true
}

// forwardTrusted forwards an operation to a trusted payee with the signed
// header (m=trusted) and an Idempotency-Key of its own.
func (h *Handler) forwardTrusted(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, op string, user string, body []byte, d policy.Decision) error {
	return h.forwardUnasked(w, r, next, op, user, body, d, "trusted")
}

// forwardUnasked forwards an operation the gateway let through without a
// challenge by a decision of its own state (a trusted payee: m=trusted;
// a rule with risk rules that did not fire: m=policy), with a signed
// Enumgate-Confirmed header saying so, so the upstream can still check
// the binding, and an Idempotency-Key of its own.
func (h *Handler) forwardUnasked(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, op string, user string, body []byte, d policy.Decision, method string) error {
	id, err := h.engine.NewForwardID()
	if err != nil {
		return h.fail(w, r, "unavailable")
	}
	now := time.Now()
	header := h.engine.SignForwarded(id, op, challenge.Method(method), user, now, stashOf(r, body))
	r.Header.Set(challenge.ConfirmedHeader, header)
	r.Header.Set("Idempotency-Key", id)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	c := clientOf(r)
	kind, reason := EventTrustedForwarded, "trusted payee"
	if method != "trusted" {
		kind, reason = EventPolicyForwarded, d.Reason
	}
	h.observe(challenge.Event{Kind: kind, Time: now, ChallengeID: id, User: user, Operation: op,
		Amount: d.Amount, Currency: d.Currency, Payee: d.PayeeDisplay, Reason: reason, ClientIP: c.IP, UserAgent: c.UserAgent})
	w.Header().Set("Enumgate-Result", method)
	h.remember(r, user, d.Payee, d.Amount, d.Currency, false)
	return next.ServeHTTP(w, r)
}

// trustedJSON is the account API's list of trusted payees.
type trustedJSON struct {
	Payees []trustedPayeeJSON `json:"payees"`
}

type trustedPayeeJSON struct {
	Payee string `json:"payee"`
	UpTo  string `json:"up_to,omitempty"`
}

// grantsJSON is the account API's list of open section grants.
type grantsJSON struct {
	Grants []grantJSON `json:"grants"`
}

type grantJSON struct {
	ID      string    `json:"id"`
	Section string    `json:"section"`
	Until   time.Time `json:"until"`
	Current bool      `json:"current"`
}

func (h *Handler) trustedList(r *http.Request, user string) (trustedJSON, error) {
	ps, err := h.trust.Trusted(r.Context(), user)
	out := trustedJSON{Payees: []trustedPayeeJSON{}}
	for _, p := range ps {
		out.Payees = append(out.Payees, trustedPayeeJSON{Payee: p.Payee, UpTo: p.UpTo})
	}
	return out, err
}

func (h *Handler) grantList(r *http.Request, who challenge.Subject) (grantsJSON, error) {
	gs, err := h.trust.Grants(r.Context(), who.User, time.Now())
	out := grantsJSON{Grants: []grantJSON{}}
	mine := h.grantSession(who.Session)
	for _, g := range gs {
		out.Grants = append(out.Grants, grantJSON{ID: g.ID, Section: g.Section, Until: g.Until.UTC(), Current: bytes.Equal(g.Session, mine)})
	}
	return out, err
}

// trustPayee adds a trusted payee (after the customer confirmed it).
func (h *Handler) trustPayee(r *http.Request, user, payee, upTo string) error {
	now := time.Now()
	err := h.trust.Trust(r.Context(), user, trust.Payee{Payee: payee, UpTo: upTo, Added: now})
	if err == nil {
		// The customer vouched for it: it is no new payee either.
		if merr := h.trust.MarkPayee(r.Context(), user, payee, now); merr != nil {
			h.logger.Warn("trusted payee not marked as seen", zap.Error(merr))
		}
		h.accountEvent(r, user, "account_trusted_added", payee)
	}
	return err
}

// accountEvent reports an account change made here (not in the account
// service) as a step.
func (h *Handler) accountEvent(r *http.Request, user string, kind challenge.EventKind, detail string) {
	c := clientOf(r)
	h.observe(challenge.Event{Kind: kind, Time: time.Now(), User: user, Detail: detail, ClientIP: c.IP, UserAgent: c.UserAgent})
}

// serveTrustedAPI serves /.enumgate/api/account/trusted[/{payee}].
func (h *Handler) serveTrustedAPI(w http.ResponseWriter, r *http.Request, who challenge.Subject, payee string, body []byte) error {
	switch {
	case payee == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		t, err := h.trustedList(r, who.User)
		if err != nil {
			return h.trustError(w, r, err)
		}
		return writeJSON(w, http.StatusOK, t)
	case payee == "" && r.Method == http.MethodPost:
		var req trustedPayeeJSON
		if !decodeStrict(body, &req) || !validTrusted(req.Payee, req.UpTo) {
			return h.refuse(w, r, refusal{code: "bad_request", key: "error.api_trusted"})
		}
		return h.change(w, r, opAccountTrusted, body, false, func() error {
			if err := h.trustPayee(r, who.User, req.Payee, req.UpTo); err != nil {
				return h.trustError(w, r, err)
			}
			return writeJSON(w, http.StatusOK, req)
		}, trustedShown(req.Payee, req.UpTo))
	case payee != "" && r.Method == http.MethodDelete:
		p, err := url.PathUnescape(payee)
		if err != nil {
			return h.refuse(w, r, refusal{code: "bad_request", key: "error.api_trusted"})
		}
		if err := h.untrustPayee(r, who.User, p); err != nil {
			return h.trustError(w, r, err)
		}
		return writeJSON(w, http.StatusOK, statusJSON{"removed"})
	}
	return h.methodNotAllowed(w, r, "GET, POST, DELETE")
}

// validTrusted checks a payee to trust and its optional limit.
func validTrusted(payee, upTo string) bool {
	return payee != "" && len(payee) <= trust.MaxPayeeLen && utf8.ValidString(payee) &&
		strings.IndexFunc(payee, unicode.IsControl) < 0 && (upTo == "" || policy.ValidAmount(upTo))
}

// untrustPayee removes a trusted payee at once, on every gateway (no
// confirmation: it only takes a privilege away).
func (h *Handler) untrustPayee(r *http.Request, user, payee string) error {
	err := h.trust.Untrust(r.Context(), user, payee)
	if err == nil {
		h.accountEvent(r, user, "account_trusted_removed", payee)
	}
	return err
}

// endGrant ends a section grant at once ("end now").
func (h *Handler) endGrant(r *http.Request, user, id string) error {
	err := h.trust.EndGrant(r.Context(), user, id)
	if err == nil {
		c := clientOf(r)
		h.observe(challenge.Event{Kind: EventSectionEnded, Time: time.Now(), User: user, Detail: "grant " + id, ClientIP: c.IP, UserAgent: c.UserAgent})
	}
	return err
}

// trustCode is the error code of a trust store error.
func trustCode(err error) string {
	switch {
	case errors.Is(err, trust.ErrNotFound):
		return "not_found"
	case errors.Is(err, trust.ErrInvalid):
		return "bad_request"
	case errors.Is(err, trust.ErrFull):
		return "too_many_trusted"
	}
	return "unavailable"
}

func (h *Handler) trustError(w http.ResponseWriter, r *http.Request, err error) error {
	code := trustCode(err)
	if code == "unavailable" {
		h.logger.Warn("trust store unavailable", zap.Error(err))
	}
	return h.fail(w, r, code)
}

// trustedShown is what the challenge of trusting a payee shows: the payee
// and the limit.
func trustedShown(payee, upTo string) changeShown {
	cs := changeShown{Payee: payee}
	if upTo != "" {
		cs.Fields = []challenge.Field{{Name: "enumgate.up_to", Label: "up_to", Value: upTo, Display: upTo}}
	}
	return cs
}
