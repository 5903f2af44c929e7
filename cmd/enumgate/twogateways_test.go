package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/internal/redistest"
)

// gatewayProcess runs the enumgate binary with a config and stops it when
// the test ends.
func gatewayProcess(t *testing.T, bin, config string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", path)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("gateway logs:\n%s", logs.String())
		}
	})
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never came up", url)
}

// TestTwoGatewaysShareRedis runs two enumgate processes on one Redis: a
// challenge issued by one is answered at the other, and 100 concurrent
// correct answers split across both confirm exactly once.
func TestTwoGatewaysShareRedis(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{TCP: true})
	bin := filepath.Join(t.TempDir(), "enumgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building enumgate: %v\n%s", err, out)
	}
	var forwarded atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/transfer" {
			forwarded.Add(1)
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer upstream.Close()
	users, _ := filepath.Abs("../../demo/users.json")
	var bases []string
	for range 2 {
		port := freePort(t)
		bases = append(bases, fmt.Sprintf("http://127.0.0.1:%d", port))
		gatewayProcess(t, bin, fmt.Sprintf(`{
	admin off
	persist_config off
	enumgate {
		secret shared-secret-of-both-gateways
		store redis %s
		users file %s
	}
}
http://127.0.0.1:%d {
	enumgate {
		user {http.request.header.X-User}
		protect transfer POST /transfer
	}
	reverse_proxy %s
}
`, rs.URL, users, port, upstream.Listener.Addr()))
	}
	for _, b := range bases {
		waitUp(t, b+"/health")
	}

	post := func(base, path string, body any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("X-User", "alice")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(raw, &m)
		return resp.StatusCode, m
	}
	status, held := post(bases[0], "/transfer", map[string]string{"to": "Z1", "amount": "5"})
	if status != http.StatusUnauthorized {
		t.Fatalf("gateway A: protected request = %d %v", status, held)
	}
	id := held["challenge_id"].(string)
	status, m := post(bases[1], "/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "enum"})
	if status != 200 {
		t.Fatalf("gateway B: method = %d %v", status, m)
	}
	suite, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA256-8:QN08")
	key, _ := hex.DecodeString("3132333435363738393031323334353637383930313233343536373839303132")
	answer, _ := suite.Compute(key, ocra.Input{Question: m["question"].(string)})

	var created, already atomic.Int32
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			status, _ := post(bases[i%2], "/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": answer})
			switch status {
			case http.StatusCreated:
				created.Add(1)
			case http.StatusConflict: // already_confirmed, delivery_in_progress
				already.Add(1)
			default:
				t.Errorf("answer at gateway %d = %d", i%2, status)
			}
		})
	}
	wg.Wait()
	if created.Load() != 1 || already.Load() != 99 || forwarded.Load() != 1 {
		t.Fatalf("confirmed %d, already confirmed %d, forwarded %d; want 1, 99, 1", created.Load(), already.Load(), forwarded.Load())
	}
}
