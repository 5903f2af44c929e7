package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	dto "github.com/prometheus/client_model/go"

	"github.com/enumgate/enumgate/internal/redistest"
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

// scrape fetches the admin endpoint's /metrics, as an operator's
// `curl -s localhost:2019/metrics | grep '^enumgate_'` does, and returns
// the enumgate_ samples: series (name{labels} as printed) to value.
func scrape(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d %s", resp.StatusCode, body)
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "enumgate_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// labelValues returns every label value of a series as printed.
func labelValues(series string) []string {
	var vals []string
	for rest := series; ; {
		i := strings.Index(rest, `="`)
		if i < 0 {
			return vals
		}
		rest = rest[i+2:]
		var b strings.Builder
		for j := 0; j < len(rest); j++ {
			if rest[j] == '\\' && j+1 < len(rest) {
				j++
				b.WriteByte(rest[j])
				continue
			}
			if rest[j] == '"' {
				rest = rest[j+1:]
				break
			}
			b.WriteByte(rest[j])
		}
		vals = append(vals, b.String())
	}
}

// startGatewayWithAdmin is startGateway with Caddy's admin endpoint on
// a free port (where /metrics is served), returned as host:port, and
// the Caddyfile it loaded.
func startGatewayWithAdmin(t *testing.T) (g *gateway, admin, config string) {
	t.Helper()
	g = &gateway{upstream: newUpstream(t), phone: newPhone(t), port: freePort(t)}
	g.base = fmt.Sprintf("http://127.0.0.1:%d", g.port)
	admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	config = fmt.Sprintf(`{
	admin %s
	persist_config off
	log {
		level ERROR
	}
	enumgate {
		secret %s
		users file %s
		sms webhook %s/sms
		email webhook %s/email
	}
}
http://127.0.0.1:%d {
	enumgate {
		%s
	}
	reverse_proxy %s
}
`, admin, testSecret, usersFile(t), g.phone.URL, g.phone.URL, g.port, defaultRules, g.upstream.addr())
	loadCaddyfile(t, config)
	t.Cleanup(func() { caddy.Load([]byte(`{"admin":{"disabled":true,"config":{"persist":false}}}`), true) })
	return g, admin, config
}

// The demo check: the enumgate_ metrics at the admin endpoint move as a
// transfer is confirmed by SMS — the challenge's steps, the SMS sent, the
// store calls with their latency, the pending gauge — and no label
// value names the user, the session or the challenge. A reload keeps
// them (no duplicate registration, counters run on).
func TestMetricsAtTheAdminEndpointMoveAsATransferIsConfirmedBySMS(t *testing.T) {
	g, admin, config := startGatewayWithAdmin(t)
	c := g.client(t, "alice")
	before := scrape(t, admin)

	id := c.hold()
	held := scrape(t, admin)
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "sms"}); r.Status != http.StatusOK {
		t.Fatalf("method sms = %d %s", r.Status, r.Body)
	}
	code := g.phone.last(t, "+79000000001")["code"]
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": code}); r.Status != http.StatusCreated {
		t.Fatalf("answer = %d %s", r.Status, r.Body)
	}
	after := scrape(t, admin)

	const pending = `enumgate_challenges_pending{scope="store"}`
	if held[pending] != before[pending]+1 || after[pending] != before[pending] {
		t.Errorf("%s: %v before, %v held, %v confirmed; want +1 then back", pending, before[pending], held[pending], after[pending])
	}
	for _, tt := range []struct {
		series string
		delta  float64
	}{
		{`enumgate_challenge_events_total{event="issued",method="",operation="transfer"}`, 1},
		{`enumgate_challenge_events_total{event="method_begun",method="sms",operation="transfer"}`, 1},
		{`enumgate_challenge_events_total{event="confirmed",method="sms",operation="transfer"}`, 1},
		{`enumgate_challenge_events_total{event="delivered",method="sms",operation="transfer"}`, 1},
		{`enumgate_codes_sent_total{channel="sms"}`, 1},
		{`enumgate_codes_failed_total{channel="sms"}`, 0},
		{`enumgate_code_send_duration_seconds_count{channel="sms"}`, 1},
		{`enumgate_store_operations_total{op="create",result="ok"}`, 1},
		{`enumgate_store_operations_total{op="spend_sms",result="ok"}`, 1},
		{`enumgate_store_operations_total{op="attempt",result="ok"}`, 1},
		{`enumgate_store_operation_duration_seconds_count{op="attempt"}`, 1},
		{`enumgate_store_operation_duration_seconds_bucket{op="attempt",le="+Inf"}`, 1},
		{`enumgate_store_operation_duration_seconds_count{op="settle"}`, 1},
	} {
		if _, ok := after[tt.series]; !ok {
			t.Errorf("%s missing from /metrics", tt.series)
			continue
		}
		if got := after[tt.series] - before[tt.series]; got != tt.delta {
			t.Errorf("%s moved by %v, want %v", tt.series, got, tt.delta)
		}
	}
	if after[`enumgate_store_operation_duration_seconds_sum{op="attempt"}`] <= before[`enumgate_store_operation_duration_seconds_sum{op="attempt"}`] {
		t.Error("the attempt's latency was not added to the histogram's sum")
	}

	secrets := []string{"alice", c.session, id, code, "+79000000001", "Z123456789012"}
	for series := range after {
		for _, v := range labelValues(series) {
			for _, s := range secrets {
				if strings.Contains(v, s) {
					t.Errorf("label value %q of %s names %q", v, series, s)
				}
			}
		}
	}

	// A reload registers everything again in the new config's registry.
	loadCaddyfile(t, config)
	reloaded := scrape(t, admin)
	for _, s := range []string{`enumgate_codes_sent_total{channel="sms"}`, `enumgate_store_operations_total{op="attempt",result="ok"}`} {
		if reloaded[s] < after[s] {
			t.Errorf("after a reload %s = %v, was %v: counters must run on", s, reloaded[s], after[s])
		}
	}
	if _, ok := reloaded[pending]; !ok {
		t.Errorf("after a reload %s is missing", pending)
	}
}

