package demo

import "github.com/enumgate/enumgate/challenge"

// User is one demo user, as the gateway's users file (users.json beside
// this package) describes them. The gateway's basic_auth password of
// every demo user is "demo".
type User struct {
	// ID is the user's id and basic_auth login.
	ID string
	// Phone is the E.164 number SMS codes go to.
	Phone string
	// Email is the primary e-mail address.
	Email string
	// Suite is the OCRA suite of the user's E-num device.
	Suite string
	// Key is the E-num device's key in hexadecimal.
	Key string
}

// Users are the demo users, in the order of users.json: alice with a
// 32-byte key and bob with a 20-byte one.
var Users = []User{
	{
		ID:    "alice",
		Phone: "+79000000001",
		Email: "alice@example.test",
		Suite: challenge.DefaultSuite,
		Key:   "3132333435363738393031323334353637383930313233343536373839303132",
	},
	{
		ID:    "bob",
		Phone: "+79000000002",
		Email: "bob@example.test",
		Suite: challenge.DefaultSuite,
		Key:   "3132333435363738393031323334353637383930",
	},
}

// NewUsers are the demo users without an E-num device yet, after Users in
// users.json: dave registers and activates a device from the account page
// (/.enumgate/account).
var NewUsers = []User{
	{ID: "dave", Phone: "+79000000004", Email: "dave@example.test"},
}
