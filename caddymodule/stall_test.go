package caddymodule_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/enumgate/enumgate/internal/redistest"
)

// TestARedisStallNeverCountsTwiceOrLosesAConfirmation: redis-server is
// stopped (SIGSTOP) while answers are in flight, then continued. A wrong
// answer costs exactly one attempt, whatever ran late; a right answer
// never ends in "unknown challenge"; the customer is told the outcome is
// unknown, and sending the same answer again resolves it.
func TestARedisStallNeverCountsTwiceOrLosesAConfirmation(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	g := startGateway(t, gatewayOptions{store: "redis " + rs.URL + " {\n\t\t\tread_timeout 300ms\n\t\t}"})
	c := g.client(t, "alice")
	id := c.hold()
	q := c.beginEnum(id)
	path := "/.enumgate/api/challenges/" + id

	stall := func(f func() response) response {
		rs.Pause()
		done := make(chan response, 1)
		go func() { done <- f() }()
		time.Sleep(1500 * time.Millisecond)
		rs.Resume()
		return <-done
	}

	// A wrong answer during the stall.
	r := stall(func() response { return c.postJSON(path+"/answer", map[string]string{"answer": "00000000"}) })
	if r.Status != http.StatusServiceUnavailable || r.json(t)["error"] != "outcome_unknown" {
		t.Fatalf("wrong answer during a stall = %d %s, want 503 outcome_unknown", r.Status, r.Body)
	}
	time.Sleep(200 * time.Millisecond) // the queued script runs
	// The customer sends it again: still one attempt spent.
	r = c.postJSON(path+"/answer", map[string]string{"answer": "00000000"})
	if m := r.json(t); r.Status != http.StatusUnprocessableEntity || m["attempts_left"] != float64(2) {
		t.Fatalf("the same wrong answer after the stall = %d %s, want 2 attempts left", r.Status, r.Body)
	}

	// A right answer during the stall.
	r = stall(func() response { return c.postJSON(path+"/answer", map[string]string{"answer": enumApp(t, q)}) })
	if r.Status != http.StatusServiceUnavailable || r.json(t)["error"] != "outcome_unknown" {
		t.Fatalf("right answer during a stall = %d %s, want 503 outcome_unknown", r.Status, r.Body)
	}
	time.Sleep(200 * time.Millisecond)
	r = c.postJSON(path+"/answer", map[string]string{"answer": enumApp(t, q)})
	switch e, _ := r.json(t)["error"].(string); {
	case r.Status == http.StatusCreated:
	case r.Status == http.StatusConflict && e == "delivery_in_progress":
		// The stalled answer confirmed and holds the delivery lease; the
		// customer is told to retry shortly, never that it is gone.
	default:
		t.Fatalf("the same right answer after the stall = %d %s", r.Status, r.Body)
	}
	if n := len(g.upstream.requests()); n > 1 {
		t.Fatalf("upstream saw %d requests", n)
	}
	if v := c.do("GET", path, "", nil).json(t); v["confirmed_at"] == nil {
		t.Fatalf("after the stall the challenge is %v", v)
	}
}
