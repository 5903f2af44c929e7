package caddymodule

import (
	"context"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
	"github.com/enumgate/enumgate/challenge/store/storetest"
)

// BenchmarkStoreMetrics measures what the gateway's store metrics (the
// observed wrapper feeding enumgate_store_*) add to the memory store's
// cheapest call, Get.
func BenchmarkStoreMetrics(b *testing.B) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	o := &stepObserver{ctx: ctx, logger: zap.NewNop(), steps: stepsTotal, refusals: refusalsTotal}
	for _, v := range []struct {
		name string
		wrap func(store.Store) store.Store
	}{
		{"bare", func(s store.Store) store.Store { return s }},
		{"metrics", o.wrapStore},
	} {
		b.Run("get/"+v.name, func(b *testing.B) {
			mem := memory.New(memory.Options{SweepInterval: -1})
			defer mem.Close()
			s := v.wrap(mem)
			r := storetest.NewRecord()
			own := store.Owner{User: r.User, Session: r.Session}
			if err := s.Create(context.Background(), r, r.Created); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Get(context.Background(), r.ID, own, r.Created); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
