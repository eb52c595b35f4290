// Package pgstore is the PostgreSQL match store (pgx v5). Schema changes are
// versioned migrations in migrations/, applied at Open under an advisory lock
// so that replicas starting together migrate once.
package pgstore

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key held while migrating.
const migrationLock = 0x50cce7

// Store is a PostgreSQL match store.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to dsn (a postgres:// URL or key=value string) and migrates.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	// Plan each statement for its arguments. A prepared statement's generic
	// plan, chosen while the jobs table was small (a new deployment, the
	// start of a burst), scans the whole table for id = ANY($1) once it has
	// grown, until autovacuum's next ANALYZE; measured, that halved the
	// async rate of a 20,000-job burst. A DSN may still set its own mode.
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	if tracing.Enabled() {
		cfg.ConnConfig.Tracer = queryTracer{}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: cannot reach %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	return s, nil
}

// Pool exposes the connection pool to packages that share the database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

func (s *Store) migrate(ctx context.Context) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("migrations table: %w", err)
		}
		for _, f := range files {
			name := filepath.Base(f)
			version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %s: name must start with a number", name)
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil {
				return err
			}
			if done {
				continue
			}
			body, err := migrations.ReadFile(f)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, name); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Apply implements store.Store.
func (s *Store) Apply(ctx context.Context, b store.Batch) (store.Applied, error) {
	var a store.Applied
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		a, err = store.Apply(ctx, pgTx{tx}, b, time.Now())
		return err
	})
	if err != nil {
		return store.Applied{}, fmt.Errorf("apply %s: %w", b.File.Name, err)
	}
	return a, nil
}

type pgTx struct{ tx pgx.Tx }

const matchColumns = `id, competition, season, kickoff, kickoff_time_known, home_team, away_team, status, home_goals, away_goals, result, odds, origin, content_hash, stats`

