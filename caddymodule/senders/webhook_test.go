package senders

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/enumgate/enumgate/challenge"
)

// testMessage has a code that is easy to spot in logs and errors, and text
// with characters a template must escape.
var testMessage = challenge.Message{
	Method:      challenge.MethodSMS,
	To:          "+79000000012",
	Code:        "48151623",
	Text:        "Code \"48151623\" confirms <transfer> — enumgate",
	User:        "alice",
	Operation:   "transfer",
	ChallengeID: "ch-1",
}

// provision provisions and validates m with a test caddy.Context and
// swaps its logger for an observer that records every level.
func provision(t *testing.T, m interface {
	caddy.Provisioner
	caddy.Validator
}) (*observer.ObservedLogs, error) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		return nil, err
	}
	core, logs := observer.New(zapcore.DebugLevel)
	switch s := m.(type) {
	case *Webhook:
		s.logger = zap.New(core)
		t.Cleanup(func() { _ = s.Cleanup() })
	case *SMTP:
		s.logger = zap.New(core)
	}
	return logs, m.Validate()
}

// mustProvision is provision that fails the test on error.
func mustProvision(t *testing.T, m interface {
	caddy.Provisioner
	caddy.Validator
}) *observer.ObservedLogs {
	t.Helper()
	logs, err := provision(t, m)
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	return logs
}

// assertNoSecrets fails if the code or the text appears in any log entry
// or in err.
func assertNoSecrets(t *testing.T, logs *observer.ObservedLogs, err error, m challenge.Message) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), m.Code) || strings.Contains(err.Error(), m.Text)) {
		t.Errorf("error leaks the code: %v", err)
	}
	for _, e := range logs.All() {
		all := e.Message
		for k, v := range e.ContextMap() {
			all += " " + k + "=" + toString(v)
		}
		if strings.Contains(all, m.Code) || strings.Contains(all, m.To) {
			t.Errorf("log entry leaks the code or the full destination: %s", all)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return ""
}

// recorder is an SMS provider that records requests.
type recorder struct {
	mu    sync.Mutex
	reqs  []*http.Request
	tries atomic.Int32
	body  []string
}

func (r *recorder) record(req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	r.body = append(r.body, string(b))
	r.tries.Add(1)
}

func TestWebhookDefaultBody(t *testing.T) {
	t.Setenv("ENUMGATE_TEST_SMS_TOKEN", "tok-123")
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	wh := &Webhook{
		URL:     srv.URL + "/send",
		Headers: map[string]string{"Authorization": "Bearer {env.ENUMGATE_TEST_SMS_TOKEN}", "X-Static": "v"},
	}
	logs := mustProvision(t, wh)
	if err := wh.Send(context.Background(), testMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}

	if n := rec.tries.Load(); n != 1 {
		t.Fatalf("provider got %d requests, want 1", n)
	}
	req := rec.reqs[0]
	if req.Method != http.MethodPost || req.URL.Path != "/send" {
		t.Errorf("request = %s %s, want POST /send", req.Method, req.URL.Path)
	}
	for name, want := range map[string]string{
		"Authorization": "Bearer tok-123",
		"X-Static":      "v",
		"Content-Type":  "application/json",
		"User-Agent":    "enumgate",
	} {
		if got := req.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	want := `{"method":"sms","to":"+79000000012","text":"Code \"48151623\" confirms <transfer> — enumgate",` +
		`"code":"48151623","user":"alice","operation":"transfer","challenge_id":"ch-1"}`
	if rec.body[0] != want {
		t.Errorf("body =\n%s\nwant\n%s", rec.body[0], want)
	}

	entries := logs.FilterMessage("webhook sent").All()
	if len(entries) != 1 {
		t.Fatalf("want one 'webhook sent' log entry, got %v", logs.All())
	}
	fields := entries[0].ContextMap()
	if fields["to"] != "+7•••••12" || fields["challenge_id"] != "ch-1" || fields["status"] != int64(202) {
		t.Errorf("log fields = %v", fields)
	}
	assertNoSecrets(t, logs, nil, testMessage)
}

func TestWebhookCustomTemplate(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
	}))
	defer srv.Close()

	tests := []struct {
		name, tmpl, contentType, want string
	}{
		{
			name: "json",
			tmpl: `{"phone": {{json .To}}, "message": {{json .Text}}}`,
			want: `{"phone": "+79000000012", "message": "Code \"48151623\" confirms <transfer> — enumgate"}`,
		},
		{
			name:        "form",
			tmpl:        `phone={{urlquery .To}}&code={{.Code}}`,
			contentType: "application/x-www-form-urlencoded",
			want:        `phone=%2B79000000012&code=48151623`,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wh := &Webhook{URL: srv.URL, BodyTemplate: tt.tmpl, ContentType: tt.contentType}
			mustProvision(t, wh)
			if err := wh.Send(context.Background(), testMessage); err != nil {
				t.Fatalf("Send: %v", err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if got := rec.body[i]; got != tt.want {
				t.Errorf("body = %s, want %s", got, tt.want)
			}
			wantCT := tt.contentType
			if wantCT == "" {
				wantCT = "application/json"
			}
			if got := rec.reqs[i].Header.Get("Content-Type"); got != wantCT {
				t.Errorf("Content-Type = %q, want %q", got, wantCT)
			}
		})
	}
}

