package demo

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("enumgate_demo", parseCaddyfile)
	// The app answers everything, so it goes late, just before respond;
	// with this no global "order" line is needed. Use "route" or
	// "order enumgate_demo ..." to place it elsewhere.
	httpcaddyfile.RegisterDirectiveOrder("enumgate_demo", httpcaddyfile.Before, "respond")
}

// parseCaddyfile sets up the demo app from Caddyfile tokens.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	a := new(App)
	if err := a.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return a, nil
}

// UnmarshalCaddyfile sets up the demo app from Caddyfile tokens. Syntax:
//
//	enumgate_demo [<matcher>] {
//	    secret  <secret>
//	    max_age <duration>
//	}
//
// The block is optional: without secret the ENUMGATE_SECRET environment
// variable is used; max_age defaults to 2m.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.Errf("enumgate_demo takes no arguments, got %q; settings go in a block", d.Val())
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		sub := d.Val()
		if seen[sub] {
			return d.Errf("%s given more than once", sub)
		}
		seen[sub] = true
		switch sub {
		case "secret":
			if !d.NextArg() {
				return d.Errf("secret needs a value, e.g. secret {env.ENUMGATE_SECRET}")
			}
			a.Secret = d.Val()
		case "max_age":
			if !d.NextArg() {
				return d.Errf("max_age needs a duration, e.g. max_age 2m")
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("max_age %q: %v", d.Val(), err)
			}
			if dur <= 0 {
				return d.Errf("max_age must be positive, got %q", d.Val())
			}
			a.MaxAge = caddy.Duration(dur)
		default:
			return d.Errf("unknown enumgate_demo setting %q (want secret or max_age)", sub)
		}
		if d.NextArg() {
			return d.Errf("%s takes one value, got extra %q", sub, d.Val())
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*App)(nil)
