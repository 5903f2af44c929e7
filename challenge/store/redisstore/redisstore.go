package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/store"
)

// Defaults for Options.
const (
	// DefaultPrefix starts every key the store writes.
	DefaultPrefix = "enumgate:"
	// DefaultWaitTimeout bounds WAIT when the store waits for replicas.
	DefaultWaitTimeout = time.Second
	// DefaultMaxPendingPerUser is store.DefaultMaxPendingPerUser.
	DefaultMaxPendingPerUser = store.DefaultMaxPendingPerUser
	// DefaultMaxBytesPerUser is store.DefaultMaxBytesPerUser.
	DefaultMaxBytesPerUser = store.DefaultMaxBytesPerUser
	// DefaultDeliveryLease is store.DefaultDeliveryLease.
	DefaultDeliveryLease = store.DefaultDeliveryLease
)

// Options configure a Store. Zero fields take the defaults above.
type Options struct {
	// Prefix starts every key, so several deployments can share one
	// Redis. It must not contain '{' or '}'. Default "enumgate:".
	Prefix string
	// WaitReplicas is how many replicas must acknowledge (WAIT) a
	// confirmation or a repeat before Attempt reports it, a lease before
	// Deliver returns the record, and a delivered Settle; fewer within
	// WaitTimeout give *store.NotDurableError. 0 (the default) is auto:
	// 1 when the deployment replicates — a Sentinel (failover) client, a
	// Cluster whose masters have replicas, a standalone master with a
	// connected replica (INFO replication, read once: at Check or first
	// use) — else none. Negative: never wait (off). See the package
	// documentation.
	WaitReplicas int
	// WaitTimeout bounds each WAIT. Default 1s.
	WaitTimeout time.Duration
	// MaxPendingPerUser is the most pending challenges (created, not
	// confirmed, not exhausted, not expired, not deleted) one user may
	// hold, across every gateway. Default 10; negative disables the limit.
	MaxPendingPerUser int
	// MaxBytesPerUser is the most bytes of stashed requests (Stash and
	// View) one user's unexpired challenges may hold, confirmed but
	// undelivered ones included. Default 1 MiB; negative disables the
	// limit. Keep it at least the largest record one request can make.
	MaxBytesPerUser int64
	// DeliveryLease is how long a delivery of a confirmed request holds
	// its lease (the first Confirmed and every Deliver). Default 30s; a
	// value <= 0 takes the default.
	DeliveryLease time.Duration
}

// Client is the part of a go-redis client the Store uses. Every
// redis.UniversalClient — *redis.Client (standalone or Sentinel failover)
// and *redis.ClusterClient — has it. Options.WaitReplicas additionally
// needs a *redis.Client or a *redis.ClusterClient, to run WAIT on the
// connection that made the write.
//
// Scripts are sent through Process as commands marked NoRetry, so that
// go-redis never runs a state-changing script twice (see NewClient).
type Client interface {
	redis.Scripter
	Process(ctx context.Context, cmd redis.Cmder) error
	Ping(ctx context.Context) *redis.StatusCmd
	ConfigGet(ctx context.Context, parameter string) *redis.MapStringStringCmd
}

// Store is the Redis challenge store. It is safe for concurrent use and
// holds no state of its own beyond its options: gateways sharing a Redis
// share everything.
type Store struct {
	client Client
	opts   Options

	mu       sync.Mutex // guards the resolution of auto WaitReplicas
	resolved bool
	waitN    int
}

// New returns a Store that keeps its state through client.
func New(client Client, o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = DefaultWaitTimeout
	}
	if o.MaxPendingPerUser == 0 {
		o.MaxPendingPerUser = DefaultMaxPendingPerUser
	}
	if o.MaxBytesPerUser == 0 {
		o.MaxBytesPerUser = DefaultMaxBytesPerUser
	}
	if o.DeliveryLease <= 0 {
		o.DeliveryLease = DefaultDeliveryLease
	}
	return &Store{client: client, opts: o}
}

