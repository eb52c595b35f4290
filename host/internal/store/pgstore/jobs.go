package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// CreateJob implements store.Jobs.
func (s *Store) CreateJob(ctx context.Context, j store.Job) error { return s.CreateJobs(ctx, j) }

// CreateJobs implements store.Jobs.
func (s *Store) CreateJobs(ctx context.Context, jobs ...store.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	ids, requests, owners, callbacks := make([]string, len(jobs)), make([]string, len(jobs)), make([]string, len(jobs)), make([]string, len(jobs))
	for i, j := range jobs {
		ids[i], requests[i], owners[i], callbacks[i] = j.ID, string(j.Request), j.Owner, j.CallbackURL
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO jobs (id, status, request, error, created_at, updated_at, owner, callback_url)
		SELECT id, $1, request::jsonb, '', now(), now(), owner, cb FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(id, request, owner, cb)`,
		store.JobQueued, ids, requests, owners, callbacks)
	if err != nil {
		if len(jobs) == 1 {
			return fmt.Errorf("create job %s: %w", jobs[0].ID, err)
		}
		return fmt.Errorf("create %d jobs: %w", len(jobs), err)
	}
	return nil
}

const jobColumns = `id, status, request, result, error, error_kind, created_at, updated_at, published_at, owner, attempts, coalesce(idem_key, ''), request_hash,
	started_at, finished_at, callback_url, callback_state, callback_attempts`

func scanJob(r pgx.Row) (store.Job, error) {
	var j store.Job
	var request, result []byte
	var published *time.Time
	if err := r.Scan(&j.ID, &j.Status, &request, &result, &j.Error, &j.ErrorKind, &j.CreatedAt, &j.UpdatedAt, &published, &j.Owner, &j.Attempts, &j.IdempotencyKey, &j.RequestHash,
		&j.StartedAt, &j.FinishedAt, &j.CallbackURL, &j.CallbackState, &j.CallbackAttempts); err != nil {
		return store.Job{}, err
	}
	for _, t := range []*time.Time{j.StartedAt, j.FinishedAt} {
		if t != nil {
			*t = t.UTC()
		}
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
	if err != nil || j.CallbackAttempts == 0 {
		return j, err
	}
	rows, err := s.pool.Query(ctx, `SELECT attempt, at, status_code, error, duration_ms FROM job_callbacks WHERE job_id = $1 ORDER BY attempt`, id)
	j.Callbacks, err = collect(rows, err, func(r pgx.Row) (store.CallbackAttempt, error) {
		var a store.CallbackAttempt
		var ms float64
		err := r.Scan(&a.Attempt, &a.At, &a.StatusCode, &a.Error, &ms)
		a.At, a.Duration = a.At.UTC(), time.Duration(ms*float64(time.Millisecond))
		return a, err
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("job %s callbacks: %w", id, err)
	}
	return j, nil
}

// endJob is the SET part every ending shares: finished_at and, for a job
// with a callback URL, a pending callback due at once.
const endJob = `finished_at = now(), callback_state = CASE WHEN callback_url <> '' THEN 'pending' ELSE '' END,
	callback_due_at = CASE WHEN callback_url <> '' THEN now() END`

// Outbox implements store.Jobs. A claim takes the page FOR UPDATE SKIP
// LOCKED, so concurrent relays get disjoint pages without waiting.
func (s *Store) Outbox(ctx context.Context, limit int, lease time.Duration) ([]store.Job, error) {
	const unclaimed = `published_at IS NULL AND status = $1 AND (relay_until IS NULL OR relay_until < now())`
	if lease <= 0 {
		rows, err := s.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE `+unclaimed+` ORDER BY created_at, id LIMIT $2`,
			store.JobQueued, max(limit, 1))
		return collect(rows, err, scanJob)
	}
	rows, err := s.pool.Query(ctx, `UPDATE jobs SET relay_until = now() + $3 * interval '1 microsecond'
		WHERE id IN (SELECT id FROM jobs WHERE `+unclaimed+` ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING `+jobColumns, store.JobQueued, max(limit, 1), lease.Microseconds())
	jobs, err := collect(rows, err, scanJob)
	if err != nil {
		return nil, fmt.Errorf("claim the outbox: %w", err)
	}
	sortOutbox(jobs)
	return jobs, nil
}

