package redisstore_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/challenge/store/storetest"
	"github.com/enumgate/enumgate/internal/redistest"
)

var (
	ctx    = context.Background()
	right  = mac("right")
	wrong  = mac("wrong")
	prefix atomic.Int64
)

func mac(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// newPrefix returns a key prefix no other test uses, so tests can share a
// server and still start from an empty store.
func newPrefix() string { return fmt.Sprintf("t%d:", prefix.Add(1)) }

// newClient connects to url through NewClient and closes at cleanup.
func newClient(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	c, err := redisstore.NewClient(redisstore.ClientConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func owner(r *store.Record) store.Owner { return store.Owner{User: r.User, Session: r.Session} }

// userTag is the hash tag of user's keys, {u:<first 16 hex digits of the
// SHA-256 of the user id>}, as the package documentation lays it out.
func userTag(user string) string {
	h := sha256.Sum256([]byte(user))
	return "{u:" + hex.EncodeToString(h[:8]) + "}"
}

// challengeKey and lockKey are the documented keys of a challenge and of
// its user's lock under prefix p.
func challengeKey(p, user, id string) string { return p + userTag(user) + ":c:" + id }
func lockKey(p, user string) string          { return p + userTag(user) + ":lock" }
func pendingKey(p, user string) string       { return p + userTag(user) + ":p" }
func heldKey(p, user string) string          { return p + userTag(user) + ":b" }

// pending creates a challenge and begins E-num on it with right as the
// expected answer.
func pending(t testing.TB, s store.Store) *store.Record {
	t.Helper()
	return pendingFor(t, s, storetest.NewRecord().User)
}

// confirmedBy makes a pending challenge and confirms it through s.
func confirmedBy(t testing.TB, s store.Store) *store.Record {
	t.Helper()
	r := pending(t, s)
	if res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); err != nil || res.Outcome != store.Confirmed {
		t.Fatalf("Attempt = %+v, %v", res, err)
	}
	return r
}

// pendingFor is pending for user.
func pendingFor(t testing.TB, s store.Store, user string) *store.Record {
	t.Helper()
	r := storetest.NewRecord()
	r.User = user
	if err := s.Create(ctx, r, r.Created); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := s.Begin(ctx, r.ID, owner(r), store.Begin{Method: "enum", Question: "12345678", Expected: [][]byte{right}}, r.Created); err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return r
}

func TestConformanceStandalone(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	storetest.Run(t, func(t *testing.T) store.Store {
		return redisstore.New(client, redisstore.Options{Prefix: newPrefix()})
	})
}

func TestConformanceCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { client.Close() })
	storetest.Run(t, func(t *testing.T) store.Store {
		return redisstore.New(client, redisstore.Options{Prefix: newPrefix()})
	})

	// The challenges of many users land on every master: the user tags do
	// spread them.
	t.Run("keys spread over the masters", func(t *testing.T) {
		s := redisstore.New(client, redisstore.Options{Prefix: newPrefix()})
		for i := range 30 {
			r := storetest.NewRecord()
			r.User = fmt.Sprintf("spread-%d", i)
			if err := s.Create(ctx, r, r.Created); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		var masters int
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
			t.Fatalf("challenges on %d masters (%v), want 3", masters, err)
		}
	})

	t.Run("check and ping", func(t *testing.T) {
		s := redisstore.New(client, redisstore.Options{WaitReplicas: 1})
		if err := s.Check(ctx); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		// Every node is checked, not one picked at random.
		node := redis.NewClient(&redis.Options{Addr: c.Addrs[1]})
		defer node.Close()
		for _, policy := range []string{"allkeys-lru", "noeviction"} {
			if err := node.ConfigSet(ctx, "maxmemory-policy", policy).Err(); err != nil {
				t.Fatal(err)
			}
			err := s.Check(ctx)
			if policy == "noeviction" && err != nil || policy != "noeviction" && (err == nil || !strings.Contains(err.Error(), c.Addrs[1])) {
				t.Fatalf("Check with %s on %s = %v", policy, c.Addrs[1], err)
			}
		}
	})

	// WaitReplicas finds the slot's master (MasterForKey) and, with no
	// replica there, fails closed.
	t.Run("wait replicas fails closed on a cluster without replicas", func(t *testing.T) {
		s := redisstore.New(client, redisstore.Options{Prefix: newPrefix(), WaitReplicas: 1, WaitTimeout: 20 * time.Millisecond})
		r := pending(t, s)
		if res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); err == nil {
			t.Fatalf("Attempt = %+v, want an error", res)
		}
		if res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); err == nil || res.Outcome == store.Repeated {
			t.Fatalf("second Attempt = %+v, %v; want an error (a repeat waits too)", res, err)
		}
	})
}

