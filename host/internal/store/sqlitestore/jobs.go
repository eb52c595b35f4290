package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// CreateJob implements store.Jobs.
func (s *Store) CreateJob(ctx context.Context, j store.Job) error { return s.CreateJobs(ctx, j) }

// CreateJobs implements store.Jobs: one transaction, one commit.
func (s *Store) CreateJobs(ctx context.Context, jobs ...store.Job) error {
	now := time.Now().UTC().Format(store.TimeFormat)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, j := range jobs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, status, request, error, created_at, updated_at, owner, callback_url) VALUES (?,?,?,?,?,?,?,?)`,
				j.ID, store.JobQueued, string(j.Request), "", now, now, j.Owner, j.CallbackURL); err != nil {
				return fmt.Errorf("create job %s: %w", j.ID, err)
			}
		}
		return nil
	})
	return err
}

// inTx runs f in a transaction, committed if f returns nil.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

const jobColumns = `id, status, request, result, error, error_kind, created_at, updated_at, published_at, owner, attempts, coalesce(idem_key, ''), request_hash,
	started_at, finished_at, callback_url, callback_state, callback_attempts`

func scanJob(r scanner) (store.Job, error) {
	var j store.Job
	var request, created, updated string
	var result, published, started, finished sql.NullString
	if err := r.Scan(&j.ID, &j.Status, &request, &result, &j.Error, &j.ErrorKind, &created, &updated, &published, &j.Owner, &j.Attempts, &j.IdempotencyKey, &j.RequestHash,
		&started, &finished, &j.CallbackURL, &j.CallbackState, &j.CallbackAttempts); err != nil {
		return store.Job{}, err
	}
	j.StartedAt, j.FinishedAt = parseTime(started), parseTime(finished)
	j.Request = json.RawMessage(request)
	if result.Valid {
		j.Result = json.RawMessage(result.String)
	}
	j.CreatedAt, _ = time.Parse(store.TimeFormat, created)
	j.UpdatedAt, _ = time.Parse(store.TimeFormat, updated)
	j.Published = published.Valid
	return j, nil
}

func parseTime(v sql.NullString) *time.Time {
	if !v.Valid {
		return nil
	}
	t, err := time.Parse(store.TimeFormat, v.String)
	if err != nil {
		return nil
	}
	return &t
}

// Job implements store.Jobs.
func (s *Store) Job(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Job{}, fmt.Errorf("job %s: %w", id, store.ErrNotFound)
	}
	if err != nil || j.CallbackAttempts == 0 {
		return j, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT attempt, at, status_code, error, duration_ms FROM job_callbacks WHERE job_id = ? ORDER BY attempt`, id)
	j.Callbacks, err = collect(rows, err, func(r scanner) (store.CallbackAttempt, error) {
		var a store.CallbackAttempt
		var at string
		var ms float64
		err := r.Scan(&a.Attempt, &at, &a.StatusCode, &a.Error, &ms)
		a.At, _ = time.Parse(store.TimeFormat, at)
		a.Duration = time.Duration(ms * float64(time.Millisecond))
		return a, err
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("job %s callbacks: %w", id, err)
	}
	return j, nil
}

// endJob is the SET part every ending shares: finished_at and, for a job
// with a callback URL, a pending callback due at once. Its two arguments
// are the time, twice.
const endJob = `finished_at = ?, callback_state = CASE WHEN callback_url <> '' THEN 'pending' ELSE '' END,
	callback_due_at = CASE WHEN callback_url <> '' THEN ? END`

