// Command enumgate is Caddy with enumgate: the standard Caddy modules, the
// enumgate app, handler, stores, user directories and senders, and the
// demo payment app. Run it like caddy:
//
//	enumgate run --config Caddyfile.example
//
// `enumgate list-modules` shows the enumgate modules next to Caddy's;
// `enumgate confirm-key` prints the key upstreams use to verify the
// Enumgate-Confirmed header; `enumgate users …` manages users kept in
// Redis.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/enumgate/enumgate"
	_ "github.com/enumgate/enumgate/demo"
)

func main() {
	caddycmd.Main()
}