// Two gateways (two clients, two stores) on one Redis share every
// challenge, and 100 concurrent right answers split across them confirm
// exactly once.
func TestTwoGatewaysConfirmOnce(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	p := newPrefix()
	a := redisstore.New(newClient(t, srv.URL), redisstore.Options{Prefix: p})
	b := redisstore.New(newClient(t, srv.URL), redisstore.Options{Prefix: p})

	r := storetest.NewRecord()
	if err := a.Create(ctx, r, r.Created); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Begin(ctx, r.ID, owner(r), store.Begin{Method: "enum", Expected: [][]byte{right}}, r.Created); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Get(ctx, r.ID, owner(r), r.Created); err != nil || got.Method != "enum" {
		t.Fatalf("gateway A sees %+v, %v; want the method begun through B", got, err)
	}
	var confirmed, repeated atomic.Int32
	var wg sync.WaitGroup
	for i := range 100 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created)
			switch {
			case err == nil && res.Outcome == store.Confirmed:
				confirmed.Add(1)
			case err == nil && res.Outcome == store.Repeated:
				repeated.Add(1)
			default:
				t.Errorf("Attempt = %+v, %v", res, err)
			}
		})
	}
	wg.Wait()
	if confirmed.Load() != 1 || repeated.Load() != 99 {
		t.Fatalf("confirmed %d, repeated %d; want 1 and 99", confirmed.Load(), repeated.Load())
	}
}

// When Redis dies every operation fails (closed) within the timeouts;
// after a restart with persistence the pending challenge confirms once and
// the one confirmed before the crash stays confirmed (Repeated).
func TestRedisDownFailsClosedAndRestartKeepsState(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Persist: true})
	s := redisstore.New(newClient(t, srv.URL), redisstore.Options{Prefix: newPrefix()})

	kept := pending(t, s)
	used := pending(t, s)
	if res, err := s.Attempt(ctx, used.ID, owner(used), right, lockout, used.Created); err != nil || res.Outcome != store.Confirmed {
		t.Fatalf("Attempt = %+v, %v", res, err)
	}

	srv.Stop()
	o, now := owner(kept), kept.Created
	ops := map[string]func() error{
		"Ping":   func() error { return s.Ping(ctx) },
		"Create": func() error { return s.Create(ctx, storetest.NewRecord(), now) },
		"Get":    func() error { _, err := s.Get(ctx, kept.ID, o, now); return err },
		"Begin": func() error {
			_, err := s.Begin(ctx, kept.ID, o, store.Begin{Method: "enum", Expected: [][]byte{right}}, now)
			return err
		},
		"Attempt":     func() error { _, err := s.Attempt(ctx, kept.ID, o, right, lockout, now); return err },
		"Delete":      func() error { return s.Delete(ctx, kept.ID, o) },
		"Unlock":      func() error { return s.Unlock(ctx, "alice") },
		"LockedUntil": func() error { _, err := s.LockedUntil(ctx, "alice", now); return err },
		"Failures":    func() error { _, _, err := s.Failures(ctx, "alice", now); return err },
		"SpendSMS":    func() error { return s.SpendSMS(ctx, "alice", "+79000000001", store.SMSLimits{}, now) },
		"SpendEmail":  func() error { return s.SpendEmail(ctx, "alice", "a@example.test", store.MessageLimits{}, now) },
		"Refund":      func() error { return s.Refund(ctx, store.ChannelSMS, "alice", "+79000000001", now) },
		"Deliver":     func() error { _, err := s.Deliver(ctx, used.ID, owner(used), 3, now); return err },
		"Settle":      func() error { return s.Settle(ctx, used.ID, owner(used), false, now) },
	}
	var wg sync.WaitGroup
	for name, op := range ops {
		wg.Go(func() {
			start := time.Now()
			err := op()
			took := time.Since(start)
			if err == nil || errors.Is(err, store.ErrNotFound) || !strings.HasPrefix(err.Error(), "redis: ") {
				t.Errorf("%s with Redis down = %v; want a wrapped Redis error", name, err)
			}
			if took > 3*time.Second {
				t.Errorf("%s took %v with Redis down", name, took)
			}
		})
	}
	wg.Wait()

	srv.Restart()
	// go-redis holds back dials for up to a second after failing ones.
	for deadline := time.Now().Add(10 * time.Second); s.Ping(ctx) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no answer after the restart")
		}
	}
	if res, err := s.Attempt(ctx, used.ID, owner(used), right, lockout, used.Created); err != nil || res.Outcome != store.Repeated {
		t.Fatalf("challenge confirmed before the crash: Attempt = %+v, %v, want Repeated", res, err)
	}
	if res, err := s.Attempt(ctx, kept.ID, o, right, lockout, now); err != nil || res.Outcome != store.Confirmed {
		t.Fatalf("pending challenge after restart: Attempt = %+v, %v; want Confirmed", res, err)
	}
	if res, err := s.Attempt(ctx, kept.ID, o, right, lockout, now); err != nil || res.Outcome != store.Repeated {
		t.Fatalf("second Attempt after restart = %+v, %v, want Repeated", res, err)
	}
}

