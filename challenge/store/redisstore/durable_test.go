package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/internal/redistest"
)

// gateway is one gateway on a Sentinel deployment: its own failover
// client and a store with the default options (auto: it waits for one
// replica, because the client is a Sentinel one).
func gateway(t *testing.T, d *redistest.Sentinel) *redisstore.Store {
	t.Helper()
	client, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{d.SentinelAddr}, MasterName: d.MasterName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	s := redisstore.New(client, redisstore.Options{})
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	rep, err := s.Replication(ctx)
	if err != nil || rep.Topology != redisstore.TopologySentinel || !rep.Replicas || !rep.Auto || rep.WaitReplicas != 1 {
		t.Fatalf("Replication = %+v, %v; want sentinel, auto, waiting for 1 replica", rep, err)
	}
	return s
}

// replicated waits until the replica holds r as begun.
func replicated(t *testing.T, d *redistest.Sentinel, r *store.Record) {
	t.Helper()
	key := challengeKey(redisstore.DefaultPrefix, r.User, r.ID)
	replica := directClient(t, d.ReplicaAddr)
	if err := poll(5*time.Second, func() bool {
		m, err := replica.HGet(ctx, key, "method").Result()
		return err == nil && m == "enum"
	}); err != nil {
		t.Fatalf("the replica never received the begun challenge: %v", err)
	}
}

// forwards counts what a gateway may forward to the upstream: a Confirmed
// Attempt and a record from Deliver. A challenge must be forwardable at
// most once, over every gateway.
type forwards struct{ n int }

// answerOn answers r on s as a gateway would, retrying Redis errors
// (a client reconnecting after a failover) until deadline, and follows a
// Repeated whose lease is free with Deliver. It counts what is
// forwardable and returns the last error: nil when something was
// forwarded, or when a delivery is in flight elsewhere.
func (f *forwards) answerOn(s *redisstore.Store, r *store.Record, deadline time.Time) error {
	res, err := answer(s, r, deadline)
	switch {
	case err != nil:
		return err
	case res.Outcome == store.Confirmed:
		f.n++
		return nil
	case res.Outcome != store.Repeated:
		return fmt.Errorf("Attempt = %+v; want Confirmed or Repeated", res)
	case res.Record.Delivered() || r.Created.Before(res.Record.LeaseUntil):
		return nil // delivered, or a delivery in flight: nothing to forward
	}
	if _, err := s.Deliver(ctx, r.ID, owner(r), 3, r.Created); err != nil {
		return err
	}
	f.n++
	return nil
}

// The failover of the report, at the store level: the replica lags (it is
// stopped while 24 MB reach the master), gateway A answers right, the
// master is killed, the lagging replica resumes and is promoted, and
// gateway B gets the same right answer. With the default options, A's
// confirmation is not durable (ErrNotDurable, nothing forwarded, no
// lease held), B's is not either until a replica is back, and then the
// challenge is forwarded exactly once — never by both gateways, never by
// none.
func TestReplicaLagFailoverForwardsOnce(t *testing.T) {
	const rounds = 3
	lost := 0
	for round := range rounds {
		t.Run(fmt.Sprintf("round %d", round+1), func(t *testing.T) {
			d := redistest.StartSentinel(t)
			a, b := gateway(t, d), gateway(t, d)
			r := pending(t, a)
			replicated(t, d, r)
			key := challengeKey(redisstore.DefaultPrefix, r.User, r.ID)
			master := directClient(t, d.MasterAddr())

			d.PauseReplica()
			ballast := strings.Repeat("x", 1<<20)
			if _, err := master.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := range 24 {
					p.Set(ctx, fmt.Sprintf("ballast:%d", i), ballast, 0)
				}
				return nil
			}); err != nil {
				d.ResumeReplica()
				t.Fatalf("writing the ballast: %v", err)
			}
			var f forwards
			err := f.answerOn(a, r, time.Now().Add(5*time.Second))
			var nd *store.NotDurableError
			if !errors.As(err, &nd) || !errors.Is(err, store.ErrNotDurable) || f.n != 0 {
				d.ResumeReplica()
				t.Fatalf("gateway A: forwarded %d, %v; want ErrNotDurable and nothing forwarded", f.n, err)
			}
			if nd.Reached != 0 || nd.Wanted != 1 || nd.Timeout != redisstore.DefaultWaitTimeout {
				t.Errorf("NotDurableError = %+v; want 0 of 1 within the default timeout", nd)
			}
			if conf, _ := master.HGet(ctx, key, "conf_at").Result(); conf == "" {
				t.Error("the master does not hold the confirmation")
			}
			if lease, err := master.HGet(ctx, key, "lease").Result(); err != redis.Nil {
				t.Errorf("a lease is held (%q, %v) for a confirmation nobody delivers", lease, err)
			}

			d.KillMaster()
			d.ResumeReplica()
			d.WaitFailover(failoverTimeout)
			if !confirmedOn(directClient(t, d.MasterAddr()), key) {
				lost++ // the case the report is about: the new master holds the challenge as pending
			}

			// The new master has no replica: B's answer confirms (or
			// repeats) there, but not durably.
			if err := f.answerOn(b, r, time.Now().Add(10*time.Second)); !errors.Is(err, store.ErrNotDurable) || f.n != 0 {
				t.Fatalf("gateway B without a replica: forwarded %d, %v; want ErrNotDurable and nothing forwarded", f.n, err)
			}

			// A replica is back: the same answer is forwarded once, through
			// whichever gateway gets it first.
			d.RejoinMaster(10 * time.Second)
			deadline := time.Now().Add(10 * time.Second)
			if err := f.answerOn(b, r, deadline); err != nil {
				t.Fatalf("gateway B with a replica back: %v", err)
			}
			if err := f.answerOn(a, r, deadline); err != nil {
				t.Fatalf("gateway A after B: %v", err)
			}
			if f.n != 1 {
				t.Fatalf("the challenge was forwardable %d times; want exactly once", f.n)
			}
		})
	}
	if lost != rounds {
		t.Errorf("the lagging replica lost the confirmation in %d of %d rounds; the test did not exercise the failover it is about", lost, rounds)
	}
}