// appendTag appends the start of every key of user's: the prefix and the
// user's hash tag, {u:<utag>}, where utag is the first 16 hex digits of
// the SHA-256 of the user id. User ids may contain '{', '}' or ':', so
// they never appear in a key themselves.
func (s *Store) appendTag(b []byte, user string) []byte {
	h := sha256.Sum256([]byte(user))
	b = append(b, s.opts.Prefix...)
	b = append(b, "{u:"...)
	b = hex.AppendEncode(b, h[:utagBytes])
	return append(b, '}')
}

// utagBytes is how many bytes of the user id's SHA-256 its tag keeps.
const utagBytes = 8

// keyBuf sizes the stack buffer keys are built in.
const keyBuf = 160

// key returns the key of user's challenge id.
func (s *Store) key(user, id string) string {
	var buf [keyBuf]byte
	return string(append(append(s.appendTag(buf[:0], user), ":c:"...), id...))
}

// lockKey returns the key of user's lockout hash.
func (s *Store) lockKey(user string) string {
	var buf [keyBuf]byte
	return string(append(s.appendTag(buf[:0], user), ":lock"...))
}

// keys returns the keys of the scripts that decide on a challenge, its
// user's lock and its user's share together, all in one slot: the
// challenge, the lock hash, the pending set and the held set.
func (s *Store) keys(user, id string) []string {
	var buf [2 * keyBuf]byte
	b := s.appendTag(buf[:0], user)
	tag := len(b)
	b = append(append(b, ":c:"...), id...)
	n1 := len(b)
	b = append(append(b, b[:tag]...), ":lock"...)
	n2 := len(b)
	b = append(append(b, b[:tag]...), ":p"...)
	n3 := len(b)
	b = append(append(b, b[:tag]...), ":b"...)
	k := string(b)
	return []string{k[:n1], k[n1:n2], k[n2:n3], k[n3:]}
}

// Ping checks that Redis answers (health checks).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// Check verifies, at start-up, that Redis will not evict the store's
// keys: it returns an error when CONFIG GET maxmemory-policy names any
// policy but noeviction — on a Cluster, on any node, replicas included —
// and when Options.WaitReplicas cannot be honoured by the client. Where
// CONFIG is disabled or renamed (common on managed Redis) the policy
// cannot be read and Check returns nil: the operator must then make sure
// of noeviction by other means. Behind Sentinel only the current master
// is checked. Connection errors are returned. Check also resolves an
// auto Options.WaitReplicas (see Replication).
func (s *Store) Check(ctx context.Context) error {
	if s.opts.WaitReplicas > 0 && !canWait(s.client) {
		return errWaitClient(s.client)
	}
	if _, err := s.replicas(ctx); err != nil {
		return err
	}
	if w, ok := s.client.(interface {
		ForEachShard(ctx context.Context, fn func(ctx context.Context, c *redis.Client) error) error
	}); ok {
		return w.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
			if err := checkPolicy(ctx, c); err != nil {
				return fmt.Errorf("%w (node %s)", err, c.Options().Addr)
			}
			return nil
		})
	}
	return checkPolicy(ctx, s.client)
}

func checkPolicy(ctx context.Context, c Client) error {
	m, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		var re redis.Error
		if errors.As(err, &re) && !redis.HasErrorPrefix(err, "LOADING") {
			return nil // CONFIG refused (disabled, renamed, no permission)
		}
		return fmt.Errorf("redis: config get maxmemory-policy: %w", err)
	}
	if p, ok := m["maxmemory-policy"]; ok && p != "noeviction" {
		return fmt.Errorf("redis: maxmemory-policy is %q; the challenge store needs noeviction (an evicting policy can drop live challenges and regulation state)", p)
	}
	return nil
}

