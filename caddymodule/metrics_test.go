package caddymodule_test

import (
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2"
	dto "github.com/prometheus/client_model/go"
)

// counter returns the value of metric name with the given labels in the
// running config's registry (what the admin endpoint's /metrics serves).
func counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	ctx := caddy.ActiveContext()
	mfs, err := ctx.GetMetricsRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metrics
				}
			}
			return value(m)
		}
	}
	return 0
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

func TestMetricsCountEveryStep(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t, "alice")
	id := c.hold()
	q := c.beginEnum(id)
	c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": "00000000"})
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)}); r.Status != http.StatusCreated {
		t.Fatalf("answer = %d", r.Status)
	}
	c.do("POST", "/transfer", "application/json", []byte(`{"to":"Z1","amount":"1","amount":"2"}`))
	for _, tt := range []struct {
		name   string
		labels map[string]string
	}{
		{"enumgate_challenge_events_total", map[string]string{"event": "issued", "operation": "transfer"}},
		{"enumgate_challenge_events_total", map[string]string{"event": "method_begun", "method": "enum"}},
		{"enumgate_challenge_events_total", map[string]string{"event": "wrong_answer"}},
		{"enumgate_challenge_events_total", map[string]string{"event": "confirmed", "operation": "transfer", "method": "enum"}},
		{"enumgate_challenge_events_total", map[string]string{"event": "delivered", "operation": "transfer"}},
		{"enumgate_refused_requests_total", map[string]string{"reason": "ambiguous_operation", "operation": "transfer"}},
	} {
		if got := counter(t, tt.name, tt.labels); got < 1 {
			t.Errorf("%s%v = %v, want at least 1", tt.name, tt.labels, got)
		}
	}
}
