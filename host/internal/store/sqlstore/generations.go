package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// Promote implements store.Generations in one transaction, which holds
// other promotions off.
func (s *Store) Promote(ctx context.Context, p store.Promotion) (store.Generation, error) {
	var g store.Generation
	err := s.d.InTx(ctx, func(c Conn) error {
		g = store.Generation{}
		if err := s.d.Lock(ctx, c, "generations"); err != nil {
			return err
		}
		var exists bool
		if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM model_versions WHERE version = $1)`, p.Version).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("%s: model version %d: %w", p.Action, p.Version, store.ErrNotFound)
		}
		var from *int
		if err := c.QueryRow(ctx, `SELECT version FROM model_aliases WHERE alias = $1`, p.Alias).Scan(&from); err != nil && !noRows(err) {
			return err
		}
		if _, err := c.Exec(ctx, setAlias, p.Alias, p.Version); err != nil {
			return err
		}
		var gen *int64
		if p.Alias == store.Champion {
			var id int64
			if err := c.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM generations`).Scan(&id); err != nil {
				return err
			}
			g = store.Generation{ID: id, Alias: p.Alias, Version: p.Version, PluginDigest: p.PluginDigest,
				CacheNamespace: store.CacheNamespace(id, p.Version), Action: p.Action, CreatedAt: now()}
			if _, err := c.Exec(ctx, `INSERT INTO generations (id, alias, version, plugin_digest, cache_namespace, action, created_at)
				VALUES ($1,$2,$3,$4,$5,$6,$7)`, g.ID, g.Alias, g.Version, g.PluginDigest, g.CacheNamespace, g.Action, s.d.Time(g.CreatedAt)); err != nil {
				return err
			}
			gen = &g.ID
		}
		if _, err := c.Exec(ctx, `INSERT INTO audit_log (at, action, actor, alias, from_version, to_version, generation, forced, reason, details)
			VALUES (now(),$1,$2,$3,$4,$5,$6,$7,$8,$9)`, p.Action, p.Actor, p.Alias, from, p.Version, gen, p.Forced, p.Reason, text(p.Details)); err != nil {
			return err
		}
		if gen != nil {
			return s.d.Promoted(ctx, c, g.ID)
		}
		return nil
	})
	if err != nil {
		return store.Generation{}, err
	}
	return g, nil
}

const generationColumns = `id, alias, version, plugin_digest, cache_namespace, action, created_at`

func scanGeneration(r Row) (store.Generation, error) {
	var g store.Generation
	err := r.Scan(&g.ID, &g.Alias, &g.Version, &g.PluginDigest, &g.CacheNamespace, &g.Action, at(&g.CreatedAt))
	return g, err
}

// CurrentGeneration implements store.Generations.
func (s *Store) CurrentGeneration(ctx context.Context) (store.Generation, error) {
	g, err := scanGeneration(s.db.QueryRow(ctx, `SELECT `+generationColumns+` FROM generations ORDER BY id DESC LIMIT 1`))
	if noRows(err) {
		return store.Generation{}, fmt.Errorf("current generation: %w", store.ErrNotFound)
	}
	return g, err
}

// GenerationHistory implements store.Generations.
func (s *Store) GenerationHistory(ctx context.Context, limit int) ([]store.Generation, error) {
	rows, err := s.db.Query(ctx, `SELECT `+generationColumns+` FROM generations ORDER BY id DESC LIMIT $1`, max(limit, 1))
	return collect(rows, err, scanGeneration)
}

// Audit implements store.Generations.
func (s *Store) Audit(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT at, action, actor, alias, from_version, to_version, generation, forced, reason, details
		FROM audit_log ORDER BY id DESC LIMIT $1`, max(limit, 1))
	return collect(rows, err, func(r Row) (store.AuditEntry, error) {
		var a store.AuditEntry
		var from *int
		var gen *int64
		var details []byte
		if err := r.Scan(at(&a.At), &a.Action, &a.Actor, &a.Alias, &from, &a.ToVersion, &gen, &a.Forced, &a.Reason, &details); err != nil {
			return a, err
		}
		a.Details = json.RawMessage(details)
		if from != nil {
			a.FromVersion = *from
		}
		if gen != nil {
			a.Generation = *gen
		}
		return a, nil
	})
}

// RecordExperiment implements store.Generations.
func (s *Store) RecordExperiment(ctx context.Context, r store.ExperimentRun) error {
	params := r.Params
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	var mv *int
	if r.ModelVersion > 0 {
		mv = &r.ModelVersion
	}
	_, err := s.db.Exec(ctx, `INSERT INTO experiment_runs (id, kind, started_at, finished_at, params, metrics, dataset_hash, plugins, git_commit, model_version, report)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`, r.ID, r.Kind, s.d.Time(r.StartedAt), s.d.Time(r.FinishedAt), string(params), text(r.Metrics),
		r.DatasetHash, text(r.Plugins), r.GitCommit, mv, string(r.Report))
	if err != nil {
		return fmt.Errorf("record run %s: %w", r.ID, err)
	}
	return nil
}

const experimentColumns = `id, kind, started_at, finished_at, params, metrics, dataset_hash, plugins, git_commit, model_version, report`

func scanExperiment(r Row) (store.ExperimentRun, error) {
	var e store.ExperimentRun
	var params, metrics, plugins []byte
	var report string
	var mv *int
	if err := r.Scan(&e.ID, &e.Kind, at(&e.StartedAt), at(&e.FinishedAt), &params, &metrics, &e.DatasetHash, &plugins, &e.GitCommit, &mv, &report); err != nil {
		return store.ExperimentRun{}, err
	}
	e.Params = json.RawMessage(params)
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
	e, err := scanExperiment(s.db.QueryRow(ctx, `SELECT `+experimentColumns+` FROM experiment_runs WHERE id = $1`, id))
	if noRows(err) {
		return store.ExperimentRun{}, fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	}
	return e, err
}

// Experiments implements store.Generations.
func (s *Store) Experiments(ctx context.Context, limit int) ([]store.ExperimentRun, error) {
	rows, err := s.db.Query(ctx, `SELECT `+experimentColumns+` FROM experiment_runs ORDER BY started_at DESC, id DESC LIMIT $1`, max(limit, 1))
	return collect(rows, err, scanExperiment)
}
