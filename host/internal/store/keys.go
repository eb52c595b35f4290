package store

import (
	"context"
	"time"
)

// Keys stores API keys, hashed.
type Keys interface {
	CreateKey(ctx context.Context, k APIKey) error
	// KeyByHash returns the key with this SHA-256 (ErrNotFound when none or revoked).
	KeyByHash(ctx context.Context, hash string) (APIKey, error)
	ListKeys(ctx context.Context) ([]APIKey, error)
	RevokeKey(ctx context.Context, id string) error
}

// APIKey is a caller's credential: never the key itself, only its hash.
type APIKey struct {
	ID            string
	Name          string
	Hash          string
	Scopes        []string
	RatePerMinute int
	CreatedAt     time.Time
	RevokedAt     time.Time // zero: active
}
