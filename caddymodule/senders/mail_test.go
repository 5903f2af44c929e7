package senders

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap/zaptest/observer"

	"github.com/enumgate/enumgate/challenge"
)

// notification is a Mail whose text needs escaping in HTML.
var notification = Mail{
	To:      []string{"Алиса <alice@x.org>", "alice.work@y.org", "ALICE@x.org"},
	Subject: "Перевод подтверждён",
	Text:    "Перевод 100.00 RUB получателю Z•••34 подтверждён.\nВремя: 2026-05-01 10:00 UTC\n\nНе вы? <script>alert(1)</script> & \"позвоните\" нам.",
	Lang:    "ru",
}

// mailPart is one decoded MIME part.
type mailPart struct {
	ContentType string
	Body        string // decoded, CRLF turned into LF
}

// readMultipart parses a delivered multipart/alternative message and
// returns its headers and decoded parts.
func readMultipart(t *testing.T, data string) (mail.Header, []mailPart) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("delivered message does not parse: %v\n%s", err, data)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	var parts []mailPart
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading parts: %v", err)
		}
		if cte := p.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Fatalf("part Content-Transfer-Encoding = %q", cte)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatalf("part is not quoted-printable: %v", err)
		}
		parts = append(parts, mailPart{p.Header.Get("Content-Type"), strings.ReplaceAll(string(body), "\r\n", "\n")})
	}
	return msg.Header, parts
}

// tags matches HTML tags, to read the text of a generated page.
var tags = regexp.MustCompile(`<[^>]*>`)

func TestSMTPSendMailTextAndHTML(t *testing.T) {
	cert := newTestCert(t)
	srv := startMailServer(t, mailServerOptions{Cert: &cert, STARTTLS: true, User: "u", Pass: "p@ss"})
	s := &SMTP{Address: srv.Addr, From: "Bank <noreply@bank.example>", Username: "u", Password: "p@ss", TLSCAFile: cert.CAFile}
	logs := mustProvision(t, s)

	before := time.Now().Add(-time.Second)
	if err := s.SendMail(context.Background(), notification); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("server got %d mails, want 1", len(mails))
	}
	got := mails[0]
	if !got.TLS || got.AuthUser != "u" || got.From != "noreply@bank.example" {
		t.Errorf("TLS = %v, user = %q, from = %q", got.TLS, got.AuthUser, got.From)
	}
	// ALICE@x.org is alice@x.org again: one copy per address.
	if strings.Join(got.To, " ") != "alice@x.org alice.work@y.org" {
		t.Errorf("envelope recipients = %q", got.To)
	}

	h, parts := readMultipart(t, got.Data)
	if to, err := h.AddressList("To"); err != nil || len(to) != 2 || to[0].Name != "Алиса" || to[1].Address != "alice.work@y.org" {
		t.Errorf("To = %q (%v)", h.Get("To"), err)
	}
	if subj, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); err != nil || subj != notification.Subject {
		t.Errorf("Subject decodes to %q (%v)", subj, err)
	}
	if date, err := h.Date(); err != nil || date.Before(before) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date = %q (%v)", h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !regexp.MustCompile(`^<[0-9a-f]{32}@bank\.example>$`).MatchString(id) {
		t.Errorf("Message-ID = %q", id)
	}
	for name, want := range map[string]string{
		"MIME-Version":     "1.0",
		"Content-Language": "ru",
		"Auto-Submitted":   "auto-generated",
		"User-Agent":       "", // no advertisement of the library
	} {
		if v := h.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}

	if len(parts) != 2 || parts[0].ContentType != "text/plain; charset=utf-8" || parts[1].ContentType != "text/html; charset=utf-8" {
		t.Fatalf("parts = %+v, want text/plain then text/html", parts)
	}
	if text := strings.TrimSuffix(parts[0].Body, "\n"); text != notification.Text {
		t.Errorf("text part =\n%q\nwant\n%q", text, notification.Text)
	}
	page := parts[1].Body
	for _, want := range []string{
		`<html lang="ru">`,
		"<title>" + notification.Subject + "</title>",
		`<meta charset="utf-8">`,
		"&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;позвоните&#34;",
		"<p>Перевод 100.00 RUB получателю Z•••34 подтверждён.<br>\nВремя: 2026-05-01 10:00 UTC</p>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("html part lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Errorf("html part carries the text's markup unescaped:\n%s", page)
	}
	if n := strings.Count(page, "<p>"); n != 2 {
		t.Errorf("html part has %d paragraphs, want 2", n)
	}
	// The page says what the text says, no more, no less.
	_, body, _ := strings.Cut(page, "<main")
	words := strings.Fields(html.UnescapeString(tags.ReplaceAllString("<main"+body, " ")))
	if got, want := strings.Join(words, " "), strings.Join(strings.Fields(notification.Text), " "); got != want {
		t.Errorf("html text =\n%q\nwant\n%q", got, want)
	}

	sent := logs.FilterMessage("smtp mail sent").All()
	if len(sent) != 1 {
		t.Fatalf("log entries = %v", logs.All())
	}
	assertMailNotLogged(t, logs, notification)
}

