package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// CreateJob implements store.Jobs.
func (s *Store) CreateJob(ctx context.Context, j store.Job) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO jobs (id, status, request, error, created_at, updated_at, owner) VALUES ($1,$2,$3,'',now(),now(),$4)`,
		j.ID, store.JobQueued, string(j.Request), j.Owner)
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	return nil
}

const jobColumns = `id, status, request, result, error, created_at, updated_at, published_at, owner, attempts, coalesce(idem_key, ''), request_hash`

func scanJob(r pgx.Row) (store.Job, error) {
	var j store.Job
	var request, result []byte
	var published *time.Time
	if err := r.Scan(&j.ID, &j.Status, &request, &result, &j.Error, &j.CreatedAt, &j.UpdatedAt, &published, &j.Owner, &j.Attempts, &j.IdempotencyKey, &j.RequestHash); err != nil {
		return store.Job{}, err
	}
	j.Request, j.CreatedAt, j.UpdatedAt, j.Published = json.RawMessage(request), j.CreatedAt.UTC(), j.UpdatedAt.UTC(), published != nil
	if result != nil {
		j.Result = json.RawMessage(result)
	}
	return j, nil
}

// Job implements store.Jobs.
func (s *Store) Job(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Job{}, fmt.Errorf("job %s: %w", id, store.ErrNotFound)
	}
	return j, err
}

// Outbox implements store.Jobs.
func (s *Store) Outbox(ctx context.Context, limit int) ([]store.Job, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE published_at IS NULL AND status = $1 ORDER BY created_at, id LIMIT $2`,
		store.JobQueued, max(limit, 1))
	return collect(rows, err, scanJob)
}

// MarkPublished implements store.Jobs.
func (s *Store) MarkPublished(ctx context.Context, ids ...string) error {
	_, err := s.pool.Exec(ctx, `UPDATE jobs SET published_at = now() WHERE id = ANY($1) AND published_at IS NULL`, ids)
	return err
}

// FinishJob implements store.Jobs.
func (s *Store) FinishJob(ctx context.Context, id string, result json.RawMessage, errText string) (bool, error) {
	status := store.JobDone
	var res any = string(result)
	if errText != "" || result == nil {
		status, res = store.JobFailed, nil
	}
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET status = $1, result = $2, error = $3, updated_at = now() WHERE id = $4 AND status IN ($5, $6)`,
		status, res, errText, id, store.JobQueued, store.JobRunning)
	if err != nil {
		return false, fmt.Errorf("finish job %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// StartJob implements store.Jobs.
func (s *Store) StartJob(ctx context.Context, id string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET status = $1, attempts = attempts + 1, updated_at = now() WHERE id = $2 AND status IN ($3, $1)`,
		store.JobRunning, id, store.JobQueued)
	if err != nil {
		return false, fmt.Errorf("start job %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// CancelJob implements store.Jobs.
func (s *Store) CancelJob(ctx context.Context, id string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET status = $1, updated_at = now() WHERE id = $2 AND status = $3`,
		store.JobCancelled, id, store.JobQueued)
	if err != nil {
		return false, fmt.Errorf("cancel job %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// CreateJobOnce implements store.Jobs.
func (s *Store) CreateJobOnce(ctx context.Context, j store.Job, window time.Duration) (store.Job, bool, error) {
	if j.IdempotencyKey == "" {
		return j, true, s.CreateJob(ctx, j)
	}
	// An expired key is released first, so it may be used again.
	if _, err := s.pool.Exec(ctx, `UPDATE jobs SET idem_key = NULL WHERE owner = $1 AND idem_key = $2 AND created_at < $3`,
		j.Owner, j.IdempotencyKey, time.Now().Add(-window)); err != nil {
		return store.Job{}, false, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO jobs (id, status, request, error, created_at, updated_at, owner, idem_key, request_hash)
		VALUES ($1,$2,$3,'',now(),now(),$4,$5,$6) ON CONFLICT DO NOTHING`,
		j.ID, store.JobQueued, string(j.Request), j.Owner, j.IdempotencyKey, j.RequestHash)
	if err != nil {
		return store.Job{}, false, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	created := tag.RowsAffected() == 1
	held, err := scanJob(s.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE owner = $1 AND idem_key = $2`, j.Owner, j.IdempotencyKey))
	if err != nil {
		return store.Job{}, false, fmt.Errorf("job with idempotency key %q: %w", j.IdempotencyKey, err)
	}
	return held, created, nil
}

// FailStale implements store.Jobs.
func (s *Store) FailStale(ctx context.Context, before time.Time, reason string) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET status = $1, error = $2, updated_at = now() WHERE status IN ($3, $4) AND updated_at < $5`,
		store.JobFailed, reason, store.JobQueued, store.JobRunning, before)
	if err != nil {
		return 0, fmt.Errorf("fail stale jobs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
