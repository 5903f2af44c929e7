package trust_test

import (
	"context"
	"fmt"
	"time"

	"github.com/enumgate/enumgate/challenge/trust"
)

// A customer confirmed once to open the settings section for ten minutes,
// trusts a payee up to 500, and the risk memory answers the rules.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s := trust.NewMemoryStore(trust.MemoryOptions{Now: func() time.Time { return now }})
	defer s.Close()
	session := []byte("keyed hash of the session cookie")

	s.Grant(ctx, trust.Grant{ID: "k2n7qHc0Zq1sYV3aB9xw1A", User: "alice", Session: session, Section: "settings",
		Created: now, Until: now.Add(10 * time.Minute), ChallengeID: "Xx3r0MtsQ2yC1n0pW5dVfg"})
	_, open, _ := s.Granted(ctx, "alice", session, "settings", now.Add(5*time.Minute))
	_, later, _ := s.Granted(ctx, "alice", session, "settings", now.Add(11*time.Minute))
	fmt.Println("settings open:", open, "then", later)

	s.Trust(ctx, "alice", trust.Payee{Payee: "Z123456789012", UpTo: "500", Added: now})
	p, ok, _ := s.TrustedPayee(ctx, "alice", "Z123456789012")
	under, _ := trust.CompareAmounts("499.99", p.UpTo)
	fmt.Println("trusted:", ok, "499.99 within the limit:", under <= 0)

	fresh, _ := s.SeenPayee(ctx, "alice", "R000000000001")
	s.MarkPayee(ctx, "alice", "R000000000001", now)
	seen, _ := s.SeenPayee(ctx, "alice", "R000000000001")
	fmt.Println("seen before:", fresh, "after:", seen)

	s.AddDaily(ctx, "alice", "RUB", "1500.50", now)
	total, _ := s.AddDaily(ctx, "alice", "RUB", "0.50", now)
	over, _ := trust.CompareAmounts(total, "1000")
	fmt.Println("today:", total, "above 1000:", over > 0)
	// Output:
	// settings open: true then false
	// trusted: true 499.99 within the limit: true
	// seen before: false after: true
	// today: 1501 above 1000: true
}
