package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// JobColumns are the columns a job is read from, which the dialects'
// job statements return.
const JobColumns = `id, status, request, result, error, error_kind, created_at, updated_at, published_at, owner, attempts, coalesce(idem_key, ''), request_hash,
	started_at, finished_at, callback_url, callback_state, callback_attempts`

func scanJob(r Row) (store.Job, error) {
	var j store.Job
	var request, result []byte
	var published *time.Time
	if err := r.Scan(&j.ID, &j.Status, &request, &result, &j.Error, &j.ErrorKind, at(&j.CreatedAt), at(&j.UpdatedAt), maybeAt(&published), &j.Owner,
		&j.Attempts, &j.IdempotencyKey, &j.RequestHash, maybeAt(&j.StartedAt), maybeAt(&j.FinishedAt), &j.CallbackURL, &j.CallbackState, &j.CallbackAttempts); err != nil {
		return store.Job{}, err
	}
	j.Request, j.Published = json.RawMessage(request), published != nil
	if result != nil {
		j.Result = json.RawMessage(result)
	}
	return j, nil
}

// CreateJob implements store.Jobs.
func (s *Store) CreateJob(ctx context.Context, j store.Job) error { return s.CreateJobs(ctx, j) }

// CreateJobs implements store.Jobs, in one statement.
func (s *Store) CreateJobs(ctx context.Context, jobs ...store.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	n := len(jobs)
	ids, requests, owners, callbacks, leases := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, j := range jobs {
		ids[i], requests[i], owners[i], callbacks[i] = j.ID, string(j.Request), j.Owner, j.CallbackURL
		leases[i] = strconv.FormatInt(max(j.RelayLease, 0).Microseconds(), 10)
	}
	d := s.d
	if _, err := s.db.Exec(ctx, s.sql.CreateJobs, append([]any{store.JobQueued}, d.Table(ids, requests, owners, callbacks, leases)...)...); err != nil {
		if len(jobs) == 1 {
			return fmt.Errorf("create job %s: %w", jobs[0].ID, err)
		}
		return fmt.Errorf("create %d jobs: %w", len(jobs), err)
	}
	return nil
}

