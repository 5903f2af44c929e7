package journal_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/journal"
	"github.com/enumgate/enumgate/challenge/journal/journaltest"
)

var ctx = context.Background()

func TestMemoryConformance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T, o journaltest.Options) journal.Journal {
		return journal.NewMemory(journal.MemoryOptions{MaxEntries: o.MaxEntries, MaxAge: o.MaxAge, Now: o.Now})
	})
}

func count(t *testing.T, j journal.Journal, user string) int {
	t.Helper()
	es, _, err := j.Page(ctx, user, journal.MaxLimit, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestMemoryBounds(t *testing.T) {
	e := journal.Entry{Event: "issued", Operation: "transfer"}

	t.Run("beyond MaxUsers the least recently written journal goes", func(t *testing.T) {
		m := journal.NewMemory(journal.MemoryOptions{MaxUsers: 3})
		for _, u := range []string{"a", "b", "c", "a", "d"} {
			if err := m.Append(ctx, u, e); err != nil {
				t.Fatal(err)
			}
		}
		for u, want := range map[string]int{"a": 2, "b": 0, "c": 1, "d": 1} {
			if got := count(t, m, u); got != want {
				t.Errorf("%s has %d entries, want %d", u, got, want)
			}
		}
		if users, _ := m.Stats(); users != 3 {
			t.Errorf("Stats users = %d, want 3", users)
		}
	})

	t.Run("beyond MaxBytes the least recently written journals go", func(t *testing.T) {
		m := journal.NewMemory(journal.MemoryOptions{MaxBytes: 10_000})
		for i := range 200 {
			if err := m.Append(ctx, fmt.Sprintf("user-%d", i), e); err != nil {
				t.Fatal(err)
			}
			if _, b := m.Stats(); b > 10_000 {
				t.Fatalf("after %d appends the journal holds %d bytes, over its bound", i+1, b)
			}
		}
		if count(t, m, "user-199") != 1 || count(t, m, "user-0") != 0 {
			t.Fatal("the newest user's journal must stay and the oldest go")
		}
	})

	t.Run("one user over MaxBytes loses its oldest entries", func(t *testing.T) {
		m := journal.NewMemory(journal.MemoryOptions{MaxBytes: 2_000})
		for range 100 {
			if err := m.Append(ctx, "alice", e); err != nil {
				t.Fatal(err)
			}
		}
		n := count(t, m, "alice")
		if _, b := m.Stats(); n == 0 || n == 100 || b > 2_000 {
			t.Fatalf("alice keeps %d entries in %d bytes; want some, within 2000 bytes", n, b)
		}
	})

	t.Run("idle users' journals vanish once aged", func(t *testing.T) {
		c := journaltest.NewClock(journaltest.T0)
		m := journal.NewMemory(journal.MemoryOptions{MaxAge: time.Hour, Now: c.Now})
		for i := range 50 {
			if err := m.Append(ctx, fmt.Sprintf("idle-%d", i), e); err != nil {
				t.Fatal(err)
			}
		}
		c.Advance(2 * time.Hour)
		for range 30 {
			if err := m.Append(ctx, "active", e); err != nil {
				t.Fatal(err)
			}
		}
		if users, _ := m.Stats(); users != 1 {
			t.Fatalf("%d journals held; want only the active one (each append sweeps two idle ones)", users)
		}
	})
}
