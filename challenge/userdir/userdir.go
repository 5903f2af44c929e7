package userdir

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge"
)

// Defaults of Options.
const (
	// DefaultPrefix is the default Options.Prefix.
	DefaultPrefix = "enumgate:"
	// DefaultCacheSize is the default Options.CacheSize.
	DefaultCacheSize = 10000
	// DefaultCacheTTL is the default Options.CacheTTL.
	DefaultCacheTTL = time.Minute
)

// healthInterval is how long the subscriber waits for a message before it
// pings Redis; with no answer within another interval it treats the
// subscription as lost.
const healthInterval = 5 * time.Second

// Options configure a Dir.
type Options struct {
	// Prefix starts every Redis key and the invalidation channel. It must
	// not contain '{' or '}' (keys carry their own hash tag). Default
	// "enumgate:".
	Prefix string
	// Secrets encrypt device keys at rest: Secrets[0] encrypts, every
	// secret decrypts, so a new secret goes first and the old ones stay
	// until Reencrypt has run. Each is at least 16 bytes. Required.
	Secrets [][]byte
	// CacheSize is the maximum number of users cached in process. Default
	// 10000.
	CacheSize int
	// CacheTTL is how long a cached user may be served without reading
	// Redis again: the bound on staleness if invalidation messages are
	// lost. Default 1m.
	CacheTTL time.Duration

	// health overrides healthInterval (tests).
	health time.Duration
	// heard, if set, is called with each invalidation message after it
	// took effect (tests).
	heard func(payload string)
}

// Dir is a challenge.Directory of users stored in Redis, with an
// in-process read-through cache that every Dir on the same Redis
// invalidates. It is safe for concurrent use.
type Dir struct {
	client  redis.UniversalClient
	prefix  string
	channel string
	keys    *keyring
	ttl     time.Duration
	health  time.Duration
	heard   func(string)
	cache   *ristretto.Cache[string, *challenge.User]

	hits, misses atomic.Uint64
	// epoch counts invalidations; a Lookup caches what it read only if
	// no invalidation happened meanwhile (see Lookup).
	epoch atomic.Uint64
	// live is true while the invalidation subscription is known to work;
	// otherwise the cache is neither read nor filled.
	live atomic.Bool

	mu sync.Mutex // guards ps against Close
	ps *redis.PubSub

	cancel    context.CancelFunc
	done      chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
}

var _ challenge.Directory = (*Dir)(nil)

// New returns a Dir on client and starts its invalidation subscriber. ctx
// bounds the initial subscription only: New fails if Redis cannot be
// reached. The subscriber runs until Close; the client stays the
// caller's.
func New(ctx context.Context, client redis.UniversalClient, o Options) (*Dir, error) {
	if client == nil {
		return nil, errors.New("userdir: a Redis client is required")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("userdir: Prefix %q must not contain '{' or '}'", o.Prefix)
	}
	switch {
	case o.CacheSize < 0:
		return nil, fmt.Errorf("userdir: CacheSize %d is negative", o.CacheSize)
	case o.CacheSize == 0:
		o.CacheSize = DefaultCacheSize
	}
	switch {
	case o.CacheTTL < 0:
		return nil, fmt.Errorf("userdir: CacheTTL %v is negative", o.CacheTTL)
	case o.CacheTTL == 0:
		o.CacheTTL = DefaultCacheTTL
	}
	if o.health <= 0 {
		o.health = healthInterval
	}
	keys, err := newKeyring(o.Secrets)
	if err != nil {
		return nil, err
	}
	cache, err := ristretto.NewCache(&ristretto.Config[string, *challenge.User]{
		NumCounters:        10 * int64(o.CacheSize),
		MaxCost:            int64(o.CacheSize),
		BufferItems:        64,
		IgnoreInternalCost: true, // cost 1 per user: MaxCost counts users
	})
	if err != nil {
		return nil, fmt.Errorf("userdir: cache: %w", err)
	}
	d := &Dir{
		client:  client,
		prefix:  o.Prefix,
		channel: o.Prefix + "users:invalidate",
		keys:    keys,
		ttl:     o.CacheTTL,
		health:  o.health,
		heard:   o.heard,
		cache:   cache,
		done:    make(chan struct{}),
	}
	ps, err := d.subscribe(ctx)
	if err != nil {
		cache.Close()
		return nil, err
	}
	d.ps = ps
	d.live.Store(true)
	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go d.run(runCtx, ps)
	return d, nil
}