// assertMailNotLogged fails if a log entry carries the subject, the text
// or a full recipient address.
func assertMailNotLogged(t *testing.T, logs *observer.ObservedLogs, m Mail) {
	t.Helper()
	for _, e := range logs.All() {
		all := fmt.Sprint(e.Message, e.ContextMap())
		for _, secret := range append([]string{m.Subject, m.Text}, m.To...) {
			if strings.Contains(all, secret) {
				t.Errorf("log entry carries %q: %s", secret, all)
			}
		}
	}
}

func TestSMTPSendMailOwnHTML(t *testing.T) {
	srv := startMailServer(t, mailServerOptions{})
	s := &SMTP{Address: srv.Addr, From: "noreply@bank.example", TLS: "none"}
	mustProvision(t, s)
	own := "<!DOCTYPE html>\n<html lang=\"en\"><body><h1>Sign-in</h1><p><a href=\"https://bank.example/v?t=1&amp;u=2\">Verify</a></p></body></html>"
	m := Mail{To: []string{"bob@y.org"}, Subject: "Verify your address", Text: "Open https://bank.example/v?t=1&u=2", HTML: own}
	if err := s.SendMail(context.Background(), m); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	h, parts := readMultipart(t, srv.Mails()[0].Data)
	if len(parts) != 2 || strings.TrimSuffix(parts[1].Body, "\n") != own {
		t.Errorf("parts = %+v, want the caller's HTML verbatim", parts)
	}
	if v := h.Get("Content-Language"); v != "" {
		t.Errorf("Content-Language = %q without a Lang", v)
	}
}

