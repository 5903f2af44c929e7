package journal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/journal"
)

// A Recorder takes the engine's events without blocking it; a journal
// hands them back to the customer page by page, newest first.
func Example() {
	clock := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	j := journal.NewMemory(journal.MemoryOptions{Now: func() time.Time { return clock }})
	defer j.Close()

	rec := journal.NewRecorder(j, journal.RecorderOptions{})
	// In a gateway: challenge.Config{Events: rec.Record, ...}.
	for i, kind := range []challenge.EventKind{challenge.EventIssued, challenge.EventBegun, challenge.EventConfirmed} {
		rec.Record(challenge.Event{Kind: kind, Time: clock.Add(time.Duration(i) * time.Second), User: "alice",
			ChallengeID: "c1", Operation: "transfer", Amount: "10.00", Currency: "RUB", Payee: "Z•••123",
			Method: challenge.MethodEnum, ClientIP: "192.0.2.7"})
	}
	rec.Close() // appends what is queued

	ctx := context.Background()
	page, next, _ := j.Page(ctx, "alice", 2, "")
	for _, e := range page {
		b, _ := json.Marshal(e)
		fmt.Println(string(b))
	}
	older, next, _ := j.Page(ctx, "alice", 2, next)
	fmt.Println(older[0].Event, next == "")
	// Output:
	// {"at":"2026-12-01T12:00:02Z","event":"confirmed","operation":"transfer","amount":"10.00","currency":"RUB","payee":"Z•••123","method":"enum","ip":"192.0.2.7","challenge_id":"c1"}
	// {"at":"2026-12-01T12:00:01Z","event":"method_begun","operation":"transfer","amount":"10.00","currency":"RUB","payee":"Z•••123","method":"enum","ip":"192.0.2.7","challenge_id":"c1"}
	// issued true
}