// Jobs implements store.Jobs.
func (s *Store) Jobs(ctx context.Context, ids ...string) ([]store.Job, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT `+JobColumns+` FROM jobs WHERE id`+s.d.In("$1"), s.d.List(ids))
	jobs, err := collect(rows, err, scanJob)
	if err != nil {
		return nil, fmt.Errorf("read %d jobs (%s…): %w", len(ids), ids[0], err)
	}
	for i, j := range jobs {
		if j.CallbackAttempts > 0 { // its webhook's delivery record too
			if jobs[i], err = s.Job(ctx, j.ID); err != nil {
				return nil, err
			}
		}
	}
	return jobs, nil
}

// Job implements store.Jobs.
func (s *Store) Job(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(s.db.QueryRow(ctx, `SELECT `+JobColumns+` FROM jobs WHERE id = $1`, id))
	if noRows(err) {
		return store.Job{}, fmt.Errorf("job %s: %w", id, store.ErrNotFound)
	}
	if err != nil || j.CallbackAttempts == 0 {
		return j, err
	}
	rows, err := s.db.Query(ctx, `SELECT attempt, at, status_code, error, duration_ms FROM job_callbacks WHERE job_id = $1 ORDER BY attempt`, id)
	j.Callbacks, err = collect(rows, err, func(r Row) (store.CallbackAttempt, error) {
		var a store.CallbackAttempt
		var ms float64
		err := r.Scan(&a.Attempt, at(&a.At), &a.StatusCode, &a.Error, &ms)
		a.Duration = time.Duration(ms * float64(time.Millisecond))
		return a, err
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("job %s callbacks: %w", id, err)
	}
	return j, nil
}

// EndJob is the SET part every ending shares (the dialects' FinishJobs
// too): finished_at and, for a job
// with a callback URL, a pending callback due at once.
const EndJob = `finished_at = now(), callback_state = CASE WHEN callback_url <> '' THEN 'pending' ELSE '' END,
	callback_due_at = CASE WHEN callback_url <> '' THEN now() END`

// Outbox implements store.Jobs. A claim skips the rows another claim
// holds, so concurrent relays get disjoint pages without waiting.
func (s *Store) Outbox(ctx context.Context, limit int, lease time.Duration) ([]store.Job, error) {
	// The status is a literal: the partial index of claimable jobs
	// (jobs_unpublished) matches it in a generic plan, not a parameter.
	const unclaimed = `published_at IS NULL AND status = '` + store.JobQueued + `' AND (relay_until IS NULL OR relay_until < now())`
	if lease <= 0 {
		rows, err := s.db.Query(ctx, `SELECT `+JobColumns+` FROM jobs WHERE `+unclaimed+` ORDER BY created_at, id LIMIT $1`, max(limit, 1))
		return collect(rows, err, scanJob)
	}
	rows, err := s.db.Query(ctx, `UPDATE jobs SET relay_until = `+s.sql.Later("$2")+`
		WHERE id IN (SELECT id FROM jobs WHERE `+unclaimed+` ORDER BY created_at, id LIMIT $1`+s.sql.SkipLocked+`)
		RETURNING `+JobColumns, max(limit, 1), lease.Microseconds())
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
	_, err := s.db.Exec(ctx, s.sql.ReleaseOutbox, s.d.List(ids))
	return err
}

// MarkPublished implements store.Jobs.
func (s *Store) MarkPublished(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.db.Exec(ctx, s.sql.MarkPublished, s.d.List(ids))
	return err
}

// FinishJob implements store.Jobs.
func (s *Store) FinishJob(ctx context.Context, id string, result json.RawMessage, errText string) (bool, error) {
	ended, err := s.FinishJobs(ctx, store.JobEnd{ID: id, Result: result, Error: errText})
	return len(ended) == 1, err
}

// FinishJobs implements store.Jobs, in one statement.
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
	d := s.d
	rows, err := s.db.Query(ctx, s.sql.FinishJobs, append(d.Table(ids, statuses, results, errs, kinds), store.JobQueued, store.JobRunning)...)
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

// StartJobs implements store.Jobs, in one statement.
func (s *Store) StartJobs(ctx context.Context, starts ...store.JobStart) ([]store.Job, error) {
	if len(starts) == 0 {
		return nil, nil
	}
	ids, runs := make([]string, len(starts)), make([]string, len(starts))
	for i, st := range starts {
		ids[i], runs[i] = st.ID, st.Run
	}
	rows, err := s.db.Query(ctx, s.sql.StartJobs, append(append([]any{store.JobRunning}, s.d.Table(ids, runs)...), store.JobQueued)...)
	jobs, err := collect(rows, err, scanJob)
	if err != nil {
		return nil, fmt.Errorf("start %d jobs (%s…): %w", len(starts), starts[0].ID, err)
	}
	return jobs, nil
}

// CancelJob implements store.Jobs.
func (s *Store) CancelJob(ctx context.Context, id string) (bool, error) {
	n, err := s.db.Exec(ctx, `UPDATE jobs SET status = $1, updated_at = now(), `+EndJob+` WHERE id = $2 AND status = $3`,
		store.JobCancelled, id, store.JobQueued)
	if err != nil {
		return false, fmt.Errorf("cancel job %s: %w", id, err)
	}
	return n == 1, nil
}

// CreateJobOnce implements store.Jobs.
func (s *Store) CreateJobOnce(ctx context.Context, j store.Job, window time.Duration) (store.Job, bool, error) {
	if j.IdempotencyKey == "" {
		return j, true, s.CreateJob(ctx, j)
	}
	// An expired key is released first, so it may be used again.
	if _, err := s.db.Exec(ctx, `UPDATE jobs SET idem_key = NULL WHERE owner = $1 AND idem_key = $2 AND created_at < $3`,
		j.Owner, j.IdempotencyKey, s.d.Time(time.Now().Add(-window))); err != nil {
		return store.Job{}, false, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	n, err := s.db.Exec(ctx, `INSERT INTO jobs (id, status, request, error, created_at, updated_at, owner, idem_key, request_hash, callback_url)
		VALUES ($1,$2,$3,'',now(),now(),$4,$5,$6,$7) ON CONFLICT DO NOTHING`,
		j.ID, store.JobQueued, string(j.Request), j.Owner, j.IdempotencyKey, j.RequestHash, j.CallbackURL)
	if err != nil {
		return store.Job{}, false, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	held, err := scanJob(s.db.QueryRow(ctx, `SELECT `+JobColumns+` FROM jobs WHERE owner = $1 AND idem_key = $2`, j.Owner, j.IdempotencyKey))
	if err != nil {
		return store.Job{}, false, fmt.Errorf("job with idempotency key %q: %w", j.IdempotencyKey, err)
	}
	return held, n == 1, nil
}

// FailStale implements store.Jobs.
func (s *Store) FailStale(ctx context.Context, before time.Time, kind, reason string) (int, error) {
	n, err := s.db.Exec(ctx, `UPDATE jobs SET status = $1, error = $2, error_kind = $3, updated_at = now(), `+EndJob+` WHERE status IN ($4, $5) AND updated_at < $6`,
		store.JobFailed, reason, kind, store.JobQueued, store.JobRunning, s.d.Time(before))
	if err != nil {
		return 0, fmt.Errorf("fail stale jobs: %w", err)
	}
	return int(n), nil
}

// ClaimCallbacks implements store.Jobs: a claim skips the rows another
// holds, so replicas claim side by side without waiting on each other.
func (s *Store) ClaimCallbacks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Job, error) {
	rows, err := s.db.Query(ctx, `UPDATE jobs SET callback_due_at = $1 WHERE id IN (
		SELECT id FROM jobs WHERE callback_state = $2 AND callback_due_at <= $3 ORDER BY callback_due_at, id LIMIT $4`+s.sql.SkipLocked+`)
		RETURNING `+JobColumns, s.d.Time(now.Add(lease)), store.CallbackPending, s.d.Time(now), max(limit, 1))
	jobs, err := collect(rows, err, scanJob)
	if err != nil {
		return nil, fmt.Errorf("claim callbacks: %w", err)
	}
	return jobs, nil
}

// RecordCallback implements store.Jobs. The attempt's number is the
// store's count, taken under the job's row lock (two replicas that both
// tried record two attempts), and a state already settled (the other one
// delivered) stays as it is.
func (s *Store) RecordCallback(ctx context.Context, id string, a store.CallbackAttempt, delivered bool, next time.Time) error {
	state, dueAt := store.CallbackOutcome(delivered, next)
	var due any
	if dueAt != nil {
		due = s.d.Time(*dueAt)
	}
	err := s.d.InTx(ctx, func(c Conn) error {
		var attempt int
		err := c.QueryRow(ctx, `UPDATE jobs SET callback_attempts = callback_attempts + 1,
			callback_state = CASE WHEN callback_state = $1 THEN $2 ELSE callback_state END,
			callback_due_at = CASE WHEN callback_state = $1 THEN $3 ELSE callback_due_at END
			WHERE id = $4 RETURNING callback_attempts`, store.CallbackPending, state, due, id).Scan(&attempt)
		if noRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, `INSERT INTO job_callbacks (job_id, attempt, at, status_code, error, duration_ms) VALUES ($1,$2,$3,$4,$5,$6)`,
			id, attempt, s.d.Time(a.At), a.StatusCode, a.Error, float64(a.Duration)/float64(time.Millisecond))
		return err
	})
	if err != nil {
		return fmt.Errorf("record callback of job %s: %w", id, err)
	}
	return nil
}
