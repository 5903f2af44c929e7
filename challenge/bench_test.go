package challenge_test

import (
	"bytes"
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/internal/redistest"
)

// roundTrips counts commands and pipelines a go-redis client sends.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// BenchmarkCycle measures a whole confirmation through the engine —
// issue (1 KiB stash) → begin E-num → the app's answer → verify → settle
// the delivery — on the
// memory store and on Redis over a unix socket, and reports Redis round
// trips per confirmed request.
func BenchmarkCycle(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchCycle(b, newFixture(b), nil) })
	b.Run("redis", func(b *testing.B) {
		rs := redistest.Start(b, redistest.Options{})
		opt, err := redis.ParseURL(rs.URL)
		if err != nil {
			b.Fatal(err)
		}
		client := redis.NewClient(opt)
		defer client.Close()
		rt := &roundTrips{}
		client.AddHook(rt)
		benchCycle(b, newFixtureWithStore(b, redisstore.New(client, redisstore.Options{})), rt)
	})
}

func benchCycle(b *testing.B, f *fixture, rt *roundTrips) {
	ctx := context.Background()
	st := &challenge.Stash{Method: "POST", URI: "/transfer", Header: http.Header{"Content-Type": {"application/json"}}, Body: bytes.Repeat([]byte("x"), 1024)}
	cycle := func() {
		c, err := f.eng.Issue(ctx, challenge.Request{Subject: alice, Operation: "transfer", Stash: st})
		if err != nil {
			b.Fatal(err)
		}
		c, err = f.eng.Begin(ctx, c.ID, alice, challenge.MethodEnum)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		answer, _ := aliceSuite.Compute(aliceKey, ocra.Input{Question: c.Question})
		b.StartTimer()
		conf, err := f.eng.Verify(ctx, c.ID, alice, answer)
		if err != nil {
			b.Fatal(err)
		}
		// The gateway forwards and records the delivery.
		if err := f.eng.Settle(ctx, conf, true); err != nil {
			b.Fatal(err)
		}
	}
	cycle() // load the scripts
	var before int64
	if rt != nil {
		before = rt.n.Load()
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		cycle()
		n++
	}
	if rt != nil {
		b.ReportMetric(float64(rt.n.Load()-before)/float64(n), "roundtrips/op")
	}
}
