// Package sqlitestore is the embedded match store: one SQLite file through a
// pure-Go driver, so `make run` needs nothing installed. Schema changes are
// versioned migrations in migrations/, applied in order at Open.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a SQLite match store.
type Store struct {
	db *sql.DB
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sqlite store: %w", err)
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	open := sql.Open
	if tracing.Enabled() {
		open = openTraced
	}
	db, err := open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	// One writer at a time is SQLite's model; one connection makes that explicit
	// and keeps transactions from waiting on each other's locks.
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		name := filepath.Base(f)
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", name)
		}
		var done int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&done); err != nil {
			return err
		}
		if done > 0 {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			version, name, time.Now().UTC().Format(store.TimeFormat)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Apply implements store.Store.
func (s *Store) Apply(ctx context.Context, b store.Batch) (store.Applied, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Applied{}, fmt.Errorf("apply %s: %w", b.File.Name, err)
	}
	defer tx.Rollback()
	a, err := store.Apply(ctx, sqliteTx{tx}, b, time.Now())
	if err != nil {
		return store.Applied{}, fmt.Errorf("apply %s: %w", b.File.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return store.Applied{}, fmt.Errorf("apply %s: commit: %w", b.File.Name, err)
	}
	return a, nil
}

type sqliteTx struct{ tx *sql.Tx }

const matchColumns = `id, competition, season, kickoff, kickoff_time_known, home_team, away_team, status, home_goals, away_goals, result, odds, origin, content_hash, stats`

func (t sqliteTx) Existing(ctx context.Context, ids []string) (map[string]store.Stored, error) {
	out := map[string]store.Stored{}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := t.tx.QueryContext(ctx, `SELECT `+matchColumns+`, source FROM matches WHERE id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var src string
			st, err := scanMatch(rows, &src)
			if err != nil {
				rows.Close()
				return nil, err
			}
			st.Source = src
			out[st.Match.ID] = st
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t sqliteTx) Write(ctx context.Context, w store.Writes) error {
	now := w.Now.Format(store.TimeFormat)
	ins, err := t.tx.PrepareContext(ctx, `INSERT INTO matches (`+matchColumns+`, source, created_run, updated_run) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, s := range w.Inserts {
		args := append(matchArgs(s), w.Source, w.RunID, w.RunID)
		if _, err := ins.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert %s: %w", s.Match.ID, err)
		}
	}
	for _, s := range w.Updates {
		a := matchArgs(s)
		if _, err := t.tx.ExecContext(ctx, `UPDATE matches SET competition=?, season=?, kickoff=?, kickoff_time_known=?, home_team=?, away_team=?, status=?,
			home_goals=?, away_goals=?, result=?, odds=?, origin=?, content_hash=?, stats=?, source=?, updated_run=? WHERE id=?`,
			append(a[1:], s.OwnerOr(w.Source), w.RunID, a[0])...); err != nil {
			return fmt.Errorf("update %s: %w", s.Match.ID, err)
		}
	}
	for _, r := range w.Revisions {
		changed, _ := json.Marshal(r.Changed)
		before, _ := json.Marshal(r.Before)
		after, _ := json.Marshal(r.After)
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO match_revisions (match_id, run_id, changed, before, after, at) VALUES (?,?,?,?,?,?)`,
			r.MatchID, r.RunID, string(changed), string(before), string(after), now); err != nil {
			return fmt.Errorf("record revision of %s: %w", r.MatchID, err)
		}
	}
	for _, q := range w.Quarantine {
		reasons, _ := json.Marshal(q.Reasons)
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO quarantine (key, source, file, line, match_id, reasons, raw, first_run, last_run, first_seen)
			VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (key) DO UPDATE SET last_run = excluded.last_run`,
			q.Key(), q.Source, q.File, q.Line, q.MatchID, string(reasons), q.Raw, q.FirstRun, q.LastRun, now); err != nil {
			return fmt.Errorf("quarantine %s:%d: %w", q.File, q.Line, err)
		}
	}
	if w.File.Name != "" {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO source_files (source, name, sha256, rows, first_run) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`,
			w.Source, w.File.Name, w.File.SHA256, w.File.Rows, w.RunID); err != nil {
			return fmt.Errorf("record file %s: %w", w.File.Name, err)
		}
	}
	if len(w.Inserts)+len(w.Updates) > 0 {
		if _, err := t.tx.ExecContext(ctx, `UPDATE store_meta SET value = value + 1 WHERE key = 'matches_version'`); err != nil {
			return fmt.Errorf("count the change: %w", err)
		}
	}
	return nil
}

func matchArgs(s store.Stored) []any {
	m := s.Match
	odds, _ := json.Marshal(m.Odds)
	var hg, ag, res any
	if m.Status == soccer.Finished {
		hg, ag, res = m.HomeGoals, m.AwayGoals, string(m.Result)
	}
	return []any{m.ID, m.Competition, m.Season, m.Kickoff.UTC().Format(store.TimeFormat), m.KickoffTimeKnown, m.HomeTeam, m.AwayTeam,
		string(m.Status), hg, ag, res, string(odds), m.Origin, s.Hash, string(store.StatsJSON(m.Stats))}
}

type scanner interface{ Scan(...any) error }

func scanMatch(r scanner, extra ...any) (store.Stored, error) {
	var (
		m            soccer.Match
		kickoff      string
		status, odds string
		stats        string
		hg, ag       sql.NullInt64
		res          sql.NullString
		hash         string
	)
	dest := append([]any{&m.ID, &m.Competition, &m.Season, &kickoff, &m.KickoffTimeKnown, &m.HomeTeam, &m.AwayTeam,
		&status, &hg, &ag, &res, &odds, &m.Origin, &hash, &stats}, extra...)
	if err := r.Scan(dest...); err != nil {
		return store.Stored{}, err
	}
	t, err := time.Parse(store.TimeFormat, kickoff)
	if err != nil {
		return store.Stored{}, fmt.Errorf("match %s: kickoff %q: %w", m.ID, kickoff, err)
	}
	m.Kickoff, m.Status = t, soccer.Status(status)
	m.HomeGoals, m.AwayGoals, m.Result = int(hg.Int64), int(ag.Int64), soccer.Result(res.String)
	if err := json.Unmarshal([]byte(odds), &m.Odds); err != nil {
		return store.Stored{}, fmt.Errorf("match %s: odds: %w", m.ID, err)
	}
	if err := json.Unmarshal([]byte(stats), &m.Stats); err != nil {
		return store.Stored{}, fmt.Errorf("match %s: statistics: %w", m.ID, err)
	}
	return store.Stored{Match: m, Hash: hash}, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func where(q store.MatchQuery) (string, []any) {
	var conds []string
	var args []any
	if q.Competition != "" {
		conds, args = append(conds, "competition = ?"), append(args, q.Competition)
	}
	if q.Season != "" {
		conds, args = append(conds, "season = ?"), append(args, q.Season)
	}
	if q.Status != "" {
		conds, args = append(conds, "status = ?"), append(args, string(q.Status))
	}
	if !q.From.IsZero() {
		conds, args = append(conds, "kickoff >= ?"), append(args, q.From.UTC().Format(store.TimeFormat))
	}
	if !q.To.IsZero() {
		conds, args = append(conds, "kickoff < ?"), append(args, q.To.UTC().Format(store.TimeFormat))
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
	rows, err := s.db.QueryContext(ctx, query, args...)
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
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM matches`+w, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count matches: %w", err)
	}
	return n, nil
}

