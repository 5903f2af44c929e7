package redistest

import (
	"testing"
	"time"
)

func TestSentinelFailsOver(t *testing.T) {
	s := StartSentinel(t)
	if s.MasterName != "m" || s.MasterAddr() == s.ReplicaAddr {
		t.Fatalf("master %q at %s, replica at %s", s.MasterName, s.MasterAddr(), s.ReplicaAddr)
	}
	if err := s.ready(); err != nil {
		t.Fatalf("not ready after StartSentinel: %v", err)
	}
	start := time.Now()
	s.KillMaster()
	s.WaitFailover(10 * time.Second)
	t.Logf("failover took %v", time.Since(start))
	if s.MasterAddr() != s.ReplicaAddr {
		t.Fatalf("MasterAddr = %s after the failover, want the former replica %s", s.MasterAddr(), s.ReplicaAddr)
	}
	// The promoted replica takes writes.
	if v, err := command(s.MasterAddr(), "SET", "k", "v"); err != nil || v != "OK" {
		t.Fatalf("SET on the new master = %v, %v", v, err)
	}
}
