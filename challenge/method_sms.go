package challenge

import (
	"context"
	"fmt"

	"github.com/enumgate/enumgate/challenge/store"
)

// smsMethod sends a one-time code by SMS to the user's phone.
type smsMethod struct{}

func (smsMethod) Name() Method { return MethodSMS }

func (smsMethod) Usable(u *User) bool { return u.Phone != "" }

func (smsMethod) Destination(u *User) string { return MaskPhone(u.Phone) }

func (smsMethod) Channel() string { return store.ChannelSMS }

func (smsMethod) Begin(_ context.Context, b *Beginning) error {
	u := b.User
	if u.Phone == "" {
		return fmt.Errorf("%w: no phone", ErrMethodNotOffered)
	}
	code, err := b.Code()
	if err != nil {
		return err
	}
	if err := b.Expect(code); err != nil {
		return err
	}
	b.SentTo, b.Cooldown = MaskPhone(u.Phone), b.ResendCooldown()
	b.Send(Message{Method: MethodSMS, To: u.Phone, Code: code})
	return nil
}
