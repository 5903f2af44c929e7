package journal

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enumgate/enumgate/challenge"
)

// Defaults of RecorderOptions.
const (
	// DefaultQueue is how many entries a Recorder holds before it drops.
	DefaultQueue = 1024
	// DefaultAppendTimeout bounds each Append a Recorder makes.
	DefaultAppendTimeout = 2 * time.Second
)

// RecorderOptions configure a Recorder. Zero fields take the defaults.
type RecorderOptions struct {
	// Queue is how many entries wait at most; when it is full new ones
	// are dropped and counted (Dropped). Default DefaultQueue.
	Queue int
	// Workers is how many goroutines append concurrently. Default 1
	// (entries of one user are then appended in the order recorded).
	Workers int
	// AppendTimeout bounds each Append. Default DefaultAppendTimeout.
	AppendTimeout time.Duration
	// OnError, if set, is called (from a worker) with the user and the
	// error of every failed Append, after it is counted (Failed). It
	// must not block for long; the error never carries the entry.
	OnError func(user string, err error)
}

// Recorder feeds a Journal asynchronously: Record and Add never block
// the caller (the engine's event hook must not), entries wait in a
// bounded queue and workers append them. When the queue is full an entry
// is dropped and counted, never waited for.
type Recorder struct {
	j Journal
	o RecorderOptions
	q chan job

	mu      sync.RWMutex // guards closed against sends on a closed q
	closed  bool
	wg      sync.WaitGroup
	dropped atomic.Uint64
	failed  atomic.Uint64
	written atomic.Uint64
	pending atomic.Int64 // queued or being appended
}

// job is one entry to append.
type job struct {
	user string
	e    Entry
}

// NewRecorder starts a Recorder appending to j. Close stops it.
func NewRecorder(j Journal, o RecorderOptions) *Recorder {
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.AppendTimeout <= 0 {
		o.AppendTimeout = DefaultAppendTimeout
	}
	r := &Recorder{j: j, o: o, q: make(chan job, o.Queue)}
	r.wg.Add(o.Workers)
	for range o.Workers {
		go r.work()
	}
	return r
}

func (r *Recorder) work() {
	defer r.wg.Done()
	for jb := range r.q {
		ctx, cancel := context.WithTimeout(context.Background(), r.o.AppendTimeout)
		err := r.j.Append(ctx, jb.user, jb.e)
		cancel()
		if err != nil {
			r.failed.Add(1)
		} else {
			r.written.Add(1)
		}
		r.pending.Add(-1)
		if err != nil && r.o.OnError != nil {
			r.o.OnError(jb.user, err)
		}
	}
}

// Record queues the journal entry of a challenge event (FromEvent);
// events without a user are ignored. It has the signature of the
// engine's Config.Events, so it can be that hook or be called from it.
func (r *Recorder) Record(ev challenge.Event) {
	if user, e, ok := FromEvent(ev); ok {
		r.Add(user, e)
	}
}

// Add queues e for user's journal without blocking and reports whether
// it was queued; false means it was dropped (queue full, or the Recorder
// closed) and counted in Dropped. Entries Append would refuse are
// counted in Failed when their turn comes.
func (r *Recorder) Add(user string, e Entry) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.closed {
		r.pending.Add(1) // before the send, so a worker never sees it below 0
		select {
		case r.q <- job{user: user, e: e}:
			return true
		default:
			r.pending.Add(-1)
		}
	}
	r.dropped.Add(1)
	return false
}

// Dropped is how many entries were dropped because the queue was full or
// the Recorder closed.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Failed is how many appends failed.
func (r *Recorder) Failed() uint64 { return r.failed.Load() }

// Written is how many entries were appended.
func (r *Recorder) Written() uint64 { return r.written.Load() }

// Flush waits until no entry is queued or being appended, or until ctx
// ends. It is meant for tests and shutdown (it polls).
func (r *Recorder) Flush(ctx context.Context) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for r.pending.Load() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close stops accepting entries, appends those queued and waits for the
// workers. It does not close the Journal. Closing twice is harmless.
func (r *Recorder) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.q)
	}
	r.mu.Unlock()
	r.wg.Wait()
}
