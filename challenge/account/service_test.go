package account_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/account"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
)

func TestDaveRegistersAndActivatesADevice(t *testing.T) {
	f := newFixture(t, nil)
	v, err := f.svc.View(ctx, "dave")
	if err != nil {
		t.Fatal(err)
	}
	if !v.NeedsRegistration || v.Phone != "+79000000004" || !v.PhoneOnFile || len(v.Emails) != 1 || !v.Emails[0].OnFile {
		t.Fatalf("dave before registering: %+v", v)
	}

	// The phone, by SMS.
	ver, err := f.svc.StartVerification(ctx, "dave", account.KindPhone, "+7 900 000-00-04", "ru")
	if err != nil {
		t.Fatal(err)
	}
	sms := f.sms.last(t)
	if sms.To != "+79000000004" || ver.To != "+7•••••04" || sms.Lang != "ru" || !strings.Contains(sms.Text, sms.Code) || len(sms.Code) != 6 {
		t.Fatalf("verification %+v sent %+v", ver, sms)
	}
	var wrong *account.WrongCodeError
	if err := f.svc.ConfirmVerification(ctx, "dave", ver.ID, "000000x"); !errors.Is(err, account.ErrInvalid) {
		t.Fatalf("a malformed code: %v, want ErrInvalid", err)
	}
	bad := "000000"
	if sms.Code == bad {
		bad = "111111"
	}
	if err := f.svc.ConfirmVerification(ctx, "dave", ver.ID, bad); !errors.As(err, &wrong) || wrong.AttemptsLeft != 2 {
		t.Fatalf("a wrong code: %v, want 2 attempts left", err)
	}
	is(t, "the right code", f.svc.ConfirmVerification(ctx, "dave", ver.ID, sms.Code), nil)
	is(t, "the right code again", f.svc.ConfirmVerification(ctx, "dave", ver.ID, sms.Code), account.ErrUnknownVerification)

	// The address, by e-mail.
	f.verify(t, "dave", account.KindEmail, "dave@EXAMPLE.test")
	if m := f.mail.last(t); m.Subject == "" || m.To != "dave@example.test" || m.Method != challenge.MethodEmail {
		t.Fatalf("verification mail %+v", m)
	}
	v, _ = f.svc.View(ctx, "dave")
	if v.NeedsRegistration || v.PhoneOnFile || len(v.Emails) != 1 || v.Emails[0] != (account.Email{Address: "dave@example.test", Primary: true}) {
		t.Fatalf("dave after verifying: %+v", v)
	}

	// The device: URI and question, activation code by SMS.
	sent := f.sms.count()
	e, err := f.svc.StartEnrollment(ctx, "dave", "en")
	if err != nil {
		t.Fatal(err)
	}
	if f.sms.count() != sent+1 || f.sms.last(t).Code != e.Question || len(e.Question) != 8 || e.AttemptsLeft != 3 || len(e.ID) != 22 {
		t.Fatalf("enrolment %+v, activation SMS %+v", e, f.sms.last(t))
	}
	parsed, err := enroll.Parse(e.URI)
	if err != nil || parsed.Account != "dave" || parsed.Issuer != "Demo Bank" || len(parsed.Key) != 32 || parsed.Suite != challenge.DefaultSuite {
		t.Fatalf("enrolment URI %v: %+v", err, parsed)
	}
	if u, _ := f.svc.Directory().Lookup(ctx, "dave"); len(u.Devices) != 0 {
		t.Fatal("the device is usable before activation")
	}
	v, _ = f.svc.View(ctx, "dave")
	if v.Enrollment == nil || v.Enrollment.ID != e.ID || v.Enrollment.URI != "" || v.Enrollment.Question != e.Question {
		t.Fatalf("the view's pending enrolment: %+v", v.Enrollment)
	}
	right := answer(t, e.URI, e.Question)
	wrongAnswer := "00000000"
	if right == wrongAnswer {
		wrongAnswer = "11111111"
	}
	if err := f.svc.Activate(ctx, "dave", e.ID, wrongAnswer); !errors.As(err, &wrong) || wrong.AttemptsLeft != 2 {
		t.Fatalf("a wrong answer: %v", err)
	}
	is(t, "the right answer", f.svc.Activate(ctx, "dave", e.ID, right), nil)
	is(t, "the right answer again", f.svc.Activate(ctx, "dave", e.ID, right), account.ErrUnknownEnrollment)

	u, err := f.svc.Directory().Lookup(ctx, "dave")
	if err != nil || len(u.Devices) != 1 || !bytes.Equal(u.Devices[0].Key, parsed.Key) || u.Devices[0].Suite.String() != challenge.DefaultSuite {
		t.Fatalf("dave's overlaid user: %+v, %v", u, err)
	}
	if u.Phone != "+79000000004" || strings.Join(u.Emails, ",") != "dave@example.test" {
		t.Fatalf("dave's overlaid contacts: %+v", u)
	}
	v, _ = f.svc.View(ctx, "dave")
	if len(v.Devices) != 1 || v.Devices[0].Name != "phone" || v.Devices[0].Enrolled.IsZero() || v.Enrollment != nil {
		t.Fatalf("dave's view after activation: %+v", v)
	}
	want := []challenge.EventKind{account.EventContactAdded, account.EventContactAdded, account.EventEnrollmentStarted, account.EventDeviceActivated}
	if got := f.kinds(); !equalKinds(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func equalKinds(a, b []challenge.EventKind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStartVerificationRefuses(t *testing.T) {
	f := newFixture(t, nil)
	f.verify(t, "alice", account.KindPhone, "+79000000101")
	f.verify(t, "alice", account.KindEmail, "alice2@example.test")
	cases := []struct {
		name, user, kind, value string
		want                    error
	}{
		{"an unknown user", "mallory", account.KindPhone, "+79000000102", challenge.ErrNoUser},
		{"an unknown kind", "bob", "fax", "+79000000102", account.ErrInvalid},
		{"a phone without +", "bob", account.KindPhone, "89000000102", account.ErrInvalid},
		{"a short phone", "bob", account.KindPhone, "+7900000", account.ErrInvalid},
		{"letters in a phone", "bob", account.KindPhone, "+7900000010x", account.ErrInvalid},
		{"an address with a name", "bob", account.KindEmail, "Bob <b@example.test>", account.ErrInvalid},
		{"an address too long", "bob", account.KindEmail, strings.Repeat("b", 250) + "@x.test", account.ErrInvalid},
		{"another user's phone", "bob", account.KindPhone, "+7 900 000 01 01", account.ErrTaken},
		{"another user's address", "bob", account.KindEmail, "alice2@EXAMPLE.TEST", account.ErrTaken},
		{"one's own verified phone", "alice", account.KindPhone, "+79000000101", account.ErrInvalid},
		{"one's own verified address", "alice", account.KindEmail, "alice2@example.test", account.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sent := f.sms.count() + f.mail.count()
			_, err := f.svc.StartVerification(ctx, c.user, c.kind, c.value, "en")
			is(t, c.name, err, c.want)
			if f.sms.count()+f.mail.count() != sent {
				t.Fatal("a refused verification sent a message")
			}
		})
	}
}

func TestVerificationCodesLapse(t *testing.T) {
	cases := []struct {
		name string
		do   func(f *fixture, id, code string) error
		want error
	}{
		{"after the code's lifetime", func(f *fixture, id, code string) error {
			f.clock.Advance(account.DefaultCodeTTL)
			return f.svc.ConfirmVerification(ctx, "bob", id, code)
		}, account.ErrUnknownVerification},
		{"after three wrong codes", func(f *fixture, id, code string) error {
			for range 3 {
				f.svc.ConfirmVerification(ctx, "bob", id, "9"+code[1:]+"9")
			}
			return f.svc.ConfirmVerification(ctx, "bob", id, code)
		}, account.ErrUnknownVerification},
		{"for another user", func(f *fixture, id, code string) error {
			return f.svc.ConfirmVerification(ctx, "alice", id, code)
		}, account.ErrUnknownVerification},
		{"for a malformed id", func(f *fixture, id, code string) error {
			return f.svc.ConfirmVerification(ctx, "bob", id+"x", code)
		}, account.ErrUnknownVerification},
		{"once replaced by a resend", func(f *fixture, id, code string) error {
			f.clock.Advance(account.ResendCooldown)
			if _, err := f.svc.StartVerification(ctx, "bob", account.KindPhone, "+79000000202", "en"); err != nil {
				return err
			}
			return f.svc.ConfirmVerification(ctx, "bob", id, code)
		}, account.ErrUnknownVerification},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			v, err := f.svc.StartVerification(ctx, "bob", account.KindPhone, "+79000000202", "en")
			if err != nil {
				t.Fatal(err)
			}
			is(t, c.name, c.do(f, v.ID, f.sms.last(t).Code), c.want)
		})
	}
}

