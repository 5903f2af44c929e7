package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/enumgate/enumgate/challenge/store"
	_ "github.com/enumgate/enumgate/demo"
)

func adminFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startGateway runs a gateway with the memory store and its admin API on
// a free port, in this process, and returns the config file's path and
// the admin API's base URL.
func startGateway(t *testing.T) (config, admin string) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	port := adminFreePort(t)
	users, _ := filepath.Abs("../demo/users.json")
	config = filepath.Join(t.TempDir(), "Caddyfile")
	src := fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\tpersist_config off\n\tenumgate {\n\t\tsecret admin-test-secret-0123456789\n\t\tusers file %s\n\t}\n}\n", port, users)
	if err := os.WriteFile(config, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading the gateway: %v", err)
	}
	t.Cleanup(func() { caddy.Stop() })
	return config, fmt.Sprintf("http://127.0.0.1:%d", port)
}

// lock makes user fail one confirmation with a lockout after one failure.
func lock(t *testing.T, st store.Store, user string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	id := (user + strings.Repeat("B", 22))[:22]
	r := &store.Record{ID: id, User: user, Session: make([]byte, 32), Operation: "transfer",
		Methods: []string{"enum"}, Digest: make([]byte, 32), Created: now, Expires: now.Add(time.Minute), MaxAttempts: 3, AttemptsLeft: 3}
	o := store.Owner{User: user, Session: r.Session}
	if err := st.Create(ctx, r, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Begin(ctx, r.ID, o, store.Begin{Method: "enum", Expected: [][]byte{make([]byte, 32)}}, now); err != nil {
		t.Fatal(err)
	}
	if res, err := st.Attempt(ctx, r.ID, o, bytes.Repeat([]byte{1}, 32), store.Lockout{After: 1, For: time.Hour}, now); err != nil || res.LockedUntil.IsZero() {
		t.Fatalf("locking %s = %+v, %v", user, res, err)
	}
}

func adminDo(t *testing.T, method, url string) (int, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, m, string(raw)
}

func TestAdminAPIAndUsersCommandsUnlockInTheRunningGateway(t *testing.T) {
	config, admin := startGateway(t)
	app, err := runningApp()
	if err != nil {
		t.Fatal(err)
	}
	st := app.storeMod.(*MemoryStore).ChallengeStore()
	lock(t, st, "alice")

	status, m, raw := adminDo(t, "GET", admin+"/enumgate/users/alice")
	if status != 200 || m["user"] != "alice" || m["locked_until"] == nil || m["phone"] != "+7•••••01" || m["devices"] != 1.0 {
		t.Fatalf("GET alice = %d %s", status, raw)
	}
	if strings.Contains(raw, "+79000000001") || strings.Contains(raw, "alice@example.test") || strings.Contains(raw, "3132333435") {
		t.Fatalf("GET alice shows contact data or a key: %s", raw)
	}
	if emails, _ := m["emails"].([]any); len(emails) != 1 || strings.Contains(fmt.Sprint(emails[0]), "alice@") {
		t.Fatalf("emails = %v, want one masked address", m["emails"])
	}

	// The command reads the admin address from the config and calls it.
	out, err := runUsers(t, config, "show", "alice")
	if err != nil || !strings.Contains(out, `"locked_until"`) || !strings.Contains(out, `"devices": 1`) {
		t.Fatalf("show alice = %q, %v", out, err)
	}
	if out, err := runUsers(t, config, "unlock", "alice"); err != nil || out != "unlocked alice\n" {
		t.Fatalf("unlock alice = %q, %v", out, err)
	}
	if until, err := st.LockedUntil(context.Background(), "alice", time.Now()); err != nil || !until.IsZero() {
		t.Fatalf("alice still locked until %v (%v)", until, err)
	}
	if out, err := runUsers(t, config, "show", "alice"); err != nil || strings.Contains(out, "locked_until") {
		t.Fatalf("show alice after unlock = %q, %v", out, err)
	}
	if _, err := runUsers(t, config, "unlock", "nosuch"); err == nil || err.Error() != `no user "nosuch"` {
		t.Fatalf("unlock nosuch = %v", err)
	}
	if _, err := runUsers(t, config, "show", "nosuch"); err == nil || err.Error() != `no user "nosuch"` {
		t.Fatalf("show nosuch = %v", err)
	}

	// Through the API itself: unlock, unknown users, bad ids, methods.
	lock(t, st, "bob")
	if status, m, raw := adminDo(t, "POST", admin+"/enumgate/users/bob/unlock"); status != 200 || m["user"] != "bob" || m["unlocked"] != true {
		t.Fatalf("POST unlock bob = %d %s", status, raw)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/enumgate/users/nosuch", 404, "unknown_user"},
		{"POST", "/enumgate/users/nosuch/unlock", 404, "unknown_user"},
		{"GET", "/enumgate/users/" + strings.Repeat("a", 257), 400, "bad_request"},
		{"GET", "/enumgate/users/%ff", 400, "bad_request"},
		{"GET", "/enumgate/users/a%00b", 400, "bad_request"},
		{"GET", "/enumgate/users/", 400, "bad_request"},
		{"POST", "/enumgate/users/alice", 405, "method_not_allowed"},
		{"GET", "/enumgate/users/alice/unlock", 405, "method_not_allowed"},
		{"GET", "/enumgate/users/alice/keys", 404, "not_found"},
		{"GET", "/enumgate/", 404, "not_found"},
	} {
		if status, m, raw := adminDo(t, tc.method, admin+tc.path); status != tc.status || m["error"] != tc.code {
			t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, status, raw, tc.status, tc.code)
		}
	}
	// A user id of exactly 256 bytes is a valid id the directory does not know.
	if status, m, _ := adminDo(t, "GET", admin+"/enumgate/users/"+strings.Repeat("a", 256)); status != 404 || m["error"] != "unknown_user" {
		t.Errorf("256-byte id = %d %v", status, m)
	}
}

