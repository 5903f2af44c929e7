package caddymodule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// recorder is an events handler an operator might configure; it keeps
// what it receives.
type recorder struct{}

var (
	receivedMu     sync.Mutex
	receivedEvents []caddy.Event
)

func (recorder) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "events.handlers.enumgate_test_recorder", New: func() caddy.Module { return new(recorder) }}
}

func (recorder) Handle(_ context.Context, e caddy.Event) error {
	receivedMu.Lock()
	receivedEvents = append(receivedEvents, e)
	receivedMu.Unlock()
	return nil
}

func init() { caddy.RegisterModule(recorder{}) }

// TestAnOperatorsEventSubscriptionReceivesEnumgateEvents: Caddy's own
// events configuration (apps.events) receives each step.
func TestAnOperatorsEventSubscriptionReceivesEnumgateEvents(t *testing.T) {
	g := &gateway{upstream: newUpstream(t), phone: newPhone(t), port: freePort(t)}
	g.base = fmt.Sprintf("http://127.0.0.1:%d", g.port)
	cf := fmt.Sprintf(`{
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
	}
	reverse_proxy %s
}
`, testSecret, usersFile(t), g.port, defaultRules, g.upstream.addr())
	raw, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["apps"].(map[string]any)["events"] = map[string]any{
		"subscriptions": []any{map[string]any{
			"events":   []string{"enumgate_issued", "enumgate_confirmed", "enumgate_delivered"},
			"handlers": []any{map[string]any{"handler": "enumgate_test_recorder"}},
		}},
	}
	out, _ := json.Marshal(cfg)
	if err := caddy.Load(out, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caddy.Stop() })

	c := g.client(t, "alice")
	id := c.hold()
	q := c.beginEnum(id)
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)}); r.Status != http.StatusCreated {
		t.Fatalf("answer = %d %s", r.Status, r.Body)
	}
	receivedMu.Lock()
	defer receivedMu.Unlock()
	var names []string
	for _, e := range receivedEvents {
		names = append(names, e.Name())
		if e.Data["challenge_id"] != id || e.Data["user"] != "alice" || e.Data["operation"] != "transfer" {
			t.Errorf("event %s data = %v", e.Name(), e.Data)
		}
		if s := fmt.Sprint(e.Data); strings.Contains(s, q) {
			t.Errorf("event %s carries the question", e.Name())
		}
	}
	if got := strings.Join(names, " "); got != "enumgate_issued enumgate_confirmed enumgate_delivered" {
		t.Fatalf("the subscription received %q", got)
	}
}
