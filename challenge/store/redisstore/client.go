package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for ClientConfig.
const (
	// DefaultDialTimeout bounds establishing a connection.
	DefaultDialTimeout = 2 * time.Second
	// DefaultReadTimeout bounds waiting for a reply.
	DefaultReadTimeout = time.Second
	// DefaultWriteTimeout bounds sending a command.
	DefaultWriteTimeout = time.Second
)

// ClientConfig is how an operator reaches Redis. Exactly one of URL and
// Addrs is set.
type ClientConfig struct {
	// URL addresses a standalone server: redis://[user:pass@]host:port/db,
	// rediss://… (TLS) or unix:///path/to/redis.sock[?db=N], as parsed by
	// redis.ParseURL.
	URL string
	// Addrs are host:port addresses. One address is a standalone server;
	// several are the seed nodes of a Cluster; with MasterName they are
	// Sentinels.
	Addrs []string
	// Cluster treats a single address in Addrs as a Cluster seed (a
	// managed service's configuration endpoint). Default false.
	Cluster bool
	// MasterName is the name of the master monitored by the Sentinels in
	// Addrs; setting it selects a Sentinel-managed (failover) client.
	MasterName string
	// SentinelUsername is the ACL user for the Sentinels themselves
	// (MasterName only).
	SentinelUsername string
	// SentinelPassword is the password for the Sentinels themselves
	// (MasterName only).
	SentinelPassword string
	// Username is the ACL user for the Redis servers. With URL it may be
	// given here instead of in the URL, not in both.
	Username string
	// Password is the password for the Redis servers. With URL it may be
	// given here instead of in the URL, not in both.
	Password string
	// DB is the database number. Not allowed with a Cluster (which has
	// only database 0) nor with URL (put it in the URL). Default 0.
	DB int
	// TLS, if set, is the TLS configuration for the servers; nil means
	// plain connections unless URL is rediss://.
	TLS *tls.Config
	// DialTimeout bounds establishing a connection. Default 2s.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for a reply. Default 1s.
	ReadTimeout time.Duration
	// WriteTimeout bounds sending a command. Default 1s.
	WriteTimeout time.Duration
	// PoolSize is the number of connections per server; 0 takes go-redis'
	// default (10 per CPU).
	PoolSize int
}

