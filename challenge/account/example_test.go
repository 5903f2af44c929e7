package account_test

import (
	"context"
	"fmt"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/account"
	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
)

// printSender prints where a message goes and keeps its code.
type printSender struct{ code *string }

func (p printSender) Send(_ context.Context, m challenge.Message) error {
	fmt.Println("sent to", m.To)
	*p.code = m.Code
	return nil
}

// Dave has a phone on file but no device: he verifies the phone, enrols
// the E-num app and activates it with the app's answer to the question;
// the engine then finds the device through the overlay.
func ExampleService() {
	base, _ := challenge.ParseDirectory([]byte(`{"users": [{"id": "dave", "phone": "+79000000004"}]}`))
	var code string
	svc, err := account.New(account.Config{
		Store: account.NewMemoryStore(), Base: base, Secret: []byte("a secret of at least 16 bytes"),
		SMS: printSender{&code},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	v, _ := svc.StartVerification(ctx, "dave", account.KindPhone, "+7 900 000-00-04", "en")
	fmt.Println(v.To, svc.ConfirmVerification(ctx, "dave", v.ID, code))

	e, _ := svc.StartEnrollment(ctx, "dave", "en") // the activation code goes by SMS too
	// The app enrols from the URI (a QR code) and answers the question.
	app, _ := enroll.Parse(e.URI)
	suite, _ := ocra.ParseSuite(app.Suite)
	answer, _ := suite.Compute(app.Key, ocra.Input{Question: code})
	fmt.Println(code == e.Question, svc.Activate(ctx, "dave", e.ID, answer))

	u, _ := svc.Directory().Lookup(ctx, "dave")
	fmt.Println(u.Phone, len(u.Devices), u.Devices[0].Suite)
	// Output:
	// sent to +79000000004
	// +7•••••04 <nil>
	// sent to +79000000004
	// true <nil>
	// +79000000004 1 OCRA-1:HOTP-SHA256-8:QN08
}

func ExampleNormalizePhone() {
	p, err := account.NormalizePhone("+7 (900) 000-00-04")
	fmt.Println(p, err)
	_, err = account.NormalizePhone("8 900 000 00 04")
	fmt.Println(err)
	// Output:
	// +79000000004 <nil>
	// invalid input: phone number must start with + and the country code, such as +79000000004
}