// Expiry is judged by the caller's now; the key's TTL follows the
// challenge's lifetime on the caller's clock, whatever the real time.
func TestExpiryByNowAndKeyTTL(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	p := newPrefix()
	s := redisstore.New(client, redisstore.Options{Prefix: p})
	for name, shift := range map[string]time.Duration{"clock in the past": -365 * 24 * time.Hour, "clock in the future": 365 * 24 * time.Hour} {
		t.Run(name, func(t *testing.T) {
			r := storetest.NewRecord()
			r.Created, r.Expires = r.Created.Add(shift), r.Expires.Add(shift)
			if err := s.Create(ctx, r, r.Created); err != nil {
				t.Fatal(err)
			}
			key := challengeKey(p, r.User, r.ID)
			ttl, err := client.PTTL(ctx, key).Result()
			if err != nil || ttl <= 4*time.Minute || ttl > 5*time.Minute {
				t.Fatalf("PTTL = %v, %v; want the 5 minute lifetime", ttl, err)
			}
			if _, err := s.Get(ctx, r.ID, owner(r), r.Expires.Add(-time.Millisecond)); err != nil {
				t.Fatalf("Get just before expiry: %v", err)
			}
			for _, at := range []time.Time{r.Expires, r.Expires.Add(time.Hour)} {
				if _, err := s.Get(ctx, r.ID, owner(r), at); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Get at %v = %v, want ErrNotFound", at, err)
				}
				if _, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, at); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Attempt at %v = %v, want ErrNotFound", at, err)
				}
			}
			if n, _ := client.Exists(ctx, key).Result(); n != 1 {
				t.Fatal("the key vanished before its TTL")
			}
		})
	}
}

// A run of failures lapses with the user's lock hash (24 hours after the
// last failure): Failures then reports 0, and the next failure starts a
// new run.
func TestFailuresLapseWithTheLockKey(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	p := newPrefix()
	s := redisstore.New(client, redisstore.Options{Prefix: p})
	l := store.Lockout{After: 3, For: time.Hour}
	r := pendingFor(t, s, fmt.Sprintf("lapse-%d", prefix.Add(1)))
	o, now := owner(r), r.Created
	for range 2 {
		if _, err := s.Attempt(ctx, r.ID, o, mac(fmt.Sprint("wrong-", prefix.Add(1))), l, now); err != nil {
			t.Fatal(err)
		}
	}
	if n, until, err := s.Failures(ctx, o.User, now); err != nil || n != 2 || !until.IsZero() {
		t.Fatalf("Failures = %d, %v, %v; want 2, none", n, until, err)
	}
	lk := lockKey(p, o.User)
	if ttl, err := client.PTTL(ctx, lk).Result(); err != nil || ttl <= 23*time.Hour || ttl > 24*time.Hour {
		t.Fatalf("lock key TTL %v, %v; want 24h", ttl, err)
	}
	if err := client.Del(ctx, lk).Err(); err != nil { // as its TTL would
		t.Fatal(err)
	}
	if n, until, err := s.Failures(ctx, o.User, now); err != nil || n != 0 || !until.IsZero() {
		t.Fatalf("Failures after the lapse = %d, %v, %v; want 0, none", n, until, err)
	}
	res, err := s.Attempt(ctx, r.ID, o, mac(fmt.Sprint("wrong-", prefix.Add(1))), l, now)
	if err != nil || !res.LockedUntil.IsZero() {
		t.Fatalf("failure after the lapse = %+v, %v; want no lock", res, err)
	}
	if n, _, err := s.Failures(ctx, o.User, now); err != nil || n != 1 {
		t.Fatalf("Failures after a new failure = %d, %v; want 1", n, err)
	}
}

// keyRecorder records the keys of every command a client sends.
type keyRecorder struct {
	mu   sync.Mutex
	keys []string
}

