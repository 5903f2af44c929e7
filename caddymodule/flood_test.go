package caddymodule_test

import (
	"bytes"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestOneUsersFloodDeniesNobodyElse: alice sends thousands of protected
// requests with the largest body allowed. She gets 429 too_many_pending
// once her share is used; bob confirms a transfer in the middle of it;
// the gateway's memory stays bounded.
func TestOneUsersFloodDeniesNobodyElse(t *testing.T) {
	if testing.Short() {
		t.Skip("the flood takes a few seconds")
	}
	rules := strings.Replace(defaultRules, "max_body 1KiB", "max_body 64KiB", 1)
	g := startGateway(t, gatewayOptions{handler: rules})
	alice, bob := g.client(t, "alice"), g.client(t, "bob")
	body := []byte(`{"to":"Z123456789012","amount":"10.00","memo":"` + strings.Repeat("x", 64<<10-64) + `"}`)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	const flood = 2000
	var held, refused, other atomic.Int32
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for range work {
				r := alice.do("POST", "/transfer", "application/json", body)
				switch {
				case r.Status == http.StatusUnauthorized:
					held.Add(1)
				case r.Status == http.StatusTooManyRequests && bytes.Contains(r.Body, []byte(`"too_many_pending"`)) && bytes.Contains(r.Body, []byte(`"retry_in"`)):
					refused.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	for i := range flood {
		work <- struct{}{}
		if i == flood/2 {
			// Bob, mid-flood, confirms a transfer.
			id := bob.hold()
			q := bob.beginEnum(id)
			if r := bob.postJSON("/.enumgate/api/challenges/"+id+"/answer", map[string]string{"answer": bobApp(t, q)}); r.Status != http.StatusCreated {
				t.Errorf("bob's confirmation during alice's flood = %d %s", r.Status, r.Body)
			}
		}
	}
	close(work)
	wg.Wait()

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("alice: %d held, %d refused, %d other; heap grew %d KiB", held.Load(), refused.Load(), other.Load(), grew>>10)
	if other.Load() != 0 || held.Load() == 0 || held.Load() > 16 || refused.Load() < flood-16 {
		t.Fatalf("alice: %d held, %d refused, %d other", held.Load(), refused.Load(), other.Load())
	}
	if grew > 32<<20 {
		t.Fatalf("the heap grew %d MiB during the flood", grew>>20)
	}
}
