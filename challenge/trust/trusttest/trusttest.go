// Package trusttest is the conformance suite every trust.Store passes: the
// memory store and Redis (standalone and Cluster) run the same tests, so
// sections, trusted payees and risk rules behave the same whichever a
// gateway uses.
package trusttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/trust"
)

// Options are what a Factory passes on to the store it makes.
type Options struct {
	// RiskRetention is the store's risk retention (0: the default).
	RiskRetention time.Duration
	// Now is the store's clock (nil: time.Now).
	Now func() time.Time
}

// Factory returns a fresh, empty store for one subtest, made with o. It
// cleans up after itself (t.Cleanup); the suite calls Close too.
type Factory func(t *testing.T, o Options) trust.Store

var ctx = context.Background()

// id returns a valid grant id ending in n.
func id(n int) string { return fmt.Sprintf("g%021d", n) }

// Run runs the suite.
func Run(t *testing.T, f Factory) {
	open := func(t *testing.T) trust.Store {
		s := f(t, Options{})
		t.Cleanup(func() { s.Close() })
		return s
	}
	// Redis keys expire by the wall clock, so the suite's times follow it.
	now := time.Now().UTC().Truncate(time.Millisecond)
	sess := []byte("session-binding-hash-0123456789a")
	other := []byte("session-binding-hash-0123456789b")
	grant := func(n int, user, section string, s []byte, life time.Duration) trust.Grant {
		return trust.Grant{ID: id(n), User: user, Session: s, Section: section,
			Created: now, Until: now.Add(life), ChallengeID: "c0000000000000000000" + fmt.Sprint(n%100)}
	}

	t.Run("a grant reads back whole", func(t *testing.T) {
		s := open(t)
		g := grant(1, "alice", "settings", sess, 10*time.Minute)
		if err := s.Grant(ctx, g); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Granted(ctx, "alice", sess, "settings", now)
		if err != nil || !ok || got.ID != g.ID || got.User != g.User || string(got.Session) != string(sess) ||
			got.Section != g.Section || !got.Created.Equal(g.Created) || !got.Until.Equal(g.Until) || got.ChallengeID != g.ChallengeID {
			t.Fatalf("Granted = %+v, %t, %v\nwant %+v", got, ok, err, g)
		}
	})

	t.Run("a grant opens its section for its user and session until it ends", func(t *testing.T) {
		s := open(t)
		if err := s.Grant(ctx, grant(1, "alice", "settings", sess, 10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name    string
			user    string
			session []byte
			section string
			at      time.Duration
			want    bool
		}{
			{"at once", "alice", sess, "settings", 0, true},
			{"a moment before its end", "alice", sess, "settings", 10*time.Minute - time.Millisecond, true},
			{"at its end", "alice", sess, "settings", 10 * time.Minute, false},
			{"after its end", "alice", sess, "settings", time.Hour, false},
			{"another session (the binding changed)", "alice", other, "settings", 0, false},
			{"another section", "alice", sess, "limits", 0, false},
			{"another user", "bob", sess, "settings", 0, false},
		}
		for _, c := range cases {
			_, ok, err := s.Granted(ctx, c.user, c.session, c.section, now.Add(c.at))
			if err != nil || ok != c.want {
				t.Errorf("%s: Granted = %t, %v; want %t", c.name, ok, err, c.want)
			}
		}
	})

	t.Run("a new grant of the same user, session and section replaces the older", func(t *testing.T) {
		s := open(t)
		s.Grant(ctx, grant(1, "alice", "settings", sess, 10*time.Minute))
		s.Grant(ctx, grant(2, "alice", "settings", sess, 20*time.Minute))
		s.Grant(ctx, grant(3, "alice", "settings", other, 5*time.Minute))
		gs, _ := s.Grants(ctx, "alice", now)
		if ids := grantIDs(gs); ids != id(2)+" "+id(3) && ids != id(3)+" "+id(2) {
			t.Fatalf("Grants = %s, want grants 2 and 3", ids)
		}
		if err := s.EndGrant(ctx, "alice", id(1)); !errors.Is(err, trust.ErrNotFound) {
			t.Fatalf("EndGrant of the replaced grant = %v, want ErrNotFound", err)
		}
		g, ok, err := s.Granted(ctx, "alice", sess, "settings", now.Add(15*time.Minute))
		if err != nil || !ok || g.ID != id(2) {
			t.Fatalf("Granted = %+v, %t, %v; want grant 2", g, ok, err)
		}
	})

	t.Run("grants list the open ones newest first", func(t *testing.T) {
		s := open(t)
		for i, life := range []time.Duration{time.Minute, 30 * time.Minute, 10 * time.Minute} {
			g := grant(i+1, "alice", fmt.Sprint("s", i), sess, life)
			g.Created = now.Add(time.Duration(i) * time.Second)
			if err := s.Grant(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		gs, err := s.Grants(ctx, "alice", now.Add(5*time.Minute))
		if err != nil || grantIDs(gs) != id(3)+" "+id(2) {
			t.Fatalf("Grants = %s, %v; want 3 then 2 (1 has ended)", grantIDs(gs), err)
		}
		if gs, err := s.Grants(ctx, "bob", now); err != nil || len(gs) != 0 {
			t.Fatalf("bob's Grants = %v, %v; want none", gs, err)
		}
	})

	t.Run("ending a grant closes it at once, for its user only", func(t *testing.T) {
		s := open(t)
		s.Grant(ctx, grant(1, "alice", "settings", sess, 10*time.Minute))
		steps := []struct {
			name string
			user string
			want error
			open bool
		}{
			{"bob cannot end alice's", "bob", trust.ErrNotFound, true},
			{"alice ends it", "alice", nil, false},
			{"twice is not found", "alice", trust.ErrNotFound, false},
		}
		for _, st := range steps {
			if err := s.EndGrant(ctx, st.user, id(1)); !errors.Is(err, st.want) || st.want == nil && err != nil {
				t.Fatalf("%s: EndGrant = %v, want %v", st.name, err, st.want)
			}
			if _, ok, _ := s.Granted(ctx, "alice", sess, "settings", now); ok != st.open {
				t.Fatalf("%s: open = %t, want %t", st.name, ok, st.open)
			}
		}
		if err := s.Grant(ctx, grant(2, "alice", "settings", sess, time.Minute)); err != nil {
			t.Fatalf("a new grant after ending: %v", err)
		}
		if _, ok, _ := s.Granted(ctx, "alice", sess, "settings", now); !ok {
			t.Fatal("the new grant is not open")
		}
	})

	t.Run("a user keeps at most MaxGrants, the one ending soonest goes", func(t *testing.T) {
		s := open(t)
		for i := range trust.MaxGrants + 1 {
			g := grant(i, "alice", fmt.Sprint("s", i), sess, time.Hour+time.Duration(i)*time.Second)
			if i == 7 {
				g.Until = now.Add(time.Minute) // ends soonest
			}
			if err := s.Grant(ctx, g); err != nil {
				t.Fatalf("grant %d: %v", i, err)
			}
		}
		gs, err := s.Grants(ctx, "alice", now)
		if err != nil || len(gs) != trust.MaxGrants {
			t.Fatalf("%d grants, %v; want %d", len(gs), err, trust.MaxGrants)
		}
		if _, ok, _ := s.Granted(ctx, "alice", sess, "s7", now); ok {
			t.Fatal("the grant ending soonest stayed")
		}
		if _, ok, _ := s.Granted(ctx, "alice", sess, fmt.Sprint("s", trust.MaxGrants), now); !ok {
			t.Fatal("the newest grant is missing")
		}
	})

	t.Run("users' grants are apart", func(t *testing.T) {
		s := open(t)
		s.Grant(ctx, grant(1, "a{b}", "settings", sess, time.Minute))
		if _, ok, _ := s.Granted(ctx, "a{c}", sess, "settings", now); ok {
			t.Fatal("another user's grant opened the section")
		}
	})

	t.Run("trusted payees are added, replaced, listed and removed", func(t *testing.T) {
		s := open(t)
		payees := []trust.Payee{
			{Payee: "Z123456789012", UpTo: "500", Added: now},
			{Payee: "R000000000001", Added: now.Add(time.Second)},
			{Payee: "Иванов И. {x}:y", UpTo: "0.5", Added: now},
		}
		for _, p := range payees {
			if err := s.Trust(ctx, "alice", p); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Trust(ctx, "alice", trust.Payee{Payee: "Z123456789012", UpTo: "1000.50", Added: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		list, err := s.Trusted(ctx, "alice")
		if err != nil || payeeList(list) != "R000000000001: Z123456789012:1000.50 Иванов И. {x}:y:0.5" {
			t.Fatalf("Trusted = %s, %v", payeeList(list), err)
		}
		if !list[1].Added.Equal(now.Add(time.Minute)) || !list[0].Added.Equal(now.Add(time.Second)) {
			t.Fatalf("Added = %v, %v", list[0].Added, list[1].Added)
		}
		p, ok, err := s.TrustedPayee(ctx, "alice", "Z123456789012")
		if err != nil || !ok || p.UpTo != "1000.50" {
			t.Fatalf("TrustedPayee = %+v, %t, %v", p, ok, err)
		}
		if _, ok, _ := s.TrustedPayee(ctx, "bob", "Z123456789012"); ok {
			t.Fatal("bob trusts alice's payee")
		}
		if _, ok, _ := s.TrustedPayee(ctx, "alice", "z123456789012"); ok {
			t.Fatal("payees compare ignoring case")
		}
		if err := s.Untrust(ctx, "bob", "Z123456789012"); !errors.Is(err, trust.ErrNotFound) {
			t.Fatalf("bob's Untrust = %v, want ErrNotFound", err)
		}
		if err := s.Untrust(ctx, "alice", "Z123456789012"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.TrustedPayee(ctx, "alice", "Z123456789012"); ok {
			t.Fatal("an untrusted payee is still trusted")
		}
		if err := s.Untrust(ctx, "alice", "Z123456789012"); !errors.Is(err, trust.ErrNotFound) {
			t.Fatalf("second Untrust = %v, want ErrNotFound", err)
		}
		if list, _ := s.Trusted(ctx, "bob"); len(list) != 0 {
			t.Fatalf("bob's list = %v", list)
		}
	})

	t.Run("at most MaxTrusted payees, replacing one still works", func(t *testing.T) {
		s := open(t)
		for i := range trust.MaxTrusted {
			if err := s.Trust(ctx, "alice", trust.Payee{Payee: fmt.Sprint("P", i), Added: now}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Trust(ctx, "alice", trust.Payee{Payee: "one more", Added: now}); !errors.Is(err, trust.ErrFull) {
			t.Fatalf("one more = %v, want ErrFull", err)
		}
		if err := s.Trust(ctx, "alice", trust.Payee{Payee: "P7", UpTo: "10", Added: now}); err != nil {
			t.Fatalf("replacing at capacity: %v", err)
		}
		if err := s.Trust(ctx, "bob", trust.Payee{Payee: "one more", Added: now}); err != nil {
			t.Fatalf("another user at alice's capacity: %v", err)
		}
	})

	t.Run("concurrent trusts never pass MaxTrusted", func(t *testing.T) {
		s := open(t)
		for i := range trust.MaxTrusted - 3 {
			s.Trust(ctx, "alice", trust.Payee{Payee: fmt.Sprint("P", i), Added: now})
		}
		var ok, full atomic.Int32
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				switch err := s.Trust(ctx, "alice", trust.Payee{Payee: fmt.Sprint("Q", i), Added: now}); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, trust.ErrFull):
					full.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if list, _ := s.Trusted(ctx, "alice"); ok.Load() != 3 || full.Load() != 13 || len(list) != trust.MaxTrusted {
			t.Fatalf("%d added, %d full, %d listed; want 3, 13, %d", ok.Load(), full.Load(), len(list), trust.MaxTrusted)
		}
	})

	t.Run("a payee is new until marked, then seen for the retention", func(t *testing.T) {
		var clock atomic.Int64
		clock.Store(now.UnixMilli())
		s := f(t, Options{RiskRetention: time.Hour, Now: func() time.Time { return time.UnixMilli(clock.Load()) }})
		defer s.Close()
		seen := func(user, payee string) bool {
			t.Helper()
			ok, err := s.SeenPayee(ctx, user, payee)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if seen("alice", "Z1") {
			t.Fatal("a payee never marked is seen")
		}
		if err := s.MarkPayee(ctx, "alice", "Z1", now); err != nil {
			t.Fatal(err)
		}
		if !seen("alice", "Z1") || seen("bob", "Z1") || seen("alice", "Z2") {
			t.Fatal("after a mark: want seen for alice's Z1 only")
		}
		clock.Store(now.Add(time.Hour - time.Millisecond).UnixMilli())
		if !seen("alice", "Z1") {
			t.Fatal("forgotten before the retention ended")
		}
		clock.Store(now.Add(time.Hour).UnixMilli())
		if seen("alice", "Z1") {
			t.Fatal("still seen when the retention ended")
		}
		s.MarkPayee(ctx, "alice", "Z1", now.Add(time.Hour))
		if !seen("alice", "Z1") {
			t.Fatal("a new mark is not seen")
		}
	})

	t.Run("a user remembers the most recent MaxSeenPayees", func(t *testing.T) {
		s := open(t)
		for i := range trust.MaxSeenPayees + 1 {
			if err := s.MarkPayee(ctx, "alice", fmt.Sprint("P", i), now.Add(time.Duration(i)*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			payee string
			want  bool
		}{{"P0", false}, {"P1", true}, {fmt.Sprint("P", trust.MaxSeenPayees), true}} {
			if ok, err := s.SeenPayee(ctx, "alice", c.payee); err != nil || ok != c.want {
				t.Errorf("SeenPayee(%s) = %t, %v; want %t", c.payee, ok, err, c.want)
			}
		}
	})

	t.Run("a client is seen within the window after its mark", func(t *testing.T) {
		s := open(t)
		if err := s.MarkClient(ctx, "alice", "ip:203.0.113.0/24", now); err != nil {
			t.Fatal(err)
		}
		s.MarkClient(ctx, "alice", "ip:203.0.113.0/24", now.Add(-time.Hour)) // an older mark changes nothing
		day := 24 * time.Hour
		cases := []struct {
			name   string
			user   string
			k      string
			within time.Duration
			at     time.Duration
			want   bool
		}{
			{"at once", "alice", "ip:203.0.113.0/24", 30 * day, 0, true},
			{"29 days later", "alice", "ip:203.0.113.0/24", 30 * day, 29 * day, true},
			{"30 days later", "alice", "ip:203.0.113.0/24", 30 * day, 30 * day, false},
			{"a shorter window", "alice", "ip:203.0.113.0/24", time.Hour, 2 * time.Hour, false},
			{"a window past the retention acts as the retention", "alice", "ip:203.0.113.0/24", 1000 * day, 401 * day, false},
			{"another key", "alice", "ip:198.51.100.0/24", 30 * day, 0, false},
			{"another user", "bob", "ip:203.0.113.0/24", 30 * day, 0, false},
		}
		for _, c := range cases {
			if ok, err := s.SeenClient(ctx, c.user, c.k, c.within, now.Add(c.at)); err != nil || ok != c.want {
				t.Errorf("%s: SeenClient = %t, %v; want %t", c.name, ok, err, c.want)
			}
		}
	})

	t.Run("daily totals add exactly, per currency and UTC day", func(t *testing.T) {
		s := open(t)
		steps := []struct {
			currency, amount string
			at               time.Duration
			want             string
		}{
			{"RUB", "10.5", 0, "10.5"},
			{"RUB", "0.50", 0, "11"},
			{"RUB", "0.00000001", 0, "11.00000001"},
			{"USD", "99.99", 0, "99.99"},
			{"", "7", 0, "7"},
			{"RUB", "0", 0, "11.00000001"},
			{"RUB", "1", 24 * time.Hour, "1"},
			{"RUB", "999999999999999988.99999998", 0, "999999999999999999.99999999"},
		}
		for _, st := range steps {
			got, err := s.AddDaily(ctx, "alice", st.currency, st.amount, now.Add(st.at))
			if err != nil || got != st.want {
				t.Fatalf("AddDaily(%s %s) = %q, %v; want %q", st.currency, st.amount, got, err, st.want)
			}
		}
		if _, err := s.AddDaily(ctx, "alice", "RUB", "0.00000001", now); !errors.Is(err, trust.ErrInvalid) {
			t.Fatalf("past 18 integer digits: %v, want ErrInvalid", err)
		}
		reads := []struct {
			user, currency string
			at             time.Duration
			want           string
		}{
			{"alice", "RUB", 0, "999999999999999999.99999999"},
			{"alice", "USD", 0, "99.99"},
			{"alice", "", 0, "7"},
			{"alice", "EUR", 0, "0"},
			{"alice", "USD", 24 * time.Hour, "0"},
			{"alice", "RUB", 24 * time.Hour, "1"},
			{"bob", "RUB", 0, "0"},
		}
		for _, r := range reads {
			if got, err := s.DailyTotal(ctx, r.user, r.currency, now.Add(r.at)); err != nil || got != r.want {
				t.Errorf("DailyTotal(%s %s +%s) = %q, %v; want %q", r.user, r.currency, r.at, got, err, r.want)
			}
		}
	})

	t.Run("a day counts at most MaxCurrencies", func(t *testing.T) {
		s := open(t)
		for i := range trust.MaxCurrencies {
			cur := fmt.Sprintf("C%c%c", 'A'+i/26, 'A'+i%26)
			if _, err := s.AddDaily(ctx, "alice", cur, "1", now); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.AddDaily(ctx, "alice", "ZZZ", "1", now); !errors.Is(err, trust.ErrFull) {
			t.Fatalf("one currency more = %v, want ErrFull", err)
		}
		if got, err := s.AddDaily(ctx, "alice", "CAA", "1", now); err != nil || got != "2" {
			t.Fatalf("a known currency = %q, %v", got, err)
		}
	})

	t.Run("concurrent additions all count", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				if _, err := s.AddDaily(ctx, "alice", "RUB", "123456789012.34567891", now); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got, _ := s.DailyTotal(ctx, "alice", "RUB", now); got != "3950617248395.06172512" {
			t.Fatalf("total = %s, want 32 × 123456789012.34567891 = 3950617248395.06172512", got)
		}
	})

	t.Run("bad input is refused and changes nothing", func(t *testing.T) {
		s := open(t)
		long := strings.Repeat("x", 257)
		g := grant(1, "alice", "settings", sess, time.Minute)
		bad := func(mut func(*trust.Grant)) trust.Grant { c := g; mut(&c); return c }
		cases := []struct {
			name string
			err  error
		}{
			{"grant: short id", s.Grant(ctx, bad(func(g *trust.Grant) { g.ID = "abc" }))},
			{"grant: id with a slash", s.Grant(ctx, bad(func(g *trust.Grant) { g.ID = strings.Repeat("a", 21) + "/" }))},
			{"grant: no user", s.Grant(ctx, bad(func(g *trust.Grant) { g.User = "" }))},
			{"grant: long user", s.Grant(ctx, bad(func(g *trust.Grant) { g.User = long }))},
			{"grant: no session", s.Grant(ctx, bad(func(g *trust.Grant) { g.Session = nil }))},
			{"grant: long session", s.Grant(ctx, bad(func(g *trust.Grant) { g.Session = make([]byte, 65) }))},
			{"grant: upper-case section", s.Grant(ctx, bad(func(g *trust.Grant) { g.Section = "Settings" }))},
			{"grant: long section", s.Grant(ctx, bad(func(g *trust.Grant) { g.Section = strings.Repeat("a", 65) }))},
			{"grant: ends before it starts", s.Grant(ctx, bad(func(g *trust.Grant) { g.Until = g.Created }))},
			{"grant: too long", s.Grant(ctx, bad(func(g *trust.Grant) { g.Until = g.Created.Add(trust.MaxGrantLife + time.Second) }))},
			{"grant: no creation time", s.Grant(ctx, bad(func(g *trust.Grant) { g.Created = time.Time{} }))},
			{"grant: bad challenge id", s.Grant(ctx, bad(func(g *trust.Grant) { g.ChallengeID = "a b" }))},
			{"granted: bad section", third(s.Granted(ctx, "alice", sess, "a-b", now))},
			{"granted: no session", third(s.Granted(ctx, "alice", nil, "settings", now))},
			{"grants: no user", second(s.Grants(ctx, "", now))},
			{"end grant: bad id", s.EndGrant(ctx, "alice", "x")},
			{"trust: empty payee", s.Trust(ctx, "alice", trust.Payee{})},
			{"trust: long payee", s.Trust(ctx, "alice", trust.Payee{Payee: long})},
			{"trust: control character", s.Trust(ctx, "alice", trust.Payee{Payee: "Z1\n"})},
			{"trust: C1 control character", s.Trust(ctx, "alice", trust.Payee{Payee: "Z1\u0085"})},
			{"trust: not UTF-8", s.Trust(ctx, "alice", trust.Payee{Payee: "Z1\xff"})},
			{"trust: bad limit", s.Trust(ctx, "alice", trust.Payee{Payee: "Z1", UpTo: "1e3"})},
			{"trust: negative limit", s.Trust(ctx, "alice", trust.Payee{Payee: "Z1", UpTo: "-5"})},
			{"untrust: empty payee", s.Untrust(ctx, "alice", "")},
			{"trusted: no user", second(s.Trusted(ctx, ""))},
			{"trusted payee: control character", third(s.TrustedPayee(ctx, "alice", "\x00"))},
			{"seen payee: long payee", second(s.SeenPayee(ctx, "alice", long))},
			{"mark payee: no user", s.MarkPayee(ctx, "", "Z1", now)},
			{"seen client: no window", second(s.SeenClient(ctx, "alice", "ip:x", 0, now))},
			{"seen client: empty key", second(s.SeenClient(ctx, "alice", "", time.Hour, now))},
			{"mark client: long key", s.MarkClient(ctx, "alice", long, now)},
			{"daily: lower-case currency", second(s.DailyTotal(ctx, "alice", "rub", now))},
			{"add: bad currency", second(s.AddDaily(ctx, "alice", "RUBX", "1", now))},
			{"add: leading zero", second(s.AddDaily(ctx, "alice", "RUB", "01", now))},
			{"add: comma", second(s.AddDaily(ctx, "alice", "RUB", "1,5", now))},
			{"add: nine fraction digits", second(s.AddDaily(ctx, "alice", "RUB", "0.000000001", now))},
			{"add: nineteen integer digits", second(s.AddDaily(ctx, "alice", "RUB", "1000000000000000000", now))},
			{"add: sign", second(s.AddDaily(ctx, "alice", "RUB", "+1", now))},
			{"add: empty", second(s.AddDaily(ctx, "alice", "RUB", "", now))},
		}
		for _, c := range cases {
			if !errors.Is(c.err, trust.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", c.name, c.err)
			}
		}
		if list, _ := s.Trusted(ctx, "alice"); len(list) != 0 {
			t.Errorf("a refused payee was stored: %v", list)
		}
		if gs, _ := s.Grants(ctx, "alice", now); len(gs) != 0 {
			t.Errorf("a refused grant was stored: %v", gs)
		}
		if got, _ := s.DailyTotal(ctx, "alice", "RUB", now); got != "0" {
			t.Errorf("a refused amount was added: %s", got)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }

func grantIDs(gs []trust.Grant) string {
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.ID
	}
	return strings.Join(ids, " ")
}

func payeeList(ps []trust.Payee) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Payee + ":" + p.UpTo
	}
	return strings.Join(s, " ")
}
