package challenge_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
)

func TestSendThenCommit(t *testing.T) {
	for _, m := range []challenge.Method{challenge.MethodSMS, challenge.MethodEmail} {
		t.Run(string(m), func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			box := f.sms
			if m == challenge.MethodEmail {
				box = f.email
			}
			c := f.issue(t, alice)
			// The provider fails: the customer is told nothing was sent.
			box.fail = errors.New("provider down")
			if _, err := f.eng.Begin(ctx, c.ID, alice, m); !errors.Is(err, challenge.ErrNotSent) || !errors.Is(err, challenge.ErrUnavailable) {
				t.Fatalf("Begin with the sender failing = %v, want ErrNotSent", err)
			}
			if got, _ := f.eng.Get(ctx, c.ID, alice); got.Method != "" || !got.ResendAt.IsZero() {
				t.Fatalf("a failed send changed the challenge: %+v", got)
			}
			// Nothing was spent: no cooldown, the next try goes out at once.
			box.fail = nil
			if _, err := f.eng.Begin(ctx, c.ID, alice, m); err != nil {
				t.Fatalf("Begin right after a failed send = %v", err)
			}
			code := box.last(t).Code
			if _, err := f.eng.Verify(ctx, c.ID, alice, code); err != nil {
				t.Fatalf("the code that went out = %v", err)
			}
		})
	}
}

func TestAFailedSendsCodeNeverWorks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	var late string
	dir, _ := challenge.ParseDirectory([]byte(usersJSON))
	eng, err := challenge.New(challenge.Config{
		Store: f.store, Directory: dir, Secret: []byte("0123456789abcdef0123456789abcdef"), Now: f.clock.Now,
		SMS: challenge.SenderFunc(func(_ context.Context, m challenge.Message) error {
			late = m.Code // delivered later, though the provider timed out
			return errors.New("timeout")
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Begin(ctx, c.ID, alice, challenge.MethodSMS); !errors.Is(err, challenge.ErrNotSent) {
		t.Fatalf("Begin = %v", err)
	}
	f.beginEnum(t, c.ID) // the customer moves on
	var we *challenge.WrongAnswerError
	if _, err := f.eng.Verify(ctx, c.ID, alice, late); !errors.As(err, &we) {
		t.Fatalf("the code of a failed send = %v, want a wrong answer", err)
	}
}

func TestEmailHasCostControls(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := range 10 {
		c := f.issue(t, alice)
		if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodEmail); err != nil {
			t.Fatalf("e-mail %d = %v", i+1, err)
		}
		f.eng.Cancel(ctx, c.ID, alice)
		f.clock.Add(31 * time.Second)
	}
	c := f.issue(t, alice)
	var le *challenge.LimitError
	if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodEmail); !errors.As(err, &le) || le.Method != challenge.MethodEmail || le.Wait <= 0 {
		t.Fatalf("eleventh e-mail in the hour = %v, want the e-mail limit with a wait", err)
	}
	// E-mail right after another: the per-user cooldown, with its wait.
	f.clock.Add(time.Hour)
	c1, c2 := f.issue(t, alice), f.issue(t, alice)
	if _, err := f.eng.Begin(ctx, c1.ID, alice, challenge.MethodEmail); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Begin(ctx, c2.ID, alice, challenge.MethodEmail); !errors.As(err, &le) || le.Wait <= 0 || le.Wait > 30*time.Second {
		t.Fatalf("e-mail right after another = %v", err)
	}
	// SMS are counted apart.
	if _, err := f.eng.Begin(ctx, c2.ID, alice, challenge.MethodSMS); err != nil {
		t.Fatalf("SMS after the e-mail limit = %v", err)
	}
}

func TestTheSameWrongAnswerCostsOneAttempt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	f.beginEnum(t, c.ID)
	var we *challenge.WrongAnswerError
	for range 3 { // a reload, a retry after a timeout, a double tap
		if _, err := f.eng.Verify(ctx, c.ID, alice, "1234 5678"); !errors.As(err, &we) || we.AttemptsLeft != 2 {
			t.Fatalf("the same wrong answer = %v, want 2 attempts left", err)
		}
	}
}

