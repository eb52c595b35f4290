package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// GenerationChannel is the NOTIFY channel a promotion signals on.
const GenerationChannel = "soccerpredict_generations"

// Promote implements store.Generations in one transaction; the NOTIFY is
// delivered to listeners when it commits.
func (s *Store) Promote(ctx context.Context, p store.Promotion) (store.Generation, error) {
	var g store.Generation
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE generations IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM model_versions WHERE version = $1)`, p.Version).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("%s: model version %d: %w", p.Action, p.Version, store.ErrNotFound)
		}
		var from *int
		if err := tx.QueryRow(ctx, `SELECT version FROM model_aliases WHERE alias = $1`, p.Alias).Scan(&from); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO model_aliases (alias, version, updated_at) VALUES ($1,$2,now())
			ON CONFLICT (alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`, p.Alias, p.Version); err != nil {
			return err
		}
		var gen *int64
		if p.Alias == store.Champion {
			if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM generations`).Scan(&g.ID); err != nil {
				return err
			}
			g = store.Generation{ID: g.ID, Alias: p.Alias, Version: p.Version, PluginDigest: p.PluginDigest,
				CacheNamespace: store.CacheNamespace(g.ID, p.Version), Action: p.Action}
			if err := tx.QueryRow(ctx, `INSERT INTO generations (id, alias, version, plugin_digest, cache_namespace, action, created_at)
				VALUES ($1,$2,$3,$4,$5,$6,now()) RETURNING created_at`, g.ID, g.Alias, g.Version, g.PluginDigest, g.CacheNamespace, g.Action).Scan(&g.CreatedAt); err != nil {
				return err
			}
			g.CreatedAt = g.CreatedAt.UTC()
			gen = &g.ID
		}
		details, _ := json.Marshal(p.Details)
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (at, action, actor, alias, from_version, to_version, generation, forced, reason, details)
			VALUES (now(),$1,$2,$3,$4,$5,$6,$7,$8,$9)`, p.Action, p.Actor, p.Alias, from, p.Version, gen, p.Forced, p.Reason, string(details)); err != nil {
			return err
		}
		if gen != nil {
			if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, GenerationChannel, strconv.FormatInt(g.ID, 10)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return store.Generation{}, err
	}
	return g, nil
}

const generationColumns = `id, alias, version, plugin_digest, cache_namespace, action, created_at`

func scanGeneration(r pgx.Row) (store.Generation, error) {
	var g store.Generation
	if err := r.Scan(&g.ID, &g.Alias, &g.Version, &g.PluginDigest, &g.CacheNamespace, &g.Action, &g.CreatedAt); err != nil {
		return store.Generation{}, err
	}
	g.CreatedAt = g.CreatedAt.UTC()
	return g, nil
}

// CurrentGeneration implements store.Generations.
func (s *Store) CurrentGeneration(ctx context.Context) (store.Generation, error) {
	g, err := scanGeneration(s.pool.QueryRow(ctx, `SELECT `+generationColumns+` FROM generations ORDER BY id DESC LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Generation{}, fmt.Errorf("current generation: %w", store.ErrNotFound)
	}
	return g, err
}

// GenerationHistory implements store.Generations.
func (s *Store) GenerationHistory(ctx context.Context, limit int) ([]store.Generation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+generationColumns+` FROM generations ORDER BY id DESC LIMIT $1`, max(limit, 1))
	return collect(rows, err, scanGeneration)
}

// Audit implements store.Generations.
func (s *Store) Audit(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, action, actor, alias, from_version, to_version, generation, forced, reason, details
		FROM audit_log ORDER BY id DESC LIMIT $1`, max(limit, 1))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var a store.AuditEntry
		var from *int
		var gen *int64
		var details []byte
		if err := rows.Scan(&a.At, &a.Action, &a.Actor, &a.Alias, &from, &a.ToVersion, &gen, &a.Forced, &a.Reason, &details); err != nil {
			return nil, err
		}
		a.At, a.Details = a.At.UTC(), json.RawMessage(details)
		if from != nil {
			a.FromVersion = *from
		}
		if gen != nil {
			a.Generation = *gen
		}
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
	var mv *int
	if r.ModelVersion > 0 {
		mv = &r.ModelVersion
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO experiment_runs (id, kind, started_at, finished_at, params, metrics, dataset_hash, plugins, git_commit, model_version, report)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`, r.ID, r.Kind, r.StartedAt.UTC(), r.FinishedAt.UTC(), string(params), string(metrics),
		r.DatasetHash, string(plugins), r.GitCommit, mv, string(r.Report))
	if err != nil {
		return fmt.Errorf("record run %s: %w", r.ID, err)
	}
	return nil
}

const experimentColumns = `id, kind, started_at, finished_at, params, metrics, dataset_hash, plugins, git_commit, model_version, report`

func scanExperiment(r pgx.Row) (store.ExperimentRun, error) {
	var e store.ExperimentRun
	var params, metrics, plugins []byte
	var report string
	var mv *int
	if err := r.Scan(&e.ID, &e.Kind, &e.StartedAt, &e.FinishedAt, &params, &metrics, &e.DatasetHash, &plugins, &e.GitCommit, &mv, &report); err != nil {
		return store.ExperimentRun{}, err
	}
	e.StartedAt, e.FinishedAt, e.Params = e.StartedAt.UTC(), e.FinishedAt.UTC(), json.RawMessage(params)
	if mv != nil {
		e.ModelVersion = *mv
	}
	if report != "" {
		e.Report = json.RawMessage(report)
	}
	if err := errors.Join(json.Unmarshal(metrics, &e.Metrics), json.Unmarshal(plugins, &e.Plugins)); err != nil {
		return store.ExperimentRun{}, fmt.Errorf("run %s: %w", e.ID, err)
	}
	return e, nil
}

// Experiment implements store.Generations.
func (s *Store) Experiment(ctx context.Context, id string) (store.ExperimentRun, error) {
	e, err := scanExperiment(s.pool.QueryRow(ctx, `SELECT `+experimentColumns+` FROM experiment_runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ExperimentRun{}, fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	}
	return e, err
}

// Experiments implements store.Generations.
func (s *Store) Experiments(ctx context.Context, limit int) ([]store.ExperimentRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+experimentColumns+` FROM experiment_runs ORDER BY started_at DESC, id DESC LIMIT $1`, max(limit, 1))
	return collect(rows, err, scanExperiment)
}

// ListenGenerations delivers a signal whenever a promotion commits, over a
// dedicated LISTEN connection, until ctx ends (end it before Close, which
// waits for the connection). Callers still poll as a fallback: a
// notification is lost while the connection is down.
func (s *Store) ListenGenerations(ctx context.Context) (<-chan struct{}, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+GenerationChannel); err != nil {
		conn.Release()
		return nil, err
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		defer conn.Release()
		for {
			if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
				if ctx.Err() == nil {
					// The connection failed: drop it so the pool does not hand it out again.
					conn.Conn().Close(context.Background())
				}
				return
			}
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out, nil
}
