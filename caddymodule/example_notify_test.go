package caddymodule_test

import (
	"context"
	"fmt"

	"github.com/enumgate/enumgate/caddymodule"
)

// The account service switches the notifications on by giving the app
// a function that says, per user, which steps notify and where to.
func ExampleApp_SetNotifyPrefs() {
	var app caddymodule.App // in a module: the provisioned app, from ctx.App("enumgate")
	app.SetNotifyPrefs(func(ctx context.Context, user string) (confirmed, rejected bool, to []string, err error) {
		// E.g. from the customer's account: the switches and the primary
		// address.
		return true, true, []string{user + "@example.test"}, nil
	})
	fmt.Println("confirmed and rejected operations are e-mailed")
	// Output: confirmed and rejected operations are e-mailed
}