func TestResendingWaitsForTheCooldown(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.svc.StartVerification(ctx, "bob", account.KindEmail, "bob2@example.test", "en"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Second)
	var wait *account.WaitError
	if _, err := f.svc.StartVerification(ctx, "bob", account.KindEmail, "bob2@example.test", "en"); !errors.As(err, &wait) || wait.Wait != 20*time.Second {
		t.Fatalf("resend after 10s: %v, want to wait 20s", err)
	}
	if _, err := f.svc.StartVerification(ctx, "bob", account.KindPhone, "+79000000202", "en"); err != nil {
		t.Fatalf("the phone has its own cooldown: %v", err)
	}
	f.clock.Advance(20 * time.Second)
	v, err := f.svc.StartVerification(ctx, "bob", account.KindEmail, "bob2@example.test", "en")
	if err != nil {
		t.Fatal(err)
	}
	is(t, "the resent code", f.svc.ConfirmVerification(ctx, "bob", v.ID, f.mail.last(t).Code), nil)
}

func TestASenderFailureSendsNoWorkingCode(t *testing.T) {
	f := newFixture(t, nil)
	f.sms.failing = true
	_, err := f.svc.StartVerification(ctx, "bob", account.KindPhone, "+79000000202", "en")
	if !errors.Is(err, account.ErrUnavailable) {
		t.Fatalf("StartVerification with the sender down: %v, want ErrUnavailable", err)
	}
	f.sms.failing = false
	if _, err := f.svc.StartVerification(ctx, "bob", account.KindPhone, "+79000000202", "en"); err != nil {
		t.Fatalf("a failed send takes no cooldown: %v", err)
	}
}

