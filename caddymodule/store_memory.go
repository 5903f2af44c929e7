package caddymodule

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/enumgate/enumgate/challenge/account"
	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
	"go.uber.org/zap"
)

func init() { caddy.RegisterModule(MemoryStore{}) }

// memoryPool holds the process's memory store so pending challenges
// survive a config reload: the new config takes the store over before the
// old one lets go of it.
var memoryPool = caddy.NewUsagePool()

const memoryPoolKey = "memory"

type pooledMemory struct {
	*memory.Store
	account account.Store // the customer accounts, kept with the challenges
}

func (p pooledMemory) Destruct() error {
	p.account.Close()
	return p.Close()
}

// MemoryStore is the in-process challenge store (`enumgate.stores.memory`),
// the default. It is bounded: when full it refuses new challenges (the
// customer gets a 503) and never evicts a pending one. It survives config
// reloads; it is not shared between gateways and is lost on restart — use
// Redis for several gateways.
type MemoryStore struct {
	// MaxChallenges is the most pending challenges held. Default 100000.
	MaxChallenges int `json:"max_challenges,omitempty"`
	// MaxBytes is the most bytes of stashed requests held. Default 256 MiB.
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// MaxPendingPerUser is the most pending challenges one user may hold
	// (their fair share: a flood from one user never refuses another).
	// Default 10; -1 disables.
	MaxPendingPerUser int `json:"max_pending_per_user,omitempty"`
	// MaxBytesPerUser is the most stashed bytes one user's challenges may
	// hold. Default 1 MiB (keep it above max_body); -1 disables.
	MaxBytesPerUser int64 `json:"max_bytes_per_user,omitempty"`

	store   *memory.Store
	account account.Store
}

// CaddyModule returns the Caddy module information.
func (MemoryStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "enumgate.stores.memory",
		New: func() caddy.Module { return new(MemoryStore) },
	}
}

// Provision takes the process's memory store from the pool, creating it
// on first use. Limits apply when the store is created: a reload that
// changes them keeps the running store (and its pending challenges).
func (m *MemoryStore) Provision(ctx caddy.Context) error {
	if m.MaxChallenges < 0 || m.MaxBytes < 0 || m.MaxPendingPerUser < -1 || m.MaxBytesPerUser < -1 {
		return fmt.Errorf("enumgate memory store: limits must not be negative (-1 disables a per-user limit)")
	}
	v, loaded, err := memoryPool.LoadOrNew(memoryPoolKey, func() (caddy.Destructor, error) {
		return pooledMemory{Store: memory.New(memory.Options{
			MaxChallenges: m.MaxChallenges, MaxBytes: m.MaxBytes,
			MaxPendingPerUser: m.MaxPendingPerUser, MaxBytesPerUser: m.MaxBytesPerUser,
		}), account: account.NewMemoryStore()}, nil
	})
	if err != nil {
		return err
	}
	m.store, m.account = v.(pooledMemory).Store, v.(pooledMemory).account
	if loaded {
		ctx.Logger().Debug("reusing memory store", zap.Int("pending", m.store.Len()))
	}
	return nil
}

// Cleanup releases this config's hold on the pooled store.
func (m *MemoryStore) Cleanup() error {
	_, err := memoryPool.Delete(memoryPoolKey)
	return err
}

// ChallengeStore implements StoreModule.
func (m *MemoryStore) ChallengeStore() store.Store { return m.store }

// AccountStore implements AccountStoreModule: the accounts live in the
// process, like the challenges, and survive reloads.
func (m *MemoryStore) AccountStore() account.Store { return m.account }

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. Syntax:
//
//	store memory {
//		max_challenges <n>
//		max_bytes <size>
//		max_pending_per_user <n>|off
//		max_bytes_per_user <size>|off
//	}
func (m *MemoryStore) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // module name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "max_challenges":
			n, err := intArg(d, 1, 1<<30)
			if err != nil {
				return err
			}
			m.MaxChallenges = n
		case "max_bytes":
			n, err := sizeArg(d)
			if err != nil {
				return err
			}
			m.MaxBytes = n
		case "max_pending_per_user":
			if offArg(d) {
				m.MaxPendingPerUser = -1
				continue
			}
			n, err := intArg(d, 1, 1<<20)
			if err != nil {
				return err
			}
			m.MaxPendingPerUser = n
		case "max_bytes_per_user":
			if offArg(d) {
				m.MaxBytesPerUser = -1
				continue
			}
			n, err := sizeArg(d)
			if err != nil {
				return err
			}
			m.MaxBytesPerUser = n
		default:
			return d.Errf("unknown memory store option %q", d.Val())
		}
	}
	return nil
}

// offArg consumes a lone "off" argument and reports whether it was there.
func offArg(d *caddyfile.Dispenser) bool {
	if d.CountRemainingArgs() == 1 && d.NextArg() {
		if d.Val() == "off" {
			return true
		}
		d.Prev()
	}
	return false
}