// A WAIT that times out (the replica busy in DEBUG SLEEP) reports the
// confirmation as not durable and holds no lease; a redelivery meanwhile
// is not durable either; after the sleep the same answer reports Repeated
// and Deliver succeeds, once.
func TestWaitTimeoutDuringDebugSleep(t *testing.T) {
	d := redistest.StartSentinel(t)
	a, b := gateway(t, d), gateway(t, d)
	r := pending(t, a)
	replicated(t, d, r)
	o := owner(r)

	const sleep = 2500 * time.Millisecond
	replica := redis.NewClient(&redis.Options{Addr: d.ReplicaAddr, ReadTimeout: 2 * sleep})
	t.Cleanup(func() { replica.Close() })
	slept := make(chan error, 1)
	go func() { slept <- replica.Do(ctx, "DEBUG", "SLEEP", sleep.Seconds()).Err() }()
	time.Sleep(100 * time.Millisecond) // DEBUG SLEEP has begun

	start := time.Now()
	res, err := a.Attempt(ctx, r.ID, o, right, lockout, r.Created)
	if !errors.Is(err, store.ErrNotDurable) {
		t.Fatalf("Attempt during the sleep = %+v, %v; want ErrNotDurable", res, err)
	}
	if took := time.Since(start); took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("the WAIT took %v; want about the default timeout (1s)", took)
	}
	got, err := b.Get(ctx, r.ID, o, r.Created)
	if err != nil || !got.Confirmed() || got.Deliveries != 0 || !got.LeaseUntil.IsZero() {
		t.Fatalf("after ErrNotDurable: %+v, %v; want confirmed, no lease, no delivery counted", got, err)
	}
	if rec, err := b.Deliver(ctx, r.ID, o, 3, r.Created); !errors.Is(err, store.ErrNotDurable) {
		t.Fatalf("Deliver during the sleep = %+v, %v; want ErrNotDurable", rec, err)
	}
	if got, err := b.Get(ctx, r.ID, o, r.Created); err != nil || got.Deliveries != 0 || !got.LeaseUntil.IsZero() {
		t.Fatalf("after a Deliver that was not durable: %+v, %v; want no lease, no delivery counted", got, err)
	}
	if err := <-slept; err != nil {
		t.Fatalf("DEBUG SLEEP: %v", err)
	}

	var f forwards
	if err := f.answerOn(b, r, time.Now().Add(5*time.Second)); err != nil || f.n != 1 {
		t.Fatalf("after the sleep: forwarded %d, %v; want once", f.n, err)
	}
	if err := f.answerOn(a, r, time.Now().Add(5*time.Second)); err != nil || f.n != 1 {
		t.Fatalf("the same answer on the other gateway: forwarded %d in all, %v; want nothing more", f.n, err)
	}
	if _, err := a.Deliver(ctx, r.ID, o, 3, r.Created); !errors.Is(err, store.ErrDeliveryBusy) {
		t.Fatalf("a second Deliver = %v; want ErrDeliveryBusy", err)
	}
	if err := b.Settle(ctx, r.ID, o, true, r.Created); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if _, err := a.Deliver(ctx, r.ID, o, 3, r.Created); !errors.Is(err, store.ErrDelivered) {
		t.Fatalf("Deliver after Settle = %v; want ErrDelivered", err)
	}
}

