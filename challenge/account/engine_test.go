package account_test

import (
	"testing"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
)

// The engine finds dave's activated device through the overlay and
// confirms a transfer with it; once support reset the device, it cannot.
func TestTheEngineConfirmsWithTheActivatedDevice(t *testing.T) {
	f := newFixture(t, nil)
	eng, err := challenge.New(challenge.Config{Directory: f.svc.Directory(), Secret: []byte("a secret of at least 16 bytes")})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	who := challenge.Subject{User: "dave", Session: "s"}
	issue := func() (*challenge.Challenge, error) {
		c, err := eng.Issue(ctx, challenge.Request{Subject: who, Operation: "transfer",
			Stash: &challenge.Stash{Method: "POST", URI: "/transfer"}})
		if err != nil {
			return nil, err
		}
		return eng.Begin(ctx, c.ID, who, challenge.MethodEnum)
	}
	if _, err := issue(); err == nil {
		t.Fatal("dave confirmed with E-num before enrolling")
	}

	e, _ := enroll.Parse(f.enrol(t, "dave"))
	c, err := issue()
	if err != nil {
		t.Fatal(err)
	}
	suite, _ := ocra.ParseSuite(e.Suite)
	a, _ := suite.Compute(e.Key, ocra.Input{Question: c.Question})
	if _, err := eng.Verify(ctx, c.ID, who, a); err != nil {
		t.Fatalf("Verify with the activated device: %v", err)
	}

	r, _ := f.svc.OpenRecovery(ctx, "dave", "lost")
	if _, err := f.svc.CloseRecovery(ctx, r.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := issue(); err == nil {
		t.Fatal("dave confirmed with E-num after the reset")
	}
}
