package challenge_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
)

const aliceKeyHex = "3132333435363738393031323334353637383930313233343536373839303132"

const usersJSON = `{"users": [
 {"id": "alice", "phone": "+79000000001", "emails": ["alice@example.test"],
  "devices": [{"name": "phone", "suite": "OCRA-1:HOTP-SHA256-8:QN08", "key": "` + aliceKeyHex + `"}]},
 {"id": "bob", "phone": "+79000000002", "emails": ["bob@example.test"],
  "devices": [{"name": "phone", "key": "3132333435363738393031323334353637383930"}]},
 {"id": "carol", "emails": ["carol@example.test"]},
 {"id": "tim", "devices": [{"suite": "OCRA-1:HOTP-SHA1-6:QN08-T1M", "key": "3132333435363738393031323334353637383930"}]}
]}`

var (
	alice      = challenge.Subject{User: "alice", Session: "session-a"}
	t0         = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	aliceKey   = mustHex(aliceKeyHex)
	aliceSuite = mustSuite(challenge.DefaultSuite)
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func mustSuite(s string) *ocra.Suite {
	su, err := ocra.ParseSuite(s)
	if err != nil {
		panic(err)
	}
	return su
}

// clock is an injectable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// outbox is a Sender that keeps what it was asked to send.
type outbox struct {
	mu   sync.Mutex
	msgs []challenge.Message
	fail error
}

func (o *outbox) Send(_ context.Context, m challenge.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
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

type fixture struct {
	eng    *challenge.Engine
	clock  *clock
	sms    *outbox
	email  *outbox
	store  *memory.Store
	spy    *spyStore
	events *[]challenge.Event
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWithStore(t, nil)
}

// newFixtureWithStore builds the fixture on st, or on a fresh memory store
// if st is nil.
func newFixtureWithStore(t testing.TB, st store.Store) *fixture {
	t.Helper()
	dir, err := challenge.ParseDirectory([]byte(usersJSON))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{clock: &clock{t: t0}, sms: &outbox{}, email: &outbox{}, events: new([]challenge.Event)}
	f.store = memory.New(memory.Options{SweepInterval: -1})
	t.Cleanup(func() { f.store.Close() })
	if st == nil {
		st = f.store
	}
	f.spy = &spyStore{Store: st}
	var mu sync.Mutex
	f.eng, err = challenge.New(challenge.Config{
		Store: f.spy, Directory: dir, SMS: f.sms, Email: f.email,
		Secret: []byte("0123456789abcdef0123456789abcdef"), Now: f.clock.Now,
		Events: func(e challenge.Event) { mu.Lock(); *f.events = append(*f.events, e); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func stash() *challenge.Stash {
	return &challenge.Stash{
		Method: "POST", Host: "pay.example", URI: "/transfer?x=1", Proto: "HTTP/1.1", RemoteAddr: "192.0.2.1:5555",
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Cookie": {"s=1"}},
		Body:   []byte("to=Z123&amount=10.00"),
	}
}

func (f *fixture) issue(t *testing.T, s challenge.Subject) *challenge.Challenge {
	t.Helper()
	c, err := f.eng.Issue(context.Background(), challenge.Request{
		Subject: s, Operation: "transfer", Amount: "10.00", Payee: "Z123", Stash: stash(),
	})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return c
}

// enumAnswer plays the E-num app: it answers the question with alice's key.
func enumAnswer(t *testing.T, q string) string {
	t.Helper()
	a, err := aliceSuite.Compute(aliceKey, ocra.Input{Question: q})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) beginEnum(t *testing.T, id string) string {
	t.Helper()
	c, err := f.eng.Begin(context.Background(), id, alice, challenge.MethodEnum)
	if err != nil {
		t.Fatalf("Begin enum: %v", err)
	}
	if len(c.Question) != 8 || strings.Trim(c.Question, "0123456789") != "" {
		t.Fatalf("question %q is not 8 digits", c.Question)
	}
	return enumAnswer(t, c.Question)
}

func TestEnumConfirmationReplaysTheStash(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	if c.State != challenge.StateChooseMethod || c.AttemptsLeft != 3 || !c.Expires.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("issued challenge = %+v", c)
	}
	if got := strings.Join(methodsOf(c), ","); got != "enum,sms,email" {
		t.Fatalf("methods = %s", got)
	}
	answer := f.beginEnum(t, c.ID)
	got, err := f.eng.Get(ctx, c.ID, alice)
	if err != nil || got.State != challenge.StateAwaitingAnswer || got.Method != challenge.MethodEnum {
		t.Fatalf("Get after Begin = %+v, %v", got, err)
	}
	conf, err := f.eng.Verify(ctx, c.ID, alice, answer[:4]+" "+answer[4:])
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !bytes.Equal(conf.Stash.Encode(), stash().Encode()) {
		t.Fatalf("replayed stash differs: %+v", conf.Stash)
	}
	if conf.Method != challenge.MethodEnum || conf.User != "alice" || conf.Challenge.Operation != "transfer" {
		t.Fatalf("confirmation = %+v", conf)
	}
	h, err := challenge.VerifyConfirmed(f.eng.ConfirmKey(), conf.Header, t0, time.Minute)
	if err != nil || h.ChallengeID != c.ID || h.Method != challenge.MethodEnum || h.Operation != "transfer" || h.User != "alice" {
		t.Fatalf("confirmed header %q = %+v, %v", conf.Header, h, err)
	}
	// The same answer again never confirms twice: while the first delivery
	// is in flight it says so; once delivered, that it is done.
	var ae *challenge.AlreadyConfirmedError
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); !errors.As(err, &ae) || ae.Delivered || ae.RetryAt.IsZero() {
		t.Fatalf("second Verify = %v, want already confirmed, delivery in flight", err)
	}
	if err := f.eng.Settle(ctx, conf, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); !errors.As(err, &ae) || !ae.Delivered {
		t.Fatalf("Verify after delivery = %v, want already confirmed and delivered", err)
	}
	if got, err := f.eng.Get(ctx, c.ID, alice); err != nil || got.State != challenge.StateConfirmed || !got.ConfirmedAt.Equal(t0) {
		t.Fatalf("Get after delivery = %+v, %v", got, err)
	}
	// Another answer to a confirmed challenge: unknown.
	if _, err := f.eng.Verify(ctx, c.ID, alice, "00000000"); !errors.Is(err, challenge.ErrUnknown) {
		t.Fatalf("another answer after confirmation = %v, want ErrUnknown", err)
	}
}

func methodsOf(c *challenge.Challenge) []string {
	var out []string
	for _, m := range c.Methods {
		out = append(out, string(m))
	}
	return out
}

func TestHundredConcurrentCorrectAnswersConfirmOnce(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, alice)
	answer := f.beginEnum(t, c.ID)
	var confirmed, unknown atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			_, err := f.eng.Verify(context.Background(), c.ID, alice, answer)
			var ae *challenge.AlreadyConfirmedError
			switch {
			case err == nil:
				confirmed.Add(1)
			case errors.As(err, &ae) && !ae.Delivered:
				unknown.Add(1)
			default:
				t.Errorf("Verify: %v", err)
			}
		})
	}
	wg.Wait()
	if confirmed.Load() != 1 || unknown.Load() != 99 {
		t.Fatalf("confirmed %d times, unknown %d; want 1 and 99", confirmed.Load(), unknown.Load())
	}
}

