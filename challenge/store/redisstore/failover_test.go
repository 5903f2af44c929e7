package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/internal/redistest"
)

// These tests take a Sentinel deployment (master, one replica, one
// Sentinel) or a Cluster through the events that could make a challenge
// confirm twice: a master crash right after a confirmation, a failover
// with a challenge pending, a replica that does not acknowledge, and a
// slot moving between masters while answers arrive.

// failoverTimeout bounds a Sentinel failover (about a second here:
// down-after-milliseconds is 500).
const failoverTimeout = 10 * time.Second

// sentinelStore starts a Sentinel deployment and returns it, a failover
// client reaching its master through the Sentinel, and a store on that
// client that reports a confirmation only once the replica has it
// (WaitReplicas 1).
func sentinelStore(t *testing.T) (*redistest.Sentinel, redis.UniversalClient, *redisstore.Store) {
	t.Helper()
	d := redistest.StartSentinel(t)
	client, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{d.SentinelAddr}, MasterName: d.MasterName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	s := redisstore.New(client, redisstore.Options{WaitReplicas: 1, WaitTimeout: time.Second})
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	return d, client, s
}

// directClient connects to one server, bypassing Sentinel and Cluster
// routing.
func directClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1})
	t.Cleanup(func() { c.Close() })
	return c
}

// answer sends the right answer to r until the store answers, or until
// deadline. Redis errors — connections to a dead master while the client
// reconnects, TRYAGAIN while a slot moves — are retried: the tests count
// confirmations, so a retry can only expose a second one. s must not wait
// for replicas (a failed WAIT, also a Redis error, would hide a
// consumption). The last error is returned at the deadline.
func answer(s *redisstore.Store, r *store.Record, deadline time.Time) (store.Result, error) {
	for {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		res, err := s.Attempt(c, r.ID, owner(r), right, lockout, r.Created)
		cancel()
		if err == nil || errors.Is(err, store.ErrNotFound) || !strings.HasPrefix(err.Error(), "redis: ") || time.Now().After(deadline) {
			return res, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answerConcurrently sends the right answer to r from n goroutines at
// once, each retrying as answer does, and returns how many confirmed and
// how many found the confirmation already made (Repeated); other results
// fail the test.
func answerConcurrently(t *testing.T, s *redisstore.Store, r *store.Record, n int, deadline time.Time) (confirmed, repeated int) {
	t.Helper()
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			res, err := answer(s, r, deadline)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && res.Outcome == store.Confirmed:
				confirmed++
			case err == nil && res.Outcome == store.Repeated:
				repeated++
			default:
				t.Errorf("Attempt = %+v, %v; want Confirmed or Repeated", res, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return confirmed, repeated
}

// confirmedOn reports whether the server at c holds key as a confirmed
// challenge.
func confirmedOn(c *redis.Client, key string) bool {
	v, err := c.HGet(ctx, key, "conf_at").Result()
	return err == nil && v != ""
}

// A confirmation acknowledged by the replica survives a failover: the
// master dies right after reporting Confirmed, the replica takes over,
// and the same right answer finds the confirmation there (Repeated),
// never a pending challenge to confirm again.
func TestFailoverKeepsAReplicaAcknowledgedConfirmation(t *testing.T) {
	d, client, s := sentinelStore(t)
	r := pending(t, s)
	res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created)
	if err != nil || res.Outcome != store.Confirmed {
		t.Fatalf("Attempt = %+v, %v; want Confirmed", res, err)
	}
	d.KillMaster()
	d.WaitFailover(failoverTimeout)

	key := challengeKey(redisstore.DefaultPrefix, r.User, r.ID)
	if !confirmedOn(directClient(t, d.MasterAddr()), key) {
		t.Fatal("the promoted replica does not hold the challenge as confirmed")
	}
	// The new master has no replica left; a store that does not wait
	// would report a second consumption as Confirmed instead of hiding
	// it behind a failed WAIT.
	after := redisstore.New(client, redisstore.Options{WaitReplicas: -1})
	res, err = answer(after, r, time.Now().Add(5*time.Second))
	if res.Outcome == store.Confirmed {
		t.Fatal("the challenge confirmed a second time after the failover")
	}
	if err != nil || res.Outcome != store.Repeated {
		t.Fatalf("Attempt after the failover = %+v, %v; want Repeated", res, err)
	}
}

// poll calls f every 10 ms until it reports true or timeout passes.
func poll(timeout time.Duration, f func() bool) error {
	for deadline := time.Now().Add(timeout); !f(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", timeout)
		}
	}
	return nil
}

// A pending challenge survives a failover and confirms once: begun on the
// master and replicated, it is still pending on the promoted replica, and
// 20 concurrent right answers there confirm it exactly once.
func TestFailoverKeepsAPendingChallengeThatConfirmsOnce(t *testing.T) {
	d, client, s := sentinelStore(t)
	r := pending(t, s)
	key := challengeKey(redisstore.DefaultPrefix, r.User, r.ID)
	replica := directClient(t, d.ReplicaAddr)
	if err := poll(5*time.Second, func() bool {
		m, err := replica.HGet(ctx, key, "method").Result()
		return err == nil && m == "enum"
	}); err != nil {
		t.Fatalf("the replica never received the begun challenge: %v", err)
	}
	d.KillMaster()
	d.WaitFailover(failoverTimeout)

	// The new master has no replica left to acknowledge, so this store
	// does not wait; it confirms on the promoted master alone.
	after := redisstore.New(client, redisstore.Options{WaitReplicas: -1})
	if err := poll(5*time.Second, func() bool { return after.Ping(ctx) == nil }); err != nil {
		t.Fatalf("the failover client never reached the new master: %v", err)
	}
	confirmed, repeated := answerConcurrently(t, after, r, 20, time.Now().Add(5*time.Second))
	if confirmed != 1 || repeated != 19 {
		t.Fatalf("confirmed %d, repeated %d; want 1 and 19", confirmed, repeated)
	}
}

// Without a replica acknowledgement the confirmation fails closed: with
// the replica dead, WAIT counts no replica, so the right answer is
// reported as an error, not Confirmed, and so is its retry (Repeated
// waits too); the confirmation stays on the master, not lost.
func TestSentinelFailsClosedWithoutReplicaAcknowledgement(t *testing.T) {
	d, _, s := sentinelStore(t)
	r := pending(t, s)
	master := d.MasterAddr()
	d.KillReplica()
	start := time.Now()
	res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created)
	if err == nil || res.Outcome == store.Confirmed || !strings.Contains(err.Error(), "0 of 1 replicas") {
		t.Fatalf("Attempt = %+v, %v; want an error and no confirmation", res, err)
	}
	if took := time.Since(start); took < 900*time.Millisecond || took > 5*time.Second {
		t.Errorf("the failed confirmation took %v; want about WaitTimeout (1s)", took)
	}
	if res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); err == nil || !strings.Contains(err.Error(), "0 of 1 replicas") {
		t.Fatalf("second Attempt = %+v, %v; want the same error (a repeat waits for replicas too)", res, err)
	}
	if !confirmedOn(directClient(t, master), challengeKey(redisstore.DefaultPrefix, r.User, r.ID)) {
		t.Fatal("the master does not hold the confirmation")
	}
}

