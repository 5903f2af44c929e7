package challenge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// ApprovedHeader is the request header that carries the approver's
// signed confirmation of an operation that needed four-eyes approval,
// next to the customer's ConfirmedHeader. Inbound copies must be
// stripped like those of ConfirmedHeader.
const ApprovedHeader = "Enumgate-Approved"

// Bounds of an Approval.
const (
	// DefaultApprovalWindow is how long a confirmed operation waits for
	// approval unless the Approval says otherwise.
	DefaultApprovalWindow = 24 * time.Hour
	// MaxApprovers bounds Approval.Approvers.
	MaxApprovers = 100
	// maxApproverLen bounds one approver's user id, in bytes.
	maxApproverLen = 256
)

// ApprovalWindow bounds Approval.Window (and the gateway's setting of
// it).
var ApprovalWindow = Limit{Name: "approval_window", Min: int64(time.Minute), Max: int64(7 * 24 * time.Hour), Default: int64(DefaultApprovalWindow)}

// Approval asks for a second person: after the customer confirms, the
// operation waits for one of Approvers to approve it (four-eyes
// approval) and is forwarded only then.
type Approval struct {
	// Group is the approvers' group name, under which approvers see the
	// operation ([a-z0-9_]{1,64}; see ValidGroup).
	Group string
	// Approvers are the user ids allowed to approve. The customer is
	// never allowed to, even if listed; Issue refuses a list that holds
	// nobody else.
	Approvers []string
	// Window is how long the confirmed operation waits for approval.
	// Zero means DefaultApprovalWindow; otherwise 1m..7d (ApprovalWindow).
	Window time.Duration
}