// Revisions implements store.Store.
func (s *Store) Revisions(ctx context.Context, matchID string) ([]store.Revision, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT match_id, run_id, changed, before, after, at FROM match_revisions WHERE match_id = ? ORDER BY id`, matchID)
	if err != nil {
		return nil, fmt.Errorf("revisions of %s: %w", matchID, err)
	}
	defer rows.Close()
	var out []store.Revision
	for rows.Next() {
		var r store.Revision
		var changed, before, after, at string
		if err := rows.Scan(&r.MatchID, &r.RunID, &changed, &before, &after, &at); err != nil {
			return nil, err
		}
		if err := errors.Join(json.Unmarshal([]byte(changed), &r.Changed), json.Unmarshal([]byte(before), &r.Before),
			json.Unmarshal([]byte(after), &r.After)); err != nil {
			return nil, fmt.Errorf("revision of %s: %w", matchID, err)
		}
		r.At, _ = time.Parse(store.TimeFormat, at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Quarantined implements store.Store.
func (s *Store) Quarantined(ctx context.Context, q store.QuarantineQuery) ([]store.QuarantinedRow, error) {
	var conds []string
	var args []any
	if q.Source != "" {
		conds, args = append(conds, "source = ?"), append(args, q.Source)
	}
	if q.File != "" {
		conds, args = append(conds, "file = ?"), append(args, q.File)
	}
	if q.RunID != "" {
		conds, args = append(conds, "last_run = ?"), append(args, q.RunID)
	}
	w := ""
	if len(conds) > 0 {
		w = " WHERE " + strings.Join(conds, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT source, file, line, match_id, reasons, raw, first_run, last_run, first_seen FROM quarantine`+w+` ORDER BY first_seen, file, line`, args...)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	defer rows.Close()
	var out []store.QuarantinedRow
	for rows.Next() {
		var r store.QuarantinedRow
		var reasons, seen string
		if err := rows.Scan(&r.Source, &r.File, &r.Line, &r.MatchID, &reasons, &r.Raw, &r.FirstRun, &r.LastRun, &seen); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(reasons), &r.Reasons); err != nil {
			return nil, err
		}
		r.FirstSeen, _ = time.Parse(store.TimeFormat, seen)
		out = append(out, r)
	}
	return out, rows.Err()
}

// RecordRun implements store.Store.
func (s *Store) RecordRun(ctx context.Context, r store.IngestRun) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO ingest_runs (id, source, started_at, finished_at, files, rows_read, loaded, updated, unchanged, quarantined, error)
		VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET finished_at=excluded.finished_at, files=excluded.files, rows_read=excluded.rows_read,
		loaded=excluded.loaded, updated=excluded.updated, unchanged=excluded.unchanged, quarantined=excluded.quarantined, error=excluded.error`,
		r.ID, r.Source, r.StartedAt.UTC().Format(store.TimeFormat), r.FinishedAt.UTC().Format(store.TimeFormat), r.Files, r.Read,
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
	rows, err := s.db.QueryContext(ctx, `SELECT id, source, started_at, finished_at, files, rows_read, loaded, updated, unchanged, quarantined, error
		FROM ingest_runs ORDER BY started_at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list ingest runs: %w", err)
	}
	defer rows.Close()
	var out []store.IngestRun
	for rows.Next() {
		var r store.IngestRun
		var started, finished string
		if err := rows.Scan(&r.ID, &r.Source, &started, &finished, &r.Files, &r.Read, &r.Applied.Loaded, &r.Applied.Updated,
			&r.Applied.Unchanged, &r.Applied.Quarantined, &r.Error); err != nil {
			return nil, err
		}
		r.StartedAt, _ = time.Parse(store.TimeFormat, started)
		r.FinishedAt, _ = time.Parse(store.TimeFormat, finished)
		out = append(out, r)
	}
	return out, rows.Err()
}

// collect reads every row of a query with scan and closes the rows.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
