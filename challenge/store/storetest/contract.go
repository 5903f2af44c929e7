package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// recordFor returns a pending record of o's with a stash of size bytes
// expiring ttl after t0.
func recordFor(o store.Owner, size int, ttl time.Duration) *store.Record {
	r := NewRecord()
	r.User, r.Session = o.User, o.Session
	r.Stash = bytes.Repeat([]byte("x"), size)
	r.Expires = t0.Add(ttl)
	return r
}

// newOwner returns an owner no other subtest uses.
func newOwner(name string) store.Owner {
	return store.Owner{User: fmt.Sprintf("%s-%d", name, idSeq.Add(1)), Session: alice.Session}
}

// tooMany returns the RetryAt of a *TooManyPendingError, failing the
// test on any other error.
func tooMany(t *testing.T, err error) time.Time {
	t.Helper()
	var te *store.TooManyPendingError
	if !errors.As(err, &te) || !errors.Is(err, store.ErrTooManyPending) {
		t.Fatalf("Create = %v, want *TooManyPendingError", err)
	}
	return te.RetryAt
}

func mustCreate(t *testing.T, s store.Store, r *store.Record, now time.Time) {
	t.Helper()
	if err := s.Create(context.Background(), r, now); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

func beginFor(t *testing.T, s store.Store, r *store.Record) {
	t.Helper()
	o := store.Owner{User: r.User, Session: r.Session}
	if _, err := s.Begin(context.Background(), r.ID, o, store.Begin{Method: "enum", Question: "12345678", Expected: [][]byte{right}}, t0); err != nil {
		t.Fatalf("Begin: %v", err)
	}
}

// runShares: per-user limits in Create (fair shares).
func runShares(t *testing.T, f Factory) {
	ctx := context.Background()
	maxPending := store.DefaultMaxPendingPerUser

	t.Run("one user's flood never refuses another user", func(t *testing.T) {
		s := f(t)
		flood, other := newOwner("flood"), newOwner("other")
		for i := range maxPending {
			// The earliest expiry is the third one's.
			ttl := time.Duration(10+i) * time.Minute
			if i == 2 {
				ttl = 2 * time.Minute
			}
			mustCreate(t, s, recordFor(flood, 1024, ttl), t0)
		}
		for range 3 {
			if at := tooMany(t, s.Create(ctx, recordFor(flood, 1024, time.Hour), t0)); !at.Equal(t0.Add(2 * time.Minute)) {
				t.Fatalf("RetryAt = %v, want the earliest pending expiry %v", at, t0.Add(2*time.Minute))
			}
		}
		for range maxPending {
			mustCreate(t, s, recordFor(other, 1024, time.Hour), t0)
		}
		// Room comes back when the earliest expires.
		mustCreate(t, s, recordFor(flood, 1024, time.Hour), t0.Add(2*time.Minute))
	})

	t.Run("a flood of large stashes is refused by bytes and spares others", func(t *testing.T) {
		s := f(t)
		flood, other := newOwner("bytes"), newOwner("other")
		quarter := store.DefaultMaxBytesPerUser/4 - 64
		for range 4 {
			mustCreate(t, s, recordFor(flood, quarter, time.Hour), t0)
		}
		if at := tooMany(t, s.Create(ctx, recordFor(flood, quarter, time.Hour), t0)); !at.Equal(t0.Add(time.Hour)) {
			t.Fatalf("RetryAt = %v, want %v", at, t0.Add(time.Hour))
		}
		// Small records still fit under the byte limit.
		mustCreate(t, s, recordFor(flood, 16, time.Hour), t0)
		mustCreate(t, s, recordFor(other, quarter, time.Hour), t0)
		// A record larger than the whole share can never fit.
		if at := tooMany(t, s.Create(ctx, recordFor(other, store.DefaultMaxBytesPerUser+1, time.Hour), t0)); !at.IsZero() {
			t.Fatalf("RetryAt for an oversized record = %v, want zero", at)
		}
	})

	t.Run("confirmed, exhausted, deleted and expired challenges are not pending", func(t *testing.T) {
		s := f(t)
		o := newOwner("pend")
		var rs []*store.Record
		for i := range maxPending {
			ttl := time.Hour
			if i == 3 {
				ttl = time.Minute
			}
			r := recordFor(o, 100, ttl)
			if i == 1 {
				r.MaxAttempts, r.AttemptsLeft = 1, 1
			}
			mustCreate(t, s, r, t0)
			rs = append(rs, r)
		}
		tooMany(t, s.Create(ctx, recordFor(o, 100, time.Hour), t0))
		beginFor(t, s, rs[0])
		if res, err := s.Attempt(ctx, rs[0].ID, o, right, noLockout, t0); err != nil || res.Outcome != store.Confirmed {
			t.Fatalf("confirm = %+v, %v", res, err)
		}
		beginFor(t, s, rs[1])
		if res, err := s.Attempt(ctx, rs[1].ID, o, nextWrong(), noLockout, t0); err != nil || res.Outcome != store.Exhausted {
			t.Fatalf("exhaust = %+v, %v", res, err)
		}
		if err := s.Delete(ctx, rs[2].ID, o); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(time.Minute) // rs[3] has expired
		for range 4 {
			mustCreate(t, s, recordFor(o, 100, time.Hour), now)
		}
		if at := tooMany(t, s.Create(ctx, recordFor(o, 100, time.Hour), now)); !at.Equal(t0.Add(time.Hour)) {
			t.Fatalf("RetryAt = %v, want %v", at, t0.Add(time.Hour))
		}
	})

	t.Run("a confirmed stash counts against the user's bytes until delivered", func(t *testing.T) {
		s := f(t)
		o := newOwner("held")
		half := store.DefaultMaxBytesPerUser/2 - 64
		a := recordFor(o, half, time.Hour)
		mustCreate(t, s, a, t0)
		mustCreate(t, s, recordFor(o, half, time.Hour), t0)
		beginFor(t, s, a)
		if res, err := s.Attempt(ctx, a.ID, o, right, noLockout, t0); err != nil || res.Outcome != store.Confirmed {
			t.Fatalf("confirm = %+v, %v", res, err)
		}
		tooMany(t, s.Create(ctx, recordFor(o, half, time.Hour), t0))
		if err := s.Settle(ctx, a.ID, o, true, t0); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, recordFor(o, half, time.Hour), t0)
	})

	t.Run("concurrent creates never overshoot the user's share", func(t *testing.T) {
		s := f(t)
		o := newOwner("race")
		var created, refused atomic.Int32
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				err := s.Create(ctx, recordFor(o, 100, time.Hour), t0)
				switch {
				case err == nil:
					created.Add(1)
				case errors.Is(err, store.ErrTooManyPending):
					refused.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if int(created.Load()) != maxPending || int(refused.Load()) != 40-maxPending {
			t.Fatalf("created %d, refused %d; want %d and %d", created.Load(), refused.Load(), maxPending, 40-maxPending)
		}
	})
}

// runRetries: repeated answers are idempotent.
func runRetries(t *testing.T, f Factory) {
	ctx := context.Background()

	t.Run("a repeated wrong answer costs one attempt and one failure", func(t *testing.T) {
		s := f(t)
		o := newOwner("retry")
		r := recordFor(o, 100, time.Hour)
		mustCreate(t, s, r, t0)
		beginFor(t, s, r)
		l := store.Lockout{After: 2, For: time.Hour}
		w := nextWrong()
		for i := range 3 {
			res, err := s.Attempt(ctx, r.ID, o, w, l, t0)
			if err != nil || res.Outcome != store.Wrong || res.AttemptsLeft != 2 || !res.LockedUntil.IsZero() {
				t.Fatalf("try %d of the same wrong answer = %+v, %v; want Wrong, 2 left, no lock", i+1, res, err)
			}
		}
		got, err := s.Get(ctx, r.ID, o, t0)
		if err != nil || got.AttemptsLeft != 2 || len(got.Tried) != 1 || !bytes.Equal(got.Tried[0], w) {
			t.Fatalf("Get = %+v, %v; want 2 left and the answer in Tried", got, err)
		}
		// A second, different wrong answer is the second failure.
		res, err := s.Attempt(ctx, r.ID, o, nextWrong(), l, t0)
		if err != nil || res.AttemptsLeft != 1 || res.LockedUntil.IsZero() {
			t.Fatalf("second wrong answer = %+v, %v; want 1 left and a lock", res, err)
		}
	})

	t.Run("a new method makes a tried answer a new guess", func(t *testing.T) {
		s := f(t)
		o := newOwner("rebegin")
		r := recordFor(o, 100, time.Hour)
		mustCreate(t, s, r, t0)
		beginFor(t, s, r)
		w := nextWrong()
		if res, _ := s.Attempt(ctx, r.ID, o, w, noLockout, t0); res.AttemptsLeft != 2 {
			t.Fatalf("first = %+v", res)
		}
		beginFor(t, s, r)
		if res, _ := s.Attempt(ctx, r.ID, o, w, noLockout, t0); res.Outcome != store.Wrong || res.AttemptsLeft != 1 {
			t.Fatalf("the same answer to a new question = %+v, want Wrong with 1 left", res)
		}
	})

	t.Run("the confirming answer again reports Repeated with the delivery state", func(t *testing.T) {
		s := f(t)
		o := newOwner("repeat")
		r := recordFor(o, 100, 5*time.Minute)
		mustCreate(t, s, r, t0)
		beginFor(t, s, r)
		lease := t0.Add(store.DefaultDeliveryLease)
		res, err := s.Attempt(ctx, r.ID, o, right, noLockout, t0)
		if err != nil || res.Outcome != store.Confirmed {
			t.Fatalf("Attempt = %+v, %v", res, err)
		}
		c := res.Record
		if !c.ConfirmedAt.Equal(t0) || !bytes.Equal(c.ConfirmedMAC, right) || c.Deliveries != 1 || !c.LeaseUntil.Equal(lease) || !c.DeliveredAt.IsZero() || !bytes.Equal(c.Stash, r.Stash) {
			t.Fatalf("confirmed record = %+v", c)
		}
		later := t0.Add(time.Minute)
		res, err = s.Attempt(ctx, r.ID, o, right, store.Lockout{After: 1, For: time.Hour}, later)
		if err != nil || res.Outcome != store.Repeated || res.Record == nil || !res.Record.ConfirmedAt.Equal(t0) ||
			res.Record.Deliveries != 1 || !res.Record.LeaseUntil.Equal(lease) || !bytes.Equal(res.Record.Stash, r.Stash) || res.AttemptsLeft != 3 {
			t.Fatalf("repeat = %+v, %v; want Repeated with the undelivered stash", res, err)
		}
		for name, m := range map[string][]byte{"a wrong answer": nextWrong(), "another once-right answer": mac("other")} {
			if _, err := s.Attempt(ctx, r.ID, o, m, store.Lockout{After: 1, For: time.Hour}, later); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s to a confirmed challenge = %v, want ErrNotFound", name, err)
			}
		}
		if until, _ := s.LockedUntil(ctx, o.User, later); !until.IsZero() {
			t.Fatalf("answers to a confirmed challenge locked the user until %v", until)
		}
		if _, err := s.Attempt(ctx, r.ID, bob, right, noLockout, later); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another user's repeat = %v, want ErrNotFound", err)
		}
		got, err := s.Get(ctx, r.ID, o, later)
		if err != nil || !got.ConfirmedAt.Equal(t0) || got.AttemptsLeft != 3 {
			t.Fatalf("Get of a confirmed challenge = %+v, %v", got, err)
		}
		if _, err := s.Begin(ctx, r.ID, o, store.Begin{Method: "enum", Expected: [][]byte{wrong}}, later); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Begin on a confirmed challenge = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, r.ID, o); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Delete of a confirmed challenge = %v, want ErrNotFound", err)
		}
		if _, err := s.Get(ctx, r.ID, o, later); err != nil {
			t.Fatalf("the confirmation was deleted: %v", err)
		}
		if _, err := s.Attempt(ctx, r.ID, o, right, noLockout, r.Expires); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("repeat after expiry = %v, want ErrNotFound", err)
		}
		if _, err := s.Get(ctx, r.ID, o, r.Expires); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get after expiry = %v, want ErrNotFound", err)
		}
	})
}

