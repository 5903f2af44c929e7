package caddymodule_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/internal/redistest"
)

// TestAConfirmationIsForwardedOnlyWhenDurable: Redis has a replica, so by
// default a confirmation is forwarded only once a replica has it. With the
// replica stopped, the right answer is confirmed but not delivered (502
// not_delivered, nothing forwarded); once the replica is back, deliver
// forwards it exactly once.
func TestAConfirmationIsForwardedOnlyWhenDurable(t *testing.T) {
	ctx := context.Background()
	master := redistest.Start(t, redistest.Options{TCP: true})
	replica := redistest.Start(t, redistest.Options{})
	mopt, _ := redis.ParseURL(master.URL)
	mc := redis.NewClient(mopt)
	defer mc.Close()
	ropt, _ := redis.ParseURL(replica.URL)
	rc := redis.NewClient(ropt)
	defer rc.Close()
	mc.ConfigSet(ctx, "repl-diskless-sync-delay", "0")
	host, port, _ := strings.Cut(master.Addr, ":")
	if err := rc.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ := mc.Info(ctx, "replication").Result()
		if strings.Contains(info, "state=online") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica never came online")
		}
		time.Sleep(50 * time.Millisecond)
	}

	g := startGateway(t, gatewayOptions{store: "redis " + master.URL + " {\n\t\t\twait_timeout 300ms\n\t\t}"})
	c := g.client(t, "alice")
	id := c.hold()
	q := c.beginEnum(id)

	replica.Pause()
	r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)})
	if m := r.json(t); r.Status != http.StatusBadGateway || m["error"] != "not_delivered" || m["retry_in"] == nil {
		replica.Resume()
		t.Fatalf("answer with the replica stopped = %d %s, want 502 not_delivered", r.Status, r.Body)
	}
	if n := len(g.upstream.requests()); n != 0 {
		replica.Resume()
		t.Fatalf("forwarded %d requests before a replica had the confirmation", n)
	}
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/deliver", nil); r.Status != http.StatusBadGateway {
		replica.Resume()
		t.Fatalf("deliver with the replica still stopped = %d %s", r.Status, r.Body)
	}
	replica.Resume()
	// The customer tries again until the replica has caught up.
	for try := 0; ; try++ {
		r := c.postJSON("/.enumgate/api/challenges/"+id+"/deliver", nil)
		if r.Status == http.StatusCreated {
			break
		}
		if r.Status != http.StatusBadGateway && r.Status != http.StatusConflict || try > 50 {
			t.Fatalf("deliver with the replica back = %d %s", r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": enumApp(t, q)}); r.Status != http.StatusConflict {
		t.Fatalf("the same answer after delivery = %d %s", r.Status, r.Body)
	}
	if n := len(g.upstream.requests()); n != 1 {
		t.Fatalf("upstream saw %d requests, want exactly 1", n)
	}
}
