package senders

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"sync"
	"time"

	gomailsmtp "github.com/wneessen/go-mail/smtp"
)

// Limits of the SMTP connection pool.
const (
	// smtpMaxConns bounds the conversations with the server at once; a
	// further delivery waits for a free one (within its own timeout).
	smtpMaxConns = 4
	// smtpMaxIdle bounds the connections kept open between deliveries.
	smtpMaxIdle = 2
	// smtpIdleTimeout is how long an unused connection is kept; servers
	// drop idle clients after a few minutes (RFC 5321 suggests 5).
	smtpIdleTimeout = 30 * time.Second
	// smtpProbeTimeout bounds the NOOP that checks a kept connection.
	smtpProbeTimeout = 2 * time.Second
	// smtpQuitTimeout bounds the QUIT when a connection is let go.
	smtpQuitTimeout = time.Second
)

// smtpConn is one authenticated SMTP session, ready for MAIL FROM.
type smtpConn struct {
	c         *gomailsmtp.Client
	raw       net.Conn // the dialed connection: deadlines and Close go here
	idleSince time.Time
}

// quit ends the session politely (bounded by smtpQuitTimeout) and
// closes the connection.
func (sc *smtpConn) quit() {
	_ = sc.raw.SetDeadline(time.Now().Add(smtpQuitTimeout))
	_ = sc.c.Quit()
	_ = sc.raw.Close()
}

// smtpPool keeps a few sessions open so that consecutive messages do not
// each pay for TCP, TLS and AUTH, and bounds the sessions at once. A
// session is used by one delivery at a time.
type smtpPool struct {
	slots chan struct{} // one token per conversation under way

	mu     sync.Mutex
	idle   []*smtpConn // most recently used last
	closed bool
	sweep  *time.Timer // closes sessions idle for smtpIdleTimeout
}

func newSMTPPool() *smtpPool {
	return &smtpPool{slots: make(chan struct{}, smtpMaxConns)}
}

// acquire waits for a conversation slot until ctx ends or deadline.
func (p *smtpPool) acquire(ctx context.Context, deadline time.Time) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("all %d connections busy: %w", smtpMaxConns, os.ErrDeadlineExceeded)
	}
}

func (p *smtpPool) release() { <-p.slots }

// get returns the most recently used live-looking session, or nil.
// Sessions idle for too long are closed on the way.
func (p *smtpPool) get() *smtpConn {
	p.mu.Lock()
	var stale []*smtpConn
	var sc *smtpConn
	for len(p.idle) > 0 {
		last := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if time.Since(last.idleSince) < smtpIdleTimeout {
			sc = last
			break
		}
		stale = append(stale, last)
	}
	p.mu.Unlock()
	for _, s := range stale {
		_ = s.raw.Close()
	}
	return sc
}

// put keeps a session for the next delivery, or lets it go when the pool
// is closed or full.
func (p *smtpPool) put(sc *smtpConn) {
	sc.idleSince = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= smtpMaxIdle {
		p.mu.Unlock()
		sc.quit()
		return
	}
	p.idle = append(p.idle, sc)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(smtpIdleTimeout, p.sweepIdle)
	}
	p.mu.Unlock()
}

// sweepIdle lets go of the sessions idle for smtpIdleTimeout and runs
// again while some are left.
func (p *smtpPool) sweepIdle() {
	p.mu.Lock()
	var stale, keep []*smtpConn
	for _, sc := range p.idle {
		if time.Since(sc.idleSince) >= smtpIdleTimeout {
			stale = append(stale, sc)
		} else {
			keep = append(keep, sc)
		}
	}
	p.idle = keep
	p.sweep = nil
	if len(keep) > 0 && !p.closed {
		p.sweep = time.AfterFunc(time.Until(keep[0].idleSince.Add(smtpIdleTimeout)), p.sweepIdle)
	}
	p.mu.Unlock()
	for _, sc := range stale {
		sc.quit()
	}
}

// close lets go of every kept session; sessions in use are let go when
// their delivery ends.
func (p *smtpPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, sc := range idle {
		wg.Go(sc.quit)
	}
	wg.Wait()
}

