//go:build unix

package redistest

import "syscall"

// Pause stops the server process with SIGSTOP, as a stalled host, a long
// fork or a swapped-out process would: connections stay open, commands
// sent meanwhile wait in the socket, and nothing is answered until Resume
// (SIGCONT), when the server runs what it was sent. Call it from the
// test's goroutine. A paused server is still killed by Stop at cleanup.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP)
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() {
	s.t.Helper()
	s.signal(syscall.SIGCONT)
}

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	if s.cmd == nil || s.cmd.Process == nil {
		s.t.Fatalf("redis-server is not running; cannot send %v", sig)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("sending %v to redis-server: %v", sig, err)
	}
}
