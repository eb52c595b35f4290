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

// CreateJob implements store.Jobs.
func (s *Store) CreateJob(ctx context.Context, j store.Job) error {
	now := time.Now().UTC().Format(store.TimeFormat)
	_, err := s.db.ExecContext(ctx, `INSERT INTO jobs (id, status, request, error, created_at, updated_at, owner) VALUES (?,?,?,?,?,?,?)`,
		j.ID, store.JobQueued, string(j.Request), "", now, now, j.Owner)
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	return nil
}

const jobColumns = `id, status, request, result, error, created_at, updated_at, published_at, owner, attempts, coalesce(idem_key, ''), request_hash`

func scanJob(r scanner) (store.Job, error) {
	var j store.Job
	var request, created, updated string
	var result, published sql.NullString
	if err := r.Scan(&j.ID, &j.Status, &request, &result, &j.Error, &created, &updated, &published, &j.Owner, &j.Attempts, &j.IdempotencyKey, &j.RequestHash); err != nil {
		return store.Job{}, err
	}
	j.Request = json.RawMessage(request)
	if result.Valid {
		j.Result = json.RawMessage(result.String)
	}
	j.CreatedAt, _ = time.Parse(store.TimeFormat, created)
	j.UpdatedAt, _ = time.Parse(store.TimeFormat, updated)
	j.Published = published.Valid
	return j, nil
}

// Job implements store.Jobs.
func (s *Store) Job(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Job{}, fmt.Errorf("job %s: %w", id, store.ErrNotFound)
	}
	return j, err
}

// Outbox implements store.Jobs.
func (s *Store) Outbox(ctx context.Context, limit int) ([]store.Job, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE published_at IS NULL AND status = ? ORDER BY created_at, id LIMIT ?`,
		store.JobQueued, max(limit, 1))
	return collect(rows, err, scanJob)
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
	status, res := store.JobDone, any(string(result))
	if errText != "" || result == nil {
		status, res = store.JobFailed, nil
	}
	r, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, result = ?, error = ?, updated_at = ? WHERE id = ? AND status IN (?, ?)`,
		status, res, errText, time.Now().UTC().Format(store.TimeFormat), id, store.JobQueued, store.JobRunning)
	if err != nil {
		return false, fmt.Errorf("finish job %s: %w", id, err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// StartJob implements store.Jobs.
func (s *Store) StartJob(ctx context.Context, id string) (bool, error) {
	r, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, attempts = attempts + 1, updated_at = ? WHERE id = ? AND status IN (?, ?)`,
		store.JobRunning, time.Now().UTC().Format(store.TimeFormat), id, store.JobQueued, store.JobRunning)
	if err != nil {
		return false, fmt.Errorf("start job %s: %w", id, err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// CancelJob implements store.Jobs.
func (s *Store) CancelJob(ctx context.Context, id string) (bool, error) {
	r, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, updated_at = ? WHERE id = ? AND status = ?`,
		store.JobCancelled, time.Now().UTC().Format(store.TimeFormat), id, store.JobQueued)
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
	r, err := s.db.ExecContext(ctx, `INSERT INTO jobs (id, status, request, error, created_at, updated_at, owner, idem_key, request_hash)
		VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
		j.ID, store.JobQueued, string(j.Request), "", now.Format(store.TimeFormat), now.Format(store.TimeFormat), j.Owner, j.IdempotencyKey, j.RequestHash)
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
func (s *Store) FailStale(ctx context.Context, before time.Time, reason string) (int, error) {
	r, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, error = ?, updated_at = ? WHERE status IN (?, ?) AND updated_at < ?`,
		store.JobFailed, reason, time.Now().UTC().Format(store.TimeFormat), store.JobQueued, store.JobRunning, before.UTC().Format(store.TimeFormat))
	if err != nil {
		return 0, fmt.Errorf("fail stale jobs: %w", err)
	}
	n, err := r.RowsAffected()
	return int(n), err
}
