// Package sqlstore is the match store written once for SQL databases: every
// method of store.Store, with its statements, arguments and scanning. A
// backend is a Dialect: how it connects and runs a transaction, how it
// encodes a time or a list, how it writes many rows at once, and the few
// statements its SQL says differently (pgstore for PostgreSQL, sqlitestore
// for SQLite). Statements use $1-style parameters, which both read, and
// the function now(), which SQLite gets from its dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// Conn runs statements: the pool, or one transaction.
type Conn interface {
	// Exec runs a statement and reports the rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Batch runs the statements in order, in one round trip where the
	// database allows it.
	Batch(ctx context.Context, stmts []Stmt) error
}

// Rows is a query's result.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a one-row result; Scan reports sql.ErrNoRows (or an error that
// wraps it) when there is none.
type Row interface{ Scan(dest ...any) error }

// Stmt is one statement of a Batch.
type Stmt struct {
	SQL  string
	Args []any
}

// Dialect is what one SQL database does its own way.
type Dialect interface {
	// DB is the connection pool.
	DB() Conn
	// InTx runs f in one transaction, committed when f returns nil.
	InTx(ctx context.Context, f func(Conn) error) error
	Ping(ctx context.Context) error
	Close() error

	// Time is t as a statement argument.
	Time(t time.Time) any
	// List is a list of strings as one argument, which the dialect's In
	// and Statements read.
	List(v []string) any
	// Table is a table given by its columns (each a []string or a
	// []*string, nil for NULL, all as long) as len(columns) arguments,
	// which the dialect's Statements read: PostgreSQL takes each column as
	// an array; SQLite the rows as one JSON argument in the first column's
	// place (the others are unused).
	Table(columns ...any) []any
	// In is the condition that a column's value is one of the list
	// argument param, as "col" + In("$1").
	In(param string) string
	// Floats is a list of numbers as an argument, for a column the
	// dialect keeps lists of numbers in; FloatsDest scans such a column.
	Floats(v []float64) any
	FloatsDest(dest *[]float64) any

	// Insert writes rows into table, in one transaction's Conn: new rows
	// only (a conflict is an error) when onConflict is empty, otherwise
	// merged by onConflict ("ON CONFLICT (key) DO UPDATE SET …", in which
	// the table is named by table and the new row by excluded).
	Insert(ctx context.Context, c Conn, table string, columns []string, rows [][]any, onConflict string) error
	// Lock makes writers of table wait for this transaction (a no-op for
	// a database with one writer at a time).
	Lock(ctx context.Context, c Conn, table string) error
	// Promoted runs in the transaction that records a new generation:
	// the dialect may tell other processes when it commits.
	Promoted(ctx context.Context, c Conn, generation int64) error

	// Statements are the statements the dialect writes its own way.
	Statements() Statements
}

// Statements are what two SQL dialects say differently. A list parameter
// is an argument made by Dialect.List.
type Statements struct {
	// MigrationLock is run first in the migrating transaction ("" for none).
	MigrationLock string
	// MigrationsTable creates the table of applied migrations
	// (version, name, applied_at) if missing.
	MigrationsTable string
	// SkipLocked ends a SELECT … FOR UPDATE that skips rows other
	// transactions hold ("" where one writer runs at a time).
	SkipLocked string
	// Later is the time now() plus the microseconds of its argument, as
	// an expression: Later("$3").
	Later func(param string) string

	// CreateJobs inserts queued jobs: $1 the status, $2…$6 a Table of IDs,
	// requests, owners, callback URLs and relay leases (microseconds, as
	// text; "0": unclaimed, relay_until NULL).
	CreateJobs string
	// StartJobs marks jobs running, and published (a worker has it): $1 the
	// running status, $2…$3 a Table of IDs and run tokens, $4 the queued
	// status; it returns the started jobs' JobColumns.
	StartJobs string
	// FinishJobs ends jobs: $1…$5 a Table of IDs, statuses, results (null
	// for none), errors and error kinds; $6, $7 the statuses a job may
	// end from; it returns the ended jobs' JobColumns.
	FinishJobs string
	// MarkPublished and ReleaseOutbox take a list of IDs, $1.
	MarkPublished string
	ReleaseOutbox string
}

// Store is a match store over a Dialect.
type Store struct {
	d   Dialect
	db  Conn
	sql Statements
}

var _ store.Store = (*Store)(nil)

// New is the store over d, whose schema is migrated.
func New(d Dialect) *Store { return &Store{d: d, db: d.DB(), sql: d.Statements()} }

// Close implements store.Store.
func (s *Store) Close() error { return s.d.Close() }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.d.Ping(ctx) }

// Migrate applies, in one transaction, the migrations in dir of files
// (named <version>_<name>.sql) that d's database has not recorded, in
// version order.
func Migrate(ctx context.Context, d Dialect, files fs.FS, dir string) error {
	names, err := fs.Glob(files, path.Join(dir, "*.sql"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	st := d.Statements()
	return d.InTx(ctx, func(c Conn) error {
		if st.MigrationLock != "" {
			if _, err := c.Exec(ctx, st.MigrationLock); err != nil {
				return fmt.Errorf("migration lock: %w", err)
			}
		}
		if _, err := c.Exec(ctx, st.MigrationsTable); err != nil {
			return fmt.Errorf("migrations table: %w", err)
		}
		for _, f := range names {
			name := path.Base(f)
			version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %s: name must start with a number", name)
			}
			var done bool
			if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil {
				return err
			}
			if done {
				continue
			}
			body, err := fs.ReadFile(files, f)
			if err != nil {
				return err
			}
			if _, err := c.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			if _, err := c.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())`, version, name); err != nil {
				return err
			}
		}
		return nil
	})
}

// now is the time the store records, at the precision both databases keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// collect reads every row of a query with scan and closes the rows (no rows: nil).
func collect[T any](rows Rows, err error, scan func(Row) (T, error)) ([]T, error) {
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

// noRows reports whether err says a one-row query found none.
func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// at scans a time column into t: a time (PostgreSQL) or text in
// store.TimeFormat (SQLite), given in UTC.
func at(t *time.Time) timeDest { return timeDest{t: t} }

// maybeAt scans a nullable time column into *t (nil for NULL).
func maybeAt(t **time.Time) timeDest { return timeDest{null: t} }

type timeDest struct {
	t    *time.Time
	null **time.Time
}

func (d timeDest) Scan(src any) error {
	var t time.Time
	switch v := src.(type) {
	case nil:
		if d.null == nil {
			return errors.New("time is NULL")
		}
		*d.null = nil
		return nil
	case time.Time:
		t = v.UTC()
	case string:
		p, err := time.Parse(store.TimeFormat, v)
		if err != nil {
			return err
		}
		t = p
	case []byte:
		p, err := time.Parse(store.TimeFormat, string(v))
		if err != nil {
			return err
		}
		t = p
	default:
		return fmt.Errorf("time column holds %T", src)
	}
	if d.null != nil {
		*d.null = &t
	} else {
		*d.t = t
	}
	return nil
}

// text is v as JSON text, the argument a JSON column takes.
func text(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
