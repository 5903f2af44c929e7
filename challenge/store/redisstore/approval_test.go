package redisstore_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/challenge/store/storetest"
	"github.com/enumgate/enumgate/internal/redistest"
)

// groupKey and locateKey are the documented keys of the approvals index
// under prefix p.
func groupKey(p, group string) string { return p + "{appr}:g:" + group }
func locateKey(p, id string) string   { return p + "{appr}:i:" + id }

// awaitingFor creates user's challenge needing bob's approval, begins it
// and confirms it through s (at its creation time).
func awaitingFor(t testing.TB, s store.Store, user string) *store.Record {
	t.Helper()
	r := storetest.NewRecord()
	r.User = user
	r.Approval = &store.ApprovalState{Group: "payments", Approvers: []string{"bob"}, Window: time.Hour}
	if err := s.Create(ctx, r, r.Created); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := s.Begin(ctx, r.ID, owner(r), store.Begin{Method: "enum", Expected: [][]byte{right}}, r.Created); err != nil {
		t.Fatalf("Begin: %v", err)
	}
	res, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created)
	if err != nil || res.Outcome != store.Confirmed || !res.Record.AwaitingApproval() {
		t.Fatalf("Attempt = %+v, %v; want Confirmed, awaiting approval", res, err)
	}
	return res.Record
}

// redisZ is the index entry of r, as Attempt writes it.
func redisZ(r *store.Record) redis.Z {
	return redis.Z{Score: float64(r.ConfirmedAt.UnixMilli()), Member: fmt.Sprintf("%d:%s%s", len(r.ID), r.ID, r.User)}
}

// A challenge awaiting approval keeps its keys in its user's slot, its
// TTL following the wait; the approvals index lives in the {appr} slot:
// the group's set and the id's locate key, both expiring once no
// approval they list can still need them.
func TestApprovalKeyLayout(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	rec := &keyRecorder{}
	client.AddHook(rec)
	p := newPrefix()
	s := redisstore.New(client, redisstore.Options{Prefix: p})
	user := "{m}:al}ice{:lock"
	r := awaitingFor(t, s, user)
	keys := rec.take()
	var index []string
	for _, k := range keys {
		switch hashTag(k) {
		case userTag(user)[1 : len(userTag(user))-1]:
		case "appr":
			index = append(index, k)
		default:
			t.Errorf("key %q is in neither the user's slot nor {appr}", k)
		}
		if strings.Contains(k, user) {
			t.Errorf("key %q holds the user id", k)
		}
	}
	slices.Sort(index)
	index = slices.Compact(index)
	if want := []string{groupKey(p, "payments"), locateKey(p, r.ID)}; !slices.Equal(index, want) {
		t.Fatalf("index keys %q, want %q", index, want)
	}
	ck := challengeKey(p, user, r.ID)
	if ttl, err := client.PTTL(ctx, ck).Result(); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("challenge TTL while awaiting %v, %v; want the hour's wait", ttl, err)
	}
	for _, k := range index {
		if ttl, err := client.PTTL(ctx, k).Result(); err != nil || ttl <= time.Hour+store.ApprovedGrace || ttl > time.Hour+store.ApprovedGrace+2*time.Minute {
			t.Errorf("index key %q TTL %v, %v; want the wait plus the approval's grace", k, ttl, err)
		}
	}
	if got, err := client.Get(ctx, locateKey(p, r.ID)).Result(); err != nil || got != user {
		t.Errorf("locate key holds %q, %v; want the user", got, err)
	}
	if _, err := s.Decide(ctx, user, r.ID, "bob", true, "enum", r.Created); err != nil {
		t.Fatal(err)
	}
	if n, err := client.ZCard(ctx, groupKey(p, "payments")).Result(); err != nil || n != 0 {
		t.Errorf("group set after the decision holds %d, %v; want none", n, err)
	}
	if ttl, err := client.PTTL(ctx, ck).Result(); err != nil || ttl <= 59*time.Minute {
		t.Errorf("approved challenge TTL %v, %v; want at least the wait", ttl, err)
	}
}

