package redistest

import "testing"

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