// Without a replica to acknowledge, nothing the store reports for
// forwarding is returned, and no lease is left held: Attempt and Deliver
// give ErrNotDurable, a delivered Settle settles but says it is not
// durable (again when repeated); a store that does not wait sees the
// lease free.
func TestNotDurableHoldsNoLease(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	p := newPrefix()
	s := redisstore.New(client, redisstore.Options{Prefix: p, WaitReplicas: 1, WaitTimeout: 20 * time.Millisecond})
	off := redisstore.New(client, redisstore.Options{Prefix: p, WaitReplicas: -1})
	r := pending(t, s)
	o := owner(r)
	notDurable := func(what string, err error) {
		t.Helper()
		var nd *store.NotDurableError
		if !errors.As(err, &nd) || !errors.Is(err, store.ErrNotDurable) || nd.Reached != 0 || nd.Wanted != 1 || nd.Timeout != 20*time.Millisecond {
			t.Fatalf("%s = %v; want *NotDurableError 0 of 1 within 20ms", what, err)
		}
	}
	noLease := func(what string, deliveries int) {
		t.Helper()
		got, err := off.Get(ctx, r.ID, o, r.Created)
		if err != nil || !got.Confirmed() || got.Deliveries != deliveries || !got.LeaseUntil.IsZero() {
			t.Fatalf("after %s: %+v, %v; want confirmed, no lease, %d deliveries", what, got, err, deliveries)
		}
	}
	res, err := s.Attempt(ctx, r.ID, o, right, lockout, r.Created)
	if res.Outcome != 0 || res.Record != nil {
		t.Errorf("Attempt gave %+v with its error; want a zero Result", res)
	}
	notDurable("Attempt", err)
	noLease("Attempt", 0)
	_, err = s.Attempt(ctx, r.ID, o, right, lockout, r.Created)
	notDurable("the same answer again", err)
	_, err = s.Deliver(ctx, r.ID, o, 3, r.Created)
	notDurable("Deliver", err)
	noLease("Deliver", 0)

	// The lease is free: a delivery can start (here through a store that
	// does not wait), counted as the first.
	rec, err := off.Deliver(ctx, r.ID, o, 3, r.Created)
	if err != nil || rec.Deliveries != 1 {
		t.Fatalf("Deliver without waiting = %+v, %v; want the first delivery", rec, err)
	}
	notDurable("delivered Settle", s.Settle(ctx, r.ID, o, true, r.Created))
	if got, err := off.Get(ctx, r.ID, o, r.Created); err != nil || !got.Delivered() || len(got.Stash) != 0 {
		t.Fatalf("after a delivered Settle that was not durable: %+v, %v; want it settled", got, err)
	}
	notDurable("delivered Settle again", s.Settle(ctx, r.ID, o, true, r.Created))
	if err := s.Settle(ctx, r.ID, o, false, r.Created); err != nil {
		t.Fatalf("Settle not delivered (does not wait) = %v", err)
	}
	if _, err := s.Deliver(ctx, r.ID, o, 3, r.Created); !errors.Is(err, store.ErrDelivered) {
		t.Fatalf("Deliver after the delivery = %v; want ErrDelivered", err)
	}
}

