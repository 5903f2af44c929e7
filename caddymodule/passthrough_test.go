package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/enumgate/enumgate/policy"
)

// passThrough builds a handler with the demo's rules, as Provision would,
// without an engine: an unmatched request never needs one.
func passThrough(tb testing.TB) *Handler {
	pol, err := policy.Compile([]policy.Rule{
		{Operation: "transfer", HTTPMethods: []string{"POST"}, Paths: []string{"/transfer", "/api/transfers*"}},
		{Operation: "withdrawal", HTTPMethods: []string{"POST"}, Paths: []string{"/withdraw*"}},
		{Operation: "new_correspondent", HTTPMethods: []string{"POST"}, Paths: []string{"/correspondents"}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &Handler{Prefix: DefaultPrefix, policy: pol}
}

type nopNext struct{}

func (nopNext) ServeHTTP(http.ResponseWriter, *http.Request) error { return nil }

func TestPassThroughAllocatesNothing(t *testing.T) {
	h := passThrough(t)
	w := httptest.NewRecorder()
	for _, tc := range []struct{ method, path string }{
		{"GET", "/"},
		{"GET", "/operations"},
		{"POST", "/search"},
		{"GET", "/transfer"},
		{"POST", "/static/app.css"},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.Header.Set("Accept", "text/html")
		allocs := testing.AllocsPerRun(100, func() {
			if err := h.ServeHTTP(w, r, nopNext{}); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s %s: %v allocations on the pass-through path", tc.method, tc.path, allocs)
		}
	}
}

// BenchmarkPassThrough measures the handler's cost on a request no rule
// matches — the path almost all traffic takes.
func BenchmarkPassThrough(b *testing.B) {
	h := passThrough(b)
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/operations", nil)
	r.Header.Set("Accept", "text/html")
	r.Header.Set("Enumgate-Confirmed", "forged")
	b.ReportAllocs()
	for b.Loop() {
		if err := h.ServeHTTP(w, r, nopNext{}); err != nil {
			b.Fatal(err)
		}
	}
}
