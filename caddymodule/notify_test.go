package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
)

// mailbox is a real SMTP server (emersion/go-smtp) on the loopback
// interface that keeps every message it accepts.
type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []receivedMail
	got  chan struct{}
}

// receivedMail is one accepted message: envelope and parsed content.
type receivedMail struct {
	From    string
	To      []string
	Subject string
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded
	Raw     string
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{got: make(chan struct{}, 100)}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }))
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return mb
}

type mailSession struct {
	mb   *mailbox
	from string
	to   []string
}

func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }
func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := receivedMail{From: s.from, To: s.to, Raw: string(raw)}
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.Subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		body, _ := io.ReadAll(msg.Body)
		m.Text = part("text/plain", msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), bytes.NewReader(body))
		m.HTML = part("text/html", msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), bytes.NewReader(body))
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, m)
	s.mb.mu.Unlock()
	s.mb.got <- struct{}{}
	return nil
}

// part decodes the part of type want of a body: the body itself if it
// is of that type, or the first such part of a multipart one.
func part(want, ctype, cte string, body io.Reader) string {
	mt, params, _ := mime.ParseMediaType(ctype)
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return ""
			}
			if pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); pt == want || strings.HasPrefix(pt, "multipart/") {
				return part(want, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			}
		}
	}
	if mt != want {
		return ""
	}
	if strings.EqualFold(cte, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, _ := io.ReadAll(body)
	return string(b)
}

// wait waits for n messages in all and returns them.
func (mb *mailbox) wait(t *testing.T, n int) []receivedMail {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		mb.mu.Lock()
		got := append([]receivedMail(nil), mb.msgs...)
		mb.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-mb.got:
		case <-timeout:
			t.Fatalf("the mailbox has %d messages, want %d", len(got), n)
		}
	}
}

// notifyGateway runs a gateway whose e-mail goes to the SMTP server at
// smtpAddr, with alice (an E-num device) and a transfer rule, and
// returns its base URL and app.
func notifyGateway(t *testing.T, smtpAddr string) (string, *App) {
	t.Helper()
	return notifyGatewayWith(t, fmt.Sprintf(`smtp %s {
			from "Bank <noreply@bank.example>"
			tls none
			timeout 1s
		}`, smtpAddr))
}

// notifyGatewayWith is notifyGateway with the global email option's
// arguments and block.
func notifyGatewayWith(t *testing.T, email string) (string, *App) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	users := filepath.Join(t.TempDir(), "users.json")
	os.WriteFile(users, []byte(`{"users": [{"id": "alice", "emails": ["alice@example.test"],
	  "devices": [{"name": "phone", "suite": "OCRA-1:HOTP-SHA256-8:QN08", "key": "3132333435363738393031323334353637383930313233343536373839303132"}]}]}`), 0o600)
	port := adminFreePort(t)
	src := fmt.Sprintf(`{
	admin off
	persist_config off
	log {
		level ERROR
	}
	enumgate {
		secret notify-test-secret-0123456789
		users file %s
		email %s
	}
}
http://127.0.0.1:%d {
	enumgate {
		user {http.request.header.X-User}
		methods enum
		protect transfer POST /transfer {
			amount amount
			payee to
			currency RUB
			enum_mode authorization
		}
	}
	respond "done" 201
}
`, users, email, port)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading the gateway: %v", err)
	}
	t.Cleanup(func() { caddy.Stop() })
	app, err := runningApp()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port), app
}

// customer is alice's API client.
type customer struct {
	t    *testing.T
	base string
}

func (c customer) post(path string, body any) (int, map[string]any, time.Duration) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", c.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-User", "alice")
	req.Header.Set("User-Agent", "BankApp/2.0 (notify test)")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	took := time.Since(start)
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, took
}

// transferWithAWrongAnswerFirst holds a transfer, answers it wrongly,
// then rightly, each request answered within limit; it returns the
// question and the answer.
func (c customer) transferWithAWrongAnswerFirst(limit time.Duration) (question, answer string) {
	c.t.Helper()
	check := func(what string, status, want int, took time.Duration) {
		c.t.Helper()
		if status != want || took > limit {
			c.t.Fatalf("%s = %d in %v, want %d within %v", what, status, took, want, limit)
		}
	}
	status, m, took := c.post("/transfer", map[string]string{"to": "Z123456789012", "amount": "1500.00"})
	check("protected request", status, 401, took)
	id := m["challenge_id"].(string)
	status, m, took = c.post("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "enum"})
	check("method", status, 200, took)
	question = m["question"].(string)
	s, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA256-8:QN08")
	answer, err := s.Compute([]byte("12345678901234567890123456789012"), ocra.Input{Question: question})
	if err != nil {
		c.t.Fatal(err)
	}
	wrong := "00000000"
	if answer == wrong {
		wrong = "11111111"
	}
	status, _, took = c.post("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": wrong})
	check("wrong answer", status, 422, took)
	status, _, took = c.post("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": answer})
	check("right answer", status, 201, took)
	return question, answer
}

