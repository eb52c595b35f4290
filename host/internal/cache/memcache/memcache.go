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
	for _, e := range entries {
		if err := c.Set(ctx, e.Key, e.Value, e.TTL); err != nil {
			return err
		}
	}
	return nil
}
