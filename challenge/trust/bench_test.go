package trust_test

import (
	"context"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge/trust"
	"github.com/enumgate/enumgate/internal/redistest"
)

// The calls on a protected request's path: is the section open, is the
// payee trusted, was it seen, what is today's total; and the addition
// after a confirmation.
func benchStore(b *testing.B, s trust.Store) {
	ctx := context.Background()
	now := time.Now()
	sess := []byte("session-binding-hash-0123456789a")
	s.Grant(ctx, trust.Grant{ID: "abcdefghijklmnopqrstuv", User: "alice", Session: sess, Section: "settings", Created: now, Until: now.Add(time.Hour)})
	s.Trust(ctx, "alice", trust.Payee{Payee: "Z123456789012", UpTo: "500", Added: now})
	s.MarkPayee(ctx, "alice", "Z123456789012", now)
	b.Run("Granted", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := s.Granted(ctx, "alice", sess, "settings", now); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("TrustedPayee", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := s.TrustedPayee(ctx, "alice", "Z123456789012"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("SeenPayee", func(b *testing.B) {
		for b.Loop() {
			if ok, err := s.SeenPayee(ctx, "alice", "Z123456789012"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("AddDaily", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.AddDaily(ctx, "alice", "RUB", "0.01", now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMemoryStore(b *testing.B) { benchStore(b, trust.NewMemoryStore(trust.MemoryOptions{})) }

func BenchmarkRedisStore(b *testing.B) {
	c := newRedisClient(b, redistest.Start(b, redistest.Options{}).URL)
	benchStore(b, trust.NewRedisStore(c, newPrefix()))
}