func notified(result string) float64 {
	return testutil.ToFloat64(notificationsTotal.WithLabelValues(result))
}

func TestNotificationsMailConfirmedAndRejectedStepsInTwoLanguages(t *testing.T) {
	mb := startMailbox(t)
	base, app := notifyGateway(t, mb.addr)
	var asked sync.Map
	app.SetNotifyPrefs(func(_ context.Context, user string) (bool, bool, []string, error) {
		asked.Store(user, true)
		return true, true, []string{"alice@example.test", "Alice <alice.work@example.test>", "ALICE@example.test", "not an address"}, nil
	})
	sent := notified("sent")
	question, answer := customer{t, base}.transferWithAWrongAnswerFirst(2 * time.Second)

	msgs := mb.wait(t, 2) // wrong_answer and confirmed, each one mail to both addresses
	time.Sleep(100 * time.Millisecond)
	if got := mb.wait(t, 2); len(got) != 2 {
		t.Fatalf("%d messages, want 2", len(got))
	}
	if _, ok := asked.Load("alice"); !ok {
		t.Fatal("the preferences were not asked")
	}
	if d := notified("sent") - sent; d != 2 {
		t.Errorf("sent counted %v, want 2 (one per notification)", d)
	}
	byKind := map[string][]receivedMail{}
	for _, m := range msgs {
		kind := "rejected"
		if strings.HasPrefix(m.Subject, "Confirmed") {
			kind = "confirmed"
		}
		byKind[kind] = append(byKind[kind], m)
	}
	if len(byKind["confirmed"]) != 1 || len(byKind["rejected"]) != 1 {
		t.Fatalf("subjects: %v", byKind)
	}
	// The duplicate and the bad address get nothing.
	if to := fmt.Sprint(byKind["confirmed"][0].To); to != "[alice@example.test alice.work@example.test]" {
		t.Errorf("confirmed mail went to %v", to)
	}
	c, r := byKind["confirmed"][0], byKind["rejected"][0]
	if c.Subject != "Confirmed: Transfer / Подтверждено: Перевод" || r.Subject != "Not confirmed: Transfer / Не подтверждено: Перевод" {
		t.Errorf("subjects %q, %q", c.Subject, r.Subject)
	}
	for _, want := range []string{"An operation in your name was confirmed.", "Operation: Transfer", "Amount: RUB 1,500.00", "Recipient: Z123456789012",
		"IP address: 127.0.0.1", "Browser: BankApp/2.0 (notify test)", " UTC", "Операция от вашего имени подтверждена.", "Сумма: 1\u00a0500,00\u00a0₽", "Получатель: Z123456789012"} {
		if !strings.Contains(c.Text, want) {
			t.Errorf("the confirmed mail lacks %q:\n%s", want, c.Text)
		}
	}
	if !strings.Contains(r.Text, "A wrong answer was given") || !strings.Contains(r.Text, "введён неверный ответ") {
		t.Errorf("the rejected mail:\n%s", r.Text)
	}
	// The HTML part has each language in a section of its own.
	for _, want := range []string{`<section lang="en" dir="ltr">`, `<section lang="ru" dir="ltr">`, "Операция: Перевод"} {
		if !strings.Contains(c.HTML, want) {
			t.Errorf("the HTML part lacks %q:\n%s", want, c.HTML)
		}
	}
	for _, m := range msgs {
		if strings.Contains(m.Raw, answer) || strings.Contains(m.Raw, question) {
			t.Errorf("a notification carries the question or the answer:\n%s", m.Raw)
		}
	}

	// Switched off: nothing more is sent.
	app.SetNotifyPrefs(func(context.Context, string) (bool, bool, []string, error) {
		return false, false, []string{"alice@example.test"}, nil
	})
	customer{t, base}.transferWithAWrongAnswerFirst(2 * time.Second)
	time.Sleep(300 * time.Millisecond)
	if got := mb.wait(t, 2); len(got) != 2 {
		t.Errorf("%d messages after the switches went off", len(got))
	}
}