func (t pgTx) Existing(ctx context.Context, ids []string) (map[string]store.Stored, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+matchColumns+`, source FROM matches WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]store.Stored{}
	for rows.Next() {
		var src string
		st, err := scanMatch(rows, &src)
		if err != nil {
			return nil, err
		}
		st.Source = src
		out[st.Match.ID] = st
	}
	return out, rows.Err()
}

// insertColumns are what COPY writes for a new match.
var insertColumns = append(strings.Split(strings.ReplaceAll(matchColumns, " ", ""), ","), "source", "created_run", "updated_run")

func (t pgTx) Write(ctx context.Context, w store.Writes) error {
	// New matches go in with COPY (Apply saw, inside this transaction, that
	// none of them exists yet): one round trip and no per-row statement.
	if len(w.Inserts) > 0 {
		rows := make([][]any, len(w.Inserts))
		for i, s := range w.Inserts {
			rows[i] = append(matchArgs(s), w.Source, w.RunID, w.RunID)
		}
		if _, err := t.tx.CopyFrom(ctx, pgx.Identifier{"matches"}, insertColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy %d new matches: %w", len(rows), err)
		}
	}
	batch := &pgx.Batch{}
	for _, s := range w.Updates {
		batch.Queue(`UPDATE matches SET competition=$2, season=$3, kickoff=$4, kickoff_time_known=$5, home_team=$6, away_team=$7, status=$8,
			home_goals=$9, away_goals=$10, result=$11, odds=$12, origin=$13, content_hash=$14, stats=$15, source=$16, updated_run=$17 WHERE id=$1`,
			append(matchArgs(s), s.OwnerOr(w.Source), w.RunID)...)
	}
	for _, r := range w.Revisions {
		before, _ := json.Marshal(r.Before)
		after, _ := json.Marshal(r.After)
		changed, _ := json.Marshal(r.Changed)
		batch.Queue(`INSERT INTO match_revisions (match_id, run_id, changed, before, after, at) VALUES ($1,$2,$3,$4,$5,$6)`,
			r.MatchID, r.RunID, string(changed), string(before), string(after), w.Now)
	}
	for _, q := range w.Quarantine {
		reasons, _ := json.Marshal(q.Reasons)
		batch.Queue(`INSERT INTO quarantine (key, source, file, line, match_id, reasons, raw, first_run, last_run, first_seen)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (key) DO UPDATE SET last_run = excluded.last_run`,
			q.Key(), q.Source, q.File, q.Line, q.MatchID, string(reasons), q.Raw, q.FirstRun, q.LastRun, w.Now)
	}
	if w.File.Name != "" {
		batch.Queue(`INSERT INTO source_files (source, name, sha256, rows, first_run) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING`,
			w.Source, w.File.Name, w.File.SHA256, w.File.Rows, w.RunID)
	}
	if len(w.Inserts)+len(w.Updates) > 0 {
		batch.Queue(`UPDATE store_meta SET value = value + 1 WHERE key = 'matches_version'`)
	}
	return t.tx.SendBatch(ctx, batch).Close()
}

func matchArgs(s store.Stored) []any {
	m := s.Match
	odds, _ := json.Marshal(m.Odds)
	var hg, ag, res any
	if m.Status == soccer.Finished {
		hg, ag, res = m.HomeGoals, m.AwayGoals, string(m.Result)
	}
	return []any{m.ID, m.Competition, m.Season, m.Kickoff.UTC(), m.KickoffTimeKnown, m.HomeTeam, m.AwayTeam,
		string(m.Status), hg, ag, res, string(odds), m.Origin, s.Hash, string(store.StatsJSON(m.Stats))}
}

func scanMatch(r pgx.Row, extra ...any) (store.Stored, error) {
	var (
		m      soccer.Match
		status string
		odds   []byte
		stats  []byte
		hg, ag *int
		res    *string
		hash   string
	)
	dest := append([]any{&m.ID, &m.Competition, &m.Season, &m.Kickoff, &m.KickoffTimeKnown, &m.HomeTeam, &m.AwayTeam,
		&status, &hg, &ag, &res, &odds, &m.Origin, &hash, &stats}, extra...)
	if err := r.Scan(dest...); err != nil {
		return store.Stored{}, err
	}
	m.Kickoff, m.Status = m.Kickoff.UTC(), soccer.Status(status)
	if hg != nil && ag != nil && res != nil {
		m.HomeGoals, m.AwayGoals, m.Result = *hg, *ag, soccer.Result(*res)
	}
	if err := json.Unmarshal(odds, &m.Odds); err != nil {
		return store.Stored{}, fmt.Errorf("match %s: odds: %w", m.ID, err)
	}
	if err := json.Unmarshal(stats, &m.Stats); err != nil {
		return store.Stored{}, fmt.Errorf("match %s: statistics: %w", m.ID, err)
	}
	return store.Stored{Match: m, Hash: hash}, nil
}

func where(q store.MatchQuery) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1))
	}
	if q.Competition != "" {
		add("competition = ?", q.Competition)
	}
	if q.Season != "" {
		add("season = ?", q.Season)
	}
	if q.Status != "" {
		add("status = ?", string(q.Status))
	}
	if !q.From.IsZero() {
		add("kickoff >= ?", q.From.UTC())
	}
	if !q.To.IsZero() {
		add("kickoff < ?", q.To.UTC())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Matches implements store.Store.
func (s *Store) Matches(ctx context.Context, q store.MatchQuery) ([]soccer.Match, error) {
	w, args := where(q)
	query := `SELECT ` + matchColumns + ` FROM matches` + w + ` ORDER BY kickoff, id`
	if q.Limit > 0 {
		query += ` LIMIT ` + strconv.Itoa(q.Limit)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list matches: %w", err)
	}
	defer rows.Close()
	var out []soccer.Match
	for rows.Next() {
		st, err := scanMatch(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st.Match)
	}
	return out, rows.Err()
}

// CountMatches implements store.Store.
func (s *Store) CountMatches(ctx context.Context, q store.MatchQuery) (int, error) {
	w, args := where(q)
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM matches`+w, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count matches: %w", err)
	}
	return n, nil
}

