package redisstore_test

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/challenge/store/redisstore"
	"github.com/enumgate/enumgate/internal/redistest"
)

func TestNewClientValidates(t *testing.T) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	tests := []struct {
		name    string
		c       redisstore.ClientConfig
		want    string // "standalone", "cluster" or "sentinel"
		wantErr string // substring of the error
	}{
		{name: "url", c: redisstore.ClientConfig{URL: "redis://127.0.0.1:6379/2"}, want: "standalone"},
		{name: "tls url", c: redisstore.ClientConfig{URL: "rediss://redis.example:6380/0"}, want: "standalone"},
		{name: "unix url", c: redisstore.ClientConfig{URL: "unix:///run/redis.sock?db=1"}, want: "standalone"},
		{name: "url with separate password", c: redisstore.ClientConfig{URL: "redis://127.0.0.1:6379/0", Username: "gw", Password: "pw"}, want: "standalone"},
		{name: "url with tls config", c: redisstore.ClientConfig{URL: "redis://redis.example:6379/0", TLS: tlsConf}, want: "standalone"},
		{name: "one address", c: redisstore.ClientConfig{Addrs: []string{"127.0.0.1:6379"}, DB: 3}, want: "standalone"},
		{name: "several addresses", c: redisstore.ClientConfig{Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"}, TLS: tlsConf}, want: "cluster"},
		{name: "cluster endpoint", c: redisstore.ClientConfig{Addrs: []string{"cfg.example:6379"}, Cluster: true}, want: "cluster"},
		{name: "sentinel", c: redisstore.ClientConfig{Addrs: []string{"10.0.0.1:26379", "10.0.0.2:26379"}, MasterName: "mymaster",
			SentinelUsername: "s", SentinelPassword: "sp", DB: 1}, want: "sentinel"},
		{name: "timeouts and pool", c: redisstore.ClientConfig{Addrs: []string{"127.0.0.1:6379"},
			DialTimeout: time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, PoolSize: 4}, want: "standalone"},

		{name: "nothing", c: redisstore.ClientConfig{}, wantErr: "either a URL or addresses"},
		{name: "url and addresses", c: redisstore.ClientConfig{URL: "redis://h:1/0", Addrs: []string{"h:1"}}, wantErr: "exclusive"},
		{name: "bad scheme", c: redisstore.ClientConfig{URL: "http://h:1/"}, wantErr: "scheme"},
		{name: "url that does not parse", c: redisstore.ClientConfig{URL: "redis://u:sekret@h:port/0"}, wantErr: "does not parse"},
		{name: "bad database in url", c: redisstore.ClientConfig{URL: "redis://u:sekret@h:1/x"}, wantErr: "database"},
		{name: "password twice", c: redisstore.ClientConfig{URL: "redis://u:sekret@h:1/0", Password: "other"}, wantErr: "password given both"},
		{name: "username twice", c: redisstore.ClientConfig{URL: "redis://u:sekret@h:1/0", Username: "v"}, wantErr: "username given both"},
		{name: "db with url", c: redisstore.ClientConfig{URL: "redis://h:1/0", DB: 2}, wantErr: "in the URL"},
		{name: "master name with url", c: redisstore.ClientConfig{URL: "redis://h:1/0", MasterName: "m"}, wantErr: "standalone"},
		{name: "tls over unix", c: redisstore.ClientConfig{URL: "unix:///run/redis.sock", TLS: tlsConf}, wantErr: "unix socket"},
		{name: "db with cluster", c: redisstore.ClientConfig{Addrs: []string{"a:1", "b:1"}, DB: 1}, wantErr: "only database 0"},
		{name: "db with cluster endpoint", c: redisstore.ClientConfig{Addrs: []string{"a:1"}, Cluster: true, DB: 1}, wantErr: "only database 0"},
		{name: "sentinel and cluster", c: redisstore.ClientConfig{Addrs: []string{"a:1"}, Cluster: true, MasterName: "m"}, wantErr: "exclusive"},
		{name: "sentinel password without master", c: redisstore.ClientConfig{Addrs: []string{"a:1"}, SentinelPassword: "sekret"}, wantErr: "master name"},
		{name: "address without port", c: redisstore.ClientConfig{Addrs: []string{"a:1", "b"}}, wantErr: "address 2"},
		{name: "empty address", c: redisstore.ClientConfig{Addrs: []string{""}}, wantErr: "address 1"},
		{name: "negative timeout", c: redisstore.ClientConfig{Addrs: []string{"a:1"}, ReadTimeout: -1}, wantErr: "timeouts"},
		{name: "negative pool", c: redisstore.ClientConfig{Addrs: []string{"a:1"}, PoolSize: -1}, wantErr: "pool size"},
		{name: "negative db", c: redisstore.ClientConfig{Addrs: []string{"a:1"}, DB: -1}, wantErr: "database number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := redisstore.NewClient(tt.c)
			if tt.wantErr != "" {
				if err == nil {
					c.Close()
					t.Fatalf("NewClient succeeded, want an error with %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q does not mention %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "sekret") {
					t.Fatalf("error %q leaks the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			defer c.Close()
			var got string
			switch c := c.(type) {
			case *redis.ClusterClient:
				got = "cluster"
				if n := c.Options().MaxRetries; n > 0 {
					t.Errorf("cluster client retries %d times, want never", n)
				}
			case *redis.Client:
				got = "standalone"
				if tt.c.MasterName != "" {
					got = "sentinel" // a failover client is a *redis.Client
				}
				o := c.Options()
				if o.MaxRetries > 0 {
					t.Errorf("client retries %d times, want never (a retried script may count twice)", o.MaxRetries)
				}
				if want := orDefault(tt.c.ReadTimeout, time.Second); o.ReadTimeout != want {
					t.Errorf("read timeout %v, want %v", o.ReadTimeout, want)
				}
				if want := orDefault(tt.c.DialTimeout, 2*time.Second); o.DialTimeout != want {
					t.Errorf("dial timeout %v, want %v", o.DialTimeout, want)
				}
				if tt.c.PoolSize != 0 && o.PoolSize != tt.c.PoolSize {
					t.Errorf("pool size %d, want %d", o.PoolSize, tt.c.PoolSize)
				}
				if tt.c.Password != "" && o.Password != tt.c.Password {
					t.Error("password not applied")
				}
				if (tt.c.TLS != nil || strings.HasPrefix(tt.c.URL, "rediss:")) != (o.TLSConfig != nil) {
					t.Errorf("TLS config %v for %+v", o.TLSConfig, tt.c)
				}
				if tt.c.TLS != nil && o.TLSConfig.ServerName == "" && tt.c.URL != "" {
					t.Error("TLS server name not taken from the URL")
				}
			default:
				t.Fatalf("client of type %T", c)
			}
			if got != tt.want {
				t.Fatalf("got a %s client, want %s", got, tt.want)
			}
		})
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// NewClient reaches real servers over a unix socket, TCP and a Cluster.
func TestNewClientConnects(t *testing.T) {
	unix := redistest.Start(t, redistest.Options{})
	tcp := redistest.Start(t, redistest.Options{TCP: true})
	for name, c := range map[string]redisstore.ClientConfig{
		"unix url": {URL: unix.URL},
		"tcp url":  {URL: tcp.URL},
		"address":  {Addrs: []string{tcp.Addr}},
	} {
		t.Run(name, func(t *testing.T) {
			client, err := redisstore.NewClient(c)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			if err := redisstore.New(client, redisstore.Options{}).Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		})
	}
}
