package challenge_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
)

// BenchmarkCycle measures a whole confirmation on the memory store:
// issue (1 KiB stash) → begin E-num → the app's answer → verify.
func BenchmarkCycle(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	st := &challenge.Stash{Method: "POST", URI: "/transfer", Header: http.Header{"Content-Type": {"application/json"}}, Body: bytes.Repeat([]byte("x"), 1024)}
	b.ReportAllocs()
	for b.Loop() {
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
		if _, err := f.eng.Verify(ctx, c.ID, alice, answer); err != nil {
			b.Fatal(err)
		}
	}
}