// Revisions implements store.Store.
func (s *Store) Revisions(ctx context.Context, matchID string) ([]store.Revision, error) {
	rows, err := s.pool.Query(ctx, `SELECT match_id, run_id, changed, before, after, at FROM match_revisions WHERE match_id = $1 ORDER BY id`, matchID)
	if err != nil {
		return nil, fmt.Errorf("revisions of %s: %w", matchID, err)
	}
	defer rows.Close()
	var out []store.Revision
	for rows.Next() {
		var r store.Revision
		var changed, before, after []byte
		if err := rows.Scan(&r.MatchID, &r.RunID, &changed, &before, &after, &r.At); err != nil {
			return nil, err
		}
		if err := errors.Join(json.Unmarshal(changed, &r.Changed), json.Unmarshal(before, &r.Before), json.Unmarshal(after, &r.After)); err != nil {
			return nil, fmt.Errorf("revision of %s: %w", matchID, err)
		}
		r.At = r.At.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Quarantined implements store.Store.
func (s *Store) Quarantined(ctx context.Context, q store.QuarantineQuery) ([]store.QuarantinedRow, error) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, v string }{{"source", q.Source}, {"file", q.File}, {"last_run", q.RunID}} {
		if c.v != "" {
			args = append(args, c.v)
			conds = append(conds, c.col+" = $"+strconv.Itoa(len(args)))
		}
	}
	w := ""
	if len(conds) > 0 {
		w = " WHERE " + strings.Join(conds, " AND ")
	}
	rows, err := s.pool.Query(ctx, `SELECT source, file, line, match_id, reasons, raw, first_run, last_run, first_seen FROM quarantine`+w+` ORDER BY first_seen, file, line`, args...)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	defer rows.Close()
	var out []store.QuarantinedRow
	for rows.Next() {
		var r store.QuarantinedRow
		var reasons []byte
		if err := rows.Scan(&r.Source, &r.File, &r.Line, &r.MatchID, &reasons, &r.Raw, &r.FirstRun, &r.LastRun, &r.FirstSeen); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(reasons, &r.Reasons); err != nil {
			return nil, err
		}
		r.FirstSeen = r.FirstSeen.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// RecordRun implements store.Store.
func (s *Store) RecordRun(ctx context.Context, r store.IngestRun) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO ingest_runs (id, source, started_at, finished_at, files, rows_read, loaded, updated, unchanged, quarantined, error)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (id) DO UPDATE SET finished_at=excluded.finished_at, files=excluded.files,
		rows_read=excluded.rows_read, loaded=excluded.loaded, updated=excluded.updated, unchanged=excluded.unchanged,
		quarantined=excluded.quarantined, error=excluded.error`,
		r.ID, r.Source, r.StartedAt.UTC(), r.FinishedAt.UTC(), r.Files, r.Read,
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
	rows, err := s.pool.Query(ctx, `SELECT id, source, started_at, finished_at, files, rows_read, loaded, updated, unchanged, quarantined, error
		FROM ingest_runs ORDER BY started_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list ingest runs: %w", err)
	}
	defer rows.Close()
	var out []store.IngestRun
	for rows.Next() {
		var r store.IngestRun
		if err := rows.Scan(&r.ID, &r.Source, &r.StartedAt, &r.FinishedAt, &r.Files, &r.Read, &r.Applied.Loaded, &r.Applied.Updated,
			&r.Applied.Unchanged, &r.Applied.Quarantined, &r.Error); err != nil {
			return nil, err
		}
		r.StartedAt, r.FinishedAt = r.StartedAt.UTC(), r.FinishedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// collect reads every row of a query with scan and closes the rows (no rows: nil).
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]T(nil), rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}
