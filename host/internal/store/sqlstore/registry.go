package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

const versionColumns = `version, name, model_plugin, artifact_sha256, signature, feature_plugin, feature_schema_version, params, metrics, training_data_hash, created_at`

// RegisterModel implements store.Registry. Versions are numbered with
// writers of the table held off, so concurrent registrations get distinct
// numbers.
func (s *Store) RegisterModel(ctx context.Context, v store.ModelVersion) (store.ModelVersion, error) {
	sum := sha256.Sum256(v.Artifact)
	v.ArtifactSHA256 = hex.EncodeToString(sum[:])
	v.CreatedAt = now()
	params := v.Params
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	err := s.d.InTx(ctx, func(c Conn) error {
		if err := s.d.Lock(ctx, c, "model_versions"); err != nil {
			return err
		}
		return c.QueryRow(ctx, `INSERT INTO model_versions (version, name, model_plugin, artifact, artifact_sha256, signature, feature_plugin,
			feature_schema_version, params, metrics, training_data_hash, created_at)
			VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions), $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING version`,
			v.Name, v.ModelPlugin, v.Artifact, v.ArtifactSHA256, text(v.Signature), v.FeaturePlugin, v.FeatureSchemaVersion,
			string(params), text(v.Metrics), v.TrainingDataHash, s.d.Time(v.CreatedAt)).Scan(&v.Version)
	})
	if err != nil {
		return store.ModelVersion{}, fmt.Errorf("register model %s: %w", v.Name, err)
	}
	return v, nil
}

func scanVersion(r Row) (store.ModelVersion, error) {
	var v store.ModelVersion
	var sig, params, metrics []byte
	if err := r.Scan(&v.Version, &v.Name, &v.ModelPlugin, &v.ArtifactSHA256, &sig, &v.FeaturePlugin, &v.FeatureSchemaVersion,
		&params, &metrics, &v.TrainingDataHash, at(&v.CreatedAt)); err != nil {
		return store.ModelVersion{}, err
	}
	if err := errors.Join(json.Unmarshal(sig, &v.Signature), json.Unmarshal(metrics, &v.Metrics)); err != nil {
		return store.ModelVersion{}, fmt.Errorf("model version %d: %w", v.Version, err)
	}
	v.Params = json.RawMessage(params)
	return v, nil
}

// ModelVersion implements store.Registry.
func (s *Store) ModelVersion(ctx context.Context, version int) (store.ModelVersion, error) {
	v, err := scanVersion(s.db.QueryRow(ctx, `SELECT `+versionColumns+` FROM model_versions WHERE version = $1`, version))
	if noRows(err) {
		return store.ModelVersion{}, fmt.Errorf("model version %d: %w", version, store.ErrNotFound)
	}
	if err != nil {
		return store.ModelVersion{}, fmt.Errorf("model version %d: %w", version, err)
	}
	if err := s.db.QueryRow(ctx, `SELECT artifact FROM model_versions WHERE version = $1`, version).Scan(&v.Artifact); err != nil {
		return store.ModelVersion{}, fmt.Errorf("model version %d artifact: %w", version, err)
	}
	return v, nil
}

// ModelVersions implements store.Registry.
func (s *Store) ModelVersions(ctx context.Context) ([]store.ModelVersion, error) {
	rows, err := s.db.Query(ctx, `SELECT `+versionColumns+` FROM model_versions ORDER BY version DESC`)
	out, err := collect(rows, err, scanVersion)
	if err != nil {
		return nil, fmt.Errorf("list model versions: %w", err)
	}
	return out, nil
}

// setAlias is the statement that points an alias at a version.
const setAlias = `INSERT INTO model_aliases (alias, version, updated_at) VALUES ($1,$2,now())
	ON CONFLICT (alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`

// SetAlias implements store.Registry.
func (s *Store) SetAlias(ctx context.Context, alias string, version int) error {
	if _, err := s.ModelVersion(ctx, version); err != nil {
		return fmt.Errorf("set alias %s: %w", alias, err)
	}
	if _, err := s.db.Exec(ctx, setAlias, alias, version); err != nil {
		return fmt.Errorf("set alias %s: %w", alias, err)
	}
	return nil
}

// Alias implements store.Registry.
func (s *Store) Alias(ctx context.Context, alias string) (store.ModelVersion, error) {
	var version int
	err := s.db.QueryRow(ctx, `SELECT version FROM model_aliases WHERE alias = $1`, alias).Scan(&version)
	if noRows(err) {
		return store.ModelVersion{}, fmt.Errorf("alias %s: %w", alias, store.ErrNotFound)
	}
	if err != nil {
		return store.ModelVersion{}, fmt.Errorf("alias %s: %w", alias, err)
	}
	return s.ModelVersion(ctx, version)
}

// CreateKey implements store.Keys.
func (s *Store) CreateKey(ctx context.Context, k store.APIKey) error {
	_, err := s.db.Exec(ctx, `INSERT INTO api_keys (id, name, key_hash, scopes, rate_per_minute, created_at) VALUES ($1,$2,$3,$4,$5,now())`,
		k.ID, k.Name, k.Hash, text(k.Scopes), k.RatePerMinute)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.Name, err)
	}
	return nil
}

const keyColumns = `id, name, key_hash, scopes, rate_per_minute, created_at, revoked_at`

func scanKey(r Row) (store.APIKey, error) {
	var k store.APIKey
	var scopes []byte
	var revoked *time.Time
	if err := r.Scan(&k.ID, &k.Name, &k.Hash, &scopes, &k.RatePerMinute, at(&k.CreatedAt), maybeAt(&revoked)); err != nil {
		return store.APIKey{}, err
	}
	if err := json.Unmarshal(scopes, &k.Scopes); err != nil {
		return store.APIKey{}, err
	}
	if revoked != nil {
		k.RevokedAt = *revoked
	}
	return k, nil
}

// KeyByHash implements store.Keys.
func (s *Store) KeyByHash(ctx context.Context, hash string) (store.APIKey, error) {
	k, err := scanKey(s.db.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, hash))
	if noRows(err) {
		return store.APIKey{}, store.ErrNotFound
	}
	return k, err
}

// ListKeys implements store.Keys.
func (s *Store) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	rows, err := s.db.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	return collect(rows, err, scanKey)
}

// RevokeKey implements store.Keys.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	n, err := s.db.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("key %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// SaveReference implements store.References.
func (s *Store) SaveReference(ctx context.Context, version int, r store.Reference) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("reference of v%d: %w", version, err)
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO model_references (version, body) VALUES ($1, $2) ON CONFLICT (version) DO UPDATE SET body = excluded.body`,
		version, body); err != nil {
		return fmt.Errorf("save reference of v%d: %w", version, err)
	}
	return nil
}

// Reference implements store.References.
func (s *Store) Reference(ctx context.Context, version int) (store.Reference, error) {
	var body []byte
	err := s.db.QueryRow(ctx, `SELECT body FROM model_references WHERE version = $1`, version).Scan(&body)
	if noRows(err) {
		return store.Reference{}, fmt.Errorf("reference of v%d: %w", version, store.ErrNotFound)
	}
	if err != nil {
		return store.Reference{}, fmt.Errorf("reference of v%d: %w", version, err)
	}
	var r store.Reference
	if err := json.Unmarshal(body, &r); err != nil {
		return store.Reference{}, fmt.Errorf("reference of v%d: %w", version, err)
	}
	return r, nil
}
