package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Apply implements store.Store.
func (s *Store) Apply(ctx context.Context, b store.Batch) (store.Applied, error) {
	var a store.Applied
	err := s.d.InTx(ctx, func(c Conn) error {
		var err error
		a, err = store.Apply(ctx, applyTx{s, c}, b, time.Now())
		return err
	})
	if err != nil {
		return store.Applied{}, fmt.Errorf("apply %s: %w", b.File.Name, err)
	}
	return a, nil
}

// applyTx is store.Tx in one of the store's transactions.
type applyTx struct {
	s *Store
	c Conn
}

const matchColumns = `id, competition, season, kickoff, kickoff_time_known, home_team, away_team, status, home_goals, away_goals, result, odds, origin, content_hash, stats`

// insertColumns are what a new match is written with.
var insertColumns = append(strings.Split(strings.ReplaceAll(matchColumns, " ", ""), ","), "source", "created_run", "updated_run")

func (t applyTx) Existing(ctx context.Context, ids []string) (map[string]store.Stored, error) {
	rows, err := t.c.Query(ctx, `SELECT `+matchColumns+`, source FROM matches WHERE id`+t.s.d.In("$1"), t.s.d.List(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]store.Stored{}
	for rows.Next() {
		var src string
		st, err := t.s.scanMatch(rows, &src)
		if err != nil {
			return nil, err
		}
		st.Source = src
		out[st.Match.ID] = st
	}
	return out, rows.Err()
}

func (t applyTx) Write(ctx context.Context, w store.Writes) error {
	d := t.s.d
	// Apply saw, inside this transaction, that none of the new matches
	// exists yet: they go in as new rows, at once.
	if len(w.Inserts) > 0 {
		rows := make([][]any, len(w.Inserts))
		for i, s := range w.Inserts {
			rows[i] = append(t.s.matchArgs(s), w.Source, w.RunID, w.RunID)
		}
		if err := d.Insert(ctx, t.c, "matches", insertColumns, rows, ""); err != nil {
			return fmt.Errorf("write %d new matches: %w", len(rows), err)
		}
	}
	var batch []Stmt
	for _, s := range w.Updates {
		batch = append(batch, Stmt{`UPDATE matches SET competition=$2, season=$3, kickoff=$4, kickoff_time_known=$5, home_team=$6, away_team=$7, status=$8,
			home_goals=$9, away_goals=$10, result=$11, odds=$12, origin=$13, content_hash=$14, stats=$15, source=$16, updated_run=$17 WHERE id=$1`,
			append(t.s.matchArgs(s), s.OwnerOr(w.Source), w.RunID)})
	}
	for _, r := range w.Revisions {
		batch = append(batch, Stmt{`INSERT INTO match_revisions (match_id, run_id, changed, before, after, at) VALUES ($1,$2,$3,$4,$5,$6)`,
			[]any{r.MatchID, r.RunID, text(r.Changed), text(r.Before), text(r.After), d.Time(w.Now)}})
	}
	for _, q := range w.Quarantine {
		batch = append(batch, Stmt{`INSERT INTO quarantine (key, source, file, line, match_id, reasons, raw, first_run, last_run, first_seen)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (key) DO UPDATE SET last_run = excluded.last_run`,
			[]any{q.Key(), q.Source, q.File, q.Line, q.MatchID, text(q.Reasons), q.Raw, q.FirstRun, q.LastRun, d.Time(w.Now)}})
	}
	if w.File.Name != "" {
		batch = append(batch, Stmt{`INSERT INTO source_files (source, name, sha256, rows, first_run) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING`,
			[]any{w.Source, w.File.Name, w.File.SHA256, w.File.Rows, w.RunID}})
	}
	if len(w.Inserts)+len(w.Updates) > 0 {
		batch = append(batch, Stmt{SQL: `UPDATE store_meta SET value = value + 1 WHERE key = 'matches_version'`})
	}
	if err := t.c.Batch(ctx, batch); err != nil {
		return fmt.Errorf("write the changes: %w", err)
	}
	return nil
}

func (s *Store) matchArgs(st store.Stored) []any {
	m := st.Match
	var hg, ag, res any
	if m.Status == soccer.Finished {
		hg, ag, res = m.HomeGoals, m.AwayGoals, string(m.Result)
	}
	return []any{m.ID, m.Competition, m.Season, s.d.Time(m.Kickoff), m.KickoffTimeKnown, m.HomeTeam, m.AwayTeam,
		string(m.Status), hg, ag, res, string(store.AppendStoredOdds(nil, m.Odds)), m.Origin, st.Hash, string(store.AppendStoredStats(nil, m.Stats))}
}

func (s *Store) scanMatch(r Row, extra ...any) (store.Stored, error) {
	var (
		m      soccer.Match
		status string
		odds   []byte
		stats  []byte
		hg, ag *int
		res    *string
		hash   string
	)
	dest := append([]any{&m.ID, &m.Competition, &m.Season, at(&m.Kickoff), &m.KickoffTimeKnown, &m.HomeTeam, &m.AwayTeam,
		&status, &hg, &ag, &res, &odds, &m.Origin, &hash, &stats}, extra...)
	if err := r.Scan(dest...); err != nil {
		return store.Stored{}, err
	}
	m.Status = soccer.Status(status)
	if hg != nil && ag != nil && res != nil {
		m.HomeGoals, m.AwayGoals, m.Result = *hg, *ag, soccer.Result(*res)
	}
	var err error
	if m.Odds, err = store.ReadStoredOdds(odds); err != nil {
		return store.Stored{}, fmt.Errorf("match %s: odds: %w", m.ID, err)
	}
	if m.Stats, err = store.ReadStoredStats(stats); err != nil {
		return store.Stored{}, fmt.Errorf("match %s: statistics: %w", m.ID, err)
	}
	return store.Stored{Match: m, Hash: hash}, nil
}

// filter is a WHERE clause of conditions, each with one "?" for its
// argument, and the arguments, numbered from $1.
type filter struct {
	conds []string
	args  []any
}

func (f *filter) add(cond string, v any) {
	f.args = append(f.args, v)
	f.conds = append(f.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(f.args)), 1))
}