func (k *keyRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (k *keyRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if name := cmd.Name(); (name == "evalsha" || name == "eval") && len(args) > 2 {
			n, _ := args[2].(int)
			k.mu.Lock()
			for _, a := range args[3 : 3+n] {
				k.keys = append(k.keys, a.(string))
			}
			k.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (k *keyRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (k *keyRecorder) take() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys := k.keys
	k.keys = nil
	return keys
}

// hashTag returns the part of key Redis Cluster hashes.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// A challenge's keys, its user's lock key and its user's pending and held
// sets share the user's hash tag, {u:<utag>}, so Create, Begin, Attempt,
// Delete, Deliver and Settle decide on them in one slot; no key contains
// the user id itself, whatever characters it holds; SMS keys all share
// {sms}, e-mail keys {email}.
func TestKeyLayout(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	rec := &keyRecorder{}
	client.AddHook(rec)
	p := newPrefix()
	s := redisstore.New(client, redisstore.Options{Prefix: p})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	scan := func(tag string) []string {
		t.Helper()
		var seen []string
		iter := client.Scan(ctx, 0, p+tag+"*", 100).Iterator()
		for iter.Next(ctx) {
			seen = append(seen, iter.Val())
		}
		must(iter.Err())
		slices.Sort(seen)
		return seen
	}

	for _, user := range []string{"alice", "{m}:al}ice{:lock"} {
		t.Run(user, func(t *testing.T) {
			tag := userTag(user)
			r := storetest.NewRecord()
			r.User = user
			o, now := owner(r), r.Created
			ck, lk, pk, hk := challengeKey(p, user, r.ID), lockKey(p, user), pendingKey(p, user), heldKey(p, user)
			must(s.Create(ctx, r, now))
			_, err := s.Get(ctx, r.ID, o, now)
			must(err)
			_, err = s.Begin(ctx, r.ID, o, store.Begin{Method: "sms", Expected: [][]byte{right}, Cooldown: time.Minute}, now)
			must(err)
			res, err := s.Attempt(ctx, r.ID, o, wrong, lockout, now)
			must(err)
			if res.Outcome != store.Wrong {
				t.Fatalf("wrong answer = %+v", res)
			}
			want := []string{ck, lk, pk, hk}
			slices.Sort(want)
			if got := scan(tag); !slices.Equal(got, want) {
				t.Fatalf("keys after a wrong answer: %q, want %q", got, want)
			}
			if ttl, err := client.PTTL(ctx, lk).Result(); err != nil || ttl <= 23*time.Hour || ttl > 24*time.Hour {
				t.Errorf("lock key TTL after a failure %v, %v; want 24h", ttl, err)
			}
			res, err = s.Attempt(ctx, r.ID, o, right, lockout, now)
			must(err)
			if res.Outcome != store.Confirmed {
				t.Fatalf("right answer = %+v", res)
			}
			want = []string{ck, hk}
			slices.Sort(want)
			if got := scan(tag); !slices.Equal(got, want) {
				t.Fatalf("keys after a confirmation: %q, want %q (the confirmed challenge and its held stash; the failure count and the pending entry end)", got, want)
			}
			if err := s.Settle(ctx, r.ID, o, true, now); err != nil {
				t.Fatal(err)
			}
			if got := scan(tag); !slices.Equal(got, []string{ck}) {
				t.Fatalf("keys after the delivery: %q, want only the confirmed challenge", got)
			}
			if err := s.Delete(ctx, "other", o); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Delete of an unknown id = %v", err)
			}
			// (A script's first run may send its keys twice: EVALSHA, then EVAL.)
			keys := rec.take()
			if len(keys) < 17 || keys[len(keys)-4] != challengeKey(p, user, "other") {
				t.Fatalf("recorded keys %q", keys)
			}
			for _, k := range keys {
				if !strings.HasPrefix(k, p+tag+":") || hashTag(k) != tag[1:len(tag)-1] || strings.Contains(k, user) {
					t.Errorf("challenge operation key %q is not under %s%s or holds the user id", k, p, tag)
				}
			}

			// A failure that locks keeps the lock hash for 24 hours after
			// the lock ends.
			r = storetest.NewRecord()
			r.User = user
			must(s.Create(ctx, r, now))
			_, err = s.Begin(ctx, r.ID, o, store.Begin{Method: "enum", Expected: [][]byte{right}}, now)
			must(err)
			res, err = s.Attempt(ctx, r.ID, o, wrong, store.Lockout{After: 1, For: time.Hour}, now)
			if err != nil || !res.LockedUntil.Equal(now.Add(time.Hour)) {
				t.Fatalf("locking failure = %+v, %v", res, err)
			}
			if ttl, err := client.PTTL(ctx, lk).Result(); err != nil || ttl <= 24*time.Hour || ttl > 25*time.Hour {
				t.Errorf("lock key TTL after a lock %v, %v; want 25h", ttl, err)
			}
			until, err := s.LockedUntil(ctx, user, now)
			if err != nil || !until.Equal(now.Add(time.Hour)) {
				t.Fatalf("LockedUntil = %v, %v", until, err)
			}
			if n, until, err := s.Failures(ctx, user, now); err != nil || n != 0 || !until.Equal(now.Add(time.Hour)) {
				t.Fatalf("Failures while locked = %d, %v, %v; want 0 and the lock's end", n, until, err)
			}
			must(s.Unlock(ctx, user))
			if n, err := client.Exists(ctx, lk).Result(); err != nil || n != 0 {
				t.Errorf("lock key after Unlock: exists %d, %v", n, err)
			}
			must(s.Delete(ctx, r.ID, o))
			for _, k := range rec.take() {
				if hashTag(k) != tag[1:len(tag)-1] || strings.Contains(k, user) {
					t.Errorf("key %q is not tagged %s or holds the user id", k, tag)
				}
			}

			// Failures reads the lock key alone and writes nothing: asking
			// about a user with no run creates no key.
			if n, until, err := s.Failures(ctx, user, now); err != nil || n != 0 || !until.IsZero() {
				t.Fatalf("Failures after Unlock = %d, %v, %v; want 0, none", n, until, err)
			}
			if keys := rec.take(); !slices.Equal(keys, []string{lk}) {
				t.Errorf("Failures used keys %q, want only the lock key %q", keys, lk)
			}
			if n, err := client.Exists(ctx, lk).Result(); err != nil || n != 0 {
				t.Errorf("lock key after Failures: exists %d, %v", n, err)
			}
		})
	}
	if userTag("alice") == userTag("bob") {
		t.Fatal("two users share a tag")
	}

	now := storetest.NewRecord().Created
	for _, ch := range []string{store.ChannelSMS, store.ChannelEmail} {
		l := store.MessageLimits{UserHourly: 5, DailyBudget: 100}
		if ch == store.ChannelSMS {
			must(s.SpendSMS(ctx, "alice", "+79001234567", l, now))
		} else {
			must(s.SpendEmail(ctx, "alice", "a@example.test", l, now))
		}
		keys := rec.take()
		if len(keys) == 0 || len(keys)%5 != 0 {
			t.Fatalf("spend %s passed keys %q, want 5 per run", ch, keys)
		}
		for _, k := range keys {
			if hashTag(k) != ch {
				t.Errorf("%s key %q is not in the {%s} slot", ch, k, ch)
			}
			if ttl, err := client.PTTL(ctx, k).Result(); err != nil || ttl <= 0 || ttl > 25*time.Hour {
				t.Errorf("%s key %q has TTL %v, %v; want one", ch, k, ttl, err)
			}
		}
	}
}

// With WaitReplicas and no replica, a right answer is not reported as
// Confirmed: Attempt fails closed, and so does its retry (Repeated waits
// as well); the challenge stays confirmed, never confirmable again.
func TestWaitReplicasFailsClosedWithoutReplicas(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	s := redisstore.New(client, redisstore.Options{Prefix: newPrefix(), WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond})
	r := pending(t, s)
	// Wrong answers do not wait.
	if res, err := s.Attempt(ctx, r.ID, owner(r), wrong, lockout, r.Created); err != nil || res.Outcome != store.Wrong {
		t.Fatalf("wrong Attempt = %+v, %v", res, err)
	}
	res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created)
	if err == nil || res.Outcome == store.Confirmed || !strings.Contains(err.Error(), "0 of 1 replicas") {
		t.Fatalf("Attempt = %+v, %v; want an error and no confirmation", res, err)
	}
	if res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); err == nil || !strings.Contains(err.Error(), "0 of 1 replicas") {
		t.Fatalf("second Attempt = %+v, %v; want the same error", res, err)
	}
	got, err := s.Get(ctx, r.ID, owner(r), r.Created)
	if err != nil || got.ConfirmedAt.IsZero() {
		t.Fatalf("Get = %+v, %v; want the confirmed challenge", got, err)
	}
}

