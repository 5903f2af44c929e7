package observed_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/observed"
	"github.com/enumgate/enumgate/challenge/store/storetest"
)

// BenchmarkOverhead measures what the wrapper adds to the cheapest store
// calls (the memory store's Get, and a Create with its Delete), bare,
// with a no-op observer, with the Prometheus histogram and counter the
// gateway uses, and with pending tracking on top.
func BenchmarkOverhead(b *testing.B) {
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "d", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"op"})
	ops := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "n"}, []string{"op", "result"})
	promObserve := func(op string, d time.Duration, err error) {
		hist.WithLabelValues(op).Observe(d.Seconds())
		ops.WithLabelValues(op, observed.Result(err)).Inc()
	}
	variants := []struct {
		name string
		wrap func(store.Store) store.Store
	}{
		{"bare", func(s store.Store) store.Store { return s }},
		{"noop", func(s store.Store) store.Store { return observed.Wrap(s, func(string, time.Duration, error) {}) }},
		{"prometheus", func(s store.Store) store.Store { return observed.Wrap(s, promObserve) }},
		{"prometheus+pending", func(s store.Store) store.Store {
			return observed.WrapWith(s, observed.Options{Observe: promObserve, TrackPending: true})
		}},
	}
	ctx := context.Background()
	for _, v := range variants {
		b.Run("get/"+v.name, func(b *testing.B) {
			s := v.wrap(newMemory(b))
			r := storetest.NewRecord()
			o := store.Owner{User: r.User, Session: r.Session}
			if err := s.Create(ctx, r, r.Created); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Get(ctx, r.ID, o, r.Created); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("create+delete/"+v.name, func(b *testing.B) {
			s := v.wrap(newMemory(b))
			r := storetest.NewRecord()
			o := store.Owner{User: r.User, Session: r.Session}
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Create(ctx, r, r.Created); err != nil {
					b.Fatal(err)
				}
				if err := s.Delete(ctx, r.ID, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
