package store

import (
	"context"
	"encoding/json"
	"time"
)

// Job statuses.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobDone      = "done"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// Jobs stores asynchronous prediction jobs; unpublished ones are the outbox.
type Jobs interface {
	CreateJob(ctx context.Context, j Job) error
	// CreateJobOnce creates j unless a job of the same owner holds the same
	// IdempotencyKey, created within window; it returns the job that holds
	// the key and whether it is the one just created. Concurrent calls (two
	// API replicas) create one job: the store enforces it.
	CreateJobOnce(ctx context.Context, j Job, window time.Duration) (Job, bool, error)
	Job(ctx context.Context, id string) (Job, error)
	// Outbox lists queued jobs not yet handed to the queue, oldest first.
	Outbox(ctx context.Context, limit int) ([]Job, error)
	// MarkPublished records that the queue holds these jobs (one statement).
	MarkPublished(ctx context.Context, ids ...string) error
	// StartJob marks a queued (or running: a redelivery after a worker died)
	// job running and counts the attempt; it reports false for a job that
	// is finished or cancelled, which is not to be run.
	StartJob(ctx context.Context, id string) (bool, error)
	// FinishJob records a result (or an error) once, for a queued or running
	// job; a job already finished or cancelled is left as it is and FinishJob
	// reports false.
	FinishJob(ctx context.Context, id string, result json.RawMessage, errText string) (bool, error)
	// FailStale fails every queued or running job not updated since before,
	// with reason as its error, and returns how many it failed.
	FailStale(ctx context.Context, before time.Time, reason string) (int, error)
	// CancelJob cancels a job that is still queued; it reports false (and
	// changes nothing) for a job that is running, finished or cancelled.
	CancelJob(ctx context.Context, id string) (bool, error)
}

// Job is one asynchronous prediction.
type Job struct {
	ID        string
	Status    string
	Request   json.RawMessage
	Result    json.RawMessage
	Error     string
	CreatedAt time.Time
	UpdatedAt time.Time
	Published bool
	// Owner is the ID of the API key that created the job ("" without auth).
	Owner string
	// Attempts counts the times a worker started the job.
	Attempts int
	// IdempotencyKey is the caller's Idempotency-Key ("" for none) and
	// RequestHash the digest of the request it was sent with.
	IdempotencyKey string
	RequestHash    string
}