// With a live replica, WaitReplicas confirms, and the replica has the
// consumption by the time Attempt returns.
func TestWaitReplicasConfirmsWithReplica(t *testing.T) {
	master := redistest.Start(t, redistest.Options{TCP: true})
	replica := redistest.Start(t, redistest.Options{})
	mc, rc := newClient(t, master.URL), newClient(t, replica.URL)
	if err := mc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(master.Addr, ":")
	if err := rc.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := mc.Info(ctx, "replication").Result()
		if err == nil && replicaOnline(info) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica never came online: %s", info)
		}
		time.Sleep(20 * time.Millisecond)
	}

	p := newPrefix()
	s := redisstore.New(mc, redisstore.Options{Prefix: p, WaitReplicas: 1, WaitTimeout: 2 * time.Second})
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	r := pending(t, s)
	res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created)
	if err != nil || res.Outcome != store.Confirmed {
		t.Fatalf("Attempt = %+v, %v; want Confirmed", res, err)
	}
	if v, err := rc.HGet(ctx, challengeKey(p, r.User, r.ID), "conf_at").Result(); err != nil || v == "" {
		t.Fatalf("the replica does not hold the confirmation (%q, %v)", v, err)
	}
}

func replicaOnline(info string) bool {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "slave0:") && strings.Contains(sc.Text(), "state=online") {
			return true
		}
	}
	return false
}

