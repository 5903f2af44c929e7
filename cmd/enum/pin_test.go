package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/enumapp"
)

func init() {
	// Cheap argon2id for tests; the parameters are stored with the PIN.
	kdfParams = argonParams{Time: 1, MemoryKiB: 64, Threads: 1}
}

// aliceAnswer is the answer of uriAlice's key to q.
func aliceAnswer(t *testing.T, q string) string {
	t.Helper()
	s, _ := ocra.ParseSuite(ocra.DefaultSuite)
	a, err := s.Compute([]byte("1234567890123456"), ocra.Input{Question: q})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// withPINs sets ENUM_PIN and ENUM_NEW_PIN ("" unsets) for one command.
func withPINs(t *testing.T, pin, newPIN string, args ...string) (int, string, string) {
	t.Helper()
	for k, v := range map[string]string{pinEnv: pin, newPINEnv: newPIN} {
		if v == "" {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, v)
		}
	}
	defer os.Unsetenv(pinEnv)
	defer os.Unsetenv(newPINEnv)
	return runEnum(t, args...)
}

func mustRun(t *testing.T, pin, newPIN string, args ...string) string {
	t.Helper()
	code, out, errOut := withPINs(t, pin, newPIN, args...)
	if code != 0 {
		t.Fatalf("enum %v: exit %d, %s", args, code, errOut)
	}
	return out
}

func setup(t *testing.T, uris ...string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(configEnv, dir)
	t.Setenv(pinEnv, "")
	t.Setenv(newPINEnv, "")
	os.Unsetenv(pinEnv)
	os.Unsetenv(newPINEnv)
	stdin = strings.NewReader("")
	t.Cleanup(func() { stdin = os.Stdin })
	for _, u := range uris {
		mustRun(t, "", "", "enroll", u)
	}
	return dir
}

func TestPINSealsKeysAndIsAskedForTheAnswer(t *testing.T) {
	dir := setup(t, uriAlice)
	if out := mustRun(t, "", "1234", "pin", "set"); !strings.Contains(out, "wiped after 5 wrong PINs") {
		t.Fatalf("pin set: %q", out)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, devicesFile))
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil || f["version"] != 2.0 {
		t.Fatalf("devices.json = %s", raw)
	}
	if strings.Contains(string(raw), `"key"`) || strings.Contains(string(raw), "MTIzNDU2Nzg5MDEyMzQ1Ng") {
		t.Fatalf("the key is stored in the clear: %s", raw)
	}
	if out := mustRun(t, "", "", "list"); out != "Example Bank alice OCRA-1:HOTP-SHA256-8:QN08\n" && !strings.Contains(out, "alice") {
		t.Fatalf("list without the PIN: %q", out)
	}
	want := aliceAnswer(t, "12345678") + "\n"
	if out := mustRun(t, "1234", "", "answer", "12345678"); out != want {
		t.Fatalf("answer with the PIN = %q, want %q", out, want)
	}
	code, out, errOut := withPINs(t, "0000", "", "answer", "12345678")
	if code != 2 || out != "" || !strings.Contains(errOut, "wrong PIN (4 more wrong PINs and every account is wiped)") {
		t.Fatalf("wrong PIN: exit %d, %q, %q", code, out, errOut)
	}
	if out := mustRun(t, "", "", "pin", "status"); !strings.Contains(out, "(1 so far)") {
		t.Fatalf("status after a wrong PIN: %q", out)
	}
	mustRun(t, "1234", "", "answer", "12345678")
	if out := mustRun(t, "", "", "pin", "status"); !strings.Contains(out, "(0 so far)") {
		t.Fatalf("a right PIN does not reset the count: %q", out)
	}
	// Change: the old PIN no longer opens, the new one does; --wipe-after is kept.
	mustRun(t, "1234", "98765", "pin", "change", "--wipe-after", "3")
	if code, _, _ := withPINs(t, "1234", "", "answer", "12345678"); code != 2 {
		t.Fatal("the old PIN still opens")
	}
	if out := mustRun(t, "98765", "", "answer", "12345678"); out != want {
		t.Fatalf("answer with the new PIN = %q", out)
	}
	if out := mustRun(t, "", "", "pin", "status"); !strings.Contains(out, "after 3 wrong PINs") {
		t.Fatalf("status = %q", out)
	}
	// Remove: back to version 1, no PIN asked.
	mustRun(t, "98765", "", "pin", "remove")
	raw, _ = os.ReadFile(filepath.Join(dir, devicesFile))
	if !strings.Contains(string(raw), `"version": 1`) || strings.Contains(string(raw), `"pin"`) {
		t.Fatalf("after pin remove: %s", raw)
	}
	if out := mustRun(t, "", "", "answer", "12345678"); out != want {
		t.Fatalf("answer without PIN = %q", out)
	}
}