// NewClient validates c and returns the go-redis client it describes: a
// standalone client for URL or a single address, a Cluster client for
// several addresses (or Cluster), a Sentinel failover client with
// MasterName. Context deadlines are honoured, so a request's context
// bounds the Redis calls made for it, and each command dials at most once
// (go-redis' default of five dial attempts per try would multiply
// DialTimeout while Redis is unreachable).
//
// The client never retries a command (MaxRetries -1, whatever a URL's
// max_retries says). go-redis would otherwise resend a command whose
// reply timed out or whose connection broke — but the server may have run
// it already: a Redis that stalls for longer than ReadTimeout runs the
// script when it resumes, and a resent Attempt would count one wrong
// answer twice, or find its own confirmation and report a right answer as
// unknown. The store's contract makes the caller's own retry harmless
// instead (a repeated answer costs nothing and a repeated confirmation
// reports store.Repeated), and a failed call fails closed (503). The
// store also marks its scripts NoRetry, which covers clients made
// elsewhere and Cluster clients (whose network-error retries count as
// redirects); MOVED and ASK are still followed. Errors never include the
// password.
func NewClient(c ClientConfig) (redis.UniversalClient, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	dial, read, write := orDefault(c.DialTimeout, DefaultDialTimeout),
		orDefault(c.ReadTimeout, DefaultReadTimeout), orDefault(c.WriteTimeout, DefaultWriteTimeout)
	if c.URL != "" {
		o, err := redis.ParseURL(c.URL)
		if err != nil {
			return nil, fmt.Errorf("redisstore: url: %w", err)
		}
		if c.Username != "" {
			o.Username = c.Username
		}
		if c.Password != "" {
			o.Password = c.Password
		}
		if c.TLS != nil {
			cfg := c.TLS.Clone()
			if cfg.ServerName == "" && o.TLSConfig != nil {
				cfg.ServerName = o.TLSConfig.ServerName
			}
			if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
				if host, _, err := net.SplitHostPort(o.Addr); err == nil {
					cfg.ServerName = host
				}
			}
			o.TLSConfig = cfg
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = dial, read, write
		o.PoolSize = c.PoolSize
		o.DialerRetries = 1
		o.MaxRetries = -1
		o.ContextTimeoutEnabled = true
		return redis.NewClient(o), nil
	}
	o := &redis.UniversalOptions{
		Addrs:                 append([]string(nil), c.Addrs...),
		IsClusterMode:         c.Cluster,
		MasterName:            c.MasterName,
		SentinelUsername:      c.SentinelUsername,
		SentinelPassword:      c.SentinelPassword,
		Username:              c.Username,
		Password:              c.Password,
		DB:                    c.DB,
		DialTimeout:           dial,
		ReadTimeout:           read,
		WriteTimeout:          write,
		PoolSize:              c.PoolSize,
		DialerRetries:         1,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
	}
	if c.TLS != nil {
		o.TLSConfig = c.TLS.Clone()
	}
	return redis.NewUniversalClient(o), nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// validate reports the first inconsistency in c. Messages name fields,
// never their secret values.
func (c ClientConfig) validate() error {
	switch {
	case c.URL == "" && len(c.Addrs) == 0:
		return errors.New("redisstore: set either a URL or addresses")
	case c.URL != "" && len(c.Addrs) > 0:
		return errors.New("redisstore: a URL and addresses are exclusive; set one")
	case c.DialTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0:
		return errors.New("redisstore: timeouts must not be negative")
	case c.PoolSize < 0:
		return errors.New("redisstore: pool size must not be negative")
	case c.DB < 0:
		return errors.New("redisstore: database number must not be negative")
	case c.MasterName == "" && (c.SentinelUsername != "" || c.SentinelPassword != ""):
		return errors.New("redisstore: sentinel credentials need a master name")
	}
	if c.URL != "" {
		return c.validateURL()
	}
	for i, a := range c.Addrs {
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
			return fmt.Errorf("redisstore: address %d (%q) is not host:port", i+1, a)
		}
	}
	cluster := c.MasterName == "" && (len(c.Addrs) > 1 || c.Cluster)
	switch {
	case c.MasterName != "" && c.Cluster:
		return errors.New("redisstore: a master name (Sentinel) and cluster mode are exclusive")
	case cluster && c.DB != 0:
		return errors.New("redisstore: a Redis Cluster has only database 0; remove the database number")
	}
	return nil
}

func (c ClientConfig) validateURL() error {
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Error repeats the whole URL, password included: keep only
		// the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("redisstore: url does not parse: %w", err)
	}
	_, urlPassword := u.User.Password()
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
		return fmt.Errorf("redisstore: url scheme %q is not redis, rediss or unix", u.Scheme)
	case c.MasterName != "" || c.Cluster:
		return errors.New("redisstore: a URL addresses one standalone server; use addresses for Sentinel or Cluster")
	case c.DB != 0:
		return errors.New("redisstore: with a URL, give the database in the URL (/N, or ?db=N for unix)")
	case c.Username != "" && u.User.Username() != "":
		return errors.New("redisstore: username given both in the URL and separately")
	case c.Password != "" && urlPassword:
		return errors.New("redisstore: password given both in the URL and separately")
	case u.Scheme == "unix" && c.TLS != nil:
		return errors.New("redisstore: TLS over a unix socket is not supported")
	}
	if _, err := redis.ParseURL(c.URL); err != nil {
		return fmt.Errorf("redisstore: url: %w", err)
	}
	return nil
}