func TestNotificationsNeverDelayOrBreakTheCustomersRequest(t *testing.T) {
	// A mail server that accepts connections and never answers, and one
	// that is down (nothing listens).
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	down, _ := net.Listen("tcp", "127.0.0.1:0")
	downAddr := down.Addr().String()
	down.Close()

	for _, tc := range []struct{ name, addr string }{{"hanging", hang.Addr().String()}, {"down", downAddr}} {
		t.Run(tc.name, func(t *testing.T) {
			base, app := notifyGateway(t, tc.addr)
			app.SetNotifyPrefs(func(context.Context, string) (bool, bool, []string, error) {
				return true, true, []string{"alice@example.test"}, nil
			})
			failed := notified("failed")
			// Every request answers at once, though each step's mail
			// waits up to the sender's timeout (1s).
			customer{t, base}.transferWithAWrongAnswerFirst(500 * time.Millisecond)
			deadline := time.Now().Add(10 * time.Second)
			for notified("failed")-failed < 2 {
				if time.Now().After(deadline) {
					t.Fatalf("failed counted %v, want 2", notified("failed")-failed)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func TestNotificationsQueueDropsWhenFullAndPrefsFailuresCount(t *testing.T) {
	mb := startMailbox(t)
	_, app := notifyGateway(t, mb.addr)
	release := make(chan struct{})
	app.SetNotifyPrefs(func(ctx context.Context, user string) (bool, bool, []string, error) {
		if user == "broken" {
			return false, false, nil, errors.New("account service down")
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return true, true, []string{user + "@example.test"}, nil
	})
	dropped, failed := notified("dropped"), notified("failed")
	start := time.Now()
	for i := range notifyQueue + 50 {
		app.observe(challenge.Event{Kind: challenge.EventWrongAnswer, User: fmt.Sprintf("u%d", i), Operation: "transfer"})
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("observing %d steps took %v: the notifier blocks", notifyQueue+50, d)
	}
	if d := notified("dropped") - dropped; d < 49 {
		t.Fatalf("dropped counted %v, want at least 49", d)
	}
	close(release)
	// Steps that do not notify, or without a user, are never queued.
	app.observe(challenge.Event{Kind: challenge.EventIssued, User: "alice"})
	app.observe(challenge.Event{Kind: challenge.EventConfirmed})
	mb.wait(t, notifyQueue)
	app.observe(challenge.Event{Kind: challenge.EventExpired, User: "broken"})
	deadline := time.Now().Add(5 * time.Second)
	for notified("failed")-failed < 1 {
		if time.Now().After(deadline) {
			t.Fatal("a failure of the preferences is not counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNotificationsFollowTheAccountsSwitches: without preferences nothing
// is sent; with the account's (by default: confirmed and rejected
// operations, to the primary address) a wrong answer and the confirmation
// each send one.
func TestNotificationsFollowTheAccountsSwitches(t *testing.T) {
	mb := startMailbox(t)
	base, app := notifyGateway(t, mb.addr)
	prefs := app.side.prefs.Load()
	app.SetNotifyPrefs(nil)
	sent, failed, dropped := notified("sent"), notified("failed"), notified("dropped")
	customer{t, base}.transferWithAWrongAnswerFirst(2 * time.Second)
	time.Sleep(200 * time.Millisecond)
	if notified("sent") != sent || notified("failed") != failed || notified("dropped") != dropped || len(mb.wait(t, 0)) != 0 {
		t.Fatal("a notification without preferences")
	}
	if prefs == nil {
		t.Fatal("the account gives no notification preferences")
	}
	app.SetNotifyPrefs(*prefs)
	customer{t, base}.transferWithAWrongAnswerFirst(2 * time.Second)
	if got := mb.wait(t, 2); len(got) < 2 {
		t.Fatalf("notifications with the account's defaults = %d, want 2", len(got))
	}
}

func TestNotificationsGoThroughAnyEmailSenderOneMessagePerAddress(t *testing.T) {
	// The webhook sender is no senders.Mailer: each address gets a
	// challenge.Message with the text and no code.
	var mu sync.Mutex
	var posts []map[string]string
	provider := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		posts = append(posts, m)
		mu.Unlock()
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go provider.Serve(l)
	defer provider.Close()
	base, app := notifyGatewayWith(t, "webhook http://"+l.Addr().String()+"/mail")
	app.SetNotifyPrefs(func(context.Context, string) (bool, bool, []string, error) {
		return true, false, []string{"alice@example.test", "alice.work@example.test"}, nil
	})
	sent := notified("sent")
	question, answer := customer{t, base}.transferWithAWrongAnswerFirst(2 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for notified("sent")-sent < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no notification sent")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 2 || posts[0]["to"] != "alice@example.test" || posts[1]["to"] != "alice.work@example.test" {
		t.Fatalf("the provider got %v (only the confirmation notifies: rejected is off)", posts)
	}
	for _, p := range posts {
		if p["method"] != "email" || p["code"] != "" || !strings.Contains(p["text"], "Operation: Transfer") ||
			strings.Contains(p["text"], answer) || strings.Contains(p["text"], question) {
			t.Errorf("notification post = %v", p)
		}
	}
}