// meta is the part of a Record no script reads, stored as JSON in the
// challenge hash's blob field.
type meta struct {
	Operation   string            `json:"op"`
	Amount      string            `json:"amount,omitempty"`
	Payee       string            `json:"payee,omitempty"`
	View        []byte            `json:"view,omitempty"`
	ReturnTo    string            `json:"return_to,omitempty"`
	Methods     []string          `json:"methods"`
	Dest        map[string]string `json:"dest,omitempty"`
	Digest      []byte            `json:"digest"`
	Created     time.Time         `json:"created"`
	Expires     time.Time         `json:"expires"`
	MaxAttempts int               `json:"max_attempts"`
	Approvers   []string          `json:"approvers,omitempty"`
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// joinMACs concatenates MACs of one length; it returns the length too.
func joinMACs(macs [][]byte) ([]byte, int, error) {
	if len(macs) == 0 {
		return nil, 0, nil
	}
	n := len(macs[0])
	if n == 0 {
		return nil, 0, errors.New("redisstore: an expected answer MAC is empty")
	}
	b := make([]byte, 0, n*len(macs))
	for _, m := range macs {
		if len(m) != n {
			return nil, 0, errors.New("redisstore: expected answer MACs differ in length")
		}
		b = append(b, m...)
	}
	return b, n, nil
}

// Create implements store.Store. A user locked at now gives
// *store.LockedError; an id that is taken gives store.ErrExists; a Redis
// that refuses writes because it is full gives an error wrapping
// store.ErrFull.
func (s *Store) Create(ctx context.Context, r *store.Record, now time.Time) error {
	m := meta{
		Operation: r.Operation, Amount: r.Amount, Payee: r.Payee, View: r.View, ReturnTo: r.ReturnTo,
		Methods: r.Methods, Dest: r.Destinations, Digest: r.Digest, Created: r.Created, Expires: r.Expires,
		MaxAttempts: r.MaxAttempts,
	}
	if a := r.Approval; a != nil {
		if a.Group == "" || a.Window < time.Millisecond {
			return errApproval
		}
		m.Approvers = a.Approvers
	}
	blob, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("redisstore: encoding challenge: %w", err)
	}
	// The key lives as long as the challenge, measured on the caller's
	// clock (Created), so neither clock skew between gateway and Redis nor
	// an injected clock makes it vanish early.
	from := r.Created
	if from.IsZero() {
		from = now
	}
	if from.IsZero() {
		from = time.Now()
	}
	ttl := r.Expires.Sub(from).Milliseconds()
	if ttl < 1 {
		ttl = 1
	}
	// What counts against the user's byte share: stash and view, while
	// there is a stash (as in the memory store).
	size := 0
	if len(r.Stash) > 0 {
		size = len(r.Stash) + len(r.View)
	}
	pending := 0
	if r.ConfirmedAt.IsZero() && r.AttemptsLeft > 0 {
		pending = 1
	}
	args := make([]any, 0, 24+2*len(r.Methods)+2*len(r.ResendAt))
	args = append(args, now.UnixMilli(), ttl, s.opts.MaxPendingPerUser, s.opts.MaxBytesPerUser, size, r.Expires.UnixMilli(), r.ID, pending,
		"user", r.User, "sess", r.Session, "left", r.AttemptsLeft, "exp", ms(r.Expires),
		"blob", blob, "stash", r.Stash, "size", size,
	)
	for _, m := range r.Methods {
		args = append(args, "offer:"+m, 1)
	}
	if r.Method != "" || r.Question != "" || r.SentTo != "" || len(r.Expected) > 0 {
		macs, n, err := joinMACs(r.Expected)
		if err != nil {
			return err
		}
		args = append(args, "method", r.Method, "question", r.Question, "sent_to", r.SentTo, "expected", macs, "mac_len", n)
	}
	for m, t := range r.ResendAt {
		args = append(args, "resend:"+m, ms(t))
	}
	if a := r.Approval; a != nil {
		args = append(args, "appr", a.Group, "appr_win", a.Window.Milliseconds())
		for _, u := range a.Approvers {
			args = append(args, "apv:"+u, 1)
		}
	}
	// Resolve an auto WaitReplicas before the challenge's first answer
	// needs it (a failure here only means Attempt tries again).
	_, _ = s.replicas(ctx)
	v, code, err := run(ctx, s.client, createScript, "create challenge", s.keys(r.User, r.ID), args...)
	if err != nil {
		return err
	}
	switch code {
	case codeOK:
		return nil
	case codeExists:
		return store.ErrExists
	case codeLocked:
		return lockedError("create challenge", v)
	case codeTooMany:
		at, err := msTime(item(v, 1))
		if err != nil {
			return fmt.Errorf("redis: create challenge: %w", err)
		}
		if at.UnixMilli() == 0 {
			at = time.Time{}
		}
		return &store.TooManyPendingError{RetryAt: at}
	}
	return fmt.Errorf("redis: create challenge: unexpected reply")
}

