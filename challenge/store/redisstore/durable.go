package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/store"
)

// Topologies of Replication.Topology.
const (
	TopologyStandalone = "standalone"
	TopologySentinel   = "sentinel"
	TopologyCluster    = "cluster"
)

// Replication is how the store's Redis deployment replicates and what the
// store makes of it, as Check and Store.Replication find at start.
type Replication struct {
	// Topology is TopologySentinel, TopologyCluster, TopologyStandalone,
	// or "" for a client the store cannot inspect (it then never waits
	// unless Options.WaitReplicas says so).
	Topology string
	// Replicas reports that the deployment replicates: always behind
	// Sentinel (its purpose is failing over to a replica), on a Cluster
	// when a master has a replica, on a standalone master when a replica
	// is connected.
	Replicas bool
	// Unknown reports that the store could not tell (INFO replication or
	// CLUSTER SLOTS refused): Replicas is false then, and auto waits for
	// no replica.
	Unknown bool
	// Auto reports Options.WaitReplicas 0: WaitReplicas was chosen from
	// Replicas.
	Auto bool
	// WaitReplicas is how many replicas a confirmation, a redelivery and a
	// delivered Settle wait for (Redis WAIT); 0: none.
	WaitReplicas int
	// MinReplicasToWrite is the master's min-replicas-to-write (the
	// lowest of a Cluster's masters); -1 when CONFIG GET is refused.
	MinReplicasToWrite int
	// Unreplicated lists the Cluster masters that have no replica while
	// others do: with WaitReplicas > 0 no confirmation of the users whose
	// challenges live there can become durable.
	Unreplicated []string
}

// replicas returns how many replicas the store waits for, resolving auto
// (Options.WaitReplicas 0) on first use: 1 when the deployment replicates,
// else 0. A failed detection is not remembered; the next call tries again.
func (s *Store) replicas(ctx context.Context) (int, error) {
	switch {
	case s.opts.WaitReplicas > 0:
		return s.opts.WaitReplicas, nil
	case s.opts.WaitReplicas < 0:
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resolved {
		return s.waitN, nil
	}
	rep, err := s.detect(ctx, false)
	if err != nil {
		return 0, err
	}
	s.waitN, s.resolved = rep.WaitReplicas, true
	return s.waitN, nil
}

// Replication detects how the deployment replicates (see Replication), for
// the warnings a gateway logs at start. It also resolves auto, if that has
// not happened yet.
func (s *Store) Replication(ctx context.Context) (Replication, error) {
	rep, err := s.detect(ctx, true)
	if err != nil {
		return rep, err
	}
	if s.opts.WaitReplicas == 0 {
		s.mu.Lock()
		if !s.resolved {
			s.waitN, s.resolved = rep.WaitReplicas, true
		}
		rep.WaitReplicas = s.waitN
		s.mu.Unlock()
	}
	return rep, nil
}

// detect inspects the deployment; with config it also reads
// min-replicas-to-write.
func (s *Store) detect(ctx context.Context, config bool) (Replication, error) {
	rep := Replication{Auto: s.opts.WaitReplicas == 0, MinReplicasToWrite: -1}
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		rep.Topology = TopologyCluster
		// Each master is asked, and what any says counts: its CLUSTER
		// NODES lists every replica it knows of, also one that is down or
		// still syncing (CLUSTER SLOTS leaves those out), and INFO
		// replication the replicas connected to it now (a replica that
		// has just joined may not have been gossiped yet).
		var (
			mu         sync.Mutex            // ForEachMaster runs fn concurrently
			masters    = map[string]string{} // id -> addr
			replicated = map[string]bool{}   // ids of masters with a replica
			self       = map[string]bool{}   // addrs of masters with a connected replica
			unknown    bool
		)
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			nodes, err := m.ClusterNodes(ctx).Result()
			if err != nil && !refused(err) {
				return fmt.Errorf("redis: cluster nodes (node %s): %w", m.Options().Addr, err)
			}
			n, ierr := connectedReplicas(ctx, m)
			if ierr != nil && !refused(ierr) {
				return fmt.Errorf("%w (node %s)", ierr, m.Options().Addr)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				unknown = true
				return nil
			}
			ms, rs := clusterNodes(nodes)
			for _, x := range ms {
				masters[x.id] = x.addr
			}
			for id := range rs {
				replicated[id] = true
			}
			if ierr == nil && n > 0 {
				self[m.Options().Addr] = true
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
		rep.Unknown = unknown
		var bare []string
		for id, addr := range masters {
			if replicated[id] || self[addr] {
				rep.Replicas = true
			} else {
				bare = append(bare, addr)
			}
		}
		if rep.Replicas {
			slices.Sort(bare)
			rep.Unreplicated = bare
		}
		if config {
			low := -1
			err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
				n, err := minReplicasToWrite(ctx, m)
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				if n >= 0 && (low < 0 || n < low) {
					low = n
				}
				return nil
			})
			if err != nil {
				return rep, err
			}
			rep.MinReplicasToWrite = low
		}
	case *redis.Client:
		if c.Options().Addr == failoverAddr {
			rep.Topology, rep.Replicas = TopologySentinel, true
		} else {
			rep.Topology = TopologyStandalone
			n, err := connectedReplicas(ctx, c)
			switch {
			case err != nil && !refused(err):
				return rep, err
			case err != nil:
				rep.Unknown = true
			default:
				rep.Replicas = n > 0
			}
		}
		if config {
			n, err := minReplicasToWrite(ctx, c)
			if err != nil {
				return rep, err
			}
			rep.MinReplicasToWrite = n
		}
	}
	switch {
	case s.opts.WaitReplicas > 0:
		rep.WaitReplicas = s.opts.WaitReplicas
	case s.opts.WaitReplicas == 0 && rep.Replicas:
		rep.WaitReplicas = 1
	}
	return rep, nil
}

