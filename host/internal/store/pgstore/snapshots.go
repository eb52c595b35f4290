package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// MatchesVersion implements store.Store.
func (s *Store) MatchesVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT value FROM store_meta WHERE key = 'matches_version'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("matches version: %w", err)
	}
	return v, nil
}

// SaveFeatureSnapshot implements store.Store.
func (s *Store) SaveFeatureSnapshot(ctx context.Context, f store.FeatureSnapshot) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO feature_snapshots (key, matches_version, state, meta, created_at) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (key) DO UPDATE SET matches_version = excluded.matches_version, state = excluded.state, meta = excluded.meta, created_at = excluded.created_at`,
		f.Key, f.MatchesVersion, f.State, f.Meta, f.CreatedAt.UTC())
	if err != nil {
		return fmt.Errorf("save feature snapshot: %w", err)
	}
	return nil
}

// FeatureSnapshot implements store.Store.
func (s *Store) FeatureSnapshot(ctx context.Context, key string) (store.FeatureSnapshot, error) {
	f := store.FeatureSnapshot{Key: key}
	err := s.pool.QueryRow(ctx, `SELECT matches_version, state, meta, created_at FROM feature_snapshots WHERE key = $1`, key).
		Scan(&f.MatchesVersion, &f.State, &f.Meta, &f.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.FeatureSnapshot{}, fmt.Errorf("feature snapshot %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.FeatureSnapshot{}, fmt.Errorf("feature snapshot: %w", err)
	}
	f.CreatedAt = f.CreatedAt.UTC()
	return f, nil
}

// FinishedDigest implements store.Store.
func (s *Store) FinishedDigest(ctx context.Context, cut time.Time) (string, string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, content_hash, kickoff < $1 FROM matches WHERE status = 'finished' ORDER BY kickoff, id`,
		store.DigestCut(cut))
	if err != nil {
		return "", "", fmt.Errorf("finished digest: %w", err)
	}
	defer rows.Close()
	return store.DigestRows(rows)
}
