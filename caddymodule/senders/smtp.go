package senders

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
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

// SMTP sends e-mail through an SMTP server: codes as plain text (Send,
// the challenge.Sender), notifications and other mail as text and HTML
// (SendMail, the Mailer). Messages are composed with go-mail (MIME,
// RFC 2047 headers, quoted-printable UTF-8). The conversation is
// encrypted (STARTTLS or implicit TLS) unless the server is on the
// loopback interface, and each delivery, from waiting for a connection to
// the end of DATA, is bounded by Timeout.
//
// Up to 4 conversations run at once and up to 2 authenticated
// connections are kept for 30s between messages, checked with NOOP
// before reuse (a fresh one is dialed if the check fails) and closed at
// Cleanup. A failed delivery is not retried: once MAIL FROM is sent, an
// error is returned, never a second attempt.
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

	// Subject is the subject of code e-mails (mail sent with SendMail has
	// its own); non-ASCII text is RFC 2047 encoded.
	// Default: the message's own subject, in the language of the page
	// that asked ("Transfer: your answer number"), else "Confirmation
	// code".
	Subject string `json:"subject,omitempty"`

	// Timeout bounds each delivery, from waiting for a free connection
	// and dialing to the server's answer to the message. Default: 10s.
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

	pool        *smtpPool   // connections kept between messages
	stopCleanup func() bool // stops the Cleanup run at ctx's end
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
	s.pool = newSMTPPool()
	if ctx.Context != nil {
		// Caddy calls Cleanup for modules it loaded; this also lets go of
		// the connections when a sender provisioned on its own is done.
		s.stopCleanup = context.AfterFunc(ctx, func() { s.pool.close() })
	}
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

// Send delivers a code: m.Text as a plain-text e-mail to m.To, with
// Content-Language from m.Lang when set. Codes stay text-only: it is
// what every client shows, and it is the whole message.
func (s *SMTP) Send(ctx context.Context, m challenge.Message) error {
	start := time.Now()
	info, err := s.send(ctx, m)
	fields := []zap.Field{
		zap.String("to", maskTo(m)),
		zap.String("method", string(m.Method)),
		zap.String("challenge_id", m.ChallengeID),
		zap.Bool("reused_connection", info.reused),
		zap.Duration("duration", time.Since(start)),
	}
	if err != nil {
		s.logger.Error("smtp send failed", append(fields, zap.Error(err))...)
		return err
	}
	s.logger.Info("smtp sent", fields...)
	return nil
}

// send composes and delivers the code message.
func (s *SMTP) send(ctx context.Context, m challenge.Message) (deliveryInfo, error) {
	to, err := parseRecipient(m.To)
	if err != nil {
		return deliveryInfo{}, err
	}
	subject := s.Subject
	if !s.ownSubject && m.Subject != "" && !strings.ContainsAny(m.Subject, "\r\n") {
		subject = m.Subject
	}
	lang := ""
	if validLang(m.Lang) {
		lang = m.Lang
	}
	msg, err := s.compose([]*mail.Address{to}, subject, m.Text, "", lang, time.Now())
	if err != nil {
		return deliveryInfo{}, err
	}
	return s.deliver(ctx, msg.rcpts, msg.data)
}

// SendMail delivers a general e-mail (a notification, a verification
// link) as text and HTML to every recipient in one message, under the
// same timeout, TLS and connection rules as Send. An invalid Mail is
// refused before any connection is made. It never logs the subject or
// the text.
func (s *SMTP) SendMail(ctx context.Context, m Mail) error {
	start := time.Now()
	info, err := s.sendMail(ctx, m)
	masked := make([]string, len(m.To))
	for i, to := range m.To {
		if a, err := mail.ParseAddress(to); err == nil {
			to = a.Address // the display name is not logged either
		}
		masked[i] = challenge.MaskEmail(to)
	}
	fields := []zap.Field{
		zap.Strings("to", masked),
		zap.Bool("reused_connection", info.reused),
		zap.Duration("duration", time.Since(start)),
	}
	if err != nil {
		s.logger.Error("smtp mail failed", append(fields, zap.Error(err))...)
		return err
	}
	s.logger.Info("smtp mail sent", fields...)
	return nil
}

// sendMail checks, composes and delivers a Mail.
func (s *SMTP) sendMail(ctx context.Context, m Mail) (deliveryInfo, error) {
	to, err := m.check()
	if err != nil {
		return deliveryInfo{}, err
	}
	html := m.HTML
	if html == "" {
		if html, err = textToHTML(m.Lang, m.Subject, m.Text); err != nil {
			return deliveryInfo{}, fmt.Errorf("smtp: rendering html: %w", err)
		}
	}
	msg, err := s.compose(to, m.Subject, m.Text, html, m.Lang, time.Now())
	if err != nil {
		return deliveryInfo{}, err
	}
	return s.deliver(ctx, msg.rcpts, msg.data)
}

// Cleanup closes the connections kept open between messages.
func (s *SMTP) Cleanup() error {
	if s.stopCleanup != nil {
		s.stopCleanup()
	}
	if s.pool != nil {
		s.pool.close()
	}
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

// Interface guards
var (
	_ caddy.Provisioner     = (*SMTP)(nil)
	_ caddy.Validator       = (*SMTP)(nil)
	_ caddy.CleanerUpper    = (*SMTP)(nil)
	_ Mailer                = (*SMTP)(nil)
	_ caddyfile.Unmarshaler = (*SMTP)(nil)
	_ challenge.Sender      = (*SMTP)(nil)
)