func TestOneUserCannotFillTheStoreForOthers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var issued int
	var te *challenge.TooManyPendingError
	for {
		_, err := f.eng.Issue(ctx, challenge.Request{Subject: alice, Operation: "transfer", Stash: stash()})
		if errors.As(err, &te) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if issued++; issued > 1000 {
			t.Fatal("no per-user limit")
		}
	}
	if te.RetryAt.IsZero() || !te.RetryAt.After(t0) {
		t.Fatalf("after %d challenges: %v, retry at %v", issued, te, te.RetryAt)
	}
	bob := challenge.Subject{User: "bob", Session: "b"}
	if _, err := f.eng.Issue(ctx, challenge.Request{Subject: bob, Operation: "transfer", Stash: stash()}); err != nil {
		t.Fatalf("bob during alice's flood = %v", err)
	}
}

func TestAConfirmationIsDeliveredAgainUntilTheUpstreamAnswers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	answer := f.beginEnum(t, c.ID)
	conf, err := f.eng.Verify(ctx, c.ID, alice, answer)
	if err != nil {
		t.Fatal(err)
	}
	if conf.Delivery != 1 {
		t.Fatalf("first delivery = %d", conf.Delivery)
	}
	// The upstream was down.
	if err := f.eng.Settle(ctx, conf, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.eng.Get(ctx, c.ID, alice); got.State != challenge.StateNotDelivered {
		t.Fatalf("state after a failed delivery = %s", got.State)
	}
	again, err := f.eng.Deliver(ctx, c.ID, alice)
	if err != nil || again.Header != conf.Header || again.Delivery != 2 || string(again.Stash.Body) != string(conf.Stash.Body) {
		t.Fatalf("redelivery = %+v, %v", again, err)
	}
	// While it is in flight, nobody else delivers it.
	var ae *challenge.AlreadyConfirmedError
	if _, err := f.eng.Deliver(ctx, c.ID, alice); !errors.As(err, &ae) || ae.Delivered {
		t.Fatalf("a second delivery in flight = %v", err)
	}
	if err := f.eng.Settle(ctx, again, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Deliver(ctx, c.ID, alice); !errors.As(err, &ae) || !ae.Delivered {
		t.Fatalf("delivery after the upstream answered = %v, want already delivered", err)
	}
	// Another user cannot deliver it.
	if _, err := f.eng.Deliver(ctx, c.ID, challenge.Subject{User: "bob", Session: "session-a"}); !errors.Is(err, challenge.ErrUnknown) {
		t.Fatalf("bob delivering alice's = %v", err)
	}
}

func TestDeliveriesAreBounded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	conf, err := f.eng.Verify(ctx, c.ID, alice, f.beginEnum(t, c.ID))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < challenge.MaxDeliveries; i++ {
		f.eng.Settle(ctx, conf, false)
		if conf, err = f.eng.Deliver(ctx, c.ID, alice); err != nil {
			t.Fatalf("delivery %d = %v", i+1, err)
		}
	}
	f.eng.Settle(ctx, conf, false)
	if _, err := f.eng.Deliver(ctx, c.ID, alice); !errors.Is(err, challenge.ErrDeliveriesExhausted) {
		t.Fatalf("delivery %d = %v, want exhausted", challenge.MaxDeliveries+1, err)
	}
}

func TestAttemptsShownNeverExceedWhatTheLockoutAllows(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Three failures on one challenge (the lockout locks at five).
	first := f.issue(t, alice)
	f.beginEnum(t, first.ID)
	for _, a := range []string{"00000001", "00000002", "00000003"} {
		f.eng.Verify(ctx, first.ID, alice, a)
	}
	second := f.issue(t, alice)
	f.beginEnum(t, second.ID)
	if got, _ := f.eng.Get(ctx, second.ID, alice); got.AttemptsLeft != 2 {
		t.Fatalf("attempts shown on a fresh challenge = %d, want 2 (the lockout allows two more)", got.AttemptsLeft)
	}
	var we *challenge.WrongAnswerError
	if _, err := f.eng.Verify(ctx, second.ID, alice, "00000004"); !errors.As(err, &we) || we.AttemptsLeft != 1 {
		t.Fatalf("wrong answer = %v, want 1 attempt left", err)
	}
	var le *challenge.LockedError
	if _, err := f.eng.Verify(ctx, second.ID, alice, "00000005"); !errors.As(err, &le) {
		t.Fatalf("the next wrong answer = %v, want locked", err)
	}
}

