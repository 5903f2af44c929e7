package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
)

var errNoApprovals = errors.New("redisstore: approvals are not supported yet")

// Decide implements store.Approvals.
func (s *Store) Decide(ctx context.Context, user, id, approver string, approve bool, method string, now time.Time) (*store.Record, error) {
	return nil, errNoApprovals
}

// Awaiting implements store.Approvals.
func (s *Store) Awaiting(ctx context.Context, group string, now time.Time) ([]*store.Record, error) {
	return nil, errNoApprovals
}

// Locate implements store.Approvals.
func (s *Store) Locate(ctx context.Context, id string) (string, error) {
	return "", errNoApprovals
}

// GetAny implements store.Approvals.
func (s *Store) GetAny(ctx context.Context, user, id string, now time.Time) (*store.Record, error) {
	return nil, errNoApprovals
}
