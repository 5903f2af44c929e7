package challenge_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/internal/redistest"
)

// Unwrap lets the engine find the approvals of the store the spy wraps
// (store.ApprovalsOf), as a gateway's wrappers do.
func (s *spyStore) Unwrap() store.Store { return s.Store }

var fourEyes = &challenge.Approval{Group: "payments", Approvers: []string{"bob"}}

// issueForApproval issues alice's transfer needing bob's approval and
// returns it with the answer to its E-num question.
func (f *fixture) issueForApproval(t *testing.T, a *challenge.Approval) (*challenge.Challenge, string) {
	t.Helper()
	c, err := f.eng.Issue(context.Background(), challenge.Request{
		Subject: alice, Operation: "transfer", Amount: "1500.00", Currency: "RUB", Payee: "Z123", PayeeDisplay: "Z•••23",
		Stash: stash(), Approval: a,
	})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return c, f.beginEnum(t, c.ID)
}

// confirmForApproval issues and confirms alice's transfer; it returns it
// awaiting bob's approval.
func (f *fixture) confirmForApproval(t *testing.T) *challenge.Challenge {
	t.Helper()
	c, answer := f.issueForApproval(t, fourEyes)
	if _, err := f.eng.Verify(context.Background(), c.ID, alice, answer); !errors.Is(err, challenge.ErrAwaitingApproval) {
		t.Fatalf("Verify = %v, want ErrAwaitingApproval", err)
	}
	return c
}

func (f *fixture) kinds() []challenge.EventKind {
	var ks []challenge.EventKind
	for _, e := range *f.events {
		ks = append(ks, e.Kind)
	}
	return ks
}

func (f *fixture) event(t *testing.T, k challenge.EventKind) challenge.Event {
	t.Helper()
	for _, e := range *f.events {
		if e.Kind == k {
			return e
		}
	}
	t.Fatalf("no %s event among %v", k, f.kinds())
	return challenge.Event{}
}

