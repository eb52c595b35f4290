package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

var forecastColumns = []string{"key", "match_id", "competition", "season", "home_team", "away_team", "kickoff", "p_home", "p_draw", "p_away",
	"model", "version", "generation", "feature_schema", "market_home", "market_draw", "market_away", "route", "key_id", "features",
	"count", "first_at", "last_at"}

// LogForecasts implements store.ForecastLog, in one transaction: an entry
// already logged adds its count and widens the first and last times.
func (s *Store) LogForecasts(ctx context.Context, entries []store.LoggedForecast) error {
	if len(entries) == 0 {
		return nil
	}
	d := s.d
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
		rows[i] = []any{f.Key(), f.MatchID, f.Competition, f.Season, f.HomeTeam, f.AwayTeam, d.Time(f.Kickoff),
			f.Probabilities[0], f.Probabilities[1], f.Probabilities[2], f.Model, f.Version, f.Generation, f.FeatureSchema,
			mh, md, ma, f.Route, f.KeyID, d.Floats(feats), max(f.Count, 1), d.Time(f.FirstAt), d.Time(f.LastAt)}
	}
	err := d.InTx(ctx, func(c Conn) error {
		return d.Insert(ctx, c, "forecasts", forecastColumns, rows, `ON CONFLICT (key) DO UPDATE SET count = forecasts.count + excluded.count,
			first_at = CASE WHEN excluded.first_at < forecasts.first_at THEN excluded.first_at ELSE forecasts.first_at END,
			last_at = CASE WHEN excluded.last_at > forecasts.last_at THEN excluded.last_at ELSE forecasts.last_at END`)
	})
	if err != nil {
		return fmt.Errorf("log %d forecasts: %w", len(entries), err)
	}
	return nil
}

// forecastFilter is q's filter of the forecasts table (aliased f).
func (s *Store) forecastFilter(q store.ForecastQuery) *filter {
	f := &filter{conds: []string{"TRUE"}}
	if !q.From.IsZero() {
		f.add("f.first_at >= ?", s.d.Time(q.From))
	}
	if !q.To.IsZero() {
		f.add("f.first_at < ?", s.d.Time(q.To))
	}
	if q.Competition != "" {
		f.add("f.competition = ?", q.Competition)
	}
	if q.Version != 0 {
		f.add("f.version = ?", q.Version)
	}
	if q.MatchIDs != nil {
		f.add("f.match_id"+s.d.In("?"), s.d.List(q.MatchIDs))
	}
	if q.Scorable {
		f.conds = append(f.conds, "EXISTS (SELECT 1 FROM matches m WHERE m.id = f.match_id AND m.status = 'finished' AND m.kickoff > f.first_at)")
	}
	return f
}

// LoggedForecasts implements store.ForecastLog.
func (s *Store) LoggedForecasts(ctx context.Context, q store.ForecastQuery) ([]store.LoggedForecast, error) {
	f := s.forecastFilter(q)
	order := " ORDER BY f.first_at, f.key"
	if q.Newest {
		order = " ORDER BY f.last_at DESC, f.key"
	}
	if q.Limit > 0 {
		order += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	features := "NULL"
	if q.Features {
		features = "f.features"
	}
	rows, err := s.db.Query(ctx, `SELECT f.match_id, f.competition, f.season, f.home_team, f.away_team, f.kickoff, f.p_home, f.p_draw, f.p_away, f.model, f.version,
		f.generation, f.feature_schema, f.market_home, f.market_draw, f.market_away, f.route, f.key_id, `+features+`, f.count, f.first_at, f.last_at
		FROM forecasts f`+f.where()+order, f.args...)
	out, err := collect(rows, err, func(r Row) (store.LoggedForecast, error) {
		var lf store.LoggedForecast
		var mh, md, ma *float64
		err := r.Scan(&lf.MatchID, &lf.Competition, &lf.Season, &lf.HomeTeam, &lf.AwayTeam, at(&lf.Kickoff), &lf.Probabilities[0], &lf.Probabilities[1],
			&lf.Probabilities[2], &lf.Model, &lf.Version, &lf.Generation, &lf.FeatureSchema, &mh, &md, &ma, &lf.Route, &lf.KeyID, s.d.FloatsDest(&lf.Features),
			&lf.Count, at(&lf.FirstAt), at(&lf.LastAt))
		if err != nil {
			return lf, fmt.Errorf("forecast of %s: %w", lf.MatchID, err)
		}
		if mh != nil && md != nil && ma != nil {
			lf.Market = &[3]float64{*mh, *md, *ma}
		}
		if !q.Features {
			lf.Features = nil
		}
		return lf, nil
	})
	if err != nil {
		return nil, fmt.Errorf("logged forecasts: %w", err)
	}
	return out, nil
}

// CountForecasts implements store.ForecastLog.
func (s *Store) CountForecasts(ctx context.Context, q store.ForecastQuery) (store.ForecastCounts, error) {
	f := s.forecastFilter(q)
	var c store.ForecastCounts
	err := s.db.QueryRow(ctx, `SELECT count(*), coalesce(sum(f.count), 0), count(DISTINCT f.match_id),
		count(DISTINCT CASE WHEN m.id IS NULL OR m.status <> 'finished' THEN f.match_id END)
		FROM forecasts f LEFT JOIN matches m ON m.id = f.match_id`+f.where(), f.args...).Scan(&c.Rows, &c.Forecasts, &c.Fixtures, &c.Awaiting)
	if err != nil {
		return c, fmt.Errorf("count forecasts: %w", err)
	}
	rows, err := s.db.Query(ctx, `SELECT DISTINCT f.version FROM forecasts f`+f.where()+` ORDER BY f.version`, f.args...)
	if c.Versions, err = collect(rows, err, func(r Row) (int, error) { var v int; return v, r.Scan(&v) }); err != nil {
		return c, fmt.Errorf("count forecasts: %w", err)
	}
	return c, nil
}

// PruneForecasts implements store.ForecastLog.
func (s *Store) PruneForecasts(ctx context.Context, before time.Time) (int, error) {
	n, err := s.db.Exec(ctx, `DELETE FROM forecasts WHERE last_at < $1`, s.d.Time(before))
	if err != nil {
		return 0, fmt.Errorf("prune forecasts: %w", err)
	}
	return int(n), nil
}
