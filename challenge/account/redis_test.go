package account_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/account"
	"github.com/enumgate/enumgate/challenge/account/accounttest"
	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/internal/redistest"
)

var prefixes atomic.Int64

// newPrefix returns a key prefix no other test uses, so tests can share a
// server and still start empty.
func newPrefix() string { return fmt.Sprintf("a%d:", prefixes.Add(1)) }

func newRedisClient(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	c, err := redisstore.NewClient(redisstore.ClientConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisStoreConformanceStandalone(t *testing.T) {
	c := newRedisClient(t, redistest.Start(t, redistest.Options{}).URL)
	accounttest.Run(t, func(t *testing.T) account.Store { return account.NewRedisStore(c, newPrefix()) })
}

func TestRedisStoreConformanceCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	accounttest.Run(t, func(t *testing.T) account.Store { return account.NewRedisStore(c, newPrefix()) })

	t.Run("the whole registration on a Cluster", func(t *testing.T) {
		f := newFixture(t, account.NewRedisStore(c, newPrefix()))
		f.verify(t, "dave", account.KindPhone, "+79000000004")
		f.verify(t, "dave", account.KindEmail, "dave@example.test")
		f.enrol(t, "dave")
		r, err := f.svc.OpenRecovery(ctx, "dave", "lost")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.CloseRecovery(ctx, r.ID, true, ""); err != nil {
			t.Fatal(err)
		}
		if u, _ := f.svc.Directory().Lookup(ctx, "dave"); len(u.Devices) != 0 || u.Phone != "+79000000004" {
			t.Fatalf("after the reset: %+v", u)
		}
	})
}

func TestRedisStoreKeysAndNothingInClear(t *testing.T) {
	c := newRedisClient(t, redistest.Start(t, redistest.Options{}).URL)
	prefix := newPrefix()
	f := newFixture(t, account.NewRedisStore(c, prefix))
	f.verify(t, "dave", account.KindPhone, "+79000000004")
	e, err := f.svc.StartEnrollment(ctx, "dave", "en")
	if err != nil {
		t.Fatal(err)
	}
	f.svc.OpenRecovery(ctx, "dave", "lost")

	keys, err := c.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	secret := strings.Split(strings.Split(e.URI, "secret=")[1], "&")[0]
	for _, k := range keys {
		rest := strings.TrimPrefix(k, prefix)
		switch {
		case strings.HasPrefix(rest, "{u:") && strings.Contains(rest, "}:acct:") && strings.Contains(rest, ":v:"):
			kinds = append(kinds, "pending")
		case strings.HasPrefix(rest, "{u:") && strings.Contains(rest, "}:acct:"):
			kinds = append(kinds, "state")
		case strings.HasPrefix(rest, "{k:") && strings.Contains(rest, "}:claim:"):
			kinds = append(kinds, "claim")
		case strings.HasPrefix(rest, "{recovery}:recoveries"):
			kinds = append(kinds, "recoveries")
		default:
			t.Fatalf("unexpected key %q", k)
		}
		if strings.Contains(k, "dave") || strings.Contains(k, "+7900") {
			t.Fatalf("key %q names the user or the phone", k)
		}
		dump, _ := c.Dump(context.Background(), k).Result()
		if strings.Contains(dump, secret) || strings.Contains(dump, e.Question) && !strings.Contains(k, ":v:") {
			t.Fatalf("key %q holds the device key or question in clear", k)
		}
	}
	// the state, the pending enrolment, the phone's claim, the recovery hash
	if len(keys) != 4 {
		t.Fatalf("keys %v (%v), want state, pending, claim, recoveries", keys, kinds)
	}
	for _, code := range []string{f.sms.msgs[0].Code} {
		for _, k := range keys {
			if dump, _ := c.Dump(context.Background(), k).Result(); strings.Contains(dump, code) {
				t.Fatalf("key %q holds a code in clear", k)
			}
		}
	}
}

func TestRedisStoreDownIsUnavailable(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	c := newRedisClient(t, srv.URL)
	f := newFixture(t, account.NewRedisStore(c, newPrefix()))
	srv.Stop()
	steps := []struct {
		name string
		err  error
	}{
		{"View", second(f.svc.View(ctx, "alice"))},
		{"Lookup", second(f.svc.Directory().Lookup(ctx, "alice"))},
		{"StartVerification", second(f.svc.StartVerification(ctx, "bob", account.KindPhone, "+79000000202", "en"))},
		{"StartEnrollment", second(f.svc.StartEnrollment(ctx, "bob", "en"))},
		{"SetNotify", f.svc.SetNotify(ctx, "bob", account.Notify{})},
		{"OpenRecovery", second(f.svc.OpenRecovery(ctx, "bob", ""))},
	}
	for _, s := range steps {
		is(t, s.name, s.err, account.ErrUnavailable)
	}
	if f.sms.count() != 0 {
		t.Fatal("a code was sent while the store was down")
	}
}