func TestUsersCommandsFailInOneLine(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	users, _ := filepath.Abs("../demo/users.json")
	t.Chdir(t.TempDir())
	if _, err := runUsers(t, "", "list"); err == nil || err.Error() != "no config: ./Caddyfile not found (use --config)" {
		t.Fatalf("list without ./Caddyfile = %v", err)
	}
	if _, err := runUsers(t, "", "unlock", "alice", "--config", "nowhere.json"); err == nil || err.Error() != "no config: nowhere.json not found" {
		t.Fatalf("unlock with a missing --config = %v", err)
	}
	if _, err := runUsers(t, "", "unlock"); err == nil {
		t.Fatal("unlock without a user succeeded")
	}
	write := func(name, src string) string {
		os.WriteFile(name, []byte(src), 0o600)
		return name
	}
	noApp := write("Caddyfile.noapp", "{\n\tadmin off\n}\n:0 {\n\trespond ok\n}\n")
	if _, err := runUsers(t, noApp, "list"); err == nil || !strings.Contains(err.Error(), "no enumgate app") {
		t.Fatalf("config without the app = %v", err)
	}

	// Redis down: one line, no stack trace, whichever command.
	down := write("Caddyfile.down", "{\n\tadmin off\n\tenumgate {\n\t\tsecret users-command-test-secret\n\t\tstore redis redis://127.0.0.1:1/0\n\t\tusers redis\n\t}\n}\n")
	for _, args := range [][]string{{"list"}, {"show", "alice"}, {"unlock", "alice"}} {
		_, stderr, err := runUsersRaw(t, append(args, "--config", down)...)
		if err == nil || !strings.Contains(err.Error(), "cannot reach Redis at 127.0.0.1:1") || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, ".go:") {
			t.Errorf("%v with Redis down = %v, stderr %q", args, err, stderr)
		}
	}
	downFile := write("Caddyfile.downfile", "{\n\tadmin off\n\tenumgate {\n\t\tsecret users-command-test-secret\n\t\tstore redis redis://127.0.0.1:1/0\n\t\tusers file "+users+"\n\t}\n}\n")
	if _, err := runUsers(t, downFile, "unlock", "alice"); err == nil || !strings.Contains(err.Error(), "cannot reach Redis") {
		t.Errorf("unlock with Redis down (users file) = %v", err)
	}

	// The admin endpoint down.
	gone := write("Caddyfile.gone", fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\tenumgate {\n\t\tsecret users-command-test-secret\n\t\tusers file %s\n\t}\n}\n", adminFreePort(t), users))
	if _, err := runUsers(t, gone, "unlock", "alice"); err == nil || !strings.Contains(err.Error(), "cannot reach the gateway's admin API at 127.0.0.1:") {
		t.Errorf("unlock with the gateway down = %v", err)
	}
	if _, err := runUsers(t, gone, "list"); err == nil || !strings.Contains(err.Error(), "users redis") {
		t.Errorf("list with a users file = %v", err)
	}
}

