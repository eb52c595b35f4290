package sqlitestore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

const versionColumns = `version, name, model_plugin, artifact_sha256, signature, feature_plugin, feature_schema_version, params, metrics, training_data_hash, created_at`

// RegisterModel implements store.Registry.
func (s *Store) RegisterModel(ctx context.Context, v store.ModelVersion) (store.ModelVersion, error) {
	sum := sha256.Sum256(v.Artifact)
	v.ArtifactSHA256 = hex.EncodeToString(sum[:])
	v.CreatedAt = time.Now().UTC()
	sig, _ := json.Marshal(v.Signature)
	metrics, _ := json.Marshal(v.Metrics)
	params := v.Params
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	err := s.db.QueryRowContext(ctx, `INSERT INTO model_versions (version, name, model_plugin, artifact, artifact_sha256, signature, feature_plugin,
		feature_schema_version, params, metrics, training_data_hash, created_at)
		VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions), ?,?,?,?,?,?,?,?,?,?,?) RETURNING version`,
		v.Name, v.ModelPlugin, v.Artifact, v.ArtifactSHA256, string(sig), v.FeaturePlugin, v.FeatureSchemaVersion,
		string(params), string(metrics), v.TrainingDataHash, v.CreatedAt.Format(store.TimeFormat)).Scan(&v.Version)
	if err != nil {
		return store.ModelVersion{}, fmt.Errorf("register model %s: %w", v.Name, err)
	}
	return v, nil
}

func scanVersion(r scanner) (store.ModelVersion, error) {
	var v store.ModelVersion
	var sig, params, metrics, created string
	if err := r.Scan(&v.Version, &v.Name, &v.ModelPlugin, &v.ArtifactSHA256, &sig, &v.FeaturePlugin, &v.FeatureSchemaVersion,
		&params, &metrics, &v.TrainingDataHash, &created); err != nil {
		return store.ModelVersion{}, err
	}
	if err := errors.Join(json.Unmarshal([]byte(sig), &v.Signature), json.Unmarshal([]byte(metrics), &v.Metrics)); err != nil {
		return store.ModelVersion{}, fmt.Errorf("model version %d: %w", v.Version, err)
	}
	v.Params = json.RawMessage(params)
	v.CreatedAt, _ = time.Parse(store.TimeFormat, created)
	return v, nil
}

// ModelVersion implements store.Registry.
func (s *Store) ModelVersion(ctx context.Context, version int) (store.ModelVersion, error) {
	v, err := scanVersion(s.db.QueryRowContext(ctx, `SELECT `+versionColumns+` FROM model_versions WHERE version = ?`, version))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ModelVersion{}, fmt.Errorf("model version %d: %w", version, store.ErrNotFound)
	}
	if err != nil {
		return store.ModelVersion{}, fmt.Errorf("model version %d: %w", version, err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT artifact FROM model_versions WHERE version = ?`, version).Scan(&v.Artifact); err != nil {
		return store.ModelVersion{}, fmt.Errorf("model version %d artifact: %w", version, err)
	}
	return v, nil
}

// ModelVersions implements store.Registry.
func (s *Store) ModelVersions(ctx context.Context) ([]store.ModelVersion, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+versionColumns+` FROM model_versions ORDER BY version DESC`)
	if err != nil {
		return nil, fmt.Errorf("list model versions: %w", err)
	}
	return collect(rows, nil, scanVersion)
}

// SetAlias implements store.Registry.
func (s *Store) SetAlias(ctx context.Context, alias string, version int) error {
	if _, err := s.ModelVersion(ctx, version); err != nil {
		return fmt.Errorf("set alias %s: %w", alias, err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO model_aliases (alias, version, updated_at) VALUES (?,?,?)
		ON CONFLICT (alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
		alias, version, time.Now().UTC().Format(store.TimeFormat))
	if err != nil {
		return fmt.Errorf("set alias %s: %w", alias, err)
	}
	return nil
}

// Alias implements store.Registry.
func (s *Store) Alias(ctx context.Context, alias string) (store.ModelVersion, error) {
	var version int
	err := s.db.QueryRowContext(ctx, `SELECT version FROM model_aliases WHERE alias = ?`, alias).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ModelVersion{}, fmt.Errorf("alias %s: %w", alias, store.ErrNotFound)
	}
	if err != nil {
		return store.ModelVersion{}, fmt.Errorf("alias %s: %w", alias, err)
	}
	return s.ModelVersion(ctx, version)
}
