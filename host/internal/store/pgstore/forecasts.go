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

var forecastColumns = []string{"key", "match_id", "competition", "season", "home_team", "away_team", "kickoff", "p_home", "p_draw", "p_away",
	"model", "version", "generation", "feature_schema", "market_home", "market_draw", "market_away", "route", "key_id", "features",
	"count", "first_at", "last_at"}

// LogForecasts implements store.ForecastLog: the entries are copied into a
// temporary table and merged into the log in one statement.
func (s *Store) LogForecasts(ctx context.Context, entries []store.LoggedForecast) error {
	if len(entries) == 0 {
		return nil
	}
	rows := make([][]any, len(entries))
	for i, f := range entries {
		var mh, md, ma *float64
		if f.Market != nil {
			mh, md, ma = &f.Market[0], &f.Market[1], &f.Market[2]
		}
		feats := f.Features
		if feats == nil {
			feats = []float64{}
		}
		rows[i] = []any{f.Key(), f.MatchID, f.Competition, f.Season, f.HomeTeam, f.AwayTeam, f.Kickoff.UTC(),
			f.Probabilities[0], f.Probabilities[1], f.Probabilities[2], f.Model, f.Version, f.Generation, f.FeatureSchema,
			mh, md, ma, f.Route, f.KeyID, feats, max(f.Count, 1), f.FirstAt.UTC(), f.LastAt.UTC()}
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE forecasts_in (LIKE forecasts) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("log %d forecasts: %w", len(entries), err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"forecasts_in"}, forecastColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("log %d forecasts: copy: %w", len(entries), err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO forecasts SELECT * FROM forecasts_in ON CONFLICT (key) DO UPDATE SET
			count = forecasts.count + excluded.count, first_at = least(forecasts.first_at, excluded.first_at),
			last_at = greatest(forecasts.last_at, excluded.last_at)`)
		if err != nil {
			return fmt.Errorf("log %d forecasts: %w", len(entries), err)
		}
		return nil
	})
}

// forecastWhere is q's filter of the forecasts table (aliased f).
func forecastWhere(q store.ForecastQuery) (string, []any) {
	where, args := "TRUE", []any{}
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(" AND "+cond, len(args))
	}
	if !q.From.IsZero() {
		add("f.first_at >= $%d", q.From.UTC())
	}
	if !q.To.IsZero() {
		add("f.first_at < $%d", q.To.UTC())
	}
	if q.Competition != "" {
		add("f.competition = $%d", q.Competition)
	}
	if q.Version != 0 {
		add("f.version = $%d", q.Version)
	}
	if q.MatchIDs != nil {
		add("f.match_id = ANY($%d)", q.MatchIDs)
	}
	if q.Scorable {
		where += " AND EXISTS (SELECT 1 FROM matches m WHERE m.id = f.match_id AND m.status = 'finished' AND m.kickoff > f.first_at)"
	}
	return where, args
}

// LoggedForecasts implements store.ForecastLog.
func (s *Store) LoggedForecasts(ctx context.Context, q store.ForecastQuery) ([]store.LoggedForecast, error) {
	where, args := forecastWhere(q)
	order := " ORDER BY f.first_at, f.key"
	if q.Newest {
		order = " ORDER BY f.last_at DESC, f.key"
	}
	if q.Limit > 0 {
		order += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	features := "'{}'::double precision[]"
	if q.Features {
		features = "f.features"
	}
	rows, err := s.pool.Query(ctx, `SELECT f.match_id, f.competition, f.season, f.home_team, f.away_team, f.kickoff, f.p_home, f.p_draw, f.p_away, f.model, f.version,
		f.generation, f.feature_schema, f.market_home, f.market_draw, f.market_away, f.route, f.key_id, `+features+`, f.count, f.first_at, f.last_at
		FROM forecasts f WHERE `+where+order, args...)
	out, err := collect(rows, err, func(r pgx.Row) (store.LoggedForecast, error) {
		var f store.LoggedForecast
		var mh, md, ma *float64
		err := r.Scan(&f.MatchID, &f.Competition, &f.Season, &f.HomeTeam, &f.AwayTeam, &f.Kickoff, &f.Probabilities[0], &f.Probabilities[1],
			&f.Probabilities[2], &f.Model, &f.Version, &f.Generation, &f.FeatureSchema, &mh, &md, &ma, &f.Route, &f.KeyID, &f.Features,
			&f.Count, &f.FirstAt, &f.LastAt)
		if mh != nil && md != nil && ma != nil {
			f.Market = &[3]float64{*mh, *md, *ma}
		}
		if !q.Features {
			f.Features = nil
		}
		f.Kickoff, f.FirstAt, f.LastAt = f.Kickoff.UTC(), f.FirstAt.UTC(), f.LastAt.UTC()
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("logged forecasts: %w", err)
	}
	return out, nil
}

// CountForecasts implements store.ForecastLog.
func (s *Store) CountForecasts(ctx context.Context, q store.ForecastQuery) (store.ForecastCounts, error) {
	where, args := forecastWhere(q)
	var c store.ForecastCounts
	err := s.pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(f.count), 0), count(DISTINCT f.match_id),
		count(DISTINCT f.match_id) FILTER (WHERE m.id IS NULL OR m.status <> 'finished')
		FROM forecasts f LEFT JOIN matches m ON m.id = f.match_id WHERE `+where, args...).Scan(&c.Rows, &c.Forecasts, &c.Fixtures, &c.Awaiting)
	if err != nil {
		return c, fmt.Errorf("count forecasts: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT f.version FROM forecasts f WHERE `+where+` ORDER BY f.version`, args...)
	if c.Versions, err = collect(rows, err, func(r pgx.Row) (int, error) { var v int; return v, r.Scan(&v) }); err != nil {
		return c, fmt.Errorf("count forecasts: %w", err)
	}
	return c, nil
}

// PruneForecasts implements store.ForecastLog.
func (s *Store) PruneForecasts(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM forecasts WHERE last_at < $1`, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("prune forecasts: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// SaveReference implements store.References.
func (s *Store) SaveReference(ctx context.Context, version int, r store.Reference) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("reference of v%d: %w", version, err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO model_references (version, body) VALUES ($1, $2) ON CONFLICT (version) DO UPDATE SET body = excluded.body`,
		version, body); err != nil {
		return fmt.Errorf("save reference of v%d: %w", version, err)
	}
	return nil
}

// Reference implements store.References.
func (s *Store) Reference(ctx context.Context, version int) (store.Reference, error) {
	var body []byte
	err := s.pool.QueryRow(ctx, `SELECT body FROM model_references WHERE version = $1`, version).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
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