// idleCount reports how many sessions are kept (for tests).
func (p *smtpPool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// deliveryInfo tells how a delivery went, for the log.
type deliveryInfo struct {
	reused bool // the message went over a kept connection
}

// deliver sends one message (already composed) to rcpts under a single
// deadline: the earlier of now+Timeout and ctx's deadline, covering the
// wait for a connection, dial, TLS, AUTH and the transaction. Cancelling
// ctx aborts it.
//
// A kept connection is checked with NOOP first; if that check fails
// nothing of this message has been sent, so a fresh connection is
// dialed instead. Once MAIL FROM has been sent there is no second try:
// a failure after DATA may hide a message the server accepted.
func (s *SMTP) deliver(ctx context.Context, rcpts []string, msg []byte) (deliveryInfo, error) {
	var info deliveryInfo
	deadline := time.Now().Add(time.Duration(s.Timeout))
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	fail := func(step string, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return fmt.Errorf("smtp %s: %s: %w", s.addr, step, err)
	}

	if err := s.pool.acquire(ctx, deadline); err != nil {
		return info, fail("wait for a connection", err)
	}
	defer s.pool.release()
	if err := ctx.Err(); err != nil {
		return info, fail("wait for a connection", err)
	}
	if !time.Now().Before(deadline) {
		return info, fail("wait for a connection", os.ErrDeadlineExceeded)
	}

	sc := s.pool.get()
	for sc != nil && !s.probe(ctx, sc, deadline) {
		_ = sc.raw.Close()
		if ctx.Err() != nil {
			// Leave the other kept connections alone: they are fine.
			return info, fail("check connection", ctx.Err())
		}
		sc = s.pool.get()
	}
	if sc != nil {
		info.reused = true
	} else {
		var err error
		if sc, err = s.dial(ctx, deadline, fail); err != nil {
			return info, err
		}
	}

	keep, err := s.transact(ctx, sc, deadline, rcpts, msg, fail)
	if keep {
		s.pool.put(sc)
	} else {
		_ = sc.raw.Close()
	}
	return info, err
}

// probe reports whether a kept session still answers NOOP, within
// smtpProbeTimeout and the delivery's deadline.
func (s *SMTP) probe(ctx context.Context, sc *smtpConn, deadline time.Time) bool {
	d := time.Now().Add(smtpProbeTimeout)
	if deadline.Before(d) {
		d = deadline
	}
	if err := sc.raw.SetDeadline(d); err != nil {
		return false
	}
	stop := context.AfterFunc(ctx, func() { sc.raw.Close() })
	err := sc.c.Noop()
	return stop() && err == nil
}

// dial opens a session: TCP (TLS from the start in implicit mode),
// greeting, EHLO, STARTTLS in starttls mode and AUTH PLAIN when
// configured.
func (s *SMTP) dial(ctx context.Context, deadline time.Time, fail func(string, error) error) (*smtpConn, error) {
	dialer := &net.Dialer{Deadline: deadline}
	var conn net.Conn
	var err error
	if s.TLS == tlsImplicit {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: s.tlsConfig}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return nil, fail("dial", err)
	}
	done := false
	defer func() {
		if !done {
			conn.Close()
		}
	}()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, fail("dial", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, err := gomailsmtp.NewClient(conn, s.host)
	if err != nil {
		return nil, fail("greeting", err)
	}
	if err := c.Hello("localhost"); err != nil {
		return nil, fail("ehlo", err)
	}
	if s.TLS == tlsStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return nil, fail("starttls", errors.New("server does not offer STARTTLS; refusing to send in clear"))
		}
		if err := c.StartTLS(s.tlsConfig); err != nil {
			return nil, fail("starttls", err)
		}
	}
	if s.username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok || !hasWord(mechs, "PLAIN") {
			return nil, fail("auth", errors.New("server does not offer AUTH PLAIN"))
		}
		if err := c.Auth(gomailsmtp.PlainAuth("", s.username, s.password, s.host, false)); err != nil {
			return nil, fail("auth", err)
		}
	}
	if ctx.Err() != nil {
		return nil, fail("dial", ctx.Err())
	}
	done = true
	return &smtpConn{c: c, raw: conn}, nil
}

// transact runs MAIL, RCPT and DATA on a session and reports whether the
// session may be kept: after a delivery, or after the server refused the
// envelope and the session was reset.
func (s *SMTP) transact(ctx context.Context, sc *smtpConn, deadline time.Time, rcpts []string, msg []byte, fail func(string, error) error) (keep bool, err error) {
	if err := sc.raw.SetDeadline(deadline); err != nil {
		return false, fail("mail from", err)
	}
	stop := context.AfterFunc(ctx, func() { sc.raw.Close() })
	defer func() {
		if !stop() {
			keep = false // ctx ended: the connection is closed
		}
	}()

	// refused resets the session after the server refused a command of
	// the envelope, so that it may be kept.
	refused := func(step string, err error) (bool, error) {
		var reply *textproto.Error
		keep := errors.As(err, &reply) && sc.c.Reset() == nil
		return keep, fail(step, err)
	}
	if err := sc.c.Mail(angle(s.from.Address)); err != nil {
		return refused("mail from", err)
	}
	for _, r := range rcpts {
		if err := sc.c.Rcpt(angle(r)); err != nil {
			return refused("rcpt to", err)
		}
	}
	w, err := sc.c.Data()
	if err != nil {
		return refused("data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return false, fail("data", err)
	}
	if err := w.Close(); err != nil {
		return false, fail("data", err)
	}
	// The server has accepted the message.
	return true, nil
}

// angle returns an address as an SMTP path, <a@b>.
func angle(addr string) string {
	return (&mail.Address{Address: addr}).String()
}
