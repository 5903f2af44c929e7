// Package redismod holds enumgate's Redis Caddy modules: the challenge
// store `enumgate.stores.redis` (package challenge/store/redisstore, one
// shared client per connection identity) and the user directory
// `enumgate.users.redis` (package challenge/userdir) on the same
// connection. They register themselves; the enumgate app sees them only
// through the interfaces of package caddymodule (StoreModule,
// SharedStoreModule, DirectoryModule, DirectoryOpener, UserAdminModule).
// Import the package for its side effects, as the root package enumgate
// does.
package redismod

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/caddymodule"
	"github.com/enumgate/enumgate/challenge/account"
	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/challenge/trust"
)

func init() {
	caddy.RegisterModule(Store{})
}

// redisPool shares one client per connection identity across config
// reloads; a client is closed when no config uses it any more.
var redisPool = caddy.NewUsagePool()

type pooledClient struct{ redis.UniversalClient }

func (p pooledClient) Destruct() error { return p.Close() }

// Store keeps challenges and regulation state in Redis
// (`enumgate.stores.redis`), shared by every gateway that uses the same
// Redis: a challenge issued by one gateway can be answered at another, and
// survives restarts. Standalone (url), Sentinel (addresses + master_name)
// and Cluster (several addresses) are supported. Run Redis with
// `maxmemory-policy noeviction`: provisioning fails if the policy could
// evict live challenges.
type Store struct {
	// URL addresses a standalone server: redis://[user:pass@]host:port/db,
	// rediss://… for TLS, or unix:///path/redis.sock. Placeholders such as
	// {env.REDIS_URL} are expanded.
	URL string `json:"url,omitempty"`
	// Addresses are host:port addresses: the seed nodes of a Cluster, or
	// the Sentinels when master_name is set.
	Addresses []string `json:"addresses,omitempty"`
	// Cluster treats a single address as a Cluster seed. Default false.
	Cluster bool `json:"cluster,omitempty"`
	// MasterName selects Sentinel: the name of the monitored master.
	MasterName string `json:"master_name,omitempty"`
	// SentinelUsername is the ACL user for the Sentinels themselves.
	SentinelUsername string `json:"sentinel_username,omitempty"`
	// SentinelPassword is the password for the Sentinels themselves;
	// placeholders are expanded.
	SentinelPassword string `json:"sentinel_password,omitempty"`
	// Username is the ACL user for the servers; placeholders are expanded.
	Username string `json:"username,omitempty"`
	// Password is the password for the servers; placeholders are expanded.
	Password string `json:"password,omitempty"`
	// DB is the database number (not with a Cluster or a URL). Default 0.
	DB int `json:"db,omitempty"`
	// TLS enables TLS to the servers (rediss:// URLs enable it too).
	TLS *TLS `json:"tls,omitempty"`
	// Prefix starts every key. Default "enumgate:".
	Prefix string `json:"prefix,omitempty"`
	// DialTimeout bounds establishing a connection. Default 2s.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
	// ReadTimeout bounds waiting for a reply. Default 1s.
	ReadTimeout caddy.Duration `json:"read_timeout,omitempty"`
	// WriteTimeout bounds sending a command. Default 1s.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`
	// PoolSize is the connections per server; default go-redis' (10 per
	// CPU).
	PoolSize int `json:"pool_size,omitempty"`
	// WaitReplicas is how many replicas must acknowledge a confirmation
	// (Redis WAIT) before the request is forwarded, and a redelivery's
	// lease and a delivered settlement after it; if fewer do within
	// wait_timeout, the customer is told the confirmation is made but not
	// delivered yet, and the same answer delivers it once a replica has
	// it — never a second confirmation after a failover. 0 (the default,
	// Caddyfile `auto`): 1 when Redis replicates (Sentinel, a Cluster
	// with replicas, a standalone master with a connected replica), else
	// none. Negative (Caddyfile `off` or `0`): never wait; logged as a
	// warning at start when Redis replicates.
	WaitReplicas int `json:"wait_replicas,omitempty"`
	// WaitTimeout bounds each wait. Default 1s.
	WaitTimeout caddy.Duration `json:"wait_timeout,omitempty"`

	client  redis.UniversalClient
	poolKey string
	store   *redisstore.Store
	prefix  string
}

