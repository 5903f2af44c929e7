package caddymodule

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
)

// flakyStore fails while down is set.
type flakyStore struct {
	store.Store
	down bool
}

func (f *flakyStore) LockedUntil(ctx context.Context, user string, now time.Time) (time.Time, error) {
	if f.down {
		return time.Time{}, errors.New("dial tcp 127.0.0.1:6379: connection refused")
	}
	return f.Store.LockedUntil(ctx, user, now)
}

func (f *flakyStore) Get(ctx context.Context, id string, o store.Owner, now time.Time) (*store.Record, error) {
	if f.down {
		return nil, errors.New("i/o timeout")
	}
	return f.Store.Get(ctx, id, o, now)
}

func TestAnOutageIsLoggedOnceWhenItStartsAndOnceWhenItEnds(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	mem := memory.New(memory.Options{SweepInterval: -1})
	defer mem.Close()
	flaky := &flakyStore{Store: mem}
	w := &watchedStore{Store: flaky, logger: zap.New(core)}
	ctx := context.Background()
	now := time.Now()

	for range 3 {
		w.LockedUntil(ctx, "alice", now)
	}
	flaky.down = true
	for range 50 {
		w.LockedUntil(ctx, "alice", now)
		w.Get(ctx, "x", store.Owner{}, now)
	}
	flaky.down = false
	for range 3 {
		w.LockedUntil(ctx, "alice", now)
	}
	// A decision of a working store (not found) is no outage.
	w.Get(ctx, "x", store.Owner{}, now)

	var msgs []string
	for _, e := range logs.All() {
		msgs = append(msgs, e.Level.String()+": "+e.Message)
	}
	want := []string{
		"error: challenge store unavailable: protected requests fail closed until it is back",
		"info: challenge store reachable again",
	}
	if len(msgs) != len(want) || msgs[0] != want[0] || msgs[1] != want[1] {
		t.Fatalf("logged %q, want %q", msgs, want)
	}
}
