// Package storetest is the conformance suite every store.Store passes: the
// memory store and Redis run the same tests, so the engine can rely on the
// same atomic behaviour from both.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// Factory returns a fresh, empty store for one subtest. The store must be
// cleaned up by the factory (t.Cleanup).
type Factory func(t *testing.T) store.Store

var (
	noLockout = store.Lockout{}
	t0        = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	alice     = store.Owner{User: "alice", Session: bytes.Repeat([]byte{1}, 32)}
	bob       = store.Owner{User: "bob", Session: bytes.Repeat([]byte{3}, 32)}
	right     = mac("right")
	wrong     = mac("wrong")
)

func mac(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// nextWrong returns a wrong answer's MAC no earlier call returned: a new
// guess, which the store counts (the same MAC again is a retry it does
// not).
func nextWrong() []byte { return mac(fmt.Sprintf("wrong-%d", idSeq.Add(1))) }

var idSeq atomic.Int64

// NewRecord returns a valid pending record for alice, expiring 5 minutes
// after t0 with 3 attempts, with a unique id.
func NewRecord() *store.Record {
	stash := bytes.Repeat([]byte("s"), 1024)
	d := sha256.Sum256(stash)
	return &store.Record{
		ID:           fmt.Sprintf("test-%d-%d", time.Now().UnixNano(), idSeq.Add(1)),
		User:         alice.User,
		Session:      alice.Session,
		Operation:    "transfer",
		Amount:       "10.00",
		Payee:        "Z123",
		View:         []byte(`{"currency":"RUB"}`),
		ReturnTo:     "/pay?step=2",
		Methods:      []string{"enum", "sms", "email"},
		Destinations: map[string]string{"sms": "+7•••••01", "email": "a•••@example.test"},
		Digest:       d[:],
		Stash:        stash,
		Created:      t0,
		Expires:      t0.Add(5 * time.Minute),
		MaxAttempts:  3,
		AttemptsLeft: 3,
	}
}

func begin(t *testing.T, s store.Store, id string) {
	t.Helper()
	_, err := s.Begin(context.Background(), id, alice, store.Begin{Method: "enum", Question: "12345678", Expected: [][]byte{right}}, t0)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
}

func create(t *testing.T, s store.Store) *store.Record {
	t.Helper()
	r := NewRecord()
	if err := s.Create(context.Background(), r, t0); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return r
}

// Run runs the conformance suite against stores made by f. The stores
// must have the default per-user limits and delivery lease
// (store.DefaultMaxPendingPerUser, store.DefaultMaxBytesPerUser,
// store.DefaultDeliveryLease). Each group of checks is a subtest of its
// own (challenges, methods, attempts, lockout, sms limits, messages,
// delivery, retries, fair shares, failures, approval). The approval group
// needs the store's store.Approvals (store.ApprovalsOf finds them).
func Run(t *testing.T, f Factory) {
	for _, g := range []struct {
		name string
		run  func(*testing.T, Factory)
	}{
		{"challenges", runChallenges},
		{"methods", runMethods},
		{"attempts", runAttempts},
		{"lockout", runLockout},
		{"sms limits", runSMSLimits},
		{"messages", runMessages},
		{"delivery", runDelivery},
		{"retries", runRetries},
		{"fair shares", runShares},
		{"failures", runFailures},
		{"approval", runApproval},
	} {
		t.Run(g.name, func(t *testing.T) { g.run(t, f) })
	}
}

// runChallenges checks what a store keeps and whom it shows it to: creation,
// ownership, expiry and cancelling.
func runChallenges(t *testing.T, f Factory) {
	ctx := context.Background()
	t.Run("created challenge reads back whole", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		got, err := s.Get(ctx, r.ID, alice, t0)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != r.ID || got.Operation != "transfer" || got.Amount != "10.00" || got.Payee != "Z123" || got.ReturnTo != "/pay?step=2" ||
			!bytes.Equal(got.Stash, r.Stash) || !bytes.Equal(got.View, r.View) || !bytes.Equal(got.Digest, r.Digest) || got.AttemptsLeft != 3 ||
			got.MaxAttempts != 3 || !got.Expires.Equal(r.Expires) || len(got.Methods) != 3 || got.Destinations["sms"] != "+7•••••01" || got.Destinations["email"] != "a•••@example.test" || got.Method != "" {
			t.Fatalf("Get returned %+v", got)
		}
	})

	t.Run("duplicate id is refused", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		if err := s.Create(ctx, r, t0); !errors.Is(err, store.ErrExists) {
			t.Fatalf("second Create = %v, want ErrExists", err)
		}
	})

	t.Run("another user or session sees not found", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		begin(t, s, r.ID)
		for name, o := range map[string]store.Owner{
			"other user":    {User: "bob", Session: alice.Session},
			"other session": {User: "alice", Session: bytes.Repeat([]byte{2}, 32)},
			"no session":    {User: "alice"},
		} {
			if _, err := s.Get(ctx, r.ID, o, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: Get = %v, want ErrNotFound", name, err)
			}
			if _, err := s.Begin(ctx, r.ID, o, store.Begin{Method: "enum"}, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: Begin = %v, want ErrNotFound", name, err)
			}
			if _, err := s.Attempt(ctx, r.ID, o, right, noLockout, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: Attempt = %v, want ErrNotFound", name, err)
			}
			if err := s.Delete(ctx, r.ID, o); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: Delete = %v, want ErrNotFound", name, err)
			}
		}
		// The owner's budget is untouched by the others' attempts.
		got, err := s.Get(ctx, r.ID, alice, t0)
		if err != nil || got.AttemptsLeft != 3 {
			t.Fatalf("owner's Get = %+v, %v; want 3 attempts left", got, err)
		}
	})

	t.Run("unknown id is not found", func(t *testing.T) {
		s := f(t)
		if _, err := s.Get(ctx, "nope", alice, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get = %v", err)
		}
		if _, err := s.Attempt(ctx, "nope", alice, right, noLockout, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Attempt = %v", err)
		}
	})

	t.Run("expired challenge is not found", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		begin(t, s, r.ID)
		at := r.Expires
		if _, err := s.Get(ctx, r.ID, alice, at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get at expiry = %v", err)
		}
		if _, err := s.Attempt(ctx, r.ID, alice, right, noLockout, at.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Attempt after expiry = %v", err)
		}
		if _, err := s.Get(ctx, r.ID, alice, at.Add(-time.Millisecond)); err != nil {
			t.Fatalf("Get just before expiry = %v", err)
		}
	})

	t.Run("delete cancels", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		if err := s.Delete(ctx, r.ID, alice); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, r.ID, alice, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get after Delete = %v", err)
		}
		if err := s.Delete(ctx, r.ID, alice); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second Delete = %v", err)
		}
	})
}