// What approvals cost: a right answer to a challenge that needs approval
// is three round trips (the script finds it needs the index, the index,
// the confirmation); a decision two (the decision, then the index entry
// goes); Locate, GetAny and Awaiting of one entry one, one and two.
// Challenges without approval cost what they did (TestOneRoundTripPerOperation).
func TestApprovalRoundTrips(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	p := newPrefix()
	client := newClient(t, srv.URL)
	trips := &roundTrips{}
	client.AddHook(trips)
	s := redisstore.New(client, redisstore.Options{Prefix: p})
	setup := redisstore.New(newClient(t, srv.URL), redisstore.Options{Prefix: p})
	count := func(name string, want int64, op func() error) {
		t.Helper()
		for run := range 2 { // the first run may load the script
			trips.n.Store(0)
			if err := op(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := trips.n.Load(); run == 1 && got != want {
				t.Errorf("%s: %d round trips, want %d", name, got, want)
			}
		}
	}
	var n int
	user := func() string { n++; return fmt.Sprintf("apprt-%d", n) }
	count("Attempt that awaits approval", 3, func() error {
		r := storetest.NewRecord()
		r.User = user()
		r.Approval = &store.ApprovalState{Group: "g", Approvers: []string{"bob"}, Window: time.Hour}
		if err := setup.Create(ctx, r, r.Created); err != nil {
			return err
		}
		if _, err := setup.Begin(ctx, r.ID, owner(r), store.Begin{Method: "enum", Expected: [][]byte{right}}, r.Created); err != nil {
			return err
		}
		trips.n.Store(0)
		_, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created)
		return err
	})
	count("Decide", 2, func() error {
		r := awaitingFor(t, setup, user())
		trips.n.Store(0)
		_, err := s.Decide(ctx, r.User, r.ID, "bob", true, "enum", r.Created)
		return err
	})
	r := awaitingFor(t, setup, user())
	count("Locate", 1, func() error { _, err := s.Locate(ctx, r.ID); return err })
	count("GetAny", 1, func() error { _, err := s.GetAny(ctx, r.User, r.ID, r.Created); return err })
	count("Delete while awaiting", 2, func() error {
		r := awaitingFor(t, setup, user())
		trips.n.Store(0)
		return s.Delete(ctx, r.ID, owner(r))
	})
}

// Awaiting reads every listed challenge from its own user's slot and
// drops the entries that can never await again; what it returns is
// bounded.
func TestAwaitingIsBoundedAndCleansTheIndex(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	p := newPrefix()
	s := redisstore.New(client, redisstore.Options{Prefix: p, MaxPendingPerUser: -1})
	var rs []*store.Record
	for i := range store.MaxAwaiting + 5 {
		rs = append(rs, awaitingFor(t, s, fmt.Sprintf("many-%d", i%7)))
	}
	now := rs[0].Created
	got, err := s.Awaiting(ctx, "payments", now)
	if err != nil || len(got) != store.MaxAwaiting {
		t.Fatalf("Awaiting = %d records, %v; want %d", len(got), err, store.MaxAwaiting)
	}
	// Decide three and expire one's key: their entries go at the next read.
	for _, r := range rs[:3] {
		if _, err := s.Decide(ctx, r.User, r.ID, "bob", false, "enum", now); err != nil {
			t.Fatal(err)
		}
	}
	// A decision's own index cleanup may be lost; put the entries back.
	for _, r := range rs[:3] {
		client.ZAdd(ctx, groupKey(p, "payments"), redisZ(r))
	}
	if err := client.Del(ctx, challengeKey(p, rs[3].User, rs[3].ID)).Err(); err != nil {
		t.Fatal(err)
	}
	got, err = s.Awaiting(ctx, "payments", now)
	if err != nil || len(got) != store.MaxAwaiting || got[0].ID == rs[0].ID {
		t.Fatalf("Awaiting = %d, %v; want %d, none decided", len(got), err, store.MaxAwaiting)
	}
	if n, err := client.ZCard(ctx, groupKey(p, "payments")).Result(); err != nil || n != int64(store.MaxAwaiting+1) {
		t.Fatalf("index holds %d entries, %v; want %d (the decided and the vanished dropped)", n, err, store.MaxAwaiting+1)
	}
}