// The four-eyes round trip: the customer's right answer is held, not
// forwarded; the approver sees the same operation and approves it; only
// then is the stash forwarded, with both signed headers.
func TestApprovedOperationIsForwardedOnlyAfterTheApproval(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, answer := f.issueForApproval(t, fourEyes)
	if c.ApprovalGroup != "payments" || !c.ApprovalUntil.IsZero() {
		t.Fatalf("issued challenge = %+v", c)
	}
	f.clock.Add(time.Minute)
	confirmedAt := f.clock.Now()
	until := confirmedAt.Add(challenge.DefaultApprovalWindow)

	conf, err := f.eng.Verify(ctx, c.ID, alice, answer)
	var ae *challenge.AwaitingApprovalError
	if conf != nil || !errors.As(err, &ae) || !ae.Until.Equal(until) {
		t.Fatalf("Verify = %v, %v; want *AwaitingApprovalError until %v and no stash", conf, err, until)
	}
	if e := f.event(t, challenge.EventAwaitingApproval); e.User != "alice" || e.Amount != "1500.00" || e.Payee != "Z•••23" || e.Method != challenge.MethodEnum {
		t.Fatalf("awaiting_approval event = %+v", e)
	}
	// The same answer again: the same answer from the engine.
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); !errors.As(err, &ae) || !ae.Until.Equal(until) {
		t.Fatalf("Verify again = %v, want the same *AwaitingApprovalError", err)
	}
	if _, err := f.eng.Deliver(ctx, c.ID, alice); !errors.Is(err, challenge.ErrAwaitingApproval) {
		t.Fatalf("Deliver before the approval = %v, want ErrAwaitingApproval", err)
	}
	// Past the challenge's own ttl it waits on, and says so.
	f.clock.Add(time.Hour)
	got, err := f.eng.Get(ctx, c.ID, alice)
	if err != nil || got.State != challenge.StateAwaitingApproval || !got.ApprovalUntil.Equal(until) || !got.ConfirmedAt.Equal(confirmedAt) {
		t.Fatalf("Get while awaiting = %+v, %v", got, err)
	}

	// The approver sees what the customer confirmed; nobody else does.
	list, err := f.eng.Approvals(ctx, "bob")
	if err != nil || len(list) != 1 {
		t.Fatalf("Approvals(bob) = %+v, %v; want one", list, err)
	}
	p := list[0]
	if p.ID != c.ID || p.User != "alice" || p.Operation != "transfer" || p.Amount != "1500.00" || p.Currency != "RUB" ||
		p.Payee != "Z123" || p.PayeeDisplay != "Z•••23" || p.Method != challenge.MethodEnum || !p.ConfirmedAt.Equal(confirmedAt) ||
		!p.Until.Equal(until) || p.Mode != challenge.ModeAuthorization {
		t.Fatalf("pending approval = %+v", p)
	}
	for _, who := range []string{"alice", "carol", ""} {
		if list, err := f.eng.Approvals(ctx, who); err != nil || len(list) != 0 {
			t.Errorf("Approvals(%q) = %+v, %v; want none", who, list, err)
		}
		if _, err := f.eng.PendingApproval(ctx, c.ID, who); !errors.Is(err, challenge.ErrUnknown) {
			t.Errorf("PendingApproval by %q = %v, want ErrUnknown", who, err)
		}
	}
	if one, err := f.eng.PendingApproval(ctx, c.ID, "bob"); err != nil || one.ID != c.ID || one.Amount != "1500.00" {
		t.Fatalf("PendingApproval(bob) = %+v, %v", one, err)
	}

	approvedAt := f.clock.Now()
	conf, err = f.eng.Approve(ctx, c.ID, "bob", challenge.MethodSMS)
	if err != nil {
		t.Fatalf("Approve: %v", err)
	}
	if !bytes.Equal(conf.Stash.Encode(), stash().Encode()) || conf.User != "alice" || conf.Method != challenge.MethodEnum ||
		conf.Approver != "bob" || conf.ApproverMethod != challenge.MethodSMS || !conf.ApprovedAt.Equal(approvedAt) || conf.Delivery != 1 {
		t.Fatalf("confirmation after the approval = %+v", conf)
	}
	key := f.eng.ConfirmKey()
	cust, err := challenge.VerifyConfirmed(key, conf.Header, approvedAt, 0)
	if err != nil || cust.User != "alice" || cust.Method != challenge.MethodEnum || cust.ChallengeID != c.ID || !cust.Time.Equal(confirmedAt) {
		t.Fatalf("customer's header = %+v, %v", cust, err)
	}
	appr, err := challenge.VerifyConfirmed(key, conf.ApprovalHeader, approvedAt, 0)
	if err != nil || appr.User != "bob" || appr.Method != challenge.MethodSMS || appr.ChallengeID != c.ID || appr.Operation != "transfer" ||
		!appr.Time.Equal(approvedAt) || appr.Path != cust.Path || appr.BodySHA256 != cust.BodySHA256 {
		t.Fatalf("approver's header = %+v, %v", appr, err)
	}
	if e := f.event(t, challenge.EventApproved); e.User != "alice" || e.Detail != "bob" || e.Method != challenge.MethodSMS || e.Amount != "1500.00" {
		t.Fatalf("approved event = %+v", e)
	}
	if err := f.eng.Settle(ctx, conf, true); err != nil {
		t.Fatal(err)
	}
	if got, err := f.eng.Get(ctx, c.ID, alice); err != nil || got.State != challenge.StateConfirmed || got.ApprovedBy != "bob" {
		t.Fatalf("Get after the delivery = %+v, %v", got, err)
	}
	var done *challenge.AlreadyDecidedError
	if _, err := f.eng.Approve(ctx, c.ID, "bob", challenge.MethodSMS); !errors.As(err, &done) || done.Rejected || done.By != "bob" {
		t.Fatalf("a second Approve = %v, want *AlreadyDecidedError", err)
	}
	if err := f.eng.Reject(ctx, c.ID, "bob", challenge.MethodEnum); !errors.Is(err, challenge.ErrAlreadyDecided) {
		t.Fatalf("Reject after Approve = %v, want ErrAlreadyDecided", err)
	}
	var ac *challenge.AlreadyConfirmedError
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); !errors.As(err, &ac) || !ac.Delivered {
		t.Fatalf("the customer's answer after the delivery = %v, want delivered", err)
	}
	if list, _ := f.eng.Approvals(ctx, "bob"); len(list) != 0 {
		t.Fatalf("Approvals after the approval = %+v", list)
	}
}

