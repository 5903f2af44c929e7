// Package accounttest is the conformance suite every account.Store passes:
// the memory store and Redis run the same tests, so the Service behaves
// the same whichever a gateway uses.
package accounttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/account"
)

// Factory returns a fresh, empty store for one subtest. It cleans up after
// itself (t.Cleanup); the suite calls Close too.
type Factory func(t *testing.T) account.Store

var ctx = context.Background()

// pending returns a pending code of user's with mac "right", 3 attempts,
// expiring a minute after now.
func pending(user, id string, now time.Time) *account.Pending {
	return &account.Pending{
		ID: id, User: user, Kind: account.KindPhone, Value: "+79000000001",
		MAC: []byte("right-mac-right-mac-right-mac-32"), AttemptsLeft: 3,
		Expires: now.Add(time.Minute), ResendAt: now.Add(30 * time.Second),
	}
}

var right = []byte("right-mac-right-mac-right-mac-32")
var wrong = []byte("wrong-mac-wrong-mac-wrong-mac-32")

// Run runs the suite.
func Run(t *testing.T, f Factory) {
	open := func(t *testing.T) account.Store {
		s := f(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	// Redis keys expire by the wall clock, so the suite's times follow it.
	now := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("an unknown user has an empty state", func(t *testing.T) {
		s := open(t)
		st, err := s.Load(ctx, "nobody")
		if err != nil || st.User != "nobody" || st.Phone != "" || st.Emails != nil || st.DevicesSet || st.Notify != nil {
			t.Fatalf("Load = %+v, %v; want State{User: nobody}", st, err)
		}
	})

	t.Run("an update reads back whole", func(t *testing.T) {
		s := open(t)
		n := account.Notify{Rejected: true}
		want := account.State{
			User: "alice", Phone: "+79000000001",
			Emails:       []account.Email{{Address: "a@x.test", Primary: true}, {Address: "b@x.test", OnFile: true}},
			DevicesSet:   true,
			Devices:      []account.StoredDevice{{Name: "phone", Suite: "OCRA-1:HOTP-SHA256-8:QN08", Enrolled: now, SealedKey: []byte{1, 2, 3}}},
			Notify:       &n,
			Pending:      map[string]account.PendingRef{account.KindEmail: {ID: "p1", ResendAt: now}},
			OpenRecovery: "r1",
		}
		if err := s.Update(ctx, "alice", func(st *account.State) error { w := want; *st = w; return nil }); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		gotN := got.Notify
		got.Notify, want.Notify = nil, nil
		if gotN == nil || *gotN != n || fmt.Sprint(*got) != fmt.Sprint(want) || !got.Devices[0].Enrolled.Equal(now) {
			t.Fatalf("Load = %+v\nwant %+v", *got, want)
		}
	})

	t.Run("emails nil and empty stay apart", func(t *testing.T) {
		s := open(t)
		s.Update(ctx, "bob", func(st *account.State) error { st.Emails = []account.Email{}; return nil })
		st, _ := s.Load(ctx, "bob")
		if st.Emails == nil || len(st.Emails) != 0 {
			t.Fatalf("Emails = %#v, want empty and not nil", st.Emails)
		}
	})

	t.Run("an update whose fn fails writes nothing", func(t *testing.T) {
		s := open(t)
		boom := errors.New("boom")
		err := s.Update(ctx, "alice", func(st *account.State) error { st.Phone = "+79000000009"; return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want boom", err)
		}
		if st, _ := s.Load(ctx, "alice"); st.Phone != "" {
			t.Fatalf("Phone = %q after a failed update", st.Phone)
		}
	})

	t.Run("concurrent updates of one user all apply", func(t *testing.T) {
		s := open(t)
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				errs <- s.Update(ctx, "carol", func(st *account.State) error {
					st.Emails = append(st.Emails, account.Email{Address: fmt.Sprintf("%d@x.test", i)})
					return nil
				})
			})
		}
		wg.Wait()
		close(errs)
		failed := 0
		for err := range errs {
			if err != nil {
				failed++
			}
		}
		st, _ := s.Load(ctx, "carol")
		if len(st.Emails) != n-failed || failed > 0 {
			t.Fatalf("%d emails, %d updates failed; want %d and 0", len(st.Emails), failed, n)
		}
	})

	t.Run("users' states are apart", func(t *testing.T) {
		s := open(t)
		s.Update(ctx, "a{b}", func(st *account.State) error { st.Phone = "+79000000001"; return nil })
		if st, _ := s.Load(ctx, "a{c}"); st.Phone != "" {
			t.Fatalf("another user's phone leaked: %q", st.Phone)
		}
	})

	t.Run("a claim is held by one user at a time", func(t *testing.T) {
		s := open(t)
		steps := []struct {
			name       string
			do         func() error
			wantErr    error
			wantHolder string
		}{
			{"alice claims", func() error { return s.Claim(ctx, account.KindPhone, "+79000000001", "alice") }, nil, "alice"},
			{"alice claims again", func() error { return s.Claim(ctx, account.KindPhone, "+79000000001", "alice") }, nil, "alice"},
			{"bob is refused", func() error { return s.Claim(ctx, account.KindPhone, "+79000000001", "bob") }, account.ErrTaken, "alice"},
			{"bob cannot release it", func() error { return s.Release(ctx, account.KindPhone, "+79000000001", "bob") }, nil, "alice"},
			{"alice releases it", func() error { return s.Release(ctx, account.KindPhone, "+79000000001", "alice") }, nil, ""},
			{"bob claims it then", func() error { return s.Claim(ctx, account.KindPhone, "+79000000001", "bob") }, nil, "bob"},
		}
		for _, st := range steps {
			if err := st.do(); !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
				t.Fatalf("%s: %v, want %v", st.name, err, st.wantErr)
			}
			if h, err := s.Holder(ctx, account.KindPhone, "+79000000001"); err != nil || h != st.wantHolder {
				t.Fatalf("%s: Holder = %q, %v; want %q", st.name, h, err, st.wantHolder)
			}
		}
		if h, _ := s.Holder(ctx, account.KindEmail, "+79000000001"); h != "" {
			t.Fatalf("kinds share claims: email holder %q", h)
		}
	})

	t.Run("concurrent claims have one winner", func(t *testing.T) {
		s := open(t)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				err := s.Claim(ctx, account.KindEmail, "x@y.test", fmt.Sprint("u", i))
				if err == nil {
					won.Add(1)
				} else if !errors.Is(err, account.ErrTaken) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d claims won, want 1", won.Load())
		}
	})

	t.Run("a pending item reads back whole", func(t *testing.T) {
		s := open(t)
		p := pending("alice", "p1", now)
		p.Kind, p.Suite, p.SealedKey, p.Question = account.KindEnroll, "OCRA-1:HOTP-SHA256-8:QN08", []byte{9, 8, 7}, "12345678"
		if err := s.PutPending(ctx, p); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetPending(ctx, "alice", "p1", now)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != p.ID || got.User != p.User || got.Kind != p.Kind || got.Value != p.Value ||
			!bytes.Equal(got.MAC, p.MAC) || got.AttemptsLeft != 3 || !got.Expires.Equal(p.Expires) ||
			!got.ResendAt.Equal(p.ResendAt) || got.Suite != p.Suite || !bytes.Equal(got.SealedKey, p.SealedKey) || got.Question != p.Question {
			t.Fatalf("GetPending = %+v\nwant %+v", got, p)
		}
		if _, err := s.GetPending(ctx, "bob", "p1", now); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("another user's GetPending = %v, want ErrNotFound", err)
		}
	})

	t.Run("answers to a pending item", func(t *testing.T) {
		type try struct {
			mac      []byte
			wantOK   bool
			wantLeft int
			wantErr  error
		}
		cases := []struct {
			name  string
			at    time.Duration
			tries []try
		}{
			{"right at once", 0, []try{{right, true, 3, nil}, {right, false, 0, account.ErrNotFound}}},
			{"wrong then right", 0, []try{{wrong, false, 2, nil}, {right, true, 2, nil}, {right, false, 0, account.ErrNotFound}}},
			{"three wrong spend it", 0, []try{{wrong, false, 2, nil}, {wrong, false, 1, nil}, {wrong, false, 0, nil}, {right, false, 0, account.ErrNotFound}}},
			{"expired", time.Minute, []try{{right, false, 0, account.ErrNotFound}}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s := open(t)
				s.PutPending(ctx, pending("alice", "p1", now))
				for i, tr := range c.tries {
					p, ok, err := s.AttemptPending(ctx, "alice", "p1", tr.mac, now.Add(c.at))
					if tr.wantErr != nil {
						if !errors.Is(err, tr.wantErr) {
							t.Fatalf("try %d: %v, want %v", i, err, tr.wantErr)
						}
						continue
					}
					if err != nil || ok != tr.wantOK || p.AttemptsLeft != tr.wantLeft || p.Value != "+79000000001" {
						t.Fatalf("try %d: %+v, %t, %v; want ok %t, %d left", i, p, ok, err, tr.wantOK, tr.wantLeft)
					}
				}
			})
		}
	})

	t.Run("another user's answer finds nothing and spends nothing", func(t *testing.T) {
		s := open(t)
		s.PutPending(ctx, pending("alice", "p1", now))
		if _, _, err := s.AttemptPending(ctx, "bob", "p1", wrong, now); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("bob's attempt = %v, want ErrNotFound", err)
		}
		if p, _ := s.GetPending(ctx, "alice", "p1", now); p == nil || p.AttemptsLeft != 3 {
			t.Fatalf("alice's item after bob's attempt: %+v", p)
		}
	})

	t.Run("concurrent right answers succeed once", func(t *testing.T) {
		s := open(t)
		s.PutPending(ctx, pending("alice", "p1", now))
		var oks atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if _, ok, _ := s.AttemptPending(ctx, "alice", "p1", right, now); ok {
					oks.Add(1)
				}
			})
		}
		wg.Wait()
		if oks.Load() != 1 {
			t.Fatalf("%d right answers succeeded, want 1", oks.Load())
		}
	})

	t.Run("concurrent wrong answers spend the budget exactly", func(t *testing.T) {
		s := open(t)
		s.PutPending(ctx, pending("alice", "p1", now))
		var counted atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if _, _, err := s.AttemptPending(ctx, "alice", "p1", wrong, now); err == nil {
					counted.Add(1)
				}
			})
		}
		wg.Wait()
		if counted.Load() != 3 {
			t.Fatalf("%d wrong answers counted, want 3", counted.Load())
		}
	})

	t.Run("a deleted pending item is gone", func(t *testing.T) {
		s := open(t)
		s.PutPending(ctx, pending("alice", "p1", now))
		if err := s.DeletePending(ctx, "alice", "p1"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeletePending(ctx, "alice", "p1"); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := s.GetPending(ctx, "alice", "p1", now); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("GetPending = %v, want ErrNotFound", err)
		}
	})

	t.Run("recoveries read back and list", func(t *testing.T) {
		s := open(t)
		if _, err := s.GetRecovery(ctx, "nope"); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("GetRecovery = %v, want ErrNotFound", err)
		}
		r1 := account.Recovery{ID: "r1", User: "alice", Opened: now, Reason: "lost my phone\nyesterday", Contact: "+7•••••01", State: account.RecoveryOpen}
		r2 := account.Recovery{ID: "r2", User: "bob", Opened: now.Add(time.Second), State: account.RecoveryOpen}
		for _, r := range []account.Recovery{r1, r2} {
			if err := s.PutRecovery(ctx, &r); err != nil {
				t.Fatal(err)
			}
		}
		r1.State, r1.Closed, r1.ResetDevice, r1.Note = account.RecoveryClosed, now.Add(time.Hour), true, "called back"
		if err := s.PutRecovery(ctx, &r1); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRecovery(ctx, "r1")
		if err != nil || fmt.Sprint(*got) != fmt.Sprint(r1) {
			t.Fatalf("GetRecovery = %+v, %v\nwant %+v", got, err, r1)
		}
		all, err := s.Recoveries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range all {
			ids = append(ids, r.ID)
		}
		slices.Sort(ids)
		if fmt.Sprint(ids) != "[r1 r2]" {
			t.Fatalf("Recoveries = %v, want [r1 r2]", ids)
		}
	})
}
