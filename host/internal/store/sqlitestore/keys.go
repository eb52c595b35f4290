package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// CreateKey implements store.Keys.
func (s *Store) CreateKey(ctx context.Context, k store.APIKey) error {
	scopes, _ := json.Marshal(k.Scopes)
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_keys (id, name, key_hash, scopes, rate_per_minute, created_at) VALUES (?,?,?,?,?,?)`,
		k.ID, k.Name, k.Hash, string(scopes), k.RatePerMinute, time.Now().UTC().Format(store.TimeFormat))
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.Name, err)
	}
	return nil
}

func scanKey(r scanner) (store.APIKey, error) {
	var k store.APIKey
	var scopes, created string
	var revoked sql.NullString
	if err := r.Scan(&k.ID, &k.Name, &k.Hash, &scopes, &k.RatePerMinute, &created, &revoked); err != nil {
		return store.APIKey{}, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return store.APIKey{}, err
	}
	k.CreatedAt, _ = time.Parse(store.TimeFormat, created)
	if revoked.Valid {
		k.RevokedAt, _ = time.Parse(store.TimeFormat, revoked.String)
	}
	return k, nil
}

const keyColumns = `id, name, key_hash, scopes, rate_per_minute, created_at, revoked_at`

// KeyByHash implements store.Keys.
func (s *Store) KeyByHash(ctx context.Context, hash string) (store.APIKey, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIKey{}, store.ErrNotFound
	}
	return k, err
}

// ListKeys implements store.Keys.
func (s *Store) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	return collect(rows, err, scanKey)
}

// RevokeKey implements store.Keys.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, time.Now().UTC().Format(store.TimeFormat), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("key %s: %w", id, store.ErrNotFound)
	}
	return nil
}
