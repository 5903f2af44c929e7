package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// SentinelMaster is the name the Sentinel of StartSentinel monitors its
// master under.
const SentinelMaster = "m"

// Sentinel is a Sentinel-managed deployment: a master, one replica and
// one Sentinel (quorum 1), all on free 127.0.0.1 ports. The Sentinel
// declares the master down after 500 ms without an answer and fails over
// to the replica.
type Sentinel struct {
	// MasterName is the name the Sentinel monitors the master under
	// (SentinelMaster).
	MasterName string
	// SentinelAddr is the Sentinel's host:port.
	SentinelAddr string
	// ReplicaAddr is the host:port of the server started as the replica
	// (the master after a failover).
	ReplicaAddr string

	t        testing.TB
	master   *Server
	replica  *Server
	sentinel *exec.Cmd

	mu         sync.Mutex
	masterAddr string
}

// StartSentinel starts a master, a replica of it (--replicaof) and one
// Sentinel monitoring the master as "m" (down-after-milliseconds 500,
// failover-timeout 2000). It returns once the replica is in sync and the
// Sentinel knows both, and stops everything when the test ends. The
// Sentinel runs as redis-server --sentinel, so redis-server is all it
// needs: when that is missing the test is skipped (fails under CI=true).
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	bin := Binary(t)
	s := &Sentinel{MasterName: SentinelMaster, t: t}
	t.Cleanup(s.stop)

	// A replica syncs without the 5 s diskless-sync delay.
	s.master = startTCP(t, bin, "--repl-diskless-sync-delay", "0")
	s.masterAddr = s.master.Addr
	host, port, _ := net.SplitHostPort(s.master.Addr)
	// Once promoted, it syncs a rejoining replica at once too.
	s.replica = startTCP(t, bin, "--replicaof", host, port, "--repl-diskless-sync-delay", "0")
	s.ReplicaAddr = s.replica.Addr
	if err := poll(10*time.Second, func() error {
		info, err := infoReplication(s.ReplicaAddr)
		if err != nil {
			return err
		}
		if field(info, "master_link_status") != "up" {
			return errors.New("replica not in sync")
		}
		return nil
	}); err != nil {
		t.Fatalf("redistest: replica %s never synced with master %s: %v", s.ReplicaAddr, s.master.Addr, err)
	}

	dir := t.TempDir()
	sport := FreePort(t)
	s.SentinelAddr = fmt.Sprintf("127.0.0.1:%d", sport)
	conf := filepath.Join(dir, "sentinel.conf")
	cfg := fmt.Sprintf(`bind 127.0.0.1
port %d
protected-mode no
dir %s
sentinel resolve-hostnames no
sentinel monitor %s %s %s 1
sentinel down-after-milliseconds %[3]s 500
sentinel failover-timeout %[3]s 2000
`, sport, dir, s.MasterName, host, port)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.sentinel = exec.Command(bin, conf, "--sentinel")
	s.sentinel.Dir = dir
	if err := s.sentinel.Start(); err != nil {
		t.Fatalf("redistest: starting redis-server --sentinel: %v", err)
	}
	if err := waitPing("tcp", s.SentinelAddr, 10*time.Second); err != nil {
		t.Fatalf("redistest: the sentinel did not answer: %v", err)
	}
	if err := poll(10*time.Second, s.ready); err != nil {
		t.Fatalf("redistest: the sentinel never saw master %s and replica %s: %v", s.master.Addr, s.ReplicaAddr, err)
	}
	return s
}

// startTCP starts a server on a free 127.0.0.1 port with extra arguments;
// it is stopped when the test ends.
func startTCP(t testing.TB, bin string, extra ...string) *Server {
	t.Helper()
	port := FreePort(t)
	s := &Server{t: t, bin: bin, dir: t.TempDir(), Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	s.URL = "redis://" + s.Addr + "/0"
	s.args = append([]string{"--save", "", "--dir", s.dir, "--protected-mode", "no", "--appendonly", "no",
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port)}, DebugArgs(t)...)
	s.args = append(s.args, extra...)
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// ready reports whether the Sentinel sees the master as a healthy master
// and the replica as a healthy replica of it.
func (s *Sentinel) ready() error {
	addr, err := s.sentinelMaster()
	if err != nil {
		return err
	}
	if addr != s.master.Addr {
		return fmt.Errorf("sentinel reports master %s", addr)
	}
	v, err := command(s.SentinelAddr, "SENTINEL", "REPLICAS", s.MasterName)
	if err != nil {
		return err
	}
	replicas, _ := v.([]any)
	for _, r := range replicas {
		m := pairs(r)
		if m["name"] == s.ReplicaAddr && m["flags"] == "slave" && m["master-link-status"] == "ok" {
			return nil
		}
	}
	return fmt.Errorf("sentinel does not list replica %s as healthy: %v", s.ReplicaAddr, v)
}

// sentinelMaster returns the master address the Sentinel reports.
func (s *Sentinel) sentinelMaster() (string, error) {
	v, err := command(s.SentinelAddr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName)
	if err != nil {
		return "", err
	}
	hp, ok := v.([]any)
	if !ok || len(hp) != 2 {
		return "", fmt.Errorf("sentinel get-master-addr-by-name answered %v", v)
	}
	host, _ := hp[0].(string)
	port, _ := hp[1].(string)
	return net.JoinHostPort(host, port), nil
}

// MasterAddr returns the master's host:port: the original master's until
// WaitFailover has seen the replica promoted, ReplicaAddr after.
func (s *Sentinel) MasterAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.masterAddr
}