// Outbox implements store.Jobs. SQLite has one writer at a time, so the
// UPDATE … RETURNING claim is atomic.
func (s *Store) Outbox(ctx context.Context, limit int, lease time.Duration) ([]store.Job, error) {
	now := time.Now().UTC()
	const unclaimed = `published_at IS NULL AND status = ? AND (relay_until IS NULL OR relay_until < ?)`
	if lease <= 0 {
		rows, err := s.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE `+unclaimed+` ORDER BY created_at, id LIMIT ?`,
			store.JobQueued, now.Format(store.TimeFormat), max(limit, 1))
		return collect(rows, err, scanJob)
	}
	rows, err := s.db.QueryContext(ctx, `UPDATE jobs SET relay_until = ?
		WHERE id IN (SELECT id FROM jobs WHERE `+unclaimed+` ORDER BY created_at, id LIMIT ?)
		RETURNING `+jobColumns, now.Add(lease).Format(store.TimeFormat), store.JobQueued, now.Format(store.TimeFormat), max(limit, 1))
	jobs, err := collect(rows, err, scanJob)
	if err != nil {
		return nil, fmt.Errorf("claim the outbox: %w", err)
	}
	slices.SortFunc(jobs, func(a, b store.Job) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return jobs, nil
}

// ReleaseOutbox implements store.Jobs.
func (s *Store) ReleaseOutbox(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	_, err := s.db.ExecContext(ctx, `UPDATE jobs SET relay_until = NULL WHERE id IN (`+marks+`) AND published_at IS NULL`, args...)
	return err
}

// MarkPublished implements store.Jobs.
func (s *Store) MarkPublished(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{time.Now().UTC().Format(store.TimeFormat)}
	for _, id := range ids {
		args = append(args, id)
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	_, err := s.db.ExecContext(ctx, `UPDATE jobs SET published_at = ? WHERE id IN (`+marks+`) AND published_at IS NULL`, args...)
	return err
}

// FinishJob implements store.Jobs.
func (s *Store) FinishJob(ctx context.Context, id string, result json.RawMessage, errText string) (bool, error) {
	ended, err := s.FinishJobs(ctx, store.JobEnd{ID: id, Result: result, Error: errText})
	return len(ended) == 1, err
}

// FinishJobs implements store.Jobs: one transaction, one commit.
func (s *Store) FinishJobs(ctx context.Context, ends ...store.JobEnd) ([]store.Job, error) {
	now := time.Now().UTC().Format(store.TimeFormat)
	var out []store.Job
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, e := range ends {
			status, res := store.JobSucceeded, any(string(e.Result))
			if e.Failed() {
				status, res = store.JobFailed, nil
			}
			j, err := scanJob(tx.QueryRowContext(ctx, `UPDATE jobs SET status = ?, result = ?, error = ?, error_kind = ?, updated_at = ?, `+endJob+` WHERE id = ? AND status IN (?, ?) RETURNING `+jobColumns,
				status, res, e.Error, e.ErrorKind, now, now, now, e.ID, store.JobQueued, store.JobRunning))
			switch {
			case errors.Is(err, sql.ErrNoRows): // finished or cancelled already
			case err != nil:
				return fmt.Errorf("finish job %s: %w", e.ID, err)
			default:
				out = append(out, j)
			}
		}
		return nil
	})
	return out, err
}

// StartJob implements store.Jobs.
func (s *Store) StartJob(ctx context.Context, id string) (bool, error) {
	started, err := s.StartJobs(ctx, store.JobStart{ID: id})
	return len(started) == 1, err
}

// StartJobs implements store.Jobs: one transaction (SQLite has one writer,
// so a statement per job costs no more than one for all).
func (s *Store) StartJobs(ctx context.Context, starts ...store.JobStart) ([]store.Job, error) {
	if len(starts) == 0 {
		return nil, nil
	}
	now := time.Now().UTC().Format(store.TimeFormat)
	var out []store.Job
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, st := range starts {
			j, err := scanJob(tx.QueryRowContext(ctx, `UPDATE jobs SET status = ?, updated_at = ?, started_at = coalesce(started_at, ?),
				attempts = attempts + CASE WHEN ? <> '' AND ? = run_token THEN 0 ELSE 1 END, run_token = ?
				WHERE status IN (?, ?) AND id = ? RETURNING `+jobColumns,
				store.JobRunning, now, now, st.Run, st.Run, st.Run, store.JobQueued, store.JobRunning, st.ID))
			switch {
			case errors.Is(err, sql.ErrNoRows): // finished, cancelled or unknown: not to be run
			case err != nil:
				return err
			default:
				out = append(out, j)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("start %d jobs (%s…): %w", len(starts), starts[0].ID, err)
	}
	return out, nil
}

// CancelJob implements store.Jobs.
func (s *Store) CancelJob(ctx context.Context, id string) (bool, error) {
	now := time.Now().UTC().Format(store.TimeFormat)
	r, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, updated_at = ?, `+endJob+` WHERE id = ? AND status = ?`,
		store.JobCancelled, now, now, now, id, store.JobQueued)
	if err != nil {
		return false, fmt.Errorf("cancel job %s: %w", id, err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// CreateJobOnce implements store.Jobs.
func (s *Store) CreateJobOnce(ctx context.Context, j store.Job, window time.Duration) (store.Job, bool, error) {
	if j.IdempotencyKey == "" {
		return j, true, s.CreateJob(ctx, j)
	}
	now := time.Now().UTC()
	if _, err := s.db.ExecContext(ctx, `UPDATE jobs SET idem_key = NULL WHERE owner = ? AND idem_key = ? AND created_at < ?`,
		j.Owner, j.IdempotencyKey, now.Add(-window).Format(store.TimeFormat)); err != nil {
		return store.Job{}, false, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	r, err := s.db.ExecContext(ctx, `INSERT INTO jobs (id, status, request, error, created_at, updated_at, owner, idem_key, request_hash, callback_url)
		VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
		j.ID, store.JobQueued, string(j.Request), "", now.Format(store.TimeFormat), now.Format(store.TimeFormat), j.Owner, j.IdempotencyKey, j.RequestHash, j.CallbackURL)
	if err != nil {
		return store.Job{}, false, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	n, _ := r.RowsAffected()
	held, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE owner = ? AND idem_key = ?`, j.Owner, j.IdempotencyKey))
	if err != nil {
		return store.Job{}, false, fmt.Errorf("job with idempotency key %q: %w", j.IdempotencyKey, err)
	}
	return held, n == 1, nil
}

// FailStale implements store.Jobs.
func (s *Store) FailStale(ctx context.Context, before time.Time, kind, reason string) (int, error) {
	now := time.Now().UTC().Format(store.TimeFormat)
	r, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, error = ?, error_kind = ?, updated_at = ?, `+endJob+` WHERE status IN (?, ?) AND updated_at < ?`,
		store.JobFailed, reason, kind, now, now, now, store.JobQueued, store.JobRunning, before.UTC().Format(store.TimeFormat))
	if err != nil {
		return 0, fmt.Errorf("fail stale jobs: %w", err)
	}
	n, err := r.RowsAffected()
	return int(n), err
}

// ClaimCallbacks implements store.Jobs.
func (s *Store) ClaimCallbacks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Job, error) {
	rows, err := s.db.QueryContext(ctx, `UPDATE jobs SET callback_due_at = ? WHERE id IN (
		SELECT id FROM jobs WHERE callback_state = ? AND callback_due_at <= ? ORDER BY callback_due_at, id LIMIT ?) RETURNING `+jobColumns,
		now.Add(lease).UTC().Format(store.TimeFormat), store.CallbackPending, now.UTC().Format(store.TimeFormat), max(limit, 1))
	jobs, err := collect(rows, err, scanJob)
	if err != nil {
		return nil, fmt.Errorf("claim callbacks: %w", err)
	}
	return jobs, nil
}

// RecordCallback implements store.Jobs.
func (s *Store) RecordCallback(ctx context.Context, id string, a store.CallbackAttempt, delivered bool, next time.Time) error {
	state, dueAt := store.CallbackOutcome(delivered, next)
	var due any
	if dueAt != nil {
		due = dueAt.UTC().Format(store.TimeFormat)
	}
	// The attempt's number is the store's count, so two replicas that both
	// tried (a lease ran out) record two attempts rather than one; a state
	// already settled (the other one delivered) stays as it is.
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_callbacks (job_id, attempt, at, status_code, error, duration_ms)
			SELECT id, callback_attempts + 1, ?, ?, ?, ? FROM jobs WHERE id = ?`,
			a.At.UTC().Format(store.TimeFormat), a.StatusCode, a.Error, float64(a.Duration)/float64(time.Millisecond), id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET callback_attempts = callback_attempts + 1,
			callback_state = CASE WHEN callback_state = ? THEN ? ELSE callback_state END,
			callback_due_at = CASE WHEN callback_state = ? THEN ? ELSE callback_due_at END WHERE id = ?`,
			store.CallbackPending, state, store.CallbackPending, due, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("record callback of job %s: %w", id, err)
	}
	return nil
}