// subscribe subscribes to the invalidation channel and waits for Redis to
// confirm.
func (d *Dir) subscribe(ctx context.Context) (*redis.PubSub, error) {
	ps := d.client.Subscribe(ctx, d.channel)
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			ps.Close()
			return nil, fmt.Errorf("userdir: subscribing to %s: %w", d.channel, err)
		}
		if s, ok := msg.(*redis.Subscription); ok && s.Kind == "subscribe" {
			return ps, nil
		}
	}
}

// Close stops the invalidation subscriber and releases the cache. It does
// not close the Redis client. Call it once nothing else uses the Dir;
// later calls return ErrClosed. Closing twice is harmless.
func (d *Dir) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		d.live.Store(false)
		d.cancel()
		d.mu.Lock()
		d.ps.Close()
		d.mu.Unlock()
		<-d.done
		d.cache.Close()
	})
	return nil
}

// Stats returns how many Lookups the cache answered and how many went to
// Redis (including those made while the cache was bypassed).
func (d *Dir) Stats() (hits, misses uint64) {
	return d.hits.Load(), d.misses.Load()
}

// Lookup implements challenge.Directory: the user from the cache, or else
// from Redis (then cached). An unknown user gives an error wrapping
// challenge.ErrNoUser; any other error (Redis down, a record that fails
// to decrypt) means the directory is unavailable, and the engine fails
// closed. Only found users are cached. The returned User is shared and
// must not be modified.
func (d *Dir) Lookup(ctx context.Context, id string) (*challenge.User, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	if id == "" || len(id) > maxIDLen {
		return nil, noUser(id)
	}
	live := d.live.Load()
	if live {
		if u, ok := d.cache.Get(id); ok {
			d.hits.Add(1)
			return u, nil
		}
	}
	d.misses.Add(1)
	epoch := d.epoch.Load()
	r, err := d.get(ctx, id)
	if err != nil {
		return nil, err
	}
	u, err := userOf(r)
	if err != nil {
		return nil, fmt.Errorf("userdir: %w", err)
	}
	// Cache u unless an invalidation arrived since epoch was read: the
	// value may then predate the write it announced. The second check
	// catches an invalidation that ran between the first check and the
	// Set; its own Del may have preceded the Set, so Del again (ristretto
	// applies a Set and a later Del in order).
	if live && d.epoch.Load() == epoch {
		d.cache.SetWithTTL(id, u, 1, d.ttl)
		if d.epoch.Load() != epoch {
			d.cache.Del(id)
		}
	}
	return u, nil
}

// invalidate drops id from the cache.
func (d *Dir) invalidate(id string) {
	d.epoch.Add(1)
	d.cache.Del(id)
}

// setLive records whether the subscription works. Either way the cache
// is emptied: on losing the subscription because nothing cached can be
// trusted to be invalidated any more; on (re)subscribing because messages
// sent while it was down are lost.
func (d *Dir) setLive(live bool) {
	if !live {
		d.live.Store(false)
	}
	d.epoch.Add(1)
	d.cache.Clear()
	if live {
		d.live.Store(true)
	}
}

// run receives invalidation messages until ctx is cancelled. go-redis
// reconnects and resubscribes by itself after a connection error; run
// stops using the cache at the error and resumes at the new subscription.
// A connection that goes silent (no answer to a ping within the health
// interval) is replaced by a new subscription.
func (d *Dir) run(ctx context.Context, ps *redis.PubSub) {
	defer close(d.done)
	const minBackoff, maxBackoff = 50 * time.Millisecond, 2 * time.Second
	backoff := minBackoff
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, d.health)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) && !pinged {
				pinged = true
				if ps.Ping(ctx) == nil {
					continue
				}
			}
			if d.live.Load() {
				d.setLive(false)
			}
			if isTimeout(err) {
				pinged = false
				if ps = d.resubscribe(ctx); ps == nil {
					return
				}
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff, pinged = minBackoff, false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				d.setLive(true)
			}
		case *redis.Message:
			d.invalidate(m.Payload)
			if d.heard != nil {
				d.heard(m.Payload)
			}
		}
	}
}

// resubscribe replaces a silent subscription with a new one; it returns
// nil once Close has begun.
func (d *Dir) resubscribe(ctx context.Context) *redis.PubSub {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	d.ps.Close()
	d.ps = d.client.Subscribe(ctx, d.channel)
	return d.ps
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func noUser(id string) error {
	return fmt.Errorf("%w: %q", challenge.ErrNoUser, id)
}

// key is the Redis key of user id, hash-tagged per user.
func (d *Dir) key(id string) string {
	return d.prefix + "{u:" + id + "}:user"
}
