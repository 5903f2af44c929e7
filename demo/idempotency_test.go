package demo

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyserver/caddy/v2"

	"github.com/enumgate/enumgate/challenge"
)

// delivery builds the request the gateway forwards after user confirmed
// challenge id: the Enumgate-Confirmed header and Idempotency-Key: id
// (omitted if key is "-").
func delivery(method, path, ctype, body, user, id, key string, at time.Time, hdr ...string) *http.Request {
	r := req(method, path, body, append([]string{"Content-Type", ctype, UserHeader, user}, hdr...)...)
	r.Header.Set(challenge.ConfirmedHeader, headerFor(testKey, r, id, user, challenge.MethodEnum, at))
	switch key {
	case "-":
	case "":
		r.Header.Set(IdempotencyHeader, id)
	default:
		r.Header.Set(IdempotencyHeader, key)
	}
	return r
}

func TestRedeliveryIsNotExecutedAgain(t *testing.T) {
	for _, tc := range []struct {
		name, path, ctype, body, accept string
	}{
		{"transfer JSON", "/transfer", "application/json", `{"to":"Z123456789012","amount":"10.00"}`, ""},
		{"withdrawal JSON", "/withdraw", "application/json", `{"card":"4111111111111111","amount":"5"}`, ""},
		{"new correspondent form", "/correspondents", formType, "wallet=Z987654321098&name=Carol", "text/html"},
		{"bad input", "/transfer", "application/json", `{"to":"Z1","amount":"0"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t)
			id := nextID()
			first := serve(t, a, delivery("POST", tc.path, tc.ctype, tc.body, "alice", id, "", testNow, "Accept", tc.accept))
			if first.Code >= 500 {
				t.Fatalf("first delivery = %d %s", first.Code, first.Body)
			}
			ops := len(a.state.list("alice"))
			// Delivered again, even later than max_age, with the same
			// header (same challenge id) and key.
			a.now = func() time.Time { return testNow.Add(30 * time.Minute) }
			again := serve(t, a, delivery("POST", tc.path, tc.ctype, tc.body, "alice", id, "", testNow, "Accept", tc.accept))
			if again.Code != first.Code || again.Body.String() != first.Body.String() ||
				again.Header().Get("Location") != first.Header().Get("Location") ||
				again.Header().Get("Content-Type") != first.Header().Get("Content-Type") {
				t.Fatalf("again = %d %q %q, want the first response %d %q %q", again.Code, again.Header().Get("Location"), again.Body,
					first.Code, first.Header().Get("Location"), first.Body)
			}
			if again.Header().Get(ReplayedHeader) != "true" || first.Header().Get(ReplayedHeader) != "" {
				t.Errorf("%s: first %q, again %q", ReplayedHeader, first.Header().Get(ReplayedHeader), again.Header().Get(ReplayedHeader))
			}
			if n := len(a.state.list("alice")); n != ops {
				t.Fatalf("%d operations after the redelivery, want %d", n, ops)
			}
		})
	}
}

func TestRedeliveryAfterAFirstDeliveryWithoutKey(t *testing.T) {
	a := newApp(t)
	id := nextID()
	body := `{"to":"Z1","amount":"1"}`
	first := serve(t, a, delivery("POST", "/transfer", "application/json", body, "alice", id, "-", testNow))
	again := serve(t, a, delivery("POST", "/transfer", "application/json", body, "alice", id, "", testNow))
	if first.Code != http.StatusCreated || again.Code != http.StatusCreated || again.Body.String() != first.Body.String() {
		t.Fatalf("first %d %s, again %d %s", first.Code, first.Body, again.Code, again.Body)
	}
	if n := len(a.state.list("alice")); n != 1 {
		t.Fatalf("%d operations, want 1", n)
	}
	// Without a key, a reused header is still a replay.
	if w := serve(t, a, delivery("POST", "/transfer", "application/json", body, "alice", id, "-", testNow)); w.Code != http.StatusForbidden ||
		!strings.Contains(w.Body.String(), "already been used") {
		t.Fatalf("reused header without a key = %d %s", w.Code, w.Body)
	}
}

func TestIdempotencyKeyIsBoundToUserAndRequest(t *testing.T) {
	a := newApp(t)
	id := nextID()
	body := `{"to":"Z1","amount":"1"}`
	if w := serve(t, a, delivery("POST", "/transfer", "application/json", body, "alice", id, "", testNow)); w.Code != http.StatusCreated {
		t.Fatalf("first = %d %s", w.Code, w.Body)
	}
	// The same key and header with another body: the signature's binding
	// fails; nothing is repeated, nothing performed.
	r := req("POST", "/transfer", `{"to":"Z2","amount":"1000"}`)
	r.Header = delivery("POST", "/transfer", "application/json", body, "alice", id, "", testNow).Header.Clone()
	if w := serve(t, a, r); w.Code != http.StatusForbidden || w.Header().Get(ReplayedHeader) != "" {
		t.Fatalf("same key, other body = %d %s", w.Code, w.Body)
	}
	// Another confirmed challenge that reuses the key: 422.
	if w := serve(t, a, delivery("POST", "/transfer", "application/json", body, "alice", nextID(), id, testNow)); w.Code != http.StatusUnprocessableEntity ||
		!strings.Contains(w.Body.String(), "idempotency_key_reused") {
		t.Fatalf("key reused by another challenge = %d %s", w.Code, w.Body)
	}
	// bob's key space is his own: alice's key does not answer for him.
	if w := serve(t, a, delivery("POST", "/transfer", "application/json", body, "bob", nextID(), id, testNow)); w.Code != http.StatusCreated {
		t.Fatalf("bob with alice's key = %d %s", w.Code, w.Body)
	}
	if n, m := len(a.state.list("alice")), len(a.state.list("bob")); n != 1 || m != 1 {
		t.Fatalf("operations: alice %d, bob %d; want 1 each", n, m)
	}
	// Malformed keys.
	for _, k := range []string{strings.Repeat("k", maxKeyLen+1), "a b", "ключ"} {
		r := delivery("POST", "/transfer", "application/json", body, "alice", nextID(), k, testNow)
		if w := serve(t, a, r); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), IdempotencyHeader) {
			t.Errorf("key %q = %d %s", k, w.Code, w.Body)
		}
	}
	r = delivery("POST", "/transfer", "application/json", body, "alice", nextID(), "k1", testNow)
	r.Header.Add(IdempotencyHeader, "k2")
	if w := serve(t, a, r); w.Code != http.StatusBadRequest {
		t.Errorf("two keys = %d %s", w.Code, w.Body)
	}
}

func TestConcurrentRedeliveriesExecuteOnce(t *testing.T) {
	a := newApp(t)
	id := nextID()
	body := `{"to":"Z1","amount":"3"}`
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, n)
	bodies := make([]string, n)
	for i := range n {
		wg.Go(func() {
			w := httptest.NewRecorder()
			a.ServeHTTP(w, delivery("POST", "/transfer", "application/json", body, "alice", id, "", testNow), failNext(t))
			codes[i], bodies[i] = w.Code, w.Body.String()
		})
	}
	wg.Wait()
	for i := range n {
		if codes[i] != http.StatusCreated || bodies[i] != bodies[0] {
			t.Errorf("delivery %d = %d %s, want 201 %s", i, codes[i], bodies[i], bodies[0])
		}
	}
	if got := len(a.state.list("alice")); got != 1 {
		t.Fatalf("%d operations, want 1", got)
	}
}

func TestIdempotencyMemoryIsBounded(t *testing.T) {
	m := newIdemMemory()
	now := testNow
	for i := range maxKeysPerUser + 10 {
		e, fresh := m.reserve("alice", fmt.Sprint("c", i), []string{fmt.Sprint("k", i)}, now)
		if !fresh {
			t.Fatal("reserve refused a new key")
		}
		m.finish(e, &recorded{status: 201})
	}
	if m.len() != maxKeysPerUser || m.lookup("alice", "k0", now) != nil || m.lookup("alice", fmt.Sprint("k", maxKeysPerUser+9), now) == nil {
		t.Fatalf("per-user bound: %d entries", m.len())
	}
	// bob's entries are not pushed out by alice's.
	m.reserve("bob", "cb", []string{"kb"}, now)
	for i := range maxKeysPerUser {
		m.reserve("alice", fmt.Sprint("d", i), []string{fmt.Sprint("j", i)}, now)
	}
	if m.lookup("bob", "kb", now) == nil {
		t.Fatal("alice's keys pushed out bob's")
	}
	// Live for IdempotencyTTL, then forgotten.
	if m.lookup("bob", "kb", now.Add(IdempotencyTTL-time.Second)) == nil || m.lookup("bob", "kb", now.Add(IdempotencyTTL+time.Second)) != nil {
		t.Fatal("an entry is not kept for IdempotencyTTL exactly")
	}
	m.reserve("carol", "cc", []string{"kc"}, now.Add(IdempotencyTTL+time.Second))
	if m.len() != 1 {
		t.Fatalf("%d entries after the TTL, want 1", m.len())
	}
	for i := range maxKeys + 5 {
		m.reserve(fmt.Sprint("u", i), "c", []string{"k"}, now.Add(2*IdempotencyTTL))
	}
	if m.len() != maxKeys {
		t.Fatalf("%d entries, want the bound %d", m.len(), maxKeys)
	}
}

func TestDemoSecretDefaultWarns(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	t.Setenv(SecretEnv, "")
	a := &App{Secret: "{env.ENUMGATE_SECRET:demo-secret-do-not-use-in-production}"}
	core, logs := observer.New(zapcore.WarnLevel)
	if err := a.provisionWith(ctx, zap.New(core)); err != nil {
		t.Fatal(err)
	}
	defer a.Cleanup()
	if string(a.key) != string(challenge.ConfirmKey([]byte("demo-secret-do-not-use-in-production"))) {
		t.Error("the default secret was not used")
	}
	if logs.FilterMessage("using the public demo secret: set ENUMGATE_SECRET").Len() != 1 {
		t.Errorf("logs = %+v, want the demo secret warning", logs.All())
	}
	t.Setenv(SecretEnv, "from-the-environment-0123456789")
	b := &App{Secret: a.Secret}
	core, logs = observer.New(zapcore.WarnLevel)
	if err := b.provisionWith(ctx, zap.New(core)); err != nil {
		t.Fatal(err)
	}
	defer b.Cleanup()
	if string(b.key) != string(challenge.ConfirmKey([]byte("from-the-environment-0123456789"))) || logs.Len() != 0 {
		t.Errorf("with the variable set: key from it %v, logs %+v", string(b.key) == string(a.key), logs.All())
	}
}
