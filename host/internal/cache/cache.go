// Package cache holds finished job results for fast polling: memcache (the
// embedded default) and rediscache (Redis), checked by cachetest. The store
// stays the record; the cache is only a faster copy that may expire.
package cache

import (
	"context"
	"errors"
	"time"
)

// ErrMiss means the key is not cached.
var ErrMiss = errors.New("cache miss")

// ErrSkipped means the call did not go to the cache because a call failed
// moments ago (the failure itself was an error of its own): callers fall
// back to the store as for any error, and need not log it again.
var ErrSkipped = errors.New("cache skipped after a recent failure")

// Cache is a key/value cache with expiry.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, error)
	// GetMany reads every key in one round trip: the values in the keys'
	// order, nil for a key that is not cached.
	GetMany(ctx context.Context, keys ...string) ([][]byte, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// SetMany sets every entry in one round trip; the first error is the
	// call's (the other entries may be set).
	SetMany(ctx context.Context, entries ...Entry) error
	// Subscribe calls heard with the keys of announced entries (see
	// Entry.Announce) that any process sharing the cache sets, until stop
	// is called or the cache is closed. Delivery is at most once (a
	// connection that drops loses what is announced meanwhile), so whoever
	// waits for a key still reads it now and then.
	Subscribe(heard func(keys []string)) (stop func())
	Close() error
}

// Entry is one value to set.
type Entry struct {
	Key   string
	Value []byte
	TTL   time.Duration
	// Announce tells subscribers the key was set (in the same round trip):
	// news a waiter need not poll for, such as a job that ended.
	Announce bool
}
