package demo

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
)

const testSecret = "test-secret-for-the-enumgate-demo"

// testNow is the fixed clock of apps made by newApp.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// newApp provisions an App with the test secret and a fixed clock, after
// applying the mutations, and cleans it up when the test ends. Tests in
// this package do not run in parallel, so each test starts with empty
// state (the pool entry is dropped with its last user).
func newApp(t *testing.T, mutate ...func(*App)) *App {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	a := &App{Secret: testSecret, now: func() time.Time { return testNow }}
	for _, m := range mutate {
		m(a)
	}
	if err := a.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Cleanup(); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	if err := a.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	a.logger = zap.NewNop()
	return a
}

// failNext is a next handler that fails the test if called.
func failNext(t *testing.T) caddyhttp.Handler {
	return caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		t.Helper()
		t.Error("next handler called; the demo app is terminal")
		return nil
	})
}

// serve runs r through a and returns the recorded response.
func serve(t *testing.T, a *App, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	if err := a.ServeHTTP(w, r, failNext(t)); err != nil {
		t.Fatalf("%s %s: ServeHTTP error: %v", r.Method, r.URL, err)
	}
	return w
}

// req builds a request; hdr is name, value pairs.
func req(method, target, body string, hdr ...string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

// decodeObject decodes a JSON object body and checks it has exactly keys.
func decodeObject(t *testing.T, body []byte, keys ...string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	checkKeys(t, m, keys...)
	return m
}

func checkKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(keys))
	if !slices.Equal(got, want) {
		t.Errorf("JSON keys = %v, want %v", got, want)
	}
}

func TestProvision(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()

	t.Run("env placeholder", func(t *testing.T) {
		t.Setenv("DEMO_TEST_SECRET", "from-placeholder")
		a := &App{Secret: "{env.DEMO_TEST_SECRET}"}
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		defer a.Cleanup()
		b := &App{Secret: "from-placeholder"}
		if err := b.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		defer b.Cleanup()
		if string(a.key) != string(b.key) {
			t.Error("{env.*} in secret was not expanded")
		}
		if a.MaxAge != caddy.Duration(DefaultMaxAge) {
			t.Errorf("MaxAge default = %v, want %v", a.MaxAge, DefaultMaxAge)
		}
	})
	t.Run("ENUMGATE_SECRET default", func(t *testing.T) {
		t.Setenv(SecretEnv, "from-env")
		a := &App{}
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		defer a.Cleanup()
		if len(a.key) == 0 {
			t.Error("no key derived")
		}
	})
	t.Run("no secret", func(t *testing.T) {
		t.Setenv(SecretEnv, "")
		for _, secret := range []string{"", "{env.DEMO_TEST_UNSET}"} {
			a := &App{Secret: secret}
			err := a.Provision(ctx)
			if err == nil || !strings.Contains(err.Error(), "secret") {
				t.Errorf("secret %q: Provision error = %v, want one about the secret", secret, err)
			}
			if err := a.Cleanup(); err != nil {
				t.Errorf("Cleanup after failed Provision: %v", err)
			}
		}
	})
	t.Run("negative max_age", func(t *testing.T) {
		a := &App{Secret: "x", MaxAge: caddy.Duration(-time.Second)}
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		defer a.Cleanup()
		if err := a.Validate(); err == nil {
			t.Error("Validate accepted a negative max_age")
		}
	})
}

func TestCaddyModule(t *testing.T) {
	info := App{}.CaddyModule()
	if info.ID != "http.handlers.enumgate_demo" {
		t.Errorf("ID = %q", info.ID)
	}
	if _, ok := info.New().(*App); !ok {
		t.Errorf("New() = %T, want *App", info.New())
	}
}

// TestStateSurvivesReload checks that a new App provisioned before the
// old one is cleaned up (what a config reload does) keeps the state, and
// that the state goes when the last App does.
func TestStateSurvivesReload(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	provision := func() *App {
		a := &App{Secret: testSecret}
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		a.logger = zap.NewNop()
		return a
	}
	transfer := func() *http.Request {
		return req("POST", "/transfer", `{"to":"Z1","amount":"1"}`, "Content-Type", "application/json", UserHeader, "alice")
	}
	h := headerFor(testKey, transfer(), "before-reload", "alice", challenge.MethodEnum, time.Now())
	old := provision()
	r := transfer()
	r.Header.Set(challenge.ConfirmedHeader, h)
	if w := serve(t, old, r); w.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	reloaded := provision()
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if n := len(reloaded.state.list("alice")); n != 1 {
		t.Errorf("after reload: %d operations, want 1", n)
	}
	r = transfer()
	r.Header.Set(challenge.ConfirmedHeader, h)
	if w := serve(t, reloaded, r); w.Code != http.StatusForbidden {
		t.Errorf("a header used before the reload, again after it: status %d, want 403", w.Code)
	}
	if err := reloaded.Cleanup(); err != nil {
		t.Fatal(err)
	}
	fresh := provision()
	defer fresh.Cleanup()
	if n := len(fresh.state.list("alice")); n != 0 {
		t.Errorf("after the last user left: %d operations, want 0", n)
	}
}

func TestRouting(t *testing.T) {
	a := newApp(t)
	tests := []struct {
		name, method, target string
		hdr                  []string
		status               int
		allow, ctype         string
	}{
		{"unknown path HTML", "GET", "/nope", []string{UserHeader, "alice"}, 404, "", "text/html"},
		{"unknown path JSON", "GET", "/nope", []string{"Accept", "application/json"}, 404, "", "application/json"},
		{"GET transfer", "GET", "/transfer", []string{UserHeader, "alice"}, 405, "POST", "text/html"},
		{"DELETE home", "DELETE", "/", nil, 405, "GET, HEAD", "text/html"},
		{"POST operations", "POST", "/operations", []string{"Content-Type", "application/json"}, 405, "GET, HEAD", "application/json"},
		{"GET inbox", "GET", "/phone/inbox", nil, 405, "POST", "text/html"},
		{"HEAD home", "HEAD", "/", []string{UserHeader, "alice"}, 200, "", "text/html"},
		{"css", "GET", "/static/demo.css", nil, 200, "", "text/css"},
		{"receipt without id", "GET", "/receipt/", []string{UserHeader, "alice"}, 404, "", "text/html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, a, req(tt.method, tt.target, "", tt.hdr...))
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, tt.ctype) {
				t.Errorf("Content-Type = %q, want %s", got, tt.ctype)
			}
		})
	}
}
