package redisstore_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/challenge/store/storetest"
	"github.com/enumgate/enumgate/internal/redistest"
)

// lockout is the lockout policy the benchmarks and tests answer under.
var lockout = store.Lockout{After: 5, For: 30 * time.Minute}

// BenchmarkCycle is one challenge's life on Redis over a unix socket:
// Create, Begin, and a right answer, each deciding on the user's lock too.
// It reports the Redis round trips per cycle (3: one script per step).
func BenchmarkCycle(b *testing.B) {
	client := newClient(b, redistest.Start(b, redistest.Options{}).URL)
	trips := &roundTrips{}
	client.AddHook(trips)
	// One user answers every cycle: no per-user share may stop them.
	s := redisstore.New(client, redisstore.Options{MaxPendingPerUser: -1, MaxBytesPerUser: -1})
	tmpl := storetest.NewRecord()
	o := owner(tmpl)
	begin := store.Begin{Method: "enum", Question: "12345678", Expected: [][]byte{right}}
	n := 0
	cycle := func() {
		r := *tmpl
		n++
		r.ID = "bench-" + strconv.Itoa(n)
		if err := s.Create(ctx, &r, r.Created); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Begin(ctx, r.ID, o, begin, r.Created); err != nil {
			b.Fatal(err)
		}
		if res, err := s.Attempt(ctx, r.ID, o, right, lockout, r.Created); err != nil || res.Outcome != store.Confirmed {
			b.Fatalf("Attempt = %+v, %v", res, err)
		}
	}
	cycle() // load the scripts
	trips.n.Store(0)
	b.ReportAllocs()
	for b.Loop() {
		cycle()
	}
	b.ReportMetric(float64(trips.n.Load())/float64(b.N), "roundtrips/op")
}

// BenchmarkCycleParallel runs cycles from many goroutines at once, as a
// busy gateway does.
func BenchmarkCycleParallel(b *testing.B) {
	client := newClient(b, redistest.Start(b, redistest.Options{}).URL)
	s := redisstore.New(client, redisstore.Options{})
	tmpl := storetest.NewRecord()
	o := owner(tmpl)
	begin := store.Begin{Method: "enum", Question: "12345678", Expected: [][]byte{right}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := storetest.NewRecord()
			r.Stash = tmpl.Stash
			if err := s.Create(ctx, r, r.Created); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Begin(ctx, r.ID, o, begin, r.Created); err != nil {
				b.Error(err)
				return
			}
			if res, err := s.Attempt(ctx, r.ID, o, right, lockout, r.Created); err != nil || res.Outcome != store.Confirmed {
				b.Errorf("Attempt = %+v, %v", res, err)
				return
			}
		}
	})
}

// BenchmarkConfirmWait measures what the replica acknowledgement costs a
// confirmation: Create, Begin and a right answer on a master with one
// replica (both local, TCP), without waiting and with WAIT 1.
func BenchmarkConfirmWait(b *testing.B) {
	d := redistest.StartSentinel(b)
	client := newClient(b, "redis://"+d.MasterAddr()+"/0")
	tmpl := storetest.NewRecord()
	o := owner(tmpl)
	begin := store.Begin{Method: "enum", Question: "12345678", Expected: [][]byte{right}}
	for _, bc := range []struct {
		name string
		wait int
	}{{"off", -1}, {"wait 1", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			s := redisstore.New(client, redisstore.Options{Prefix: newPrefix(), WaitReplicas: bc.wait, MaxPendingPerUser: -1, MaxBytesPerUser: -1})
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				r := *tmpl
				n++
				r.ID = "bench-" + strconv.Itoa(n)
				if err := s.Create(ctx, &r, r.Created); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Begin(ctx, r.ID, o, begin, r.Created); err != nil {
					b.Fatal(err)
				}
				if res, err := s.Attempt(ctx, r.ID, o, right, lockout, r.Created); err != nil || res.Outcome != store.Confirmed {
					b.Fatalf("Attempt = %+v, %v", res, err)
				}
			}
		})
	}
}
