package observed_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
	"github.com/enumgate/enumgate/challenge/store/observed"
	"github.com/enumgate/enumgate/challenge/store/storetest"
)

func newMemory(t testing.TB) *memory.Store {
	s := memory.New(memory.Options{SweepInterval: -1})
	t.Cleanup(func() { s.Close() })
	return s
}

// calls records what the wrapper reports.
type calls struct {
	mu  sync.Mutex
	ops []string
	res []string
}

func (c *calls) observe(op string, d time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < 0 {
		panic("negative duration")
	}
	c.ops = append(c.ops, op)
	c.res = append(c.res, observed.Result(err))
}

// The wrapper changes nothing a store does: the whole store contract
// holds through it.
func TestWrappedMemoryStorePassesTheConformanceSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		c := &calls{}
		return observed.WrapWith(newMemory(t), observed.Options{Observe: c.observe, TrackPending: true})
	})
}

func TestEveryMethodIsReportedOnceByName(t *testing.T) {
	ctx := context.Background()
	mem := newMemory(t)
	c := &calls{}
	s := observed.Wrap(mem, c.observe)
	r := storetest.NewRecord()
	o := store.Owner{User: r.User, Session: r.Session}
	now := r.Created
	right := []byte("right-mac-right-mac-right-mac-32")
	limits := store.MessageLimits{UserHourly: 10}
	tests := []struct {
		op   string
		call func() error
		want string
	}{
		{observed.OpCreate, func() error { return s.Create(ctx, r, now) }, observed.ResultOK},
		{observed.OpGet, func() error { _, err := s.Get(ctx, r.ID, o, now); return err }, observed.ResultOK},
		{observed.OpBegin, func() error {
			_, err := s.Begin(ctx, r.ID, o, store.Begin{Method: "enum", Expected: [][]byte{right}}, now)
			return err
		}, observed.ResultOK},
		{observed.OpAttempt, func() error { _, err := s.Attempt(ctx, r.ID, o, right, store.Lockout{}, now); return err }, observed.ResultOK},
		{observed.OpDelete, func() error { return s.Delete(ctx, r.ID, o) }, observed.ResultRefused},                          // confirmed: kept
		{observed.OpDeliver, func() error { _, err := s.Deliver(ctx, r.ID, o, 3, now); return err }, observed.ResultRefused}, // lease held
		{observed.OpSettle, func() error { return s.Settle(ctx, r.ID, o, true, now) }, observed.ResultOK},
		{observed.OpLockedUntil, func() error { _, err := s.LockedUntil(ctx, o.User, now); return err }, observed.ResultOK},
		{observed.OpFailures, func() error { _, _, err := s.Failures(ctx, o.User, now); return err }, observed.ResultOK},
		{observed.OpUnlock, func() error { return s.Unlock(ctx, o.User) }, observed.ResultOK},
		{observed.OpSpendSMS, func() error { return s.SpendSMS(ctx, o.User, "+79000000001", limits, now) }, observed.ResultOK},
		{observed.OpSpendEmail, func() error { return s.SpendEmail(ctx, o.User, "a@example.test", limits, now) }, observed.ResultOK},
		{observed.OpRefund, func() error { return s.Refund(ctx, "pigeon", o.User, "x", now) }, observed.ResultError}, // unknown channel
	}
	var ops []string
	for _, tt := range tests {
		ops = append(ops, tt.op)
		c.ops, c.res = nil, nil
		err := tt.call()
		if !slices.Equal(c.ops, []string{tt.op}) {
			t.Errorf("%s reported %v, want [%s]", tt.op, c.ops, tt.op)
			continue
		}
		if c.res[0] != tt.want {
			t.Errorf("%s: result %s (err %v), want %s", tt.op, c.res[0], err, tt.want)
		}
	}
	if !slices.Equal(ops, observed.Ops) {
		t.Errorf("tested %v, Ops lists %v", ops, observed.Ops)
	}
}