func sortOutbox(jobs []store.Job) {
	slices.SortFunc(jobs, func(a, b store.Job) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
}

// ReleaseOutbox implements store.Jobs.
func (s *Store) ReleaseOutbox(ctx context.Context, ids ...string) error {
	_, err := s.pool.Exec(ctx, lockedInOrder("$1")+`UPDATE jobs SET relay_until = NULL FROM locked WHERE jobs.id = locked.lid AND published_at IS NULL`, ids)
	return err
}

// lockedInOrder starts a statement that changes several jobs by ID (ids,
// the parameter holding them): it locks their rows in ID order first, as
// a CTE named locked, which the statement joins. Every such statement — the
// relay marking a page published while workers start and finish jobs of
// the same page — then takes its locks in one order, so none deadlocks with
// another (an UPDATE … WHERE id = ANY locks in whatever order its plan
// reads the rows).
func lockedInOrder(ids string) string {
	return `WITH locked AS MATERIALIZED (SELECT id AS lid FROM jobs WHERE id = ANY(` + ids + `::text[]) ORDER BY id FOR NO KEY UPDATE) `
}

// MarkPublished implements store.Jobs.
func (s *Store) MarkPublished(ctx context.Context, ids ...string) error {
	_, err := s.pool.Exec(ctx, lockedInOrder("$1")+`UPDATE jobs SET published_at = now() FROM locked WHERE jobs.id = locked.lid AND published_at IS NULL`, ids)
	return err
}

// FinishJob implements store.Jobs.
func (s *Store) FinishJob(ctx context.Context, id string, result json.RawMessage, errText string) (bool, error) {
	ended, err := s.FinishJobs(ctx, store.JobEnd{ID: id, Result: result, Error: errText})
	return len(ended) == 1, err
}

// FinishJobs implements store.Jobs.
func (s *Store) FinishJobs(ctx context.Context, ends ...store.JobEnd) ([]store.Job, error) {
	if len(ends) == 0 {
		return nil, nil
	}
	ids, statuses, results, errs, kinds := make([]string, len(ends)), make([]string, len(ends)), make([]*string, len(ends)), make([]string, len(ends)), make([]string, len(ends))
	for i, e := range ends {
		ids[i], statuses[i], errs[i], kinds[i] = e.ID, store.JobSucceeded, e.Error, e.ErrorKind
		if e.Failed() {
			statuses[i] = store.JobFailed
		} else {
			r := string(e.Result)
			results[i] = &r
		}
	}
	rows, err := s.pool.Query(ctx, lockedInOrder("$1")+`UPDATE jobs SET status = f.fstatus, result = f.fresult::jsonb, error = f.ferror, error_kind = f.fkind, updated_at = now(), `+endJob+`
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS f(fid, fstatus, fresult, ferror, fkind), locked
		WHERE jobs.id = f.fid AND locked.lid = f.fid AND jobs.status IN ($6, $7) RETURNING `+jobColumns, // f's names (fid, …) clash with none of jobs'
		ids, statuses, results, errs, kinds, store.JobQueued, store.JobRunning)
	jobs, err := collect(rows, err, scanJob)
	if err != nil {
		return nil, fmt.Errorf("finish %d jobs (%s…): %w", len(ends), ends[0].ID, err)
	}
	return jobs, nil
}

// StartJob implements store.Jobs.
func (s *Store) StartJob(ctx context.Context, id string) (bool, error) {
	started, err := s.StartJobs(ctx, store.JobStart{ID: id})
	return len(started) == 1, err
}

// StartJobs implements store.Jobs.
func (s *Store) StartJobs(ctx context.Context, starts ...store.JobStart) ([]store.Job, error) {
	if len(starts) == 0 {
		return nil, nil
	}
	ids, runs := make([]string, len(starts)), make([]string, len(starts))
	for i, st := range starts {
		ids[i], runs[i] = st.ID, st.Run
	}
	rows, err := s.pool.Query(ctx, lockedInOrder("$2")+`UPDATE jobs SET status = $1, updated_at = now(), started_at = coalesce(started_at, now()),
		attempts = attempts + CASE WHEN s.srun <> '' AND s.srun = jobs.run_token THEN 0 ELSE 1 END, run_token = s.srun
		FROM unnest($2::text[], $3::text[]) AS s(sid, srun), locked -- s's names clash with none of jobs'
		WHERE jobs.id = s.sid AND locked.lid = s.sid AND jobs.status IN ($4, $1) RETURNING `+jobColumns, store.JobRunning, ids, runs, store.JobQueued)
	jobs, err := collect(rows, err, scanJob)
	if err != nil {
		return nil, fmt.Errorf("start %d jobs (%s…): %w", len(starts), starts[0].ID, err)
	}
	return jobs, nil
}

// CancelJob implements store.Jobs.
func (s *Store) CancelJob(ctx context.Context, id string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET status = $1, updated_at = now(), `+endJob+` WHERE id = $2 AND status = $3`,
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
	tag, err := s.pool.Exec(ctx, `INSERT INTO jobs (id, status, request, error, created_at, updated_at, owner, idem_key, request_hash, callback_url)
		VALUES ($1,$2,$3,'',now(),now(),$4,$5,$6,$7) ON CONFLICT DO NOTHING`,
		j.ID, store.JobQueued, string(j.Request), j.Owner, j.IdempotencyKey, j.RequestHash, j.CallbackURL)
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
func (s *Store) FailStale(ctx context.Context, before time.Time, kind, reason string) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET status = $1, error = $2, error_kind = $3, updated_at = now(), `+endJob+` WHERE status IN ($4, $5) AND updated_at < $6`,
		store.JobFailed, reason, kind, store.JobQueued, store.JobRunning, before)
	if err != nil {
		return 0, fmt.Errorf("fail stale jobs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// ClaimCallbacks implements store.Jobs. SKIP LOCKED lets replicas claim
// side by side without waiting on each other's rows.
func (s *Store) ClaimCallbacks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Job, error) {
	rows, err := s.pool.Query(ctx, `UPDATE jobs SET callback_due_at = $1 WHERE id IN (
		SELECT id FROM jobs WHERE callback_state = $2 AND callback_due_at <= $3 ORDER BY callback_due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING `+jobColumns, now.Add(lease), store.CallbackPending, now, max(limit, 1))
	jobs, err := collect(rows, err, scanJob)
	if err != nil {
		return nil, fmt.Errorf("claim callbacks: %w", err)
	}
	return jobs, nil
}

// RecordCallback implements store.Jobs.
func (s *Store) RecordCallback(ctx context.Context, id string, a store.CallbackAttempt, delivered bool, next time.Time) error {
	state, due := store.CallbackOutcome(delivered, next)
	// One statement: the attempt's number is the store's count (two
	// replicas that both tried record two attempts), and a state already
	// settled (the other one delivered) stays as it is.
	_, err := s.pool.Exec(ctx, `WITH j AS (
		UPDATE jobs SET callback_attempts = callback_attempts + 1,
			callback_state = CASE WHEN callback_state = $1 THEN $2 ELSE callback_state END,
			callback_due_at = CASE WHEN callback_state = $1 THEN $3::timestamptz ELSE callback_due_at END
		WHERE id = $4 RETURNING id, callback_attempts)
		INSERT INTO job_callbacks (job_id, attempt, at, status_code, error, duration_ms)
		SELECT id, callback_attempts, $5, $6, $7, $8 FROM j`,
		store.CallbackPending, state, due, id, a.At, a.StatusCode, a.Error, float64(a.Duration)/float64(time.Millisecond))
	if err != nil {
		return fmt.Errorf("record callback of job %s: %w", id, err)
	}
	return nil
}