// runMethods checks beginning a method: what Begin records, the resend
// cooldown, replacing the expected answers, methods not offered.
func runMethods(t *testing.T, f Factory) {
	ctx := context.Background()
	t.Run("answer before a method is chosen is refused without cost", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		if _, err := s.Attempt(ctx, r.ID, alice, right, noLockout, t0); !errors.Is(err, store.ErrNoMethod) {
			t.Fatalf("Attempt = %v, want ErrNoMethod", err)
		}
		got, _ := s.Get(ctx, r.ID, alice, t0)
		if got.AttemptsLeft != 3 {
			t.Fatalf("attempts left = %d, want 3", got.AttemptsLeft)
		}
	})

	t.Run("begin records the method", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		got, err := s.Begin(ctx, r.ID, alice, store.Begin{Method: "sms", SentTo: "+7•••01", Expected: [][]byte{right}, Cooldown: time.Minute}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Method != "sms" || got.SentTo != "+7•••01" || !got.ResendAt["sms"].Equal(t0.Add(time.Minute)) {
			t.Fatalf("Begin returned %+v", got)
		}
		again, _ := s.Get(ctx, r.ID, alice, t0)
		if again.Method != "sms" || len(again.Expected) != 1 {
			t.Fatalf("Get after Begin = %+v", again)
		}
	})

	t.Run("resend before cooldown is refused with the time", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		b := store.Begin{Method: "sms", Expected: [][]byte{right}, Cooldown: time.Minute}
		if _, err := s.Begin(ctx, r.ID, alice, b, t0); err != nil {
			t.Fatal(err)
		}
		_, err := s.Begin(ctx, r.ID, alice, b, t0.Add(30*time.Second))
		var ce *store.CooldownError
		if !errors.As(err, &ce) || !ce.Until.Equal(t0.Add(time.Minute)) {
			t.Fatalf("early resend = %v, want CooldownError until %v", err, t0.Add(time.Minute))
		}
		// Another method is not held back by the SMS cooldown.
		if _, err := s.Begin(ctx, r.ID, alice, store.Begin{Method: "enum", Expected: [][]byte{right}}, t0.Add(30*time.Second)); err != nil {
			t.Fatalf("enum during sms cooldown: %v", err)
		}
		if _, err := s.Begin(ctx, r.ID, alice, b, t0.Add(time.Minute)); err != nil {
			t.Fatalf("resend after cooldown: %v", err)
		}
	})

	t.Run("a new method replaces the expected answers", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		begin(t, s, r.ID)
		if _, err := s.Begin(ctx, r.ID, alice, store.Begin{Method: "email", Expected: [][]byte{mac("mailed")}}, t0); err != nil {
			t.Fatal(err)
		}
		if res, _ := s.Attempt(ctx, r.ID, alice, right, noLockout, t0); res.Outcome != store.Wrong {
			t.Fatalf("old answer after new method = %+v, want Wrong", res)
		}
		if res, _ := s.Attempt(ctx, r.ID, alice, mac("mailed"), noLockout, t0); res.Outcome != store.Confirmed {
			t.Fatalf("new answer = %+v, want Confirmed", res)
		}
	})

	t.Run("begin refuses a method the challenge does not offer", func(t *testing.T) {
		s := f(t)
		r := NewRecord()
		r.Methods = []string{"enum", "sms"}
		if err := s.Create(ctx, r, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Begin(ctx, r.ID, alice, store.Begin{Method: "email", Expected: [][]byte{right}}, t0); !errors.Is(err, store.ErrMethodNotOffered) {
			t.Fatalf("Begin email = %v, want ErrMethodNotOffered", err)
		}
	})
}

