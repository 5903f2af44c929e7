package caddymodule

import "testing"

// The users commands decide by the modules' interfaces, not their names,
// where a store's state lives and whether they may change the users.
// (enumgate.stores.redis and enumgate.users.redis are registered for this
// test binary by redismod_test.go.)
func TestUsersCommandsAskTheModulesWhatTheyAre(t *testing.T) {
	for backend, want := range map[string]bool{"memory": true, "redis": false, "nosuch": false} {
		if got := storeInGateway(backend); got != want {
			t.Errorf("store %s: in the gateway = %v, want %v", backend, got, want)
		}
	}
	for source, want := range map[string]bool{"file": false, "redis": true, "": false, "nosuch": false} {
		if got := managesUsers(source); got != want {
			t.Errorf("users %q: managed = %v, want %v", source, got, want)
		}
	}
}
