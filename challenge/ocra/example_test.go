package ocra_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/enumgate/enumgate/challenge/ocra"
)

func ExampleParseSuite() {
	s, err := ocra.ParseSuite("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1")
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Hash(), s.Digits(), string(s.QuestionFormat()), s.QuestionMaxLen(), s.HasCounter(), s.PINHash())

	_, err = ocra.ParseSuite("OCRA-1:HOTP-SHA256-8:QN65")
	fmt.Println(err)
	// Output:
	// SHA256 8 N 8 true SHA1
	// ocra: invalid suite "OCRA-1:HOTP-SHA256-8:QN65": "QN65": question length "65" must be two digits from 04 to 64
}

func ExampleSuite_Compute() {
	// The first vector of RFC 6287 Appendix C.1.
	s, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA1-6:QN08")
	key, _ := hex.DecodeString("3132333435363738393031323334353637383930")
	answer, err := s.Compute(key, ocra.Input{Question: "00000000"})
	if err != nil {
		panic(err)
	}
	fmt.Println(answer)

	// A suite with a counter, a PIN and a timestamp needs all three.
	s, _ = ocra.ParseSuite("OCRA-1:HOTP-SHA512-8:C-QN08-PSHA1-T1M")
	_, err = s.Compute(key, ocra.Input{Question: "12345678", Counter: 7, HasCounter: true, PIN: "1234"})
	fmt.Println(err)
	// Output:
	// 237653
	// ocra: invalid input: timestamp: missing: suite OCRA-1:HOTP-SHA512-8:C-QN08-PSHA1-T1M needs a timestamp
}

func ExampleSuite_Verify() {
	s, _ := ocra.ParseSuite(ocra.DefaultSuite)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err)
	}
	// The server asks a random question ...
	q, err := s.RandomQuestion(rand.Reader, 0)
	if err != nil {
		panic(err)
	}
	// ... the device answers it ...
	answer, _ := s.Compute(key, ocra.Input{Question: q})
	// ... and the server checks the answer.
	ok, err := s.Verify(key, ocra.Input{Question: q}, answer)
	fmt.Println(len(q), len(answer), ok, err)
	// Output: 8 8 true <nil>
}

func ExampleTimeSteps() {
	s, _ := ocra.ParseSuite("OCRA-1:HOTP-SHA512-8:QN08-T1M")
	t := time.Date(2008, 3, 25, 12, 6, 0, 0, time.UTC)
	fmt.Printf("%#x\n", ocra.TimeSteps(t, s.TimeStep()))
	// Output: 0x132d0b6
}