// runAttempts checks answering: a right answer confirms exactly once, wrong
// answers spend the challenge's budget, also under concurrency.
func runAttempts(t *testing.T, f Factory) {
	ctx := context.Background()
	t.Run("right answer confirms once and hands back the record", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		begin(t, s, r.ID)
		res, err := s.Attempt(ctx, r.ID, alice, right, noLockout, t0)
		if err != nil || res.Outcome != store.Confirmed || res.Record == nil || !bytes.Equal(res.Record.Stash, r.Stash) {
			t.Fatalf("Attempt = %+v, %v; want Confirmed with the stash", res, err)
		}
		if res, err := s.Attempt(ctx, r.ID, alice, right, noLockout, t0); err != nil || res.Outcome != store.Repeated {
			t.Fatalf("second Attempt = %+v, %v, want Repeated", res, err)
		}
	})

	t.Run("any of several expected answers confirms", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		if _, err := s.Begin(ctx, r.ID, alice, store.Begin{Method: "enum", Expected: [][]byte{mac("a"), right, mac("b")}}, t0); err != nil {
			t.Fatal(err)
		}
		if res, err := s.Attempt(ctx, r.ID, alice, right, noLockout, t0); err != nil || res.Outcome != store.Confirmed {
			t.Fatalf("Attempt = %+v, %v", res, err)
		}
	})

	t.Run("wrong answers spend the budget then the challenge is dead", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		begin(t, s, r.ID)
		for want := 2; want >= 1; want-- {
			res, err := s.Attempt(ctx, r.ID, alice, nextWrong(), noLockout, t0)
			if err != nil || res.Outcome != store.Wrong || res.AttemptsLeft != want {
				t.Fatalf("wrong attempt = %+v, %v; want Wrong with %d left", res, err, want)
			}
		}
		if res, err := s.Attempt(ctx, r.ID, alice, nextWrong(), noLockout, t0); err != nil || res.Outcome != store.Exhausted {
			t.Fatalf("last wrong attempt = %+v, %v; want Exhausted", res, err)
		}
		if res, err := s.Attempt(ctx, r.ID, alice, right, noLockout, t0); err != nil || res.Outcome != store.Exhausted {
			t.Fatalf("right answer after budget = %+v, %v; want Exhausted", res, err)
		}
		if _, err := s.Begin(ctx, r.ID, alice, store.Begin{Method: "enum", Expected: [][]byte{right}}, t0); !errors.Is(err, store.ErrExhausted) {
			t.Fatalf("Begin after budget = %v, want ErrExhausted", err)
		}
		got, err := s.Get(ctx, r.ID, alice, t0)
		if err != nil || got.AttemptsLeft != 0 {
			t.Fatalf("Get after budget = %+v, %v; want the tombstone", got, err)
		}
	})

	t.Run("concurrent right answers confirm exactly once", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		begin(t, s, r.ID)
		var confirmed, repeated atomic.Int32
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				res, err := s.Attempt(ctx, r.ID, alice, right, noLockout, t0)
				switch {
				case err == nil && res.Outcome == store.Confirmed:
					confirmed.Add(1)
				case err == nil && res.Outcome == store.Repeated:
					repeated.Add(1)
				default:
					t.Errorf("Attempt = %+v, %v", res, err)
				}
			})
		}
		wg.Wait()
		if confirmed.Load() != 1 || repeated.Load() != 99 {
			t.Fatalf("confirmed %d, repeated %d; want 1 and 99", confirmed.Load(), repeated.Load())
		}
	})

	t.Run("concurrent wrong answers never overspend the budget", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		begin(t, s, r.ID)
		var wrongs, exhausted atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				res, err := s.Attempt(ctx, r.ID, alice, nextWrong(), noLockout, t0)
				if err != nil {
					t.Errorf("Attempt: %v", err)
					return
				}
				switch res.Outcome {
				case store.Wrong:
					wrongs.Add(1)
				case store.Exhausted:
					exhausted.Add(1)
				}
			})
		}
		wg.Wait()
		if wrongs.Load() != 2 || exhausted.Load() != 48 {
			t.Fatalf("wrong %d, exhausted %d; want 2 and 48", wrongs.Load(), exhausted.Load())
		}
	})
}