func TestAttemptBudgetEndsTheChallenge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	answer := f.beginEnum(t, c.ID)
	for want := 2; want >= 1; want-- {
		var we *challenge.WrongAnswerError
		if _, err := f.eng.Verify(ctx, c.ID, alice, fmt.Sprintf("0000000%d", want)); !errors.As(err, &we) || we.AttemptsLeft != want {
			t.Fatalf("wrong answer = %v, want WrongAnswerError with %d left", err, want)
		}
	}
	if _, err := f.eng.Verify(ctx, c.ID, alice, "00000000"); !errors.Is(err, challenge.ErrTooManyAttempts) {
		t.Fatalf("last wrong answer = %v, want ErrTooManyAttempts", err)
	}
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); !errors.Is(err, challenge.ErrTooManyAttempts) {
		t.Fatalf("right answer after the budget = %v, want ErrTooManyAttempts", err)
	}
	if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodEnum); !errors.Is(err, challenge.ErrTooManyAttempts) {
		t.Fatalf("Begin after the budget = %v, want ErrTooManyAttempts", err)
	}
	if got, err := f.eng.Get(ctx, c.ID, alice); err != nil || got.State != challenge.StateExhausted {
		t.Fatalf("Get after the budget = %+v, %v", got, err)
	}
}

func TestChallengeDiesAtItsTTL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	answer := f.beginEnum(t, c.ID)
	f.clock.Add(5*time.Minute - time.Millisecond)
	if _, err := f.eng.Get(ctx, c.ID, alice); err != nil {
		t.Fatalf("Get just before the TTL = %v", err)
	}
	f.clock.Add(time.Millisecond)
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); !errors.Is(err, challenge.ErrUnknown) {
		t.Fatalf("Verify at the TTL = %v, want ErrUnknown", err)
	}
}

