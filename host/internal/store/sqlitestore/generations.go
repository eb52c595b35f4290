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

// Promote implements store.Generations in one transaction.
func (s *Store) Promote(ctx context.Context, p store.Promotion) (store.Generation, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Generation{}, err
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	var exists int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM model_versions WHERE version = ?`, p.Version).Scan(&exists); err != nil {
		return store.Generation{}, err
	}
	if exists == 0 {
		return store.Generation{}, fmt.Errorf("%s: model version %d: %w", p.Action, p.Version, store.ErrNotFound)
	}
	var from sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT version FROM model_aliases WHERE alias = ?`, p.Alias).Scan(&from); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return store.Generation{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO model_aliases (alias, version, updated_at) VALUES (?,?,?)
		ON CONFLICT (alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`, p.Alias, p.Version, now.Format(store.TimeFormat)); err != nil {
		return store.Generation{}, err
	}
	var g store.Generation
	if p.Alias == store.Champion {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM generations`).Scan(&g.ID); err != nil {
			return store.Generation{}, err
		}
		g = store.Generation{ID: g.ID, Alias: p.Alias, Version: p.Version, PluginDigest: p.PluginDigest,
			CacheNamespace: store.CacheNamespace(g.ID, p.Version), Action: p.Action, CreatedAt: now}
		if _, err := tx.ExecContext(ctx, `INSERT INTO generations (id, alias, version, plugin_digest, cache_namespace, action, created_at) VALUES (?,?,?,?,?,?,?)`,
			g.ID, g.Alias, g.Version, g.PluginDigest, g.CacheNamespace, g.Action, now.Format(store.TimeFormat)); err != nil {
			return store.Generation{}, err
		}
	}
	details, _ := json.Marshal(p.Details)
	var gen any
	if g.ID > 0 {
		gen = g.ID
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, action, actor, alias, from_version, to_version, generation, forced, reason, details)
		VALUES (?,?,?,?,?,?,?,?,?,?)`, now.Format(store.TimeFormat), p.Action, p.Actor, p.Alias, from, p.Version, gen, p.Forced, p.Reason, string(details)); err != nil {
		return store.Generation{}, err
	}
	if err := tx.Commit(); err != nil {
		return store.Generation{}, fmt.Errorf("%s: commit: %w", p.Action, err)
	}
	return g, nil
}

func scanGeneration(r scanner) (store.Generation, error) {
	var g store.Generation
	var at string
	if err := r.Scan(&g.ID, &g.Alias, &g.Version, &g.PluginDigest, &g.CacheNamespace, &g.Action, &at); err != nil {
		return store.Generation{}, err
	}
	g.CreatedAt, _ = time.Parse(store.TimeFormat, at)
	return g, nil
}

const generationColumns = `id, alias, version, plugin_digest, cache_namespace, action, created_at`

// CurrentGeneration implements store.Generations.
func (s *Store) CurrentGeneration(ctx context.Context) (store.Generation, error) {
	g, err := scanGeneration(s.db.QueryRowContext(ctx, `SELECT `+generationColumns+` FROM generations ORDER BY id DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Generation{}, fmt.Errorf("current generation: %w", store.ErrNotFound)
	}
	return g, err
}

// GenerationHistory implements store.Generations.
func (s *Store) GenerationHistory(ctx context.Context, limit int) ([]store.Generation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+generationColumns+` FROM generations ORDER BY id DESC LIMIT ?`, max(limit, 1))
	return collect(rows, err, scanGeneration)
}

// Audit implements store.Generations.
func (s *Store) Audit(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, action, actor, alias, from_version, to_version, generation, forced, reason, details
		FROM audit_log ORDER BY id DESC LIMIT ?`, max(limit, 1))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var a store.AuditEntry
		var at, details string
		var from, gen sql.NullInt64
		if err := rows.Scan(&at, &a.Action, &a.Actor, &a.Alias, &from, &a.ToVersion, &gen, &a.Forced, &a.Reason, &details); err != nil {
			return nil, err
		}
		a.At, _ = time.Parse(store.TimeFormat, at)
		a.FromVersion, a.Generation, a.Details = int(from.Int64), gen.Int64, json.RawMessage(details)
		out = append(out, a)
	}
	return out, rows.Err()
}

// RecordExperiment implements store.Generations.
func (s *Store) RecordExperiment(ctx context.Context, r store.ExperimentRun) error {
	metrics, _ := json.Marshal(r.Metrics)
	plugins, _ := json.Marshal(r.Plugins)
	params := r.Params
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	var mv any
	if r.ModelVersion > 0 {
		mv = r.ModelVersion
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO experiment_runs (id, kind, started_at, finished_at, params, metrics, dataset_hash, plugins, git_commit, model_version, report)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)`, r.ID, r.Kind, r.StartedAt.UTC().Format(store.TimeFormat), r.FinishedAt.UTC().Format(store.TimeFormat),
		string(params), string(metrics), r.DatasetHash, string(plugins), r.GitCommit, mv, string(r.Report))
	if err != nil {
		return fmt.Errorf("record run %s: %w", r.ID, err)
	}
	return nil
}

const experimentColumns = `id, kind, started_at, finished_at, params, metrics, dataset_hash, plugins, git_commit, model_version, report`

func scanExperiment(r scanner) (store.ExperimentRun, error) {
	var e store.ExperimentRun
	var started, finished, params, metrics, plugins, report string
	var mv sql.NullInt64
	if err := r.Scan(&e.ID, &e.Kind, &started, &finished, &params, &metrics, &e.DatasetHash, &plugins, &e.GitCommit, &mv, &report); err != nil {
		return store.ExperimentRun{}, err
	}
	e.StartedAt, _ = time.Parse(store.TimeFormat, started)
	e.FinishedAt, _ = time.Parse(store.TimeFormat, finished)
	e.Params, e.ModelVersion = json.RawMessage(params), int(mv.Int64)
	if report != "" {
		e.Report = json.RawMessage(report)
	}
	if err := errors.Join(json.Unmarshal([]byte(metrics), &e.Metrics), json.Unmarshal([]byte(plugins), &e.Plugins)); err != nil {
		return store.ExperimentRun{}, fmt.Errorf("run %s: %w", e.ID, err)
	}
	return e, nil
}

// Experiment implements store.Generations.
func (s *Store) Experiment(ctx context.Context, id string) (store.ExperimentRun, error) {
	e, err := scanExperiment(s.db.QueryRowContext(ctx, `SELECT `+experimentColumns+` FROM experiment_runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ExperimentRun{}, fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	}
	return e, err
}

// Experiments implements store.Generations.
func (s *Store) Experiments(ctx context.Context, limit int) ([]store.ExperimentRun, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+experimentColumns+` FROM experiment_runs ORDER BY started_at DESC, id DESC LIMIT ?`, max(limit, 1))
	return collect(rows, err, scanExperiment)
}
