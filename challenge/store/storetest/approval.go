package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// approvalWindow is the window of the records approvalRecord makes.
const approvalWindow = time.Hour

// approvalRecord returns a pending record of o's that needs approval by
// bob (alice is listed too: as the customer she may never decide).
func approvalRecord(o store.Owner, group string) *store.Record {
	r := NewRecord()
	r.User, r.Session = o.User, o.Session
	r.Approval = &store.ApprovalState{Group: group, Approvers: []string{"bob", alice.User}, Window: approvalWindow}
	return r
}

// approvalsOf returns s's Approvals, failing the test if it has none.
func approvalsOf(t *testing.T, s store.Store) store.Approvals {
	t.Helper()
	a, ok := store.ApprovalsOf(s)
	if !ok {
		t.Fatalf("%T keeps no approvals (store.Approvals)", s)
	}
	return a
}

// awaiting creates an approval record of o's in group, begins it and
// confirms it at at; it returns the record as confirmed.
func awaiting(t *testing.T, s store.Store, o store.Owner, group string, at time.Time) *store.Record {
	t.Helper()
	r := approvalRecord(o, group)
	mustCreate(t, s, r, t0)
	beginFor(t, s, r)
	res, err := s.Attempt(context.Background(), r.ID, o, right, noLockout, at)
	if err != nil || res.Outcome != store.Confirmed {
		t.Fatalf("right answer to an approval challenge = %+v, %v; want Confirmed", res, err)
	}
	return res.Record
}

