package account_test

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/account"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
)

var ctx = context.Background()

// users is the base directory of the tests: alice has everything, dave a
// phone and an address on file but no device, erin only an address.
const users = `{"users": [
 {"id": "alice", "phone": "+79000000001", "emails": ["alice@example.test"],
  "devices": [{"name": "phone", "key": "3132333435363738393031323334353637383930313233343536373839303132"}]},
 {"id": "bob", "phone": "+79000000002", "emails": ["bob@example.test"]},
 {"id": "dave", "phone": "+79000000004", "emails": ["dave@example.test"]},
 {"id": "erin", "emails": ["erin@example.test"]}
]}`

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// outbox is a Sender that keeps what it is given, or fails while failing.
type outbox struct {
	mu      sync.Mutex
	msgs    []challenge.Message
	failing bool
}

func (o *outbox) Send(_ context.Context, m challenge.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failing {
		return errors.New("smtp: connection refused")
	}
	o.msgs = append(o.msgs, m)
	return nil
}

func (o *outbox) last(t *testing.T) challenge.Message {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.msgs) == 0 {
		t.Fatal("nothing was sent")
	}
	return o.msgs[len(o.msgs)-1]
}

func (o *outbox) count() int { o.mu.Lock(); defer o.mu.Unlock(); return len(o.msgs) }

type fixture struct {
	svc       *account.Service
	store     account.Store
	clock     *clock
	sms, mail *outbox
	mu        sync.Mutex
	events    []challenge.Event
}

func (f *fixture) kinds() []challenge.EventKind {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []challenge.EventKind
	for _, e := range f.events {
		out = append(out, e.Kind)
	}
	return out
}

func newFixture(t *testing.T, store account.Store) *fixture {
	t.Helper()
	base, err := challenge.ParseDirectory([]byte(users))
	if err != nil {
		t.Fatal(err)
	}
	if store == nil {
		store = account.NewMemoryStore()
	}
	f := &fixture{store: store, clock: &clock{t: time.Now().UTC().Truncate(time.Millisecond)}, sms: &outbox{}, mail: &outbox{}}
	f.svc, err = account.New(account.Config{
		Store: store, Base: base, Secret: []byte("a secret of at least 16 bytes"),
		SMS: f.sms, Email: f.mail, Issuer: "Demo Bank", Now: f.clock.Now,
		Events: func(e challenge.Event) { f.mu.Lock(); f.events = append(f.events, e); f.mu.Unlock() },
		Client: func(context.Context) challenge.Client { return challenge.Client{IP: "192.0.2.7", UserAgent: "test"} },
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// verify verifies value of kind for user with the code the sender got.
func (f *fixture) verify(t *testing.T, user, kind, value string) {
	t.Helper()
	v, err := f.svc.StartVerification(ctx, user, kind, value, "en")
	if err != nil {
		t.Fatalf("StartVerification(%s, %s): %v", user, value, err)
	}
	box := f.sms
	if kind == account.KindEmail {
		box = f.mail
	}
	if err := f.svc.ConfirmVerification(ctx, user, v.ID, box.last(t).Code); err != nil {
		t.Fatalf("ConfirmVerification(%s, %s): %v", user, value, err)
	}
	f.clock.Advance(account.ResendCooldown)
}

// answer is what the E-num app answers to question after enrolling uri.
func answer(t *testing.T, uri, question string) string {
	t.Helper()
	e, err := enroll.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	suite, err := ocra.ParseSuite(e.Suite)
	if err != nil {
		t.Fatal(err)
	}
	a, err := suite.Compute(e.Key, ocra.Input{Question: question})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// enrol enrols and activates a device for user and returns its URI.
func (f *fixture) enrol(t *testing.T, user string) string {
	t.Helper()
	e, err := f.svc.StartEnrollment(ctx, user, "en")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Activate(ctx, user, e.ID, answer(t, e.URI, e.Question)); err != nil {
		t.Fatal(err)
	}
	return e.URI
}

var digits = regexp.MustCompile(`[0-9]{4,}`)

func is(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}