func TestChallengeIsUsableOnlyByItsUserAndSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	answer := f.beginEnum(t, c.ID)
	others := []struct {
		name string
		who  challenge.Subject
	}{
		{"another user", challenge.Subject{User: "bob", Session: alice.Session}},
		{"another session", challenge.Subject{User: "alice", Session: "session-b"}},
		{"no session", challenge.Subject{User: "alice"}},
	}
	for _, o := range others {
		t.Run(o.name, func(t *testing.T) {
			if _, err := f.eng.Get(ctx, c.ID, o.who); !errors.Is(err, challenge.ErrUnknown) {
				t.Errorf("Get = %v", err)
			}
			if _, err := f.eng.Begin(ctx, c.ID, o.who, challenge.MethodEnum); !errors.Is(err, challenge.ErrUnknown) {
				t.Errorf("Begin = %v", err)
			}
			for _, a := range []string{answer, "00000000"} {
				if _, err := f.eng.Verify(ctx, c.ID, o.who, a); !errors.Is(err, challenge.ErrUnknown) {
					t.Errorf("Verify(%s) = %v", a, err)
				}
			}
			if err := f.eng.Cancel(ctx, c.ID, o.who); !errors.Is(err, challenge.ErrUnknown) {
				t.Errorf("Cancel = %v", err)
			}
		})
	}
	// Nothing the others did cost alice anything.
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); err != nil {
		t.Fatalf("alice's Verify after the others = %v", err)
	}
}

func TestWrongAnswersRevealNothingAboutOthersChallenges(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	f.beginEnum(t, c.ID)
	bob := challenge.Subject{User: "bob", Session: "b"}
	bobs := f.issue(t, bob)
	_ = bobs
	// Bob answering alice's challenge and bob answering an id that never
	// existed get the very same error.
	_, errAlice := f.eng.Verify(ctx, c.ID, bob, "12345678")
	_, errNone := f.eng.Verify(ctx, "AAAAAAAAAAAAAAAAAAAAAA", bob, "12345678")
	_, errShape := f.eng.Verify(ctx, "not-an-id", bob, "12345678")
	if errAlice != challenge.ErrUnknown || errNone != challenge.ErrUnknown || errShape != challenge.ErrUnknown {
		t.Fatalf("errors differ: %v / %v / %v", errAlice, errNone, errShape)
	}
}

func TestMalformedAnswersChangeNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	f.beginEnum(t, c.ID)
	for _, a := range []string{"", "   ", "12345678;", "１２３", strings.Repeat("1", 65), strings.Repeat("1 ", 100), "12\x0034"} {
		if _, err := f.eng.Verify(ctx, c.ID, alice, a); !errors.Is(err, challenge.ErrMalformed) {
			t.Errorf("Verify(%q) = %v, want ErrMalformed", a, err)
		}
	}
	if got, _ := f.eng.Get(ctx, c.ID, alice); got.AttemptsLeft != 3 {
		t.Fatalf("attempts left = %d, want 3", got.AttemptsLeft)
	}
}

func TestAnswerBeforeMethodIsRefused(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, alice)
	if _, err := f.eng.Verify(context.Background(), c.ID, alice, "12345678"); !errors.Is(err, challenge.ErrMethodRequired) {
		t.Fatalf("Verify = %v, want ErrMethodRequired", err)
	}
}

func TestSMSCodeIsSentHashedAndResendWaitsForCooldown(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	got, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodSMS)
	if err != nil {
		t.Fatal(err)
	}
	if got.SentTo != "+7•••••01" || got.Question != "" || !got.ResendAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Begin sms = %+v", got)
	}
	m := f.sms.last(t)
	if m.To != "+79000000001" || len(m.Code) != 6 || !strings.Contains(m.Text, m.Code) || m.ChallengeID != c.ID {
		t.Fatalf("sent %+v", m)
	}

	f.clock.Add(30 * time.Second)
	var ce *challenge.CooldownError
	if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodSMS); !errors.As(err, &ce) || ce.Wait != 30*time.Second {
		t.Fatalf("early resend = %v, want a 30s CooldownError", err)
	}
	f.clock.Add(30 * time.Second)
	if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodSMS); err != nil {
		t.Fatalf("resend after cooldown: %v", err)
	}
	second := f.sms.last(t)
	if _, err := f.eng.Verify(ctx, c.ID, alice, m.Code); err == nil {
		t.Fatal("the first code still confirms after a resend")
	}
	if _, err := f.eng.Verify(ctx, c.ID, alice, second.Code); err != nil {
		t.Fatalf("Verify with the resent code: %v", err)
	}
	// The store only ever saw keyed hashes of the codes.
	for _, code := range []string{m.Code, second.Code} {
		if f.spy.contains(code) {
			t.Fatalf("the store was handed SMS code %s in clear", code)
		}
	}
}

// spyStore records everything the engine hands a store.
type spyStore struct {
	store.Store
	mu        sync.Mutex
	seen      [][]byte
	lastOwner store.Owner
}

func (s *spyStore) keep(v any) {
	b, _ := json.Marshal(v)
	s.mu.Lock()
	s.seen = append(s.seen, b)
	s.mu.Unlock()
}

func (s *spyStore) Create(ctx context.Context, r *store.Record, now time.Time) error {
	s.keep(r)
	return s.Store.Create(ctx, r, now)
}

func (s *spyStore) Begin(ctx context.Context, id string, o store.Owner, b store.Begin, now time.Time) (*store.Record, error) {
	s.keep(b)
	s.mu.Lock()
	s.lastOwner = o
	s.mu.Unlock()
	r, err := s.Store.Begin(ctx, id, o, b, now)
	s.keep(r)
	return r, err
}

func (s *spyStore) Attempt(ctx context.Context, id string, o store.Owner, mac []byte, l store.Lockout, now time.Time) (store.Result, error) {
	s.keep(mac)
	return s.Store.Attempt(ctx, id, o, mac, l, now)
}

func (s *spyStore) contains(secret string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.seen {
		if bytes.Contains(b, []byte(secret)) {
			return true
		}
	}
	return false
}

