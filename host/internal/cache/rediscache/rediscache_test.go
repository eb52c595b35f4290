package rediscache

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

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

// A Redis that accepts and never answers costs a call about a second, not
// the client's defaults (up to 11 s were measured).
func TestAHungRedisCostsLittle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, read nothing
		}
	}()
	c := New(ln.Addr().String(), "hung:")
	defer c.Close()
	for _, call := range []func() error{
		func() error { _, err := c.Get(t.Context(), "job:x"); return err },
		func() error { return c.Set(t.Context(), "job:x", []byte("v"), time.Minute) },
	} {
		start := time.Now()
		if err := call(); err == nil {
			t.Fatal("a hung Redis answered")
		}
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Fatalf("a call to a hung Redis took %v", took)
		}
	}
}

// After a call fails on the network, the calls in the next second do not
// go to Redis at all (each would wait its Timeout); then Redis is tried again.
func TestAFailingRedisRests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			defer c.Close() // hold it open, read nothing
		}
	}()
	c := New(ln.Addr().String(), "hung:")
	defer c.Close()
	if _, err := c.Get(t.Context(), "job:x"); err == nil {
		t.Fatal("a hung Redis answered")
	}
	before := accepted.Load()
	for range 100 {
		if err := c.Set(t.Context(), "job:x", []byte("v"), time.Minute); !errors.Is(err, errResting) || !errors.Is(err, cache.ErrSkipped) {
			t.Fatalf("a call while Redis rests: %v", err)
		}
	}
	if n := accepted.Load(); n != before {
		t.Fatalf("%d new connections while Redis rested", n-before)
	}
	c.resting.Store(0) // the second has passed
	if _, err := c.Get(t.Context(), "job:x"); errors.Is(err, errResting) {
		t.Fatal("Redis is not tried again after its rest")
	}
	// A miss on a live Redis does not rest it.
	live := New(Addr(), "rest-test:")
	defer live.Close()
	for range 2 {
		if _, err := live.Get(t.Context(), "absent"); !errors.Is(err, cache.ErrMiss) {
			t.Fatalf("a miss: %v", err)
		}
	}
}
