package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/spf13/cobra"
)

// runRecovery runs `enumgate recovery ARGS --config CONFIG`.
func runRecovery(t *testing.T, config string, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "recovery"}
	recoveryCobra(root)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append(args, "--config", config, "--adapter", "caddyfile"))
	err := root.Execute()
	if err != nil && errOut.String() != "enumgate: "+err.Error()+"\n" {
		t.Errorf("recovery %v: stderr = %q, want one line", args, errOut.String())
	}
	return out.String(), err
}

// TestLostDeviceRecoveryGoesThroughTheOperator: the customer opens a
// request; only the operator closes it (admin API and command), and with
// --reset-device the customer's device stops working until they enrol
// anew.
func TestLostDeviceRecoveryGoesThroughTheOperator(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	port, site := adminFreePort(t), adminFreePort(t)
	users, _ := filepath.Abs("../demo/users.json")
	config := filepath.Join(t.TempDir(), "Caddyfile")
	src := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	enumgate {
		secret recovery-test-secret-0123456789
		users file %s
	}
}
http://127.0.0.1:%d {
	enumgate {
		user {http.request.header.X-User}
		protect transfer POST /transfer
	}
	respond "app"
}
`, port, users, site)
	if err := os.WriteFile(config, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caddy.Stop() })
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", site, path), strings.NewReader(body))
		req.Header.Set("X-User", "alice")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}

	status, rc := call("POST", "/.enumgate/api/account/recovery", `{"reason":"my phone was stolen"}`)
	if status != 201 || rc["state"] != "open" {
		t.Fatalf("open recovery = %d %v", status, rc)
	}
	id := rc["recovery_id"].(string)
	if status, m := call("POST", "/.enumgate/api/account/recovery", `{"reason":"again"}`); status != 409 || m["error"] != "recovery_open" {
		t.Fatalf("a second open request = %d %v", status, m)
	}
	// A pending request weakens nothing: alice still confirms with E-num.
	if status, m := call("POST", "/transfer", `{}`); status != 401 || !strings.Contains(fmt.Sprint(m["methods"]), "enum") {
		t.Fatalf("transfer during recovery = %d %v", status, m)
	}

	out, err := runRecovery(t, config, "list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "alice") || !strings.Contains(out, "my phone was stolen") {
		t.Fatalf("recovery list = %q, %v", out, err)
	}
	if _, err := runRecovery(t, config, "close", "AAAAAAAAAAAAAAAAAAAAAA"); err == nil || !strings.Contains(err.Error(), "no such recovery request") {
		t.Fatalf("closing an unknown request = %v", err)
	}
	out, err = runRecovery(t, config, "close", id, "--reset-device", "--note", "passport checked at the branch")
	if err != nil || !strings.Contains(out, "closed "+id+" of alice") || !strings.Contains(out, "reset") {
		t.Fatalf("recovery close = %q, %v", out, err)
	}
	// The old device no longer answers: E-num is not offered until alice
	// enrols anew.
	if status, m := call("POST", "/transfer", `{}`); status == 401 && strings.Contains(fmt.Sprint(m["methods"]), "enum") {
		t.Fatalf("transfer after the reset still offers E-num: %v", m)
	}
	status, acct := call("GET", "/.enumgate/api/account", "")
	if status != 200 || len(acct["devices"].([]any)) != 0 || acct["recovery"] != nil {
		t.Fatalf("account after the reset = %d %v", status, acct)
	}
	// The admin API lists closed requests on request.
	code, body, _ := adminDo(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/enumgate/recovery?all=1", port))
	if code != 200 || !strings.Contains(fmt.Sprint(body["requests"]), "passport checked") {
		t.Fatalf("admin recovery list = %d %v", code, body)
	}
}
