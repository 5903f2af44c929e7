package redismod

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/enumgate/enumgate/caddymodule"
)

// The modules keep the IDs, JSON fields and Caddyfile syntax they had in
// package caddymodule, and the app reaches them through its interfaces.
func TestModulesRegisterUnderTheirIDs(t *testing.T) {
	info, err := caddy.GetModule("enumgate.stores.redis")
	if err != nil {
		t.Fatal(err)
	}
	st, ok := info.New().(caddymodule.SharedStoreModule)
	if !ok || !st.SharedStore() {
		t.Fatalf("enumgate.stores.redis is %T, want a shared store", info.New())
	}
	info, err = caddy.GetModule("enumgate.users.redis")
	if err != nil {
		t.Fatal(err)
	}
	u := info.New()
	if _, ok := u.(caddymodule.UserAdminModule); !ok {
		t.Errorf("enumgate.users.redis (%T) is no UserAdminModule", u)
	}
	if _, ok := u.(caddymodule.DirectoryOpener); !ok {
		t.Errorf("enumgate.users.redis (%T) is no DirectoryOpener", u)
	}
}

func TestCaddyfileSyntaxGivesTheSameJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		mod            caddyfile.Unmarshaler
	}{
		{"store", "redis redis://127.0.0.1:6379/0 {\n\tprefix eg:\n\tdb 2\n\tread_timeout 500ms\n\ttls {\n\t\tserver_name r\n\t}\n}", `{"url":"redis://127.0.0.1:6379/0","db":2,"tls":{"server_name":"r"},"prefix":"eg:","read_timeout":500000000}`, new(Store)},
		{"users", "redis {\n\tcache_size 5\n\tcache_ttl 1m\n}", `{"cache_size":5,"cache_ttl":60000000000}`, new(Users)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.mod.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in)); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(tc.mod)
			if string(got) != tc.want {
				t.Fatalf("JSON %s, want %s", got, tc.want)
			}
		})
	}
}

// users redis shares the connection of store redis and refuses any
// other store.
func TestUsersRedisNeedsStoreRedis(t *testing.T) {
	var u Users
	err := u.OpenDirectory(context.Background(), new(caddymodule.MemoryStore), [][]byte{[]byte("0123456789abcdef")})
	if err == nil || !strings.Contains(err.Error(), "users redis needs store redis") {
		t.Fatalf("OpenDirectory with the memory store = %v", err)
	}
}
