package redisscript_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/enumgate/enumgate/internal/redisscript"
	"github.com/enumgate/enumgate/internal/redistest"
)

// TestAScriptRunsOnceBySourceThenByHash: the first run finds no script
// (NOSCRIPT: nothing ran) and sends the source; later runs go by hash;
// every run is one increment, never two.
func TestAScriptRunsOnceBySourceThenByHash(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	opt, err := redis.ParseURL(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	s := redisscript.New(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)
	for want := int64(2); want <= 6; want += 2 {
		n, err := s.Run(ctx, c, []string{"k"}, 2).Int64()
		if err != nil || n != want {
			t.Fatalf("run = %d, %v; want %d", n, err, want)
		}
	}
	exists, err := c.ScriptExists(ctx, s.Hash()).Result()
	if err != nil || !exists[0] {
		t.Fatalf("script cached = %v, %v", exists, err)
	}
	if _, err := redisscript.New(`return redis.call('NOPE')`).Run(ctx, c, nil).Result(); err == nil {
		t.Fatal("a failing script reported no error")
	}
}
