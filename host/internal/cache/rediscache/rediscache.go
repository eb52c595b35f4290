// Package rediscache is the production cache, on Redis.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
)

// Cache is a Redis cache.Cache; every key gets the prefix.
type Cache struct {
	client *redis.Client
	prefix string
	// resting is when calls may go to Redis again (UnixNano) after one
	// that failed: until then they fail at once, so a hung Redis costs one
	// caller Timeout and the others nothing (each falls back to the store).
	resting atomic.Int64
}

// Rest is how long calls skip Redis after one failed on the network.
const Rest = time.Second

var errResting = fmt.Errorf("redis: not answering; calls skip it for a second after a failure: %w", cache.ErrSkipped)

// call runs f unless Redis is resting, and rests it when f fails on the
// network (not for a miss, nor for the caller's own cancellation).
func (c *Cache) call(ctx context.Context, f func() error) error {
	if time.Now().UnixNano() < c.resting.Load() {
		return errResting
	}
	err := f()
	if err != nil && !errors.Is(err, redis.Nil) && ctx.Err() == nil {
		c.resting.Store(time.Now().Add(Rest).UnixNano())
	}
	return err
}

var _ cache.Cache = (*Cache)(nil)

// Timeout bounds each network step of a call (waiting for a pooled
// connection, dial, write, read), and a failed call is not retried: a
// Redis that hangs costs a caller about Timeout, never the client's
// defaults (up to 11 s); after a failure Redis rests (see Rest), so the
// callers after it lose nothing. The cache only spares the store work;
// every caller falls back to the store.
const Timeout = 250 * time.Millisecond

// New connects to the Redis at addr (host:port).
func New(addr, prefix string) *Cache {
	return &Cache{client: redis.NewClient(&redis.Options{Addr: addr, DialTimeout: Timeout,
		ReadTimeout: Timeout, WriteTimeout: Timeout, PoolTimeout: Timeout, MaxRetries: -1}), prefix: prefix}
}

// Ping checks Redis answers.
func (c *Cache) Ping(ctx context.Context) error {
	if err := c.call(ctx, func() error { return c.client.Ping(ctx).Err() }); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Get implements cache.Cache.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := c.call(ctx, func() (err error) { b, err = c.client.Get(ctx, c.prefix+key).Bytes(); return err })
	if errors.Is(err, redis.Nil) {
		return nil, cache.ErrMiss
	}
	if err != nil {
		return nil, fmt.Errorf("redis get: %w", err)
	}
	return b, nil
}

// GetMany implements cache.Cache with one MGET.
func (c *Cache) GetMany(ctx context.Context, keys ...string) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + k
	}
	var vals []any
	if err := c.call(ctx, func() (err error) { vals, err = c.client.MGet(ctx, full...).Result(); return err }); err != nil {
		return nil, fmt.Errorf("redis get %d keys: %w", len(keys), err)
	}
	if len(vals) != len(keys) {
		return nil, fmt.Errorf("redis get %d keys: %d values came back", len(keys), len(vals))
	}
	out := make([][]byte, len(keys))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = []byte(s)
		}
	}
	return out, nil
}

// Set implements cache.Cache.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := c.call(ctx, func() error { return c.client.Set(ctx, c.prefix+key, value, ttl).Err() }); err != nil {
		return fmt.Errorf("redis set: %w", err)
	}
	return nil
}

// SetMany implements cache.Cache: one pipeline, one round trip.
func (c *Cache) SetMany(ctx context.Context, entries ...cache.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	err := c.call(ctx, func() error {
		_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			var announced []string
			for _, e := range entries {
				p.Set(ctx, c.prefix+e.Key, e.Value, e.TTL)
				if e.Announce {
					announced = append(announced, e.Key)
				}
			}
			if len(announced) > 0 {
				p.Publish(ctx, c.prefix+announceChannel, strings.Join(announced, "\n"))
			}
			return nil
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("redis set %d keys: %w", len(entries), err)
	}
	return nil
}

// announceChannel is the Redis channel (after the prefix) of announced keys,
// a message per SetMany, the keys one a line.
const announceChannel = "announced"

// Subscribe implements cache.Cache with a Redis subscription, which the
// client keeps, subscribing again after a reconnect. It returns once Redis
// has confirmed the subscription (or after Timeout, when Redis does not
// answer: it keeps trying).
func (c *Cache) Subscribe(heard func(keys []string)) func() {
	ctx, cancel := context.WithCancel(context.Background())
	ps := c.client.Subscribe(ctx, c.prefix+announceChannel)
	confirm, done := context.WithTimeout(ctx, Timeout)
	ps.Receive(confirm)
	done()
	messages := ps.Channel()
	go func() {
		for m := range messages {
			heard(strings.Split(m.Payload, "\n"))
		}
	}()
	return func() {
		cancel()
		ps.Close()
	}
}

// Close implements cache.Cache.
func (c *Cache) Close() error { return c.client.Close() }