// run runs a script and returns its reply and status code (the reply's
// first element). A Redis that refuses the script's writes because it is
// full gives an error wrapping store.ErrFull: nothing was written.
func run(ctx context.Context, c processor, sc *script, op string, keys []string, args ...any) ([]any, int64, error) {
	v, err := sc.run(ctx, c, keys, args...).Slice()
	switch {
	case err != nil && redis.HasErrorPrefix(err, "OOM"):
		return nil, 0, fmt.Errorf("redis: %s: %w: %w", op, store.ErrFull, err)
	case err != nil:
		return nil, 0, fmt.Errorf("redis: %s: %w", op, err)
	case len(v) == 0:
		return nil, 0, fmt.Errorf("redis: %s: unexpected reply", op)
	}
	code, ok := v[0].(int64)
	if !ok {
		return nil, 0, fmt.Errorf("redis: %s: unexpected reply", op)
	}
	return v, code, nil
}

// item returns v[i], or nil past the end of v.
func item(v []any, i int) any {
	if i < len(v) {
		return v[i]
	}
	return nil
}

// lockedError turns a {codeLocked, lock end} reply into *store.LockedError.
func lockedError(op string, v []any) error {
	until, err := msTime(item(v, 1))
	if err != nil {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	return &store.LockedError{Until: until}
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string, o store.Owner, now time.Time) (*store.Record, error) {
	v, code, err := run(ctx, s.client, getScript, "get challenge", []string{s.key(o.User, id)}, o.User, o.Session, now.UnixMilli())
	if err != nil {
		return nil, err
	}
	if code != codeOK {
		return nil, store.ErrNotFound
	}
	return decode(id, item(v, 1))
}

// Begin implements store.Store.
func (s *Store) Begin(ctx context.Context, id string, o store.Owner, b store.Begin, now time.Time) (*store.Record, error) {
	macs, n, err := joinMACs(b.Expected)
	if err != nil {
		return nil, err
	}
	resend := ""
	if b.Cooldown > 0 {
		resend = ms(now.Add(b.Cooldown))
	}
	v, code, err := run(ctx, s.client, beginScript, "begin method", s.keys(o.User, id)[:2],
		o.User, o.Session, now.UnixMilli(), b.Method, b.Question, b.SentTo, macs, n, resend)
	if err != nil {
		return nil, err
	}
	switch code {
	case codeOK:
		return decode(id, item(v, 1))
	case codeLocked:
		return nil, lockedError("begin method", v)
	case codeExhausted:
		return nil, store.ErrExhausted
	case codeNotOffered:
		return nil, store.ErrMethodNotOffered
	case codeCooldown:
		until, err := msTime(item(v, 1))
		if err != nil {
			return nil, fmt.Errorf("redis: begin method: %w", err)
		}
		return nil, &store.CooldownError{Until: until}
	case codeNotFound:
		return nil, store.ErrNotFound
	}
	return nil, errors.New("redis: begin method: unexpected reply")
}

// Attempt implements store.Store. The user's lock, the challenge, the
// user's share and the failure count are decided by one script, so a
// locked user's answer changes nothing and concurrent wrong answers lock
// exactly at l.After. When the store waits for replicas, a confirmation —
// and a repeat of one — is reported only once enough replicas
// acknowledged it; otherwise Attempt returns *store.NotDurableError, and a
// confirmation gives its delivery lease back. The challenge stays
// confirmed on the master, so the same answer later reports Repeated
// (after a successful WAIT): a confirmation is never reported that a
// failover could lose, and never lost by the store either.
func (s *Store) Attempt(ctx context.Context, id string, o store.Owner, mac []byte, l store.Lockout, now time.Time) (store.Result, error) {
	keys := s.keys(o.User, id)
	ss, err := s.open(ctx, keys[0])
	if err != nil {
		return store.Result{}, err
	}
	defer ss.done()
	after := max(l.After, 0)
	indexed := 0
	var v []any
	var code int64
	for {
		v, code, err = run(ctx, ss.p, attemptScript, "attempt", keys, o.User, o.Session, now.UnixMilli(), mac,
			after, ms(now.Add(l.For)), lockIdle.Milliseconds(), ss.mark(), ms(now.Add(s.opts.DeliveryLease)), id, indexed)
		if err != nil {
			return store.Result{}, err
		}
		if code != codeIndex || indexed == 1 {
			break
		}
		// A right answer to a challenge that needs approval: the index
		// first, then the confirmation (see index).
		if err := s.index(ctx, id, o.User, v, now); err != nil {
			return store.Result{}, err
		}
		indexed = 1
	}
	switch code {
	case codeAwaiting:
		r, err := decode(id, item(v, 1))
		if err != nil {
			return store.Result{}, err
		}
		if err := s.wait(ctx, ss, "attempt"); err != nil {
			return store.Result{}, err // no lease to give back
		}
		return store.Result{Outcome: store.Confirmed, AttemptsLeft: r.AttemptsLeft, Record: r}, nil
	case codeOK, codeRepeated:
		r, err := decode(id, item(v, 1))
		if err != nil {
			return store.Result{}, err
		}
		if err := s.wait(ctx, ss, "attempt"); err != nil {
			if code == codeOK {
				s.release(ctx, ss, o.User, r)
			}
			return store.Result{}, err
		}
		out := store.Confirmed
		if code == codeRepeated {
			out = store.Repeated
		}
		return store.Result{Outcome: out, AttemptsLeft: r.AttemptsLeft, Record: r}, nil
	case codeWrong, codeExhausted:
		res := store.Result{Outcome: store.Wrong}
		if code == codeExhausted {
			res.Outcome = store.Exhausted
		}
		if len(v) == 1 { // a spent budget: nothing was counted
			return res, nil
		}
		left, ok := v[1].(int64)
		if !ok {
			return store.Result{}, errors.New("redis: attempt: unexpected reply")
		}
		res.AttemptsLeft = int(left)
		if len(v) > 2 {
			if res.LockedUntil, err = msTime(v[2]); err != nil {
				return store.Result{}, fmt.Errorf("redis: attempt: %w", err)
			}
		}
		return res, nil
	case codeLocked:
		return store.Result{}, lockedError("attempt", v)
	case codeNoMethod:
		return store.Result{}, store.ErrNoMethod
	case codeNotFound:
		return store.Result{}, store.ErrNotFound
	}
	return store.Result{}, errors.New("redis: attempt: unexpected reply")
}

// waitConn returns a dedicated connection to the master that owns key.
func (s *Store) waitConn(ctx context.Context, key string) (*redis.Conn, error) {
	switch c := s.client.(type) {
	case masterForKeyer:
		m, err := c.MasterForKey(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("redis: finding the master for a challenge: %w", err)
		}
		return m.Conn(), nil
	case conner:
		return c.Conn(), nil
	}
	return nil, errWaitClient(s.client)
}

// The clients that can run WAIT on the connection of a write.
type (
	masterForKeyer interface {
		MasterForKey(ctx context.Context, key string) (*redis.Client, error)
	}
	conner interface{ Conn() *redis.Conn }
)

func canWait(c Client) bool {
	switch c.(type) {
	case masterForKeyer, conner:
		return true
	}
	return false
}

func errWaitClient(c Client) error {
	return fmt.Errorf("redisstore: WaitReplicas needs a *redis.Client or *redis.ClusterClient, not %T", c)
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, id string, o store.Owner) error {
	v, code, err := run(ctx, s.client, deleteScript, "delete challenge", s.keys(o.User, id), o.User, o.Session, id)
	if err != nil {
		return err
	}
	if code != codeOK {
		return store.ErrNotFound
	}
	if g, ok := item(v, 1).(string); ok && g != "" {
		s.unindex(ctx, g, id, o.User) // cancelled while awaiting approval
	}
	return nil
}

// Deliver implements store.Store. When the store waits for replicas, the
// record is returned only once enough replicas have the new lease (and so
// the confirmation before it); otherwise the lease is given back and
// Deliver returns *store.NotDurableError.
func (s *Store) Deliver(ctx context.Context, id string, o store.Owner, max int, now time.Time) (*store.Record, error) {
	key := s.key(o.User, id)
	ss, err := s.open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer ss.done()
	v, code, err := run(ctx, ss.p, deliverScript, "deliver", []string{key},
		o.User, o.Session, now.UnixMilli(), max, ms(now.Add(s.opts.DeliveryLease)))
	if err != nil {
		return nil, err
	}
	switch code {
	case codeOK:
		r, err := decode(id, item(v, 1))
		if err != nil {
			return nil, err
		}
		if err := s.wait(ctx, ss, "deliver"); err != nil {
			s.release(ctx, ss, o.User, r)
			return nil, err
		}
		return r, nil
	case codeNotFound:
		return nil, store.ErrNotFound
	case codeDelivered:
		return nil, store.ErrDelivered
	case codeDeliverySpent:
		return nil, store.ErrDeliveriesExhausted
	case codeBusy:
		until, err := msTime(item(v, 1))
		if err != nil {
			return nil, fmt.Errorf("redis: deliver: %w", err)
		}
		return nil, &store.DeliveryBusyError{Until: until}
	case codeAwaitingAppr:
		until, err := msTime(item(v, 1))
		if err != nil {
			return nil, fmt.Errorf("redis: deliver: %w", err)
		}
		return nil, &store.AwaitingApprovalError{Until: until}
	case codeRejected:
		return nil, store.ErrRejected
	}
	return nil, errors.New("redis: deliver: unexpected reply")
}

// Settle implements store.Store. When the store waits for replicas, a
// delivered Settle waits for them too and returns *store.NotDurableError
// if too few acknowledged (it has settled on the master all the same).
// Settling as not delivered does not wait: a lease a failover brings back
// only delays a redelivery until it lapses.
func (s *Store) Settle(ctx context.Context, id string, o store.Owner, delivered bool, now time.Time) error {
	keys := s.keys(o.User, id)
	ss := session{p: s.client}
	if delivered {
		var err error
		if ss, err = s.open(ctx, keys[0]); err != nil {
			return err
		}
		defer ss.done()
	}
	d := 0
	if delivered {
		d = 1
	}
	_, code, err := run(ctx, ss.p, settleScript, "settle delivery", keys, o.User, o.Session, now.UnixMilli(), d, id, ss.mark())
	if err != nil {
		return err
	}
	if code != codeOK {
		return store.ErrNotFound
	}
	return s.wait(ctx, ss, "settle delivery")
}

// msTime reads a script's millisecond time (integer or string reply).
func msTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case int64:
		return time.UnixMilli(x).UTC(), nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return time.Time{}, errors.New("malformed time")
		}
		return time.UnixMilli(n).UTC(), nil
	}
	return time.Time{}, errors.New("malformed time")
}

