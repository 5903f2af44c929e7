package challenge_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra"
)

// A protected transfer confirmed with E-num: issue a challenge for the
// stashed request, show the question, let the E-num app answer it, verify,
// and replay the stash.
func ExampleEngine() {
	dir, err := challenge.ParseDirectory([]byte(`{"users": [{"id": "alice", "devices": [
		{"suite": "OCRA-1:HOTP-SHA256-8:QN08", "key": "3132333435363738393031323334353637383930313233343536373839303132"}]}]}`))
	if err != nil {
		panic(err)
	}
	eng, err := challenge.New(challenge.Config{Directory: dir, Secret: []byte("a secret of at least 16 bytes")})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	ctx := context.Background()
	who := challenge.Subject{User: "alice", Session: "cookie-value"}

	c, _ := eng.Issue(ctx, challenge.Request{
		Subject: who, Operation: "transfer", Amount: "10.00", Payee: "Z123",
		Stash: &challenge.Stash{Method: "POST", URI: "/transfer", Body: []byte("to=Z123&amount=10.00")},
	})
	c, _ = eng.Begin(ctx, c.ID, who, challenge.MethodEnum)

	// The E-num app on alice's phone computes the answer.
	suite, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA256-8:QN08")
	answer, _ := suite.Compute([]byte("12345678901234567890123456789012"), ocra.Input{Question: c.Question})

	conf, err := eng.Verify(ctx, c.ID, who, answer)
	fmt.Println(err, conf.Method, conf.Stash.Method, conf.Stash.URI, string(conf.Stash.Body))

	// The caller forwards conf.Stash with conf.Header; the upstream answered.
	eng.Settle(ctx, conf, true)

	// The same answer again never confirms twice.
	_, err = eng.Verify(ctx, c.ID, who, answer)
	var done *challenge.AlreadyConfirmedError
	fmt.Println(errors.As(err, &done), done.Delivered)
	// Output:
	// <nil> enum POST /transfer to=Z123&amount=10.00
	// true true
}

func ExampleNormalizeAnswer() {
	a, _ := challenge.NormalizeAnswer(" 1234-5678 ")
	fmt.Println(a)
	// Output: 12345678
}

// Four-eyes approval: alice's confirmed transfer waits until bob, who
// confirmed the approval with his own E-num, approves it; only then is
// the stash handed back, with both signed headers.
func ExampleEngine_Approve() {
	dir, err := challenge.ParseDirectory([]byte(`{"users": [{"id": "alice", "devices": [
		{"suite": "OCRA-1:HOTP-SHA256-8:QN08", "key": "3132333435363738393031323334353637383930313233343536373839303132"}]}]}`))
	if err != nil {
		panic(err)
	}
	eng, err := challenge.New(challenge.Config{Directory: dir, Secret: []byte("a secret of at least 16 bytes")})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	ctx := context.Background()
	who := challenge.Subject{User: "alice", Session: "cookie-value"}

	c, _ := eng.Issue(ctx, challenge.Request{
		Subject: who, Operation: "transfer", Amount: "5000.00", Payee: "Z123",
		Stash:    &challenge.Stash{Method: "POST", URI: "/transfer", Body: []byte("to=Z123&amount=5000.00")},
		Approval: &challenge.Approval{Group: "treasury", Approvers: []string{"bob"}},
	})
	c, _ = eng.Begin(ctx, c.ID, who, challenge.MethodEnum)
	suite, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA256-8:QN08")
	answer, _ := suite.Compute([]byte("12345678901234567890123456789012"), ocra.Input{Question: c.Question})

	_, err = eng.Verify(ctx, c.ID, who, answer)
	fmt.Println(errors.Is(err, challenge.ErrAwaitingApproval))

	pending, _ := eng.Approvals(ctx, "bob")
	fmt.Println(len(pending), pending[0].User, pending[0].Amount, pending[0].Payee)

	conf, _ := eng.Approve(ctx, c.ID, "bob", challenge.MethodEnum)
	fmt.Println(conf.User, conf.Approver, string(conf.Stash.Body), conf.ApprovalHeader != "")
	eng.Settle(ctx, conf, true)
	// Output:
	// true
	// 1 alice 5000.00 Z123
	// alice bob to=Z123&amount=5000.00 true
}