func TestWrongPINsInARowWipeEveryAccount(t *testing.T) {
	for _, n := range []string{"3", "5", "10"} {
		t.Run(n, func(t *testing.T) {
			setup(t, uriAlice, uriBob)
			mustRun(t, "", "2468", "pin", "set", "--wipe-after", n)
			max := map[string]int{"3": 3, "5": 5, "10": 10}[n]
			for i := 1; i < max; i++ {
				if code, _, errOut := withPINs(t, "1111", "", "answer", "--account", "alice", "12345678"); code != 2 || !strings.Contains(errOut, "wrong PIN") {
					t.Fatalf("wrong PIN %d: exit %d, %q", i, code, errOut)
				}
			}
			if out := mustRun(t, "", "", "list"); strings.Count(out, "\n") != 2 {
				t.Fatalf("after %d wrong PINs the accounts are gone: %q", max-1, out)
			}
			code, _, errOut := withPINs(t, "1111", "", "answer", "--account", "alice", "12345678")
			if code != 2 || !strings.Contains(errOut, "wrong PIN "+n+" times in a row: every account and the PIN are wiped") {
				t.Fatalf("wrong PIN %d: exit %d, %q", max, code, errOut)
			}
			if out := mustRun(t, "", "", "list"); out != "" {
				t.Fatalf("after the wipe list = %q", out)
			}
			if out := mustRun(t, "", "", "pin", "status"); out != "no PIN\n" {
				t.Fatalf("after the wipe: %q", out)
			}
			// Even the right PIN is of no use now.
			if code, _, errOut := withPINs(t, "2468", "", "answer", "12345678"); code != 2 || !strings.Contains(errOut, "no account enrolled") {
				t.Fatalf("after the wipe: exit %d, %q", code, errOut)
			}
		})
	}
}

// TestAnInterruptedLastTryStillWipes: the try is on disk before it is
// checked, so a file left at the limit (enum stopped mid-check) is wiped
// when next opened.
func TestAnInterruptedLastTryStillWipes(t *testing.T) {
	dir := setup(t, uriAlice)
	mustRun(t, "", "1234", "pin", "set", "--wipe-after", "3")
	p := filepath.Join(dir, devicesFile)
	raw, _ := os.ReadFile(p)
	raw = []byte(strings.Replace(string(raw), `"failures": 0`, `"failures": 3`, 1))
	os.WriteFile(p, raw, 0o600)
	if out := mustRun(t, "", "", "list"); out != "" {
		t.Fatalf("list = %q, want nothing", out)
	}
	if code, _, errOut := withPINs(t, "1234", "", "answer", "12345678"); code != 2 || !strings.Contains(errOut, "no account enrolled") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}

func TestPINFromStandardInput(t *testing.T) {
	setup(t, uriAlice)
	stdin = strings.NewReader("13579\n")
	mustRun(t, "", "", "pin", "set")
	stdin = strings.NewReader("13579\n")
	if out := mustRun(t, "", "", "answer", "12345678"); out != aliceAnswer(t, "12345678")+"\n" {
		t.Fatalf("answer = %q", out)
	}
	stdin = strings.NewReader("13579\r\n24680\n") // current, then new
	mustRun(t, "", "", "pin", "change")
	stdin = strings.NewReader("24680")
	mustRun(t, "", "", "answer", "12345678")
}

func TestEnrolWithAPINSealsTheNewKey(t *testing.T) {
	setup(t, uriAlice)
	mustRun(t, "", "1234", "pin", "set")
	if code, _, errOut := withPINs(t, "", "", "enroll", uriBob); code != 2 || !strings.Contains(errOut, "no PIN on standard input") {
		t.Fatalf("enroll without the PIN: exit %d, %q", code, errOut)
	}
	mustRun(t, "1234", "", "enroll", uriBob)
	if out := mustRun(t, "", "", "list"); strings.Count(out, "\n") != 2 {
		t.Fatalf("list = %q", out)
	}
	mustRun(t, "1234", "", "answer", "--account", "bob", "SIG10000")
}

func TestSealedKeysAreBoundToTheirAccount(t *testing.T) {
	dir := setup(t, uriAlice, uriAlice2)
	mustRun(t, "", "1234", "pin", "set")
	p := filepath.Join(dir, devicesFile)
	raw, _ := os.ReadFile(p)
	var f fileFormat
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	f.Devices[0].SealedKey, f.Devices[1].SealedKey = f.Devices[1].SealedKey, f.Devices[0].SealedKey
	raw, _ = json.Marshal(f)
	os.WriteFile(p, raw, 0o600)
	if code, _, errOut := withPINs(t, "1234", "", "answer", "--account", "Example Bank:alice", "12345678"); code != 1 || !strings.Contains(errOut, "does not open") {
		t.Fatalf("swapped sealed keys: exit %d, %q", code, errOut)
	}
}

