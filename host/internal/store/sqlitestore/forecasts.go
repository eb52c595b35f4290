package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// LogForecasts implements store.ForecastLog, in one transaction.
func (s *Store) LogForecasts(ctx context.Context, entries []store.LoggedForecast) error {
	if len(entries) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO forecasts (key, match_id, competition, season, home_team, away_team, kickoff, p_home, p_draw, p_away,
			model, version, generation, feature_schema, market_home, market_draw, market_away, route, key_id, features, count, first_at, last_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (key) DO UPDATE SET count = forecasts.count + excluded.count,
			first_at = min(forecasts.first_at, excluded.first_at), last_at = max(forecasts.last_at, excluded.last_at)`)
		if err != nil {
			return fmt.Errorf("log %d forecasts: %w", len(entries), err)
		}
		defer stmt.Close()
		for _, f := range entries {
			var mh, md, ma any
			if f.Market != nil {
				mh, md, ma = f.Market[0], f.Market[1], f.Market[2]
			}
			feats := f.Features
			if feats == nil {
				feats = []float64{}
			}
			fj, _ := json.Marshal(feats)
			if _, err := stmt.ExecContext(ctx, f.Key(), f.MatchID, f.Competition, f.Season, f.HomeTeam, f.AwayTeam, f.Kickoff.UTC().Format(store.TimeFormat),
				f.Probabilities[0], f.Probabilities[1], f.Probabilities[2], f.Model, f.Version, f.Generation, f.FeatureSchema, mh, md, ma,
				f.Route, f.KeyID, string(fj), max(f.Count, 1), f.FirstAt.UTC().Format(store.TimeFormat), f.LastAt.UTC().Format(store.TimeFormat)); err != nil {
				return fmt.Errorf("log forecast of %s: %w", f.MatchID, err)
			}
		}
		return nil
	})
}

// forecastWhere is q's filter of the forecasts table (aliased f).
func forecastWhere(q store.ForecastQuery) (string, []any) {
	where, args := "1", []any{}
	add := func(cond string, v any) { where += " AND " + cond; args = append(args, v) }
	if !q.From.IsZero() {
		add("f.first_at >= ?", q.From.UTC().Format(store.TimeFormat))
	}
	if !q.To.IsZero() {
		add("f.first_at < ?", q.To.UTC().Format(store.TimeFormat))
	}
	if q.Competition != "" {
		add("f.competition = ?", q.Competition)
	}
	if q.Version != 0 {
		add("f.version = ?", q.Version)
	}
	if q.MatchIDs != nil {
		ids, _ := json.Marshal(q.MatchIDs)
		add("f.match_id IN (SELECT value FROM json_each(?))", string(ids))
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
	features := "'[]'"
	if q.Features {
		features = "f.features"
	}
	rows, err := s.db.QueryContext(ctx, `SELECT f.match_id, f.competition, f.season, f.home_team, f.away_team, f.kickoff, f.p_home, f.p_draw, f.p_away, f.model, f.version,
		f.generation, f.feature_schema, f.market_home, f.market_draw, f.market_away, f.route, f.key_id, `+features+`, f.count, f.first_at, f.last_at
		FROM forecasts f WHERE `+where+order, args...)
	out, err := collect(rows, err, func(r scanner) (store.LoggedForecast, error) {
		var f store.LoggedForecast
		var mh, md, ma sql.NullFloat64
		var kickoff, first, last, feats string
		if err := r.Scan(&f.MatchID, &f.Competition, &f.Season, &f.HomeTeam, &f.AwayTeam, &kickoff, &f.Probabilities[0], &f.Probabilities[1],
			&f.Probabilities[2], &f.Model, &f.Version, &f.Generation, &f.FeatureSchema, &mh, &md, &ma, &f.Route, &f.KeyID, &feats,
			&f.Count, &first, &last); err != nil {
			return f, err
		}
		if mh.Valid && md.Valid && ma.Valid {
			f.Market = &[3]float64{mh.Float64, md.Float64, ma.Float64}
		}
		for _, t := range []struct {
			at  *time.Time
			txt string
		}{{&f.Kickoff, kickoff}, {&f.FirstAt, first}, {&f.LastAt, last}} {
			v, err := time.Parse(store.TimeFormat, t.txt)
			if err != nil {
				return f, fmt.Errorf("forecast of %s: time %q: %w", f.MatchID, t.txt, err)
			}
			*t.at = v
		}
		if q.Features {
			if err := json.NewDecoder(strings.NewReader(feats)).Decode(&f.Features); err != nil {
				return f, fmt.Errorf("forecast of %s: features: %w", f.MatchID, err)
			}
		}
		return f, nil
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
	err := s.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(f.count), 0), count(DISTINCT f.match_id),
		count(DISTINCT CASE WHEN m.id IS NULL OR m.status <> 'finished' THEN f.match_id END)
		FROM forecasts f LEFT JOIN matches m ON m.id = f.match_id WHERE `+where, args...).Scan(&c.Rows, &c.Forecasts, &c.Fixtures, &c.Awaiting)
	if err != nil {
		return c, fmt.Errorf("count forecasts: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT f.version FROM forecasts f WHERE `+where+` ORDER BY f.version`, args...)
	if c.Versions, err = collect(rows, err, func(r scanner) (int, error) { var v int; return v, r.Scan(&v) }); err != nil {
		return c, fmt.Errorf("count forecasts: %w", err)
	}
	return c, nil
}

// PruneForecasts implements store.ForecastLog.
func (s *Store) PruneForecasts(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM forecasts WHERE last_at < ?`, before.UTC().Format(store.TimeFormat))
	if err != nil {
		return 0, fmt.Errorf("prune forecasts: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// SaveReference implements store.References.
func (s *Store) SaveReference(ctx context.Context, version int, r store.Reference) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("reference of v%d: %w", version, err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO model_references (version, body) VALUES (?, ?) ON CONFLICT (version) DO UPDATE SET body = excluded.body`,
		version, body); err != nil {
		return fmt.Errorf("save reference of v%d: %w", version, err)
	}
	return nil
}

// Reference implements store.References.
func (s *Store) Reference(ctx context.Context, version int) (store.Reference, error) {
	var body []byte
	err := s.db.QueryRowContext(ctx, `SELECT body FROM model_references WHERE version = ?`, version).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
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
