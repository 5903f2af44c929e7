package caddymodule_test

// The Redis modules live in package redismod, which imports this
// package, so only this external test package may import it. Its init
// registers enumgate.stores.redis and enumgate.users.redis for the whole
// test binary: the tests of package caddymodule itself (the users
// commands, the Caddyfile fuzz corpus) configure them too.
import _ "github.com/enumgate/enumgate/caddymodule/redismod"