type clusterMaster struct{ id, addr string }

// clusterNodes reads CLUSTER NODES: the masters that serve slots, and
// the ids of the masters that have a replica.
func clusterNodes(text string) (masters []clusterMaster, replicated map[string]bool) {
	replicated = map[string]bool{}
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		flags := "," + f[2] + ","
		if strings.Contains(flags, ",noaddr,") || strings.Contains(flags, ",handshake,") {
			continue
		}
		switch {
		case strings.Contains(flags, ",slave,"):
			replicated[f[3]] = true
		case strings.Contains(flags, ",master,") && len(f) > 8:
			addr, _, _ := strings.Cut(f[1], "@")
			masters = append(masters, clusterMaster{id: f[0], addr: addr})
		}
	}
	return masters, replicated
}

// failoverAddr is the address go-redis gives the options of a Sentinel
// failover client (redis.NewFailoverClient), whose connections go to
// whichever server the Sentinels name master.
const failoverAddr = "FailoverClient"

// refused reports a server's refusal (an error reply such as NOPERM or
// an unknown command), as opposed to a connection failure or LOADING.
func refused(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !redis.HasErrorPrefix(err, "LOADING")
}

// connectedReplicas reads connected_slaves from INFO replication; a
// server that is itself a replica counts none.
func connectedReplicas(ctx context.Context, c processor) (int, error) {
	cmd := redis.NewStringCmd(ctx, "info", "replication")
	_ = c.Process(ctx, cmd)
	info, err := cmd.Result()
	if err != nil {
		return 0, fmt.Errorf("redis: info replication: %w", err)
	}
	n, role := 0, ""
	for line := range strings.SplitSeq(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch k {
		case "role":
			role = v
		case "connected_slaves":
			n, _ = strconv.Atoi(v)
		}
	}
	if role != "master" {
		return 0, nil
	}
	return n, nil
}

// minReplicasToWrite reads min-replicas-to-write; -1 when CONFIG is
// refused (managed Redis).
func minReplicasToWrite(ctx context.Context, c Client) (int, error) {
	m, err := c.ConfigGet(ctx, "min-replicas-to-write").Result()
	if err != nil {
		if refused(err) {
			return -1, nil
		}
		return -1, fmt.Errorf("redis: config get min-replicas-to-write: %w", err)
	}
	v, ok := m["min-replicas-to-write"]
	if !ok {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1, nil
	}
	return n, nil
}

// session is where one call's script runs, and its WAIT after it: a
// dedicated connection to the master of the call's key when the store
// waits for replicas (WAIT counts the replicas that have the writes of
// its own connection), the client otherwise.
type session struct {
	p    processor
	conn *redis.Conn
	n    int // replicas to wait for; 0: none
}

// open returns the session of a call on key; close it with done.
func (s *Store) open(ctx context.Context, key string) (session, error) {
	n, err := s.replicas(ctx)
	if err != nil {
		return session{}, err
	}
	if n == 0 {
		return session{p: s.client}, nil
	}
	conn, err := s.waitConn(ctx, key)
	if err != nil {
		return session{}, err
	}
	return session{p: conn, conn: conn, n: n}, nil
}

func (ss session) done() {
	if ss.conn != nil {
		ss.conn.Close()
	}
}

// mark is the script argument that asks a script to write even when it
// changes nothing else (a repeat), so that the WAIT after it covers the
// state it reports.
func (ss session) mark() int {
	if ss.n > 0 {
		return 1
	}
	return 0
}

// wait runs WAIT on the session's connection: nil when enough replicas
// have everything the connection wrote, *store.NotDurableError when too
// few acknowledged within the timeout, a Redis error when WAIT failed
// (the outcome is unknown then).
func (s *Store) wait(ctx context.Context, ss session, op string) error {
	if ss.n == 0 {
		return nil
	}
	got, err := ss.conn.Wait(ctx, ss.n, s.opts.WaitTimeout).Result()
	if err != nil {
		return fmt.Errorf("redis: %s: wait for replicas: %w", op, err)
	}
	if got < int64(ss.n) {
		return &store.NotDurableError{Reached: int(got), Wanted: ss.n, Timeout: s.opts.WaitTimeout}
	}
	return nil
}

// releaseTimeout bounds giving back a lease that is not durable.
const releaseTimeout = time.Second

// release gives back the delivery lease r's call took (r's LeaseUntil and
// Deliveries are what it wrote) if it still holds, so that no lease stays
// held for a delivery that never starts: first on the session's
// connection, then through the client if that failed. It is best effort:
// a lease it cannot release lapses by itself after Options.DeliveryLease.
func (s *Store) release(ctx context.Context, ss session, user string, r *store.Record) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	keys := []string{s.key(user, r.ID)}
	args := []any{ms(r.LeaseUntil), r.Deliveries}
	if _, _, err := run(ctx, ss.p, releaseScript, "release lease", keys, args...); err == nil || ss.conn == nil {
		return
	}
	_, _, _ = run(ctx, s.client, releaseScript, "release lease", keys, args...)
}
