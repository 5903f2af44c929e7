package journal_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/journal"
)

// stalling is a memory journal whose appends wait until release is
// closed, as a Redis that stalls would; entered reports each append that
// started.
type stalling struct {
	*journal.Memory
	entered chan struct{}
	release chan struct{}
}

func newStalling() *stalling {
	return &stalling{Memory: journal.NewMemory(journal.MemoryOptions{}), entered: make(chan struct{}, 1000), release: make(chan struct{})}
}

func (s *stalling) Append(ctx context.Context, user string, e journal.Entry) error {
	s.entered <- struct{}{}
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Memory.Append(ctx, user, e)
}

func issued(user string) challenge.Event {
	return challenge.Event{Kind: challenge.EventIssued, User: user, ChallengeID: "c1", Operation: "transfer", Time: time.Now()}
}

func TestRecorderNeverBlocksAndCountsWhatItDrops(t *testing.T) {
	j := newStalling()
	r := journal.NewRecorder(j, journal.RecorderOptions{Queue: 4, AppendTimeout: time.Minute})
	defer r.Close()
	r.Record(issued("alice"))
	<-j.entered // the worker holds the first entry; the queue is empty
	start := time.Now()
	for range 99 {
		r.Record(issued("alice"))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("99 Records against a stalled journal took %v", d)
	}
	if got := r.Dropped(); got != 95 {
		t.Fatalf("Dropped = %d, want 95 (1 appending, 4 queued)", got)
	}
	close(j.release)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Written() != 5 || r.Failed() != 0 || count(t, j, "alice") != 5 {
		t.Fatalf("Written %d, Failed %d, journal %d; want 5, 0, 5", r.Written(), r.Failed(), count(t, j, "alice"))
	}
}

func TestRecorderIgnoresEventsWithoutAUser(t *testing.T) {
	m := journal.NewMemory(journal.MemoryOptions{})
	r := journal.NewRecorder(m, journal.RecorderOptions{})
	r.Record(issued(""))
	r.Close()
	if r.Written() != 0 || r.Dropped() != 0 || r.Failed() != 0 {
		t.Fatalf("Written %d, Dropped %d, Failed %d; want nothing counted", r.Written(), r.Dropped(), r.Failed())
	}
}

func TestRecorderCountsAndReportsFailedAppends(t *testing.T) {
	m := journal.NewMemory(journal.MemoryOptions{})
	var mu sync.Mutex
	var users []string
	var errs []error
	r := journal.NewRecorder(m, journal.RecorderOptions{OnError: func(user string, err error) {
		mu.Lock()
		defer mu.Unlock()
		users, errs = append(users, user), append(errs, err)
	}})
	r.Add("alice", journal.Entry{Event: "Not An Event"})
	r.Add("", journal.Entry{Event: "issued"})
	r.Add("alice", journal.Entry{Event: "issued"})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.Close()
	mu.Lock()
	defer mu.Unlock()
	if r.Failed() != 2 || r.Written() != 1 || len(errs) != 2 ||
		!errors.Is(errs[0], journal.ErrBadEntry) || !errors.Is(errs[1], journal.ErrBadUser) || users[0] != "alice" {
		t.Fatalf("Failed %d, Written %d, reported %v for %q", r.Failed(), r.Written(), errs, users)
	}
}

func TestRecorderCloseAppendsWhatIsQueuedThenDrops(t *testing.T) {
	m := journal.NewMemory(journal.MemoryOptions{})
	r := journal.NewRecorder(m, journal.RecorderOptions{Workers: 3})
	for range 50 {
		if !r.Add("alice", journal.Entry{Event: "issued"}) {
			t.Fatal("Add dropped with room in the queue")
		}
	}
	r.Close()
	if got := count(t, m, "alice"); got != 50 {
		t.Fatalf("journal holds %d entries after Close, want 50", got)
	}
	if r.Add("alice", journal.Entry{Event: "issued"}) || r.Dropped() != 1 {
		t.Fatalf("Add after Close queued, or Dropped = %d (want 1)", r.Dropped())
	}
	r.Close() // twice is harmless
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("Flush after Close = %v", err)
	}
}

func TestRecorderFlushHonoursItsContext(t *testing.T) {
	j := newStalling()
	r := journal.NewRecorder(j, journal.RecorderOptions{})
	defer func() { close(j.release); r.Close() }()
	r.Add("alice", journal.Entry{Event: "issued"})
	c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := r.Flush(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush against a stalled journal = %v, want DeadlineExceeded", err)
	}
}

func TestRecorderBoundsEachAppend(t *testing.T) {
	j := newStalling()
	defer close(j.release)
	r := journal.NewRecorder(j, journal.RecorderOptions{AppendTimeout: 10 * time.Millisecond})
	r.Add("alice", journal.Entry{Event: "issued"})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if r.Failed() != 1 {
		t.Fatalf("Failed = %d, want the timed-out append counted", r.Failed())
	}
}

func TestRecorderAddRacesClose(t *testing.T) {
	m := journal.NewMemory(journal.MemoryOptions{})
	r := journal.NewRecorder(m, journal.RecorderOptions{Queue: 8, Workers: 2})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				r.Record(issued("alice"))
			}
		})
	}
	time.Sleep(time.Millisecond)
	r.Close()
	wg.Wait()
	if got := r.Written() + r.Dropped() + r.Failed(); got != 1600 {
		t.Fatalf("written + dropped + failed = %d, want every one of 1600 events accounted for", got)
	}
}