func (f *filter) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

func (s *Store) matchFilter(q store.MatchQuery) *filter {
	f := &filter{}
	if q.Competition != "" {
		f.add("competition = ?", q.Competition)
	}
	if q.Season != "" {
		f.add("season = ?", q.Season)
	}
	if q.Status != "" {
		f.add("status = ?", string(q.Status))
	}
	if !q.From.IsZero() {
		f.add("kickoff >= ?", s.d.Time(q.From))
	}
	if !q.To.IsZero() {
		f.add("kickoff < ?", s.d.Time(q.To))
	}
	return f
}

// Matches implements store.Store.
func (s *Store) Matches(ctx context.Context, q store.MatchQuery) ([]soccer.Match, error) {
	f := s.matchFilter(q)
	query := `SELECT ` + matchColumns + ` FROM matches` + f.where() + ` ORDER BY kickoff, id`
	if q.Limit > 0 {
		query += ` LIMIT ` + strconv.Itoa(q.Limit)
	}
	rows, err := s.db.Query(ctx, query, f.args...)
	if err != nil {
		return nil, fmt.Errorf("list matches: %w", err)
	}
	defer rows.Close()
	var out []soccer.Match
	for rows.Next() {
		st, err := s.scanMatch(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st.Match)
	}
	return out, rows.Err()
}

