package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/store"
)

// errApproval refuses a record whose Approval cannot work.
var errApproval = errors.New("redisstore: an approval needs a group and a window of at least a millisecond")

// The approvals index lives in its own slot, {appr}, apart from the
// users' slots where the challenges are: a group's sorted set lists its
// challenges awaiting approval, and one key per challenge names its user
// for Locate. A challenge enters the index before it awaits approval
// (Attempt writes the index, then confirms), so a gateway that dies
// between the two leaves an index entry too many, never an awaiting
// approval missing from it; readers check every entry against the
// challenge itself and drop those that can never await again.

// groupKey returns the key of group's sorted set of awaiting challenges.
func (s *Store) groupKey(group string) string { return s.opts.Prefix + "{appr}:g:" + group }

// locateKey returns the key that names the user of challenge id.
func (s *Store) locateKey(id string) string { return s.opts.Prefix + "{appr}:i:" + id }

// member is a group's set member for user's challenge id.
func member(id, user string) string { return strconv.Itoa(len(id)) + ":" + id + user }

// parseMember splits a member into id and user.
func parseMember(m string) (id, user string, ok bool) {
	n, rest, found := strings.Cut(m, ":")
	l, err := strconv.Atoi(n)
	if !found || err != nil || l <= 0 || l > len(rest) || strconv.Itoa(l) != n {
		return "", "", false
	}
	return rest[:l], rest[l:], true
}

// locateSlack is how much longer than the challenge can live an index
// entry is kept.
const locateSlack = time.Minute

// index lists user's challenge id under its group before the challenge
// is confirmed; v is the attempt script's {4, group, window} reply. When
// the store waits for replicas it waits for the index too, so a failover
// cannot lose the entry of a challenge it keeps awaiting.
func (s *Store) index(ctx context.Context, id, user string, v []any, now time.Time) error {
	group, _ := item(v, 1).(string)
	win, err := strconv.ParseInt(fmt.Sprint(item(v, 2)), 10, 64)
	if group == "" || err != nil || win <= 0 {
		return errors.New("redis: attempt: malformed approval")
	}
	key := s.groupKey(group)
	ss, err := s.open(ctx, key)
	if err != nil {
		return err
	}
	defer ss.done()
	ttl := time.Duration(win)*time.Millisecond + store.ApprovedGrace + locateSlack
	if _, _, err := run(ctx, ss.p, indexScript, "index approval", []string{key, s.locateKey(id)},
		member(id, user), now.UnixMilli(), user, ttl.Milliseconds()); err != nil {
		return err
	}
	return s.wait(ctx, ss, "index approval")
}

// unindex takes user's challenge id off group's list, best effort: a
// reader drops an entry left behind.
func (s *Store) unindex(ctx context.Context, group, id, user string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	_ = s.client.Process(ctx, redis.NewIntCmd(ctx, "zrem", s.groupKey(group), member(id, user)))
}

// Decide implements store.Approvals. When the store waits for replicas,
// an approval is returned only once enough replicas have it (and its
// lease); otherwise the lease is given back and Decide returns
// *store.NotDurableError, the decision written. A rejection waits too.
func (s *Store) Decide(ctx context.Context, user, id, approver string, approve bool, method string, now time.Time) (*store.Record, error) {
	keys := s.keys(user, id)
	ss, err := s.open(ctx, keys[0])
	if err != nil {
		return nil, err
	}
	defer ss.done()
	a := 0
	if approve {
		a = 1
	}
	v, code, err := run(ctx, ss.p, decideScript, "decide approval", keys, approver, now.UnixMilli(), a, method,
		ms(now.Add(s.opts.DeliveryLease)), id, ms(now.Add(store.ApprovedGrace)), user)
	if err != nil {
		return nil, err
	}
	switch code {
	case codeOK:
		r, err := decode(id, item(v, 1))
		if err != nil {
			return nil, err
		}
		if err := s.wait(ctx, ss, "decide approval"); err != nil {
			if approve {
				s.release(ctx, ss, user, r)
			}
			return nil, err
		}
		if r.Approval != nil {
			s.unindex(ctx, r.Approval.Group, id, user)
		}
		return r, nil
	case codeNotFound:
		return nil, store.ErrNotFound
	case codeDecided:
		at, err := msTime(item(v, 1))
		if err != nil {
			return nil, fmt.Errorf("redis: decide approval: %w", err)
		}
		by, _ := item(v, 2).(string)
		return nil, &store.DecidedError{At: at, By: by, Rejected: fmt.Sprint(item(v, 3)) == "1"}
	}
	return nil, errors.New("redis: decide approval: unexpected reply")
}

