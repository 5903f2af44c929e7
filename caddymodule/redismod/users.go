package redismod

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/enumgate/enumgate/caddymodule"
	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/userdir"
)

func init() {
	caddy.RegisterModule(Users{})
}

// Users is the user directory kept in Redis (`enumgate.users.redis`),
// next to the challenges of `store redis` and on the same connection:
// user records (phone, e-mails, devices, preferences) that operators
// manage at runtime with `enumgate users …`, device keys encrypted at rest
// under the app's secret, and a bounded in-process cache that every
// gateway invalidates when a record changes. It requires `store redis`,
// and Redis must be reachable when the config loads.
type Users struct {
	// CacheSize is the most users cached per gateway. Default 10000.
	CacheSize int `json:"cache_size,omitempty"`
	// CacheTTL is how long a cached user is trusted at most. Default 1m.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	dir *userdir.Dir
}

// CaddyModule returns the Caddy module information.
func (Users) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "enumgate.users.redis",
		New: func() caddy.Module { return new(Users) },
	}
}

// Validate checks the cache settings.
func (u *Users) Validate() error {
	if u.CacheSize < 0 || u.CacheTTL < 0 {
		return errors.New("enumgate users redis: cache_size and cache_ttl must not be negative")
	}
	return nil
}

// OpenDirectory implements caddymodule.DirectoryOpener: it connects the
// directory to the store's Redis; the app calls it once it knows the
// store and the secrets.
func (u *Users) OpenDirectory(ctx context.Context, st caddymodule.StoreModule, secrets [][]byte) error {
	rs, ok := st.(*Store)
	if !ok {
		return errors.New("enumgate: users redis needs store redis (they share the connection)")
	}
	client, prefix := rs.Client()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	dir, err := userdir.New(cctx, client, userdir.Options{
		Prefix: prefix, Secrets: secrets, CacheSize: u.CacheSize, CacheTTL: time.Duration(u.CacheTTL),
	})
	if err != nil {
		return fmt.Errorf("enumgate users redis: %w", err)
	}
	u.dir = dir
	return nil
}

// Directory implements caddymodule.DirectoryModule.
func (u *Users) Directory() challenge.Directory { return u.dir }

// UserAdmin implements caddymodule.UserAdminModule: the Redis directory
// for operator commands.
func (u *Users) UserAdmin() caddymodule.UserAdmin { return u.dir }

// Cleanup stops the cache invalidation subscriber.
func (u *Users) Cleanup() error {
	if u.dir != nil {
		return u.dir.Close()
	}
	return nil
}

// UnmarshalCaddyfile sets up the directory from Caddyfile tokens. Syntax:
//
//	users redis {
//		cache_size <n>
//		cache_ttl <duration>
//	}
func (u *Users) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // module name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "cache_size":
			u.CacheSize, err = caddymodule.IntArg(d, 1, 1<<24)
		case "cache_ttl":
			u.CacheTTL, err = caddymodule.DurationArg(d)
		default:
			err = d.Errf("unknown users redis option %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guards.
var (
	_ caddymodule.UserAdminModule = (*Users)(nil)
	_ caddymodule.DirectoryOpener = (*Users)(nil)
	_ caddy.Validator             = (*Users)(nil)
	_ caddy.CleanerUpper          = (*Users)(nil)
	_ caddyfile.Unmarshaler       = (*Users)(nil)
)