func TestChangingThePhoneReleasesTheOldOne(t *testing.T) {
	f := newFixture(t, nil)
	f.verify(t, "bob", account.KindPhone, "+79000000301")
	f.verify(t, "bob", account.KindPhone, "+79000000302")
	if u, _ := f.svc.Directory().Lookup(ctx, "bob"); u.Phone != "+79000000302" {
		t.Fatalf("bob's phone %q", u.Phone)
	}
	f.verify(t, "dave", account.KindPhone, "+79000000301") // free again
	if _, err := f.svc.StartVerification(ctx, "dave", account.KindPhone, "+79000000302", "en"); !errors.Is(err, account.ErrTaken) {
		t.Fatalf("bob's new phone: %v, want ErrTaken", err)
	}
}

func TestAddressesAddRemoveAndPrimary(t *testing.T) {
	f := newFixture(t, nil)
	addrs := func(user string) string {
		v, err := f.svc.View(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, e := range v.Emails {
			a := e.Address
			if e.Primary {
				a += "*"
			}
			if e.OnFile {
				a += "(file)"
			}
			s = append(s, a)
		}
		return strings.Join(s, " ")
	}
	steps := []struct {
		name string
		do   func() error
		want error
		then string
	}{
		{"on file at first", func() error { return nil }, nil, "alice@example.test*(file)"},
		{"on file cannot be primary", func() error { return f.svc.MakePrimary(ctx, "alice", "alice@example.test") }, account.ErrInvalid, "alice@example.test*(file)"},
		{"the first verified becomes primary", func() error { f.verify(t, "alice", account.KindEmail, "a1@example.test"); return nil }, nil, "a1@example.test* alice@example.test(file)"},
		{"the next is additional", func() error { f.verify(t, "alice", account.KindEmail, "a2@example.test"); return nil }, nil, "a1@example.test* alice@example.test(file) a2@example.test"},
		{"make primary", func() error { return f.svc.MakePrimary(ctx, "alice", "a2@EXAMPLE.test") }, nil, "a2@example.test* a1@example.test alice@example.test(file)"},
		{"an unknown address", func() error { return f.svc.MakePrimary(ctx, "alice", "zz@example.test") }, account.ErrInvalid, "a2@example.test* a1@example.test alice@example.test(file)"},
		{"remove the primary", func() error { return f.svc.RemoveEmail(ctx, "alice", "a2@example.test") }, nil, "a1@example.test* alice@example.test(file)"},
		{"remove on file", func() error { return f.svc.RemoveEmail(ctx, "alice", "alice@example.test") }, nil, "a1@example.test*"},
		{"remove the last (alice has a phone)", func() error { return f.svc.RemoveEmail(ctx, "alice", "a1@example.test") }, nil, ""},
		{"verifying the one on file makes it verified", func() error { f.verify(t, "erin", account.KindEmail, "erin@example.test"); return nil }, nil, ""},
	}
	for _, s := range steps {
		is(t, s.name, s.do(), s.want)
		if s.name == "verifying the one on file makes it verified" {
			if got := addrs("erin"); got != "erin@example.test*" {
				t.Fatalf("%s: erin's addresses %q", s.name, got)
			}
			continue
		}
		if got := addrs("alice"); got != s.then {
			t.Fatalf("%s: alice's addresses %q, want %q", s.name, got, s.then)
		}
	}
	if u, _ := f.svc.Directory().Lookup(ctx, "alice"); len(u.Emails) != 0 {
		t.Fatalf("alice's overlaid addresses %v, want none", u.Emails)
	}
	is(t, "erin's last contact", f.svc.RemoveEmail(ctx, "erin", "erin@example.test"), account.ErrLastContact)
	f.verify(t, "dave", account.KindEmail, "a2@example.test") // released by alice
}

func TestNotificationSwitches(t *testing.T) {
	f := newFixture(t, nil)
	n, to, err := f.svc.Notify(ctx, "alice")
	if err != nil || n != account.DefaultNotify || strings.Join(to, ",") != "alice@example.test" {
		t.Fatalf("defaults: %+v %v %v", n, to, err)
	}
	f.verify(t, "alice", account.KindEmail, "a1@example.test")
	cases := []struct {
		set  account.Notify
		want string
	}{
		{account.Notify{Confirmed: true}, "a1@example.test"},
		{account.Notify{Rejected: true, AdditionalAddresses: true}, "a1@example.test,alice@example.test"},
		{account.Notify{}, "a1@example.test"},
	}
	for _, c := range cases {
		is(t, "SetNotify", f.svc.SetNotify(ctx, "alice", c.set), nil)
		n, to, _ := f.svc.Notify(ctx, "alice")
		if n != c.set || strings.Join(to, ",") != c.want {
			t.Fatalf("after SetNotify(%+v): %+v to %v, want %s", c.set, n, to, c.want)
		}
	}
	if b, _ := json.Marshal(account.Notify{Confirmed: true}); string(b) != `{"confirmed":true,"rejected":false,"additional_addresses":false}` {
		t.Fatalf("Notify JSON %s", b)
	}
	_, _, err = f.svc.Notify(ctx, "mallory")
	is(t, "an unknown user", err, challenge.ErrNoUser)
}

func TestDevicesReplaceAndRemove(t *testing.T) {
	f := newFixture(t, nil)
	u, _ := f.svc.Directory().Lookup(ctx, "alice")
	baseKey := u.Devices[0].Key
	uri := f.enrol(t, "alice")
	u, _ = f.svc.Directory().Lookup(ctx, "alice")
	e, _ := enroll.Parse(uri)
	if len(u.Devices) != 1 || !bytes.Equal(u.Devices[0].Key, e.Key) || bytes.Equal(e.Key, baseKey) {
		t.Fatal("the activated device does not replace the directory's")
	}
	is(t, "RemoveDevice", f.svc.RemoveDevice(ctx, "alice"), nil)
	if u, _ = f.svc.Directory().Lookup(ctx, "alice"); len(u.Devices) != 0 || u.Phone == "" {
		t.Fatalf("after RemoveDevice: %+v", u)
	}
}

func TestEnrollmentLapses(t *testing.T) {
	cases := []struct {
		name string
		do   func(f *fixture, e *account.Enrollment) error
		want error
	}{
		{"after its lifetime", func(f *fixture, e *account.Enrollment) error {
			f.clock.Advance(account.DefaultEnrollTTL)
			return f.svc.Activate(ctx, "dave", e.ID, answer(t, e.URI, e.Question))
		}, account.ErrUnknownEnrollment},
		{"once replaced", func(f *fixture, e *account.Enrollment) error {
			if _, err := f.svc.StartEnrollment(ctx, "dave", "en"); err != nil {
				return err
			}
			return f.svc.Activate(ctx, "dave", e.ID, answer(t, e.URI, e.Question))
		}, account.ErrUnknownEnrollment},
		{"after three wrong answers", func(f *fixture, e *account.Enrollment) error {
			for range 3 {
				f.svc.Activate(ctx, "dave", e.ID, "1234567")
			}
			return f.svc.Activate(ctx, "dave", e.ID, answer(t, e.URI, e.Question))
		}, account.ErrUnknownEnrollment},
		{"for another user", func(f *fixture, e *account.Enrollment) error {
			return f.svc.Activate(ctx, "alice", e.ID, answer(t, e.URI, e.Question))
		}, account.ErrUnknownEnrollment},
		{"with a verification's code path", func(f *fixture, e *account.Enrollment) error {
			return f.svc.ConfirmVerification(ctx, "dave", e.ID, answer(t, e.URI, e.Question))
		}, account.ErrUnknownVerification},
		{"with letters", func(f *fixture, e *account.Enrollment) error {
			return f.svc.Activate(ctx, "dave", e.ID, "12#4")
		}, account.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			e, err := f.svc.StartEnrollment(ctx, "dave", "en")
			if err != nil {
				t.Fatal(err)
			}
			is(t, c.name, c.do(f, e), c.want)
			if u, _ := f.svc.Directory().Lookup(ctx, "dave"); len(u.Devices) != 0 {
				t.Fatal("a device became usable")
			}
		})
	}
}

