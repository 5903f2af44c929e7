package redistest

import (
	"testing"
	"time"
)

func TestServerAnswersAfterRestart(t *testing.T) {
	for name, o := range map[string]Options{"unix socket": {}, "tcp with persistence": {TCP: true, Persist: true}} {
		t.Run(name, func(t *testing.T) {
			s := Start(t, o)
			s.Restart()
			network := "unix"
			if o.TCP {
				network = "tcp"
			}
			if err := waitPing(network, s.Addr, 5e9); err != nil {
				t.Fatalf("no answer after restart: %v", err)
			}
		})
	}
}

func TestClusterReachesStateOK(t *testing.T) {
	if c := StartCluster(t); len(c.Addrs) != 3 {
		t.Fatalf("%d nodes", len(c.Addrs))
	}
}

// A paused server answers nothing until it is resumed, then answers again.
func TestPauseStallsTheServerUntilResume(t *testing.T) {
	s := Start(t, Options{})
	s.Pause()
	if err := waitPing("unix", s.Addr, 300*time.Millisecond); err == nil {
		t.Fatal("a paused server answered PING")
	}
	s.Resume()
	if err := waitPing("unix", s.Addr, 5*time.Second); err != nil {
		t.Fatalf("no answer after Resume: %v", err)
	}
}
