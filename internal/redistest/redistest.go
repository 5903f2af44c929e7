// Package redistest starts real redis-server processes for tests: a
// standalone server on a unix socket or a free TCP port (optionally with
// an append-only file so a restart keeps the data) that can be paused
// (SIGSTOP) and resumed, and a 3-node Cluster.
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
	"testing"
	"time"
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
	s.args = []string{"--save", "", "--dir", s.dir, "--protected-mode", "no"}
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

// Cluster is a 3-node Redis Cluster (masters only).
type Cluster struct {
	// Addrs are the nodes' host:port.
	Addrs []string
	nodes []*exec.Cmd
}

// StartCluster starts a 3-node cluster, waits for cluster_state:ok and
// stops it when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := Binary(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found: install redis-tools")
	}
	c := &Cluster{}
	t.Cleanup(c.stop)
	for range 3 {
		port := freeClusterPort(t)
		dir := t.TempDir()
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--cluster-node-timeout", "2000",
			"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no")
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting cluster node: %v", err)
		}
		c.nodes = append(c.nodes, cmd)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		c.Addrs = append(c.Addrs, addr)
		if err := waitPing("tcp", addr, 10*time.Second); err != nil {
			t.Fatalf("cluster node %s: %v", addr, err)
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		for _, a := range c.Addrs {
			out, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", strings.Split(a, ":")[1], "cluster", "info").Output()
			ok = ok && strings.Contains(string(out), "cluster_state:ok")
		}
		if ok {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("cluster never reached cluster_state:ok")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) stop() {
	for _, n := range c.nodes {
		if n.Process != nil {
			n.Process.Kill()
			n.Wait()
		}
	}
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