func TestEmailSendsTheEnumAnswerOrACode(t *testing.T) {
	tests := []struct {
		name    string
		who     challenge.Subject
		to      string
		sentTo  string
		codeLen int
	}{
		{"user with a device gets the E-num answer", alice, "alice@example.test", "a•••@example.test", 8},
		{"user without a device gets a code", challenge.Subject{User: "carol", Session: "c"}, "carol@example.test", "c•••@example.test", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			c := f.issue(t, tt.who)
			got, err := f.eng.Begin(ctx, c.ID, tt.who, challenge.MethodEmail)
			if err != nil {
				t.Fatal(err)
			}
			m := f.email.last(t)
			if got.SentTo != tt.sentTo || m.To != tt.to || len(m.Code) != tt.codeLen || got.Question != "" {
				t.Fatalf("Begin = %+v, sent %+v", got, m)
			}
			if _, err := f.eng.Verify(ctx, c.ID, tt.who, m.Code); err != nil {
				t.Fatalf("Verify with the mailed code: %v", err)
			}
		})
	}
}

func TestTimeBasedSuiteAcceptsTheWindowOnly(t *testing.T) {
	tim := challenge.Subject{User: "tim", Session: "t"}
	suite := mustSuite("OCRA-1:HOTP-SHA1-6:QN08-T1M")
	key := mustHex("3132333435363738393031323334353637383930")
	tests := []struct {
		name  string
		shift time.Duration
		ok    bool
	}{
		{"same minute", 0, true},
		{"device a minute behind", -time.Minute, true},
		{"device a minute ahead", time.Minute, true},
		{"device two minutes behind", -2 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			c := f.issue(t, tim)
			got, err := f.eng.Begin(ctx, c.ID, tim, challenge.MethodEnum)
			if err != nil {
				t.Fatal(err)
			}
			a, err := suite.Compute(key, ocra.Input{Question: got.Question, Timestamp: ocra.TimeSteps(t0.Add(tt.shift), time.Minute), HasTimestamp: true})
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.eng.Verify(ctx, c.ID, tim, a)
			if (err == nil) != tt.ok {
				t.Fatalf("Verify = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestIssueOffersOnlyUsableMethods(t *testing.T) {
	tests := []struct {
		name    string
		who     string
		allowed []challenge.Method
		want    string
		err     error
	}{
		{"all methods in the policy's order", "alice", []challenge.Method{challenge.MethodSMS, challenge.MethodEnum}, "sms,enum", nil},
		{"no device means no enum", "carol", nil, "email", nil},
		{"no usable method", "carol", []challenge.Method{challenge.MethodEnum, challenge.MethodSMS}, "", challenge.ErrNotEnrolled},
		{"unknown user", "mallory", nil, "", challenge.ErrNotEnrolled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c, err := f.eng.Issue(context.Background(), challenge.Request{
				Subject: challenge.Subject{User: tt.who}, Operation: "transfer", Methods: tt.allowed, Stash: stash(),
			})
			if !errors.Is(err, tt.err) {
				t.Fatalf("Issue = %v, want %v", err, tt.err)
			}
			if err == nil && strings.Join(methodsOf(c), ",") != tt.want {
				t.Fatalf("methods = %v, want %s", c.Methods, tt.want)
			}
		})
	}
}

func TestMethodNotOfferedIsRefused(t *testing.T) {
	f := newFixture(t)
	c, err := f.eng.Issue(context.Background(), challenge.Request{
		Subject: alice, Operation: "transfer", Methods: []challenge.Method{challenge.MethodEnum}, Stash: stash(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Begin(context.Background(), c.ID, alice, challenge.MethodSMS); !errors.Is(err, challenge.ErrMethodNotOffered) {
		t.Fatalf("Begin sms = %v, want ErrMethodNotOffered", err)
	}
	if len(f.sms.msgs) != 0 {
		t.Fatal("an SMS was sent for a method not offered")
	}
}

func TestFailuresFailClosed(t *testing.T) {
	t.Run("sender down", func(t *testing.T) {
		f := newFixture(t)
		f.sms.fail = errors.New("gateway timeout")
		c := f.issue(t, alice)
		if _, err := f.eng.Begin(context.Background(), c.ID, alice, challenge.MethodSMS); !errors.Is(err, challenge.ErrUnavailable) {
			t.Fatalf("Begin = %v, want ErrUnavailable", err)
		}
	})
	t.Run("store down", func(t *testing.T) {
		dir, _ := challenge.ParseDirectory([]byte(usersJSON))
		eng, err := challenge.New(challenge.Config{Store: brokenStore{}, Directory: dir, Secret: make([]byte, 32)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = eng.Issue(context.Background(), challenge.Request{Subject: alice, Operation: "transfer", Stash: stash()})
		if !errors.Is(err, challenge.ErrUnavailable) {
			t.Fatalf("Issue = %v, want ErrUnavailable", err)
		}
		if _, err := eng.Verify(context.Background(), "AAAAAAAAAAAAAAAAAAAAAA", alice, "1234"); !errors.Is(err, challenge.ErrUnavailable) {
			t.Fatalf("Verify = %v, want ErrUnavailable", err)
		}
	})
	t.Run("full store", func(t *testing.T) {
		f := newFixture(t)
		small := memory.New(memory.Options{MaxChallenges: 1, SweepInterval: -1})
		defer small.Close()
		dir, _ := challenge.ParseDirectory([]byte(usersJSON))
		eng, _ := challenge.New(challenge.Config{Store: small, Directory: dir, Secret: make([]byte, 32), Now: f.clock.Now})
		req := challenge.Request{Subject: alice, Operation: "transfer", Stash: stash()}
		if _, err := eng.Issue(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.Issue(context.Background(), req); !errors.Is(err, challenge.ErrUnavailable) || !errors.Is(err, store.ErrFull) {
			t.Fatalf("Issue into a full store = %v", err)
		}
	})
}

type brokenStore struct{}

var errBroken = errors.New("connection refused")

func (brokenStore) Create(context.Context, *store.Record, time.Time) error { return errBroken }
func (brokenStore) Get(context.Context, string, store.Owner, time.Time) (*store.Record, error) {
	return nil, errBroken
}
func (brokenStore) Begin(context.Context, string, store.Owner, store.Begin, time.Time) (*store.Record, error) {
	return nil, errBroken
}
func (brokenStore) Attempt(context.Context, string, store.Owner, []byte, store.Lockout, time.Time) (store.Result, error) {
	return store.Result{}, errBroken
}
func (brokenStore) Delete(context.Context, string, store.Owner) error { return errBroken }
func (brokenStore) LockedUntil(context.Context, string, time.Time) (time.Time, error) {
	return time.Time{}, errBroken
}
func (brokenStore) Unlock(context.Context, string) error { return errBroken }
func (brokenStore) Failures(context.Context, string, time.Time) (int, time.Time, error) {
	return 0, time.Time{}, errBroken
}
func (brokenStore) Deliver(context.Context, string, store.Owner, int, time.Time) (*store.Record, error) {
	return nil, errBroken
}
func (brokenStore) Settle(context.Context, string, store.Owner, bool, time.Time) error {
	return errBroken
}
func (brokenStore) SpendEmail(context.Context, string, string, store.MessageLimits, time.Time) error {
	return errBroken
}
func (brokenStore) Refund(context.Context, string, string, string, time.Time) error { return errBroken }
func (brokenStore) SpendSMS(context.Context, string, string, store.SMSLimits, time.Time) error {
	return errBroken
}

func TestCancelRemovesTheChallenge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	if err := f.eng.Cancel(ctx, c.ID, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Get(ctx, c.ID, alice); !errors.Is(err, challenge.ErrUnknown) {
		t.Fatalf("Get after Cancel = %v", err)
	}
}

func TestEventsNeverCarrySecrets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodSMS); err != nil {
		t.Fatal(err)
	}
	code := f.sms.last(t).Code
	f.eng.Verify(ctx, c.ID, alice, "000000")
	f.eng.Verify(ctx, c.ID, alice, code)
	var kinds []string
	for _, e := range *f.events {
		kinds = append(kinds, string(e.Kind))
		if strings.Contains(fmtEvent(e), code) || strings.Contains(fmtEvent(e), aliceKeyHex) {
			t.Fatalf("event %+v carries a secret", e)
		}
	}
	if got := strings.Join(kinds, ","); got != "issued,method_begun,wrong_answer,confirmed" {
		t.Fatalf("events = %s", got)
	}
}

func fmtEvent(e challenge.Event) string { b, _ := json.Marshal(e); return string(b) }

func TestNewRejectsBadConfig(t *testing.T) {
	dir, _ := challenge.ParseDirectory([]byte(usersJSON))
	tests := []struct {
		name string
		cfg  challenge.Config
	}{
		{"no directory", challenge.Config{Secret: make([]byte, 32)}},
		{"short secret", challenge.Config{Directory: dir, Secret: make([]byte, 8)}},
		{"question too short", challenge.Config{Directory: dir, Secret: make([]byte, 32), QuestionLength: 3}},
		{"code too long", challenge.Config{Directory: dir, Secret: make([]byte, 32), CodeLength: 11}},
		{"negative window", challenge.Config{Directory: dir, Secret: make([]byte, 32), TimeWindow: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := challenge.New(tt.cfg); err == nil {
				t.Fatal("New accepted a bad config")
			}
		})
	}
}

func TestFormTokenIsBoundToChallengeAndSession(t *testing.T) {
	f := newFixture(t)
	tok := f.eng.FormToken("AAAAAAAAAAAAAAAAAAAAAA", alice)
	tests := []struct {
		name  string
		id    string
		who   challenge.Subject
		token string
		ok    bool
	}{
		{"same challenge and session", "AAAAAAAAAAAAAAAAAAAAAA", alice, tok, true},
		{"another challenge", "BBBBBBBBBBBBBBBBBBBBBB", alice, tok, false},
		{"another session", "AAAAAAAAAAAAAAAAAAAAAA", challenge.Subject{User: "alice", Session: "x"}, tok, false},
		{"another user", "AAAAAAAAAAAAAAAAAAAAAA", challenge.Subject{User: "bob", Session: alice.Session}, tok, false},
		{"empty token", "AAAAAAAAAAAAAAAAAAAAAA", alice, "", false},
	}
	for _, tt := range tests {
		if got := f.eng.CheckFormToken(tt.id, tt.who, tt.token); got != tt.ok {
			t.Errorf("%s: CheckFormToken = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestConsecutiveFailuresLockTheUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Five wrong answers across two challenges (three attempts each).
	first := f.issue(t, alice)
	f.beginEnum(t, first.ID)
	for i := range 3 {
		f.eng.Verify(ctx, first.ID, alice, fmt.Sprintf("0000000%d", i))
	}
	second := f.issue(t, alice)
	answer := f.beginEnum(t, second.ID)
	if _, err := f.eng.Verify(ctx, second.ID, alice, "00000000"); !errors.As(err, new(*challenge.WrongAnswerError)) {
		t.Fatalf("fourth failure = %v, want a wrong answer", err)
	}
	var le *challenge.LockedError
	if _, err := f.eng.Verify(ctx, second.ID, alice, "00000001"); !errors.As(err, &le) || !le.Until.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("fifth failure = %v, want locked until %v", err, t0.Add(30*time.Minute))
	}
	// Locked: even the right answer, a new method or a new challenge is refused.
	if _, err := f.eng.Verify(ctx, second.ID, alice, answer); !errors.Is(err, challenge.ErrLocked) {
		t.Fatalf("right answer while locked = %v", err)
	}
	if _, err := f.eng.Begin(ctx, second.ID, alice, challenge.MethodSMS); !errors.Is(err, challenge.ErrLocked) {
		t.Fatalf("Begin while locked = %v", err)
	}
	if _, err := f.eng.Issue(ctx, challenge.Request{Subject: alice, Operation: "transfer", Stash: stash()}); !errors.Is(err, challenge.ErrLocked) {
		t.Fatalf("Issue while locked = %v", err)
	}
	if len(f.sms.msgs) != 0 {
		t.Fatal("an SMS was sent to a locked user")
	}
	// Another user is not affected; the lock lifts by itself.
	if _, err := f.eng.Issue(ctx, challenge.Request{Subject: challenge.Subject{User: "bob"}, Operation: "transfer", Stash: stash()}); err != nil {
		t.Fatalf("bob's Issue = %v", err)
	}
	f.clock.Add(30 * time.Minute)
	third := f.issue(t, alice)
	if _, err := f.eng.Verify(ctx, third.ID, alice, f.beginEnum(t, third.ID)); err != nil {
		t.Fatalf("confirmation after the lock lifted = %v", err)
	}
}

func TestASuccessResetsTheFailureRun(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for range 3 {
		c := f.issue(t, alice)
		answer := f.beginEnum(t, c.ID)
		for i := range 2 {
			f.eng.Verify(ctx, c.ID, alice, fmt.Sprintf("0000000%d", i)) // distinct: a repeated answer counts once
		}
		if _, err := f.eng.Verify(ctx, c.ID, alice, answer); err != nil {
			t.Fatalf("Verify after two failures = %v (6 failures in all, but never 5 in a row)", err)
		}
	}
}

func TestSMSLimitsOfferOtherMethods(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := range 10 {
		c := f.issue(t, alice)
		if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodSMS); err != nil {
			t.Fatalf("SMS %d = %v", i+1, err)
		}
		f.eng.Cancel(ctx, c.ID, alice) // abandoned: not pending any more
		f.clock.Add(31 * time.Second)  // past the user and phone cooldowns
	}
	c := f.issue(t, alice)
	var le *challenge.SMSLimitError
	if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodSMS); !errors.As(err, &le) || le.Limit != store.LimitUserHourly {
		t.Fatalf("eleventh SMS in the hour = %v, want the hourly limit", err)
	}
	if len(f.sms.msgs) != 10 {
		t.Fatalf("%d SMS sent, want 10", len(f.sms.msgs))
	}
	if got, _ := f.eng.Get(ctx, c.ID, alice); got.State != challenge.StateChooseMethod || got.Method != "" {
		t.Fatalf("a refused SMS changed the challenge: %+v", got)
	}
	if _, err := f.eng.Begin(ctx, c.ID, alice, challenge.MethodEnum); err != nil {
		t.Fatalf("E-num after the SMS limit = %v", err)
	}
	c2 := f.issue(t, alice)
	if _, err := f.eng.Begin(ctx, c2.ID, alice, challenge.MethodSMS); !errors.As(err, &le) {
		t.Fatalf("SMS right after another = %v", err)
	}
}

func TestStashIsSealedInTheStore(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	answer := f.beginEnum(t, c.ID)
	for _, secret := range []string{"to=Z123&amount=10.00", "s=1", "/transfer?x=1", "192.0.2.1"} {
		if f.spy.contains(secret) {
			t.Fatalf("the store was handed %q in clear", secret)
		}
	}
	conf, err := f.eng.Verify(ctx, c.ID, alice, answer)
	if err != nil || string(conf.Stash.Body) != "to=Z123&amount=10.00" {
		t.Fatalf("Verify = %+v, %v", conf, err)
	}
}

func TestTamperedStashIsNeverReplayed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, alice)
	answer := f.beginEnum(t, c.ID)
	// Someone with write access to the store flips a byte of the stash.
	rec, err := f.store.Get(ctx, c.ID, f.spy.lastOwner, t0)
	if err != nil {
		t.Fatal(err)
	}
	rec.Stash[len(rec.Stash)-1] ^= 1
	if _, err := f.eng.Verify(ctx, c.ID, alice, answer); !errors.Is(err, challenge.ErrUnavailable) {
		t.Fatalf("Verify of a tampered stash = %v, want ErrUnavailable", err)
	}
}
