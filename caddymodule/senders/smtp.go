package senders

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
)

func init() {
	caddy.RegisterModule(SMTP{})
}

// The values of SMTP.TLS.
const (
	tlsStartTLS = "starttls"
	tlsImplicit = "implicit"
	tlsNone     = "none"
)

const defaultSubject = "Confirmation code"

// SMTP sends codes as plain-text e-mail through an SMTP server, one
// connection per message. The conversation is encrypted (STARTTLS or
// implicit TLS) unless the server is on the loopback interface, and the
// whole conversation, from dial to the end of DATA, is bounded by Timeout.
// A failed delivery is not retried.
type SMTP struct {
	// Address is the server's host:port, e.g. smtp.example:587. It is
	// required and may use `{env.*}` placeholders.
	Address string `json:"address,omitempty"`

	// From is the sender, an RFC 5322 address that may have a display
	// name, e.g. "Bank <noreply@bank.example>". It is required and may use
	// `{env.*}` placeholders.
	From string `json:"from,omitempty"`

	// Username is the AUTH PLAIN user name; empty means no authentication.
	// It may use `{env.*}` placeholders. Credentials are only sent over TLS
	// (or to localhost). Default: no authentication.
	Username string `json:"username,omitempty"`

	// Password is the AUTH PLAIN password, required with username. Use an
	// `{env.*}` placeholder rather than writing it into the config.
	Password string `json:"password,omitempty"`

	// TLS is how the connection is encrypted: "starttls" upgrades a plain
	// connection and refuses to send if the server does not offer
	// STARTTLS (port 587 style); "implicit" speaks TLS from the start
	// (port 465 style); "none" sends in clear and is only allowed when
	// the host is a loopback address or localhost. Default: "starttls".
	TLS string `json:"tls,omitempty"`

	// Subject is the e-mail subject; non-ASCII text is RFC 2047 encoded.
	// Default: the message's own subject, in the language of the page
	// that asked ("Transfer: your answer number"), else "Confirmation
	// code".
	Subject string `json:"subject,omitempty"`

	// Timeout bounds the whole delivery, from dialing to the server's
	// answer to the message. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// TLSServerName is the name the server's certificate is checked
	// against. Default: the host part of address.
	TLSServerName string `json:"tls_server_name,omitempty"`

	// TLSCAFile is a PEM file of CA certificates to trust for the server's
	// certificate instead of the system roots. Default: the system roots.
	TLSCAFile string `json:"tls_ca_file,omitempty"`

	addr       string        // Address expanded
	host       string        // host part of addr
	from       *mail.Address // From expanded and parsed
	ownSubject bool          // the operator set Subject: it wins over the message's own
	username   string
	password   string
	tlsConfig  *tls.Config
	logger     *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (SMTP) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "enumgate.senders.smtp",
		New: func() caddy.Module { return new(SMTP) },
	}
}

// Provision expands placeholders, applies defaults, parses the sender
// address and loads the TLS roots.
func (s *SMTP) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	repl := caddy.NewReplacer()

	s.addr = repl.ReplaceKnown(s.Address, "")
	s.username = repl.ReplaceKnown(s.Username, "")
	s.password = repl.ReplaceKnown(s.Password, "")
	if s.TLS == "" {
		s.TLS = tlsStartTLS
	}
	s.ownSubject = s.Subject != ""
	if s.Subject == "" {
		s.Subject = defaultSubject
	}
	if s.Timeout == 0 {
		s.Timeout = caddy.Duration(defaultSendTimeout)
	}

	if s.addr != "" {
		host, _, err := net.SplitHostPort(s.addr)
		if err != nil {
			return fmt.Errorf("smtp: address %q must be host:port: %v", s.addr, err)
		}
		s.host = host
	}

	if from := repl.ReplaceKnown(s.From, ""); from != "" {
		if strings.ContainsAny(from, "\r\n") {
			return errors.New("smtp: from contains a line break")
		}
		addr, err := mail.ParseAddress(from)
		if err != nil {
			return fmt.Errorf("smtp: invalid from address %q: %v", from, err)
		}
		s.from = addr
	}

	s.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.host}
	if s.TLSServerName != "" {
		s.tlsConfig.ServerName = s.TLSServerName
	}
	if s.TLSCAFile != "" {
		pem, err := os.ReadFile(s.TLSCAFile)
		if err != nil {
			return fmt.Errorf("smtp: reading tls_ca_file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("smtp: tls_ca_file %s holds no PEM certificates", s.TLSCAFile)
		}
		s.tlsConfig.RootCAs = pool
	}
	return nil
}