func TestRejectedOperationIsNeverForwarded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, answer := f.issueForApproval(t, fourEyes)
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); !errors.Is(err, challenge.ErrAwaitingApproval) {
		t.Fatal(err)
	}
	if err := f.eng.Reject(ctx, c.ID, "bob", challenge.MethodEnum); err != nil {
		t.Fatalf("Reject: %v", err)
	}
	if e := f.event(t, challenge.EventRejected); e.User != "alice" || e.Detail != "bob" {
		t.Fatalf("rejected event = %+v", e)
	}
	if got, err := f.eng.Get(ctx, c.ID, alice); err != nil || got.State != challenge.StateRejected || got.ApprovedBy != "bob" {
		t.Fatalf("Get after the rejection = %+v, %v", got, err)
	}
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); !errors.Is(err, challenge.ErrRejected) {
		t.Fatalf("the customer's answer again = %v, want ErrRejected", err)
	}
	if _, err := f.eng.Deliver(ctx, c.ID, alice); !errors.Is(err, challenge.ErrRejected) {
		t.Fatalf("Deliver = %v, want ErrRejected", err)
	}
	var done *challenge.AlreadyDecidedError
	if _, err := f.eng.Approve(ctx, c.ID, "bob", challenge.MethodEnum); !errors.As(err, &done) || !done.Rejected {
		t.Fatalf("Approve after the rejection = %v, want *AlreadyDecidedError (rejected)", err)
	}
	if _, err := f.eng.DeliverApproval(ctx, c.ID, "bob"); !errors.Is(err, challenge.ErrUnknown) {
		t.Fatalf("DeliverApproval after the rejection = %v, want ErrUnknown", err)
	}
}

func TestTheCustomerNeverApprovesTheirOwnOperation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, answer := f.issueForApproval(t, &challenge.Approval{Group: "payments", Approvers: []string{"alice", "bob"}})
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); !errors.Is(err, challenge.ErrAwaitingApproval) {
		t.Fatal(err)
	}
	if list, err := f.eng.Approvals(ctx, "alice"); err != nil || len(list) != 0 {
		t.Fatalf("Approvals(alice) = %+v, %v; want none of her own", list, err)
	}
	for _, who := range []string{"alice", "mallory"} {
		if _, err := f.eng.Approve(ctx, c.ID, who, challenge.MethodEnum); !errors.Is(err, challenge.ErrUnknown) {
			t.Errorf("Approve by %s = %v, want ErrUnknown", who, err)
		}
		if err := f.eng.Reject(ctx, c.ID, who, challenge.MethodEnum); !errors.Is(err, challenge.ErrUnknown) {
			t.Errorf("Reject by %s = %v, want ErrUnknown", who, err)
		}
	}
	if got, _ := f.eng.Get(ctx, c.ID, alice); got.State != challenge.StateAwaitingApproval {
		t.Fatalf("state after refused decisions = %s", got.State)
	}
}

func TestTheCustomerCancelsAPendingApproval(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.confirmForApproval(t)
	if err := f.eng.Cancel(ctx, c.ID, alice); err != nil {
		t.Fatalf("Cancel while awaiting approval: %v", err)
	}
	if e := f.event(t, challenge.EventCancelled); e.ChallengeID != c.ID || e.User != "alice" {
		t.Fatalf("cancelled event = %+v", e)
	}
	if _, err := f.eng.Get(ctx, c.ID, alice); !errors.Is(err, challenge.ErrUnknown) {
		t.Fatalf("Get after cancelling = %v", err)
	}
	if list, _ := f.eng.Approvals(ctx, "bob"); len(list) != 0 {
		t.Fatalf("Approvals after cancelling = %+v", list)
	}
	if _, err := f.eng.Approve(ctx, c.ID, "bob", challenge.MethodEnum); !errors.Is(err, challenge.ErrUnknown) {
		t.Fatalf("Approve after cancelling = %v, want ErrUnknown", err)
	}
}

