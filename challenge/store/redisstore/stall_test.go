package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/internal/redistest"
)

// stallPause is how long the server stays stopped: well past the
// clients' read timeout (stallRead), as in the outage this test repeats.
const (
	stallPause = 1500 * time.Millisecond
	stallRead  = 300 * time.Millisecond
)

// stalled runs op while the server is paused: op is sent, times out on
// the client's side, and the server runs it when it resumes. It returns
// op's error (which must be one: the reply never came in time).
func stalled(t *testing.T, srv *redistest.Server, op func() error) error {
	t.Helper()
	srv.Pause()
	start := time.Now()
	err := op()
	if took := time.Since(start); took >= 2*stallRead {
		t.Errorf("the stalled call took %v, two read timeouts or more: it was resent", took)
	}
	time.Sleep(stallPause - time.Since(start))
	srv.Resume()
	if err == nil {
		t.Fatal("a call to a paused Redis succeeded")
	}
	return err
}

// A Redis that stalls past the read timeout runs the script it was sent
// when it resumes, although the client gave up on it: one wrong answer
// sent during the stall costs at most one attempt (never two: nothing is
// resent), and the customer's retry of the same answer costs nothing
// more; a right answer sent during the stall confirms, and its retry
// reports Confirmed or Repeated — never "unknown challenge". This holds
// for clients made by NewClient (no retries) and for a plain go-redis
// client with its default retries (the store's scripts are NoRetry).
func TestStalledRedisCountsAnAnswerOnce(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	clients := map[string]func(t *testing.T) redisstore.Client{
		"NewClient": func(t *testing.T) redisstore.Client {
			c, err := redisstore.NewClient(redisstore.ClientConfig{URL: srv.URL, ReadTimeout: stallRead})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		},
		"go-redis client with default retries": func(t *testing.T) redisstore.Client {
			c := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Addr, ReadTimeout: stallRead, MaxRetries: 3})
			t.Cleanup(func() { c.Close() })
			return c
		},
	}
	for name, newClient := range clients {
		t.Run(name, func(t *testing.T) {
			s := redisstore.New(newClient(t), redisstore.Options{Prefix: newPrefix()})
			l := store.Lockout{After: 2, For: time.Hour}

			t.Run("a wrong answer during a stall", func(t *testing.T) {
				r := pending(t, s)
				o := owner(r)
				w := mac("wrong during the stall")
				stalled(t, srv, func() error { _, err := s.Attempt(ctx, r.ID, o, w, l, r.Created); return err })
				got, err := s.Get(ctx, r.ID, o, r.Created)
				if err != nil || got.AttemptsLeft < 2 {
					t.Fatalf("after the stall: %+v, %v; want at most one attempt spent", got, err)
				}
				res, err := s.Attempt(ctx, r.ID, o, w, l, r.Created)
				if err != nil || res.Outcome != store.Wrong || res.AttemptsLeft != 2 || !res.LockedUntil.IsZero() {
					t.Fatalf("retry of the same answer = %+v, %v; want Wrong with 2 left, no lock", res, err)
				}
				if until, err := s.LockedUntil(ctx, o.User, r.Created); err != nil || !until.IsZero() {
					t.Fatalf("one wrong answer counted as two failures: locked until %v, %v", until, err)
				}
				// The answer still confirms.
				if res, err := s.Attempt(ctx, r.ID, o, right, l, r.Created); err != nil || res.Outcome != store.Confirmed {
					t.Fatalf("right answer = %+v, %v", res, err)
				}
			})

			t.Run("a right answer during a stall", func(t *testing.T) {
				r := pending(t, s)
				o := owner(r)
				stalled(t, srv, func() error { _, err := s.Attempt(ctx, r.ID, o, right, l, r.Created); return err })
				res, err := s.Attempt(ctx, r.ID, o, right, l, r.Created)
				if errors.Is(err, store.ErrNotFound) {
					t.Fatal("the retry of a right answer found no challenge: the confirmation was lost")
				}
				if err != nil || (res.Outcome != store.Confirmed && res.Outcome != store.Repeated) || res.Record == nil ||
					len(res.Record.Stash) == 0 || res.Record.Deliveries != 1 {
					t.Fatalf("retry = %+v, %v; want Confirmed or Repeated with the stash and one lease", res, err)
				}
			})
		})
	}
}
