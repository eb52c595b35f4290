package store

import (
	"context"
	"encoding/json"
	"time"
)

// Job statuses.
const (
	JobQueued = "queued"
	JobDone   = "done"
	JobFailed = "failed"
)

// Jobs stores asynchronous prediction jobs; unpublished ones are the outbox.
type Jobs interface {
	CreateJob(ctx context.Context, j Job) error
	Job(ctx context.Context, id string) (Job, error)
	// Outbox lists queued jobs not yet handed to the queue, oldest first.
	Outbox(ctx context.Context, limit int) ([]Job, error)
	// MarkPublished records that the queue holds these jobs (one statement).
	MarkPublished(ctx context.Context, ids ...string) error
	// FinishJob records a result (or an error) once; a job already finished
	// is left as it is and FinishJob reports false.
	FinishJob(ctx context.Context, id string, result json.RawMessage, errText string) (bool, error)
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
}