// KillMaster kills the original master with SIGKILL, as a crash would;
// the Sentinel then fails over to the replica (see WaitFailover).
func (s *Sentinel) KillMaster() { s.master.Stop() }

// KillReplica kills the replica with SIGKILL: the master then has no
// replica to acknowledge writes (WAIT answers 0).
func (s *Sentinel) KillReplica() { s.replica.Stop() }

// PauseReplica stops the replica with SIGSTOP: it reads nothing of the
// replication stream, so the master's writes pile up unacknowledged (WAIT
// times out) while the master still counts it as connected. ResumeReplica
// continues it.
func (s *Sentinel) PauseReplica() { s.t.Helper(); s.replica.Pause() }

// ResumeReplica continues a paused replica (SIGCONT).
func (s *Sentinel) ResumeReplica() { s.t.Helper(); s.replica.Resume() }

// RejoinMaster starts the killed original master again, empty, as a
// replica of the promoted one (as an operator replacing the failed host
// would) and waits, at most timeout, until the new master counts it as an
// online replica: from then on WAIT on the new master can reach 1. Call
// it after WaitFailover, from the test's goroutine.
func (s *Sentinel) RejoinMaster(timeout time.Duration) {
	s.t.Helper()
	host, port, _ := net.SplitHostPort(s.ReplicaAddr)
	s.master.Stop()
	s.master.args = append(append([]string(nil), s.master.args...), "--replicaof", host, port)
	s.master.start()
	err := poll(timeout, func() error {
		info, err := infoReplication(s.ReplicaAddr)
		if err != nil {
			return err
		}
		if !strings.Contains(field(info, "slave0"), "state=online") {
			return fmt.Errorf("no online replica: %q", field(info, "slave0"))
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("redistest: the old master never came online as a replica of %s: %v", s.ReplicaAddr, err)
	}
}

// WaitFailover waits, at most timeout, until the Sentinel reports the
// former replica as the master and the replica itself has taken the
// master role; it fails the test otherwise. Call it from the test's
// goroutine.
func (s *Sentinel) WaitFailover(timeout time.Duration) {
	s.t.Helper()
	err := poll(timeout, func() error {
		addr, err := s.sentinelMaster()
		if err != nil {
			return err
		}
		if addr != s.ReplicaAddr {
			return fmt.Errorf("sentinel still reports master %s", addr)
		}
		info, err := infoReplication(s.ReplicaAddr)
		if err != nil {
			return err
		}
		if role := field(info, "role"); role != "master" {
			return fmt.Errorf("promoted replica has role %q", role)
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("redistest: no failover to %s within %v: %v", s.ReplicaAddr, timeout, err)
	}
	s.mu.Lock()
	s.masterAddr = s.ReplicaAddr
	s.mu.Unlock()
}

// stop stops the Sentinel first, so it does not act on the servers
// stopping; their own cleanups stop the servers.
func (s *Sentinel) stop() {
	if s.sentinel != nil && s.sentinel.Process != nil {
		s.sentinel.Process.Kill()
		s.sentinel.Wait()
		s.sentinel = nil
	}
}

// poll calls f every 50 ms until it returns nil or timeout passes; it
// returns f's last error then.
func poll(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// infoReplication returns the server's INFO replication.
func infoReplication(addr string) (string, error) {
	v, err := command(addr, "INFO", "replication")
	if err != nil {
		return "", err
	}
	info, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("INFO answered %v", v)
	}
	return info, nil
}

// field returns the value of name in an INFO reply ("name:value" lines).
func field(info, name string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// pairs turns a flat [name, value, ...] reply into a map.
func pairs(v any) map[string]string {
	a, _ := v.([]any)
	m := make(map[string]string, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		k, _ := a[i].(string)
		val, _ := a[i+1].(string)
		m[k] = val
	}
	return m
}

// command sends one command to the server at addr (TCP) on a fresh
// connection and returns its RESP2 reply: a string for simple and bulk
// strings, an int64, nil, or a []any; an error reply is returned as an
// error.
func command(addr string, args ...string) (any, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	return readReply(bufio.NewReader(conn))
}

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, errors.New(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}
