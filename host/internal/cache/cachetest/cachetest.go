// Package cachetest is the conformance suite every cache.Cache passes.
package cachetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
)

// Run runs the suite against a fresh cache.
func Run(t *testing.T, open func(t *testing.T) cache.Cache) {
	ctx := context.Background()
	t.Run("set then get", func(t *testing.T) {
		c := open(t)
		if _, err := c.Get(ctx, "job:1"); !errors.Is(err, cache.ErrMiss) {
			t.Fatalf("empty cache: %v", err)
		}
		if err := c.Set(ctx, "job:1", []byte(`{"status":"done"}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		b, err := c.Get(ctx, "job:1")
		if err != nil || string(b) != `{"status":"done"}` {
			t.Fatalf("got %q, %v", b, err)
		}
	})
	t.Run("set many", func(t *testing.T) {
		c := open(t)
		if err := c.SetMany(ctx, cache.Entry{Key: "a", Value: []byte("1"), TTL: time.Minute}, cache.Entry{Key: "b", Value: []byte("2"), TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]string{"a": "1", "b": "2"} {
			if b, err := c.Get(ctx, key); err != nil || string(b) != want {
				t.Fatalf("%s: %q, %v", key, b, err)
			}
		}
		if err := c.SetMany(ctx); err != nil {
			t.Fatalf("nothing to set: %v", err)
		}
	})
	t.Run("entries expire", func(t *testing.T) {
		c := open(t)
		c.Set(ctx, "short", []byte("x"), 50*time.Millisecond)
		time.Sleep(150 * time.Millisecond)
		if _, err := c.Get(ctx, "short"); !errors.Is(err, cache.ErrMiss) {
			t.Fatalf("an expired entry: %v", err)
		}
	})
}
