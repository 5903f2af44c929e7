package senders

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// mailServerOptions configure a mailServer.
type mailServerOptions struct {
	Cert     *testCert // server certificate for STARTTLS or implicit TLS
	STARTTLS bool      // offer STARTTLS (needs Cert)
	Implicit bool      // speak TLS from the first byte (needs Cert)
	// User and Pass, when set, offer AUTH PLAIN, require it before MAIL
	// and are the only accepted credentials.
	User, Pass string
}

// mailServer is a real SMTP server (emersion/go-smtp, an implementation
// independent of ours) on 127.0.0.1 that keeps what it accepts. Unlike
// the hand-written smtpPeer it can drop connections on demand.
type mailServer struct {
	Addr string
	opts mailServerOptions
	srv  *gosmtp.Server

	mu           sync.Mutex
	mails        []peerMail
	conns        []net.Conn // every accepted connection, in order
	open         int        // connections not yet closed
	inflight     int        // transactions between MAIL and the end of DATA
	peakInflight int
	dropInData   bool // drop the connection after the next DATA, before the reply
}

func startMailServer(t *testing.T, opts mailServerOptions) *mailServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms := &mailServer{Addr: ln.Addr().String(), opts: opts}
	var l net.Listener = &countingListener{Listener: ln, ms: ms}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &mailSession{ms: ms, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second // never hang a test
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = !opts.STARTTLS && !opts.Implicit
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if opts.Cert != nil {
		cfg := &tls.Config{Certificates: []tls.Certificate{opts.Cert.Cert}}
		if opts.STARTTLS {
			srv.TLSConfig = cfg
		}
		if opts.Implicit {
			l = tls.NewListener(l, cfg)
		}
	}
	ms.srv = srv
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ms
}

// Mails returns the messages accepted so far.
func (ms *mailServer) Mails() []peerMail {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]peerMail(nil), ms.mails...)
}

// Conns returns how many connections were accepted.
func (ms *mailServer) Conns() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return len(ms.conns)
}

// Open returns how many accepted connections are not closed yet.
func (ms *mailServer) Open() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.open
}

// PeakInflight returns the most transactions that were under way at once.
func (ms *mailServer) PeakInflight() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.peakInflight
}

// DropAll closes every connection, as a server does to idle clients.
func (ms *mailServer) DropAll() {
	ms.mu.Lock()
	conns := append([]net.Conn(nil), ms.conns...)
	ms.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// DropInNextData makes the server take the next message and close the
// connection before it answers, so the client cannot know it arrived.
func (ms *mailServer) DropInNextData() {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.dropInData = true
}

// waitOpen waits up to 2s until n connections are open.
func (ms *mailServer) waitOpen(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ms.Open() == n {
			return
		}
	}
	t.Fatalf("server has %d open connections, want %d", ms.Open(), n)
}

// countingListener records the connections of a mailServer.
type countingListener struct {
	net.Listener
	ms *mailServer
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countedConn{Conn: c, ms: l.ms}
	l.ms.mu.Lock()
	l.ms.conns = append(l.ms.conns, cc)
	l.ms.open++
	l.ms.mu.Unlock()
	return cc, nil
}

// countedConn counts its first Close.
type countedConn struct {
	net.Conn
	ms   *mailServer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.ms.mu.Lock()
		c.ms.open--
		c.ms.mu.Unlock()
	})
	return c.Conn.Close()
}

// mailSession is one SMTP session of a mailServer.
type mailSession struct {
	ms     *mailServer
	conn   *gosmtp.Conn
	user   string
	cur    peerMail
	inMail bool
}

func (s *mailSession) AuthMechanisms() []string {
	if s.ms.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.ms.opts.User || pass != s.ms.opts.Pass {
			return gosmtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *gosmtp.MailOptions) error {
	if s.ms.opts.User != "" && s.user == "" {
		return gosmtp.ErrAuthRequired
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.cur = peerMail{TLS: isTLS, AuthUser: s.user, From: from}
	s.ms.mu.Lock()
	s.ms.inflight++
	s.ms.peakInflight = max(s.ms.peakInflight, s.ms.inflight)
	s.ms.mu.Unlock()
	s.inMail = true
	return nil
}

func (s *mailSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if to == "refused@x.org" {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = string(data)
	s.ms.mu.Lock()
	s.ms.mails = append(s.ms.mails, s.cur)
	drop := s.ms.dropInData
	s.ms.dropInData = false
	s.ms.mu.Unlock()
	s.end()
	if drop {
		_ = s.conn.Conn().Close()
		return errors.New("dropped")
	}
	return nil
}

// end marks the end of a transaction.
func (s *mailSession) end() {
	if s.inMail {
		s.inMail = false
		s.ms.mu.Lock()
		s.ms.inflight--
		s.ms.mu.Unlock()
	}
}

func (s *mailSession) Reset() {
	s.end()
	s.cur = peerMail{}
}

func (s *mailSession) Logout() error {
	s.end()
	return nil
}
