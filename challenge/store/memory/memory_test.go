package memory_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
	"github.com/enumgate/enumgate/challenge/store/storetest"
)

func newStore(t *testing.T, o memory.Options) *memory.Store {
	s := memory.New(o)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, memory.Options{}) })
}

func TestFullStoreRefusesNewChallengesAndKeepsLiveOnes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		opts memory.Options
	}{
		{"by count", memory.Options{MaxChallenges: 3}},
		{"by bytes", memory.Options{MaxBytes: 3 * recordSize()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, tt.opts)
			var ids []string
			for range 3 {
				r := storetest.NewRecord()
				if err := s.Create(ctx, r, r.Created); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, r.ID)
			}
			if err := s.Create(ctx, storetest.NewRecord(), time.Time{}); !errors.Is(err, store.ErrFull) {
				t.Fatalf("Create into a full store = %v, want ErrFull", err)
			}
			r := storetest.NewRecord()
			o := store.Owner{User: r.User, Session: r.Session}
			for _, id := range ids {
				if _, err := s.Get(ctx, id, o, r.Created); err != nil {
					t.Fatalf("live challenge %s lost: %v", id, err)
				}
			}
			// Room comes back when a challenge goes.
			if err := s.Delete(ctx, ids[0], o); err != nil {
				t.Fatal(err)
			}
			if err := s.Create(ctx, storetest.NewRecord(), time.Time{}); err != nil {
				t.Fatalf("Create after Delete = %v", err)
			}
		})
	}
}

func TestSweepRemovesOnlyExpiredChallenges(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, memory.Options{SweepInterval: -1})
	short, long := storetest.NewRecord(), storetest.NewRecord()
	long.Expires = long.Expires.Add(time.Hour)
	for _, r := range []*store.Record{short, long} {
		if err := s.Create(ctx, r, r.Created); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Sweep(short.Expires.Add(-time.Second)); n != 0 {
		t.Fatalf("early sweep removed %d", n)
	}
	if n := s.Sweep(short.Expires); n != 1 || s.Len() != 1 {
		t.Fatalf("sweep at expiry removed %d, %d left; want 1 and 1", n, s.Len())
	}
}

func TestBackgroundSweepRuns(t *testing.T) {
	ctx := context.Background()
	r := storetest.NewRecord()
	s := newStore(t, memory.Options{SweepInterval: time.Millisecond, Now: func() time.Time { return r.Expires }})
	if err := s.Create(ctx, r, r.Created); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("background sweep never removed the expired challenge")
		}
		time.Sleep(time.Millisecond)
	}
}

// recordSize is what one storetest record counts against MaxBytes: its
// stash and its view.
func recordSize() int64 {
	r := storetest.NewRecord()
	return int64(len(r.Stash) + len(r.View))
}

func TestTombstoneReleasesStashBytes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, memory.Options{MaxBytes: recordSize()})
	r := storetest.NewRecord()
	r.MaxAttempts, r.AttemptsLeft = 1, 1
	o := store.Owner{User: r.User, Session: r.Session}
	if err := s.Create(ctx, r, r.Created); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(ctx, r.ID, o, store.Begin{Method: "enum", Expected: [][]byte{{1}}}, r.Created); err != nil {
		t.Fatal(err)
	}
	if res, _ := s.Attempt(ctx, r.ID, o, []byte{2}, store.Lockout{}, r.Created); res.Outcome != store.Exhausted {
		t.Fatalf("outcome = %v", res.Outcome)
	}
	if err := s.Create(ctx, storetest.NewRecord(), time.Time{}); err != nil {
		t.Fatalf("stash bytes of a dead challenge still counted: %v", err)
	}
}

