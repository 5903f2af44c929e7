//go:build !unix

package redistest

// Pause is not available without Unix signals; it skips the test.
func (s *Server) Pause() {
	s.t.Helper()
	s.t.Skip("pausing redis-server needs SIGSTOP (Unix)")
}

// Resume is not available without Unix signals; it skips the test.
func (s *Server) Resume() {
	s.t.Helper()
	s.t.Skip("pausing redis-server needs SIGSTOP (Unix)")
}
