package senders

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCert is a self-signed certificate for 127.0.0.1, localhost and
// smtp.test, with its PEM written to CAFile.
type testCert struct {
	Cert   tls.Certificate
	CAFile string
}

func newTestCert(t *testing.T) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "enumgate test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost", "smtp.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testCert{Cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, CAFile: caFile}
}

// peerOptions configure a smtpPeer.
type peerOptions struct {
	// Cert is the server certificate for STARTTLS or implicit TLS.
	Cert *testCert
	// STARTTLS advertises STARTTLS (needs Cert).
	STARTTLS bool
	// Implicit speaks TLS from the first byte (needs Cert).
	Implicit bool
	// User and Pass, when set, advertise AUTH PLAIN and are the only
	// accepted credentials.
	User, Pass string
	// Silent accepts connections and never says anything.
	Silent bool
}

// peerMail is one message the peer accepted, or a session's record.
type peerMail struct {
	TLS      bool   // the message came over TLS
	AuthUser string // the user that authenticated, if any
	From     string // MAIL FROM path
	To       []string
	Data     string // DATA content, dot-unstuffed, CRLF line ends
}

// smtpPeer is a minimal real SMTP server on 127.0.0.1 for tests: greeting,
// EHLO/HELO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
type smtpPeer struct {
	t    *testing.T
	opts peerOptions
	ln   net.Listener
	Addr string

	mu       sync.Mutex
	mails    []peerMail
	commands []string // every command verb seen, in order
	conns    int
	wg       sync.WaitGroup
}

func startSMTPPeer(t *testing.T, opts peerOptions) *smtpPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Implicit {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{opts.Cert.Cert}})
	}
	p := &smtpPeer{t: t, opts: opts, ln: ln, Addr: ln.Addr().String()}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

// Mails returns the messages accepted so far.
func (p *smtpPeer) Mails() []peerMail {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]peerMail(nil), p.mails...)
}

// Commands returns the command verbs seen so far.
func (p *smtpPeer) Commands() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.commands...)
}

// Conns returns how many connections were accepted.
func (p *smtpPeer) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

func (p *smtpPeer) serve() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns++
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer conn.Close()
			// Never hang a test: a session lasts at most 10s.
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			if p.opts.Silent {
				_, _ = io.Copy(io.Discard, conn)
				return
			}
			p.session(conn)
		}()
	}
}

func (p *smtpPeer) session(conn net.Conn) {
	text := textproto.NewConn(conn)
	_, isTLS := conn.(*tls.Conn)
	var cur peerMail
	var authUser string

	reply := func(lines ...string) bool {
		for _, l := range lines {
			if err := text.PrintfLine("%s", l); err != nil {
				return false
			}
		}
		return true
	}
	if !reply("220 peer.test ESMTP enumgate-test") {
		return
	}
	for {
		line, err := text.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		p.mu.Lock()
		p.commands = append(p.commands, verb)
		p.mu.Unlock()

		switch verb {
		case "EHLO":
			lines := []string{"250-peer.test greets " + arg, "250-8BITMIME"}
			if p.opts.STARTTLS && !isTLS {
				lines = append(lines, "250-STARTTLS")
			}
			if p.opts.User != "" {
				lines = append(lines, "250-AUTH PLAIN")
			}
			lines = append(lines, "250 SIZE 1048576")
			if !reply(lines...) {
				return
			}
		case "HELO":
			reply("250 peer.test")
		case "STARTTLS":
			if !p.opts.STARTTLS || isTLS {
				reply("502 5.5.1 not offered")
				continue
			}
			reply("220 2.0.0 ready to start TLS")
			tc := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{p.opts.Cert.Cert}})
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, isTLS = tc, true
			text = textproto.NewConn(tc)
			cur, authUser = peerMail{}, ""
		case "AUTH":
			mech, initial, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") || p.opts.User == "" {
				reply("504 5.5.4 mechanism not supported")
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(initial)
			parts := strings.Split(string(raw), "\x00")
			if err != nil || len(parts) != 3 || parts[1] != p.opts.User || parts[2] != p.opts.Pass {
				reply("535 5.7.8 authentication failed")
				continue
			}
			authUser = parts[1]
			reply("235 2.7.0 authenticated")
		case "MAIL":
			if p.opts.User != "" && authUser == "" {
				reply("530 5.7.0 authentication required")
				continue
			}
			cur = peerMail{TLS: isTLS, AuthUser: authUser, From: pathArg(arg, "FROM:")}
			reply("250 2.1.0 ok")
		case "RCPT":
			cur.To = append(cur.To, pathArg(arg, "TO:"))
			reply("250 2.1.5 ok")
		case "DATA":
			if cur.From == "" || len(cur.To) == 0 {
				reply("503 5.5.1 need MAIL and RCPT first")
				continue
			}
			reply("354 end data with <CR><LF>.<CR><LF>")
			data, err := readDot(text.Reader.R)
			if err != nil {
				return
			}
			cur.Data = data
			p.mu.Lock()
			p.mails = append(p.mails, cur)
			p.mu.Unlock()
			cur = peerMail{}
			reply("250 2.0.0 queued")
		case "RSET":
			cur = peerMail{}
			reply("250 2.0.0 ok")
		case "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 command not recognized")
		}
	}
}

// pathArg returns the address of "FROM:<a@b> PARAMS" (prefix FROM:) or
// "TO:<a@b>" (prefix TO:).
func pathArg(arg, prefix string) string {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return ""
	}
	path, _, _ := strings.Cut(arg[len(prefix):], " ")
	return strings.Trim(path, "<>")
}

// readDot reads DATA up to the lone "." line, undoing dot-stuffing and
// keeping CRLF line ends exactly as sent.
func readDot(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if line == ".\r\n" {
			return b.String(), nil
		}
		b.WriteString(strings.TrimPrefix(line, "."))
	}
}