// CountMatches implements store.Store.
func (s *Store) CountMatches(ctx context.Context, q store.MatchQuery) (int, error) {
	f := s.matchFilter(q)
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM matches`+f.where(), f.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count matches: %w", err)
	}
	return n, nil
}

// Revisions implements store.Store.
func (s *Store) Revisions(ctx context.Context, matchID string) ([]store.Revision, error) {
	rows, err := s.db.Query(ctx, `SELECT match_id, run_id, changed, before, after, at FROM match_revisions WHERE match_id = $1 ORDER BY id`, matchID)
	out, err := collect(rows, err, func(r Row) (store.Revision, error) {
		var rev store.Revision
		var changed, before, after []byte
		if err := r.Scan(&rev.MatchID, &rev.RunID, &changed, &before, &after, at(&rev.At)); err != nil {
			return rev, err
		}
		if err := errors.Join(json.Unmarshal(changed, &rev.Changed), json.Unmarshal(before, &rev.Before), json.Unmarshal(after, &rev.After)); err != nil {
			return rev, fmt.Errorf("revision of %s: %w", matchID, err)
		}
		return rev, nil
	})
	if err != nil {
		return nil, fmt.Errorf("revisions of %s: %w", matchID, err)
	}
	return out, nil
}

// Quarantined implements store.Store.
func (s *Store) Quarantined(ctx context.Context, q store.QuarantineQuery) ([]store.QuarantinedRow, error) {
	f := &filter{}
	for _, c := range []struct{ col, v string }{{"source", q.Source}, {"file", q.File}, {"last_run", q.RunID}} {
		if c.v != "" {
			f.add(c.col+" = ?", c.v)
		}
	}
	rows, err := s.db.Query(ctx, `SELECT source, file, line, match_id, reasons, raw, first_run, last_run, first_seen FROM quarantine`+f.where()+
		` ORDER BY first_seen, file, line`, f.args...)
	out, err := collect(rows, err, func(r Row) (store.QuarantinedRow, error) {
		var qr store.QuarantinedRow
		var reasons []byte
		if err := r.Scan(&qr.Source, &qr.File, &qr.Line, &qr.MatchID, &reasons, &qr.Raw, &qr.FirstRun, &qr.LastRun, at(&qr.FirstSeen)); err != nil {
			return qr, err
		}
		return qr, json.Unmarshal(reasons, &qr.Reasons)
	})
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}

// RecordRun implements store.Store.
func (s *Store) RecordRun(ctx context.Context, r store.IngestRun) error {
	_, err := s.db.Exec(ctx, `INSERT INTO ingest_runs (id, source, started_at, finished_at, files, rows_read, loaded, updated, unchanged, quarantined, error)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (id) DO UPDATE SET finished_at=excluded.finished_at, files=excluded.files,
		rows_read=excluded.rows_read, loaded=excluded.loaded, updated=excluded.updated, unchanged=excluded.unchanged,
		quarantined=excluded.quarantined, error=excluded.error`,
		r.ID, r.Source, s.d.Time(r.StartedAt), s.d.Time(r.FinishedAt), r.Files, r.Read,
		r.Applied.Loaded, r.Applied.Updated, r.Applied.Unchanged, r.Applied.Quarantined, r.Error)
	if err != nil {
		return fmt.Errorf("record ingest run %s: %w", r.ID, err)
	}
	return nil
}

// Runs implements store.Store.
func (s *Store) Runs(ctx context.Context, limit int) ([]store.IngestRun, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.Query(ctx, `SELECT id, source, started_at, finished_at, files, rows_read, loaded, updated, unchanged, quarantined, error
		FROM ingest_runs ORDER BY started_at DESC, id DESC LIMIT $1`, limit)
	out, err := collect(rows, err, func(r Row) (store.IngestRun, error) {
		var run store.IngestRun
		err := r.Scan(&run.ID, &run.Source, at(&run.StartedAt), at(&run.FinishedAt), &run.Files, &run.Read, &run.Applied.Loaded, &run.Applied.Updated,
			&run.Applied.Unchanged, &run.Applied.Quarantined, &run.Error)
		return run, err
	})
	if err != nil {
		return nil, fmt.Errorf("list ingest runs: %w", err)
	}
	return out, nil
}

// MatchesVersion implements store.Store.
func (s *Store) MatchesVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.QueryRow(ctx, `SELECT value FROM store_meta WHERE key = 'matches_version'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("matches version: %w", err)
	}
	return v, nil
}

// SaveFeatureSnapshot implements store.Store.
func (s *Store) SaveFeatureSnapshot(ctx context.Context, f store.FeatureSnapshot) error {
	_, err := s.db.Exec(ctx, `INSERT INTO feature_snapshots (key, matches_version, state, meta, created_at) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (key) DO UPDATE SET matches_version = excluded.matches_version, state = excluded.state, meta = excluded.meta, created_at = excluded.created_at`,
		f.Key, f.MatchesVersion, f.State, f.Meta, s.d.Time(f.CreatedAt))
	if err != nil {
		return fmt.Errorf("save feature snapshot: %w", err)
	}
	return nil
}

// FeatureSnapshot implements store.Store.
func (s *Store) FeatureSnapshot(ctx context.Context, key string) (store.FeatureSnapshot, error) {
	f := store.FeatureSnapshot{Key: key}
	err := s.db.QueryRow(ctx, `SELECT matches_version, state, meta, created_at FROM feature_snapshots WHERE key = $1`, key).
		Scan(&f.MatchesVersion, &f.State, &f.Meta, at(&f.CreatedAt))
	if noRows(err) {
		return store.FeatureSnapshot{}, fmt.Errorf("feature snapshot %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.FeatureSnapshot{}, fmt.Errorf("feature snapshot %s: %w", key, err)
	}
	return f, nil
}

// FinishedDigest implements store.Store.
func (s *Store) FinishedDigest(ctx context.Context, cut time.Time) (string, string, error) {
	rows, err := s.db.Query(ctx, `SELECT id, content_hash, kickoff < $1 FROM matches WHERE status = 'finished' ORDER BY kickoff, id`,
		s.d.Time(store.DigestCut(cut)))
	if err != nil {
		return "", "", fmt.Errorf("finished digest: %w", err)
	}
	defer rows.Close()
	return store.DigestRows(rows)
}
