package enroll_test

import (
	"fmt"

	"github.com/enumgate/enumgate/challenge/ocra/enroll"
)

func ExampleEnrollment_URI() {
	e := enroll.Enrollment{
		Issuer:  "Example Bank",
		Account: "alice",
		Key:     []byte("1234567890123456"), // use 32 random bytes in production
	}
	fmt.Println(e.URI())
	// Output:
	// enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&suite=OCRA-1%3AHOTP-SHA256-8%3AQN08&issuer=Example+Bank&account=alice
}

func ExampleParse() {
	e, err := enroll.Parse("enumgate://enroll?secret=gezdgnbvgy3tqojqgezdgnbvgy&issuer=Example%20Bank&account=alice")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %s %s %q\n", e.Issuer, e.Account, e.Suite, e.Key)

	_, err = enroll.Parse("enumgate://enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=Example%20Bank")
	fmt.Println(err)
	// Output:
	// Example Bank alice OCRA-1:HOTP-SHA256-8:QN08 "1234567890123456"
	// enroll: invalid enrolment: missing account parameter
}