func TestCheckMemoryPolicy(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	s := redisstore.New(client, redisstore.Options{})
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check with noeviction: %v", err)
	}
	if err := client.ConfigSet(ctx, "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err == nil || !strings.Contains(err.Error(), "volatile-lru") {
		t.Fatalf("Check with volatile-lru = %v, want an error naming it", err)
	}
	// CONFIG disabled (managed Redis): Check cannot tell and says nothing.
	if err := client.Do(ctx, "ACL", "SETUSER", "default", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check without CONFIG = %v, want nil", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// A full Redis (noeviction) refuses new challenges, and wrong answers
// whose failure it could not count, with an error that is store.ErrFull;
// live challenges stay intact and still confirm.
func TestFullRedisRefusesCreate(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	p := newPrefix()
	s := redisstore.New(client, redisstore.Options{Prefix: p})
	r := pending(t, s)
	if err := client.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	err := s.Create(ctx, storetest.NewRecord(), r.Created)
	if !errors.Is(err, store.ErrFull) || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("Create on a full Redis = %v, want ErrFull wrapping OOM", err)
	}
	if _, err := s.Begin(ctx, r.ID, owner(r), store.Begin{Method: "email", Expected: [][]byte{wrong}}, r.Created); !errors.Is(err, store.ErrFull) {
		t.Fatalf("Begin on a full Redis = %v, want ErrFull", err)
	}
	// A wrong answer whose failure cannot be written fails closed and
	// changes nothing.
	for _, l := range []store.Lockout{{}, lockout} {
		if res, err := s.Attempt(ctx, r.ID, owner(r), wrong, l, r.Created); !errors.Is(err, store.ErrFull) {
			t.Fatalf("wrong Attempt under %+v on a full Redis = %+v, %v; want ErrFull", l, res, err)
		}
	}
	if got, err := s.Get(ctx, r.ID, owner(r), r.Created); err != nil || got.AttemptsLeft != 3 {
		t.Fatalf("Get after refused answers = %+v, %v; want 3 attempts left", got, err)
	}
	if n, err := client.Exists(ctx, lockKey(p, r.User)).Result(); err != nil || n != 0 {
		t.Fatalf("lock key after refused answers: exists %d, %v", n, err)
	}
	// Reads and consumption still work: a confirmation frees memory.
	if res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); err != nil || res.Outcome != store.Confirmed {
		t.Fatalf("Attempt on a full Redis = %+v, %v", res, err)
	}
}

// The key is derived from the caller's user, yet the scripts still compare
// the user stored in the challenge: a challenge found under another
// user's key (as a hash collision of user tags would put it) is not
// found, and the answers to it change nothing.
func TestStoredOwnerCheckedWhateverTheKey(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	p := newPrefix()
	s := redisstore.New(client, redisstore.Options{Prefix: p})
	r := pending(t, s)
	if err := client.Rename(ctx, challengeKey(p, r.User, r.ID), challengeKey(p, "bob", r.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	bob := store.Owner{User: "bob", Session: r.Session}
	if _, err := s.Get(ctx, r.ID, bob, r.Created); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get = %v, want ErrNotFound", err)
	}
	if _, err := s.Begin(ctx, r.ID, bob, store.Begin{Method: "enum", Expected: [][]byte{wrong}}, r.Created); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Begin = %v, want ErrNotFound", err)
	}
	for _, m := range [][]byte{right, wrong} {
		if _, err := s.Attempt(ctx, r.ID, bob, m, store.Lockout{After: 1, For: time.Hour}, r.Created); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Attempt = %v, want ErrNotFound", err)
		}
	}
	if err := s.Delete(ctx, r.ID, bob); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete = %v, want ErrNotFound", err)
	}
	if until, err := s.LockedUntil(ctx, "bob", r.Created); err != nil || !until.IsZero() {
		t.Errorf("bob locked until %v, %v", until, err)
	}
	// Moved back, the challenge is whole.
	if err := client.Rename(ctx, challengeKey(p, "bob", r.ID), challengeKey(p, r.User, r.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); err != nil || res.Outcome != store.Confirmed || res.AttemptsLeft != 3 {
		t.Fatalf("Attempt by the owner = %+v, %v", res, err)
	}
}

