package caddymodule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/enumgate/enumgate/challenge"
)

// tokenMethod is a confirmation method that exists only in this test: a
// hardware token the bank handed out shows a code (here: the test reads
// it from the driver). Registering it, and giving it messages and a
// template block through the operator's own ui options, is all it takes
// to offer it on the page and in the API: no other file knows it.
type tokenMethod struct {
	mu   sync.Mutex
	code map[string]string // challenge id → the code the token shows
}

func (*tokenMethod) Name() challenge.Method        { return "token" }
func (*tokenMethod) Usable(u *challenge.User) bool { return len(u.Devices) > 0 }
func (*tokenMethod) Destination(*challenge.User) string {
	return "the token with the bank's logo"
}

func (m *tokenMethod) Begin(_ context.Context, b *challenge.Beginning) error {
	code, err := b.Code()
	if err != nil {
		return err
	}
	if err := b.Expect(code); err != nil {
		return err
	}
	b.SentTo = "the token with the bank's logo"
	m.mu.Lock()
	m.code[b.ChallengeID] = code
	m.mu.Unlock()
	return nil
}

func (m *tokenMethod) shown(t *testing.T, id string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.code[id]
	if !ok {
		t.Fatalf("the token shows no code for %s", id)
	}
	return c
}

var testToken = &tokenMethod{code: map[string]string{}}

func init() { challenge.RegisterMethod(testToken) }

func TestAMethodRegisteredInATestRunsThroughThePageAndTheAPI(t *testing.T) {
	ui := t.TempDir()
	msgs, tmpls := filepath.Join(ui, "messages"), filepath.Join(ui, "templates")
	for _, d := range []string{msgs, tmpls} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(msgs, "en.json"), `{"method.token": "Bank token", "method.token.hint_to": "Read the code from {to}.",
		"method.token.heading": "Confirm with your bank token", "answer.label.token": "Code on the token"}`)
	write(filepath.Join(msgs, "ru.json"), `{"method.token": "Токен банка", "method.token.hint_to": "Код покажет {to}.",
		"method.token.heading": "Подтвердите токеном банка", "answer.label.token": "Код с токена"}`)
	write(filepath.Join(tmpls, "method_token.html"), `{{define "method-token"}}
  <h2 id="eg-step-h">{{.MethodText "heading"}}</h2>
  <p class="eg-token" data-token="shown">{{.C.SentTo}}</p>
{{end}}`)
	g := startGateway(t, gatewayOptions{handler: defaultRules + "\t\tmethods token enum\n\t\tui {\n\t\t\tmessages_dir " + msgs + "\n\t\t\ttemplates_dir " + tmpls + "\n\t\t}\n"})

	t.Run("api", func(t *testing.T) {
		c := g.client(t, "alice")
		before := len(g.upstream.requests())
		r := c.do("POST", "/transfer", "application/json", transferBody)
		body := r.json(t)
		id, _ := body["challenge_id"].(string)
		if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `"methods":["token","enum"]`) {
			t.Fatalf("held = %d %s", r.Status, r.Body)
		}
		r = c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "token"})
		if r.Status != http.StatusOK || r.json(t)["sent_to"] != "the token with the bank's logo" {
			t.Fatalf("method token = %d %s", r.Status, r.Body)
		}
		if r = c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": "0"}); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong answer = %d %s", r.Status, r.Body)
		}
		r = c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": testToken.shown(t, id)})
		if r.Status != http.StatusCreated || r.Header.Get("Enumgate-Result") != "confirmed" || len(g.upstream.requests()) != before+1 {
			t.Fatalf("answer = %d %s", r.Status, r.Body)
		}
		if h := g.upstream.requests()[before].Header.Get("Enumgate-Confirmed"); !strings.Contains(h, "m=token") {
			t.Fatalf("Enumgate-Confirmed = %q, want m=token", h)
		}
	})

	t.Run("page", func(t *testing.T) {
		b := startBrowser(t, g, "alice")
		before := len(g.upstream.requests())
		page := b.do("GET", b.loc, "", nil, "Accept-Language", "ru")
		if !strings.Contains(string(page.Body), "Токен банка") || !strings.Contains(string(page.Body), `data-method="token"`) {
			t.Fatalf("the method choice does not offer the token:\n%s", page.Body)
		}
		_, page = b.post(url.Values{"action": {"method"}, "method": {"token"}})
		if !strings.Contains(string(page.Body), "Confirm with your bank token") || !strings.Contains(string(page.Body), `data-token="shown"`) ||
			!strings.Contains(string(page.Body), "Code on the token") || strings.Contains(string(page.Body), "eg-resend") {
			t.Fatalf("the token's step is not shown from its template block:\n%s", page.Body)
		}
		id := regexp.MustCompile(`/challenge/([A-Za-z0-9_-]{22})`).FindStringSubmatch(b.loc)[1]
		r := b.do("POST", b.loc, "application/x-www-form-urlencoded", []byte(url.Values{
			"token": {b.token}, "action": {"answer"}, "answer": {testToken.shown(t, id)}}.Encode()))
		if r.Status != http.StatusSeeOther || r.Header.Get("Enumgate-Result") != "confirmed" || len(g.upstream.requests()) != before+1 {
			t.Fatalf("answer = %d %s", r.Status, r.Body)
		}
	})

	t.Run("a method without its messages is refused at provision", func(t *testing.T) {
		cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(fmt.Sprintf(`{
	admin off
	persist_config off
	enumgate {
		secret %s
		users file %s
	}
}
http://127.0.0.1:%d {
	enumgate {
		%s
		methods token enum
	}
	respond "app"
}`, testSecret, usersFile(t), freePort(t), defaultRules)), nil)
		if err != nil {
			t.Fatal(err)
		}
		var c caddy.Config
		if err := json.Unmarshal(cfg, &c); err != nil {
			t.Fatal(err)
		}
		err = caddy.Validate(&c)
		if err == nil || !strings.Contains(err.Error(), "method token has no messages") {
			t.Fatalf("provision = %v", err)
		}
	})
}
