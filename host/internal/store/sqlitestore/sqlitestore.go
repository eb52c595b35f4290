// Package sqlitestore is the embedded match store: one SQLite file through a
// pure-Go driver, so `make run` needs nothing installed. It is the SQL
// dialect sqlstore's store runs on. Schema changes are versioned migrations
// in migrations/, applied in order at Open.
package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/store/sqlstore"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
)

//go:embed migrations/*.sql
var migrations embed.FS

// The functions the shared statements call that SQLite lacks: now(), the
// time as the store keeps it, and later_us(n), n microseconds after now.
func init() {
	sqlite.MustRegisterScalarFunction("now", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		return time.Now().UTC().Format(store.TimeFormat), nil
	})
	sqlite.MustRegisterScalarFunction("later_us", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		us, ok := args[0].(int64)
		if !ok {
			return nil, fmt.Errorf("later_us(%v): want an integer", args[0])
		}
		return time.Now().UTC().Add(time.Duration(us) * time.Microsecond).Format(store.TimeFormat), nil
	})
}

// Store is a SQLite match store.
type Store struct {
	*sqlstore.Store
	db *sql.DB
}

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
	d := dialect{db}
	if err := sqlstore.Migrate(ctx, d, migrations, "migrations"); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	return &Store{Store: sqlstore.New(d), db: db}, nil
}

// dialect is SQLite's sqlstore.Dialect. Times are text in store.TimeFormat
// (fixed width, so text order is time order), lists JSON text read with
// json_each.
type dialect struct{ db *sql.DB }

func (d dialect) DB() sqlstore.Conn { return conn{d.db} }

func (d dialect) InTx(ctx context.Context, f func(sqlstore.Conn) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(conn{tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (d dialect) Ping(ctx context.Context) error { return d.db.PingContext(ctx) }
func (d dialect) Close() error                   { return d.db.Close() }

func (dialect) Time(t time.Time) any   { return t.UTC().Format(store.TimeFormat) }
func (dialect) In(param string) string { return " IN (SELECT value FROM json_each(" + param + "))" }

func (dialect) List(v []string) any { return jsonText(v) }

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sqlitestore: %T as JSON: %v", v, err)) // lists of strings and numbers
	}
	return string(b)
}

// Table passes the rows as one JSON array of arrays, which rowsOf reads.
func (dialect) Table(columns ...any) []any {
	n := 0
	switch c := columns[0].(type) {
	case []string:
		n = len(c)
	case []*string:
		n = len(c)
	}
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = make([]any, len(columns))
		for j, col := range columns {
			switch c := col.(type) {
			case []string:
				rows[i][j] = c[i]
			case []*string:
				if c[i] != nil {
					rows[i][j] = *c[i]
				}
			default:
				panic(fmt.Sprintf("sqlitestore: a table column of %T", col))
			}
		}
	}
	args := make([]any, len(columns))
	args[0] = jsonText(rows)
	return args
}

func (dialect) Floats(v []float64) any         { return jsonText(v) }
func (dialect) FloatsDest(dest *[]float64) any { return jsonFloats{dest} }

// jsonFloats scans a JSON list of numbers (NULL: none).
type jsonFloats struct{ dest *[]float64 }

func (j jsonFloats) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j.dest = nil
		return nil
	case string:
		return json.Unmarshal([]byte(v), j.dest)
	case []byte:
		return json.Unmarshal(v, j.dest)
	}
	return fmt.Errorf("list of numbers held as %T", src)
}

// Lock does nothing: SQLite has one writer at a time.
func (dialect) Lock(context.Context, sqlstore.Conn, string) error { return nil }

// Promoted does nothing: processes sharing the file poll for generations.
func (dialect) Promoted(context.Context, sqlstore.Conn, int64) error { return nil }

// Insert runs one prepared INSERT per row (SQLite's fast way to write many).
func (dialect) Insert(ctx context.Context, c sqlstore.Conn, table string, columns []string, rows [][]any, onConflict string) error {
	marks := make([]string, len(columns))
	for i := range marks {
		marks[i] = "$" + strconv.Itoa(i+1)
	}
	stmt, err := c.(conn).q.PrepareContext(ctx, `INSERT INTO `+table+` (`+strings.Join(columns, ", ")+`) VALUES (`+strings.Join(marks, ",")+`) `+onConflict)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return fmt.Errorf("row %v: %w", r[0], err)
		}
	}
	return nil
}

// rowsOf is the rows of the Table argument param, with the columns names.
func rowsOf(param string, names ...string) string {
	cols := make([]string, len(names))
	for i, n := range names {
		cols[i] = "value->>" + strconv.Itoa(i) + " AS " + n
	}
	return "(SELECT " + strings.Join(cols, ", ") + " FROM json_each(" + param + "))"
}

func (dialect) Statements() sqlstore.Statements {
	return sqlstore.Statements{
		MigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
		Later:           func(p string) string { return `later_us(` + p + `)` },
		CreateJobs: `INSERT INTO jobs (id, status, request, error, created_at, updated_at, owner, callback_url, relay_until)
		SELECT id, $1, request, '', now(), now(), owner, cb, CASE WHEN CAST(lease AS INTEGER) > 0 THEN later_us(CAST(lease AS INTEGER)) END
		FROM ` + rowsOf("$2", "id", "request", "owner", "cb", "lease"),
		StartJobs: `UPDATE jobs SET status = $1, updated_at = now(), started_at = coalesce(started_at, now()), published_at = coalesce(published_at, now()),
		attempts = attempts + CASE WHEN s.srun <> '' AND s.srun = jobs.run_token THEN 0 ELSE 1 END, run_token = s.srun
		FROM ` + rowsOf("$2", "sid", "srun") + ` AS s
		WHERE jobs.id = s.sid AND jobs.status IN ($4, $1) RETURNING ` + sqlstore.JobColumns,
		FinishJobs: `UPDATE jobs SET status = f.fstatus, result = f.fresult, error = f.ferror, error_kind = f.fkind, updated_at = now(), ` + sqlstore.EndJob + `
		FROM ` + rowsOf("$1", "fid", "fstatus", "fresult", "ferror", "fkind") + ` AS f
		WHERE jobs.id = f.fid AND jobs.status IN ($6, $7) RETURNING ` + sqlstore.JobColumns,
		MarkPublished: `UPDATE jobs SET published_at = now() WHERE id IN (SELECT value FROM json_each($1)) AND published_at IS NULL`,
		ReleaseOutbox: `UPDATE jobs SET relay_until = NULL WHERE id IN (SELECT value FROM json_each($1)) AND published_at IS NULL`,
	}
}

// conn runs statements on the database or a transaction.
type conn struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
	}
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	r, err := c.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRowContext(ctx, query, args...)
}

// Batch runs the statements one after another (SQLite is in-process: a
// round trip costs nothing).
func (c conn) Batch(ctx context.Context, stmts []sqlstore.Stmt) error {
	for _, s := range stmts {
		if _, err := c.q.ExecContext(ctx, s.SQL, s.Args...); err != nil {
			return err
		}
	}
	return nil
}

type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }
