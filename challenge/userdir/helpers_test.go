package userdir

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/internal/redistest"
)

// TestMain silences go-redis, which logs every failed dial: some tests
// stop Redis on purpose.
func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	os.Exit(m.Run())
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Keys of the test users: alice's is the RFC 6287 32-byte test key.
var (
	aliceKey = []byte("12345678901234567890123456789012")
	bobKey   = []byte("abcdefghijklmnopqrstuvwxyz012345")
)

func aliceRecord() Record {
	return Record{ID: "alice", Phone: "+79000000001", Emails: []string{"alice@example.test"},
		Devices: []DeviceRecord{{Name: "phone", Suite: "OCRA-1:HOTP-SHA256-8:QN08", Key: aliceKey}}}
}

func bobRecord() Record {
	return Record{ID: "bob", Phone: "+79000000002", Emails: []string{"bob@example.test"},
		Devices: []DeviceRecord{{Name: "phone", Key: bobKey}}}
}

// startRedis starts a standalone server and returns a client for it.
func startRedis(t testing.TB, o redistest.Options) (*redistest.Server, redis.UniversalClient) {
	t.Helper()
	s := redistest.Start(t, o)
	return s, clientFor(t, s.URL)
}

func clientFor(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// newDir returns a Dir closed at the end of the test; Secrets default to
// secretA.
func newDir(t testing.TB, c redis.UniversalClient, o Options) *Dir {
	t.Helper()
	if o.Secrets == nil {
		o.Secrets = [][]byte{secretA}
	}
	heard := new(sync.Map)
	o.heard = func(p string) { heard.Store(p, true) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := New(ctx, c, o)
	if err != nil {
		t.Fatal(err)
	}
	heardBy.Store(d, heard)
	t.Cleanup(func() {
		d.Close()
		heardBy.Delete(d)
	})
	return d
}

// heardBy maps each Dir of newDir to the set of messages it processed.
var heardBy sync.Map // *Dir → *sync.Map of payloads

var probes atomic.Uint64

func mustPut(t testing.TB, d *Dir, rs ...Record) {
	t.Helper()
	for _, r := range rs {
		if err := d.Put(context.Background(), r); err != nil {
			t.Fatalf("Put(%s): %v", r.ID, err)
		}
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// phoneOf returns the phone Lookup gives for id, or "" on error.
func phoneOf(d *Dir, id string) string {
	u, err := d.Lookup(context.Background(), id)
	if err != nil {
		return ""
	}
	return u.Phone
}

// settle waits until d has processed every invalidation published so far
// (including those of its own writes, which arrive after the write
// returns and would drop an entry cached meanwhile). A standalone Redis
// delivers a channel's messages in order, so a probe published now
// arrives last. (A Cluster forwards messages published on different nodes
// independently: there settle is only a delay.)
func settle(t testing.TB, d *Dir) {
	t.Helper()
	v, ok := heardBy.Load(d)
	if !ok {
		t.Fatal("settle needs a Dir from newDir")
	}
	heard := v.(*sync.Map)
	probe := "\x00probe " + strconv.FormatUint(probes.Add(1), 10)
	if err := d.client.Publish(context.Background(), d.channel, probe).Err(); err != nil {
		t.Fatal(err)
	}
	if !eventually(2*time.Second, func() bool { _, ok := heard.Load(probe); return ok }) {
		t.Fatal("the probe message never arrived")
	}
}

// cached looks id up until the cache answers (ristretto applies a Set
// asynchronously and may refuse one), failing the test after 2 s.
func cached(t testing.TB, d *Dir, id string) {
	t.Helper()
	settle(t, d)
	ok := eventually(2*time.Second, func() bool {
		if _, err := d.Lookup(context.Background(), id); err != nil {
			t.Fatalf("Lookup(%s): %v", id, err)
		}
		d.cache.Wait()
		_, hit := d.cache.Get(id)
		return hit
	})
	if !ok {
		t.Fatalf("%s never got cached", id)
	}
}
