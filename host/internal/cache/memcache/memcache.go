// Package memcache is the in-process cache of the embedded default.
package memcache

import (
	"context"
	"sync"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
)

// Cache is an in-process cache.Cache bounded by entry count.
type Cache struct {
	mu      sync.Mutex
	max     int
	entries map[string]entry

	lmu       sync.Mutex
	listeners map[int]func(keys []string)
	next      int
}

type entry struct {
	value   []byte
	expires time.Time
}

// New makes a cache of at most max entries.
func New(max int) *Cache { return &Cache{max: max, entries: map[string]entry{}} }

var _ cache.Cache = (*Cache)(nil)

// Get implements cache.Cache.
func (c *Cache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || time.Now().After(e.expires) {
		delete(c.entries, key)
		return nil, cache.ErrMiss
	}
	return e.value, nil
}

// GetMany implements cache.Cache.
func (c *Cache) GetMany(ctx context.Context, keys ...string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if v, err := c.Get(ctx, k); err == nil {
			out[i] = v
		}
	}
	return out, nil
}

// Set implements cache.Cache.
func (c *Cache) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
	c.entries[key] = entry{value: append([]byte(nil), value...), expires: time.Now().Add(ttl)}
	return nil
}

// Close implements cache.Cache.
func (c *Cache) Close() error { return nil }

// SetMany implements cache.Cache.
func (c *Cache) SetMany(ctx context.Context, entries ...cache.Entry) error {
	var announced []string
	for _, e := range entries {
		if err := c.Set(ctx, e.Key, e.Value, e.TTL); err != nil {
			return err
		}
		if e.Announce {
			announced = append(announced, e.Key)
		}
	}
	if len(announced) > 0 {
		c.lmu.Lock()
		heard := make([]func([]string), 0, len(c.listeners))
		for _, l := range c.listeners {
			heard = append(heard, l)
		}
		c.lmu.Unlock()
		for _, l := range heard {
			l(announced)
		}
	}
	return nil
}

// Subscribe implements cache.Cache: announcements of this process.
func (c *Cache) Subscribe(heard func(keys []string)) func() {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	if c.listeners == nil {
		c.listeners = map[int]func([]string){}
	}
	id := c.next
	c.next++
	c.listeners[id] = heard
	return func() {
		c.lmu.Lock()
		defer c.lmu.Unlock()
		delete(c.listeners, id)
	}
}
