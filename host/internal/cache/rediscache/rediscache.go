// Package rediscache is the production cache, on Redis.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
)

// Cache is a Redis cache.Cache; every key gets the prefix.
type Cache struct {
	client *redis.Client
	prefix string
}

var _ cache.Cache = (*Cache)(nil)

// Timeout bounds each network step of a call (dial, write, read), and a
// failed call is tried once more: a Redis that hangs costs a caller about a
// second at most, never the client's defaults (up to 11 s). The cache only
// spares the store work; every caller falls back to the store.
const Timeout = 250 * time.Millisecond

// New connects to the Redis at addr (host:port).
func New(addr, prefix string) *Cache {
	return &Cache{client: redis.NewClient(&redis.Options{Addr: addr, DialTimeout: Timeout,
		ReadTimeout: Timeout, WriteTimeout: Timeout, MaxRetries: 1}), prefix: prefix}
}

// Ping checks Redis answers.
func (c *Cache) Ping(ctx context.Context) error {
	if err := c.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Get implements cache.Cache.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := c.client.Get(ctx, c.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, cache.ErrMiss
	}
	if err != nil {
		return nil, fmt.Errorf("redis get: %w", err)
	}
	return b, nil
}

// Set implements cache.Cache.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := c.client.Set(ctx, c.prefix+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("redis set: %w", err)
	}
	return nil
}

// Close implements cache.Cache.
func (c *Cache) Close() error { return c.client.Close() }
