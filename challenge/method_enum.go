package challenge

import (
	"context"
	"fmt"
)

// enumMethod is E-num: the page shows a question, the customer's E-num app
// computes the answer from the device key (in payment mode over the payee
// and the amount too), and any of the user's devices may answer.
type enumMethod struct{}

func (enumMethod) Name() Method { return MethodEnum }

func (enumMethod) Usable(u *User) bool { return len(u.Devices) > 0 }

func (enumMethod) Destination(*User) string { return "" }

func (enumMethod) Begin(_ context.Context, b *Beginning) error {
	u := b.User
	if len(u.Devices) == 0 {
		return fmt.Errorf("%w: no E-num device", ErrNotEnrolled)
	}
	q, err := b.NewQuestion(u.Devices[0].Suite)
	if err != nil {
		return err
	}
	b.Question = q
	macs, err := b.engine.expectedOCRA(b.ChallengeID, u.Devices, q, b.Payment, b.Now)
	if err != nil {
		return err
	}
	b.expected = append(b.expected, macs...)
	return nil
}