// An approved operation whose upstream failed is delivered again, by the
// customer or by the approver, with the same headers; nobody else may.
func TestAnUndeliveredApprovalIsDeliveredAgain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.confirmForApproval(t)
	first, err := f.eng.Approve(ctx, c.ID, "bob", challenge.MethodEnum)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.eng.Settle(ctx, first, false); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "carol"} {
		if _, err := f.eng.DeliverApproval(ctx, c.ID, who); !errors.Is(err, challenge.ErrUnknown) {
			t.Errorf("DeliverApproval by %s = %v, want ErrUnknown", who, err)
		}
	}
	again, err := f.eng.DeliverApproval(ctx, c.ID, "bob")
	if err != nil || again.Delivery != 2 || again.Header != first.Header || again.ApprovalHeader != first.ApprovalHeader {
		t.Fatalf("DeliverApproval = %+v, %v; want the second delivery with the same headers", again, err)
	}
	if err := f.eng.Settle(ctx, again, false); err != nil {
		t.Fatal(err)
	}
	third, err := f.eng.Deliver(ctx, c.ID, alice)
	if err != nil || third.Delivery != 3 || third.ApprovalHeader != first.ApprovalHeader {
		t.Fatalf("the customer's Deliver = %+v, %v", third, err)
	}
}

func TestIssueRefusesApprovalsThatCannotWork(t *testing.T) {
	tests := []struct {
		name string
		a    challenge.Approval
	}{
		{"no group", challenge.Approval{Approvers: []string{"bob"}}},
		{"a group with capitals", challenge.Approval{Group: "Payments", Approvers: []string{"bob"}}},
		{"a group too long", challenge.Approval{Group: strings.Repeat("g", 65), Approvers: []string{"bob"}}},
		{"no approver", challenge.Approval{Group: "payments"}},
		{"only the customer", challenge.Approval{Group: "payments", Approvers: []string{"alice", "alice"}}},
		{"an empty approver", challenge.Approval{Group: "payments", Approvers: []string{"bob", ""}}},
		{"an approver with a newline", challenge.Approval{Group: "payments", Approvers: []string{"bob\nx"}}},
		{"too many approvers", challenge.Approval{Group: "payments", Approvers: strings.Split(strings.Repeat("u,", challenge.MaxApprovers+1), ",")[:challenge.MaxApprovers+1]}},
		{"a window under a minute", challenge.Approval{Group: "payments", Approvers: []string{"bob"}, Window: 59 * time.Second}},
		{"a window over a week", challenge.Approval{Group: "payments", Approvers: []string{"bob"}, Window: 8 * 24 * time.Hour}},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.eng.Issue(context.Background(), challenge.Request{Subject: alice, Operation: "transfer", Stash: stash(), Approval: &tt.a})
			if !errors.Is(err, challenge.ErrMalformed) {
				t.Fatalf("Issue = %v, want ErrMalformed", err)
			}
		})
	}
	if n := f.store.Len(); n != 0 {
		t.Fatalf("refused approvals left %d challenges", n)
	}
}

// plainStore hides the approvals of the store it wraps: a store that
// keeps none.
type plainStore struct{ store.Store }

// stripping drops every record's Approval at Create: a store that does
// not keep it, although the engine was given its approvals.
type stripping struct{ *memory.Store }

func (s stripping) Create(ctx context.Context, r *store.Record, now time.Time) error {
	c := r.Clone()
	c.Approval = nil
	return s.Store.Create(ctx, c, now)
}

