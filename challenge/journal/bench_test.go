package journal_test

import (
	"testing"

	"github.com/enumgate/enumgate/challenge/journal"
	"github.com/enumgate/enumgate/internal/redistest"
)

var benchEntry = journal.Entry{Event: "confirmed", Operation: "transfer", Amount: "10.00", Currency: "RUB",
	Payee: "Z•••123", Method: "enum", IP: "192.0.2.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", ChallengeID: "c1"}

func benchJournal(b *testing.B, j journal.Journal) {
	b.Run("Append", func(b *testing.B) {
		for b.Loop() {
			if err := j.Append(ctx, "alice", benchEntry); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Page20", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := j.Page(ctx, "alice", 20, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMemory(b *testing.B) { benchJournal(b, journal.NewMemory(journal.MemoryOptions{})) }

func BenchmarkRedis(b *testing.B) {
	benchJournal(b, newRedis(b, newClient(b, redistest.Start(b, redistest.Options{}).URL), journal.RedisOptions{}))
}
