package rediscache

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/cache/cachetest"
)

// Addr is the Redis the tests use (SOCCERPREDICT_TEST_REDIS, default the local server).
func Addr() string {
	if a := os.Getenv("SOCCERPREDICT_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

func TestConformance(t *testing.T) {
	probe := New(Addr(), "probe:")
	if err := probe.Ping(t.Context()); err != nil {
		t.Fatalf("Redis is required for this test and is not reachable at %s: %v (start it: redis-server --daemonize yes)", Addr(), err)
	}
	probe.Close()
	cachetest.Run(t, func(t *testing.T) cache.Cache {
		b := make([]byte, 4)
		rand.Read(b)
		c := New(Addr(), "soccerpredict-test-"+hex.EncodeToString(b)+":")
		t.Cleanup(func() { c.Close() })
		return c
	})
}
