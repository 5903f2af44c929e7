package caddymodule

import (
	"context"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/account"
	"github.com/enumgate/enumgate/challenge/trust"
	"github.com/enumgate/enumgate/challenge/userdir"
)

// What the app and the operator commands need of store and user
// directory modules beyond StoreModule and DirectoryModule. Modules in
// other packages (such as caddymodule/redismod) implement these; this
// package never names their types.

// SharedStoreModule is implemented by store modules whose state lives
// outside the gateway process, so that an operator command can reach it
// with an app of its own (store redis). With any other store the state
// lives in the running gateway, and `enumgate users show` and `unlock`
// ask it through its admin API.
type SharedStoreModule interface {
	StoreModule
	// SharedStore reports whether the store's state is shared outside
	// the process. It must answer on the zero value, unprovisioned: the
	// commands ask before they load the config.
	SharedStore() bool
}

// RedisStoreModule is implemented by store modules that keep their
// state in Redis (store redis): the app keeps the authorization journal
// on the same connection, under the same key prefix, one stream per
// user next to the user's challenges.
type RedisStoreModule interface {
	StoreModule
	// Client returns the store's Redis client and key prefix.
	Client() (redis.UniversalClient, string)
}

// DirectoryOpener is implemented by user directory modules that can only
// open once the app has its store and secrets (users redis keeps its
// records on the store's connection, device keys encrypted under the
// secret). The app calls OpenDirectory once, after provisioning both
// modules and before it asks for the Directory.
type DirectoryOpener interface {
	// OpenDirectory opens the directory next to st with secrets (the
	// current secret first, then the old ones).
	OpenDirectory(ctx context.Context, st StoreModule, secrets [][]byte) error
}

// UserAdmin is a user directory that operators manage at runtime with
// `enumgate users list|import|set|delete|reset-device|reencrypt`. An
// unknown user is an error wrapping challenge.ErrNoUser.
type UserAdmin interface {
	// List returns every user id.
	List(ctx context.Context) ([]string, error)
	// Get returns the user's record, keys included.
	Get(ctx context.Context, id string) (userdir.Record, error)
	// Put creates or replaces the user's record.
	Put(ctx context.Context, r userdir.Record) error
	// Import adds or replaces the users of a users file (JSON) and
	// returns how many.
	Import(ctx context.Context, fileJSON []byte) (int, error)
	// Delete removes the user.
	Delete(ctx context.Context, id string) error
	// ResetDevice removes the user's E-num devices.
	ResetDevice(ctx context.Context, id string) error
	// Reencrypt re-encrypts every device key under the current secret
	// and returns how many users it rewrote.
	Reencrypt(ctx context.Context) (int, error)
}

// UserAdminModule is implemented by user directory modules whose users
// the operator commands manage (users redis); a users file is the
// operator's own file and is never written.
type UserAdminModule interface {
	DirectoryModule
	// UserAdmin returns the provisioned directory for operator commands.
	UserAdmin() UserAdmin
}

// IntArg reads the one argument of the current Caddyfile option as a
// whole number from lo to hi, for modules in other packages.
func IntArg(d *caddyfile.Dispenser, lo, hi int) (int, error) { return intArg(d, lo, hi) }

// DurationArg reads the one argument of the current Caddyfile option as
// a positive duration (e.g. 30s, 5m, 1d), for modules in other packages.
func DurationArg(d *caddyfile.Dispenser) (caddy.Duration, error) { return durationArg(d) }

// AccountStoreModule is a store module that also keeps the customers'
// accounts (contacts, enrolled devices, notification switches, recovery
// requests), beside the challenges.
type AccountStoreModule interface {
	AccountStore() account.Store
}

// TrustStoreModule is a store module that also keeps what the policy
// decides per user: section grants, trusted payees and the risk memory.
type TrustStoreModule interface {
	TrustStore() trust.Store
}
