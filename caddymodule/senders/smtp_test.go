package senders

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/enumgate/enumgate/challenge"
)

// emailMessage is an e-mail with a body that exercises quoted-printable:
// non-ASCII, a long line, a line starting with a dot and a bare LF.
var emailMessage = challenge.Message{
	Method:      challenge.MethodEmail,
	To:          "Alice <alice@x.org>",
	Code:        "27182818",
	Text:        "Ваш код: 27182818\n.\nUse it to confirm the transfer. " + strings.Repeat("long line ", 12) + "\n-- enumgate",
	User:        "alice",
	Operation:   "transfer",
	ChallengeID: "ch-2",
}

// readMail parses a delivered message and returns it with its decoded body.
func readMail(t *testing.T, data string) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("delivered message does not parse: %v\n%s", err, data)
	}
	if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding = %q", cte)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("body is not quoted-printable: %v", err)
	}
	return msg, strings.TrimSuffix(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n")
}

func TestSMTPStartTLSWithAuth(t *testing.T) {
	cert := newTestCert(t)
	peer := startSMTPPeer(t, peerOptions{Cert: &cert, STARTTLS: true, User: "u", Pass: "p@ss"})
	t.Setenv("ENUMGATE_TEST_SMTP_PASSWORD", "p@ss")

	s := &SMTP{
		Address:   peer.Addr,
		From:      "Bank <noreply@bank.example>",
		Username:  "u",
		Password:  "{env.ENUMGATE_TEST_SMTP_PASSWORD}",
		Subject:   "Код подтверждения",
		TLSCAFile: cert.CAFile,
	}
	logs := mustProvision(t, s)
	if s.TLS != "starttls" {
		t.Fatalf("default TLS = %q, want starttls", s.TLS)
	}
	before := time.Now().Add(-time.Second)
	if err := s.Send(context.Background(), emailMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}

	mails := peer.Mails()
	if len(mails) != 1 {
		t.Fatalf("peer got %d mails, want 1", len(mails))
	}
	got := mails[0]
	if !got.TLS || got.AuthUser != "u" {
		t.Errorf("TLS = %v, auth user = %q; want TLS and user u", got.TLS, got.AuthUser)
	}
	if got.From != "noreply@bank.example" || len(got.To) != 1 || got.To[0] != "alice@x.org" {
		t.Errorf("envelope = %q -> %q", got.From, got.To)
	}

	msg, body := readMail(t, got.Data)
	h := msg.Header
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Name != "Bank" || from[0].Address != "noreply@bank.example" {
		t.Errorf("From = %q (%v)", h.Get("From"), err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "alice@x.org" {
		t.Errorf("To = %q (%v)", h.Get("To"), err)
	}
	raw := h.Get("Subject")
	if !strings.HasPrefix(raw, "=?utf-8?q?") {
		t.Errorf("non-ASCII Subject is not RFC 2047 encoded: %q", raw)
	}
	if subj, err := new(mime.WordDecoder).DecodeHeader(raw); err != nil || subj != "Код подтверждения" {
		t.Errorf("Subject decodes to %q (%v)", subj, err)
	}
	if date, err := h.Date(); err != nil || date.Before(before) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date = %q (%v)", h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@bank.example>") {
		t.Errorf("Message-ID = %q", id)
	}
	for name, want := range map[string]string{
		"MIME-Version":   "1.0",
		"Content-Type":   "text/plain; charset=utf-8",
		"Auto-Submitted": "auto-generated",
	} {
		if v := h.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if body != emailMessage.Text {
		t.Errorf("body =\n%q\nwant\n%q", body, emailMessage.Text)
	}
	head, rawBody, _ := strings.Cut(got.Data, "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		if len(line) > 90 {
			t.Errorf("header line longer than 90 characters: %q", line)
		}
	}
	for _, line := range strings.Split(rawBody, "\r\n") {
		if len(line) > 76 {
			t.Errorf("body line longer than 76 characters: %q", line)
		}
	}

	sent := logs.FilterMessage("smtp sent").All()
	if len(sent) != 1 || sent[0].ContextMap()["to"] != challenge.MaskEmail(emailMessage.To) {
		t.Errorf("log entries = %v", logs.All())
	}
	assertNoSecrets(t, logs, nil, emailMessage)
}

func TestSMTPImplicitTLS(t *testing.T) {
	cert := newTestCert(t)
	peer := startSMTPPeer(t, peerOptions{Cert: &cert, Implicit: true})
	_, port, _ := strings.Cut(peer.Addr, ":")

	s := &SMTP{
		Address:       "localhost:" + port,
		From:          "noreply@bank.example",
		TLS:           "implicit",
		TLSServerName: "smtp.test",
		TLSCAFile:     cert.CAFile,
	}
	mustProvision(t, s)
	if err := s.Send(context.Background(), challenge.Message{Method: challenge.MethodEmail, To: "bob@y.org", Code: "1", Text: "hello"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	mails := peer.Mails()
	if len(mails) != 1 || !mails[0].TLS {
		t.Fatalf("mails = %+v, want one over TLS", mails)
	}
	msg, body := readMail(t, mails[0].Data)
	if subj := msg.Header.Get("Subject"); subj != "Confirmation code" {
		t.Errorf("default Subject = %q", subj)
	}
	if body != "hello" {
		t.Errorf("body = %q", body)
	}

	// Without a subject of the operator's, the message's own (in the
	// customer's language) is used.
	if err := s.Send(context.Background(), challenge.Message{Method: challenge.MethodEmail, To: "bob@y.org", Code: "1", Text: "привет", Subject: "Перевод: число-ответ"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msg, _ = readMail(t, peer.Mails()[1].Data)
	if subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil || subj != "Перевод: число-ответ" {
		t.Errorf("the message's own Subject = %q (%v)", subj, err)
	}
}

func TestSMTPNoneToLoopback(t *testing.T) {
	peer := startSMTPPeer(t, peerOptions{User: "u", Pass: "p"})
	s := &SMTP{Address: peer.Addr, From: "noreply@bank.example", Username: "u", Password: "p", TLS: "none"}
	mustProvision(t, s)
	if err := s.Send(context.Background(), emailMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}
	mails := peer.Mails()
	if len(mails) != 1 || mails[0].TLS || mails[0].AuthUser != "u" {
		t.Fatalf("mails = %+v, want one in clear, authenticated as u", mails)
	}
}

func TestSMTPRefusesWithoutTLS(t *testing.T) {
	cert := newTestCert(t)
	tests := []struct {
		name    string
		peer    peerOptions
		caFile  string
		wantErr string
	}{
		{
			name:    "starttls not offered",
			peer:    peerOptions{User: "u", Pass: "p"},
			caFile:  cert.CAFile,
			wantErr: "STARTTLS",
		},
		{
			name:    "untrusted certificate",
			peer:    peerOptions{Cert: &cert, STARTTLS: true, User: "u", Pass: "p"},
			caFile:  "", // system roots do not know the test CA
			wantErr: "certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := startSMTPPeer(t, tt.peer)
			s := &SMTP{Address: peer.Addr, From: "noreply@bank.example", Username: "u", Password: "p", TLSCAFile: tt.caFile}
			logs := mustProvision(t, s)
			err := s.Send(context.Background(), emailMessage)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Send error = %v, want one containing %q", err, tt.wantErr)
			}
			if n := len(peer.Mails()); n != 0 {
				t.Errorf("peer got %d mails, want 0", n)
			}
			for _, c := range peer.Commands() {
				if c == "AUTH" || c == "MAIL" {
					t.Errorf("client sent %s without TLS", c)
				}
			}
			assertNoSecrets(t, logs, err, emailMessage)
		})
	}
}

func TestSMTPAuthRejected(t *testing.T) {
	peer := startSMTPPeer(t, peerOptions{User: "u", Pass: "right"})
	s := &SMTP{Address: peer.Addr, From: "noreply@bank.example", Username: "u", Password: "wrong", TLS: "none"}
	mustProvision(t, s)
	err := s.Send(context.Background(), emailMessage)
	if err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("Send error = %v, want the 535 rejection", err)
	}
	if n := len(peer.Mails()); n != 0 {
		t.Errorf("peer got %d mails, want 0", n)
	}
}

func TestSMTPAuthNotOffered(t *testing.T) {
	peer := startSMTPPeer(t, peerOptions{})
	s := &SMTP{Address: peer.Addr, From: "noreply@bank.example", Username: "u", Password: "p", TLS: "none"}
	mustProvision(t, s)
	if err := s.Send(context.Background(), emailMessage); err == nil || !strings.Contains(err.Error(), "AUTH PLAIN") {
		t.Fatalf("Send error = %v, want one about AUTH PLAIN", err)
	}
}

func TestSMTPHeaderInjection(t *testing.T) {
	peer := startSMTPPeer(t, peerOptions{})
	s := &SMTP{Address: peer.Addr, From: "noreply@bank.example", TLS: "none"}
	mustProvision(t, s)

	for _, to := range []string{
		"alice@x.org\r\nBcc: eve@evil.example",
		"alice@x.org\nSubject: free money",
		"alice@x.org\r",
		"alice@x.org, eve@evil.example",
		"not an address",
		"",
	} {
		m := emailMessage
		m.To = to
		if err := s.Send(context.Background(), m); err == nil {
			t.Errorf("Send to %q succeeded", to)
		}
	}
	if n := peer.Conns(); n != 0 {
		t.Errorf("peer saw %d connections for refused recipients, want 0", n)
	}

	for name, bad := range map[string]*SMTP{
		"from":    {Address: peer.Addr, From: "noreply@bank.example\r\nBcc: eve@evil.example", TLS: "none"},
		"subject": {Address: peer.Addr, From: "noreply@bank.example", Subject: "code\r\nBcc: eve@evil.example", TLS: "none"},
	} {
		if _, err := provision(t, bad); err == nil || !strings.Contains(err.Error(), "line break") {
			t.Errorf("%s with a line break: error = %v", name, err)
		}
	}
}

func TestSMTPTimeout(t *testing.T) {
	peer := startSMTPPeer(t, peerOptions{Silent: true})
	s := &SMTP{Address: peer.Addr, From: "noreply@bank.example", TLS: "none", Timeout: caddy.Duration(300 * time.Millisecond)}
	logs := mustProvision(t, s)

	start := time.Now()
	err := s.Send(context.Background(), emailMessage)
	elapsed := time.Since(start)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Send error = %v, want a deadline error", err)
	}
	if elapsed < 250*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("Send took %v with a 300ms timeout", elapsed)
	}
	if len(logs.FilterMessage("smtp send failed").All()) != 1 {
		t.Errorf("log entries = %v, want one failure", logs.All())
	}
	assertNoSecrets(t, logs, err, emailMessage)
}