// A record created with a method already chosen reads back whole.
func TestCreateWithMethodAndBinarySession(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	s := redisstore.New(client, redisstore.Options{Prefix: newPrefix()})
	r := storetest.NewRecord()
	r.Session = []byte{0, 0xff, '\r', '\n', 0, '{', '}'}
	r.Method, r.Question, r.SentTo = "enum", "87654321", "a•••@x.org"
	r.Expected = [][]byte{mac("a"), right}
	r.ResendAt = map[string]time.Time{"sms": r.Created.Add(time.Minute)}
	if err := s.Create(ctx, r, r.Created); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, r.ID, owner(r), r.Created)
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != "enum" || got.Question != "87654321" || got.SentTo != r.SentTo || len(got.Expected) != 2 ||
		!got.ResendAt["sms"].Equal(r.ResendAt["sms"]) || !got.Created.Equal(r.Created) || string(got.Session) != string(r.Session) {
		t.Fatalf("Get = %+v", got)
	}
	o := owner(r)
	o.Session = append([]byte(nil), o.Session[:6]...)
	if _, err := s.Get(ctx, r.ID, o, r.Created); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a session binding's prefix is accepted: %v", err)
	}
	if _, err := s.Begin(ctx, r.ID, owner(r), store.Begin{Method: "enum", Expected: [][]byte{right, right[:8]}}, r.Created); err == nil {
		t.Fatal("Begin accepted expected MACs of different lengths")
	}
	if res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); err != nil || res.Outcome != store.Confirmed || len(res.Record.Stash) != 1024 {
		t.Fatalf("Attempt = %+v, %v", res, err)
	}
}

// The tombstone left by the last wrong answer keeps the descriptive fields
// but neither the stash nor the expected answers.
func TestTombstoneDropsStash(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	p := newPrefix()
	s := redisstore.New(client, redisstore.Options{Prefix: p})
	r := pending(t, s)
	for i := range 3 {
		if _, err := s.Attempt(ctx, r.ID, owner(r), mac(fmt.Sprint("wrong", i)), lockout, r.Created); err != nil {
			t.Fatal(err)
		}
	}
	fields, err := client.HKeys(ctx, challengeKey(p, r.User, r.ID)).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if f == "stash" || f == "expected" || f == "tried" {
			t.Errorf("tombstone keeps %s", f)
		}
	}
	got, err := s.Get(ctx, r.ID, owner(r), r.Created)
	if err != nil || got.AttemptsLeft != 0 || got.Stash != nil || got.Expected != nil || got.Tried != nil || got.Operation != "transfer" || got.Payee != "Z123" {
		t.Fatalf("Get on the tombstone = %+v, %v", got, err)
	}
}

