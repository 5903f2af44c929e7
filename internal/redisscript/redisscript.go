// Package redisscript runs Lua scripts on Redis as commands go-redis never
// retries: a state change whose reply was lost may have run, and running
// it again could count an attempt, spend a budget or journal a step
// twice. The script is sent by hash (EVALSHA) and, only when the server
// does not have it (NOSCRIPT: nothing ran), by source.
//
// The stores of enumgate (challenge/store/redisstore, challenge/journal,
// challenge/account, challenge/trust) share it.
package redisscript

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Processor is what a script runs on: any go-redis client.
type Processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// Script is one Lua script.
type Script struct {
	src, hash string
}

// New returns the script of source src.
func New(src string) *Script { return &Script{src: src, hash: redis.NewScript(src).Hash()} }

// Hash is the script's SHA-1, as EVALSHA names it.
func (s *Script) Hash() string { return s.hash }

// NoRetry wraps a command so go-redis never retries it.
type NoRetry struct{ *redis.Cmd }

// NoRetry implements the retry opt-out go-redis asks commands for.
func (NoRetry) NoRetry() bool { return true }

// Run runs the script with keys and args, never retried: EVALSHA, then
// EVAL if the server does not have the script.
func (s *Script) Run(ctx context.Context, c Processor, keys []string, args ...any) *redis.Cmd {
	cmd := s.cmd(ctx, "evalsha", s.hash, keys, args)
	_ = c.Process(ctx, NoRetry{Cmd: cmd})
	if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// The server did not run anything: sending the source is safe.
		cmd = s.cmd(ctx, "eval", s.src, keys, args)
		_ = c.Process(ctx, NoRetry{Cmd: cmd})
	}
	return cmd
}

func (s *Script) cmd(ctx context.Context, name, body string, keys []string, args []any) *redis.Cmd {
	a := make([]any, 0, 3+len(keys)+len(args))
	a = append(a, name, body, len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	return redis.NewCmd(ctx, append(a, args...)...)
}
