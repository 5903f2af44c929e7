// Package redistest starts real redis-server processes for tests: a
// standalone server on a unix socket or a free TCP port (optionally with
// an append-only file so a restart keeps the data) that can be paused
// (SIGSTOP) and resumed, a Sentinel deployment (sentinel.go), and a
// Cluster of 3 masters, with or without replicas.
//
// When redis-server is missing, tests are skipped — except under CI=true,
// where they fail with a message saying what to install.
package redistest

import (
	"bufio"
	"context"
	"fmt"
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

// DebugArgs are the arguments that let tests send DEBUG (DEBUG SLEEP)
// to a server started by this package: --enable-debug-command yes on
// Redis 7 and later, nothing before (where DEBUG is always enabled).
func DebugArgs(t testing.TB) []string {
	t.Helper()
	bin := Binary(t)
	debugOnce.Do(func() {
		out, _ := exec.Command(bin, "--version").Output()
		// "Redis server v=7.0.15 sha=..."
		_, v, _ := strings.Cut(string(out), "v=")
		if major, _, _ := strings.Cut(v, "."); major != "" {
			if n, err := strconv.Atoi(major); err == nil && n >= 7 {
				debugArgs = []string{"--enable-debug-command", "yes"}
			}
		}
	})
	return debugArgs
}

var (
	debugOnce sync.Once
	debugArgs []string
)

// Binary returns the path of redis-server, or skips (fails under CI=true).
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not found: install it (apt-get install redis-server; scripts/test does this)")
		}
		t.Skip("redis-server not installed")
	}
	return p
}

// Options choose how a Server runs.
type Options struct {
	// TCP listens on a free 127.0.0.1 port instead of a unix socket.
	TCP bool
	// Persist keeps an append-only file so Restart keeps the data.
	Persist bool
}

// Server is one running redis-server.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	args []string
	cmd  *exec.Cmd
	// Addr is host:port (TCP) or the socket path.
	Addr string
	// URL is the go-redis URL: redis://127.0.0.1:PORT/0 or unix://PATH.
	URL string
}

// Start starts a standalone server that is stopped when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir()}
	s.args = append([]string{"--save", "", "--dir", s.dir, "--protected-mode", "no"}, DebugArgs(t)...)
	if o.Persist {
		s.args = append(s.args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		s.args = append(s.args, "--appendonly", "no")
	}
	if o.TCP {
		port := FreePort(t)
		s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		s.URL = "redis://" + s.Addr + "/0"
		s.args = append(s.args, "--bind", "127.0.0.1", "--port", strconv.Itoa(port))
	} else {
		s.Addr = filepath.Join(s.dir, "redis.sock")
		s.URL = "unix://" + s.Addr
		s.args = append(s.args, "--port", "0", "--unixsocket", s.Addr, "--unixsocketperm", "700")
	}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, s.args...)
	s.cmd.Dir = s.dir
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	network := "unix"
	if !strings.HasPrefix(s.URL, "unix://") {
		network = "tcp"
	}
	if err := waitPing(network, s.Addr, 10*time.Second); err != nil {
		s.Stop()
		s.t.Fatalf("redis-server did not answer: %v", err)
	}
}

// Stop kills the server (as a crash would; data already in the
// append-only file survives). Stopping twice is harmless.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again with the same address and data
// directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Cluster is a Redis Cluster of 3 masters, each with the replicas asked
// for (none by StartCluster).
type Cluster struct {
	// Addrs are the nodes' host:port, replicas included.
	Addrs []string
	nodes map[string]*Server
}

// StartCluster starts a 3-node cluster (masters only), waits for
// cluster_state:ok and stops it when the test ends.
func StartCluster(t testing.TB) *Cluster { t.Helper(); return StartClusterReplicas(t, 0) }

// StartClusterReplicas starts a cluster of 3 masters with replicas
// replicas each (redis-cli --cluster create --cluster-replicas), waits for
// cluster_state:ok on every node and, with replicas, until every master
// has them online, and stops it when the test ends.
func StartClusterReplicas(t testing.TB, replicas int) *Cluster {
	t.Helper()
	bin := Binary(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found: install redis-tools")
	}
	c := &Cluster{nodes: map[string]*Server{}}
	for range 3 * (1 + replicas) {
		port := freeClusterPort(t)
		dir := t.TempDir()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		n := &Server{t: t, bin: bin, dir: dir, Addr: addr, URL: "redis://" + addr + "/0"}
		n.args = append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--cluster-node-timeout", "2000",
			"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no",
			"--repl-diskless-sync-delay", "0"}, DebugArgs(t)...)
		n.start()
		t.Cleanup(n.Stop)
		c.nodes[addr] = n
		c.Addrs = append(c.Addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := poll(30*time.Second, func() error {
		online := 0
		for _, a := range c.Addrs {
			v, err := command(a, "CLUSTER", "INFO")
			if info, _ := v.(string); err != nil || !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("node %s: cluster state not ok (%v)", a, err)
			}
			// Every node knows every replica (gossip), as clients and
			// tests asking any node expect.
			v, err = command(a, "CLUSTER", "NODES")
			if err != nil {
				return err
			}
			nodes, _ := v.(string)
			if n := strings.Count(nodes, "slave "); n < 3*replicas {
				return fmt.Errorf("node %s knows %d replicas", a, n)
			}
			info, err := infoReplication(a)
			if err != nil {
				return err
			}
			if field(info, "role") == "master" {
				for i := range replicas {
					if strings.Contains(field(info, fmt.Sprintf("slave%d", i)), "state=online") {
						online++
					}
				}
			}
		}
		if online < 3*replicas {
			return fmt.Errorf("%d of %d replicas online", online, 3*replicas)
		}
		return nil
	}); err != nil {
		t.Fatalf("cluster never became ready: %v", err)
	}
	return c
}

// Node returns the server at addr, one of Addrs (to Pause or Resume it).
func (c *Cluster) Node(addr string) *Server {
	n, ok := c.nodes[addr]
	if !ok {
		panic("redistest: no cluster node " + addr)
	}
	return n
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freeClusterPort returns a free port whose cluster bus port (+10000) is
// free too.
func freeClusterPort(t testing.TB) int {
	for range 100 {
		p := FreePort(t)
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// waitPing waits until the server answers PING.
func waitPing(network, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, addr)
		if err == nil {
			conn.SetDeadline(time.Now().Add(time.Second))
			fmt.Fprint(conn, "PING\r\n")
			line, err := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if err == nil && strings.HasPrefix(line, "+PONG") {
				return nil
			}
			last = fmt.Errorf("answer %q, %v", line, err)
		} else {
			last = err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return last
}