func TestSMTPContextCancel(t *testing.T) {
	peer := startSMTPPeer(t, peerOptions{Silent: true})
	s := &SMTP{Address: peer.Addr, From: "noreply@bank.example", TLS: "none"} // 10s default
	mustProvision(t, s)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := s.Send(ctx, emailMessage)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send error = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Send took %v after cancel", elapsed)
	}
}

func TestSMTPValidate(t *testing.T) {
	cert := newTestCert(t)
	tests := []struct {
		name    string
		s       SMTP
		wantErr string
	}{
		{name: "ok starttls", s: SMTP{Address: "smtp.example:587", From: "Bank <noreply@bank.example>"}},
		{name: "ok implicit", s: SMTP{Address: "smtp.example:465", From: "noreply@bank.example", TLS: "implicit"}},
		{name: "none localhost", s: SMTP{Address: "localhost:25", From: "noreply@bank.example", TLS: "none"}},
		{name: "none ipv6 loopback", s: SMTP{Address: "[::1]:25", From: "noreply@bank.example", TLS: "none"}},
		{name: "none 127.0.0.2", s: SMTP{Address: "127.0.0.2:25", From: "noreply@bank.example", TLS: "none"}},
		{name: "ca file", s: SMTP{Address: "smtp.example:587", From: "noreply@bank.example", TLSCAFile: cert.CAFile}},
		{name: "missing address", s: SMTP{From: "noreply@bank.example"}, wantErr: "address is required"},
		{name: "address without port", s: SMTP{Address: "smtp.example", From: "noreply@bank.example"}, wantErr: "host:port"},
		{name: "missing from", s: SMTP{Address: "smtp.example:587"}, wantErr: "from is required"},
		{name: "bad from", s: SMTP{Address: "smtp.example:587", From: "not an address"}, wantErr: "invalid from"},
		{name: "none remote", s: SMTP{Address: "smtp.example:25", From: "noreply@bank.example", TLS: "none"}, wantErr: "loopback"},
		{name: "none public ip", s: SMTP{Address: "192.0.2.1:25", From: "noreply@bank.example", TLS: "none"}, wantErr: "loopback"},
		{name: "none auth 127.0.0.2", s: SMTP{Address: "127.0.0.2:25", From: "noreply@bank.example", TLS: "none", Username: "u", Password: "p"}, wantErr: "credentials"},
		{name: "unknown tls", s: SMTP{Address: "smtp.example:587", From: "noreply@bank.example", TLS: "ssl"}, wantErr: "unknown tls mode"},
		{name: "user without password", s: SMTP{Address: "smtp.example:587", From: "noreply@bank.example", Username: "u"}, wantErr: "together"},
		{name: "unset password env", s: SMTP{Address: "smtp.example:587", From: "noreply@bank.example", Username: "u", Password: "{env.ENUMGATE_TEST_UNSET}"}, wantErr: "empty after placeholder"},
		{name: "negative timeout", s: SMTP{Address: "smtp.example:587", From: "noreply@bank.example", Timeout: -1}, wantErr: "timeout"},
		{name: "missing ca file", s: SMTP{Address: "smtp.example:587", From: "noreply@bank.example", TLSCAFile: "/nonexistent/ca.pem"}, wantErr: "tls_ca_file"},
		{name: "ca file without pem", s: SMTP{Address: "smtp.example:587", From: "noreply@bank.example", TLSCAFile: "smtp_test.go"}, wantErr: "no PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			_, err := provision(t, &s)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