func TestWebhookFailuresAreNotRetried(t *testing.T) {
	tests := []struct {
		name   string
		status int
	}{
		{"server error", http.StatusInternalServerError},
		{"bad gateway", http.StatusBadGateway},
		{"unauthorized", http.StatusUnauthorized},
		{"too many requests", http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec.record(r)
				w.WriteHeader(tt.status)
				// A provider echoing the message must not leak it.
				_, _ = io.WriteString(w, `{"error":"rejected","text":"`+testMessage.Code+`"}`)
			}))
			defer srv.Close()

			wh := &Webhook{URL: srv.URL}
			logs := mustProvision(t, wh)
			err := wh.Send(context.Background(), testMessage)
			if err == nil {
				t.Fatal("Send succeeded, want error")
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tt.status)) {
				t.Errorf("error %q does not name the status %d", err, tt.status)
			}
			if n := rec.tries.Load(); n != 1 {
				t.Errorf("provider got %d requests, want exactly 1", n)
			}
			assertNoSecrets(t, logs, err, testMessage)
		})
	}
}

func TestWebhookRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/send", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	wh := &Webhook{URL: srv.URL + "/send"}
	mustProvision(t, wh)
	err := wh.Send(context.Background(), testMessage)
	if err == nil || !strings.Contains(err.Error(), "302") {
		t.Fatalf("Send error = %v, want an error naming 302", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("redirect target got %d requests, want 0", n)
	}
}

func TestWebhookTimeout(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()

	wh := &Webhook{URL: srv.URL, Timeout: caddy.Duration(200 * time.Millisecond)}
	logs := mustProvision(t, wh)
	start := time.Now()
	err := wh.Send(context.Background(), testMessage)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Send succeeded, want timeout error")
	}
	if elapsed > 2*time.Second {
		t.Errorf("Send took %v with a 200ms timeout", elapsed)
	}
	if n := rec.tries.Load(); n != 1 {
		t.Errorf("provider got %d requests, want exactly 1", n)
	}
	assertNoSecrets(t, logs, err, testMessage)
}

func TestWebhookContextCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // lets the server notice the client hanging up
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()

	wh := &Webhook{URL: srv.URL}
	mustProvision(t, wh)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := wh.Send(ctx, testMessage); err == nil {
		t.Fatal("Send succeeded, want error")
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Send ignored the context: took %v", elapsed)
	}
}

