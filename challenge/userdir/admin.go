package userdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge"
)

// Every change is one script: the write and the invalidation message are
// atomic, so no write goes unannounced. PUBLISH has no key, so a script
// may use it in a Cluster; Redis broadcasts it to every node.
var (
	// setScript: KEYS[1] user key; ARGV[1] value, ARGV[2] channel, ARGV[3] id.
	setScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`)

	// delScript: KEYS[1] user key; ARGV[1] channel, ARGV[2] id. Returns
	// the number of keys deleted.
	delScript = redis.NewScript(`
local n = redis.call('DEL', KEYS[1])
if n > 0 then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return n`)

	// casScript: KEYS[1] user key; ARGV[1] expected value ('' = absent),
	// ARGV[2] new value, ARGV[3] channel, ARGV[4] id. Returns 1 if the
	// value was replaced, 0 if it had changed meanwhile.
	casScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if cur then return 0 end
elseif cur ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`)
)

// casAttempts bounds the retries of a read-modify-write that keeps
// meeting concurrent changes.
const casAttempts = 10

// Put validates r with the users-file rules (challenge.ParseDirectory),
// encrypts its device keys under Secrets[0], stores it (replacing any
// record with the same id) and invalidates it in every Dir. Invalid
// records give an error wrapping ErrInvalid and change nothing.
func (d *Dir) Put(ctx context.Context, r Record) error {
	if d.closed.Load() {
		return ErrClosed
	}
	u, err := validate(r)
	if err != nil {
		return fmt.Errorf("userdir: %w", err)
	}
	val, err := json.Marshal(d.keys.sealUser(u, r.Notify))
	if err != nil {
		return fmt.Errorf("userdir: encoding user %q: %w", r.ID, err)
	}
	if err := setScript.Run(ctx, d.client, []string{d.key(r.ID)}, val, d.channel, r.ID).Err(); err != nil {
		return fmt.Errorf("userdir: storing user %q: %w", r.ID, err)
	}
	d.invalidate(r.ID)
	return nil
}

// Get returns user id's record with device keys decrypted (straight from
// Redis, not the cache), or an error wrapping challenge.ErrNoUser. Whoever
// prints it must leave the keys out; the JSON form does.
func (d *Dir) Get(ctx context.Context, id string) (Record, error) {
	if d.closed.Load() {
		return Record{}, ErrClosed
	}
	if id == "" || len(id) > maxIDLen {
		return Record{}, noUser(id)
	}
	return d.get(ctx, id)
}

// get reads and decrypts user id's record.
func (d *Dir) get(ctx context.Context, id string) (Record, error) {
	raw, err := d.client.Get(ctx, d.key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Record{}, noUser(id)
	}
	if err != nil {
		return Record{}, fmt.Errorf("userdir: reading user %q: %w", id, err)
	}
	st, err := decodeStored(raw)
	if err != nil {
		return Record{}, fmt.Errorf("userdir: user %q: %w", id, err)
	}
	r, err := d.keys.openStored(id, st)
	if err != nil {
		return Record{}, fmt.Errorf("userdir: %w", err)
	}
	return r, nil
}

// Delete removes user id and invalidates it in every Dir. An absent user
// gives an error wrapping challenge.ErrNoUser.
func (d *Dir) Delete(ctx context.Context, id string) error {
	if d.closed.Load() {
		return ErrClosed
	}
	n, err := delScript.Run(ctx, d.client, []string{d.key(id)}, d.channel, id).Int()
	if err != nil {
		return fmt.Errorf("userdir: deleting user %q: %w", id, err)
	}
	d.invalidate(id)
	if n == 0 {
		return noUser(id)
	}
	return nil
}

// ResetDevice removes all of user id's E-num devices (a lost phone: the
// user recovers access through support and enrols again), keeping phone,
// e-mails and preferences. It needs no secret, so it works even for a
// record under a secret that is no longer configured. An absent user
// gives an error wrapping challenge.ErrNoUser.
func (d *Dir) ResetDevice(ctx context.Context, id string) error {
	if d.closed.Load() {
		return ErrClosed
	}
	_, err := d.update(ctx, id, func(old *storedRecord, oldErr error) (*storedRecord, error) {
		if oldErr != nil {
			return nil, fmt.Errorf("user %q: %w", id, oldErr)
		}
		if old == nil {
			return nil, noUser(id)
		}
		if old.ID != id {
			return nil, fmt.Errorf("user %q: %w: the record names another user", id, ErrCorrupt)
		}
		if len(old.Devices) == 0 {
			return nil, nil
		}
		next := *old
		next.Devices = nil
		return &next, nil
	})
	if err != nil {
		return fmt.Errorf("userdir: reset device: %w", err)
	}
	return nil
}

