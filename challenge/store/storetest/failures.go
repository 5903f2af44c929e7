package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

// runFailures: Regulator.Failures reports the run of failures the lockout
// counts, and the lock.
func runFailures(t *testing.T, f Factory) {
	ctx := context.Background()
	lockout := store.Lockout{After: 5, For: 30 * time.Minute}
	until := t0.Add(lockout.For)

	// answers is one user's set of begun challenges (3 attempts each),
	// with helpers that answer them at t0 under lockout.
	type answers struct {
		t   *testing.T
		s   store.Store
		o   store.Owner
		ids []string
	}
	attempt := func(a answers, i int, m []byte, l store.Lockout, want store.Outcome) store.Result {
		a.t.Helper()
		res, err := a.s.Attempt(ctx, a.ids[i], a.o, m, l, t0)
		if err != nil || res.Outcome != want {
			a.t.Fatalf("Attempt on challenge %d = %+v, %v; want %v", i, res, err, want)
		}
		return res
	}
	wrongs := func(a answers, i, n int) {
		a.t.Helper()
		for range n {
			attempt(a, i, nextWrong(), lockout, store.Wrong)
		}
	}

	tests := []struct {
		name string
		// run answers a's challenges (three, 3 attempts each).
		run       func(a answers)
		at        time.Time // when Failures is asked
		n         int
		lockedEnd time.Time
	}{
		{name: "0 for a new user", run: func(answers) {}, at: t0},
		{name: "counts wrong answers across challenges", run: func(a answers) {
			wrongs(a, 0, 2)
			wrongs(a, 1, 1)
			wrongs(a, 2, 1)
		}, at: t0, n: 4},
		{name: "counts the answer that spends a budget", run: func(a answers) {
			wrongs(a, 0, 2)
			attempt(a, 0, nextWrong(), lockout, store.Exhausted)
		}, at: t0, n: 3},
		{name: "reset by a confirmation", run: func(a answers) {
			wrongs(a, 0, 2)
			wrongs(a, 1, 2)
			attempt(a, 2, right, lockout, store.Confirmed)
		}, at: t0, n: 0},
		{name: "counts again from a confirmation", run: func(a answers) {
			wrongs(a, 0, 2)
			attempt(a, 1, right, lockout, store.Confirmed)
			wrongs(a, 2, 1)
		}, at: t0, n: 1},
		{name: "reset by Unlock", run: func(a answers) {
			wrongs(a, 0, 2)
			wrongs(a, 1, 1)
			if err := a.s.Unlock(ctx, a.o.User); err != nil {
				a.t.Fatal(err)
			}
		}, at: t0, n: 0},
		{name: "a repeated wrong MAC is not counted twice", run: func(a answers) {
			w := nextWrong()
			for range 3 {
				if res := attempt(a, 0, w, lockout, store.Wrong); res.AttemptsLeft != 2 {
					a.t.Fatalf("same wrong answer again = %+v, want 2 attempts left", res)
				}
			}
			wrongs(a, 1, 1)
		}, at: t0, n: 2},
		{name: "answers to a tombstone are not counted", run: func(a answers) {
			wrongs(a, 0, 2)
			attempt(a, 0, nextWrong(), lockout, store.Exhausted)
			attempt(a, 0, nextWrong(), lockout, store.Exhausted)
		}, at: t0, n: 3},
		{name: "not counted without a lockout", run: func(a answers) {
			attempt(a, 0, nextWrong(), noLockout, store.Wrong)
			attempt(a, 1, nextWrong(), noLockout, store.Wrong)
		}, at: t0, n: 0},
		{name: "locked: lockedUntil set and the run ended", run: func(a answers) {
			wrongs(a, 0, 2)
			wrongs(a, 1, 2)
			if res := attempt(a, 2, nextWrong(), lockout, store.Wrong); !res.LockedUntil.Equal(until) {
				a.t.Fatalf("fifth failure = %+v, want locked until %v", res, until)
			}
		}, at: t0.Add(29 * time.Minute), n: 0, lockedEnd: until},
		{name: "a refused answer while locked is not counted", run: func(a answers) {
			wrongs(a, 0, 2)
			wrongs(a, 1, 2)
			attempt(a, 2, nextWrong(), lockout, store.Wrong)
			if _, err := a.s.Attempt(ctx, a.ids[2], a.o, nextWrong(), lockout, t0.Add(time.Minute)); err == nil {
				a.t.Fatal("answer while locked was not refused")
			}
		}, at: t0.Add(time.Minute), n: 0, lockedEnd: until},
		{name: "an ended lock is not reported", run: func(a answers) {
			wrongs(a, 0, 2)
			wrongs(a, 1, 2)
			attempt(a, 2, nextWrong(), lockout, store.Wrong)
		}, at: until, n: 0},
		{name: "reset by Unlock while locked", run: func(a answers) {
			wrongs(a, 0, 2)
			wrongs(a, 1, 2)
			attempt(a, 2, nextWrong(), lockout, store.Wrong)
			if err := a.s.Unlock(ctx, a.o.User); err != nil {
				a.t.Fatal(err)
			}
		}, at: t0.Add(time.Minute), n: 0},
		{name: "another user's failures are not counted", run: func(a answers) {
			b := answers{t: a.t, s: a.s, o: newOwner("failures-other")}
			for range 2 {
				r := recordFor(b.o, 100, time.Hour)
				mustCreate(a.t, a.s, r, t0)
				beginFor(a.t, a.s, r)
				b.ids = append(b.ids, r.ID)
			}
			wrongs(b, 0, 2)
			wrongs(b, 1, 1)
			wrongs(a, 0, 1)
		}, at: t0, n: 1},
	}
	t.Run("Failures", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s := f(t)
				a := answers{t: t, s: s, o: newOwner("failures")}
				for range 3 {
					r := recordFor(a.o, 100, time.Hour)
					mustCreate(t, s, r, t0)
					beginFor(t, s, r)
					a.ids = append(a.ids, r.ID)
				}
				tc.run(a)
				n, locked, err := s.Failures(ctx, a.o.User, tc.at)
				if err != nil || n != tc.n || !locked.Equal(tc.lockedEnd) {
					t.Fatalf("Failures = %d, %v, %v; want %d, %v", n, locked, err, tc.n, tc.lockedEnd)
				}
				// Asking changed nothing.
				if n2, locked2, err := s.Failures(ctx, a.o.User, tc.at); err != nil || n2 != n || !locked2.Equal(locked) {
					t.Fatalf("Failures again = %d, %v, %v; want %d, %v", n2, locked2, err, n, locked)
				}
				if got, err := s.LockedUntil(ctx, a.o.User, tc.at); err != nil || !got.Equal(tc.lockedEnd) {
					t.Fatalf("LockedUntil = %v, %v; want %v as Failures", got, err, tc.lockedEnd)
				}
			})
		}

		t.Run("the next wrong answer locks when After - n is 1", func(t *testing.T) {
			s := f(t)
			o := newOwner("failures-left")
			var ids []string
			for range 2 {
				r := recordFor(o, 100, time.Hour)
				mustCreate(t, s, r, t0)
				beginFor(t, s, r)
				ids = append(ids, r.ID)
			}
			for i := range lockout.After - 1 {
				n, _, err := s.Failures(ctx, o.User, t0)
				if err != nil || n != i {
					t.Fatalf("Failures before failure %d = %d, %v; want %d", i+1, n, err, i)
				}
				if res, err := s.Attempt(ctx, ids[i/2], o, nextWrong(), lockout, t0); err != nil || !res.LockedUntil.IsZero() {
					t.Fatalf("failure %d = %+v, %v; want no lock", i+1, res, err)
				}
			}
			if n, _, err := s.Failures(ctx, o.User, t0); err != nil || lockout.After-n != 1 {
				t.Fatalf("Failures = %d, %v; want %d", n, err, lockout.After-1)
			}
			r := recordFor(o, 100, time.Hour)
			mustCreate(t, s, r, t0)
			beginFor(t, s, r)
			if res, err := s.Attempt(ctx, r.ID, o, nextWrong(), lockout, t0); err != nil || !res.LockedUntil.Equal(until) {
				t.Fatalf("last failure = %+v, %v; want locked until %v", res, err, until)
			}
		})
	})
}