func TestResultTellsDecisionsFromFailures(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"success", nil, observed.ResultOK},
		{"not found", store.ErrNotFound, observed.ResultRefused},
		{"wrapped not found", fmt.Errorf("redis: get: %w", store.ErrNotFound), observed.ResultRefused},
		{"full: out of capacity", store.ErrFull, observed.ResultError},
		{"too many pending", &store.TooManyPendingError{}, observed.ResultRefused},
		{"locked", &store.LockedError{}, observed.ResultRefused},
		{"sms limit", &store.LimitError{Limit: store.LimitDailyBudget}, observed.ResultRefused},
		{"cooldown", &store.CooldownError{}, observed.ResultRefused},
		{"replicas lag", &store.NotDurableError{}, observed.ResultRefused},
		{"delivery busy", &store.DeliveryBusyError{}, observed.ResultRefused},
		{"exhausted", store.ErrExhausted, observed.ResultRefused},
		{"unreachable", errors.New("dial tcp 127.0.0.1:6379: connection refused"), observed.ResultError},
		{"timeout", context.DeadlineExceeded, observed.ResultError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := observed.Result(tt.err); got != tt.want {
				t.Errorf("Result(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}

// Optional interfaces of the real store stay reachable through any
// number of wrappers.
func TestAsFindsTheStoreBeneathWrappers(t *testing.T) {
	mem := newMemory(t)
	wrapped := store.Store(observed.Wrap(observed.Wrap(mem, nil), nil))
	if got, ok := observed.As[*memory.Store](wrapped); !ok || got != mem {
		t.Fatalf("As[*memory.Store] = %v, %v; want the memory store", got, ok)
	}
	type pender interface{ Pending(time.Time) int }
	if _, ok := observed.As[pender](wrapped); !ok {
		t.Fatal("As did not find the memory store's Pending")
	}
	if _, ok := observed.As[interface{ Ping(context.Context) error }](wrapped); ok {
		t.Fatal("As found a Ping the memory store does not have")
	}
	if _, ok := observed.As[*memory.Store](nil); ok {
		t.Fatal("As found a store in nil")
	}
}

func TestTrackedPendingCountFollowsTheChallengesLives(t *testing.T) {
	ctx := context.Background()
	s := observed.WrapWith(newMemory(t), observed.Options{TrackPending: true})
	right := []byte("right-mac-right-mac-right-mac-32")
	var recs []*store.Record
	for range 4 {
		r := storetest.NewRecord()
		if err := s.Create(ctx, r, r.Created); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	t0 := recs[0].Created
	o := store.Owner{User: recs[0].User, Session: recs[0].Session}
	want := func(step string, n int) {
		t.Helper()
		if got, complete := s.Pending(t0); got != n || !complete {
			t.Errorf("after %s: Pending = %d, %v; want %d, true", step, got, complete, n)
		}
	}
	want("four creates", 4)
	if _, err := s.Begin(ctx, recs[0].ID, o, store.Begin{Method: "enum", Expected: [][]byte{right}}, t0); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Attempt(ctx, recs[0].ID, o, right, store.Lockout{}, t0); err != nil || res.Outcome != store.Confirmed {
		t.Fatalf("Attempt = %v, %v", res, err)
	}
	want("a confirmation", 3)
	if err := s.Delete(ctx, recs[1].ID, o); err != nil {
		t.Fatal(err)
	}
	want("a cancellation", 2)
	if _, err := s.Begin(ctx, recs[2].ID, o, store.Begin{Method: "enum", Expected: [][]byte{right}}, t0); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Attempt(ctx, recs[2].ID, o, fmt.Appendf(nil, "wrong-%02d-wrong-wrong-wrong-32b", i), store.Lockout{}, t0); err != nil {
			t.Fatal(err)
		}
	}
	want("an exhaustion", 1)
	if n, _ := s.Pending(recs[3].Expires); n != 0 {
		t.Errorf("at expiry: Pending = %d, want 0", n)
	}
}

// A challenge ended through another wrapper (another gateway on a shared
// store) is no longer counted once it is read as ended.
func TestTrackedPendingForgetsChallengesSeenEndedElsewhere(t *testing.T) {
	ctx := context.Background()
	mem := newMemory(t)
	here := observed.WrapWith(mem, observed.Options{TrackPending: true})
	there := observed.WrapWith(mem, observed.Options{TrackPending: true})
	r := storetest.NewRecord()
	o := store.Owner{User: r.User, Session: r.Session}
	if err := here.Create(ctx, r, r.Created); err != nil {
		t.Fatal(err)
	}
	right := []byte("right-mac-right-mac-right-mac-32")
	if _, err := there.Begin(ctx, r.ID, o, store.Begin{Method: "enum", Expected: [][]byte{right}}, r.Created); err != nil {
		t.Fatal(err)
	}
	if _, err := there.Attempt(ctx, r.ID, o, right, store.Lockout{}, r.Created); err != nil {
		t.Fatal(err)
	}
	if n, _ := here.Pending(r.Created); n != 1 {
		t.Fatalf("before reading it: Pending = %d, want 1 (counted until seen or expired)", n)
	}
	if _, err := here.Get(ctx, r.ID, o, r.Created); err != nil {
		t.Fatal(err)
	}
	if n, _ := here.Pending(r.Created); n != 0 {
		t.Fatalf("after reading it confirmed: Pending = %d, want 0", n)
	}
}

func TestTrackedPendingSaysWhenItIsALowerBound(t *testing.T) {
	ctx := context.Background()
	s := observed.WrapWith(memory.New(memory.Options{SweepInterval: -1, MaxPendingPerUser: -1}), observed.Options{TrackPending: true, MaxTracked: 2})
	var last *store.Record
	for range 3 {
		last = storetest.NewRecord()
		if err := s.Create(ctx, last, last.Created); err != nil {
			t.Fatal(err)
		}
	}
	if n, complete := s.Pending(last.Created); n != 2 || complete {
		t.Errorf("over MaxTracked: Pending = %d, %v; want 2, false", n, complete)
	}
	if n, complete := s.Pending(last.Expires); n != 0 || !complete {
		t.Errorf("once all expired: Pending = %d, %v; want 0, true", n, complete)
	}
	if n, complete := observed.Wrap(newMemory(t), nil).Pending(last.Created); n != 0 || complete {
		t.Errorf("untracked: Pending = %d, %v; want 0, false", n, complete)
	}
}