func TestWebhookTransportErrorHidesURLSecrets(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now

	t.Setenv("ENUMGATE_TEST_KEY", "query-secret")
	wh := &Webhook{URL: url + "/send?key={env.ENUMGATE_TEST_KEY}"}
	logs := mustProvision(t, wh)
	err := wh.Send(context.Background(), testMessage)
	if err == nil {
		t.Fatal("Send succeeded, want error")
	}
	if strings.Contains(err.Error(), "query-secret") {
		t.Errorf("error leaks the URL's query: %v", err)
	}
	for _, e := range logs.All() {
		if strings.Contains(toString(e.ContextMap()["error"]), "query-secret") {
			t.Errorf("log leaks the URL's query: %v", e.ContextMap())
		}
	}
	assertNoSecrets(t, logs, err, testMessage)
}

func TestWebhookEmptyDestination(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rec.record(r) }))
	defer srv.Close()
	wh := &Webhook{URL: srv.URL}
	mustProvision(t, wh)
	m := testMessage
	m.To = ""
	if err := wh.Send(context.Background(), m); err == nil {
		t.Fatal("Send to nobody succeeded")
	}
	if n := rec.tries.Load(); n != 0 {
		t.Errorf("provider got %d requests, want 0", n)
	}
}

func TestWebhookValidate(t *testing.T) {
	tests := []struct {
		name    string
		wh      Webhook
		wantErr string
	}{
		{name: "ok", wh: Webhook{URL: "https://sms.example/send"}},
		{name: "http ok", wh: Webhook{URL: "http://127.0.0.1:9/send"}},
		{name: "form body", wh: Webhook{URL: "https://sms.example/", BodyTemplate: "to={{.To}}", ContentType: "application/x-www-form-urlencoded"}},
		{name: "vendor json", wh: Webhook{URL: "https://sms.example/", BodyTemplate: `{"to":{{json .To}}}`, ContentType: "application/vnd.sms+json"}},
		{name: "missing url", wh: Webhook{}, wantErr: "url is required"},
		{name: "ftp url", wh: Webhook{URL: "ftp://sms.example/"}, wantErr: "http or https"},
		{name: "no host", wh: Webhook{URL: "https:///send"}, wantErr: "no host"},
		{name: "unset env url", wh: Webhook{URL: "{env.ENUMGATE_TEST_UNSET}"}, wantErr: "scheme"},
		{name: "content-type header", wh: Webhook{URL: "https://sms.example/", Headers: map[string]string{"content-type": "text/plain"}}, wantErr: "content_type"},
		{name: "bad header name", wh: Webhook{URL: "https://sms.example/", Headers: map[string]string{"X Bad": "v"}}, wantErr: "invalid header name"},
		{name: "header line break", wh: Webhook{URL: "https://sms.example/", Headers: map[string]string{"X-A": "a\r\nX-B: b"}}, wantErr: "line break"},
		{name: "bad content type", wh: Webhook{URL: "https://sms.example/", ContentType: "json;;"}, wantErr: "content_type"},
		{name: "negative timeout", wh: Webhook{URL: "https://sms.example/", Timeout: -1}, wantErr: "timeout"},
		{name: "unescaped text", wh: Webhook{URL: "https://sms.example/", BodyTemplate: `{"text": "{{.Text}}"}`}, wantErr: "valid JSON"},
		{name: "not json", wh: Webhook{URL: "https://sms.example/", BodyTemplate: `to={{.To}}`}, wantErr: "valid JSON"},
		{name: "unknown field", wh: Webhook{URL: "https://sms.example/", BodyTemplate: `{"x":{{json .Phone}}}`}, wantErr: "body_template"},
		{name: "syntax error", wh: Webhook{URL: "https://sms.example/", BodyTemplate: `{{json .To`}, wantErr: "invalid body_template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wh := tt.wh
			_, err := provision(t, &wh)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWebhookDefaults(t *testing.T) {
	wh := &Webhook{URL: "https://sms.example/send"}
	mustProvision(t, wh)
	if wh.ContentType != "application/json" {
		t.Errorf("ContentType = %q", wh.ContentType)
	}
	if time.Duration(wh.Timeout) != 10*time.Second || wh.client.Timeout != 10*time.Second {
		t.Errorf("Timeout = %v, client timeout %v", time.Duration(wh.Timeout), wh.client.Timeout)
	}
	if wh.client.CheckRedirect == nil {
		t.Error("client follows redirects")
	}
}