// decode turns a challenge hash (HGETALL pairs) into a Record.
func decode(id string, v any) (*store.Record, error) {
	kv, ok := v.([]any)
	if !ok || len(kv)%2 != 0 {
		return nil, errors.New("redis: malformed challenge")
	}
	r := &store.Record{ID: id}
	var expected, tried string
	var macLen int
	var appr *store.ApprovalState // only for a challenge that needs approval
	var approvers []string
	var exp string
	for i := 0; i < len(kv); i += 2 {
		f, _ := kv[i].(string)
		val, _ := kv[i+1].(string)
		var err error
		switch f {
		case "user":
			r.User = val
		case "sess":
			if val != "" {
				r.Session = []byte(val)
			}
		case "left":
			r.AttemptsLeft, err = strconv.Atoi(val)
		case "method":
			r.Method = val
		case "question":
			r.Question = val
		case "sent_to":
			r.SentTo = val
		case "expected":
			expected = val
		case "mac_len":
			macLen, err = strconv.Atoi(val)
		case "stash":
			if val != "" {
				r.Stash = []byte(val)
			}
		case "tried":
			tried = val
		case "conf_at":
			r.ConfirmedAt, err = msTime(val)
		case "conf_mac":
			r.ConfirmedMAC = []byte(val)
		case "deliv_at":
			r.DeliveredAt, err = msTime(val)
		case "lease":
			r.LeaseUntil, err = msTime(val)
		case "deliveries":
			r.Deliveries, err = strconv.Atoi(val)
		case "exp":
			exp = val
		case "appr", "appr_win", "appr_until", "appr_dec", "appr_by", "appr_m", "appr_rej":
			if appr == nil {
				appr = &store.ApprovalState{}
			}
			err = decodeApproval(appr, f, val)
		case "blob":
			var m meta
			if err = json.Unmarshal([]byte(val), &m); err == nil {
				r.Operation, r.Amount, r.Payee, r.View, r.ReturnTo = m.Operation, m.Amount, m.Payee, m.View, m.ReturnTo
				r.Methods, r.Destinations, r.Digest, r.Created, r.Expires, r.MaxAttempts = m.Methods, m.Dest, m.Digest, m.Created, m.Expires, m.MaxAttempts
				approvers = m.Approvers
			}
		default:
			if m, ok := strings.CutPrefix(f, "resend:"); ok {
				var t time.Time
				if t, err = msTime(val); err == nil {
					if r.ResendAt == nil {
						r.ResendAt = make(map[string]time.Time, 1)
					}
					r.ResendAt[m] = t
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("redis: malformed challenge field %s", f)
		}
	}
	if appr != nil {
		// The wait (and an approval's grace) moves the expiry: exp is
		// what the scripts judge by.
		appr.Approvers, r.Approval = approvers, appr
		if exp != "" {
			t, err := msTime(exp)
			if err != nil {
				return nil, errors.New("redis: malformed challenge field exp")
			}
			r.Expires = t
		}
	}
	var err error
	if r.Expected, err = splitMACs(expected, macLen); err != nil {
		return nil, errors.New("redis: malformed challenge field expected")
	}
	if r.Tried, err = splitMACs(tried, macLen); err != nil {
		return nil, errors.New("redis: malformed challenge field tried")
	}
	return r, nil
}

// decodeApproval reads one approval field f of a challenge hash into a.
func decodeApproval(a *store.ApprovalState, f, val string) error {
	var err error
	switch f {
	case "appr":
		a.Group = val
	case "appr_win":
		var n int64
		n, err = strconv.ParseInt(val, 10, 64)
		a.Window = time.Duration(n) * time.Millisecond
	case "appr_until":
		a.Until, err = msTime(val)
	case "appr_dec":
		a.Decided, err = msTime(val)
	case "appr_by":
		a.ApprovedBy = val
	case "appr_m":
		a.Method = val
	case "appr_rej":
		a.Rejected = val == "1"
	}
	return err
}

// splitMACs splits concatenated MACs of length n.
func splitMACs(s string, n int) ([][]byte, error) {
	if n <= 0 || len(s) == 0 {
		return nil, nil
	}
	if len(s)%n != 0 {
		return nil, errors.New("malformed")
	}
	b := []byte(s)
	out := make([][]byte, 0, len(b)/n)
	for i := 0; i < len(b); i += n {
		out = append(out, b[i:i+n:i+n])
	}
	return out, nil
}

// Interface guard.
var _ store.Store = (*Store)(nil)