func TestActivationSMS(t *testing.T) {
	f := newFixture(t, nil)
	e, _ := f.svc.StartEnrollment(ctx, "dave", "en")
	var wait *account.WaitError
	if err := f.svc.ResendActivation(ctx, "dave", e.ID, "en"); !errors.As(err, &wait) {
		t.Fatalf("resend at once: %v, want *WaitError", err)
	}
	e2, _ := f.svc.StartEnrollment(ctx, "dave", "en")
	if f.sms.count() != 1 {
		t.Fatalf("a second Start within the cooldown sent %d SMS, want 1 in all", f.sms.count())
	}
	f.clock.Advance(account.ResendCooldown)
	is(t, "resend of the replaced enrolment", f.svc.ResendActivation(ctx, "dave", e.ID, "en"), account.ErrUnknownEnrollment)
	is(t, "resend after the cooldown", f.svc.ResendActivation(ctx, "dave", e2.ID, "ru"), nil)
	if m := f.sms.last(t); m.Code != e2.Question || m.Lang != "ru" || m.To != "+79000000004" {
		t.Fatalf("resent %+v", m)
	}
	// Without a phone nothing is sent, and Start still works.
	fe, err := f.svc.StartEnrollment(ctx, "erin", "en")
	if err != nil || f.sms.count() != 2 {
		t.Fatalf("erin's enrolment: %v, %d SMS", err, f.sms.count())
	}
	is(t, "erin's resend", f.svc.ResendActivation(ctx, "erin", fe.ID, "en"), account.ErrInvalid)
	// A failing SMS does not fail Start.
	f.sms.failing = true
	if _, err := f.svc.StartEnrollment(ctx, "bob", "en"); err != nil {
		t.Fatalf("Start with the SMS sender down: %v", err)
	}
}