// runLockout checks the account lockout: consecutive failures across
// challenges lock the user, a success ends the run, Unlock lifts it.
func runLockout(t *testing.T, f Factory) {
	ctx := context.Background()
	// lockedUser creates n challenges (budget attempts each) for a fresh
	// user, begins them, and returns the user's owner and the ids.
	lockedUser := func(t *testing.T, s store.Store, n, budget int) (store.Owner, []string) {
		t.Helper()
		o := store.Owner{User: fmt.Sprintf("lock-%d", idSeq.Add(1)), Session: alice.Session}
		var ids []string
		for range n {
			r := NewRecord()
			r.User, r.MaxAttempts, r.AttemptsLeft = o.User, budget, budget
			if err := s.Create(ctx, r, t0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Begin(ctx, r.ID, o, store.Begin{Method: "enum", Expected: [][]byte{right}}, t0); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		return o, ids
	}
	lockout := store.Lockout{After: 5, For: 30 * time.Minute}
	isLocked := func(err error, until time.Time) bool {
		var le *store.LockedError
		return errors.As(err, &le) && le.Until.Equal(until)
	}

	t.Run("consecutive failures across challenges lock the user for a while", func(t *testing.T) {
		s := f(t)
		o, ids := lockedUser(t, s, 2, 3)
		for i := 1; i <= 3; i++ {
			res, err := s.Attempt(ctx, ids[0], o, nextWrong(), lockout, t0)
			if err != nil || !res.LockedUntil.IsZero() {
				t.Fatalf("failure %d = %+v, %v; want no lock", i, res, err)
			}
		}
		if res, err := s.Attempt(ctx, ids[1], o, nextWrong(), lockout, t0); err != nil || res.Outcome != store.Wrong || !res.LockedUntil.IsZero() {
			t.Fatalf("fourth failure = %+v, %v", res, err)
		}
		until := t0.Add(30 * time.Minute)
		res, err := s.Attempt(ctx, ids[1], o, nextWrong(), lockout, t0)
		if err != nil || res.Outcome != store.Wrong || res.AttemptsLeft != 1 || !res.LockedUntil.Equal(until) {
			t.Fatalf("fifth failure = %+v, %v; want Wrong, 1 left, locked until %v", res, err, until)
		}
		if _, err := s.Attempt(ctx, ids[1], o, right, lockout, t0.Add(time.Minute)); !isLocked(err, until) {
			t.Fatalf("right answer while locked = %v, want LockedError", err)
		}
		if _, err := s.Begin(ctx, ids[1], o, store.Begin{Method: "sms", Expected: [][]byte{right}}, t0.Add(time.Minute)); !isLocked(err, until) {
			t.Fatalf("Begin while locked = %v, want LockedError", err)
		}
		r := NewRecord()
		r.User = o.User
		if err := s.Create(ctx, r, t0.Add(time.Minute)); !isLocked(err, until) {
			t.Fatalf("Create while locked = %v, want LockedError", err)
		}
		if got, _ := s.LockedUntil(ctx, o.User, t0.Add(29*time.Minute)); !got.Equal(until) {
			t.Fatalf("LockedUntil during the lock = %v", got)
		}
		if got, _ := s.LockedUntil(ctx, o.User, until); !got.IsZero() {
			t.Fatalf("LockedUntil after the lock = %v, want none (auto-unlock)", got)
		}
		if got, _ := s.LockedUntil(ctx, alice.User, t0); !got.IsZero() {
			t.Fatalf("another user is locked: %v", got)
		}
		// The challenge itself was untouched by the refused answer.
		got, err := s.Get(ctx, ids[1], o, t0.Add(time.Minute))
		if err != nil || got.AttemptsLeft != 1 {
			t.Fatalf("Get = %+v, %v; want 1 attempt left", got, err)
		}
	})

	t.Run("a success ends the run of failures", func(t *testing.T) {
		s := f(t)
		o, ids := lockedUser(t, s, 3, 3)
		for _, id := range ids[:2] {
			for range 2 {
				s.Attempt(ctx, id, o, nextWrong(), lockout, t0)
			}
		}
		if res, err := s.Attempt(ctx, ids[0], o, right, lockout, t0); err != nil || res.Outcome != store.Confirmed {
			t.Fatalf("right answer after 4 failures = %+v, %v", res, err)
		}
		for i := range 3 {
			if res, err := s.Attempt(ctx, ids[2], o, nextWrong(), lockout, t0); err != nil || !res.LockedUntil.IsZero() {
				t.Fatalf("failure %d after a success = %+v, %v; want no lock", i+1, res, err)
			}
		}
		if res, _ := s.Attempt(ctx, ids[1], o, nextWrong(), lockout, t0); !res.LockedUntil.IsZero() {
			t.Fatal("locked after 4 failures since the success")
		}
	})

	t.Run("answers to a spent challenge count no failure", func(t *testing.T) {
		s := f(t)
		o, ids := lockedUser(t, s, 2, 1)
		l := store.Lockout{After: 2, For: time.Hour}
		if res, _ := s.Attempt(ctx, ids[0], o, wrong, l, t0); res.Outcome != store.Exhausted || !res.LockedUntil.IsZero() {
			t.Fatalf("first failure = %+v", res)
		}
		if res, _ := s.Attempt(ctx, ids[0], o, wrong, l, t0); res.Outcome != store.Exhausted || !res.LockedUntil.IsZero() {
			t.Fatalf("answer to the tombstone = %+v, want Exhausted without a lock", res)
		}
		if res, _ := s.Attempt(ctx, ids[1], o, wrong, l, t0); res.LockedUntil.IsZero() {
			t.Fatalf("second real failure = %+v, want a lock", res)
		}
	})

	t.Run("unlock lifts a lock", func(t *testing.T) {
		s := f(t)
		o, ids := lockedUser(t, s, 1, 3)
		if res, _ := s.Attempt(ctx, ids[0], o, wrong, store.Lockout{After: 1, For: time.Hour}, t0); res.LockedUntil.IsZero() {
			t.Fatal("not locked")
		}
		if err := s.Unlock(ctx, o.User); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.LockedUntil(ctx, o.User, t0); !got.IsZero() {
			t.Fatalf("still locked until %v", got)
		}
		if res, err := s.Attempt(ctx, ids[0], o, right, lockout, t0); err != nil || res.Outcome != store.Confirmed {
			t.Fatalf("answer after Unlock = %+v, %v", res, err)
		}
	})

	t.Run("concurrent failures lock exactly at the limit", func(t *testing.T) {
		s := f(t)
		o, ids := lockedUser(t, s, 1, 20)
		var unlocked, locking, refused atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				res, err := s.Attempt(ctx, ids[0], o, nextWrong(), lockout, t0)
				var le *store.LockedError
				switch {
				case errors.As(err, &le):
					refused.Add(1)
				case err != nil:
					t.Error(err)
				case res.LockedUntil.IsZero():
					unlocked.Add(1)
				default:
					locking.Add(1)
				}
			})
		}
		wg.Wait()
		if unlocked.Load() != 4 || locking.Load() != 1 || refused.Load() != 15 {
			t.Fatalf("%d failures without a lock, %d locking, %d refused; want 4, 1, 15", unlocked.Load(), locking.Load(), refused.Load())
		}
	})
}