// ValidGroup reports whether name is a valid approvers' group name:
// 1 to 64 of a-z, 0-9 and _.
func ValidGroup(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// approvalState checks a and returns the store's form of it for a
// challenge of customer's.
func approvalState(a *Approval, customer string) (*store.ApprovalState, error) {
	if !ValidGroup(a.Group) {
		return nil, fmt.Errorf("%w: approvers' group %q is not [a-z0-9_]{1,64}", ErrMalformed, a.Group)
	}
	w := time.Duration(ApprovalWindow.Or(int64(a.Window)))
	if err := ApprovalWindow.Check(int64(w)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(a.Approvers) > MaxApprovers {
		return nil, fmt.Errorf("%w: more than %d approvers", ErrMalformed, MaxApprovers)
	}
	var approvers []string
	for _, u := range a.Approvers {
		if u == "" || len(u) > maxApproverLen || strings.ContainsFunc(u, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, fmt.Errorf("%w: an approver's user id is empty, too long or holds control characters", ErrMalformed)
		}
		if u != customer && !slices.Contains(approvers, u) {
			approvers = append(approvers, u)
		}
	}
	if len(approvers) == 0 {
		return nil, fmt.Errorf("%w: no approver besides the customer", ErrMalformed)
	}
	return &store.ApprovalState{Group: a.Group, Approvers: approvers, Window: w}, nil
}

// noteGroup remembers an approvers' group this engine issued a challenge
// for, so Approvals looks there too.
func (e *Engine) noteGroup(g string) {
	e.groups.LoadOrStore(g, struct{}{})
}

// approvalGroups returns Config.ApprovalGroups and the groups noted at
// Issue, sorted, without repeats.
func (e *Engine) approvalGroups() []string {
	gs := slices.Clone(e.cfg.ApprovalGroups)
	e.groups.Range(func(k, _ any) bool {
		gs = append(gs, k.(string))
		return true
	})
	slices.Sort(gs)
	return slices.Compact(gs)
}

// Pending is an operation awaiting approval, as an approver sees it:
// the same strict view of amount, payee and fields the customer
// confirmed.
type Pending struct {
	// ID is the challenge id.
	ID string
	// User is the customer who confirmed it.
	User string
	// Operation is the operation's name, e.g. "transfer".
	Operation string
	// Amount is the amount, exactly as the upstream receives it.
	Amount string
	// Currency is the amount's currency code, if known.
	Currency string
	// Payee is the payee, exactly as the upstream receives it.
	Payee string
	// PayeeDisplay is the payee as shown: Payee, or its masked form.
	PayeeDisplay string
	// Fields are further details shown.
	Fields []Field
	// Mode is the E-num mode the customer confirmed in.
	Mode Mode
	// ConfirmedAt is when the customer confirmed it.
	ConfirmedAt time.Time
	// Until is when the wait for approval ends.
	Until time.Time
	// Method is how the customer confirmed it.
	Method Method
}

func pendingOf(r *store.Record) (*Pending, error) {
	v, err := decodeView(r.View)
	if err != nil {
		return nil, err
	}
	p := &Pending{
		ID: r.ID, User: r.User, Operation: r.Operation, Amount: r.Amount, Currency: v.Currency,
		Payee: r.Payee, PayeeDisplay: v.PayeeDisplay, Fields: v.Fields, Mode: v.Mode,
		ConfirmedAt: r.ConfirmedAt, Until: r.Approval.Until, Method: Method(r.Method),
	}
	if p.PayeeDisplay == "" {
		p.PayeeDisplay = p.Payee
	}
	if p.Mode == "" {
		p.Mode = ModeAuthorization
	}
	return p, nil
}

// Approvals returns the operations awaiting approval that approver may
// approve (never the approver's own), oldest confirmation first, at most
// store.MaxAwaiting. It looks in Config.ApprovalGroups and in every group
// this engine issued a challenge for.
func (e *Engine) Approvals(ctx context.Context, approver string) ([]Pending, error) {
	if e.approvals == nil {
		return nil, errNoApprovals
	}
	if approver == "" {
		return nil, nil
	}
	now := e.cfg.Now()
	var out []Pending
	for _, g := range e.approvalGroups() {
		rs, err := e.approvals.Awaiting(ctx, g, now)
		if err != nil {
			return nil, fmt.Errorf("%w: store: %w", ErrUnavailable, err)
		}
		for _, r := range rs {
			if !r.AwaitingApproval() || !r.Approval.MayDecide(r, approver) || !now.Before(r.Expires) {
				continue
			}
			p, err := pendingOf(r)
			if err != nil {
				continue // a view that does not decode is shown to nobody
			}
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b Pending) int {
		if c := a.ConfirmedAt.Compare(b.ConfirmedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	out = slices.CompactFunc(out, func(a, b Pending) bool { return a.ID == b.ID })
	if len(out) > store.MaxAwaiting {
		out = out[:store.MaxAwaiting]
	}
	return out, nil
}

// errNoApprovals: the store keeps no approvals (see Config.Approvals).
var errNoApprovals = fmt.Errorf("%w: the store keeps no approvals", ErrUnavailable)

// locate returns the record id awaiting (or having awaited) approval,
// read without its owner's session; ErrUnknown if there is none.
func (e *Engine) locate(ctx context.Context, id string, now time.Time) (*store.Record, error) {
	if e.approvals == nil {
		return nil, errNoApprovals
	}
	if !ValidID(id) {
		return nil, ErrUnknown
	}
	user, err := e.approvals.Locate(ctx, id)
	if err != nil {
		return nil, storeErr(err)
	}
	r, err := e.approvals.GetAny(ctx, user, id, now)
	if err != nil {
		return nil, storeErr(err)
	}
	if r.Approval == nil || !r.Confirmed() {
		return nil, ErrUnknown
	}
	return r, nil
}

// PendingApproval returns the operation id awaiting approval if approver
// may approve it; otherwise ErrUnknown (not awaiting, decided, expired,
// the approver's own, or not theirs to approve: indistinguishable).
func (e *Engine) PendingApproval(ctx context.Context, id, approver string) (*Pending, error) {
	r, err := e.locate(ctx, id, e.cfg.Now())
	if err != nil {
		return nil, err
	}
	if !r.AwaitingApproval() || !r.Approval.MayDecide(r, approver) {
		return nil, ErrUnknown
	}
	return pendingOf(r)
}

// checkDecider validates an approver and the method they confirmed with.
func checkDecider(approver string, m Method) error {
	if approver == "" || len(approver) > maxApproverLen {
		return fmt.Errorf("%w: no approver", ErrMalformed)
	}
	if m == "" || len(m) > 32 {
		return fmt.Errorf("%w: the approver's confirmation method is missing", ErrMalformed)
	}
	return nil
}

// decide records approver's decision on id (see Approve and Reject).
func (e *Engine) decide(ctx context.Context, id, approver string, m Method, approve bool) (*store.Record, error) {
	if err := checkDecider(approver, m); err != nil {
		return nil, err
	}
	if e.approvals == nil {
		return nil, errNoApprovals
	}
	now := e.cfg.Now()
	if !ValidID(id) {
		return nil, ErrUnknown
	}
	user, err := e.approvals.Locate(ctx, id)
	if err != nil {
		return nil, storeErr(err)
	}
	r, err := e.approvals.Decide(ctx, user, id, approver, approve, string(m), now)
	kind := EventApproved
	if !approve {
		kind = EventRejected
	}
	var de *store.DecidedError
	switch {
	case errors.As(err, &de):
		return nil, &AlreadyDecidedError{At: de.At, By: de.By, Rejected: de.Rejected}
	case errors.Is(err, store.ErrNotDurable):
		// Decided on the master; a replica does not have it yet, so
		// nothing is forwarded now. Deliver (the customer's or
		// DeliverApproval) forwards it once it is durable. The decision
		// is reported, with the error.
		e.emit(ctx, Event{Kind: kind, ChallengeID: id, User: user, Method: m, Detail: approver, Err: err})
		return nil, fmt.Errorf("%w: %w", ErrNotDelivered, err)
	case err != nil:
		return nil, storeErr(err)
	}
	e.unwatchExpiry(id)
	ev := Event{Kind: kind, ChallengeID: id, User: r.User, Operation: r.Operation, Method: m, Amount: r.Amount, Payee: r.Payee, Detail: approver}
	if v, err := decodeView(r.View); err == nil {
		ev.Currency = v.Currency
		if v.PayeeDisplay != "" {
			ev.Payee = v.PayeeDisplay
		}
	}
	e.emit(ctx, ev)
	return r, nil
}

// Approve records approver's approval of the operation id awaiting it
// (approver confirmed it with their own method m, which the caller
// checked) and returns the customer's Confirmation, ready to deliver:
// its Header is the customer's Enumgate-Confirmed header and its
// ApprovalHeader the approver's (ApprovedHeader). An operation is
// decided once: a second Approve, or a Reject after it, is an
// *AlreadyDecidedError. Errors: ErrUnknown (not awaiting approval,
// expired, or approver not allowed: never the customer), ErrMalformed,
// ErrNotDelivered (approved, not yet durable: Deliver or DeliverApproval
// forwards it later), ErrUnavailable. A confirmation that is not
// delivered is delivered again by Deliver (the customer) or
// DeliverApproval (the approver), as any other.
func (e *Engine) Approve(ctx context.Context, id, approver string, approverMethod Method) (*Confirmation, error) {
	r, err := e.decide(ctx, id, approver, approverMethod, true)
	if err != nil {
		return nil, err
	}
	return e.confirmation(r)
}

// Reject records approver's rejection of the operation id awaiting
// approval: it is never forwarded, and the customer sees it rejected.
// Errors as Approve's.
func (e *Engine) Reject(ctx context.Context, id, approver string, approverMethod Method) error {
	_, err := e.decide(ctx, id, approver, approverMethod, false)
	return err
}

// DeliverApproval is Deliver for the approver who approved id: it
// delivers an approved confirmation that was not delivered (the
// upstream failed to answer, or the approval was not durable yet).
// Errors as Deliver's; ErrUnknown for anyone but that approver.
func (e *Engine) DeliverApproval(ctx context.Context, id, approver string) (*Confirmation, error) {
	now := e.cfg.Now()
	r, err := e.locate(ctx, id, now)
	if err != nil {
		return nil, err
	}
	a := r.Approval
	if a.Decided.IsZero() || a.Rejected || a.ApprovedBy != approver || approver == "" {
		return nil, ErrUnknown
	}
	return e.deliver(ctx, id, store.Owner{User: r.User, Session: r.Session}, now)
}

// awaitApproval reports a customer's confirmation of a challenge that
// needs approval: the event, the watch of its wait (if this engine issued
// it), and the error Verify returns.
func (e *Engine) awaitApproval(ctx context.Context, o store.Owner, r *store.Record) error {
	until := r.Approval.Until
	ev := Event{Kind: EventAwaitingApproval, ChallengeID: r.ID, User: o.User, Operation: r.Operation, Method: Method(r.Method),
		Amount: r.Amount, Payee: r.Payee, Detail: r.Approval.Group}
	if v, err := decodeView(r.View); err == nil {
		ev.Currency = v.Currency
		if v.PayeeDisplay != "" {
			ev.Payee = v.PayeeDisplay
		}
	}
	e.emit(ctx, ev)
	ev.Detail = ""
	e.rewatchExpiry(o, clientOf(ctx, ev), until)
	return &AwaitingApprovalError{Until: until}
}