// A cluster slot move does not confirm twice: the slot of a pending
// challenge moves to another master — completely before the answers
// (they follow MOVED), or while they arrive (ASK, TRYAGAIN, MOVED) — and
// 20 concurrent right answers through the ClusterClient confirm it exactly
// once.
func TestSlotMoveDoesNotConfirmTwice(t *testing.T) {
	c := redistest.StartCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { client.Close() })
	nodes := make(map[string]*redis.Client, len(c.Addrs))
	ids := make(map[string]string, len(c.Addrs))
	for _, a := range c.Addrs {
		nodes[a] = directClient(t, a)
		id, err := nodes[a].Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatal(err)
		}
		ids[a] = id
	}

	// How the answers meet the move.
	const (
		afterMove   = iota // the move is over: answers follow MOVED
		inAskWindow        // keys on the target, slot not yet assigned: ASK (and TRYAGAIN)
		racingMove         // any point of the move
	)
	for _, tc := range []struct {
		name string
		when int
	}{
		{"answers after the move", afterMove},
		{"answers between MIGRATE and the slot assignment", inAskWindow},
		{"answers racing the move", racingMove},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPrefix()
			s := redisstore.New(client, redisstore.Options{Prefix: p})
			r := pendingFor(t, s, "slot-move-"+p)
			// A wrong answer creates the user's lock hash, so the move
			// carries every key of the slot: the challenge, the lock and
			// the user's pending and held sets.
			if res, err := s.Attempt(ctx, r.ID, owner(r), wrong, lockout, r.Created); err != nil || res.Outcome != store.Wrong {
				t.Fatalf("wrong Attempt = %+v, %v", res, err)
			}
			keys := []string{challengeKey(p, r.User, r.ID), lockKey(p, r.User), pendingKey(p, r.User), heldKey(p, r.User)}
			slot, err := client.ClusterKeySlot(ctx, keys[0]).Result()
			if err != nil {
				t.Fatal(err)
			}
			m, err := client.MasterForKey(ctx, keys[0])
			if err != nil {
				t.Fatal(err)
			}
			src := m.Options().Addr
			var dst string
			for _, a := range c.Addrs {
				if a != src {
					dst = a
					break
				}
			}
			if _, ok := nodes[src]; !ok || dst == "" {
				t.Fatalf("slot %d owned by %s, not one of %v", slot, src, c.Addrs)
			}

			// The slot moves the documented way: IMPORTING on the target,
			// MIGRATING on the source, MIGRATE of the keys (migrate), then
			// the slot assigned to the target on every node, target and
			// source first (assign).
			migrate := func() (string, error) {
				if err := nodes[dst].Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[src]).Err(); err != nil {
					return "", fmt.Errorf("setslot importing: %w", err)
				}
				if err := nodes[src].Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[dst]).Err(); err != nil {
					return "", fmt.Errorf("setslot migrating: %w", err)
				}
				host, port, _ := net.SplitHostPort(dst)
				// NOKEY: an answer confirmed the challenge (and cleared the
				// lock hash and the pending set) on the source first, and
				// nothing else remained.
				args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
				for _, k := range keys {
					args = append(args, k)
				}
				v, err := nodes[src].Do(ctx, args...).Text()
				if err != nil || (v != "OK" && v != "NOKEY") {
					return v, fmt.Errorf("migrate = %q, %v", v, err)
				}
				return v, nil
			}
			assign := func() error {
				order := []string{dst, src}
				for _, a := range c.Addrs {
					if a != src && a != dst {
						order = append(order, a)
					}
				}
				for _, a := range order {
					if err := nodes[a].Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", ids[dst]).Err(); err != nil {
						return fmt.Errorf("setslot node on %s: %w", a, err)
					}
				}
				return nil
			}

			deadline := time.Now().Add(10 * time.Second)
			moved := make(chan error, 1)
			switch tc.when {
			case afterMove, inAskWindow:
				v, err := migrate()
				if err != nil {
					t.Fatal(err)
				}
				if v != "OK" {
					t.Fatalf("MIGRATE = %s before any right answer", v)
				}
				if tc.when == afterMove {
					moved <- assign()
					break
				}
				go func() {
					// Until the slot is assigned, only ASK reaches the
					// keys: wait for the confirmation on the target, then
					// assign the slot.
					err := poll(5*time.Second, func() bool {
						var conf *redis.StringCmd
						_, err := nodes[dst].Pipelined(ctx, func(p redis.Pipeliner) error {
							p.Do(ctx, "ASKING")
							conf = p.HGet(ctx, keys[0], "conf_at")
							return nil
						})
						return err == nil && conf.Val() != ""
					})
					if err != nil {
						err = errors.New("no answer confirmed through ASK before the slot was assigned")
					}
					moved <- errors.Join(err, assign())
				}()
			case racingMove:
				go func() {
					v, err := migrate()
					if err == nil {
						t.Logf("MIGRATE: %s", v)
						err = assign()
					}
					moved <- err
				}()
			}
			confirmed, repeated := answerConcurrently(t, s, r, 20, deadline)
			if err := <-moved; err != nil {
				t.Fatal(err)
			}
			if confirmed != 1 || repeated != 19 {
				t.Fatalf("confirmed %d, repeated %d; want 1 and 19", confirmed, repeated)
			}
			// The slot's keys live on the target alone: the confirmed
			// challenge and its held stash; the user's failure count and
			// pending set are gone.
			for _, a := range c.Addrs {
				n, err := nodes[a].Do(ctx, "CLUSTER", "COUNTKEYSINSLOT", slot).Int()
				want := 0
				if a == dst {
					want = 2
				}
				if err != nil || n != want {
					t.Errorf("node %s holds %d keys of slot %d (%v); want %d", a, n, slot, err, want)
				}
			}
			if !confirmedOn(nodes[dst], keys[0]) {
				t.Error("the target does not hold the challenge as confirmed")
			}
		})
	}
}
