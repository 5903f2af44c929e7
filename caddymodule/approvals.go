package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/policy"
)

// Four-eyes approval (approve_by GROUP above AMOUNT): after the customer
// confirms, the operation waits for an approver of the group — never the
// customer — who sees it at /.enumgate/approvals (and the API), with the
// same strict view, and approves or rejects it with their own
// confirmation (a challenge of their own, held and replayed like an
// account change). Only an approval forwards the customer's stash, with
// both signed headers (Enumgate-Confirmed, Enumgate-Approved).

// The approver's confirmations, by the operation their challenge names.
const (
	opApprove = "approval_approve"
	opReject  = "approval_reject"
)

// provisionApprovals checks the rules' approve_by against the app's
// approvers' groups.
func (h *Handler) provisionApprovals() error {
	for i, r := range h.Protect {
		ab := r.ApproveBy
		if ab == nil {
			continue
		}
		if len(h.approvers[ab.Group]) == 0 {
			return fmt.Errorf("enumgate: rule %d (%s): approve_by %s: no such approvers' group (global option: approvers %s USER...)", i, r.Operation, ab.Group, ab.Group)
		}
		if ab.Above != "" && r.Amount == "" {
			return fmt.Errorf("enumgate: rule %d (%s): approve_by above needs the rule to show an amount", i, r.Operation)
		}
		if ab.Within != 0 {
			if err := challenge.ApprovalWindow.Check(int64(ab.Within)); err != nil {
				return fmt.Errorf("enumgate: rule %d (%s): approve_by: %w", i, r.Operation, err)
			}
		}
	}
	return nil
}

// approvalFor is the approval an operation of rule needs, if any. An
// amount that cannot be compared needs it (fail closed).
func (h *Handler) approvalFor(rule Rule, d policy.Decision) *challenge.Approval {
	ab := rule.ApproveBy
	if ab == nil || ab.Above != "" && d.Amount != "" && !cmpOver(d.Amount, ab.Above) {
		return nil
	}
	return &challenge.Approval{Group: ab.Group, Approvers: h.approvers[ab.Group], Window: time.Duration(ab.Within)}
}

// awaitingJSON answers a customer's confirmation that now waits for an
// approver.
type awaitingJSON struct {
	State         challenge.State `json:"state"`
	ChallengeID   string          `json:"challenge_id"`
	ApprovalUntil time.Time       `json:"approval_until"`
}

// awaiting answers the customer's correct answer to a challenge that
// needs approval: 202 for API clients, the challenge page (which shows
// the wait) for browsers.
func (h *Handler) awaiting(w http.ResponseWriter, r *http.Request, id string, until time.Time) error {
	if wantsHTML(r) {
		http.Redirect(w, r, h.Prefix+"challenge/"+id, http.StatusSeeOther)
		return nil
	}
	securityHeaders(w)
	w.Header().Set("Retry-After", "5")
	return writeJSON(w, http.StatusAccepted, awaitingJSON{State: challenge.StateAwaitingApproval, ChallengeID: id, ApprovalUntil: until.UTC()})
}

// renderAwaiting is the customer's page while the operation waits for an
// approver: it reloads itself (a meta refresh: no script needed) and
// offers to cancel.
func (h *Handler) renderAwaiting(w http.ResponseWriter, r *http.Request, d *pageData, c *challenge.Challenge) error {
	d.setChallenge(c, h.pages.smsPaid)
	d.ErrorCode, d.Tone, d.Refresh = "awaiting_approval", "ok", 5 // confirmed by the customer, with its summary
	d.Error = d.T("notice.awaiting_approval", "time", c.ApprovalUntil.UTC().Format("2006-01-02 15:04")+" UTC")
	d.Cancel = true
	return h.pages.render(w, http.StatusOK, "error.html", d)
}

// JSON of the approvals API.
type (
	approvalsJSON struct {
		Approvals []approvalJSON `json:"approvals"`
	}
	approvalJSON struct {
		ID        string      `json:"id"`
		Operation string      `json:"operation"`
		Amount    string      `json:"amount,omitempty"`
		Currency  string      `json:"currency,omitempty"`
		Payee     string      `json:"payee,omitempty"`
		Display   string      `json:"payee_display,omitempty"`
		Fields    []fieldJSON `json:"fields,omitempty"`
		User      string      `json:"user"`
		At        time.Time   `json:"at"`
		Until     time.Time   `json:"until"`
	}
	decidedJSON struct {
		Status         string `json:"status"`
		ChallengeID    string `json:"challenge_id"`
		Delivered      bool   `json:"delivered,omitempty"`
		UpstreamStatus int    `json:"upstream_status,omitempty"`
	}
)

