package trust_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/challenge/trust"
	"github.com/enumgate/enumgate/challenge/trust/trusttest"
	"github.com/enumgate/enumgate/internal/redistest"
)

var prefixes atomic.Int64

// newPrefix returns a key prefix no other test uses, so tests can share a
// server and still start empty.
func newPrefix() string { return fmt.Sprintf("t%d:", prefixes.Add(1)) }

func newRedisClient(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	c, err := redisstore.NewClient(redisstore.ClientConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func redisFactory(c redis.UniversalClient) trusttest.Factory {
	return func(t *testing.T, o trusttest.Options) trust.Store {
		return trust.NewRedis(c, trust.RedisOptions{Prefix: newPrefix(), RiskRetention: o.RiskRetention, Now: o.Now})
	}
}

func TestRedisStoreConformanceStandalone(t *testing.T) {
	c := newRedisClient(t, redistest.Start(t, redistest.Options{}).URL)
	trusttest.Run(t, redisFactory(c))
}

func TestRedisStoreConformanceCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	trusttest.Run(t, redisFactory(c))
}

// Every key of a user's shares the user's hash tag (one slot), names
// neither the user nor a payee or client key, and expires as documented.
func TestRedisStoreKeysTagsAndLifetimes(t *testing.T) {
	c := newRedisClient(t, redistest.Start(t, redistest.Options{}).URL)
	prefix := newPrefix()
	s := trust.NewRedisStore(c, prefix)
	ctx := context.Background()
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Grant(ctx, trust.Grant{ID: "abcdefghijklmnopqrstuv", User: "dave", Session: []byte("sess"), Section: "settings",
		Created: now, Until: now.Add(10 * time.Minute)}))
	must(s.Trust(ctx, "dave", trust.Payee{Payee: "Z555000111222", UpTo: "100", Added: now}))
	must(s.MarkPayee(ctx, "dave", "Z555000111222", now))
	must(s.MarkClient(ctx, "dave", "ip:203.0.113.0/24", now))
	_, err := s.AddDaily(ctx, "dave", "RUB", "10", now)
	must(err)

	keys, err := c.Keys(ctx, prefix+"*").Result()
	must(err)
	day := now.UTC().Format("20060102")
	lifetimes := map[string]struct{ min, max time.Duration }{ // -1: no expiry
		":g":        {10 * time.Minute, 11 * time.Minute},
		":ge":       {10 * time.Minute, 11 * time.Minute},
		":p":        {-1, -1},
		":sp":       {trust.RiskRetention - time.Minute, trust.RiskRetention},
		":cl":       {trust.RiskRetention - time.Minute, trust.RiskRetention},
		":d:" + day: {trust.DailyRetention - time.Minute, trust.DailyRetention},
	}
	var tag string
	for _, k := range keys {
		rest := strings.TrimPrefix(k, prefix)
		if !strings.HasPrefix(rest, "{u:") || !strings.Contains(rest, "}:t:") {
			t.Fatalf("key %q is not under the user's hash tag", k)
		}
		if kt := rest[:strings.IndexByte(rest, '}')+1]; tag == "" {
			tag = kt
		} else if kt != tag {
			t.Fatalf("keys under two tags: %s and %s", tag, kt)
		}
		if strings.Contains(k, "dave") || strings.Contains(k, "Z555") || strings.Contains(k, "203.0") {
			t.Fatalf("key %q names the user, a payee or a client", k)
		}
		kind := rest[strings.Index(rest, "}:t:")+4+64:]
		want, ok := lifetimes[kind]
		if !ok {
			t.Fatalf("unexpected key %q (kind %q)", k, kind)
		}
		delete(lifetimes, kind)
		ttl, err := c.PTTL(ctx, k).Result()
		must(err)
		if want.min < 0 && ttl != -1 || want.min >= 0 && (ttl < want.min || ttl > want.max) {
			t.Errorf("key %s: PTTL %s, want %s..%s", kind, ttl, want.min, want.max)
		}
		if kind == ":sp" || kind == ":cl" {
			dump, _ := c.Dump(ctx, k).Result()
			if strings.Contains(dump, "Z555") || strings.Contains(dump, "203.0") {
				t.Errorf("the risk memory %s holds a payee or client in clear", kind)
			}
		}
	}
	if len(lifetimes) != 0 {
		t.Fatalf("keys %v missing; have %v", lifetimes, keys)
	}
	// Ending the last grant drops the grant keys.
	must(s.EndGrant(ctx, "dave", "abcdefghijklmnopqrstuv"))
	if n, _ := c.Exists(ctx, keys...).Result(); n != int64(len(keys)-2) {
		t.Fatalf("%d of %d keys left after the last grant ended, want %d", n, len(keys), len(keys)-2)
	}
}

// With Redis down every call fails — never "not granted", "not trusted"
// or "new payee" silently: the caller fails closed.
func TestRedisStoreDownFailsEveryCall(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s := trust.NewRedisStore(newRedisClient(t, srv.URL), newPrefix())
	srv.Stop()
	ctx := context.Background()
	now := time.Now()
	second := func(_ any, err error) error { return err }
	third := func(_, _ any, err error) error { return err }
	calls := []struct {
		name string
		err  error
	}{
		{"Grant", s.Grant(ctx, trust.Grant{ID: "abcdefghijklmnopqrstuv", User: "u", Session: []byte("s"), Section: "x", Created: now, Until: now.Add(time.Minute)})},
		{"Granted", third(s.Granted(ctx, "u", []byte("s"), "x", now))},
		{"Grants", second(s.Grants(ctx, "u", now))},
		{"EndGrant", s.EndGrant(ctx, "u", "abcdefghijklmnopqrstuv")},
		{"Trust", s.Trust(ctx, "u", trust.Payee{Payee: "p"})},
		{"Untrust", s.Untrust(ctx, "u", "p")},
		{"Trusted", second(s.Trusted(ctx, "u"))},
		{"TrustedPayee", third(s.TrustedPayee(ctx, "u", "p"))},
		{"SeenPayee", second(s.SeenPayee(ctx, "u", "p"))},
		{"MarkPayee", s.MarkPayee(ctx, "u", "p", now)},
		{"DailyTotal", second(s.DailyTotal(ctx, "u", "RUB", now))},
		{"AddDaily", second(s.AddDaily(ctx, "u", "RUB", "1", now))},
		{"SeenClient", second(s.SeenClient(ctx, "u", "k", time.Hour, now))},
		{"MarkClient", s.MarkClient(ctx, "u", "k", now)},
	}
	for _, c := range calls {
		if c.err == nil || errors.Is(c.err, trust.ErrNotFound) || errors.Is(c.err, trust.ErrInvalid) {
			t.Errorf("%s with Redis down: %v, want a store failure", c.name, c.err)
		}
	}
}