func TestSMTPSendMailRefusesBadMail(t *testing.T) {
	srv := startMailServer(t, mailServerOptions{})
	s := &SMTP{Address: srv.Addr, From: "noreply@bank.example", TLS: "none"}
	mustProvision(t, s)
	ok := Mail{To: []string{"bob@y.org"}, Subject: "Hi", Text: "Hello"}
	with := func(f func(*Mail)) Mail {
		m := ok
		m.To = append([]string(nil), ok.To...)
		f(&m)
		return m
	}
	tests := []struct {
		name    string
		m       Mail
		wantErr string
	}{
		{"no recipient", with(func(m *Mail) { m.To = nil }), "no recipient"},
		{"too many recipients", with(func(m *Mail) {
			m.To = nil
			for i := range 11 {
				m.To = append(m.To, fmt.Sprintf("u%d@y.org", i))
			}
		}), "at most 10"},
		{"header injection in a recipient", with(func(m *Mail) { m.To = []string{"bob@y.org\r\nBcc: eve@evil.example"} }), "line break"},
		{"list in one recipient", with(func(m *Mail) { m.To = []string{"bob@y.org, eve@evil.example"} }), "invalid recipient"},
		{"not an address", with(func(m *Mail) { m.To = []string{"bob"} }), "invalid recipient"},
		{"no subject", with(func(m *Mail) { m.Subject = "" }), "subject is required"},
		{"header injection in the subject", with(func(m *Mail) { m.Subject = "Hi\nBcc: eve@evil.example" }), "line break"},
		{"long subject", with(func(m *Mail) { m.Subject = strings.Repeat("s", 257) }), "subject is longer"},
		{"no text", with(func(m *Mail) { m.Text = "" }), "text is required"},
		{"large text", with(func(m *Mail) { m.Text = strings.Repeat("t", 64<<10+1) }), "text is larger"},
		{"large html", with(func(m *Mail) { m.HTML = strings.Repeat("h", 256<<10+1) }), "html is larger"},
		{"invalid UTF-8", with(func(m *Mail) { m.Text = "\xff" }), "UTF-8"},
		{"bad lang", with(func(m *Mail) { m.Lang = "ru\r\nBcc: eve@evil.example" }), "language tag"},
		{"lang with underscore", with(func(m *Mail) { m.Lang = "en_US" }), "language tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SendMail(context.Background(), tt.m)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("SendMail error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if n := srv.Conns(); n != 0 {
		t.Errorf("server saw %d connections for refused mail, want 0", n)
	}
	if err := s.SendMail(context.Background(), ok); err != nil {
		t.Errorf("the valid mail: %v", err)
	}
}

func TestSMTPCodeMailContentLanguage(t *testing.T) {
	srv := startMailServer(t, mailServerOptions{})
	s := &SMTP{Address: srv.Addr, From: "noreply@bank.example", TLS: "none"}
	mustProvision(t, s)
	for _, tt := range []struct{ lang, want string }{
		{"ru", "ru"},
		{"pt-BR", "pt-BR"},
		{"", ""},
		{"ru\r\nBcc: eve@evil.example", ""}, // not a tag: left out, the code still goes
	} {
		m := emailMessage
		m.Lang = tt.lang
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatalf("Send with lang %q: %v", tt.lang, err)
		}
		mails := srv.Mails()
		msg, body := readMail(t, mails[len(mails)-1].Data)
		if v := msg.Header.Get("Content-Language"); v != tt.want {
			t.Errorf("lang %q: Content-Language = %q, want %q", tt.lang, v, tt.want)
		}
		if body != emailMessage.Text {
			t.Errorf("lang %q: body = %q", tt.lang, body)
		}
		if strings.Contains(mails[len(mails)-1].Data, "Bcc") {
			t.Errorf("lang %q reached the headers", tt.lang)
		}
	}
}

func TestSMTPReusesOneConnection(t *testing.T) {
	cert := newTestCert(t)
	tests := []struct {
		name string
		opts mailServerOptions
		tls  string
	}{
		{"starttls with auth", mailServerOptions{Cert: &cert, STARTTLS: true, User: "u", Pass: "p"}, "starttls"},
		{"implicit tls", mailServerOptions{Cert: &cert, Implicit: true}, "implicit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startMailServer(t, tt.opts)
			s := &SMTP{Address: srv.Addr, From: "noreply@bank.example", TLS: tt.tls, TLSCAFile: cert.CAFile}
			if tt.opts.User != "" {
				s.Username, s.Password = tt.opts.User, tt.opts.Pass
			}
			logs := mustProvision(t, s)

			const n = 6
			for i := range n {
				var err error
				if i%2 == 0 {
					m := emailMessage
					m.Text = fmt.Sprintf("code mail %d", i)
					err = s.Send(context.Background(), m)
				} else {
					err = s.SendMail(context.Background(), Mail{To: []string{"bob@y.org"}, Subject: fmt.Sprintf("notification %d", i), Text: "hello"})
				}
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			if c := srv.Conns(); c != 1 {
				t.Errorf("%d messages took %d connections, want 1", n, c)
			}
			mails := srv.Mails()
			if len(mails) != n {
				t.Fatalf("server got %d mails, want %d", len(mails), n)
			}
			for i, m := range mails {
				if !m.TLS || m.AuthUser != tt.opts.User {
					t.Errorf("mail %d: TLS = %v, user = %q", i, m.TLS, m.AuthUser)
				}
			}
			var reused []bool
			for _, e := range logs.All() {
				reused = append(reused, e.ContextMap()["reused_connection"].(bool))
			}
			if fmt.Sprint(reused) != "[false true true true true true]" {
				t.Errorf("reused_connection in the logs = %v", reused)
			}

			// Cleanup lets go of the kept connection.
			if err := s.Cleanup(); err != nil {
				t.Fatal(err)
			}
			srv.waitOpen(t, 0)
		})
	}
}

func TestSMTPConcurrentSends(t *testing.T) {
	srv := startMailServer(t, mailServerOptions{User: "u", Pass: "p"})
	s := &SMTP{Address: srv.Addr, From: "noreply@bank.example", TLS: "none", Username: "u", Password: "p"}
	mustProvision(t, s)

	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if i%2 == 0 {
				m := emailMessage
				m.Text = fmt.Sprintf("message %02d", i)
				errs <- s.Send(context.Background(), m)
				return
			}
			errs <- s.SendMail(context.Background(), Mail{To: []string{"bob@y.org"}, Subject: "n", Text: fmt.Sprintf("message %02d", i)})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("send: %v", err)
		}
	}
	seen := map[string]int{}
	for _, m := range srv.Mails() {
		seen[regexp.MustCompile(`message \d\d`).FindString(m.Data)]++
	}
	for i := range n {
		if c := seen[fmt.Sprintf("message %02d", i)]; c != 1 {
			t.Errorf("message %02d arrived %d times, want once", i, c)
		}
	}
	if p := srv.PeakInflight(); p > smtpMaxConns {
		t.Errorf("%d transactions at once, want at most %d", p, smtpMaxConns)
	}
	if c := s.pool.idleCount(); c > smtpMaxIdle {
		t.Errorf("%d connections kept, want at most %d", c, smtpMaxIdle)
	}
	t.Logf("%d messages over %d connections", n, srv.Conns())
}

func TestSMTPServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	s := &SMTP{Address: addr, From: "noreply@bank.example", TLS: "none"}
	logs := mustProvision(t, s)
	start := time.Now()
	err = s.Send(context.Background(), emailMessage)
	if err == nil || !strings.Contains(err.Error(), "smtp "+addr+": dial:") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Send error = %v, want a dial error naming %s", err, addr)
	}
	if err := s.SendMail(context.Background(), notification); err == nil || !strings.Contains(err.Error(), "dial") {
		t.Fatalf("SendMail error = %v, want a dial error", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("failing took %v, want well under a second", elapsed)
	}
	if n := len(logs.FilterMessage("smtp send failed").All()) + len(logs.FilterMessage("smtp mail failed").All()); n != 2 {
		t.Errorf("log entries = %v, want two failures", logs.All())
	}
	assertNoSecrets(t, logs, err, emailMessage)
}

func TestSMTPReconnectsWhenTheServerDroppedAKeptConnection(t *testing.T) {
	srv := startMailServer(t, mailServerOptions{})
	s := &SMTP{Address: srv.Addr, From: "noreply@bank.example", TLS: "none"}
	logs := mustProvision(t, s)

	first, second := emailMessage, emailMessage
	first.Text, second.Text = "first", "second"
	if err := s.Send(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	srv.DropAll()
	srv.waitOpen(t, 0)
	if err := s.Send(context.Background(), second); err != nil {
		t.Fatalf("Send after the server dropped the kept connection: %v", err)
	}
	if c := srv.Conns(); c != 2 {
		t.Errorf("connections = %d, want 2 (the dropped one and a fresh one)", c)
	}
	var bodies []string
	for _, m := range srv.Mails() {
		_, body := readMail(t, m.Data)
		bodies = append(bodies, body)
	}
	if strings.Join(bodies, " ") != "first second" {
		t.Errorf("server got %q, want each message once", bodies)
	}
	if e := logs.All(); len(e) != 2 || e[1].ContextMap()["reused_connection"] != false {
		t.Errorf("log entries = %v, want the second on a fresh connection", e)
	}
}

func TestSMTPNeverResendsAfterDATA(t *testing.T) {
	srv := startMailServer(t, mailServerOptions{})
	s := &SMTP{Address: srv.Addr, From: "noreply@bank.example", TLS: "none"}
	mustProvision(t, s)

	warmup, lost, next := emailMessage, emailMessage, emailMessage
	warmup.Text, lost.Text, next.Text = "warmup", "lost reply", "next"
	if err := s.Send(context.Background(), warmup); err != nil {
		t.Fatal(err)
	}
	// The kept connection passes its check, the server takes the message
	// and hangs up before saying so: the sender cannot know, so it must
	// report a failure and not send it again.
	srv.DropInNextData()
	err := s.Send(context.Background(), lost)
	if err == nil || !strings.Contains(err.Error(), ": data: ") {
		t.Fatalf("Send error = %v, want a data error", err)
	}
	if err := s.Send(context.Background(), next); err != nil {
		t.Fatalf("the next Send: %v", err)
	}
	var bodies []string
	for _, m := range srv.Mails() {
		_, body := readMail(t, m.Data)
		bodies = append(bodies, body)
	}
	if strings.Join(bodies, "|") != "warmup|lost reply|next" {
		t.Errorf("server got %q, want each message exactly once", bodies)
	}
}

func TestSMTPRefusedRecipientKeepsTheConnection(t *testing.T) {
	srv := startMailServer(t, mailServerOptions{})
	s := &SMTP{Address: srv.Addr, From: "noreply@bank.example", TLS: "none"}
	mustProvision(t, s)

	err := s.SendMail(context.Background(), Mail{To: []string{"bob@y.org", "refused@x.org"}, Subject: "s", Text: "t"})
	if err == nil || !strings.Contains(err.Error(), "rcpt to") || !strings.Contains(err.Error(), "550") {
		t.Fatalf("SendMail error = %v, want the 550 for the refused recipient", err)
	}
	if err := s.SendMail(context.Background(), Mail{To: []string{"bob@y.org"}, Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	if m := srv.Mails(); len(m) != 1 || len(m[0].To) != 1 {
		t.Errorf("mails = %+v, want only the second, to bob", m)
	}
	if c := srv.Conns(); c != 1 {
		t.Errorf("connections = %d, want 1 (reset after the refusal, then reused)", c)
	}
}

func TestSMTPBoundsConversationsAtOnce(t *testing.T) {
	peer := startSMTPPeer(t, peerOptions{Silent: true})
	s := &SMTP{Address: peer.Addr, From: "noreply@bank.example", TLS: "none", Timeout: caddy.Duration(5 * time.Second)}
	mustProvision(t, s)

	// More deliveries than connections, all stuck on a silent server.
	ctx, cancel := context.WithCancel(context.Background())
	const n = smtpMaxConns + 2
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- s.Send(ctx, emailMessage) })
	}
	for deadline := time.Now().Add(2 * time.Second); peer.Conns() < smtpMaxConns && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for a connection too many
	if c := peer.Conns(); c != smtpMaxConns {
		t.Errorf("%d connections at once, want %d", c, smtpMaxConns)
	}

	// A delivery that cannot get a connection fails at its own deadline.
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	err := s.Send(short, emailMessage)
	timedOut := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
	if !timedOut || !strings.Contains(err.Error(), "wait for a connection") {
		t.Errorf("Send while all connections are busy: %v, want a deadline error while waiting", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("waiting took %v with a 200ms deadline", elapsed)
	}

	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("stuck Send after cancel: %v, want context.Canceled", err)
		}
	}
}