// Validate checks that the configuration is complete and that mail in
// clear only goes to the loopback interface.
func (s *SMTP) Validate() error {
	if s.Address == "" {
		return errors.New("smtp: address is required")
	}
	if s.From == "" {
		return errors.New("smtp: from is required")
	}
	if s.from == nil {
		return errors.New("smtp: from is empty after placeholder expansion")
	}
	if strings.ContainsAny(s.Subject, "\r\n") {
		return errors.New("smtp: subject contains a line break")
	}
	if s.Timeout < 0 {
		return fmt.Errorf("smtp: timeout must be positive, got %s", time.Duration(s.Timeout))
	}
	if (s.Username == "") != (s.Password == "") {
		return errors.New("smtp: username and password must be set together")
	}
	if s.Username != "" && (s.username == "" || s.password == "") {
		return errors.New("smtp: username or password is empty after placeholder expansion")
	}
	switch s.TLS {
	case tlsStartTLS, tlsImplicit:
	case tlsNone:
		if !isLoopbackHost(s.host) {
			return fmt.Errorf("smtp: tls none is only allowed for a loopback server, not %q", s.host)
		}
		// net/smtp sends PLAIN credentials in clear only to these names.
		if s.Username != "" && s.host != "localhost" && s.host != "127.0.0.1" && s.host != "::1" {
			return fmt.Errorf("smtp: with tls none, credentials are only sent to localhost, 127.0.0.1 or ::1, not %q", s.host)
		}
	default:
		return fmt.Errorf("smtp: unknown tls mode %q (want starttls, implicit or none)", s.TLS)
	}
	return nil
}

// Send delivers m.Text to m.To in one SMTP conversation.
func (s *SMTP) Send(ctx context.Context, m challenge.Message) error {
	start := time.Now()
	err := s.send(ctx, m)
	fields := []zap.Field{
		zap.String("to", maskTo(m)),
		zap.String("method", string(m.Method)),
		zap.String("challenge_id", m.ChallengeID),
		zap.Duration("duration", time.Since(start)),
	}
	if err != nil {
		s.logger.Error("smtp send failed", append(fields, zap.Error(err))...)
		return err
	}
	s.logger.Info("smtp sent", fields...)
	return nil
}

// send composes and delivers the message.
func (s *SMTP) send(ctx context.Context, m challenge.Message) error {
	if strings.ContainsAny(m.To, "\r\n") {
		return errors.New("smtp: recipient contains a line break")
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return fmt.Errorf("smtp: invalid recipient address: %v", err)
	}
	subject := s.Subject
	if !s.ownSubject && m.Subject != "" && !strings.ContainsAny(m.Subject, "\r\n") {
		subject = m.Subject
	}
	msg, err := s.compose(to, subject, m.Text, time.Now())
	if err != nil {
		return err
	}
	return s.deliver(ctx, to.Address, msg)
}

// compose builds the RFC 5322 message: headers and a quoted-printable
// UTF-8 plain-text body.
func (s *SMTP) compose(to *mail.Address, subjectText, text string, now time.Time) ([]byte, error) {
	id, err := messageID(s.from.Address)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	header("From", s.from.String())
	header("To", to.String())
	// Encoded words are at most 75 characters; fold between them so the
	// line stays short (unfolding restores the single space).
	subject := mime.QEncoding.Encode("utf-8", subjectText)
	header("Subject", strings.ReplaceAll(subject, "?= =?", "?=\r\n =?"))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", id)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")

	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