// runDelivery: Deliver, Settle and the lease.
func runDelivery(t *testing.T, f Factory) {
	ctx := context.Background()
	lease := store.DefaultDeliveryLease

	// confirmed returns a challenge confirmed at t0 (first lease taken).
	confirmed := func(t *testing.T, s store.Store) (*store.Record, store.Owner) {
		t.Helper()
		o := newOwner("deliver")
		r := recordFor(o, 100, 10*time.Minute)
		mustCreate(t, s, r, t0)
		beginFor(t, s, r)
		if res, err := s.Attempt(ctx, r.ID, o, right, noLockout, t0); err != nil || res.Outcome != store.Confirmed {
			t.Fatalf("Attempt = %+v, %v", res, err)
		}
		return r, o
	}
	busyUntil := func(err error) time.Time {
		var be *store.DeliveryBusyError
		if errors.As(err, &be) && errors.Is(err, store.ErrDeliveryBusy) {
			return be.Until
		}
		return time.Time{}
	}

	t.Run("deliver and settle follow the lease", func(t *testing.T) {
		s := f(t)
		r, o := confirmed(t, s)
		steps := []struct {
			name string
			at   time.Duration
			op   func(now time.Time) error
			want func(err error) bool
			desc string
		}{
			{"the first delivery holds the lease", time.Second,
				func(now time.Time) error { _, err := s.Deliver(ctx, r.ID, o, 5, now); return err },
				func(err error) bool { return busyUntil(err).Equal(t0.Add(lease)) }, "DeliveryBusyError until the first lease's end"},
			{"not delivered releases the lease", 2 * time.Second,
				func(now time.Time) error { return s.Settle(ctx, r.ID, o, false, now) },
				func(err error) bool { return err == nil }, "nil"},
			{"try again at once", 3 * time.Second,
				func(now time.Time) error {
					got, err := s.Deliver(ctx, r.ID, o, 5, now)
					if err == nil && (got.Deliveries != 2 || !got.LeaseUntil.Equal(now.Add(lease)) || !bytes.Equal(got.Stash, r.Stash)) {
						return fmt.Errorf("record %+v", got)
					}
					return err
				},
				func(err error) bool { return err == nil }, "nil with Deliveries 2, a new lease and the stash"},
			{"a lease that ran out lets the next delivery start", 3*time.Second + lease,
				func(now time.Time) error { _, err := s.Deliver(ctx, r.ID, o, 5, now); return err },
				func(err error) bool { return err == nil }, "nil"},
			{"the most deliveries are spent", 4*time.Second + 2*lease,
				func(now time.Time) error { _, err := s.Deliver(ctx, r.ID, o, 3, now); return err },
				func(err error) bool { return errors.Is(err, store.ErrDeliveriesExhausted) }, "ErrDeliveriesExhausted"},
			{"another owner cannot deliver", 4*time.Second + 2*lease,
				func(now time.Time) error { _, err := s.Deliver(ctx, r.ID, bob, 5, now); return err },
				func(err error) bool { return errors.Is(err, store.ErrNotFound) }, "ErrNotFound"},
			{"delivered", 5*time.Second + 2*lease,
				func(now time.Time) error { return s.Settle(ctx, r.ID, o, true, now) },
				func(err error) bool { return err == nil }, "nil"},
			{"never twice after delivery", 6*time.Second + 2*lease,
				func(now time.Time) error { _, err := s.Deliver(ctx, r.ID, o, 5, now); return err },
				func(err error) bool { return errors.Is(err, store.ErrDelivered) }, "ErrDelivered"},
			{"settling again changes nothing", 7*time.Second + 2*lease,
				func(now time.Time) error {
					return errors.Join(s.Settle(ctx, r.ID, o, true, now), s.Settle(ctx, r.ID, o, false, now))
				},
				func(err error) bool { return err == nil }, "nil"},
		}
		for _, st := range steps {
			if err := st.op(t0.Add(st.at)); !st.want(err) {
				t.Fatalf("%s: got %v, want %s", st.name, err, st.desc)
			}
		}
		got, err := s.Get(ctx, r.ID, o, t0.Add(8*time.Second+2*lease))
		if err != nil || !got.DeliveredAt.Equal(t0.Add(5*time.Second+2*lease)) || got.Stash != nil || got.Deliveries != 3 || !got.LeaseUntil.IsZero() {
			t.Fatalf("Get after delivery = %+v, %v; want delivered, no stash, no lease", got, err)
		}
		res, err := s.Attempt(ctx, r.ID, o, right, noLockout, t0.Add(8*time.Second+2*lease))
		if err != nil || res.Outcome != store.Repeated || res.Record.DeliveredAt.IsZero() || res.Record.Stash != nil {
			t.Fatalf("repeat after delivery = %+v, %v; want Repeated, delivered, no stash", res, err)
		}
	})

	t.Run("deliver and settle need a confirmed challenge of the owner's", func(t *testing.T) {
		s := f(t)
		o := newOwner("pending")
		r := recordFor(o, 100, time.Hour)
		mustCreate(t, s, r, t0)
		beginFor(t, s, r)
		if _, err := s.Deliver(ctx, r.ID, o, 0, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Deliver of a pending challenge = %v, want ErrNotFound", err)
		}
		if err := s.Settle(ctx, r.ID, o, true, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Settle of a pending challenge = %v, want ErrNotFound", err)
		}
		if _, err := s.Deliver(ctx, "nope", o, 0, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Deliver of an unknown id = %v, want ErrNotFound", err)
		}
		c, co := confirmed(t, s)
		if err := s.Settle(ctx, c.ID, bob, true, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Settle by another owner = %v, want ErrNotFound", err)
		}
		if _, err := s.Deliver(ctx, c.ID, co, 0, c.Expires); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Deliver after expiry = %v, want ErrNotFound", err)
		}
		if got, _ := s.Get(ctx, c.ID, co, t0); got == nil || !bytes.Equal(got.Stash, c.Stash) {
			t.Errorf("another owner's Settle changed the record: %+v", got)
		}
	})

	t.Run("concurrent deliveries: exactly one wins", func(t *testing.T) {
		s := f(t)
		r, o := confirmed(t, s)
		if err := s.Settle(ctx, r.ID, o, false, t0); err != nil {
			t.Fatal(err)
		}
		var won, busy atomic.Int32
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() {
				_, err := s.Deliver(ctx, r.ID, o, 0, t0.Add(time.Second))
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, store.ErrDeliveryBusy):
					busy.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 || busy.Load() != 29 {
			t.Fatalf("won %d, busy %d; want 1 and 29", won.Load(), busy.Load())
		}
	})
}