func TestSecretPlaceholdersResolveAtProvision(t *testing.T) {
	t.Setenv("ENUMGATE_TEST_SECRET", "from-the-environment-0123456789")
	t.Setenv("ENUMGATE_TEST_UNSET", "")
	file := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(file, []byte("from-a-file-0123456789"), 0o600)
	for _, tc := range []struct {
		in, want, defaulted, err string
	}{
		{"{env.ENUMGATE_TEST_SECRET}", "from-the-environment-0123456789", "", ""},
		{"{env.ENUMGATE_TEST_SECRET:demo-secret-0123456789}", "from-the-environment-0123456789", "", ""},
		{"{env.ENUMGATE_TEST_UNSET:demo-secret-0123456789}", "demo-secret-0123456789", "ENUMGATE_TEST_UNSET", ""},
		{"{env.ENUMGATE_TEST_UNSET}", "", "", "set the ENUMGATE_TEST_UNSET environment variable"},
		{"{file." + file + "}", "from-a-file-0123456789", "", ""},
		{"literal-secret-0123456789", "literal-secret-0123456789", "", ""},
	} {
		got, defaulted, err := ResolveSecret(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ResolveSecret(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want || defaulted != tc.defaulted {
			t.Errorf("ResolveSecret(%q) = %q, %q, %v; want %q, %q", tc.in, got, defaulted, err, tc.want, tc.defaulted)
		}
	}

	// The demo default is used only with a WARN naming the risk.
	core, logs := observer.New(zapcore.WarnLevel)
	a := &App{Secret: "{env.ENUMGATE_TEST_UNSET:demo-secret-do-not-use-in-production}", logger: zap.New(core)}
	if s, err := a.resolveSecrets(); err != nil || string(s[0]) != "demo-secret-do-not-use-in-production" {
		t.Fatalf("resolveSecrets = %q, %v", s, err)
	}
	if w := logs.FilterMessage(DemoSecretWarning).All(); len(w) != 1 || !strings.Contains(fmt.Sprint(w[0].ContextMap()), "forge") {
		t.Fatalf("warnings = %+v, want one %q", logs.All(), DemoSecretWarning)
	}
	core, logs = observer.New(zapcore.WarnLevel)
	a = &App{Secret: "{env.ENUMGATE_TEST_SECRET:demo-secret-do-not-use-in-production}", logger: zap.New(core)}
	if s, err := a.resolveSecrets(); err != nil || string(s[0]) != "from-the-environment-0123456789" || logs.Len() != 0 {
		t.Fatalf("with the variable set: %q, %v, logs %+v", s, err, logs.All())
	}
	for _, bad := range []App{
		{Secret: "{env.ENUMGATE_TEST_SECRET}", OldSecrets: []string{"{env.ENUMGATE_TEST_SECRET}"}},
		{Secret: "{env.ENUMGATE_TEST_SECRET}", OldSecrets: []string{"short"}},
		{Secret: "{env.ENUMGATE_TEST_SECRET}", OldSecrets: []string{"{env.ENUMGATE_TEST_UNSET}"}},
		{Secret: "{env.ENUMGATE_TEST_UNSET}"},
		{},
	} {
		bad.logger = zap.NewNop()
		if _, err := bad.resolveSecrets(); err == nil || strings.Contains(err.Error(), "from-the-environment") {
			t.Errorf("resolveSecrets(%q, %q) = %v", bad.Secret, bad.OldSecrets, err)
		}
	}
}

// TestSecretStaysOutOfExampleJSON: Caddyfile.example keeps the secret out
// of the JSON config (and so out of autosave.json and the admin API).
func TestSecretStaysOutOfExampleJSON(t *testing.T) {
	const secret = "the-real-secret-from-the-environment-42"
	t.Setenv("ENUMGATE_SECRET", secret)
	src, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": "Caddyfile.example"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cfg, []byte(secret)) {
		t.Fatalf("the adapted Caddyfile.example holds the secret:\n%s", cfg)
	}
	var c struct {
		Apps struct {
			Enumgate App `json:"enumgate"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil {
		t.Fatal(err)
	}
	if got, _, err := ResolveSecret(c.Apps.Enumgate.Secret); err != nil || got != secret {
		t.Fatalf("the example's secret %q resolves to %q, %v", c.Apps.Enumgate.Secret, got, err)
	}
	if n := bytes.Count(cfg, []byte(`{env.ENUMGATE_SECRET:`)); n != 2 {
		t.Fatalf("want the placeholder in the app and the demo, found %d:\n%s", n, cfg)
	}
}

func TestAppRefusesUnusableSenders(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	users, _ := filepath.Abs("../demo/users.json")
	for _, tc := range []struct{ sms, email, err string }{
		{`{"sender": "smtp", "address": "127.0.0.1:25", "from": "a@example.test", "tls": "none"}`, "", "SMTP sends e-mail, not SMS"},
		{`{"url": "http://127.0.0.1:1/"}`, "", `name the sender module with "sender"`},
		{"", `{"sender": "pigeon"}`, `loading email sender "pigeon"`},
		{"", `[1]`, "email: not a JSON object"},
	} {
		app := map[string]any{"secret": "sender-test-secret-0123456789", "users": map[string]string{"source": "file", "path": users}}
		if tc.sms != "" {
			app["sms"] = json.RawMessage(tc.sms)
		}
		if tc.email != "" {
			app["email"] = json.RawMessage(tc.email)
		}
		cfg, _ := json.Marshal(map[string]any{"admin": map[string]bool{"disabled": true}, "apps": map[string]any{"enumgate": app}})
		if err := caddy.Validate(mustConfig(t, cfg)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("sms %s email %s: %v, want %q", tc.sms, tc.email, err, tc.err)
		}
	}
}

func mustConfig(t *testing.T, raw []byte) *caddy.Config {
	t.Helper()
	var cfg caddy.Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

func TestAppHasSender(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	users, _ := filepath.Abs("../demo/users.json")
	base, err := quietContext()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(base)
	defer cancel()
	a := new(App)
	if err := json.Unmarshal([]byte(`{"secret": "sender-test-secret-0123456789", "users": {"source": "file", "path": "`+users+`"},
		"sms": {"sender": "webhook", "url": "http://127.0.0.1:1/"}}`), a); err != nil {
		t.Fatal(err)
	}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if !a.HasSender("enum") || !a.HasSender("sms") || a.HasSender("email") || a.HasSender("pigeon") {
		t.Fatalf("HasSender enum %v sms %v email %v pigeon %v", a.HasSender("enum"), a.HasSender("sms"), a.HasSender("email"), a.HasSender("pigeon"))
	}
}