// deliver runs one SMTP conversation under a single deadline: the earlier
// of now+Timeout and ctx's deadline. Cancelling ctx aborts it.
func (s *SMTP) deliver(ctx context.Context, rcpt string, msg []byte) error {
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

	dialer := &net.Dialer{Deadline: deadline}
	var conn net.Conn
	var err error
	if s.TLS == tlsImplicit {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: s.tlsConfig}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return fail("dial", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return fail("dial", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return fail("greeting", err)
	}
	defer c.Close()

	if s.TLS == tlsStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fail("starttls", errors.New("server does not offer STARTTLS; refusing to send in clear"))
		}
		if err := c.StartTLS(s.tlsConfig); err != nil {
			return fail("starttls", err)
		}
	}
	if s.username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok || !hasWord(mechs, "PLAIN") {
			return fail("auth", errors.New("server does not offer AUTH PLAIN"))
		}
		if err := c.Auth(smtp.PlainAuth("", s.username, s.password, s.host)); err != nil {
			return fail("auth", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fail("mail from", err)
	}
	if err := c.Rcpt(rcpt); err != nil {
		return fail("rcpt to", err)
	}
	w, err := c.Data()
	if err != nil {
		return fail("data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fail("data", err)
	}
	if err := w.Close(); err != nil {
		return fail("data", err)
	}
	// The server has accepted the message: a failed QUIT must not make the
	// caller resend it.
	_ = c.Quit()
	return nil
}

// UnmarshalCaddyfile sets up the SMTP sender from Caddyfile tokens. The
// dispenser is positioned on the module name. Syntax:
//
//	smtp <host:port> {
//		from <address>
//		username <user>
//		password <password>
//		tls starttls|implicit|none
//		subject <text>
//		timeout <duration>
//		tls_server_name <name>
//		tls_ca_file <pem file>
//	}
func (s *SMTP) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume module name
	if !d.NextArg() {
		return d.Err("smtp: missing server address")
	}
	s.Address = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}

	for d.NextBlock(0) {
		directive := d.Val()
		if directive == "timeout" {
			dur, err := parseTimeout(d)
			if err != nil {
				return err
			}
			s.Timeout = dur
			continue
		}
		if directive != "from" && directive != "username" && directive != "password" &&
			directive != "tls" && directive != "subject" &&
			directive != "tls_server_name" && directive != "tls_ca_file" {
			return d.Errf("smtp: unrecognized subdirective %q", directive)
		}
		val, err := singleArg(d)
		if err != nil {
			return err
		}
		switch directive {
		case "from":
			s.From = val
		case "username":
			s.Username = val
		case "password":
			s.Password = val
		case "tls":
			if val != tlsStartTLS && val != tlsImplicit && val != tlsNone {
				return d.Errf("smtp: unknown tls mode %q (want starttls, implicit or none)", val)
			}
			s.TLS = val
		case "subject":
			if strings.ContainsAny(val, "\r\n") {
				return d.Err("smtp: subject contains a line break")
			}
			s.Subject = val
		case "tls_server_name":
			s.TLSServerName = val
		case "tls_ca_file":
			s.TLSCAFile = val
		}
	}
	return nil
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hasWord reports whether the space-separated list has word (ASCII case
// folded).
func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}

// messageID returns a fresh Message-ID in the sender's domain.
func messageID(from string) (string, error) {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	domain := "enumgate.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">", nil
}

// Interface guards
var (
	_ caddy.Provisioner     = (*SMTP)(nil)
	_ caddy.Validator       = (*SMTP)(nil)
	_ caddyfile.Unmarshaler = (*SMTP)(nil)
	_ challenge.Sender      = (*SMTP)(nil)
)