// A code the provider refuses counts as failed, not sent; a user locked
// by wrong answers counts one lockout.
func TestMetricsCountFailedCodesAndLockouts(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraGlobal: "lockout 2 1m"})
	c := g.client(t, "alice")
	sent := counter(t, "enumgate_codes_sent_total", map[string]string{"channel": "sms"})
	failed := counter(t, "enumgate_codes_failed_total", map[string]string{"channel": "sms"})
	locks := counter(t, "enumgate_lockouts_total", nil)

	g.phone.mu.Lock()
	g.phone.fail = true
	g.phone.mu.Unlock()
	id := c.hold()
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "sms"}); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("sms with the provider down = %d %s", r.Status, r.Body)
	}
	if d := counter(t, "enumgate_codes_failed_total", map[string]string{"channel": "sms"}) - failed; d != 1 {
		t.Errorf("codes failed moved by %v, want 1", d)
	}
	if d := counter(t, "enumgate_codes_sent_total", map[string]string{"channel": "sms"}) - sent; d != 0 {
		t.Errorf("codes sent moved by %v, want 0", d)
	}

	c.beginEnum(id)
	for _, a := range []string{"00000000", "11111111"} {
		c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": a})
	}
	if d := counter(t, "enumgate_lockouts_total", nil) - locks; d != 1 {
		t.Errorf("lockouts moved by %v, want 1", d)
	}
}

// With Redis, pending challenges are those created through this gateway
// (scope "gateway"), and users redis exports its cache's hits and misses.
func TestMetricsOfRedisStoreAndUsers(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	g := startGateway(t, gatewayOptions{store: "redis " + rs.URL})
	pending := map[string]string{"scope": "gateway"}
	c := g.client(t, "alice")
	before := counter(t, "enumgate_challenges_pending", pending)
	id := c.hold()
	if got := counter(t, "enumgate_challenges_pending", pending); got != before+1 {
		t.Errorf("pending after a hold = %v, want %v", got, before+1)
	}
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, c.beginEnum(id))}); r.Status != http.StatusCreated {
		t.Fatalf("answer = %d %s", r.Status, r.Body)
	}
	if got := counter(t, "enumgate_challenges_pending", pending); got != before {
		t.Errorf("pending after the confirmation = %v, want %v", got, before)
	}

	g.reload(t, gatewayOptions{store: "redis " + rs.URL, users: "redis"})
	http.DefaultTransport.(*http.Transport).CloseIdleConnections() // the old config's server closed them
	c.do("POST", "/transfer", "application/json", transferBody)    // alice is not in Redis
	c.do("POST", "/transfer", "application/json", transferBody)
	if got := counter(t, "enumgate_user_cache_misses_total", nil); got < 2 {
		t.Errorf("user cache misses = %v, want at least 2 (unknown users are never cached)", got)
	}
	if !hasMetric(t, "enumgate_user_cache_hits_total") {
		t.Error("enumgate_user_cache_hits_total is not exported with users redis")
	}
}

// hasMetric reports whether the running config's registry has name.
func hasMetric(t *testing.T, name string) bool {
	t.Helper()
	ctx := caddy.ActiveContext()
	mfs, err := ctx.GetMetricsRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return true
		}
	}
	return false
}

// The Grafana dashboard in docs/ is valid JSON, picks its Prometheus data
// source by variable, and charts only metrics the README documents.
func TestGrafanaDashboardUsesDocumentedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../docs/grafana-enumgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Templating struct {
			List []struct{ Name, Type, Query any }
		}
		Panels []struct {
			Title      string
			Datasource struct{ Type, UID string }
			Targets    []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana-enumgate.json: %v", err)
	}
	hasVar := false
	for _, v := range dash.Templating.List {
		hasVar = hasVar || v.Type == "datasource" && v.Query == "prometheus" && v.Name == "datasource"
	}
	if !hasVar {
		t.Fatal("the dashboard has no Prometheus datasource variable")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`enumgate_[a-z_]+`)
	charted := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q does not use the datasource variable", p.Title)
			}
			for _, m := range name.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
				if !strings.Contains(string(readme), "`"+base+"`") {
					t.Errorf("panel %q charts %s, which the README's metrics table does not list", p.Title, base)
				}
				charted++
			}
		}
	}
	if charted == 0 {
		t.Fatal("the dashboard charts nothing")
	}
}
