package journal_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/journal"
	"github.com/enumgate/enumgate/challenge/journal/journaltest"
	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/internal/redistest"
)

var prefixes atomic.Int64

// newPrefix returns a key prefix no other test uses, so tests can share a
// server and still start from empty journals.
func newPrefix() string { return fmt.Sprintf("j%d:", prefixes.Add(1)) }

func newClient(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	c, err := redisstore.NewClient(redisstore.ClientConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newRedis(t testing.TB, c journal.RedisClient, o journal.RedisOptions) *journal.Redis {
	t.Helper()
	if o.Prefix == "" {
		o.Prefix = newPrefix()
	}
	j, err := journal.NewRedis(c, o)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func redisFactory(c journal.RedisClient) journaltest.Factory {
	return func(t *testing.T, o journaltest.Options) journal.Journal {
		return newRedis(t, c, journal.RedisOptions{MaxEntries: o.MaxEntries, MaxAge: o.MaxAge, Now: o.Now})
	}
}

func TestRedisConformanceStandalone(t *testing.T) {
	journaltest.Run(t, redisFactory(newClient(t, redistest.Start(t, redistest.Options{}).URL)))
}

func TestRedisConformanceCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	journaltest.Run(t, redisFactory(client))

	t.Run("users' streams spread over the masters", func(t *testing.T) {
		j := newRedis(t, client, journal.RedisOptions{})
		for i := range 30 {
			if err := j.Append(ctx, fmt.Sprintf("spread-%d", i), journal.Entry{Event: "issued"}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		masters := 0
		err := client.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			n, err := m.DBSize(ctx).Result()
			mu.Lock()
			defer mu.Unlock()
			if n > 0 {
				masters++
			}
			return err
		})
		if err != nil || masters != 3 {
			t.Fatalf("streams on %d masters (%v), want 3", masters, err)
		}
	})
}

// TestRedisStreamLayout checks the documented key and field, the exact
// count trimming, the approximate age trimming and the stream's TTL.
func TestRedisStreamLayout(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	clock := journaltest.NewClock(journaltest.T0)
	j := newRedis(t, client, journal.RedisOptions{Prefix: "lay:", MaxEntries: 50, MaxAge: time.Hour, Now: clock.Now})
	h := sha256.Sum256([]byte("alice"))
	key := "lay:{u:" + hex.EncodeToString(h[:8]) + "}:j:" + hex.EncodeToString(h[:])
	if got := j.Key("alice"); got != key {
		t.Fatalf("Key = %q, want %q", got, key)
	}

	t.Run("one field of JSON per entry, id from the journal's clock", func(t *testing.T) {
		if err := j.Append(ctx, "alice", journal.Entry{Event: "issued", Operation: "transfer"}); err != nil {
			t.Fatal(err)
		}
		msgs, err := client.XRange(ctx, key, "-", "+").Result()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("XRANGE = %v, %v", msgs, err)
		}
		want := fmt.Sprintf("%d-0", journaltest.T0.UnixMilli())
		if msgs[0].ID != want || len(msgs[0].Values) != 1 ||
			msgs[0].Values["e"] != `{"at":"2026-12-01T12:00:00Z","event":"issued","operation":"transfer"}` {
			t.Fatalf("stream entry = %+v, want id %s and one field e", msgs[0], want)
		}
		ttl, err := client.PTTL(ctx, key).Result()
		if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
			t.Fatalf("PTTL = %v, %v; want MaxAge", ttl, err)
		}
	})

	t.Run("count trimming is exact", func(t *testing.T) {
		for range 120 {
			if err := j.Append(ctx, "alice", journal.Entry{Event: "issued"}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := client.XLen(ctx, key).Result(); err != nil || n != 50 {
			t.Fatalf("XLEN = %d, %v; want MaxEntries", n, err)
		}
	})

	t.Run("age trimming frees aged entries as appends go on", func(t *testing.T) {
		bob := j.Key("bob")
		long := newRedis(t, client, journal.RedisOptions{Prefix: "lay:", MaxEntries: 10000, MaxAge: time.Minute, Now: clock.Now})
		for range 1000 {
			if err := long.Append(ctx, "bob", journal.Entry{Event: "issued"}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Second)
		}
		// 60 entries are in the last minute; approximate trimming frees
		// whole stream nodes (100 entries each by default).
		if n, err := client.XLen(ctx, bob).Result(); err != nil || n < 60 || n > 300 {
			t.Fatalf("XLEN = %d, %v; want the last minute's 60 plus at most a few nodes", n, err)
		}
	})
}

func TestRedisClockBehindTheStream(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	ahead := journaltest.NewClock(journaltest.T0.Add(time.Hour))
	behind := journaltest.NewClock(journaltest.T0)
	prefix := newPrefix()
	j1 := newRedis(t, client, journal.RedisOptions{Prefix: prefix, Now: ahead.Now})
	j2 := newRedis(t, client, journal.RedisOptions{Prefix: prefix, Now: behind.Now})
	for i, j := range []*journal.Redis{j1, j2, j1, j2} {
		if err := j.Append(ctx, "alice", journal.Entry{Event: "issued", ChallengeID: fmt.Sprint(i)}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	es, _, err := j1.Page(ctx, "alice", 10, "")
	if err != nil || len(es) != 4 || es[0].ChallengeID != "3" || es[3].ChallengeID != "0" {
		t.Fatalf("Page = %+v, %v; want all four, newest first", es, err)
	}
}

func TestRedisRefusesABracedPrefix(t *testing.T) {
	for _, p := range []string{"a{b", "a}b", "{x}:"} {
		if _, err := journal.NewRedis(nil, journal.RedisOptions{Prefix: p}); err == nil {
			t.Errorf("NewRedis(prefix %q) accepted", p)
		}
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	client := newClient(t, srv.URL)
	j := newRedis(t, client, journal.RedisOptions{})
	srv.Stop()
	err := j.Append(ctx, "alice", journal.Entry{Event: "issued"})
	if err == nil || !strings.HasPrefix(err.Error(), "redis: journal append:") {
		t.Fatalf("Append with Redis down = %v, want a redis error", err)
	}
	if _, _, err := j.Page(ctx, "alice", 1, ""); err == nil || errors.Is(err, journal.ErrBadCursor) {
		t.Fatalf("Page with Redis down = %v, want a redis error", err)
	}
}
