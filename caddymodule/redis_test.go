package caddymodule_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/userdir"
	"github.com/enumgate/enumgate/internal/redistest"
)

func TestRedisStoreFailsClosedAndRecovers(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{Persist: true})
	g := startGateway(t, gatewayOptions{store: "redis " + rs.URL})
	c := g.client(t, "alice")
	id := c.hold()
	answer := enumApp(t, c.beginEnum(id))

	rs.Stop()
	start := time.Now()
	r := c.do("POST", "/transfer", "application/json", transferBody)
	if r.Status != http.StatusServiceUnavailable || r.json(t)["error"] != "unavailable" {
		t.Fatalf("protected request with Redis down = %d %s", r.Status, r.Body)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the 503 took %v", d)
	}
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": answer}); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("answer with Redis down = %d %s", r.Status, r.Body)
	}
	if r := c.do("GET", "/operations", "", nil); r.Status != http.StatusCreated {
		t.Fatalf("unprotected request with Redis down = %d", r.Status)
	}
	if n := len(g.upstream.requests()); n != 1 {
		t.Fatalf("upstream saw %d requests, want only the unprotected one", n)
	}

	rs.Restart()
	// go-redis may hold back new connections briefly after an outage.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": answer})
		if r.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.Status != http.StatusCreated {
		t.Fatalf("answer after Redis came back = %d %s", r.Status, r.Body)
	}
	if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": answer}); r.Status != http.StatusConflict || r.json(t)["error"] != "already_confirmed" {
		t.Fatalf("second answer after the restart = %d, want 409 already_confirmed", r.Status)
	}
}

func TestRedisClusterStoreRunsTheWholeFlow(t *testing.T) {
	cl := redistest.StartCluster(t)
	g := startGateway(t, gatewayOptions{
		store:       fmt.Sprintf("redis {\n\t\t\taddresses %s\n\t\t}", strings.Join(cl.Addrs, " ")),
		extraGlobal: "sms_limits {\n\t\t\tuser_cooldown off\n\t\t\tphone_cooldown off\n\t\t}",
	})
	c := g.client(t, "alice")
	for range 5 { // several ids, so several slots and nodes
		id := c.hold()
		r := c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "sms"})
		if r.Status != 200 {
			t.Fatalf("sms = %d %s", r.Status, r.Body)
		}
		code := g.phone.last(t, "+79000000001")["code"]
		if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": "000000"}); r.Status != 422 {
			t.Fatalf("wrong answer = %d %s", r.Status, r.Body)
		}
		if r := c.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": code}); r.Status != http.StatusCreated {
			t.Fatalf("answer on the cluster = %d %s", r.Status, r.Body)
		}
	}
}

func TestRedisUsersAreSharedAndInvalidated(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	opt, err := redis.ParseURL(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt)
	defer client.Close()
	ctx := context.Background()
	// The operator (another gateway's directory) imports the users.
	admin, err := userdir.New(ctx, client, userdir.Options{Secrets: [][]byte{[]byte(testSecret)}})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	users, _ := os.ReadFile(usersFile(t))
	if _, err := admin.Import(ctx, users); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, gatewayOptions{
		store: "redis " + rs.URL, users: "redis",
		extraGlobal: "sms_limits {\n\t\t\tuser_cooldown off\n\t\t\tphone_cooldown off\n\t\t}",
	})
	c := g.client(t, "alice")
	sms := func() {
		id := c.hold()
		if r := c.postJSON("/.enumgate/api/challenges/"+id+"/method", map[string]string{"method": "sms"}); r.Status != 200 {
			t.Fatalf("sms = %d %s", r.Status, r.Body)
		}
	}
	sms()
	g.phone.last(t, "+79000000001")
	if r := c.postJSON("/.enumgate/api/challenges/"+c.hold()+"/method", map[string]string{"method": "enum"}); r.Status != 200 {
		t.Fatalf("enum with the device key from Redis = %d %s", r.Status, r.Body)
	}

	rec, err := admin.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	rec.Phone = "+79000000009"
	if err := admin.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		sms()
		g.phone.mu.Lock()
		to := g.phone.msgs[len(g.phone.msgs)-1]["to"]
		g.phone.mu.Unlock()
		if to == "+79000000009" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway kept the cached phone number after the change")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSlowRedisGives503WithinTheTimeouts(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	g := startGateway(t, gatewayOptions{store: "redis " + rs.URL + " {\n\t\t\tread_timeout 500ms\n\t\t}"})
	c := g.client(t, "alice")
	c.hold() // connections and scripts are warm
	opt, _ := redis.ParseURL(rs.URL)
	admin := redis.NewClient(opt)
	defer admin.Close()
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", "3000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	defer admin.Do(context.Background(), "CLIENT", "UNPAUSE")
	start := time.Now()
	r := c.do("POST", "/transfer", "application/json", transferBody)
	took := time.Since(start)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("protected request with Redis paused = %d %s", r.Status, r.Body)
	}
	if took > 2500*time.Millisecond {
		t.Fatalf("the 503 took %v", took)
	}
	if r := c.do("GET", "/operations", "", nil); r.Status != http.StatusCreated {
		t.Fatalf("unprotected request with Redis paused = %d", r.Status)
	}
	t.Logf("503 after %v", took)
}
