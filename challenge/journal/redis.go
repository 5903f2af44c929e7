package journal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/enumgate/enumgate/internal/redisscript"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix starts every key of a Redis journal, as it does the
// challenge store's (package redisstore).
const DefaultPrefix = "enumgate:"

// RedisOptions configure a Redis journal. Zero fields take the defaults.
type RedisOptions struct {
	// Prefix starts every key, so several deployments can share one
	// Redis. It must not contain '{' or '}'. Default "enumgate:".
	Prefix string
	// MaxEntries is how many entries each user's stream keeps; the
	// oldest go first. Default DefaultMaxEntries.
	MaxEntries int
	// MaxAge is how long an entry is kept after it was appended; a
	// stream expires MaxAge after its last append. Default
	// DefaultMaxAge.
	MaxAge time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// RedisClient is the part of a go-redis client the Redis journal uses.
// Every redis.UniversalClient — *redis.Client (standalone or Sentinel
// failover) and *redis.ClusterClient — has it; package redisstore's
// NewClient makes one.
type RedisClient interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// Redis is a Journal in Redis: one stream per user (see the package
// documentation for the layout). It holds no state of its own, so every
// gateway sharing the Redis shares the journals.
type Redis struct {
	client RedisClient
	o      RedisOptions
	closed atomic.Bool
}

// NewRedis returns a journal that keeps its streams through client. It
// fails when the prefix contains a brace.
func NewRedis(client RedisClient, o RedisOptions) (*Redis, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, errors.New("journal: redis prefix must not contain '{' or '}'")
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Redis{client: client, o: o}, nil
}

// Key returns the stream of user's journal: the prefix, the user's hash
// tag {u:<first 16 hex digits of SHA-256(user)>} (package redisstore's),
// ":j:" and the whole digest in hex.
func (j *Redis) Key(user string) string {
	h := sha256.Sum256([]byte(user))
	var b [128]byte
	k := append(b[:0], j.o.Prefix...)
	k = append(k, "{u:"...)
	k = hex.AppendEncode(k, h[:8])
	k = append(k, "}:j:"...)
	return string(hex.AppendEncode(k, h[:]))
}

// appendScript adds ARGV[4] (the entry's JSON) to the stream KEYS[1] at
// millisecond ARGV[1] — or, when the stream's last id is later (a
// gateway whose clock is behind), with Redis' own next id — keeping at
// most ARGV[2] entries, trims entries older than ARGV[3] ms
// approximately, and lets the stream expire ARGV[5] ms after the append.
// The first write is XADD, so a full Redis (noeviction) refuses the
// script whole. It returns the new entry's id.
var appendScript = newScript(`
local id = redis.pcall('XADD', KEYS[1], 'MAXLEN', ARGV[2], ARGV[1] .. '-*', 'e', ARGV[4])
if type(id) == 'table' and id.err then
	if not string.find(id.err, 'ID') then
		return redis.error_reply(id.err)
	end
	id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'e', ARGV[4])
end
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return id
`)

// Append implements Journal: one script, one key, never retried.
func (j *Redis) Append(ctx context.Context, user string, e Entry) error {
	if j.closed.Load() {
		return ErrClosed
	}
	if err := CheckUser(user); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	now := j.o.Now()
	if e.At.IsZero() {
		e.At = now
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal: encode: %w", err)
	}
	ms := nowMS(now)
	if ms == 0 {
		ms = 1 // 0-0 is not a valid stream id
	}
	cmd := appendScript.run(ctx, j.client, []string{j.Key(user)},
		strconv.FormatUint(ms, 10), j.o.MaxEntries, strconv.FormatUint(cutoff(now, j.o.MaxAge), 10),
		b, j.o.MaxAge.Milliseconds())
	if err := cmd.Err(); err != nil {
		return fmt.Errorf("redis: journal append: %w", err)
	}
	return nil
}

// Page implements Journal: one XREVRANGE of limit+1 entries, no older
// than MaxAge.
func (j *Redis) Page(ctx context.Context, user string, limit int, before string) ([]Entry, string, error) {
	if j.closed.Load() {
		return nil, "", ErrClosed
	}
	if err := CheckUser(user); err != nil {
		return nil, "", err
	}
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, "", err
	}
	start := "+"
	if before != "" {
		c, err := parseID(before)
		if err != nil {
			return nil, "", err
		}
		// The id just before c: XREVRANGE bounds are inclusive (and the
		// exclusive "(" needs Redis 6.2).
		switch {
		case c.seq > 0:
			c.seq--
		case c.ms > 0:
			c.ms, c.seq = c.ms-1, ^uint64(0)
		default:
			return nil, "", nil
		}
		start = c.String()
	}
	stop := strconv.FormatUint(cutoff(j.o.Now(), j.o.MaxAge), 10)
	cmd := redis.NewXMessageSliceCmd(ctx, "xrevrange", j.Key(user), start, stop, "count", limit+1)
	_ = j.client.Process(ctx, cmd)
	msgs, err := cmd.Result()
	if err != nil {
		return nil, "", fmt.Errorf("redis: journal page: %w", err)
	}
	var next string
	if len(msgs) > limit {
		msgs = msgs[:limit]
		next = msgs[limit-1].ID
	}
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		s, _ := m.Values["e"].(string)
		var e Entry
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			return nil, "", fmt.Errorf("redis: journal entry %s does not decode: %w", m.ID, err)
		}
		out = append(out, e)
	}
	return out, next, nil
}

// Close implements Journal. It leaves the client open.
func (j *Redis) Close() { j.closed.Store(true) }

var _ Journal = (*Redis)(nil)

// script is a Lua script run as a command go-redis never retries (see
// package internal/redisscript): an append whose reply was lost may have
// run, and running it again would journal the step twice.
type script struct{ *redisscript.Script }

func newScript(src string) *script { return &script{redisscript.New(src)} }

func (sc *script) run(ctx context.Context, c redisscript.Processor, keys []string, args ...any) *redis.Cmd {
	return sc.Run(ctx, c, keys, args...)
}
