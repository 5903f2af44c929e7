package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/enumgate/enumgate/challenge/ocra/enroll"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runExample runs Caddyfile.example in this process on free ports and
// returns the gateway's and the demo app's base URLs.
func runExample(t *testing.T) (gw, app string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	src, err := os.ReadFile("../../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	gp, ap := freePort(t), freePort(t)
	cf := strings.NewReplacer(
		":8080", fmt.Sprintf(":%d", gp),
		":9080", fmt.Sprintf(":%d", ap),
		"demo/users.json", "../../demo/users.json",
		"{\n\tenumgate {", "{\n\tadmin off\n\tpersist_config off\n\tlog {\n\t\tlevel ERROR\n\t}\n\tenumgate {",
	).Replace(string(src))
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
	if err != nil {
		t.Fatalf("adapting Caddyfile.example: %v", err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading Caddyfile.example: %v", err)
	}
	t.Cleanup(func() { caddy.Stop() })
	return fmt.Sprintf("http://127.0.0.1:%d", gp), fmt.Sprintf("http://127.0.0.1:%d", ap)
}

func call(t *testing.T, method, url, user string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if user != "" {
		req.SetBasicAuth(user, "demo")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

// enumBinary builds cmd/enum once for the test.
func enumBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "enum")
	if out, err := exec.Command("go", "build", "-o", bin, "../enum").CombinedOutput(); err != nil {
		t.Fatalf("building cmd/enum: %v\n%s", err, out)
	}
	return bin
}

// TestExampleTransferForAlice runs the README's "done when" flow against
// Caddyfile.example: a JSON client confirms alice's transfer with the
// answer from the real cmd/enum, then another with an SMS code read from
// the demo phone.
func TestExampleTransferForAlice(t *testing.T) {
	gw, app := runExample(t)
	enum := enumBinary(t)
	transfer := map[string]string{"to": "Z123456789012", "amount": "10.00"}

	status, held := call(t, "POST", gw+"/transfer", "alice", transfer)
	if status != http.StatusUnauthorized || held["operation"] != "transfer" {
		t.Fatalf("protected transfer = %d %v", status, held)
	}
	id := held["challenge_id"].(string)
	status, m := call(t, "POST", gw+"/.enumgate/api/challenges/"+id+"/method", "alice", map[string]string{"method": "enum"})
	if status != 200 {
		t.Fatalf("method enum = %d %v", status, m)
	}
	// Transfers use E-num payment mode: the app takes the URI the page's
	// QR code carries. alice's phone is enrolled with her demo key.
	if m["mode"] != "payment" || !strings.HasPrefix(fmt.Sprint(m["uri"]), "enum:payment?") {
		t.Fatalf("method enum = %v, want payment mode with its URI", m)
	}
	key, _ := hex.DecodeString("3132333435363738393031323334353637383930313233343536373839303132")
	enrol := enroll.Enrollment{Issuer: "Demo Bank", Account: "alice", Key: key}.URI()
	appDir := t.TempDir()
	enumApp := func(args ...string) (stdout, stderr string) {
		t.Helper()
		cmd := exec.Command(enum, args...)
		cmd.Env = append(os.Environ(), "ENUM_CONFIG_DIR="+appDir)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("enum %v: %v\n%s", args, err, e.String())
		}
		return strings.TrimSpace(o.String()), strings.TrimSpace(e.String())
	}
	enumApp("enroll", enrol)
	// The bare question's answer is refused by construction.
	bare, _ := enumApp("answer", m["question"].(string))
	if status, r := call(t, "POST", gw+"/.enumgate/api/challenges/"+id+"/answer", "alice", map[string]string{"answer": bare}); status != 422 || r["error"] != "wrong_answer" {
		t.Fatalf("answer to the bare question = %d %v, want 422 wrong_answer", status, r)
	}
	answer, what := enumApp("answer", m["uri"].(string))
	if what != "payment of 10.00 to Z123456789012" {
		t.Fatalf("enum answer says it confirms %q", what)
	}
	status, done := call(t, "POST", gw+"/.enumgate/api/challenges/"+id+"/answer", "alice", map[string]string{"answer": answer})
	if status != http.StatusCreated || done["confirmed_by"] != "enum" || done["status"] != "completed" || done["operation"] != "transfer" {
		t.Fatalf("answer = %d %v", status, done)
	}

	_, held = call(t, "POST", gw+"/transfer", "alice", transfer)
	id = held["challenge_id"].(string)
	if status, m := call(t, "POST", gw+"/.enumgate/api/challenges/"+id+"/method", "alice", map[string]string{"method": "sms"}); status != 200 || m["sent_to"] != "+7•••••01" {
		t.Fatalf("method sms = %d %v", status, m)
	}
	resp, err := http.Get(app + "/phone/messages?to=%2B79000000001")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []map[string]string
	json.NewDecoder(resp.Body).Decode(&msgs)
	resp.Body.Close()
	if len(msgs) == 0 || msgs[0]["code"] == "" {
		t.Fatalf("the demo phone got no SMS: %v", msgs)
	}
	status, done = call(t, "POST", gw+"/.enumgate/api/challenges/"+id+"/answer", "alice", map[string]string{"answer": msgs[0]["code"]})
	if status != http.StatusCreated || done["confirmed_by"] != "sms" {
		t.Fatalf("sms answer = %d %v", status, done)
	}

	// Unprotected pages of the demo pass straight through; bob cannot
	// see alice's challenge.
	if status, _ := call(t, "GET", gw+"/operations", "alice", nil); status != 200 {
		t.Fatalf("GET /operations = %d", status)
	}
	_, held = call(t, "POST", gw+"/withdraw", "alice", map[string]string{"card": "4111111111111111", "amount": "5"})
	if status, _ := call(t, "GET", gw+"/.enumgate/api/challenges/"+held["challenge_id"].(string), "bob", nil); status != http.StatusNotFound {
		t.Fatalf("bob reading alice's challenge = %d", status)
	}
	if status, _ := call(t, "POST", gw+"/transfer", "", transfer); status != http.StatusUnauthorized {
		t.Fatalf("no login = %d", status)
	}
}

// TestListModulesShowsEnumgate checks the binary registers our modules.
func TestListModulesShowsEnumgate(t *testing.T) {
	want := []string{"enumgate", "http.handlers.enumgate", "http.handlers.enumgate_demo", "enumgate.stores.memory",
		"enumgate.stores.redis", "enumgate.users.file", "enumgate.users.redis", "enumgate.senders.webhook", "enumgate.senders.smtp"}
	have := map[string]bool{}
	for _, m := range caddy.Modules() {
		have[m] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("module %s not registered", w)
		}
	}
}
