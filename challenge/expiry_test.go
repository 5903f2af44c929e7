package challenge_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/store/memory"
)

// TestAnUnansweredChallengeIsReportedExpired: the gateway that issued a
// challenge reports it expired at its end, with what it was for; one that
// was confirmed or cancelled first is never reported expired.
func TestAnUnansweredChallengeIsReportedExpired(t *testing.T) {
	dir, err := challenge.ParseDirectory([]byte(usersJSON))
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	var (
		mu     sync.Mutex
		events []challenge.Event
	)
	eng, err := challenge.New(challenge.Config{Store: st, Directory: dir, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Events: func(e challenge.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	ctx := challenge.WithClient(context.Background(), challenge.Client{IP: "192.0.2.7", UserAgent: "test"})
	issue := func() *challenge.Challenge {
		c, err := eng.Issue(ctx, challenge.Request{Subject: alice, Operation: "transfer", Amount: "10.00", Payee: "Z123",
			Stash: stash(), TTL: 1500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	idle, confirmed, cancelled := issue(), issue(), issue()
	c, err := eng.Begin(ctx, confirmed.ID, alice, challenge.MethodEnum)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Verify(ctx, confirmed.ID, alice, enumAnswer(t, c.Question)); err != nil {
		t.Fatal(err)
	}
	if err := eng.Cancel(ctx, cancelled.ID, alice); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	var expired []challenge.Event
	for _, e := range events {
		if e.Kind == challenge.EventExpired {
			expired = append(expired, e)
		}
	}
	if len(expired) != 1 {
		t.Fatalf("expired events = %+v, want one for the idle challenge", expired)
	}
	e := expired[0]
	if e.ChallengeID != idle.ID || e.User != "alice" || e.Operation != "transfer" || e.Amount != "10.00" || e.Payee != "Z123" ||
		e.ClientIP != "192.0.2.7" || e.Time.IsZero() {
		t.Fatalf("expired event = %+v", e)
	}
}

// TestEveryStepNamesWhatItIsAbout: wrong answers, exhaustion and
// cancellation carry the operation, amount, payee and method like the
// issued and confirmed steps, so journals and notifications can say what
// was tried.
func TestEveryStepNamesWhatItIsAbout(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodSMS); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // three different wrong answers spend the budget
		f.eng.Verify(ctx, c.ID, alice, fmt.Sprintf("00000%d", i))
	}
	other := f.issue(t, alice)
	if err := f.eng.Cancel(ctx, other.ID, alice); err != nil {
		t.Fatal(err)
	}
	seen := map[challenge.EventKind]bool{}
	for _, e := range *f.events {
		switch e.Kind {
		case challenge.EventWrongAnswer, challenge.EventExhausted, challenge.EventCancelled:
			seen[e.Kind] = true
			if e.Operation != "transfer" || e.Amount != "10.00" || e.Payee != "Z123" {
				t.Errorf("%s event = %+v, want the transfer of 10.00 to Z123", e.Kind, e)
			}
			if e.Kind != challenge.EventCancelled && e.Method != challenge.MethodSMS {
				t.Errorf("%s event method = %q, want sms", e.Kind, e.Method)
			}
		}
	}
	if len(seen) != 3 {
		t.Fatalf("steps seen: %v", seen)
	}
}
