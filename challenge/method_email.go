package challenge

import (
	"context"
	"fmt"

	"github.com/enumgate/enumgate/challenge/store"
)

// emailMethod mails the primary device's E-num answer to a fresh question
// (so the mail holds nothing the E-num app would not show), or a one-time
// code to a user without a device, to the user's primary address.
type emailMethod struct{}

func (emailMethod) Name() Method { return MethodEmail }

func (emailMethod) Usable(u *User) bool { return len(u.Emails) > 0 }

func (emailMethod) Destination(u *User) string { return MaskEmail(u.Emails[0]) }

func (emailMethod) Channel() string { return store.ChannelEmail }

func (emailMethod) Begin(_ context.Context, b *Beginning) error {
	u := b.User
	if len(u.Emails) == 0 {
		return fmt.Errorf("%w: no e-mail address", ErrMethodNotOffered)
	}
	code, err := b.engine.emailCode(u, b.Payment, b.Now)
	if err != nil {
		return err
	}
	if err := b.Expect(code); err != nil {
		return err
	}
	b.SentTo, b.Cooldown = MaskEmail(u.Emails[0]), b.ResendCooldown()
	b.Send(Message{Method: MethodEmail, To: u.Emails[0], Code: code})
	return nil
}