func approvalOf(p *challenge.Pending) approvalJSON {
	a := approvalJSON{ID: p.ID, Operation: p.Operation, Amount: p.Amount, Currency: p.Currency, Payee: p.Payee,
		Display: p.PayeeDisplay, User: p.User, At: p.ConfirmedAt.UTC(), Until: p.Until.UTC()}
	for _, f := range p.Fields {
		a.Fields = append(a.Fields, fieldJSON{Name: f.Name, Label: f.Label, Value: f.Value, Display: f.Display})
	}
	return a
}

// serveApprovalsAPI serves /.enumgate/api/approvals[/{id}/approve|reject|deliver].
func (h *Handler) serveApprovalsAPI(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, rest string) error {
	who := h.subject(r)
	if who.User == "" {
		return h.fail(w, r, "unauthenticated")
	}
	ctx := r.Context()
	if rest == "" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return h.methodNotAllowed(w, r, "GET")
		}
		list, err := h.engine.Approvals(ctx, who.User)
		if err != nil {
			return h.engineError(w, r, err, "")
		}
		out := approvalsJSON{Approvals: []approvalJSON{}}
		for i := range list {
			out.Approvals = append(out.Approvals, approvalOf(&list[i]))
		}
		return writeJSON(w, http.StatusOK, out)
	}
	id, action, _ := strings.Cut(rest, "/")
	if r.Method != http.MethodPost {
		return h.methodNotAllowed(w, r, "POST")
	}
	if h.crossSite(r) {
		h.refused(r, "cross_site", "approval", who.User, "")
		return h.fail(w, r, "cross_site")
	}
	if _, err := readAccountBody(w, r); err != nil {
		return h.fail(w, r, "body_too_large")
	}
	switch action {
	case "approve", "reject":
		return h.decide(w, r, next, who, id, action == "approve")
	case "deliver":
		conf, err := h.engine.DeliverApproval(ctx, id, who.User)
		if err != nil {
			return h.answerError(w, r, err, id)
		}
		return h.deliverApproved(w, r, next, conf)
	}
	return h.fail(w, r, "not_found")
}

// decide carries out an approver's decision: held for the approver's own
// confirmation first (its challenge shows what is decided), then, once
// confirmed, recorded; an approval forwards the customer's request.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, who challenge.Subject, id string, approve bool) error {
	ctx := r.Context()
	op := opReject
	if approve {
		op = opApprove
	}
	conf, ok := r.Context().Value(confirmedKey{}).(*challenge.Confirmation)
	if !ok || conf.Challenge == nil || conf.Challenge.Operation != op {
		p, err := h.engine.PendingApproval(ctx, id, who.User)
		if err != nil {
			return h.engineError(w, r, err, "")
		}
		fields := []challenge.Field{{Name: "enumgate.customer", Label: "customer", Value: p.User, Display: p.User}}
		fields = append(fields, p.Fields...)
		c, err := h.engine.Issue(ctx, challenge.Request{
			Subject: who, Operation: op, Amount: p.Amount, Currency: p.Currency, Payee: p.Payee, PayeeDisplay: p.PayeeDisplay,
			Fields: fields, Mode: challenge.ModeAuthorization, Methods: h.methods, TTL: time.Duration(h.TTL), MaxAttempts: h.MaxAttempts,
			ReturnTo: h.Prefix + "approvals", Reason: "approval of " + p.Operation,
			Stash: stashOf(r, nil),
		})
		if err != nil {
			return h.engineError(w, r, err, "")
		}
		return h.challengeIssued(w, r, who, c)
	}
	if !approve {
		if err := h.engine.Reject(ctx, id, who.User, conf.Method); err != nil {
			return h.decisionError(w, r, err, id)
		}
		return h.decided(w, r, decidedJSON{Status: "rejected", ChallengeID: id})
	}
	customer, err := h.engine.Approve(ctx, id, who.User, conf.Method)
	if err != nil {
		return h.decisionError(w, r, err, id)
	}
	return h.deliverApproved(w, r, next, customer)
}

