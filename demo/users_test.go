package demo

import (
	"context"
	"encoding/hex"
	"os"
	"testing"

	"github.com/enumgate/enumgate/challenge"
)

// TestUsersJSON checks that users.json, the gateway's users file for the
// demo, parses and says what Users says.
func TestUsersJSON(t *testing.T) {
	data, err := os.ReadFile("users.json")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := challenge.ParseDirectory(data)
	if err != nil {
		t.Fatalf("ParseDirectory: %v", err)
	}
	if dir.Len() != len(Users)+len(NewUsers) {
		t.Errorf("users.json has %d users, Users and NewUsers have %d", dir.Len(), len(Users)+len(NewUsers))
	}
	for _, want := range NewUsers {
		u, err := dir.Lookup(context.Background(), want.ID)
		if err != nil || u.Phone != want.Phone || len(u.Emails) != 1 || u.Emails[0] != want.Email || len(u.Devices) != 0 {
			t.Errorf("%s: %+v, %v; want %+v without a device", want.ID, u, err, want)
		}
	}
	for _, want := range Users {
		u, err := dir.Lookup(context.Background(), want.ID)
		if err != nil {
			t.Errorf("%s: %v", want.ID, err)
			continue
		}
		if u.Phone != want.Phone {
			t.Errorf("%s: phone %q, want %q", want.ID, u.Phone, want.Phone)
		}
		if len(u.Emails) != 1 || u.Emails[0] != want.Email {
			t.Errorf("%s: emails %q, want [%q]", want.ID, u.Emails, want.Email)
		}
		if len(u.Devices) != 1 {
			t.Errorf("%s: %d devices, want 1", want.ID, len(u.Devices))
			continue
		}
		d := u.Devices[0]
		if d.Suite.String() != want.Suite || hex.EncodeToString(d.Key) != want.Key {
			t.Errorf("%s: device suite %s key %x, want %s %s", want.ID, d.Suite, d.Key, want.Suite, want.Key)
		}
	}
	if len(Users) != 2 || Users[0].ID != "alice" || Users[1].ID != "bob" {
		t.Errorf("Users = %+v, want alice and bob", Users)
	}
	for _, u := range Users {
		key, _ := hex.DecodeString(u.Key)
		if want := map[string]int{"alice": 32, "bob": 20}[u.ID]; len(key) != want {
			t.Errorf("%s: key is %d bytes, want %d", u.ID, len(key), want)
		}
	}
}
