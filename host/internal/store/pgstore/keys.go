package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// CreateKey implements store.Keys.
func (s *Store) CreateKey(ctx context.Context, k store.APIKey) error {
	scopes, _ := json.Marshal(k.Scopes)
	_, err := s.pool.Exec(ctx, `INSERT INTO api_keys (id, name, key_hash, scopes, rate_per_minute, created_at) VALUES ($1,$2,$3,$4,$5,now())`,
		k.ID, k.Name, k.Hash, string(scopes), k.RatePerMinute)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.Name, err)
	}
	return nil
}

func scanKey(r pgx.Row) (store.APIKey, error) {
	var k store.APIKey
	var scopes []byte
	var revoked *time.Time
	if err := r.Scan(&k.ID, &k.Name, &k.Hash, &scopes, &k.RatePerMinute, &k.CreatedAt, &revoked); err != nil {
		return store.APIKey{}, err
	}
	if err := json.Unmarshal(scopes, &k.Scopes); err != nil {
		return store.APIKey{}, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if revoked != nil {
		k.RevokedAt = revoked.UTC()
	}
	return k, nil
}

const keyColumns = `id, name, key_hash, scopes, rate_per_minute, created_at, revoked_at`

// KeyByHash implements store.Keys.
func (s *Store) KeyByHash(ctx context.Context, hash string) (store.APIKey, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.APIKey{}, store.ErrNotFound
	}
	return k, err
}

// ListKeys implements store.Keys.
func (s *Store) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	return collect(rows, err, scanKey)
}

// RevokeKey implements store.Keys.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("key %s: %w", id, store.ErrNotFound)
	}
	return nil
}
