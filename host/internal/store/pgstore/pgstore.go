// Package pgstore is the PostgreSQL match store (pgx v5): the SQL dialect
// sqlstore's store runs on. Schema changes are versioned migrations in
// migrations/, applied at Open under an advisory lock so that replicas
// starting together migrate once.
package pgstore

import (
	"context"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/soccerpredict/soccerpredict/host/internal/store/sqlstore"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key held while migrating.
const migrationLock = 0x50cce7

// Store is a PostgreSQL match store.
type Store struct {
	*sqlstore.Store
	pool *pgxpool.Pool
}

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
	d := dialect{pool}
	if err := sqlstore.Migrate(ctx, d, migrations, "migrations"); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	return &Store{Store: sqlstore.New(d), pool: pool}, nil
}

// Pool exposes the connection pool to packages that share the database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// dialect is PostgreSQL's sqlstore.Dialect.
type dialect struct{ pool *pgxpool.Pool }

func (d dialect) DB() sqlstore.Conn { return conn{d.pool} }

func (d dialect) InTx(ctx context.Context, f func(sqlstore.Conn) error) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return f(conn{tx}) })
}

func (d dialect) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

func (d dialect) Close() error {
	d.pool.Close()
	return nil
}

func (dialect) Time(t time.Time) any { return t.UTC() }
func (dialect) List(v []string) any  { return v }

// Table passes each column as an array, which unnest reads side by side.
func (dialect) Table(columns ...any) []any { return columns }

func (dialect) In(param string) string         { return " = ANY(" + param + ")" }
func (dialect) Floats(v []float64) any         { return v }
func (dialect) FloatsDest(dest *[]float64) any { return dest }
func (dialect) Lock(ctx context.Context, c sqlstore.Conn, table string) error {
	_, err := c.Exec(ctx, `LOCK TABLE `+table+` IN EXCLUSIVE MODE`)
	return err
}

// Insert writes the rows with COPY: one round trip and no statement per
// row. Merged rows are copied into a temporary table first, and merged from
// it in one statement.
func (dialect) Insert(ctx context.Context, c sqlstore.Conn, table string, columns []string, rows [][]any, onConflict string) error {
	tx, ok := c.(conn).q.(pgx.Tx)
	if !ok {
		return fmt.Errorf("insert into %s: not in a transaction", table)
	}
	into := table
	if onConflict != "" {
		into = table + "_in"
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE `+into+` (LIKE `+table+`) ON COMMIT DROP`); err != nil {
			return err
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{into}, columns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if onConflict == "" {
		return nil
	}
	list := strings.Join(columns, ", ")
	_, err := tx.Exec(ctx, `INSERT INTO `+table+` (`+list+`) SELECT `+list+` FROM `+into+` `+onConflict)
	return err
}

// lockedInOrder starts a statement that changes several jobs by ID (ids,
// the parameter holding them): it locks their rows in ID order first, as
// a CTE named locked, which the statement joins. Every such statement — the
// relay marking a page published while workers start and finish jobs of
// the same page — then takes its locks in one order, so none deadlocks with
// another (an UPDATE … WHERE id = ANY locks in whatever order its plan
// reads the rows). only, when set, narrows the rows locked (and changed),
// e.g. "AND published_at IS NULL".
func lockedInOrder(ids, only string) string {
	return `WITH locked AS MATERIALIZED (SELECT id AS lid FROM jobs WHERE id = ANY(` + ids + `::text[]) ` + only + ` ORDER BY id FOR NO KEY UPDATE) `
}

func (dialect) Statements() sqlstore.Statements {
	return sqlstore.Statements{
		MigrationLock:   `SELECT pg_advisory_xact_lock(` + strconv.Itoa(migrationLock) + `)`,
		MigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
		SkipLocked:      ` FOR UPDATE SKIP LOCKED`,
		Later:           func(p string) string { return `now() + ` + p + ` * interval '1 microsecond'` },
		CreateJobs: `INSERT INTO jobs (id, status, request, error, created_at, updated_at, owner, callback_url, relay_until)
		SELECT id, $1, request::jsonb, '', now(), now(), owner, cb, CASE WHEN lease::bigint > 0 THEN now() + lease::bigint * interval '1 microsecond' END
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS t(id, request, owner, cb, lease)`,
		StartJobs: lockedInOrder("$2", "") + `UPDATE jobs SET status = $1, updated_at = now(), started_at = coalesce(started_at, now()), published_at = coalesce(published_at, now()),
		attempts = attempts + CASE WHEN s.srun <> '' AND s.srun = jobs.run_token THEN 0 ELSE 1 END, run_token = s.srun
		FROM unnest($2::text[], $3::text[]) AS s(sid, srun), locked -- s's names clash with none of jobs'
		WHERE jobs.id = s.sid AND locked.lid = s.sid AND jobs.status IN ($4, $1) RETURNING ` + sqlstore.JobColumns,
		FinishJobs: lockedInOrder("$1", "") + `UPDATE jobs SET status = f.fstatus, result = f.fresult::jsonb, error = f.ferror, error_kind = f.fkind, updated_at = now(), ` + sqlstore.EndJob + `
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS f(fid, fstatus, fresult, ferror, fkind), locked
		WHERE jobs.id = f.fid AND locked.lid = f.fid AND jobs.status IN ($6, $7) RETURNING ` + sqlstore.JobColumns, // f's names (fid, …) clash with none of jobs'
		MarkPublished: lockedInOrder("$1", "AND published_at IS NULL") + // only the unmarked are locked
			`UPDATE jobs SET published_at = now() FROM locked WHERE jobs.id = locked.lid AND published_at IS NULL`,
		ReleaseOutbox: lockedInOrder("$1", "") + `UPDATE jobs SET relay_until = NULL FROM locked WHERE jobs.id = locked.lid AND published_at IS NULL`,
	}
}

// conn runs statements on the pool or a transaction.
type conn struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
		SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	}
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRow(ctx, query, args...)
}

// Batch sends the statements in one round trip.
func (c conn) Batch(ctx context.Context, stmts []sqlstore.Stmt) error {
	if len(stmts) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, s := range stmts {
		b.Queue(s.SQL, s.Args...)
	}
	return c.q.SendBatch(ctx, b).Close()
}
