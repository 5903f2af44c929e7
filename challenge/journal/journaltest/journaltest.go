// Package journaltest is the conformance suite every journal.Journal
// passes: the memory journal and Redis run the same tests, so pages and
// the API behave the same whichever a gateway uses.
package journaltest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/journal"
)

// Options are what the suite asks of a journal: retention bounds (0 for
// the implementation's defaults) and a clock.
type Options struct {
	MaxEntries int
	MaxAge     time.Duration
	Now        func() time.Time
}

// Factory returns a fresh, empty journal for one subtest, configured by
// o. It cleans up after itself (t.Cleanup); the suite calls Close too.
type Factory func(t *testing.T, o Options) journal.Journal

// T0 is the suite's start time.
var T0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock by d (which may be negative).
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

var ctx = context.Background()

// entry returns a full entry numbered n (its ChallengeID is "c-<n>").
func entry(n int) journal.Entry {
	return journal.Entry{
		At: T0.Add(time.Duration(n) * time.Second), Event: "confirmed", Operation: "transfer",
		Amount: "10.00", Currency: "RUB", Payee: "Z•••123", Method: "enum", IP: "192.0.2.7",
		UserAgent: "Mozilla/5.0 (test)", ChallengeID: fmt.Sprintf("c-%d", n),
	}
}

func appendN(t *testing.T, j journal.Journal, user string, from, to int) {
	t.Helper()
	for n := from; n < to; n++ {
		if err := j.Append(ctx, user, entry(n)); err != nil {
			t.Fatalf("Append %d: %v", n, err)
		}
	}
}

// all pages through user's journal with limit and returns the challenge
// ids in the order read.
func all(t *testing.T, j journal.Journal, user string, limit int) []string {
	t.Helper()
	var ids []string
	before := ""
	for range 10000 {
		es, next, err := j.Page(ctx, user, limit, before)
		if err != nil {
			t.Fatalf("Page(%q): %v", before, err)
		}
		if next != "" && len(es) == 0 {
			t.Fatalf("Page(%q) returned no entries but a next cursor %q", before, next)
		}
		for _, e := range es {
			ids = append(ids, e.ChallengeID)
		}
		if next == "" {
			return ids
		}
		if next == before {
			t.Fatalf("cursor %q does not move", next)
		}
		before = next
	}
	t.Fatal("paging never ends")
	return nil
}

