package redismod

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/enumgate/enumgate/challenge/store/redisstore"
)

// wait_replicas takes auto (the default), off (or 0) and a number.
func TestWaitReplicasCaddyfile(t *testing.T) {
	for in, want := range map[string]int{"": 0, "wait_replicas auto": 0, "wait_replicas off": -1, "wait_replicas 0": -1, "wait_replicas 2": 2} {
		var r Store
		if err := r.UnmarshalCaddyfile(caddyfile.NewTestDispenser("redis redis://127.0.0.1:6379 {\n" + in + "\n}")); err != nil || r.WaitReplicas != want {
			t.Errorf("%q: WaitReplicas %d, %v; want %d", in, r.WaitReplicas, err, want)
		}
	}
	for _, in := range []string{"wait_replicas", "wait_replicas -1", "wait_replicas 65", "wait_replicas sometimes", "wait_replicas 1 2"} {
		var r Store
		if err := r.UnmarshalCaddyfile(caddyfile.NewTestDispenser("redis {\n" + in + "\n}")); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// Start-up warnings: off while Redis replicates, min-replicas-to-write
// 0, cluster masters without replicas; none for auto on a replicated
// deployment with min-replicas-to-write set.
func TestReplicationWarnings(t *testing.T) {
	warns := func(configured int, rep redisstore.Replication) []string {
		core, logs := observer.New(zapcore.InfoLevel)
		logReplication(zap.New(core), configured, rep)
		var out []string
		for _, e := range logs.FilterLevelExact(zapcore.WarnLevel).All() {
			out = append(out, e.Message)
		}
		return out
	}
	sentinel := redisstore.Replication{Topology: redisstore.TopologySentinel, Replicas: true, WaitReplicas: 1, Auto: true, MinReplicasToWrite: 1}
	if w := warns(0, sentinel); len(w) != 0 {
		t.Errorf("auto on Sentinel with min-replicas-to-write 1 warns: %q", w)
	}
	off := sentinel
	off.WaitReplicas, off.Auto = 0, false
	if w := warns(-1, off); len(w) != 1 || !strings.Contains(w[0], "second time") {
		t.Errorf("off on Sentinel: %q; want one warning naming the double forward", w)
	}
	lax := sentinel
	lax.MinReplicasToWrite = 0
	if w := warns(0, lax); len(w) != 1 || !strings.Contains(w[0], "min-replicas-to-write") {
		t.Errorf("min-replicas-to-write 0: %q", w)
	}
	if w := warns(0, redisstore.Replication{Topology: redisstore.TopologyStandalone, MinReplicasToWrite: 0}); len(w) != 0 {
		t.Errorf("standalone without replicas warns: %q", w)
	}
	if w := warns(0, redisstore.Replication{Topology: redisstore.TopologyStandalone, Unknown: true, MinReplicasToWrite: -1}); len(w) != 1 {
		t.Errorf("unknown replication: %q; want one warning", w)
	}
	mixed := redisstore.Replication{Topology: redisstore.TopologyCluster, Replicas: true, WaitReplicas: 1, MinReplicasToWrite: -1, Unreplicated: []string{"10.0.0.3:6379"}}
	if w := warns(0, mixed); len(w) != 1 || !strings.Contains(w[0], "no replica") {
		t.Errorf("cluster with a bare master: %q", w)
	}
}
