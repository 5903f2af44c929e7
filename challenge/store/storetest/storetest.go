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
	t0    = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	alice = store.Owner{User: "alice", Session: bytes.Repeat([]byte{1}, 32)}
	right = mac("right")
	wrong = mac("wrong")
)

func mac(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

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
		ReturnTo:     "/pay?step=2",
		Methods:      []string{"enum", "sms"},
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
	if err := s.Create(context.Background(), r); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return r
}

// Run runs the conformance suite against stores made by f.
func Run(t *testing.T, f Factory) {
	ctx := context.Background()

	t.Run("created challenge reads back whole", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		got, err := s.Get(ctx, r.ID, alice, t0)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != r.ID || got.Operation != "transfer" || got.Amount != "10.00" || got.Payee != "Z123" || got.ReturnTo != "/pay?step=2" ||
			!bytes.Equal(got.Stash, r.Stash) || !bytes.Equal(got.Digest, r.Digest) || got.AttemptsLeft != 3 ||
			got.MaxAttempts != 3 || !got.Expires.Equal(r.Expires) || len(got.Methods) != 2 || got.Method != "" {
			t.Fatalf("Get returned %+v", got)
		}
	})

	t.Run("duplicate id is refused", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		if err := s.Create(ctx, r); !errors.Is(err, store.ErrExists) {
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
			if _, err := s.Attempt(ctx, r.ID, o, right, t0); !errors.Is(err, store.ErrNotFound) {
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
		if _, err := s.Attempt(ctx, "nope", alice, right, t0); !errors.Is(err, store.ErrNotFound) {
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
		if _, err := s.Attempt(ctx, r.ID, alice, right, at.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Attempt after expiry = %v", err)
		}
		if _, err := s.Get(ctx, r.ID, alice, at.Add(-time.Millisecond)); err != nil {
			t.Fatalf("Get just before expiry = %v", err)
		}
	})

	t.Run("answer before a method is chosen is refused without cost", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		if _, err := s.Attempt(ctx, r.ID, alice, right, t0); !errors.Is(err, store.ErrNoMethod) {
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

	t.Run("right answer confirms once and hands back the record", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		begin(t, s, r.ID)
		res, err := s.Attempt(ctx, r.ID, alice, right, t0)
		if err != nil || res.Outcome != store.Confirmed || res.Record == nil || !bytes.Equal(res.Record.Stash, r.Stash) {
			t.Fatalf("Attempt = %+v, %v; want Confirmed with the stash", res, err)
		}
		if _, err := s.Attempt(ctx, r.ID, alice, right, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second Attempt = %v, want ErrNotFound", err)
		}
		if _, err := s.Get(ctx, r.ID, alice, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get after confirm = %v, want ErrNotFound", err)
		}
	})

	t.Run("any of several expected answers confirms", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		if _, err := s.Begin(ctx, r.ID, alice, store.Begin{Method: "enum", Expected: [][]byte{mac("a"), right, mac("b")}}, t0); err != nil {
			t.Fatal(err)
		}
		if res, err := s.Attempt(ctx, r.ID, alice, right, t0); err != nil || res.Outcome != store.Confirmed {
			t.Fatalf("Attempt = %+v, %v", res, err)
		}
	})

	t.Run("a new method replaces the expected answers", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		begin(t, s, r.ID)
		if _, err := s.Begin(ctx, r.ID, alice, store.Begin{Method: "email", Expected: [][]byte{mac("mailed")}}, t0); err != nil {
			t.Fatal(err)
		}
		if res, _ := s.Attempt(ctx, r.ID, alice, right, t0); res.Outcome != store.Wrong {
			t.Fatalf("old answer after new method = %+v, want Wrong", res)
		}
		if res, _ := s.Attempt(ctx, r.ID, alice, mac("mailed"), t0); res.Outcome != store.Confirmed {
			t.Fatalf("new answer = %+v, want Confirmed", res)
		}
	})

	t.Run("wrong answers spend the budget then the challenge is dead", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		begin(t, s, r.ID)
		for want := 2; want >= 1; want-- {
			res, err := s.Attempt(ctx, r.ID, alice, wrong, t0)
			if err != nil || res.Outcome != store.Wrong || res.AttemptsLeft != want {
				t.Fatalf("wrong attempt = %+v, %v; want Wrong with %d left", res, err, want)
			}
		}
		if res, err := s.Attempt(ctx, r.ID, alice, wrong, t0); err != nil || res.Outcome != store.Exhausted {
			t.Fatalf("last wrong attempt = %+v, %v; want Exhausted", res, err)
		}
		if res, err := s.Attempt(ctx, r.ID, alice, right, t0); err != nil || res.Outcome != store.Exhausted {
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

	t.Run("concurrent right answers confirm exactly once", func(t *testing.T) {
		s := f(t)
		r := create(t, s)
		begin(t, s, r.ID)
		var confirmed, notFound atomic.Int32
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				res, err := s.Attempt(ctx, r.ID, alice, right, t0)
				switch {
				case err == nil && res.Outcome == store.Confirmed:
					confirmed.Add(1)
				case errors.Is(err, store.ErrNotFound):
					notFound.Add(1)
				default:
					t.Errorf("Attempt = %+v, %v", res, err)
				}
			})
		}
		wg.Wait()
		if confirmed.Load() != 1 || notFound.Load() != 99 {
			t.Fatalf("confirmed %d, not found %d; want 1 and 99", confirmed.Load(), notFound.Load())
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
				res, err := s.Attempt(ctx, r.ID, alice, wrong, t0)
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

	t.Run("consecutive failures lock the user for a while", func(t *testing.T) {
		s := f(t)
		user := fmt.Sprintf("lock-%d", idSeq.Add(1))
		for i := 1; i <= 4; i++ {
			if until, err := s.Failure(ctx, user, 5, 30*time.Minute, t0); err != nil || !until.IsZero() {
				t.Fatalf("failure %d = %v, %v; want no lock", i, until, err)
			}
		}
		until, err := s.Failure(ctx, user, 5, 30*time.Minute, t0)
		if err != nil || !until.Equal(t0.Add(30*time.Minute)) {
			t.Fatalf("fifth failure = %v, %v; want locked until %v", until, err, t0.Add(30*time.Minute))
		}
		if got, _ := s.LockedUntil(ctx, user, t0.Add(29*time.Minute)); !got.Equal(until) {
			t.Fatalf("LockedUntil during the lock = %v", got)
		}
		if got, _ := s.LockedUntil(ctx, user, t0.Add(30*time.Minute)); !got.IsZero() {
			t.Fatalf("LockedUntil after the lock = %v, want none (auto-unlock)", got)
		}
		if got, _ := s.LockedUntil(ctx, "someone-else", t0); !got.IsZero() {
			t.Fatalf("another user is locked: %v", got)
		}
	})

	t.Run("a success ends the run of failures", func(t *testing.T) {
		s := f(t)
		user := fmt.Sprintf("succ-%d", idSeq.Add(1))
		for range 4 {
			s.Failure(ctx, user, 5, time.Minute, t0)
		}
		if err := s.Success(ctx, user); err != nil {
			t.Fatal(err)
		}
		if until, _ := s.Failure(ctx, user, 5, time.Minute, t0); !until.IsZero() {
			t.Fatalf("failure after a success locked: %v", until)
		}
	})

	t.Run("unlock lifts a lock", func(t *testing.T) {
		s := f(t)
		user := fmt.Sprintf("unl-%d", idSeq.Add(1))
		s.Failure(ctx, user, 1, time.Hour, t0)
		if got, _ := s.LockedUntil(ctx, user, t0); got.IsZero() {
			t.Fatal("not locked")
		}
		if err := s.Unlock(ctx, user); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.LockedUntil(ctx, user, t0); !got.IsZero() {
			t.Fatalf("still locked until %v", got)
		}
	})

	t.Run("concurrent failures lock exactly at the limit", func(t *testing.T) {
		s := f(t)
		user := fmt.Sprintf("conc-%d", idSeq.Add(1))
		var unlocked atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				until, err := s.Failure(ctx, user, 5, time.Hour, t0)
				if err != nil {
					t.Error(err)
				}
				if until.IsZero() {
					unlocked.Add(1)
				}
			})
		}
		wg.Wait()
		if unlocked.Load() != 4 {
			t.Fatalf("%d failures returned no lock, want exactly 4", unlocked.Load())
		}
	})

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