// newest returns "c-<to-1>" down to "c-<from>".
func newest(from, to int) []string {
	var ids []string
	for n := to - 1; n >= from; n-- {
		ids = append(ids, fmt.Sprintf("c-%d", n))
	}
	return ids
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// Run runs the suite.
func Run(t *testing.T, f Factory) {
	open := func(t *testing.T, o Options) (journal.Journal, *Clock) {
		c := NewClock(T0)
		if o.Now == nil {
			o.Now = c.Now
		}
		j := f(t, o)
		t.Cleanup(j.Close)
		return j, c
	}

	t.Run("entries read back whole, newest first", func(t *testing.T) {
		j, _ := open(t, Options{})
		appendN(t, j, "alice", 0, 5)
		es, next, err := j.Page(ctx, "alice", 0, "")
		if err != nil || next != "" || len(es) != 5 {
			t.Fatalf("Page = %d entries, next %q, %v; want 5, \"\", nil", len(es), next, err)
		}
		for i, e := range es {
			want := entry(4 - i)
			if !e.At.Equal(want.At) {
				t.Fatalf("entry %d at %v, want %v", i, e.At, want.At)
			}
			e.At = want.At
			if e != want {
				t.Fatalf("entry %d = %+v, want %+v", i, e, want)
			}
		}
	})

	t.Run("absent fields stay absent and a zero time takes the journal's clock", func(t *testing.T) {
		j, c := open(t, Options{})
		c.Advance(90 * time.Minute)
		want := journal.Entry{Event: "device_added", Detail: "device 2"}
		if err := j.Append(ctx, "alice", want); err != nil {
			t.Fatal(err)
		}
		es, _, err := j.Page(ctx, "alice", 1, "")
		if err != nil || len(es) != 1 {
			t.Fatalf("Page = %v, %v", es, err)
		}
		if !es[0].At.Equal(c.Now()) {
			t.Fatalf("At = %v, want the journal's clock %v", es[0].At, c.Now())
		}
		es[0].At = time.Time{}
		if es[0] != want {
			t.Fatalf("entry = %+v, want %+v", es[0], want)
		}
	})

	t.Run("pages follow their cursors to the oldest entry", func(t *testing.T) {
		j, _ := open(t, Options{})
		appendN(t, j, "alice", 0, 45)
		for _, limit := range []int{1, 7, 20, 44, 45, 46, journal.MaxLimit} {
			same(t, fmt.Sprintf("limit %d", limit), all(t, j, "alice", limit), newest(0, 45))
		}
		es, next, err := j.Page(ctx, "alice", 0, "")
		if err != nil || len(es) != journal.DefaultLimit || next == "" {
			t.Fatalf("default page = %d entries, next %q, %v; want %d and a cursor", len(es), next, err, journal.DefaultLimit)
		}
	})

	t.Run("a page that takes the last entries has no next cursor", func(t *testing.T) {
		j, _ := open(t, Options{})
		appendN(t, j, "alice", 0, 20)
		_, next, err := j.Page(ctx, "alice", 20, "")
		if err != nil || next != "" {
			t.Fatalf("Page(20 of 20) next = %q, %v; want none", next, err)
		}
		_, next, _ = j.Page(ctx, "alice", 10, "")
		es, next2, err := j.Page(ctx, "alice", 10, next)
		if err != nil || len(es) != 10 || next2 != "" {
			t.Fatalf("second page = %d entries, next %q, %v; want 10 and none", len(es), next2, err)
		}
	})

	t.Run("a cursor stays put while newer entries arrive", func(t *testing.T) {
		j, c := open(t, Options{})
		appendN(t, j, "alice", 0, 30)
		es, next, err := j.Page(ctx, "alice", 10, "")
		if err != nil || next == "" {
			t.Fatal(err)
		}
		same(t, "first page", ids(es), newest(20, 30))
		c.Advance(time.Second)
		appendN(t, j, "alice", 30, 40)
		es, next, err = j.Page(ctx, "alice", 10, next)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "second page after appends", ids(es), newest(10, 20))
		es, _, _ = j.Page(ctx, "alice", 10, next)
		same(t, "third page", ids(es), newest(0, 10))
		es, _, _ = j.Page(ctx, "alice", 10, "")
		same(t, "a fresh first page", ids(es), newest(30, 40))
	})

	t.Run("entries appended in one millisecond or while the clock goes back keep their order", func(t *testing.T) {
		j, c := open(t, Options{})
		appendN(t, j, "alice", 0, 10) // all in one millisecond
		c.Advance(-time.Minute)
		appendN(t, j, "alice", 10, 15)
		c.Advance(2 * time.Minute)
		appendN(t, j, "alice", 15, 20)
		same(t, "pages of 3", all(t, j, "alice", 3), newest(0, 20))
	})

	t.Run("retention by count keeps the newest", func(t *testing.T) {
		j, c := open(t, Options{MaxEntries: 10})
		for n := range 25 {
			appendN(t, j, "alice", n, n+1)
			c.Advance(time.Millisecond)
		}
		same(t, "kept", all(t, j, "alice", 4), newest(15, 25))
		es, next, _ := j.Page(ctx, "alice", journal.MaxLimit, "")
		if len(es) != 10 || next != "" {
			t.Fatalf("one big page = %d entries, next %q; want 10 and none", len(es), next)
		}
	})

	t.Run("retention by age drops what is older than MaxAge", func(t *testing.T) {
		j, c := open(t, Options{MaxAge: time.Hour})
		appendN(t, j, "alice", 0, 3)
		c.Advance(30 * time.Minute)
		appendN(t, j, "alice", 3, 5)
		c.Advance(30 * time.Minute)
		same(t, "at exactly MaxAge", all(t, j, "alice", 2), newest(0, 5))
		c.Advance(time.Millisecond)
		same(t, "just after MaxAge", all(t, j, "alice", 2), newest(3, 5))
		_, cursor, _ := j.Page(ctx, "alice", 1, "")
		appendN(t, j, "alice", 5, 6)
		same(t, "after another append", all(t, j, "alice", 2), newest(3, 6))
		c.Advance(30 * time.Minute)
		es, next, err := j.Page(ctx, "alice", 5, cursor)
		if err != nil || len(es) != 0 || next != "" {
			t.Fatalf("cursor into aged entries = %v, %q, %v; want nothing", ids(es), next, err)
		}
		same(t, "an hour after the last append but one", all(t, j, "alice", 2), newest(5, 6))
		c.Advance(31 * time.Minute)
		same(t, "everything aged", all(t, j, "alice", 2), nil)
	})

	t.Run("retention by age trims while appending", func(t *testing.T) {
		j, c := open(t, Options{MaxAge: time.Minute, MaxEntries: 500})
		for n := range 300 {
			appendN(t, j, "alice", n, n+1)
			c.Advance(time.Second)
		}
		same(t, "the last minute", all(t, j, "alice", journal.MaxLimit), newest(240, 300))
	})

	t.Run("users see only their own journal", func(t *testing.T) {
		j, _ := open(t, Options{})
		appendN(t, j, "alice", 0, 10)
		appendN(t, j, "bob", 100, 103)
		appendN(t, j, "alice", 10, 12)
		same(t, "alice", all(t, j, "alice", 5), newest(0, 12))
		same(t, "bob", all(t, j, "bob", 5), newest(100, 103))
		// Alice's cursor is only a position in bob's journal.
		_, aliceCursor, _ := j.Page(ctx, "alice", 1, "")
		got, _, err := j.Page(ctx, "bob", 10, aliceCursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got {
			if !strings.HasPrefix(e.ChallengeID, "c-10") {
				t.Fatalf("bob's page with alice's cursor shows %q", e.ChallengeID)
			}
		}
		for _, u := range []string{"carol", "Alice", "alice ", "{u:x}", "al:ice"} {
			if es, next, err := j.Page(ctx, u, 10, ""); err != nil || len(es) != 0 || next != "" {
				t.Fatalf("Page(%q) = %d entries, %q, %v; want an empty journal", u, len(es), next, err)
			}
		}
	})

	t.Run("user ids are bounded", func(t *testing.T) {
		j, _ := open(t, Options{})
		for _, u := range []string{"", strings.Repeat("u", journal.MaxUserLen+1)} {
			if err := j.Append(ctx, u, entry(1)); !errors.Is(err, journal.ErrBadUser) {
				t.Errorf("Append(user of %d bytes) = %v, want ErrBadUser", len(u), err)
			}
			if _, _, err := j.Page(ctx, u, 1, ""); !errors.Is(err, journal.ErrBadUser) {
				t.Errorf("Page(user of %d bytes) = %v, want ErrBadUser", len(u), err)
			}
		}
		long := strings.Repeat("u", journal.MaxUserLen)
		appendN(t, j, long, 0, 2)
		same(t, "longest user id", all(t, j, long, 1), newest(0, 2))
	})

	t.Run("page sizes are bounded", func(t *testing.T) {
		j, _ := open(t, Options{})
		appendN(t, j, "alice", 0, journal.MaxLimit+5)
		for _, limit := range []int{-1, journal.MaxLimit + 1, 1 << 30} {
			if _, _, err := j.Page(ctx, "alice", limit, ""); !errors.Is(err, journal.ErrBadLimit) {
				t.Errorf("Page(limit %d) = %v, want ErrBadLimit", limit, err)
			}
		}
		if es, _, err := j.Page(ctx, "alice", journal.MaxLimit, ""); err != nil || len(es) != journal.MaxLimit {
			t.Errorf("Page(MaxLimit) = %d entries, %v", len(es), err)
		}
	})

	t.Run("malformed entries are refused and change nothing", func(t *testing.T) {
		j, _ := open(t, Options{})
		long := strings.Repeat("x", journal.MaxFieldLen+1)
		for name, mod := range map[string]func(*journal.Entry){
			"no event":            func(e *journal.Entry) { e.Event = "" },
			"event with spaces":   func(e *journal.Entry) { e.Event = "wrong answer" },
			"event in capitals":   func(e *journal.Entry) { e.Event = "Confirmed" },
			"event too long":      func(e *journal.Entry) { e.Event = strings.Repeat("e", journal.MaxEventLen+1) },
			"payee too long":      func(e *journal.Entry) { e.Payee = long },
			"user agent too long": func(e *journal.Entry) { e.UserAgent = long },
			"detail too long":     func(e *journal.Entry) { e.Detail = strings.Repeat("d", journal.MaxDetailLen+1) },
			"invalid UTF-8":       func(e *journal.Entry) { e.Operation = "tr\xffansfer" },
		} {
			e := entry(1)
			mod(&e)
			if err := j.Append(ctx, "alice", e); !errors.Is(err, journal.ErrBadEntry) {
				t.Errorf("%s: Append = %v, want ErrBadEntry", name, err)
			}
		}
		same(t, "after refusals", all(t, j, "alice", 10), nil)
		e := entry(1)
		e.Detail = strings.Repeat("d", journal.MaxDetailLen)
		e.Payee = strings.Repeat("p", journal.MaxFieldLen)
		e.Event = strings.Repeat("e", journal.MaxEventLen)
		if err := j.Append(ctx, "alice", e); err != nil {
			t.Fatalf("entry at every bound: %v", err)
		}
	})

	t.Run("bad cursors are refused", func(t *testing.T) {
		j, _ := open(t, Options{})
		appendN(t, j, "alice", 0, 3)
		for _, c := range []string{"x", "1", "1-", "-1", "-", "01-1", "1-01", "+1-1", "1-+1", "1-1-1", " 1-1", "1-1 ",
			"18446744073709551616-0", "0-18446744073709551616", "1.5-1", "0x1-1", "１-1", strings.Repeat("1", 50) + "-1"} {
			if _, _, err := j.Page(ctx, "alice", 10, c); !errors.Is(err, journal.ErrBadCursor) {
				t.Errorf("Page(before %q) = %v, want ErrBadCursor", c, err)
			}
		}
	})

	t.Run("well-formed cursors of no entry are positions", func(t *testing.T) {
		j, _ := open(t, Options{})
		appendN(t, j, "alice", 0, 3)
		if es, next, err := j.Page(ctx, "alice", 10, "0-0"); err != nil || len(es) != 0 || next != "" {
			t.Fatalf("before the first id = %v, %q, %v; want nothing", ids(es), next, err)
		}
		if es, _, err := j.Page(ctx, "alice", 10, "18446744073709551615-18446744073709551615"); err != nil {
			t.Fatal(err)
		} else {
			same(t, "before the last id", ids(es), newest(0, 3))
		}
		if es, _, err := j.Page(ctx, "alice", 10, fmt.Sprintf("%d-0", T0.Add(time.Hour).UnixMilli())); err != nil {
			t.Fatal(err)
		} else {
			same(t, "before a later time", ids(es), newest(0, 3))
		}
	})

	t.Run("concurrent appends are all kept, each writer's in order", func(t *testing.T) {
		j, c := open(t, Options{})
		const writers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for n := range each {
					e := entry(n)
					e.ChallengeID = fmt.Sprintf("w%d-%d", w, n)
					if err := j.Append(ctx, "alice", e); err != nil {
						errs <- err
					}
					if n%5 == 0 {
						c.Advance(time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got := all(t, j, "alice", 30)
		if len(got) != writers*each {
			t.Fatalf("read %d entries, want %d", len(got), writers*each)
		}
		seen := map[string]bool{}
		last := map[string]int{}
		for _, id := range got {
			if seen[id] {
				t.Fatalf("entry %s read twice", id)
			}
			seen[id] = true
			var w, n int
			fmt.Sscanf(id, "w%d-%d", &w, &n)
			k := fmt.Sprint(w)
			if prev, ok := last[k]; ok && n >= prev {
				t.Fatalf("writer %d's entry %d is newer than its entry %d", w, n, prev)
			}
			last[k] = n
		}
	})

	t.Run("a closed journal refuses calls", func(t *testing.T) {
		j, _ := open(t, Options{})
		appendN(t, j, "alice", 0, 1)
		j.Close()
		if err := j.Append(ctx, "alice", entry(2)); !errors.Is(err, journal.ErrClosed) {
			t.Errorf("Append after Close = %v, want ErrClosed", err)
		}
		if _, _, err := j.Page(ctx, "alice", 1, ""); !errors.Is(err, journal.ErrClosed) {
			t.Errorf("Page after Close = %v, want ErrClosed", err)
		}
	})
}

func ids(es []journal.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ChallengeID)
	}
	return out
}