// decisionError answers an error of Approve or Reject.
func (h *Handler) decisionError(w http.ResponseWriter, r *http.Request, err error, id string) error {
	if errors.Is(err, challenge.ErrNotDelivered) {
		// Decided, not yet durable: "deliver" forwards it once it is.
		return h.decided(w, r, decidedJSON{Status: "approved", ChallengeID: id})
	}
	return h.engineError(w, r, err, "")
}

// deliverApproved forwards the customer's approved request to the
// upstream with both signed headers and tells the approver the outcome
// (the upstream's answer belongs to the customer's operation, not to the
// approver's request: the customer's page shows it confirmed).
func (h *Handler) deliverApproved(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, conf *challenge.Confirmation) error {
	sink := &statusRecorder{header: http.Header{}}
	out, err := h.stashRequest(sink, r, conf)
	if err != nil {
		h.logger.Error("approved request cannot be rebuilt", zap.String("challenge", conf.Challenge.ID), zap.Error(err))
		h.settle(r, conf, false)
		return h.fail(w, r, "unavailable")
	}
	out.Header.Set("Idempotency-Key", conf.Challenge.ID)
	out.Header.Set(challenge.ApprovedHeader, conf.ApprovalHeader)
	err = next.ServeHTTP(sink, out)
	delivered := sink.status != 0 || err == nil
	h.settle(r, conf, delivered)
	if !delivered {
		h.logger.Warn("approved request not delivered: the upstream failed before answering; the approver may deliver it again",
			zap.String("challenge", conf.Challenge.ID), zap.Error(err))
		return h.refuse(w, r, refusal{code: "not_delivered", n: notDeliveredRetry})
	}
	if c := conf.Challenge; c != nil {
		h.remember(r, conf.User, c.Payee, c.Amount, c.Currency, false)
	}
	status := sink.status
	if status == 0 {
		status = http.StatusOK
	}
	return h.decided(w, r, decidedJSON{Status: "approved", ChallengeID: conf.Challenge.ID, Delivered: true, UpstreamStatus: status})
}

// decided answers the approver: JSON, or back to the approvals page.
func (h *Handler) decided(w http.ResponseWriter, r *http.Request, d decidedJSON) error {
	if wantsHTML(r) {
		done := d.Status
		if d.UpstreamStatus >= 400 {
			done = "refused" // approved, but the bank refused the operation
		}
		http.Redirect(w, r, h.Prefix+"approvals?done="+url.QueryEscape(done), http.StatusSeeOther)
		return nil
	}
	return writeJSON(w, http.StatusOK, d)
}

// statusRecorder keeps the status of a response and drops its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
}

// approvalsPage is what approvals.html shows besides pageData.
type approvalsPage struct {
	Pending []approvalJSON
	Done    string // "approved" or "rejected" just now
}

// serveApprovalsPage serves /.enumgate/approvals: the operations the
// signed-in approver may decide, each with Approve and Reject buttons that
// post to the API (the decision is confirmed on the challenge page).
func (h *Handler) serveApprovalsPage(w http.ResponseWriter, r *http.Request) error {
	who := h.subject(r)
	if who.User == "" {
		if h.LoginURL != "" && wantsHTML(r) {
			http.Redirect(w, r, h.LoginURL, http.StatusSeeOther)
			return nil
		}
		return h.fail(w, r, "unauthenticated")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return h.methodNotAllowed(w, r, "GET, HEAD")
	}
	list, err := h.engine.Approvals(r.Context(), who.User)
	if err != nil {
		return h.engineError(w, r, err, "")
	}
	ap := &approvalsPage{}
	for i := range list {
		ap.Pending = append(ap.Pending, approvalOf(&list[i]))
	}
	if d := r.URL.Query().Get("done"); d == "approved" || d == "rejected" || d == "refused" {
		ap.Done = d
	}
	d := h.pages.data(h.pages.langs.negotiate(r.Header.Get("Accept-Language")), h.Prefix)
	d.Action, d.Approvals = h.Prefix+"api/approvals/", ap
	if ap.Done != "" {
		d.Notice = d.T("approvals.done." + ap.Done)
	}
	return h.pages.render(w, http.StatusOK, "approvals.html", d)
}