func TestRecoveryThroughSupport(t *testing.T) {
	f := newFixture(t, nil)
	e, _ := f.svc.StartEnrollment(ctx, "alice", "en")
	r, err := f.svc.OpenRecovery(ctx, "alice", "Lost my phone\r\non the train")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != account.RecoveryOpen || r.Reason != "Lost my phone\non the train" || r.Contact != "+7•••••01" || r.User != "alice" || len(r.ID) != 22 {
		t.Fatalf("opened %+v", r)
	}
	var open *account.RecoveryOpenError
	if _, err := f.svc.OpenRecovery(ctx, "alice", "again"); !errors.As(err, &open) || open.Recovery.ID != r.ID || !errors.Is(err, account.ErrRecoveryOpen) {
		t.Fatalf("a second request: %v", err)
	}
	if v, _ := f.svc.View(ctx, "alice"); v.Recovery == nil || v.Recovery.ID != r.ID {
		t.Fatalf("the view's recovery: %+v", v.Recovery)
	}
	// A pending request weakens nothing: the device still answers.
	if u, _ := f.svc.Directory().Lookup(ctx, "alice"); len(u.Devices) != 1 {
		t.Fatal("an open request changed the devices")
	}
	f.clock.Advance(time.Second)
	rb, _ := f.svc.OpenRecovery(ctx, "bob", "")
	list, err := f.svc.Recoveries(ctx, true)
	if err != nil || len(list) != 2 || list[0].ID != r.ID || list[1].ID != rb.ID {
		t.Fatalf("open requests %+v, %v", list, err)
	}

	closed, err := f.svc.CloseRecovery(ctx, r.ID, true, "identity checked by phone call")
	if err != nil {
		t.Fatal(err)
	}
	if closed.State != account.RecoveryClosed || !closed.ResetDevice || closed.Closed.IsZero() || closed.Note == "" {
		t.Fatalf("closed %+v", closed)
	}
	if u, _ := f.svc.Directory().Lookup(ctx, "alice"); len(u.Devices) != 0 {
		t.Fatal("the reset left a device")
	}
	is(t, "the enrolment pending before the reset", f.svc.Activate(ctx, "alice", e.ID, answer(t, e.URI, e.Question)), account.ErrUnknownEnrollment)
	_, err = f.svc.CloseRecovery(ctx, r.ID, true, "")
	is(t, "closing twice", err, account.ErrInvalid)
	list, _ = f.svc.Recoveries(ctx, true)
	all, _ := f.svc.Recoveries(ctx, false)
	if len(list) != 1 || len(all) != 2 {
		t.Fatalf("%d open and %d in all, want 1 and 2", len(list), len(all))
	}
	got, err := f.svc.Recovery(ctx, r.ID)
	if err != nil || got.State != account.RecoveryClosed {
		t.Fatalf("Recovery = %+v, %v", got, err)
	}
	if v, _ := f.svc.View(ctx, "alice"); v.Recovery != nil || !v.NeedsRegistration {
		t.Fatalf("the view after closing: %+v", v)
	}
	// Alice enrols anew, and may open another request later.
	f.enrol(t, "alice")
	if _, err := f.svc.OpenRecovery(ctx, "alice", "lost it again"); err != nil {
		t.Fatal(err)
	}
	kinds := f.kinds()
	for _, k := range []challenge.EventKind{account.EventRecoveryOpened, account.EventRecoveryClosed, account.EventDeviceRemoved} {
		if !strings.Contains(kindsString(kinds), string(k)) {
			t.Fatalf("no %s event in %v", k, kinds)
		}
	}
}