// notDurableStore reports every confirmation and delivery as not yet on
// the replicas.
type notDurableStore struct{ store.Store }

func (notDurableStore) Attempt(context.Context, string, store.Owner, []byte, store.Lockout, time.Time) (store.Result, error) {
	return store.Result{}, &store.NotDurableError{Reached: 0, Wanted: 1, Timeout: time.Second}
}

func (notDurableStore) Deliver(context.Context, string, store.Owner, int, time.Time) (*store.Record, error) {
	return nil, &store.NotDurableError{Reached: 0, Wanted: 1, Timeout: time.Second}
}

func TestAConfirmationNotYetOnTheReplicasIsNotDelivered(t *testing.T) {
	mem := memory.New(memory.Options{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	f := newFixtureWithStore(t, notDurableStore{mem})
	ctx := context.Background()
	c := f.issue(t, alice)
	answer := f.beginEnum(t, c.ID)
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); !errors.Is(err, challenge.ErrNotDelivered) || errors.Is(err, challenge.ErrUnavailable) {
		t.Fatalf("Verify = %v, want ErrNotDelivered (and not 'unavailable')", err)
	}
	if _, err := f.eng.Deliver(ctx, c.ID, alice); !errors.Is(err, challenge.ErrNotDelivered) {
		t.Fatalf("Deliver = %v, want ErrNotDelivered", err)
	}
	for _, e := range *f.events {
		if e.Kind == challenge.EventConfirmed {
			t.Fatal("a confirmation no replica has was reported as confirmed")
		}
	}
}

func TestEventsDescribeEachStepWithoutSecrets(t *testing.T) {
	f := newFixture(t)
	ctx := challenge.WithClient(context.Background(), challenge.Client{IP: "192.0.2.7", UserAgent: "Firefox"})
	c, err := f.eng.Issue(ctx, challenge.Request{
		Subject: alice, Operation: "withdrawal", Amount: "10.00", Currency: "RUB",
		Payee: "4111111111111111", PayeeDisplay: "•••• 1111", Reason: "all conditions hold", Stash: stash(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.BeginWith(ctx, c.ID, alice, challenge.MethodSMS, challenge.BeginOptions{}); err != nil {
		t.Fatal(err)
	}
	code := f.sms.last(t).Code
	if _, err := f.eng.Verify(ctx, c.ID, alice, code); err != nil {
		t.Fatal(err)
	}
	kinds := map[challenge.EventKind]challenge.Event{}
	for _, e := range *f.events {
		kinds[e.Kind] = e
		if e.Time.IsZero() || e.ClientIP != "192.0.2.7" || e.UserAgent != "Firefox" {
			t.Errorf("%s: time %v, client %q %q", e.Kind, e.Time, e.ClientIP, e.UserAgent)
		}
		if s := fmt.Sprintf("%+v", e); strings.Contains(s, code) || strings.Contains(s, "4111111111111111") {
			t.Errorf("%s carries the code or the full card: %s", e.Kind, s)
		}
	}
	for _, k := range []challenge.EventKind{challenge.EventIssued, challenge.EventBegun, challenge.EventConfirmed} {
		e, ok := kinds[k]
		if !ok || e.Amount != "10.00" || e.Currency != "RUB" || e.Payee != "•••• 1111" || e.Operation != "withdrawal" {
			t.Errorf("%s = %+v", k, e)
		}
	}
	if kinds[challenge.EventIssued].Reason != "all conditions hold" {
		t.Errorf("issued reason = %q", kinds[challenge.EventIssued].Reason)
	}
}
