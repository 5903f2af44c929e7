package account

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestMemoryStoreRefusesBeyondItsCapacity(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	m := newMemoryStore(2, 2, 2)
	for i := range 2 {
		if err := m.Update(ctx, fmt.Sprint("u", i), func(st *State) error { st.Phone = "+79000000001"; return nil }); err != nil {
			t.Fatal(err)
		}
		if err := m.PutPending(ctx, &Pending{ID: fmt.Sprint("p", i), User: "u", Expires: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if err := m.PutRecovery(ctx, &Recovery{ID: fmt.Sprint("r", i), State: RecoveryOpen}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		err  error
	}{
		{"a third user", m.Update(ctx, "u2", func(st *State) error { return nil })},
		{"a third pending item", m.PutPending(ctx, &Pending{ID: "p2", User: "u", Expires: now.Add(time.Minute)})},
		{"a third open recovery", m.PutRecovery(ctx, &Recovery{ID: "r2", State: RecoveryOpen})},
	}
	for _, c := range cases {
		if !errors.Is(c.err, ErrFull) {
			t.Errorf("%s: %v, want ErrFull", c.name, c.err)
		}
	}
	if err := m.Update(ctx, "u0", func(st *State) error { st.Phone = "+79000000002"; return nil }); err != nil {
		t.Errorf("a known user's update at capacity: %v", err)
	}
	// A closed request makes room; an expired pending item does too.
	m.PutRecovery(ctx, &Recovery{ID: "r0", State: RecoveryClosed, Closed: now})
	if err := m.PutRecovery(ctx, &Recovery{ID: "r2", State: RecoveryOpen}); err != nil {
		t.Errorf("recovery after a close: %v", err)
	}
	if _, err := m.GetRecovery(ctx, "r0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the closed request stayed: %v", err)
	}
	m.PutPending(ctx, &Pending{ID: "p0", User: "u", Expires: now.Add(-time.Second)})
	if err := m.PutPending(ctx, &Pending{ID: "p2", User: "u", Expires: now.Add(time.Minute)}); err != nil {
		t.Errorf("pending after an expiry: %v", err)
	}
}