func kindsString(ks []challenge.EventKind) string {
	var b strings.Builder
	for _, k := range ks {
		b.WriteString(string(k) + " ")
	}
	return b.String()
}

func TestRecoveryRefuses(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"a control character", second(f.svc.OpenRecovery(ctx, "alice", "lost\x1b[31m")), account.ErrInvalid},
		{"an invisible character", second(f.svc.OpenRecovery(ctx, "alice", "lost\u200b")), account.ErrInvalid},
		{"501 characters", second(f.svc.OpenRecovery(ctx, "alice", strings.Repeat("я", 501))), account.ErrInvalid},
		{"invalid UTF-8", second(f.svc.OpenRecovery(ctx, "alice", "\xff")), account.ErrInvalid},
		{"an unknown user", second(f.svc.OpenRecovery(ctx, "mallory", "")), challenge.ErrNoUser},
		{"an unknown id", second(f.svc.Recovery(ctx, "AAAAAAAAAAAAAAAAAAAAAA")), account.ErrUnknownRecovery},
		{"a malformed id", second(f.svc.CloseRecovery(ctx, "../x", false, "")), account.ErrUnknownRecovery},
	}
	for _, c := range cases {
		is(t, c.name, c.err, c.want)
	}
	if _, err := f.svc.OpenRecovery(ctx, "alice", strings.Repeat("я", 500)); err != nil {
		t.Fatalf("500 characters: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestNoSecretLeavesTheService(t *testing.T) {
	f := newFixture(t, nil)
	f.verify(t, "dave", account.KindPhone, "+79000000004")
	f.verify(t, "dave", account.KindEmail, "dave@example.test")
	uri := f.enrol(t, "dave")
	e, _ := enroll.Parse(uri)
	codes := []string{f.sms.msgs[0].Code, f.mail.msgs[0].Code}

	st, _ := f.store.Load(ctx, "dave")
	raw, _ := json.Marshal(st)
	if bytes.Contains(raw, e.Key) || strings.Contains(string(raw), strings.Split(strings.Split(uri, "secret=")[1], "&")[0]) {
		t.Fatal("the state holds the device key in clear")
	}
	for _, ev := range f.events {
		s := ev.Detail + ev.Reason
		for _, c := range codes {
			if strings.Contains(s, c) {
				t.Fatalf("event %s carries a code: %q", ev.Kind, s)
			}
		}
		if digits.MatchString(s) {
			t.Fatalf("event %s carries digits: %q", ev.Kind, s)
		}
		if ev.User != "dave" || ev.Time.IsZero() || ev.ClientIP != "192.0.2.7" {
			t.Fatalf("event %+v", ev)
		}
	}

	// A sealed key moved to another user, or read with another secret,
	// fails closed (not as an unknown user).
	f.store.Update(ctx, "alice", func(a *account.State) error {
		a.DevicesSet, a.Devices = true, st.Devices
		return nil
	})
	_, err := f.svc.Directory().Lookup(ctx, "alice")
	if !errors.Is(err, account.ErrUnavailable) || errors.Is(err, challenge.ErrNoUser) {
		t.Fatalf("a moved key: %v, want ErrUnavailable", err)
	}
	base, _ := challenge.ParseDirectory([]byte(users))
	other, _ := account.New(account.Config{Store: f.store, Base: base, Secret: []byte("another secret of 16 bytes")})
	if _, err := other.Directory().Lookup(ctx, "dave"); !errors.Is(err, account.ErrUnavailable) {
		t.Fatalf("another secret: %v, want ErrUnavailable", err)
	}
}

func TestNewRefusesABadConfig(t *testing.T) {
	base, _ := challenge.ParseDirectory([]byte(users))
	store := account.NewMemoryStore()
	secret := []byte("a secret of at least 16 bytes")
	cases := []struct {
		name string
		cfg  account.Config
	}{
		{"no store", account.Config{Base: base, Secret: secret}},
		{"no directory", account.Config{Store: store, Secret: secret}},
		{"a short secret", account.Config{Store: store, Base: base, Secret: []byte("short")}},
		{"a counter suite", account.Config{Store: store, Base: base, Secret: secret, Suite: "OCRA-1:HOTP-SHA1-6:C-QN08"}},
		{"a PIN suite", account.Config{Store: store, Base: base, Secret: secret, Suite: "OCRA-1:HOTP-SHA1-6:QN08-PSHA1"}},
		{"a time suite", account.Config{Store: store, Base: base, Secret: secret, Suite: "OCRA-1:HOTP-SHA512-8:QN08-T1M"}},
		{"a bad suite", account.Config{Store: store, Base: base, Secret: secret, Suite: "OCRA-2"}},
		{"3-digit codes", account.Config{Store: store, Base: base, Secret: secret, CodeLength: 3}},
	}
	for _, c := range cases {
		if _, err := account.New(c.cfg); err == nil {
			t.Errorf("%s: New accepted it", c.name)
		}
	}
	svc, err := account.New(account.Config{Store: store, Base: base, Secret: secret, Suite: "OCRA-1:HOTP-SHA512-8:QN08"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := svc.StartEnrollment(ctx, "erin", "en")
	if k, _ := enroll.Parse(e.URI); err != nil || len(k.Key) != 64 {
		t.Fatalf("a SHA512 suite's key: %v", err)
	}
}

func TestConcurrentRecoveryRequestsOpenOne(t *testing.T) {
	f := newFixture(t, nil)
	var wg sync.WaitGroup
	var opened, refused atomic.Int32
	for range 8 {
		wg.Go(func() {
			_, err := f.svc.OpenRecovery(ctx, "bob", "lost")
			switch {
			case err == nil:
				opened.Add(1)
			case errors.Is(err, account.ErrRecoveryOpen):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	list, _ := f.svc.Recoveries(ctx, true)
	if opened.Load() != 1 || refused.Load() != 7 || len(list) != 1 {
		t.Fatalf("%d opened, %d refused, %d listed; want 1, 7, 1", opened.Load(), refused.Load(), len(list))
	}
}