// TLS configures TLS to Redis.
type TLS struct {
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `json:"server_name,omitempty"`
	// CAFile is a PEM file of CAs to trust instead of the system's.
	CAFile string `json:"ca_file,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Store) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "enumgate.stores.redis",
		New: func() caddy.Module { return new(Store) },
	}
}

func (r *Store) clientConfig() (redisstore.ClientConfig, error) {
	repl := caddy.NewReplacer()
	c := redisstore.ClientConfig{
		URL: repl.ReplaceKnown(r.URL, ""), Cluster: r.Cluster, MasterName: r.MasterName,
		SentinelUsername: repl.ReplaceKnown(r.SentinelUsername, ""), SentinelPassword: repl.ReplaceKnown(r.SentinelPassword, ""),
		Username: repl.ReplaceKnown(r.Username, ""), Password: repl.ReplaceKnown(r.Password, ""), DB: r.DB,
		DialTimeout: time.Duration(r.DialTimeout), ReadTimeout: time.Duration(r.ReadTimeout),
		WriteTimeout: time.Duration(r.WriteTimeout), PoolSize: r.PoolSize,
	}
	for _, a := range r.Addresses {
		c.Addrs = append(c.Addrs, repl.ReplaceKnown(a, ""))
	}
	if r.TLS != nil {
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: r.TLS.ServerName}
		if r.TLS.CAFile != "" {
			pem, err := os.ReadFile(r.TLS.CAFile)
			if err != nil {
				return c, fmt.Errorf("redis tls ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return c, fmt.Errorf("redis tls ca_file %s holds no PEM certificate", r.TLS.CAFile)
			}
			c.TLS.RootCAs = pool
		}
	}
	return c, nil
}

// poolKeyOf identifies a connection: the same settings share one client.
func poolKeyOf(c redisstore.ClientConfig) string {
	tlsOn := c.TLS != nil
	serverName := ""
	if tlsOn {
		serverName = c.TLS.ServerName
	}
	b, _ := json.Marshal([]any{c.URL, c.Addrs, c.Cluster, c.MasterName, c.SentinelUsername, c.SentinelPassword,
		c.Username, c.Password, c.DB, tlsOn, serverName, c.DialTimeout, c.ReadTimeout, c.WriteTimeout, c.PoolSize})
	h := sha256.Sum256(b)
	return "redis/" + hex.EncodeToString(h[:])
}

// Provision connects (lazily: a Redis that is down at start only makes
// protected requests fail closed until it is back) and checks the
// eviction policy.
func (r *Store) Provision(ctx caddy.Context) error {
	cfg, err := r.clientConfig()
	if err != nil {
		return fmt.Errorf("enumgate redis store: %w", err)
	}
	r.poolKey = poolKeyOf(cfg)
	v, _, err := redisPool.LoadOrNew(r.poolKey, func() (caddy.Destructor, error) {
		c, err := redisstore.NewClient(cfg)
		if err != nil {
			return nil, err
		}
		return pooledClient{c}, nil
	})
	if err != nil {
		return fmt.Errorf("enumgate redis store: %w", err)
	}
	r.client = v.(pooledClient).UniversalClient
	setRedisLogger.Do(func() { redis.SetLogger(redisLogger{ctx.Logger()}) })
	r.prefix = r.Prefix
	if r.prefix == "" {
		r.prefix = redisstore.DefaultPrefix
	}
	r.store = redisstore.New(r.client, redisstore.Options{
		Prefix: r.prefix, WaitReplicas: r.WaitReplicas, WaitTimeout: time.Duration(r.WaitTimeout),
	})
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := r.store.Ping(cctx); err != nil {
		ctx.Logger().Warn("redis not reachable at start; protected requests fail closed until it is", zap.Error(err))
		return nil
	}
	if err := r.store.Check(cctx); err != nil {
		return fmt.Errorf("enumgate redis store: %w", err)
	}
	if rep, err := r.store.Replication(cctx); err == nil {
		logReplication(ctx.Logger(), r.WaitReplicas, rep)
	}
	return nil
}

// logReplication tells the operator at start what the store makes of
// Redis' replication, and what puts confirmations at risk.
func logReplication(l *zap.Logger, configured int, rep redisstore.Replication) {
	fields := []zap.Field{zap.String("topology", rep.Topology), zap.Bool("replicas", rep.Replicas), zap.Int("wait_replicas", rep.WaitReplicas)}
	switch {
	case configured < 0 && rep.Replicas:
		l.Warn("wait_replicas is off while Redis replicates: a confirmation acknowledged by the master alone can be lost in a failover, "+
			"and the same answer may then confirm again and forward the request a second time; remove wait_replicas off (auto waits for one replica)", fields...)
	case rep.Unknown && configured == 0:
		l.Warn("cannot tell whether Redis replicates (INFO or CLUSTER NODES refused): confirmations do not wait for replicas; "+
			"set wait_replicas to the number of replicas per master if it does", fields...)
	default:
		l.Info("redis replication", fields...)
	}
	if len(rep.Unreplicated) > 0 && rep.WaitReplicas > 0 {
		l.Warn("some cluster masters have no replica: confirmations of the users whose challenges they hold can never be acknowledged "+
			"and stay undelivered; give every master a replica", append(fields, zap.Strings("masters", rep.Unreplicated))...)
	}
	if rep.Replicas && rep.MinReplicasToWrite == 0 {
		l.Warn("Redis replicates but min-replicas-to-write is 0: a master cut off from its replicas keeps accepting confirmations "+
			"that a failover will discard; consider min-replicas-to-write 1 with min-replicas-max-lag 10 on the masters", fields...)
	}
}

// Cleanup releases this config's hold on the shared client.
func (r *Store) Cleanup() error {
	if r.poolKey == "" {
		return nil
	}
	_, err := redisPool.Delete(r.poolKey)
	return err
}

// ChallengeStore implements caddymodule.StoreModule.
func (r *Store) ChallengeStore() store.Store { return r.store }

// AccountStore implements caddymodule.AccountStoreModule: the customers'
// accounts live in the same Redis, under the prefix's "account:".
func (r *Store) AccountStore() account.Store {
	return account.NewRedisStore(r.client, r.prefix+"account:")
}

// TrustStore implements caddymodule.TrustStoreModule: grants, trusted
// payees and the risk memory in the same Redis, in the user's slot.
func (r *Store) TrustStore() trust.Store { return trust.NewRedisStore(r.client, r.prefix) }

// SharedStore implements caddymodule.SharedStoreModule: every gateway
// (and operator command) on the same Redis sees the same state.
func (r *Store) SharedStore() bool { return true }

// Client returns the shared Redis client and key prefix, for modules (such
// as the Redis user directory) that keep their data next to the store's.
func (r *Store) Client() (redis.UniversalClient, string) { return r.client, r.prefix }

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. Syntax:
//
//	store redis [<url>] {
//		url <url>
//		addresses <host:port>...
//		cluster
//		master_name <name>
//		sentinel_username <user>
//		sentinel_password <password>
//		username <user>
//		password <password>
//		db <n>
//		tls [{ server_name <name>  ca_file <pem> }]
//		prefix <prefix>
//		dial_timeout <duration>
//		read_timeout <duration>
//		write_timeout <duration>
//		pool_size <n>
//		wait_replicas <n>|auto|off
//		wait_timeout <duration>
//	}
func (r *Store) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // module name
	if d.NextArg() {
		r.URL = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	str := func(dst *string) error {
		if !d.AllArgs(dst) {
			return d.ArgErr()
		}
		return nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "url":
			err = str(&r.URL)
		case "addresses":
			r.Addresses = append(r.Addresses, d.RemainingArgs()...)
			if len(r.Addresses) == 0 {
				err = d.ArgErr()
			}
		case "cluster":
			r.Cluster = true
		case "master_name":
			err = str(&r.MasterName)
		case "sentinel_username":
			err = str(&r.SentinelUsername)
		case "sentinel_password":
			err = str(&r.SentinelPassword)
		case "username":
			err = str(&r.Username)
		case "password":
			err = str(&r.Password)
		case "prefix":
			err = str(&r.Prefix)
		case "db":
			r.DB, err = caddymodule.IntArg(d, 0, 1<<16)
		case "pool_size":
			r.PoolSize, err = caddymodule.IntArg(d, 1, 1<<16)
		case "wait_replicas":
			r.WaitReplicas, err = waitReplicasArg(d)
		case "dial_timeout":
			r.DialTimeout, err = caddymodule.DurationArg(d)
		case "read_timeout":
			r.ReadTimeout, err = caddymodule.DurationArg(d)
		case "write_timeout":
			r.WriteTimeout, err = caddymodule.DurationArg(d)
		case "wait_timeout":
			r.WaitTimeout, err = caddymodule.DurationArg(d)
		case "tls":
			r.TLS = &TLS{}
			for tn := d.Nesting(); d.NextBlock(tn); {
				switch d.Val() {
				case "server_name":
					err = str(&r.TLS.ServerName)
				case "ca_file":
					err = str(&r.TLS.CAFile)
				default:
					err = d.Errf("unknown redis tls option %q", d.Val())
				}
				if err != nil {
					return err
				}
			}
		default:
			err = d.Errf("unknown redis store option %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// waitReplicasArg reads wait_replicas: auto (0 in JSON), off or 0 (-1
// in JSON: never wait), or a number of replicas from 1 to 64.
func waitReplicasArg(d *caddyfile.Dispenser) (int, error) {
	var v string
	if !d.AllArgs(&v) {
		return 0, d.ArgErr()
	}
	switch v {
	case "auto":
		return 0, nil
	case "off", "0":
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 64 {
		return 0, d.Errf("wait_replicas: %q is not auto, off or a number of replicas from 1 to 64", v)
	}
	return n, nil
}

// setRedisLogger routes go-redis' own messages (one per failed dial) to
// debug level: an outage is logged once, by the app's store watcher.
var setRedisLogger sync.Once

type redisLogger struct{ l *zap.Logger }

func (r redisLogger) Printf(_ context.Context, format string, v ...any) {
	if ce := r.l.Check(zap.DebugLevel, "go-redis"); ce != nil {
		ce.Write(zap.String("message", fmt.Sprintf(format, v...)))
	}
}

// Interface guards.
var (
	_ caddymodule.SharedStoreModule = (*Store)(nil)
	_ caddymodule.RedisStoreModule  = (*Store)(nil)
	_ caddy.Provisioner             = (*Store)(nil)
	_ caddy.CleanerUpper            = (*Store)(nil)
	_ caddyfile.Unmarshaler         = (*Store)(nil)
)
