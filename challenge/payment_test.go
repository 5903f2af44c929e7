package challenge_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
)

// issuePayment issues a payment-mode transfer of amount to payee.
func (f *fixture) issuePayment(t *testing.T, payee, amount string) *challenge.Challenge {
	t.Helper()
	c, err := f.eng.Issue(context.Background(), challenge.Request{
		Subject: alice, Operation: "transfer", Amount: amount, Currency: "RUB", Payee: payee,
		Mode: challenge.ModePayment, Stash: stash(),
	})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return c
}

func TestPaymentModeAnswerDependsOnPayeeAndAmount(t *testing.T) {
	tests := []struct {
		name          string
		purse, amount string // what the app is given
		confirms      bool
	}{
		{"the payment's own payee and amount", "Z123456789012", "10.00", true},
		{"payee without its purse letter, amount without zeros", "123456789012", "10", true},
		{"amount with a decimal comma", "Z123456789012", "10,00", true},
		{"another amount", "Z123456789012", "10.01", false},
		{"another payee", "Z123456789013", "10.00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			c := f.issuePayment(t, "Z123456789012", "10.00")
			if c.Mode != challenge.ModePayment {
				t.Fatalf("mode = %q", c.Mode)
			}
			b, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodEnum)
			if err != nil {
				t.Fatal(err)
			}
			if b.PaymentPurse != "123456789012" || b.PaymentAmount != "10" {
				t.Fatalf("normalized purse, amount = %q, %q", b.PaymentPurse, b.PaymentAmount)
			}
			a, err := payment.Answer(aliceSuite, aliceKey, ocra.Input{Question: b.Question}, tt.purse, tt.amount)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.eng.Verify(ctx, c.ID, alice, a)
			if tt.confirms && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			var we *challenge.WrongAnswerError
			if !tt.confirms && !errors.As(err, &we) {
				t.Fatalf("Verify = %v, want a wrong answer", err)
			}
		})
	}
}

func TestPaymentModeRefusesTheAuthorizationAnswer(t *testing.T) {
	f := newFixture(t)
	c := f.issuePayment(t, "Z123456789012", "10.00")
	answer := f.beginEnum(t, c.ID) // the plain answer to the question
	var we *challenge.WrongAnswerError
	if _, err := f.eng.Verify(context.Background(), c.ID, alice, answer); !errors.As(err, &we) {
		t.Fatalf("authorization answer in payment mode: %v, want wrong answer", err)
	}
}

func TestPaymentModeNeedsAPayeeAndAmountTheAppCanTake(t *testing.T) {
	for _, tt := range []struct{ name, payee, amount string }{
		{"no amount", "Z123456789012", ""},
		{"no payee", "", "10.00"},
		{"amount with exponent", "Z123456789012", "1e3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.eng.Issue(context.Background(), challenge.Request{
				Subject: alice, Operation: "transfer", Amount: tt.amount, Payee: tt.payee,
				Mode: challenge.ModePayment, Stash: stash(),
			})
			if !errors.Is(err, challenge.ErrMalformed) {
				t.Fatalf("Issue = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestEmailedAnswerInPaymentModeConfirms(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issuePayment(t, "Z123456789012", "10.00")
	if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodEmail); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Verify(ctx, c.ID, alice, f.email.last(t).Code); err != nil {
		t.Fatalf("Verify with the e-mailed answer: %v", err)
	}
}

func TestMessagesCarryTheOperationAndUseTheCallersText(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.eng.Issue(ctx, challenge.Request{
		Subject: alice, Operation: "withdrawal", Amount: "10.00", Currency: "RUB",
		Payee: "4111111111111111", PayeeDisplay: "•••• 1111", Stash: stash(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.PayeeDisplay != "•••• 1111" || c.Payee != "4111111111111111" || c.Currency != "RUB" {
		t.Fatalf("challenge = %+v", c)
	}
	if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodSMS); err != nil {
		t.Fatal(err)
	}
	m := f.sms.last(t)
	if want := "Withdrawal 10.00 RUB to •••• 1111. Code " + m.Code + ". Never tell it to anyone."; m.Text != want {
		t.Fatalf("default text = %q, want %q", m.Text, want)
	}
	if m.Amount != "10.00" || m.Currency != "RUB" || m.Payee != "•••• 1111" || strings.Contains(m.Text, "4111111111111111") {
		t.Fatalf("message = %+v", m)
	}

	f.clock.Add(challenge.DefaultResendCooldown)
	var seen challenge.Message
	_, err = f.eng.BeginWith(ctx, c.ID, alice, challenge.MethodEmail, challenge.BeginOptions{
		Lang: "ru", Text: func(m challenge.Message) string { seen = m; return "Вывод " + m.Amount + " " + m.Code },
	})
	if err != nil {
		t.Fatal(err)
	}
	got := f.email.last(t)
	if got.Lang != "ru" || got.Text != "Вывод 10.00 "+got.Code || seen.Operation != "withdrawal" || seen.Code != got.Code {
		t.Fatalf("message with the caller's text = %+v", got)
	}
}

func TestFieldsAreKeptWithTheChallenge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fields := []challenge.Field{{Name: "name", Label: "correspondent_name", Value: "Ivan Petrov", Display: "Ivan Petrov"}}
	c, err := f.eng.Issue(ctx, challenge.Request{
		Subject: alice, Operation: "new_correspondent", Payee: "Z123456789012", Fields: fields, Stash: stash(),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.eng.Get(ctx, c.ID, alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Fields) != 1 || got.Fields[0] != fields[0] || got.Mode != challenge.ModeAuthorization || got.PayeeDisplay != "Z123456789012" {
		t.Fatalf("Get = %+v", got)
	}
}

// countingStore counts Get calls.
type countingStore struct {
	store.Store
	gets atomic.Int32
}

func (c *countingStore) Get(ctx context.Context, id string, o store.Owner, now time.Time) (*store.Record, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, id, o, now)
}

func TestBeginningEnumOnTheIssuingGatewayReadsNothingFirst(t *testing.T) {
	mem := memory.New(memory.Options{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	cs := &countingStore{Store: mem}
	f := newFixtureWithStore(t, cs)
	c := f.issuePayment(t, "Z123456789012", "10.00")
	b, err := f.eng.Begin(context.Background(), c.ID, alice, challenge.MethodEnum)
	if err != nil {
		t.Fatal(err)
	}
	if n := cs.gets.Load(); n != 0 {
		t.Fatalf("Begin enum read the store %d times; the issuing engine knows the view", n)
	}
	// Another gateway (a fresh engine on the same store) reads it once,
	// and computes the same payment-mode answer.
	g := newFixtureWithStore(t, cs)
	b2, err := g.eng.Begin(context.Background(), c.ID, alice, challenge.MethodEnum)
	if err != nil || cs.gets.Load() != 1 || b2.Mode != challenge.ModePayment || b2.PaymentPurse != b.PaymentPurse {
		t.Fatalf("Begin on another engine = %+v, %v, %d reads", b2, err, cs.gets.Load())
	}
	a, _ := payment.Answer(aliceSuite, aliceKey, ocra.Input{Question: b2.Question}, "Z123456789012", "10.00")
	if _, err := g.eng.Verify(context.Background(), c.ID, alice, a); err != nil {
		t.Fatalf("Verify on the other engine: %v", err)
	}
}