// runApproval: four-eyes approval (store.Approvals, and Record.Approval
// through the Store methods).
func runApproval(t *testing.T, f Factory) {
	ctx := context.Background()
	at := t0.Add(time.Minute) // when the customer confirms
	until := at.Add(approvalWindow)

	t.Run("a right answer awaits approval with the stash and no lease", func(t *testing.T) {
		s := f(t)
		a := approvalsOf(t, s)
		r := awaiting(t, s, alice, "payments", at)
		if !r.AwaitingApproval() || !r.Approval.Until.Equal(until) || !r.Expires.Equal(until) ||
			r.Deliveries != 0 || !r.LeaseUntil.IsZero() || !r.ConfirmedAt.Equal(at) || len(r.Stash) == 0 {
			t.Fatalf("confirmed approval record = %+v, approval %+v; want awaiting until %v with the stash and no lease", r, r.Approval, until)
		}
		// It outlives the challenge's own ttl (5 minutes), until the
		// window ends.
		later := t0.Add(30 * time.Minute)
		got, err := s.Get(ctx, r.ID, alice, later)
		if err != nil || !got.AwaitingApproval() || !got.Expires.Equal(until) || got.Approval.Group != "payments" ||
			len(got.Approval.Approvers) != 2 || got.Approval.Window != approvalWindow {
			t.Fatalf("Get while awaiting = %+v, %v", got, err)
		}
		if _, err := s.Get(ctx, r.ID, alice, until); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get at the window's end = %v, want ErrNotFound", err)
		}
		user, err := a.Locate(ctx, r.ID)
		if err != nil || user != alice.User {
			t.Fatalf("Locate = %q, %v; want alice", user, err)
		}
		any, err := a.GetAny(ctx, alice.User, r.ID, later)
		if err != nil || !any.AwaitingApproval() || any.Stash != nil || any.Operation != "transfer" || any.Amount != "10.00" ||
			!bytes.Equal(any.View, r.View) || !bytes.Equal(any.Session, alice.Session) {
			t.Fatalf("GetAny = %+v, %v; want the record without its stash", any, err)
		}
		if _, err := a.GetAny(ctx, bob.User, r.ID, later); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetAny naming another user = %v, want ErrNotFound", err)
		}
		if _, err := a.GetAny(ctx, alice.User, r.ID, until); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetAny at the window's end = %v, want ErrNotFound", err)
		}
	})

	t.Run("a challenge without approval is not located", func(t *testing.T) {
		s := f(t)
		a := approvalsOf(t, s)
		r := create(t, s)
		begin(t, s, r.ID)
		if _, err := s.Attempt(ctx, r.ID, alice, right, noLockout, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Locate(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Locate of a plain confirmation = %v, want ErrNotFound", err)
		}
		if _, err := a.Locate(ctx, "no-such-id"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Locate of an unknown id = %v, want ErrNotFound", err)
		}
		if _, err := a.Decide(ctx, alice.User, r.ID, "bob", true, "enum", t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Decide on a plain confirmation = %v, want ErrNotFound", err)
		}
	})

	t.Run("deliver and settle wait for the decision", func(t *testing.T) {
		s := f(t)
		r := awaiting(t, s, alice, "payments", at)
		var ae *store.AwaitingApprovalError
		if _, err := s.Deliver(ctx, r.ID, alice, 3, at); !errors.As(err, &ae) || !errors.Is(err, store.ErrAwaitingApproval) || !ae.Until.Equal(until) {
			t.Fatalf("Deliver while awaiting = %v, want *AwaitingApprovalError until %v", err, until)
		}
		if err := s.Settle(ctx, r.ID, alice, true, at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Settle while awaiting = %v, want ErrNotFound", err)
		}
		res, err := s.Attempt(ctx, r.ID, alice, right, noLockout, at.Add(time.Second))
		if err != nil || res.Outcome != store.Repeated || !res.Record.AwaitingApproval() {
			t.Fatalf("the same answer again = %+v, %v; want Repeated, still awaiting", res, err)
		}
		if _, err := s.Begin(ctx, r.ID, alice, store.Begin{Method: "enum", Expected: [][]byte{right}}, at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Begin while awaiting = %v, want ErrNotFound", err)
		}
	})

	t.Run("awaiting lists the group's awaiting records oldest first without stash", func(t *testing.T) {
		s := f(t)
		a := approvalsOf(t, s)
		carol := newOwner("carol")
		second := awaiting(t, s, alice, "payments", at.Add(2*time.Second))
		first := awaiting(t, s, carol, "payments", at.Add(time.Second))
		third := awaiting(t, s, alice, "payments", at.Add(3*time.Second))
		awaiting(t, s, alice, "treasury", at)                   // another group
		decided := awaiting(t, s, carol, "payments", at)        // decided below
		mustCreate(t, s, approvalRecord(alice, "payments"), t0) // not confirmed
		if _, err := a.Decide(ctx, carol.User, decided.ID, "bob", false, "sms", at.Add(4*time.Second)); err != nil {
			t.Fatal(err)
		}
		got, err := a.Awaiting(ctx, "payments", at.Add(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
			if r.Stash != nil || !r.AwaitingApproval() || r.Approval.Group != "payments" {
				t.Errorf("listed %+v, want an awaiting payments record without stash", r)
			}
		}
		want := []string{first.ID, second.ID, third.ID}
		if len(ids) != len(want) || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
			t.Fatalf("Awaiting(payments) = %q, want %q (oldest confirmation first)", ids, want)
		}
		if got, err := a.Awaiting(ctx, "payments", until.Add(3*time.Second)); err != nil || len(got) != 0 {
			t.Fatalf("Awaiting after every window ended = %d records, %v; want none", len(got), err)
		}
		if got, err := a.Awaiting(ctx, "nobody", at); err != nil || len(got) != 0 {
			t.Fatalf("Awaiting(an unknown group) = %v, %v", got, err)
		}
	})

	t.Run("only a listed approver other than the customer decides", func(t *testing.T) {
		s := f(t)
		a := approvalsOf(t, s)
		r := awaiting(t, s, alice, "payments", at)
		for _, who := range []string{alice.User, "mallory", ""} {
			if _, err := a.Decide(ctx, alice.User, r.ID, who, true, "enum", at); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Decide by %q = %v, want ErrNotFound", who, err)
			}
		}
		if _, err := a.Decide(ctx, "carol", r.ID, "bob", true, "enum", at); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Decide naming another user = %v, want ErrNotFound", err)
		}
		if _, err := a.Decide(ctx, alice.User, r.ID, "bob", true, "enum", until); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Decide at the window's end = %v, want ErrNotFound", err)
		}
		pending := approvalRecord(alice, "payments")
		mustCreate(t, s, pending, t0)
		if _, err := a.Decide(ctx, alice.User, pending.ID, "bob", true, "enum", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Decide before the customer confirmed = %v, want ErrNotFound", err)
		}
		if got, err := s.Get(ctx, r.ID, alice, at); err != nil || !got.AwaitingApproval() {
			t.Fatalf("after refused decisions: %+v, %v; want still awaiting", got, err)
		}
	})

	t.Run("an approval decides once and takes the first lease", func(t *testing.T) {
		s := f(t)
		a := approvalsOf(t, s)
		r := awaiting(t, s, alice, "payments", at)
		dec := until.Add(-time.Minute) // late: the grace outlasts the window
		got, err := a.Decide(ctx, alice.User, r.ID, "bob", true, "sms", dec)
		if err != nil {
			t.Fatal(err)
		}
		ap := got.Approval
		if ap.ApprovedBy != "bob" || ap.Method != "sms" || !ap.Decided.Equal(dec) || ap.Rejected || got.AwaitingApproval() ||
			got.Deliveries != 1 || !got.LeaseUntil.Equal(dec.Add(store.DefaultDeliveryLease)) || !bytes.Equal(got.Stash, r.Stash) ||
			got.Expires.Before(dec.Add(store.ApprovedGrace)) {
			t.Fatalf("approved record = %+v, approval %+v", got, ap)
		}
		for _, approve := range []bool{true, false} {
			var de *store.DecidedError
			if _, err := a.Decide(ctx, alice.User, r.ID, "bob", approve, "enum", dec); !errors.As(err, &de) || !errors.Is(err, store.ErrDecided) ||
				!de.At.Equal(dec) || de.By != "bob" || de.Rejected {
				t.Fatalf("second Decide(approve=%v) = %v, want *DecidedError (approved by bob at %v)", approve, err, dec)
			}
		}
		if list, err := a.Awaiting(ctx, "payments", dec); err != nil || len(list) != 0 {
			t.Fatalf("Awaiting after the approval = %d, %v; want none", len(list), err)
		}
		var be *store.DeliveryBusyError
		if _, err := s.Deliver(ctx, r.ID, alice, 3, dec); !errors.As(err, &be) {
			t.Fatalf("Deliver during the approval's lease = %v, want *DeliveryBusyError", err)
		}
		if err := s.Settle(ctx, r.ID, alice, false, dec); err != nil {
			t.Fatal(err)
		}
		redo, err := s.Deliver(ctx, r.ID, alice, 3, dec.Add(time.Second))
		if err != nil || redo.Deliveries != 2 || !bytes.Equal(redo.Stash, r.Stash) || redo.Approval.ApprovedBy != "bob" {
			t.Fatalf("redelivery after the approval = %+v, %v", redo, err)
		}
		after := until.Add(time.Minute) // past the window, within the grace
		if err := s.Settle(ctx, r.ID, alice, true, after); err != nil {
			t.Fatalf("Settle after the window, within the grace = %v", err)
		}
		if _, err := s.Deliver(ctx, r.ID, alice, 3, after); !errors.Is(err, store.ErrDelivered) {
			t.Fatalf("Deliver after delivery = %v, want ErrDelivered", err)
		}
		res, err := s.Attempt(ctx, r.ID, alice, right, noLockout, after)
		if err != nil || res.Outcome != store.Repeated || res.Record.Approval.ApprovedBy != "bob" || !res.Record.Delivered() {
			t.Fatalf("the customer's answer again = %+v, %v; want Repeated, approved and delivered", res, err)
		}
		if user, err := a.Locate(ctx, r.ID); err != nil || user != alice.User {
			t.Fatalf("Locate after the approval = %q, %v; want alice", user, err)
		}
	})

	t.Run("a rejection drops the stash and leaves a tombstone", func(t *testing.T) {
		s := f(t)
		a := approvalsOf(t, s)
		r := awaiting(t, s, alice, "payments", at)
		got, err := a.Decide(ctx, alice.User, r.ID, "bob", false, "enum", at)
		if err != nil || !got.Rejected() || got.Stash != nil || got.Approval.ApprovedBy != "bob" || got.Deliveries != 0 {
			t.Fatalf("rejected record = %+v, %v", got, err)
		}
		var de *store.DecidedError
		if _, err := a.Decide(ctx, alice.User, r.ID, "bob", true, "enum", at); !errors.As(err, &de) || !de.Rejected {
			t.Fatalf("approval after a rejection = %v, want *DecidedError (rejected)", err)
		}
		tomb, err := s.Get(ctx, r.ID, alice, at)
		if err != nil || !tomb.Rejected() || tomb.Stash != nil || !tomb.Expires.Equal(until) {
			t.Fatalf("Get after the rejection = %+v, %v; want a rejected tombstone without stash until %v", tomb, err, until)
		}
		if _, err := s.Deliver(ctx, r.ID, alice, 3, at); !errors.Is(err, store.ErrRejected) {
			t.Fatalf("Deliver after a rejection = %v, want ErrRejected", err)
		}
		if err := s.Settle(ctx, r.ID, alice, true, at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Settle after a rejection = %v, want ErrNotFound", err)
		}
		res, err := s.Attempt(ctx, r.ID, alice, right, noLockout, at)
		if err != nil || res.Outcome != store.Repeated || !res.Record.Rejected() || res.Record.Stash != nil {
			t.Fatalf("the customer's answer again = %+v, %v; want Repeated, rejected, no stash", res, err)
		}
		if err := s.Delete(ctx, r.ID, alice); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Delete of a rejected tombstone = %v, want ErrNotFound", err)
		}
	})

	t.Run("the customer cancels while it awaits", func(t *testing.T) {
		s := f(t)
		a := approvalsOf(t, s)
		r := awaiting(t, s, alice, "payments", at)
		if err := s.Delete(ctx, r.ID, bob); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Delete by another owner = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, r.ID, alice); err != nil {
			t.Fatalf("Delete while awaiting = %v", err)
		}
		if _, err := s.Get(ctx, r.ID, alice, at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get after cancelling = %v", err)
		}
		if _, err := a.Decide(ctx, alice.User, r.ID, "bob", true, "enum", at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Decide after cancelling = %v, want ErrNotFound", err)
		}
		if list, err := a.Awaiting(ctx, "payments", at); err != nil || len(list) != 0 {
			t.Fatalf("Awaiting after cancelling = %d, %v", len(list), err)
		}
	})

	t.Run("an awaiting approval counts against the pending share until decided", func(t *testing.T) {
		s := f(t)
		a := approvalsOf(t, s)
		o := newOwner("waiter")
		var rs []*store.Record
		for i := range store.DefaultMaxPendingPerUser {
			rs = append(rs, awaiting(t, s, o, "payments", at.Add(time.Duration(i)*time.Second)))
		}
		if got := tooMany(t, s.Create(ctx, recordFor(o, 16, time.Hour), at)); !got.Equal(until) {
			t.Fatalf("RetryAt = %v, want the first wait's end %v", got, until)
		}
		if _, err := a.Decide(ctx, o.User, rs[3].ID, "bob", true, "enum", at); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, recordFor(o, 16, time.Hour), at)
	})

	t.Run("a rejection frees the stash's bytes", func(t *testing.T) {
		s := f(t)
		a := approvalsOf(t, s)
		o := newOwner("bytes")
		r := approvalRecord(o, "payments")
		r.Stash = bytes.Repeat([]byte("x"), store.DefaultMaxBytesPerUser-4096)
		mustCreate(t, s, r, t0)
		beginFor(t, s, r)
		if res, err := s.Attempt(ctx, r.ID, o, right, noLockout, at); err != nil || res.Outcome != store.Confirmed {
			t.Fatalf("Attempt = %+v, %v", res, err)
		}
		big := func() *store.Record { return recordFor(o, 8192, time.Hour) }
		tooMany(t, s.Create(ctx, big(), at))
		if _, err := a.Decide(ctx, o.User, r.ID, "bob", false, "enum", at); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, big(), at)
	})

	t.Run("concurrent decisions: exactly one wins", func(t *testing.T) {
		s := f(t)
		a := approvalsOf(t, s)
		r := awaiting(t, s, alice, "payments", at)
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = a.Decide(ctx, alice.User, r.ID, "bob", i%2 == 0, "enum", at)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrDecided):
				t.Errorf("a losing Decide = %v, want ErrDecided", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d decisions won, want exactly 1", won)
		}
	})
}