// BenchmarkPendingChallengeMemory reports the heap bytes one pending
// challenge with a 1 KiB stash costs in the memory store, stash included.
func BenchmarkPendingChallengeMemory(b *testing.B) {
	ctx := context.Background()
	const n = 20000
	var per float64
	for b.Loop() {
		// One user holding them all: the per-user shares are off here.
		s := memory.New(memory.Options{SweepInterval: -1, MaxPendingPerUser: -1, MaxBytesPerUser: -1})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range n {
			if err := s.Create(ctx, storetest.NewRecord(), time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(s)
	}
	b.ReportMetric(per, "B/challenge")
}

// The per-user limits follow Options: a set value is the limit, a
// negative one disables it (the global bounds still hold).
func TestPerUserLimitsFollowOptions(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		opts    memory.Options
		stash   int
		created int // of 20 tries
	}{
		{"pending limit set", memory.Options{MaxPendingPerUser: 2}, 10, 2},
		{"pending limit off", memory.Options{MaxPendingPerUser: -1}, 10, 20},
		{"byte limit set", memory.Options{MaxPendingPerUser: -1, MaxBytesPerUser: 3 * 1100}, 1000, 3},
		{"byte limit off", memory.Options{MaxPendingPerUser: -1, MaxBytesPerUser: -1}, 100 << 10, 20},
		{"global bound behind the per-user ones", memory.Options{MaxPendingPerUser: -1, MaxChallenges: 5}, 10, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, tt.opts)
			n := 0
			for range 20 {
				r := storetest.NewRecord()
				r.Stash = make([]byte, tt.stash)
				if err := s.Create(ctx, r, r.Created); err == nil {
					n++
				} else if !errors.Is(err, store.ErrTooManyPending) && !errors.Is(err, store.ErrFull) {
					t.Fatal(err)
				}
			}
			if n != tt.created {
				t.Fatalf("created %d of 20, want %d", n, tt.created)
			}
		})
	}
}

// An exhausted challenge's view is released once: the global byte count
// comes back to zero when the tombstone goes.
func TestTombstoneBytesReleasedOnce(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, memory.Options{MaxBytes: recordSize(), SweepInterval: -1})
	for range 3 {
		r := storetest.NewRecord()
		r.MaxAttempts, r.AttemptsLeft = 1, 1
		o := store.Owner{User: r.User, Session: r.Session}
		if err := s.Create(ctx, r, r.Created); err != nil {
			t.Fatalf("Create after earlier tombstones went: %v", err)
		}
		if _, err := s.Begin(ctx, r.ID, o, store.Begin{Method: "enum", Expected: [][]byte{{1}}}, r.Created); err != nil {
			t.Fatal(err)
		}
		if res, _ := s.Attempt(ctx, r.ID, o, []byte{2}, store.Lockout{}, r.Created); res.Outcome != store.Exhausted {
			t.Fatalf("outcome = %v", res.Outcome)
		}
		s.Sweep(r.Expires)
	}
	// Had the view been subtracted twice, the count would be negative and
	// a record one byte over the bound would fit.
	big := storetest.NewRecord()
	big.Stash = make([]byte, recordSize()-int64(len(big.View))+1)
	if err := s.Create(ctx, big, big.Created); !errors.Is(err, store.ErrFull) {
		t.Fatalf("Create of a record over MaxBytes = %v, want ErrFull", err)
	}
}

// Pending counts exactly what the per-user limit counts, over all users:
// not confirmed, not exhausted, not deleted, not expired.
func TestPendingCountsLiveUnfinishedChallenges(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, memory.Options{SweepInterval: -1})
	right := []byte("right-mac-right-mac-right-mac-32")
	var recs []*store.Record
	for i := range 4 {
		r := storetest.NewRecord()
		if i == 3 {
			r.User = "bob"
		}
		if err := s.Create(ctx, r, r.Created); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	t0 := recs[0].Created
	owner := func(r *store.Record) store.Owner { return store.Owner{User: r.User, Session: r.Session} }
	if got := s.Pending(t0); got != 4 {
		t.Fatalf("after four creates: Pending = %d, want 4", got)
	}
	if _, err := s.Begin(ctx, recs[0].ID, owner(recs[0]), store.Begin{Method: "enum", Expected: [][]byte{right}}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attempt(ctx, recs[0].ID, owner(recs[0]), right, store.Lockout{}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, recs[1].ID, owner(recs[1])); err != nil {
		t.Fatal(err)
	}
	if got := s.Pending(t0); got != 2 {
		t.Errorf("after a confirmation and a cancellation: Pending = %d, want 2", got)
	}
	if got := s.Pending(recs[2].Expires); got != 0 {
		t.Errorf("at expiry, before any sweep: Pending = %d, want 0", got)
	}
}
