package payment_test

import (
	"encoding/hex"
	"fmt"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/payment"
)

func ExampleAnswer() {
	device, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA256-8:QN08")
	key, _ := hex.DecodeString("3132333435363738393031323334353637383930313233343536373839303132")
	in := ocra.Input{Question: "48172203"}

	// The same payment, written three ways, has one answer ...
	for _, p := range [][2]string{{"Z123456789012", "10.00"}, {"123456789012", "10"}, {"z 1234 5678 9012", "010,00"}} {
		a, err := payment.Answer(device, key, in, p[0], p[1])
		if err != nil {
			panic(err)
		}
		fmt.Println(a)
	}
	// ... another amount has another, and so has the authorization mode.
	other, _ := payment.Answer(device, key, in, "Z123456789012", "10.01")
	login, _ := device.Compute(key, in)
	fmt.Println(other, login)
	// Output:
	// 92405755
	// 92405755
	// 92405755
	// 06502124 73292551
}

// The gateway prepares the payment once and derives each device's payment
// suite once, then computes one answer per device and time step.
func ExamplePayment_Input() {
	p, err := payment.Prepare("Z123456789012", "10.00")
	if err != nil {
		panic(err)
	}
	device, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA512-8:QN08-T1M")
	key, _ := hex.DecodeString("31323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132333435363738393031323334")
	ps, err := payment.PaymentSuite(device)
	if err != nil {
		panic(err) // this device has no payment mode (S or C suite)
	}
	in, _ := p.Input(ocra.Input{Question: "48172203", HasTimestamp: true})
	for _, step := range []uint64{0x132d0b5, 0x132d0b6, 0x132d0b7} {
		in.Timestamp = step
		a, _ := ps.Compute(key, in)
		fmt.Println(ps, step, len(a))
	}
	// Output:
	// OCRA-1:HOTP-SHA512-8:QN08-S064-T1M 20107445 8
	// OCRA-1:HOTP-SHA512-8:QN08-S064-T1M 20107446 8
	// OCRA-1:HOTP-SHA512-8:QN08-S064-T1M 20107447 8
}

func ExampleParseURI() {
	for _, s := range []string{
		"enum:login?challenge=4817+2203",
		"enum:payment?challenge=48172203&purse=Z123456789012&amount=10.00",
		"enum:p?c=48172203&p=z123456789012&a=010,50",
		"enum:payment?challenge=48172203&purse=Z123456789012",
	} {
		u, err := payment.ParseURI(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s %q %q %q\n", u.Mode, u.Challenge, u.Purse, u.Amount)
		if u.Mode == payment.ModePayment {
			p, _ := u.Payment()
			fmt.Println("  normalized:", p.Purse(), p.Amount(), "short form:", u.Short())
		}
	}
	// Output:
	// login "48172203" "" ""
	// payment "48172203" "Z123456789012" "10.00"
	//   normalized: 123456789012 10 short form: enum:p?c=48172203&p=Z123456789012&a=10.00
	// payment "48172203" "z123456789012" "010,50"
	//   normalized: 123456789012 10.5 short form: enum:p?c=48172203&p=z123456789012&a=010%2C50
	// payment: invalid uri: missing parameter amount
}