// Import stores every user of a users file (the format of
// challenge.ParseDirectory) and returns how many it wrote. The whole file
// is validated first: if any user is invalid nothing is written and the
// error wraps ErrInvalid. Existing users are replaced, except for their
// Notify preference, which the file format cannot express. The writes are
// not one transaction: if Redis fails midway, the users before the failure
// are stored (the count says how many) and importing again is safe.
func (d *Dir) Import(ctx context.Context, fileJSON []byte) (int, error) {
	if d.closed.Load() {
		return 0, ErrClosed
	}
	fd, err := challenge.ParseDirectory(fileJSON)
	if err != nil {
		return 0, fmt.Errorf("userdir: import: %w: %w", ErrInvalid, err)
	}
	var ids struct {
		Users []struct {
			ID string `json:"id"`
		} `json:"users"`
	}
	if err := json.Unmarshal(fileJSON, &ids); err != nil { // cannot fail after ParseDirectory
		return 0, fmt.Errorf("userdir: import: %w: %w", ErrInvalid, err)
	}
	n := 0
	for _, fu := range ids.Users {
		u, err := fd.Lookup(ctx, fu.ID)
		if err != nil {
			return n, fmt.Errorf("userdir: import: %w", err)
		}
		_, err = d.update(ctx, u.ID, func(old *storedRecord, _ error) (*storedRecord, error) {
			notify := old != nil && old.ID == u.ID && old.Notify
			return d.keys.sealUser(u, notify), nil
		})
		if err != nil {
			return n, fmt.Errorf("userdir: import: %w", err)
		}
		n++
	}
	return n, nil
}

// Reencrypt rewrites under Secrets[0] every record with a device key
// under another secret, and returns how many it rewrote. Run it after
// putting a new secret first; once it reports no error, the old secrets
// can be removed. Records it cannot decrypt (ErrUnknownKey, ErrDecrypt,
// ErrCorrupt) are left as they are and reported together in the error
// after the others are done; a Redis error stops it at once.
func (d *Dir) Reencrypt(ctx context.Context) (int, error) {
	if d.closed.Load() {
		return 0, ErrClosed
	}
	ids, err := d.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var bad []error
	for _, id := range ids {
		var recErr error
		changed, err := d.update(ctx, id, func(old *storedRecord, oldErr error) (*storedRecord, error) {
			recErr = nil
			if oldErr != nil {
				recErr = fmt.Errorf("user %q: %w", id, oldErr)
				return nil, nil
			}
			if old == nil || !d.keys.stale(old) { // deleted meanwhile, or current
				return nil, nil
			}
			r, err := d.keys.openStored(id, old)
			if err != nil {
				recErr = err
				return nil, nil
			}
			u, err := userOf(r)
			if err != nil {
				recErr = err
				return nil, nil
			}
			return d.keys.sealUser(u, old.Notify), nil
		})
		if err != nil {
			return n, fmt.Errorf("userdir: reencrypt: %w", err)
		}
		if recErr != nil {
			bad = append(bad, recErr)
		}
		if changed {
			n++
		}
	}
	if len(bad) > 0 {
		return n, fmt.Errorf("userdir: reencrypt: %d record(s) left as they were: %w", len(bad), errors.Join(bad...))
	}
	return n, nil
}

// List returns the ids of all stored users, sorted. It scans every master
// of a Cluster.
func (d *Dir) List(ctx context.Context) ([]string, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	pattern := globEscape(d.prefix) + "{u:*}:user"
	var (
		mu  sync.Mutex
		ids []string
	)
	scan := func(ctx context.Context, c redis.Cmdable) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			if id, ok := d.idOf(it.Val()); ok {
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}
		return it.Err()
	}
	var err error
	switch c := d.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	case *redis.Ring:
		err = c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	default:
		err = scan(ctx, d.client)
	}
	if err != nil {
		return nil, fmt.Errorf("userdir: listing users: %w", err)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// idOf returns the user id of a key made by Dir.key.
func (d *Dir) idOf(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, d.prefix+"{u:")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "}:user")
}

// update is a read-modify-write of user id's stored value: fn gets the
// decoded current record (nil if absent, or the decoding error) and
// returns the new one, nil for no change, or an error. The write happens
// only if the value is still the one read, and invalidates the user
// everywhere; otherwise update reads again.
func (d *Dir) update(ctx context.Context, id string, fn func(old *storedRecord, oldErr error) (*storedRecord, error)) (bool, error) {
	key := d.key(id)
	for range casAttempts {
		raw, err := d.client.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			raw, err = "", nil
		}
		if err != nil {
			return false, fmt.Errorf("reading user %q: %w", id, err)
		}
		var old *storedRecord
		var oldErr error
		if raw != "" {
			old, oldErr = decodeStored([]byte(raw))
		}
		next, err := fn(old, oldErr)
		if err != nil || next == nil {
			return false, err
		}
		val, err := json.Marshal(next)
		if err != nil {
			return false, fmt.Errorf("encoding user %q: %w", id, err)
		}
		ok, err := casScript.Run(ctx, d.client, []string{key}, raw, val, d.channel, id).Int()
		if err != nil {
			return false, fmt.Errorf("storing user %q: %w", id, err)
		}
		if ok == 1 {
			d.invalidate(id)
			return true, nil
		}
	}
	return false, fmt.Errorf("user %q kept changing during %d attempts; try again", id, casAttempts)
}

// globEscape escapes the SCAN MATCH metacharacters of s.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
