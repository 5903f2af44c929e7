// Package enumgate registers every enumgate Caddy module: the enumgate
// app and handler (package caddymodule), the Redis store and user
// directory (package caddymodule/redismod) and the SMS and e-mail senders
// (package caddymodule/senders). Build a Caddy with it:
//
//	xcaddy build v2.11.9 --with github.com/enumgate/enumgate@v0.0.0=.
//
// or import it for its side effects next to Caddy's standard modules, as
// cmd/enumgate does.
package enumgate

import (
	_ "github.com/enumgate/enumgate/caddymodule"
	_ "github.com/enumgate/enumgate/caddymodule/redismod"
	_ "github.com/enumgate/enumgate/caddymodule/senders"
)