// Fail closed: without a store that keeps approvals, nothing that needs
// one is issued; and a record whose store lost its approval is never
// forwarded.
func TestApprovalsFailClosedWithoutAStoreThatKeepsThem(t *testing.T) {
	ctx := context.Background()
	dir, _ := challenge.ParseDirectory([]byte(usersJSON))
	mem := memory.New(memory.Options{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	secret := []byte("0123456789abcdef0123456789abcdef")

	eng, err := challenge.New(challenge.Config{Store: plainStore{mem}, Directory: dir, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Issue(ctx, challenge.Request{Subject: alice, Operation: "transfer", Stash: stash(), Approval: fourEyes}); !errors.Is(err, challenge.ErrUnavailable) {
		t.Fatalf("Issue with an approval into a store without approvals = %v, want ErrUnavailable", err)
	}
	if _, err := eng.Approvals(ctx, "bob"); !errors.Is(err, challenge.ErrUnavailable) {
		t.Fatalf("Approvals = %v, want ErrUnavailable", err)
	}
	if _, err := eng.Issue(ctx, challenge.Request{Subject: alice, Operation: "transfer", Stash: stash()}); err != nil {
		t.Fatalf("Issue without approval: %v", err)
	}

	lossy, err := challenge.New(challenge.Config{Store: stripping{mem}, Approvals: mem, Directory: dir, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	c, err := lossy.Issue(ctx, challenge.Request{Subject: alice, Operation: "transfer", Stash: stash(), Approval: fourEyes})
	if err != nil {
		t.Fatal(err)
	}
	c, err = lossy.Begin(ctx, c.ID, alice, challenge.MethodEnum)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := lossy.Verify(ctx, c.ID, alice, enumAnswer(t, c.Question))
	if conf != nil || !errors.Is(err, challenge.ErrUnavailable) {
		t.Fatalf("Verify on a store that lost the approval = %+v, %v; want ErrUnavailable and nothing to forward", conf, err)
	}
}

// Gateways share the store: one issues, another lists and approves (it
// knows the group from its configuration).
func TestAnotherGatewayApproves(t *testing.T) {
	ctx := context.Background()
	dir, _ := challenge.ParseDirectory([]byte(usersJSON))
	mem := memory.New(memory.Options{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	secret := []byte("0123456789abcdef0123456789abcdef")
	issuer, _ := challenge.New(challenge.Config{Store: mem, Directory: dir, Secret: secret})
	other, _ := challenge.New(challenge.Config{Store: mem, Directory: dir, Secret: secret, ApprovalGroups: []string{"payments"}})
	c, err := issuer.Issue(ctx, challenge.Request{Subject: alice, Operation: "transfer", Stash: stash(), Approval: fourEyes})
	if err != nil {
		t.Fatal(err)
	}
	c, _ = issuer.Begin(ctx, c.ID, alice, challenge.MethodEnum)
	if _, err := issuer.Verify(ctx, c.ID, alice, enumAnswer(t, c.Question)); !errors.Is(err, challenge.ErrAwaitingApproval) {
		t.Fatal(err)
	}
	list, err := other.Approvals(ctx, "bob")
	if err != nil || len(list) != 1 || list[0].ID != c.ID {
		t.Fatalf("Approvals on the other gateway = %+v, %v", list, err)
	}
	conf, err := other.Approve(ctx, c.ID, "bob", challenge.MethodEnum)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := challenge.VerifyConfirmed(issuer.ConfirmKey(), conf.ApprovalHeader, time.Now(), time.Minute); err != nil {
		t.Fatalf("approver's header from the other gateway: %v", err)
	}
}

// The gateway that issued a challenge reports a wait for approval that
// ends undecided, whichever gateway took the customer's answer; a
// decided one is never reported.
func TestAnUndecidedApprovalIsReportedExpired(t *testing.T) {
	defer func(l challenge.Limit) { challenge.ApprovalWindow = l }(challenge.ApprovalWindow)
	challenge.ApprovalWindow.Min = int64(time.Second)

	dir, _ := challenge.ParseDirectory([]byte(usersJSON))
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	var (
		mu     sync.Mutex
		events []challenge.Event
	)
	secret := []byte("0123456789abcdef0123456789abcdef")
	eng, _ := challenge.New(challenge.Config{Store: st, Directory: dir, Secret: secret,
		Events: func(e challenge.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	t.Cleanup(func() { eng.Close() })
	other, _ := challenge.New(challenge.Config{Store: st, Directory: dir, Secret: secret})
	ctx := context.Background()
	window := &challenge.Approval{Group: "payments", Approvers: []string{"bob"}, Window: 2 * time.Second}
	confirm := func(on *challenge.Engine, ttl time.Duration) *challenge.Challenge {
		c, err := eng.Issue(ctx, challenge.Request{Subject: alice, Operation: "transfer", Amount: "1500.00", Stash: stash(), Approval: window, TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		c, _ = on.Begin(ctx, c.ID, alice, challenge.MethodEnum)
		if _, err := on.Verify(ctx, c.ID, alice, enumAnswer(t, c.Question)); !errors.Is(err, challenge.ErrAwaitingApproval) {
			t.Fatal(err)
		}
		return c
	}
	here := confirm(eng, time.Minute)              // answered on the issuer: its watch moves to the wait
	there := confirm(other, 1500*time.Millisecond) // answered elsewhere: the issuer's probe finds the wait
	approved := confirm(eng, time.Minute)          // decided in time
	if _, err := eng.Approve(ctx, approved.ID, "bob", challenge.MethodEnum); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	got := map[string]challenge.Event{}
	for _, e := range events {
		switch e.Kind {
		case challenge.EventApprovalExpired:
			got[e.ChallengeID] = e
		case challenge.EventExpired:
			t.Errorf("challenge %s reported expired; it was confirmed", e.ChallengeID)
		}
	}
	if len(got) != 2 || got[here.ID].User != "alice" || got[there.ID].Amount != "1500.00" {
		t.Fatalf("approval_expired events = %+v; want the two undecided ones", got)
	}
}

// Two gateways on one Redis: the customer answers through one, the
// approver lists and approves through the other, and however many
// approvals race through both, the stash is handed out once.
func TestTwoGatewaysOnRedisApproveOnce(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	dir, _ := challenge.ParseDirectory([]byte(usersJSON))
	secret := []byte("0123456789abcdef0123456789abcdef")
	gateway := func(groups ...string) *challenge.Engine {
		opt, err := redis.ParseURL(rs.URL)
		if err != nil {
			t.Fatal(err)
		}
		client := redis.NewClient(opt)
		t.Cleanup(func() { client.Close() })
		eng, err := challenge.New(challenge.Config{Store: redisstore.New(client, redisstore.Options{}), Directory: dir, Secret: secret, ApprovalGroups: groups})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		return eng
	}
	one, two := gateway(), gateway("payments")
	ctx := context.Background()
	c, err := one.Issue(ctx, challenge.Request{Subject: alice, Operation: "transfer", Amount: "1500.00", Payee: "Z123", Stash: stash(), Approval: fourEyes})
	if err != nil {
		t.Fatal(err)
	}
	c, _ = one.Begin(ctx, c.ID, alice, challenge.MethodEnum)
	if _, err := two.Verify(ctx, c.ID, alice, enumAnswer(t, c.Question)); !errors.Is(err, challenge.ErrAwaitingApproval) {
		t.Fatalf("Verify on the second gateway = %v, want ErrAwaitingApproval", err)
	}
	if got, err := one.Get(ctx, c.ID, alice); err != nil || got.State != challenge.StateAwaitingApproval {
		t.Fatalf("Get on the first gateway = %+v, %v", got, err)
	}
	list, err := two.Approvals(ctx, "bob")
	if err != nil || len(list) != 1 || list[0].ID != c.ID || list[0].Amount != "1500.00" {
		t.Fatalf("Approvals(bob) on the second gateway = %+v, %v", list, err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		confs []*challenge.Confirmation
	)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			eng := one
			if i%2 == 1 {
				eng = two
			}
			conf, err := eng.Approve(ctx, c.ID, "bob", challenge.MethodEnum)
			switch {
			case err == nil:
				mu.Lock()
				confs = append(confs, conf)
				mu.Unlock()
			case !errors.Is(err, challenge.ErrAlreadyDecided):
				t.Errorf("Approve = %v", err)
			}
		}()
	}
	wg.Wait()
	if len(confs) != 1 {
		t.Fatalf("%d approvals handed out the stash, want 1", len(confs))
	}
	if err := one.Settle(ctx, confs[0], true); err != nil {
		t.Fatal(err)
	}
	if got, err := two.Get(ctx, c.ID, alice); err != nil || got.State != challenge.StateConfirmed || got.ApprovedBy != "bob" {
		t.Fatalf("Get after the delivery = %+v, %v", got, err)
	}
}
