// Package cachetest is the conformance suite every cache.Cache passes.
package cachetest

import (
	"context"
	"errors"
	"slices"
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
	t.Run("get many", func(t *testing.T) {
		c := open(t)
		if err := c.SetMany(ctx, cache.Entry{Key: "a", Value: []byte("1"), TTL: time.Minute}, cache.Entry{Key: "c", Value: []byte("3"), TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetMany(ctx, "c", "b", "a", "c")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 || string(got[0]) != "3" || got[1] != nil || string(got[2]) != "1" || string(got[3]) != "3" {
			t.Fatalf("GetMany(c, b, a, c) = %q, want 3, nil, 1, 3", got)
		}
		if got, err := c.GetMany(ctx); err != nil || len(got) != 0 {
			t.Fatalf("nothing to get: %q, %v", got, err)
		}
	})
	t.Run("announced keys reach subscribers", func(t *testing.T) {
		c := open(t)
		heard := make(chan []string, 8)
		stop := c.Subscribe(func(keys []string) { heard <- keys })
		if err := c.SetMany(ctx, cache.Entry{Key: "quiet", Value: []byte("0"), TTL: time.Minute},
			cache.Entry{Key: "job:7", Value: []byte("7"), TTL: time.Minute, Announce: true},
			cache.Entry{Key: "job:8", Value: []byte("8"), TTL: time.Minute, Announce: true}); err != nil {
			t.Fatal(err)
		}
		select {
		case keys := <-heard:
			if !slices.Equal(keys, []string{"job:7", "job:8"}) {
				t.Fatalf("heard %q, want the announced keys job:7 and job:8", keys)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an announcement was not heard")
		}
		if b, err := c.Get(ctx, "job:8"); err != nil || string(b) != "8" {
			t.Fatalf("an announced entry is set as any other: %q, %v", b, err)
		}
		// Entries not announced, and anything after stop, are not heard.
		c.SetMany(ctx, cache.Entry{Key: "job:9", Value: []byte("9"), TTL: time.Minute})
		c.Set(ctx, "job:10", []byte("10"), time.Minute)
		stop()
		c.SetMany(ctx, cache.Entry{Key: "job:11", Value: []byte("11"), TTL: time.Minute, Announce: true})
		select {
		case keys := <-heard:
			t.Fatalf("heard %q: nothing was announced to a subscriber", keys)
		case <-time.After(200 * time.Millisecond):
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