func TestPINRejectsBadInput(t *testing.T) {
	tests := []struct {
		name        string
		pinSet      bool
		pin, newPIN string
		args        []string
		msg         string
	}{
		{"no subcommand", false, "", "", []string{"pin"}, "want one of set, change, remove, status"},
		{"unknown subcommand", false, "", "", []string{"pin", "reset"}, `unknown subcommand "reset"`},
		{"wipe after 4", false, "", "1234", []string{"pin", "set", "--wipe-after", "4"}, "want 3, 5 or 10"},
		{"wipe after for remove", true, "1234", "", []string{"pin", "remove", "--wipe-after", "3"}, "--wipe-after is for set and change"},
		{"set twice", true, "", "1234", []string{"pin", "set"}, "a PIN is already set"},
		{"change without a PIN", false, "1234", "5678", []string{"pin", "change"}, "no PIN is set"},
		{"remove without a PIN", false, "1234", "", []string{"pin", "remove"}, "no PIN is set"},
		{"short PIN", false, "", "123", []string{"pin", "set"}, "at least 4 characters"},
		{"long PIN", false, "", strings.Repeat("1", 65), []string{"pin", "set"}, "at most 64 bytes"},
		{"control character", false, "", "12\t34", []string{"pin", "set"}, "control characters"},
		{"no new PIN", false, "", "", []string{"pin", "set"}, "no PIN on standard input"},
		{"empty current PIN", true, "", "", []string{"answer", "12345678"}, "no PIN on standard input"},
		{"unlink nothing", false, "", "", []string{"unlink"}, "want exactly one ACCOUNT"},
		{"unlink unknown", false, "", "", []string{"unlink", "carol"}, `unlink: no enrolled account "carol"`},
		{"web: argument", false, "", "", []string{"web", "now"}, `unexpected argument "now"`},
		{"web: bad address", false, "", "", []string{"web", "--listen", "8090"}, "is not host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setup(t, uriAlice)
			if tt.pinSet {
				mustRun(t, "", "1234", "pin", "set")
			}
			code, out, errOut := withPINs(t, tt.pin, tt.newPIN, tt.args...)
			if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.msg) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and %q", code, out, errOut, tt.msg)
			}
			if strings.Contains(errOut, tt.pin+"\n") && tt.pin != "" || tt.newPIN != "" && strings.Contains(errOut, tt.newPIN) && len(tt.newPIN) > 3 {
				t.Errorf("stderr %q shows a PIN", errOut)
			}
		})
	}
}

func TestUnlinkDeletesOneAccount(t *testing.T) {
	setup(t, uriAlice, uriBob)
	if out := mustRun(t, "", "", "unlink", "Example Bank:alice"); out != "unlinked Example Bank:alice\n" {
		t.Fatalf("unlink = %q", out)
	}
	if out := mustRun(t, "", "", "list"); out != "Other bob OCRA-1:HOTP-SHA512-8:QA10-T1M\n" {
		t.Fatalf("list = %q", out)
	}
	// With a PIN: no PIN needed to unlink, the others stay sealed and usable.
	mustRun(t, "", "", "enroll", uriAlice)
	mustRun(t, "", "4321", "pin", "set")
	mustRun(t, "", "", "unlink", "bob")
	if out := mustRun(t, "4321", "", "answer", "12345678"); out != aliceAnswer(t, "12345678")+"\n" {
		t.Fatalf("answer after unlink = %q", out)
	}
}

func TestWebServesTheEmbeddedApp(t *testing.T) {
	setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer func(old func() (context.Context, context.CancelFunc)) { webContext = old }(webContext)
	webContext = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		var errOut strings.Builder
		done <- run([]string{"web", "--listen", "127.0.0.1:0"}, pw, &errOut)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "serving the E-num app at http://127.0.0.1:") {
		t.Fatalf("first line %q, %v", line, err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.Fields(line)[5]
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != enumapp.CSP || !strings.Contains(string(body), `<script src="app.js" type="module">`) {
		t.Fatalf("GET %s = %d, CSP %q", url, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("enum web exit %d after interrupt", code)
	}
}

// FuzzOpenStore: any devices.json is either refused with an error or
// read into a store that saves and reads back the same.
func FuzzOpenStore(f *testing.F) {
	f.Add([]byte(`{"version":1,"devices":[{"issuer":"B","account":"a","suite":"OCRA-1:HOTP-SHA256-8:QN08","key":"MTIzNDU2Nzg5MDEyMzQ1Ng=="}]}`))
	f.Add([]byte(`{"version":2,"pin":{"kdf":"argon2id","params":{"time":1,"memory_kib":64,"threads":1},"salt":"AAAAAAAAAAAAAAAAAAAAAA==","check":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==","max_failures":5,"failures":0},"devices":[]}`))
	f.Add([]byte(`{"version":2,"devices":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		t.Setenv(configEnv, dir)
		if err := os.WriteFile(filepath.Join(dir, devicesFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := openStore()
		if err != nil {
			return
		}
		if err := st.save(); err != nil {
			t.Fatalf("save of a store read: %v", err)
		}
		again, err := openStore()
		if err != nil {
			t.Fatalf("reopening what was saved: %v", err)
		}
		if len(again.devices) != len(st.devices) || (again.pin == nil) != (st.pin == nil) {
			t.Fatalf("round trip: %d devices, PIN %v; want %d, %v", len(again.devices), again.pin != nil, len(st.devices), st.pin != nil)
		}
	})
}