// Two gateways on one Redis: the customer confirms through one, an
// approver decides through the other; concurrent decisions through both
// decide once.
func TestTwoGatewaysDecideOnce(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	p := newPrefix()
	a := redisstore.New(newClient(t, srv.URL), redisstore.Options{Prefix: p})
	b := redisstore.New(newClient(t, srv.URL), redisstore.Options{Prefix: p})
	r := awaitingFor(t, a, "alice")
	list, err := b.Awaiting(ctx, "payments", r.Created)
	if err != nil || len(list) != 1 || list[0].ID != r.ID || list[0].Stash != nil {
		t.Fatalf("Awaiting on the other gateway = %+v, %v", list, err)
	}
	var wg sync.WaitGroup
	var won, lost sync.Map
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			_, err := s.Decide(ctx, "alice", r.ID, "bob", i%3 != 0, "enum", r.Created)
			switch {
			case err == nil:
				won.Store(i, true)
			case errors.Is(err, store.ErrDecided):
				lost.Store(i, true)
			default:
				t.Errorf("Decide = %v", err)
			}
		}()
	}
	wg.Wait()
	n := 0
	won.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d decisions won, want 1", n)
	}
}

// With WaitReplicas and no replica, nothing about an approval is
// reported that a failover could lose: the index first (so the challenge
// is not even confirmed), and a decision made on a store that does not
// wait is not handed out by one that does; it holds no lease.
func TestApprovalWaitsForReplicas(t *testing.T) {
	client := newClient(t, redistest.Start(t, redistest.Options{}).URL)
	p := newPrefix()
	s := redisstore.New(client, redisstore.Options{Prefix: p, WaitReplicas: 1, WaitTimeout: 20 * time.Millisecond})
	off := redisstore.New(client, redisstore.Options{Prefix: p, WaitReplicas: -1})
	r := storetest.NewRecord()
	r.Approval = &store.ApprovalState{Group: "payments", Approvers: []string{"bob"}, Window: time.Hour}
	if err := s.Create(ctx, r, r.Created); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(ctx, r.ID, owner(r), store.Begin{Method: "enum", Expected: [][]byte{right}}, r.Created); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); !errors.Is(err, store.ErrNotDurable) {
		t.Fatalf("Attempt = %v, want ErrNotDurable", err)
	}
	if got, err := off.Get(ctx, r.ID, owner(r), r.Created); err != nil || got.Confirmed() {
		t.Fatalf("after an index that is not durable: %+v, %v; want the challenge unconfirmed", got, err)
	}
	if res, err := off.Attempt(ctx, r.ID, owner(r), right, lockout, r.Created); err != nil || !res.Record.AwaitingApproval() {
		t.Fatalf("Attempt without waiting = %+v, %v", res, err)
	}
	if _, err := s.Decide(ctx, r.User, r.ID, "bob", true, "enum", r.Created); !errors.Is(err, store.ErrNotDurable) {
		t.Fatalf("Decide = %v, want ErrNotDurable", err)
	}
	got, err := off.Get(ctx, r.ID, owner(r), r.Created)
	if err != nil || got.Approval.ApprovedBy != "bob" || got.Deliveries != 0 || !got.LeaseUntil.IsZero() {
		t.Fatalf("after a decision that is not durable: %+v, %v; want it approved, no lease held", got, err)
	}
	if rec, err := off.Deliver(ctx, r.ID, owner(r), 3, r.Created); err != nil || rec.Deliveries != 1 {
		t.Fatalf("Deliver without waiting = %+v, %v; want the first delivery", rec, err)
	}
}