// awaitScan bounds the index entries one Awaiting reads.
const awaitScan = 4 * store.MaxAwaiting

// awaitReaders bounds the challenges one Awaiting reads at once.
const awaitReaders = 8

// Awaiting implements store.Approvals. It reads the group's index
// (oldest confirmations first, at most 400 entries), then each listed
// challenge from its user's slot, a few at a time, and keeps those that
// await approval. Entries whose challenge is gone or decided are dropped
// from the index.
func (s *Store) Awaiting(ctx context.Context, group string, now time.Time) ([]*store.Record, error) {
	key := s.groupKey(group)
	cmd := redis.NewStringSliceCmd(ctx, "zrange", key, 0, awaitScan-1)
	_ = s.client.Process(ctx, cmd)
	members, err := cmd.Result()
	if err != nil {
		return nil, fmt.Errorf("redis: awaiting approvals: %w", err)
	}
	type found struct {
		r     *store.Record
		stale bool
		err   error
	}
	res := make([]found, len(members))
	var wg sync.WaitGroup
	sem := make(chan struct{}, awaitReaders)
	for i, m := range members {
		id, user, ok := parseMember(m)
		if !ok {
			res[i].stale = true
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, err := s.GetAny(ctx, user, id, now)
			switch {
			case errors.Is(err, store.ErrNotFound):
				res[i].stale = true // expired or cancelled: it never comes back
			case err != nil:
				res[i].err = err
			case r.Approval == nil || !r.Approval.Decided.IsZero():
				res[i].stale = true // decided: final
			default:
				res[i].r = r
			}
		}()
	}
	wg.Wait()
	var out []*store.Record
	var stale []any
	for i, f := range res {
		switch {
		case f.err != nil:
			return nil, f.err
		case f.stale:
			stale = append(stale, members[i])
		case f.r.AwaitingApproval() && f.r.Approval.Group == group:
			out = append(out, f.r)
		}
	}
	if len(stale) > 0 {
		_ = s.client.Process(ctx, redis.NewIntCmd(ctx, append([]any{"zrem", key}, stale...)...))
	}
	slices.SortFunc(out, func(a, b *store.Record) int {
		if c := a.ConfirmedAt.Compare(b.ConfirmedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(out) > store.MaxAwaiting {
		out = out[:store.MaxAwaiting]
	}
	return out, nil
}

// Locate implements store.Approvals: one read of the {appr} slot.
func (s *Store) Locate(ctx context.Context, id string) (string, error) {
	cmd := redis.NewStringCmd(ctx, "get", s.locateKey(id))
	_ = s.client.Process(ctx, cmd)
	user, err := cmd.Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", store.ErrNotFound
	case err != nil:
		return "", fmt.Errorf("redis: locate approval: %w", err)
	}
	return user, nil
}

// GetAny implements store.Approvals: one read-only script in the user's
// slot.
func (s *Store) GetAny(ctx context.Context, user, id string, now time.Time) (*store.Record, error) {
	v, code, err := run(ctx, s.client, getAnyScript, "get challenge", []string{s.key(user, id)}, user, now.UnixMilli())
	if err != nil {
		return nil, err
	}
	if code != codeOK {
		return nil, store.ErrNotFound
	}
	return decode(id, item(v, 1))
}

// Interface guard.
var _ store.ApprovalStore = (*Store)(nil)