// runMessages: e-mail cost controls, channels apart, refunds.
func runMessages(t *testing.T, f Factory) {
	ctx := context.Background()
	limitOf := func(err error) string {
		var le *store.LimitError
		if errors.As(err, &le) {
			return le.Limit
		}
		if err != nil {
			return err.Error()
		}
		return ""
	}
	type spender func(user, to string, l store.MessageLimits, now time.Time) error
	channels := func(s store.Store) map[string]spender {
		return map[string]spender{
			store.ChannelSMS: func(u, to string, l store.MessageLimits, now time.Time) error {
				return s.SpendSMS(ctx, u, to, l, now)
			},
			store.ChannelEmail: func(u, to string, l store.MessageLimits, now time.Time) error {
				return s.SpendEmail(ctx, u, to, l, now)
			},
		}
	}

	t.Run("e-mail limits refuse and say until when", func(t *testing.T) {
		s := f(t)
		n := idSeq.Add(1)
		u1, u2 := fmt.Sprintf("mail-a-%d", n), fmt.Sprintf("mail-b-%d", n)
		a1, a2 := fmt.Sprintf("a%d@example.test", n), fmt.Sprintf("b%d@example.test", n)
		l := store.MessageLimits{UserCooldown: time.Minute, PhoneCooldown: 30 * time.Second, UserHourly: 2}
		steps := []struct {
			user, to string
			at       time.Duration
			want     string
		}{
			{u1, a1, 0, ""},
			{u1, a1, 10 * time.Second, store.LimitUserCooldown},
			{u2, a1, 10 * time.Second, store.LimitAddressCooldown},
			{u2, a2, 10 * time.Second, ""},
			{u1, a1, time.Minute, ""},
			{u1, a1, 3 * time.Minute, store.LimitUserHourly},
			{u1, a1, time.Hour, ""},
		}
		for i, st := range steps {
			if got := limitOf(s.SpendEmail(ctx, st.user, st.to, l, t0.Add(st.at))); got != st.want {
				t.Fatalf("step %d: SpendEmail = %q, want %q", i, got, st.want)
			}
		}
		var le *store.LimitError
		err := s.SpendEmail(ctx, u1, a1, l, t0.Add(time.Hour+10*time.Second))
		if !errors.As(err, &le) || le.Channel != store.ChannelEmail || !le.Until.Equal(t0.Add(time.Hour+time.Minute)) {
			t.Fatalf("SpendEmail = %v, want an e-mail LimitError until %v", err, t0.Add(time.Hour+time.Minute))
		}
		day := t0.AddDate(0, 0, int(n))
		for i := range 3 {
			want := ""
			if i == 2 {
				want = store.LimitDailyBudget
			}
			if got := limitOf(s.SpendEmail(ctx, fmt.Sprintf("%s-%d", u1, i), fmt.Sprintf("%d-%s", i, a1), store.MessageLimits{DailyBudget: 2}, day)); got != want {
				t.Fatalf("daily e-mail %d = %q, want %q", i, got, want)
			}
		}
	})

	t.Run("sms and e-mail limits are independent", func(t *testing.T) {
		s := f(t)
		n := idSeq.Add(1)
		user, to := fmt.Sprintf("both-%d", n), fmt.Sprintf("both-%d", n) // one name as phone and address
		day := t0.AddDate(0, 0, int(n))
		l := store.MessageLimits{UserCooldown: time.Hour, PhoneCooldown: time.Hour, UserHourly: 1, DailyBudget: 1}
		for ch, spend := range channels(s) {
			if err := spend(user, to, l, day); err != nil {
				t.Fatalf("first %s: %v", ch, err)
			}
		}
		for ch, spend := range channels(s) {
			var le *store.LimitError
			if err := spend(user, to, l, day.Add(time.Minute)); !errors.As(err, &le) || le.Channel != ch {
				t.Fatalf("second %s = %v, want a %s LimitError", ch, err, ch)
			}
		}
	})

	t.Run("refund restores budgets and cooldowns once", func(t *testing.T) {
		s := f(t)
		for ch, spend := range channels(s) {
			t.Run(ch, func(t *testing.T) {
				n := idSeq.Add(1)
				user, to := fmt.Sprintf("ref-%d", n), fmt.Sprintf("+7903%07d", n)
				day := t0.AddDate(0, 0, int(n))
				l := store.MessageLimits{UserCooldown: time.Minute, PhoneCooldown: time.Minute, UserHourly: 1, DailyBudget: 1}
				if err := spend(user, to, l, day); err != nil {
					t.Fatal(err)
				}
				if err := s.Refund(ctx, ch, user, to, day); err != nil {
					t.Fatal(err)
				}
				// Every limit that spend used is free again.
				at := day.Add(time.Second)
				if err := spend(user, to, l, at); err != nil {
					t.Fatalf("after the refund: %v", err)
				}
				// A second refund of the first spend does nothing.
				if err := s.Refund(ctx, ch, user, to, day); err != nil {
					t.Fatal(err)
				}
				if got := limitOf(spend(user, to, l, day.Add(2*time.Minute))); got != store.LimitUserHourly {
					t.Fatalf("after a repeated refund: %q, want %s", got, store.LimitUserHourly)
				}
				if got := limitOf(spend(fmt.Sprintf("ref2-%d", n), "x"+to, l, day.Add(2*time.Hour))); got != store.LimitDailyBudget {
					t.Fatalf("daily budget after a repeated refund: %q, want %s", got, store.LimitDailyBudget)
				}
				// A refund leaves a later spend's cooldown alone.
				other, dest := fmt.Sprintf("ref3-%d", n), fmt.Sprintf("+7904%07d", n)
				later := day.AddDate(0, 0, 1)
				if err := spend(user, dest, store.MessageLimits{}, later); err != nil {
					t.Fatal(err)
				}
				if err := spend(other, dest, store.MessageLimits{}, later.Add(10*time.Second)); err != nil {
					t.Fatal(err)
				}
				if err := s.Refund(ctx, ch, user, dest, later); err != nil {
					t.Fatal(err)
				}
				var le *store.LimitError
				if err := spend(fmt.Sprintf("ref4-%d", n), dest, store.MessageLimits{PhoneCooldown: time.Minute}, later.Add(20*time.Second)); !errors.As(err, &le) || !le.Until.Equal(later.Add(70*time.Second)) {
					t.Fatalf("destination cooldown after refunding an earlier spend = %v, want the later spend's until %v", err, later.Add(70*time.Second))
				}
			})
		}
		if err := s.Refund(ctx, "pigeon", "u", "to", t0); err == nil {
			t.Fatal("Refund of an unknown channel succeeded")
		}
	})
}