// roundTrips counts the commands and pipelines a client sends.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// Once its script is loaded, every operation is exactly one round trip:
// the lockout is decided inside Create, Begin and Attempt, never by a
// call of its own.
func TestOneRoundTripPerOperation(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	p := newPrefix()
	client := newClient(t, srv.URL)
	trips := &roundTrips{}
	client.AddHook(trips)
	s := redisstore.New(client, redisstore.Options{Prefix: p})
	setup := redisstore.New(newClient(t, srv.URL), redisstore.Options{Prefix: p})

	var n atomic.Int64
	user := func() string { return fmt.Sprintf("rt-%d", n.Add(1)) }
	ops := []struct {
		name string
		prep func() *store.Record // on the setup store, not counted
		op   func(r *store.Record) error
	}{
		{"Create", func() *store.Record { return storetest.NewRecord() }, func(r *store.Record) error { return s.Create(ctx, r, r.Created) }},
		{"Get", func() *store.Record { return pending(t, setup) }, func(r *store.Record) error {
			_, err := s.Get(ctx, r.ID, owner(r), r.Created)
			return err
		}},
		{"Begin", func() *store.Record { return pending(t, setup) }, func(r *store.Record) error {
			_, err := s.Begin(ctx, r.ID, owner(r), store.Begin{Method: "sms", Expected: [][]byte{right}, Cooldown: time.Minute}, r.Created)
			return err
		}},
		{"Attempt wrong", func() *store.Record { return pending(t, setup) }, func(r *store.Record) error {
			res, err := s.Attempt(ctx, r.ID, owner(r), wrong, lockout, r.Created)
			if err == nil && res.Outcome != store.Wrong {
				err = fmt.Errorf("outcome %v", res.Outcome)
			}
			return err
		}},
		{"Attempt wrong that locks", func() *store.Record { return pendingFor(t, setup, user()) }, func(r *store.Record) error {
			res, err := s.Attempt(ctx, r.ID, owner(r), wrong, store.Lockout{After: 1, For: time.Minute}, r.Created)
			if err == nil && res.LockedUntil.IsZero() {
				err = fmt.Errorf("not locked: %+v", res)
			}
			return err
		}},
		{"Attempt while locked", func() *store.Record {
			r := pendingFor(t, setup, user())
			if _, err := setup.Attempt(ctx, r.ID, owner(r), wrong, store.Lockout{After: 1, For: time.Minute}, r.Created); err != nil {
				t.Fatal(err)
			}
			return r
		}, func(r *store.Record) error {
			var le *store.LockedError
			if _, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); !errors.As(err, &le) {
				return fmt.Errorf("Attempt = %v, want LockedError", err)
			}
			return nil
		}},
		{"Attempt right", func() *store.Record { return pending(t, setup) }, func(r *store.Record) error {
			res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created)
			if err == nil && res.Outcome != store.Confirmed {
				err = fmt.Errorf("outcome %v", res.Outcome)
			}
			return err
		}},
		{"Attempt repeated", func() *store.Record { return confirmedBy(t, setup) }, func(r *store.Record) error {
			res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created)
			if err == nil && res.Outcome != store.Repeated {
				err = fmt.Errorf("outcome %v", res.Outcome)
			}
			return err
		}},
		{"Delete", func() *store.Record { return pending(t, setup) }, func(r *store.Record) error { return s.Delete(ctx, r.ID, owner(r)) }},
		{"Deliver", func() *store.Record {
			r := confirmedBy(t, setup)
			if err := setup.Settle(ctx, r.ID, owner(r), false, r.Created); err != nil {
				t.Fatal(err)
			}
			return r
		}, func(r *store.Record) error { _, err := s.Deliver(ctx, r.ID, owner(r), 3, r.Created); return err }},
		{"Settle", func() *store.Record { return confirmedBy(t, setup) }, func(r *store.Record) error {
			return s.Settle(ctx, r.ID, owner(r), true, r.Created)
		}},
		{"LockedUntil", nil, func(*store.Record) error { _, err := s.LockedUntil(ctx, user(), time.Now()); return err }},
		{"Failures", nil, func(*store.Record) error { _, _, err := s.Failures(ctx, user(), time.Now()); return err }},
		{"Unlock", nil, func(*store.Record) error { return s.Unlock(ctx, user()) }},
		{"SpendSMS", nil, func(*store.Record) error {
			u := user()
			return s.SpendSMS(ctx, u, "+7"+u, store.SMSLimits{UserCooldown: time.Minute, PhoneCooldown: time.Minute, UserHourly: 3, DailyBudget: 1000}, time.Now())
		}},
		{"SpendEmail", nil, func(*store.Record) error {
			u := user()
			return s.SpendEmail(ctx, u, u+"@example.test", store.MessageLimits{UserCooldown: time.Minute, PhoneCooldown: time.Minute, UserHourly: 3, DailyBudget: 1000}, time.Now())
		}},
		{"Refund", nil, func(*store.Record) error {
			u, at := user(), time.Now()
			if err := setup.SpendSMS(ctx, u, "+7"+u, store.SMSLimits{}, at); err != nil {
				return err
			}
			trips.n.Store(0)
			return s.Refund(ctx, store.ChannelSMS, u, "+7"+u, at)
		}},
	}
	for _, o := range ops {
		for run := range 2 { // the first run may load the script (EVALSHA, then EVAL)
			var r *store.Record
			if o.prep != nil {
				r = o.prep()
			}
			trips.n.Store(0)
			if err := o.op(r); err != nil {
				t.Fatalf("%s: %v", o.name, err)
			}
			if got := trips.n.Load(); run == 1 && got != 1 {
				t.Errorf("%s: %d round trips, want 1", o.name, got)
			}
		}
	}
}

// The per-user limits follow Options: a set value is the limit, a
// negative one disables it; the user's sets live in the user's slot and
// expire with their latest challenge.
func TestPerUserLimitsFollowOptions(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	tests := []struct {
		name    string
		opts    redisstore.Options
		stash   int
		created int // of 20 tries
	}{
		{"pending limit set", redisstore.Options{MaxPendingPerUser: 2}, 10, 2},
		{"pending limit off", redisstore.Options{MaxPendingPerUser: -1}, 10, 20},
		{"byte limit set", redisstore.Options{MaxPendingPerUser: -1, MaxBytesPerUser: 3 * 1100}, 1000, 3},
		{"byte limit off", redisstore.Options{MaxPendingPerUser: -1, MaxBytesPerUser: -1}, 100 << 10, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPrefix()
			tt.opts.Prefix = p
			s := redisstore.New(client, tt.opts)
			n := 0
			var last *store.Record
			for range 20 {
				r := storetest.NewRecord()
				r.Stash = make([]byte, tt.stash)
				if err := s.Create(ctx, r, r.Created); err == nil {
					n++
					last = r
				} else if !errors.Is(err, store.ErrTooManyPending) {
					t.Fatal(err)
				}
			}
			if n != tt.created {
				t.Fatalf("created %d of 20, want %d", n, tt.created)
			}
			for _, k := range []string{pendingKey(p, last.User), heldKey(p, last.User)} {
				if ttl, err := client.PTTL(ctx, k).Result(); err != nil || ttl <= 4*time.Minute || ttl > 5*time.Minute {
					t.Errorf("%s: TTL %v, %v; want the challenges' 5 minutes", k, ttl, err)
				}
			}
		})
	}
}
