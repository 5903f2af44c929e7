package confirm_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enumgate/enumgate/confirm"
)

const (
	recipeDoc   = "../docs/confirmed-header.md"
	recipeBegin = "<!-- begin python recipe -->"
	recipeEnd   = "<!-- end python recipe -->"
)

// pythonRecipe returns the Python code between the recipe markers of
// docs/confirmed-header.md, without its fences.
func pythonRecipe(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(recipeDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), recipeBegin)
	block, _, ok2 := strings.Cut(rest, recipeEnd)
	if !ok || !ok2 {
		t.Fatalf("%s lacks the %s … %s markers", recipeDoc, recipeBegin, recipeEnd)
	}
	block = strings.TrimSpace(block)
	code, ok := strings.CutPrefix(block, "```python\n")
	if code, ok2 = strings.CutSuffix(code, "```"); !ok || !ok2 {
		t.Fatalf("the recipe in %s is not one ```python block", recipeDoc)
	}
	return code
}

// driver runs verify_confirmed on its arguments and stdin and prints the
// claims as JSON; a refusal exits 3 with the reason.
const driver = `
import json, sys
key, value, method, host, path, query = sys.argv[1:7]
try:
    c = verify_confirmed(bytes.fromhex(key), value, method, host, path, query, sys.stdin.buffer.read())
except ValueError as e:
    print(e)
    sys.exit(3)
print(json.dumps(c))
`

// TestPythonRecipeVerifiesARealHeader runs the recipe of the docs, as
// written there, with python3 on a header Sign made.
func TestPythonRecipeVerifiesARealHeader(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is not installed: CI must install it (scripts/test) so the documented Python recipe is checked")
		}
		t.Skip("python3 is not installed; skipping the check of the documented Python recipe")
	}
	script := filepath.Join(t.TempDir(), "recipe.py")
	if err := os.WriteFile(script, []byte(pythonRecipe(t)+driver), 0o600); err != nil {
		t.Fatal(err)
	}
	key := []byte("a confirm key as enumgate confirm-key prints it")
	body := []byte(`{"to":"Zoë 1","amount":"10.00"}`)
	c := confirm.Claims{
		ChallengeID: "n3Vd9cJ0bS1kq2W8xYz4Ab", Operation: "transfer", Method: "sms", User: "alice@example.test",
		Time: time.Now(), RequestMethod: "POST", Host: "Bank.example:8443", Path: "/pay/a%2Fb c+d",
		RawQuery: "from=main&note=a%20b;c", BodySHA256: sha256Sum(body),
	}
	h := c.Sign(key)
	run := func(key []byte, value, method, host, path, query string, body []byte) (string, error) {
		cmd := exec.Command(python, script, hex.EncodeToString(key), value, method, host, path, query)
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	out, err := run(key, h, "POST", "bank.example:8443", c.Path, c.RawQuery, body)
	if err != nil {
		t.Fatalf("the recipe refused a genuine header: %v: %s", err, out)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("recipe output %q: %v", out, err)
	}
	for k, want := range map[string]string{"v": "2", "id": c.ChallengeID, "op": "transfer", "m": "sms",
		"u": c.User, "rm": "POST", "h": c.Host, "p": c.Path, "q": c.RawQuery} {
		if got[k] != want {
			t.Errorf("recipe claims %s = %q, want %q", k, got[k], want)
		}
	}

	tests := []struct {
		name                             string
		key                              []byte
		value, method, host, path, query string
		body                             []byte
		want                             string // the ValueError's message
	}{
		{"a tampered body", key, h, "POST", c.Host, c.Path, c.RawQuery, []byte(`{"to":"Z666","amount":"9999.00"}`), "another body"},
		{"another path", key, h, "POST", c.Host, "/withdraw", c.RawQuery, body, "another request"},
		{"the decoded path", key, h, "POST", c.Host, "/pay/a/b c+d", c.RawQuery, body, "another request"},
		{"another query", key, h, "POST", c.Host, c.Path, "from=savings", body, "another request"},
		{"another method", key, h, "PUT", c.Host, c.Path, c.RawQuery, body, "another request"},
		{"another host", key, h, "POST", "evil.example", c.Path, c.RawQuery, body, "another request"},
		{"a wrong key", []byte("another key"), h, "POST", c.Host, c.Path, c.RawQuery, body, "bad signature"},
		{"a tampered header", key, strings.Replace(h, "m=sms", "m=enum", 1), "POST", c.Host, c.Path, c.RawQuery, body, "bad signature"},
		{"an extra key", key, signRaw(key, strings.Split(h, "; sig=")[0]+"; x=1"), "POST", c.Host, c.Path, c.RawQuery, body, "not an Enumgate-Confirmed v2 header"},
		{"version 1", key, signRaw(key, strings.Replace(strings.Split(h, "; sig=")[0], "v=2", "v=1", 1)), "POST", c.Host, c.Path, c.RawQuery, body, "not an Enumgate-Confirmed v2 header"},
		{"a stale header", key, withTime(c, time.Now().Add(-time.Hour)).Sign(key), "POST", c.Host, c.Path, c.RawQuery, body, "stale"},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			out, err := run(tt.key, tt.value, tt.method, tt.host, tt.path, tt.query, tt.body)
			if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 3 {
				t.Fatalf("recipe = %v: %s; want a ValueError", err, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("recipe refused with %q, want %q", out, tt.want)
			}
		})
	}
}

func withTime(c confirm.Claims, at time.Time) confirm.Claims {
	c.Time = at
	return c
}