func TestTextToHTML(t *testing.T) {
	tests := []struct {
		name, lang, title, text string
		want                    []string
	}{
		{"paragraphs and line breaks", "en", "T", "a\nb\n\nc", []string{"<p>a<br>\nb</p>\n<p>c</p>"}},
		{"CRLF and extra blank lines", "", "T", "a\r\n\r\n\r\n\r\nb\r\n", []string{"<p>a</p>\n<p>b</p>", "<html>"}},
		{"markup in the text", "en", "<b>", "<a href=x>&amp;</a>", []string{"<title>&lt;b&gt;</title>", "<p>&lt;a href=x&gt;&amp;amp;&lt;/a&gt;</p>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := textToHTML(tt.lang, tt.title, tt.text)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("html lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// FuzzTextToHTML checks that no text can bring markup into the page and
// that the page keeps every word of the text (html/template turns NUL
// into U+FFFD).
func FuzzTextToHTML(f *testing.F) {
	f.Add("Перевод подтверждён.\n\n<script>alert(1)</script> & \"x\"")
	f.Add("a\r\nb\n\n\nc")
	f.Add("</p></main></body><img src=x onerror=alert(1)>")
	f.Fuzz(func(t *testing.T, text string) {
		page, err := textToHTML("en", "t", text)
		if err != nil {
			t.Fatal(err)
		}
		_, body, _ := strings.Cut(page, "<main style=\"max-width:40em\">\n")
		body, _, _ = strings.Cut(body, "</main>")
		bare := strings.NewReplacer("<p>", "", "</p>", "", "<br>", "").Replace(body)
		if strings.ContainsAny(bare, "<>") {
			t.Fatalf("markup from the text reached the page:\n%s", page)
		}
		if got, want := strings.Fields(html.UnescapeString(bare)), strings.Fields(strings.ReplaceAll(text, "\x00", "\uFFFD")); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("page words %q, text words %q", got, want)
		}
	})
}

// Interface guard: the SMTP sender sends codes and general mail.
var (
	_ challenge.Sender = (*SMTP)(nil)
	_ Mailer           = (*SMTP)(nil)
)

func TestSMTPCancelledSendKeepsTheKeptConnection(t *testing.T) {
	srv := startMailServer(t, mailServerOptions{})
	s := &SMTP{Address: srv.Addr, From: "noreply@bank.example", TLS: "none"}
	mustProvision(t, s)
	if err := s.Send(context.Background(), emailMessage); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Send(ctx, emailMessage); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context: %v, want context.Canceled", err)
	}
	if err := s.Send(context.Background(), emailMessage); err != nil {
		t.Fatal(err)
	}
	if c, m := srv.Conns(), len(srv.Mails()); c != 1 || m != 2 {
		t.Errorf("connections = %d, mails = %d; want 1 and 2", c, m)
	}
}