// Auto (WaitReplicas 0) waits for one replica when the deployment
// replicates, and for none when it does not: a standalone master with no
// replica, then with one connected (detected again by a new store), and
// a Cluster of masters only.
func TestAutoWaitReplicas(t *testing.T) {
	master := redistest.Start(t, redistest.Options{TCP: true})
	mc := newClient(t, master.URL)
	rep, err := redisstore.New(mc, redisstore.Options{}).Replication(ctx)
	if err != nil || rep.Topology != redisstore.TopologyStandalone || rep.Replicas || rep.WaitReplicas != 0 || !rep.Auto || rep.MinReplicasToWrite != 0 {
		t.Fatalf("standalone without replicas: %+v, %v; want no waiting", rep, err)
	}
	if rep, err := redisstore.New(mc, redisstore.Options{WaitReplicas: -1}).Replication(ctx); err != nil || rep.WaitReplicas != 0 || rep.Auto {
		t.Fatalf("off: %+v, %v", rep, err)
	}

	replica := redistest.Start(t, redistest.Options{})
	rc := newClient(t, replica.URL)
	if err := mc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(master.Addr, ":")
	if err := rc.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	if err := poll(10*time.Second, func() bool {
		info, err := mc.Info(ctx, "replication").Result()
		return err == nil && replicaOnline(info)
	}); err != nil {
		t.Fatalf("replica never came online: %v", err)
	}
	p := newPrefix()
	s := redisstore.New(mc, redisstore.Options{Prefix: p})
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err = s.Replication(ctx)
	if err != nil || !rep.Replicas || rep.WaitReplicas != 1 || rep.MinReplicasToWrite != 0 {
		t.Fatalf("standalone with a replica: %+v, %v; want waiting for 1", rep, err)
	}
	// It does wait: a confirmation the paused replica cannot acknowledge
	// is not durable.
	r := pending(t, s)
	replica.Pause()
	_, err = s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created)
	replica.Resume()
	if !errors.Is(err, store.ErrNotDurable) {
		t.Fatalf("Attempt with the replica paused = %v; want ErrNotDurable", err)
	}
	if res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); err != nil || res.Outcome != store.Repeated {
		t.Fatalf("Attempt with the replica back = %+v, %v; want Repeated", res, err)
	}

	// min-replicas-to-write is reported; where CONFIG is refused, -1.
	if err := mc.ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Replication(ctx); err != nil || rep.MinReplicasToWrite != 1 {
		t.Fatalf("with min-replicas-to-write 1: %+v, %v", rep, err)
	}
	if err := mc.Do(ctx, "ACL", "SETUSER", "default", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Replication(ctx); err != nil || rep.MinReplicasToWrite != -1 || !rep.Replicas {
		t.Fatalf("without CONFIG: %+v, %v; want -1", rep, err)
	}

	c := redistest.StartCluster(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { cc.Close() })
	rep, err = redisstore.New(cc, redisstore.Options{}).Replication(context.Background())
	if err != nil || rep.Topology != redisstore.TopologyCluster || rep.Replicas || rep.WaitReplicas != 0 || len(rep.Unreplicated) != 0 {
		t.Fatalf("cluster of masters only: %+v, %v; want no waiting", rep, err)
	}
}

// On a Cluster whose masters have replicas, auto waits for one, per
// shard: the WAIT runs on the connection to the master of the
// challenge's slot, so pausing that master's replica makes its
// confirmations not durable while the rest of the cluster is unaffected.
func TestClusterWithReplicasWaitsPerShard(t *testing.T) {
	c := redistest.StartClusterReplicas(t, 1)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { client.Close() })
	p := newPrefix()
	s := redisstore.New(client, redisstore.Options{Prefix: p})
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Replication(ctx)
	if err != nil || rep.Topology != redisstore.TopologyCluster || !rep.Replicas || rep.WaitReplicas != 1 || len(rep.Unreplicated) != 0 {
		t.Fatalf("Replication = %+v, %v; want a cluster with replicas, waiting for 1", rep, err)
	}
	r := pending(t, s)
	other := pendingFor(t, s, "another user")
	// The replica of the master that owns a challenge's slot, from that
	// master's CLUSTER NODES.
	replicaOf := func(user, id string) string {
		m, err := client.MasterForKey(ctx, challengeKey(p, user, id))
		if err != nil {
			t.Fatal(err)
		}
		mid, err := m.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := m.ClusterNodes(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(nodes, "\n") {
			if f := strings.Fields(line); len(f) > 3 && strings.Contains(f[2], "slave") && f[3] == mid {
				addr, _, _ := strings.Cut(f[1], "@")
				return addr
			}
		}
		t.Fatalf("master %s has no replica", m.Options().Addr)
		return ""
	}
	paused := replicaOf(r.User, r.ID)
	if replicaOf(other.User, other.ID) == paused {
		other = pendingFor(t, s, "yet another user")
		if replicaOf(other.User, other.ID) == paused {
			t.Skip("both users' challenges share a shard")
		}
	}
	c.Node(paused).Pause()
	_, err = s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created)
	res, err2 := s.Attempt(ctx, other.ID, owner(other), right, lockout, other.Created)
	c.Node(paused).Resume()
	if !errors.Is(err, store.ErrNotDurable) {
		t.Fatalf("Attempt on the shard whose replica is paused = %v; want ErrNotDurable", err)
	}
	if err2 != nil || res.Outcome != store.Confirmed {
		t.Fatalf("Attempt on another shard = %+v, %v; want Confirmed", res, err2)
	}
	if got, err := s.Get(ctx, r.ID, owner(r), r.Created); err != nil || !got.Confirmed() || !got.LeaseUntil.IsZero() {
		t.Fatalf("after ErrNotDurable: %+v, %v; want confirmed, no lease", got, err)
	}
	if res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); err != nil || res.Outcome != store.Repeated {
		t.Fatalf("the same answer with the replica back = %+v, %v; want Repeated", res, err)
	}
	if rec, err := s.Deliver(ctx, r.ID, owner(r), 3, r.Created); err != nil || rec.Deliveries != 1 {
		t.Fatalf("Deliver = %+v, %v; want the first delivery", rec, err)
	}
}