// runSMSLimits checks the SMS cost controls: cooldowns, the hourly limit
// and the daily budget under concurrency.
func runSMSLimits(t *testing.T, f Factory) {
	ctx := context.Background()
	t.Run("sms limits refuse and say until when", func(t *testing.T) {
		s := f(t)
		n := idSeq.Add(1)
		u1, u2 := fmt.Sprintf("sms-a-%d", n), fmt.Sprintf("sms-b-%d", n)
		p1, p2 := fmt.Sprintf("+7900%07d", n), fmt.Sprintf("+7901%07d", n)
		l := store.SMSLimits{UserCooldown: time.Minute, PhoneCooldown: 30 * time.Second, UserHourly: 2}
		limit := func(err error) string {
			var le *store.LimitError
			if errors.As(err, &le) {
				return le.Limit
			}
			if err != nil {
				return err.Error()
			}
			return ""
		}
		steps := []struct {
			user, phone string
			at          time.Duration
			want        string
		}{
			{u1, p1, 0, ""},
			{u1, p1, 10 * time.Second, store.LimitUserCooldown},
			{u2, p1, 10 * time.Second, store.LimitPhoneCooldown},
			{u2, p2, 10 * time.Second, ""},
			{u1, p1, time.Minute, ""},
			{u1, p1, 3 * time.Minute, store.LimitUserHourly},
			{u1, p1, time.Hour, ""}, // the next clock hour
		}
		for i, st := range steps {
			if got := limit(s.SpendSMS(ctx, st.user, st.phone, l, t0.Add(st.at))); got != st.want {
				t.Fatalf("step %d: SpendSMS = %q, want %q", i, got, st.want)
			}
		}
		if err := s.SpendSMS(ctx, u1, p1, l, t0.Add(time.Hour+2*time.Minute)); err != nil {
			t.Fatalf("second SMS of the hour: %v", err)
		}
		var le *store.LimitError
		err := s.SpendSMS(ctx, u1, p1, l, t0.Add(time.Hour+4*time.Minute))
		if !errors.As(err, &le) || le.Limit != store.LimitUserHourly || !le.Until.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("hourly limit error = %v, want %s until %v", err, store.LimitUserHourly, t0.Add(2*time.Hour))
		}
	})

	t.Run("the daily budget holds under concurrency", func(t *testing.T) {
		s := f(t)
		n := idSeq.Add(1)
		day := t0.AddDate(0, 0, int(n)) // a day no other subtest touched
		l := store.SMSLimits{DailyBudget: 10}
		var sent, refused atomic.Int32
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				err := s.SpendSMS(ctx, fmt.Sprintf("bud-%d-%d", n, i), fmt.Sprintf("+7902%03d%04d", n%1000, i), l, day)
				var le *store.LimitError
				switch {
				case err == nil:
					sent.Add(1)
				case errors.As(err, &le) && le.Limit == store.LimitDailyBudget:
					refused.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if sent.Load() != 10 || refused.Load() != 30 {
			t.Fatalf("sent %d, refused %d; want 10 and 30", sent.Load(), refused.Load())
		}
	})
}
