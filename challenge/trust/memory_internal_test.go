package trust

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestMemoryStoreRefusesBeyondItsCapacity(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	grant := func(id int, user string, life time.Duration) Grant {
		return Grant{ID: fmt.Sprintf("g%021d", id), User: user, Session: []byte("s"), Section: "x", Created: now, Until: now.Add(life)}
	}
	cases := []struct {
		name  string
		o     MemoryOptions
		fill  func(s Store) error
		extra func(s Store) error
	}{
		{"users", MemoryOptions{MaxUsers: 2},
			func(s Store) error {
				return errors.Join(s.MarkPayee(ctx, "u0", "p", now), s.MarkPayee(ctx, "u1", "p", now))
			},
			func(s Store) error { return s.Trust(ctx, "u2", Payee{Payee: "p"}) }},
		{"entries", MemoryOptions{MaxEntries: 3},
			func(s Store) error {
				_, err := s.AddDaily(ctx, "u0", "RUB", "1", now)
				return errors.Join(err, s.MarkClient(ctx, "u1", "k", now), s.Grant(ctx, grant(1, "u1", time.Hour)))
			},
			func(s Store) error { return s.MarkPayee(ctx, "u0", "p", now) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewMemoryStore(c.o)
			if err := c.fill(s); err != nil {
				t.Fatal(err)
			}
			if err := c.extra(s); !errors.Is(err, ErrFull) {
				t.Fatalf("one more: %v, want ErrFull", err)
			}
			// Replacing and adding to what exists still works at capacity.
			if _, err := s.AddDaily(ctx, "u0", "RUB", "1", now); c.name == "entries" && err != nil {
				t.Fatalf("adding to a known total at capacity: %v", err)
			}
		})
	}
}

func TestMemoryStoreDropsWhatExpiredToMakeRoom(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s := NewMemoryStore(MemoryOptions{MaxUsers: 1, MaxEntries: 1})
	g := Grant{ID: "aaaaaaaaaaaaaaaaaaaaaa", User: "u0", Session: []byte("s"), Section: "x", Created: now, Until: now.Add(time.Minute)}
	if err := s.Grant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkClient(ctx, "u1", "k", now); !errors.Is(err, ErrFull) {
		t.Fatalf("while the grant is open: %v, want ErrFull", err)
	}
	if err := s.MarkClient(ctx, "u1", "k", now.Add(time.Minute)); err != nil {
		t.Fatalf("after the grant ended: %v", err)
	}
	m := s.(*memoryStore)
	if len(m.users) != 1 || m.entries != 1 {
		t.Fatalf("%d users, %d entries; want 1 and 1", len(m.users), m.entries)
	}
}

// The entry count follows every change, so the bound is exact.
func TestMemoryStoreCountsEntriesExactly(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	m := NewMemoryStore(MemoryOptions{}).(*memoryStore)
	g := Grant{ID: "aaaaaaaaaaaaaaaaaaaaaa", User: "u", Session: []byte("s"), Section: "x", Created: now, Until: now.Add(time.Minute)}
	steps := []struct {
		name string
		do   func() error
		want int
	}{
		{"grant", func() error { return m.Grant(ctx, g) }, 1},
		{"same grant again", func() error { return m.Grant(ctx, g) }, 1},
		{"trust", func() error { return m.Trust(ctx, "u", Payee{Payee: "p"}) }, 2},
		{"trust again", func() error { return m.Trust(ctx, "u", Payee{Payee: "p", UpTo: "5"}) }, 2},
		{"mark payee twice", func() error {
			return errors.Join(m.MarkPayee(ctx, "u", "p", now), m.MarkPayee(ctx, "u", "p", now))
		}, 3},
		{"mark client", func() error { return m.MarkClient(ctx, "u", "k", now) }, 4},
		{"add daily twice", func() error {
			_, e1 := m.AddDaily(ctx, "u", "RUB", "1", now)
			_, e2 := m.AddDaily(ctx, "u", "RUB", "1", now)
			return errors.Join(e1, e2)
		}, 5},
		{"end grant", func() error { return m.EndGrant(ctx, "u", g.ID) }, 4},
		{"untrust", func() error { return m.Untrust(ctx, "u", "p") }, 3},
		{"a day later the total is gone", func() error { _, err := m.DailyTotal(ctx, "u", "RUB", now.Add(72*time.Hour)); return err }, 2},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if m.entries != st.want {
			t.Fatalf("%s: %d entries, want %d", st.name, m.entries, st.want)
		}
	}
}
