package api

import (
	"context"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/monitor"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// JobStore is what the async routes need of the store: recording
// submissions, reading and cancelling jobs.
type JobStore interface {
	CreateJobs(ctx context.Context, jobs ...store.Job) error
	CreateJobOnce(ctx context.Context, j store.Job, window time.Duration) (store.Job, bool, error)
	Job(ctx context.Context, id string) (store.Job, error)
	Jobs(ctx context.Context, ids ...string) ([]store.Job, error)
	CancelJob(ctx context.Context, id string) (bool, error)
}

// Store is what the API needs of the store: the jobs, and what the
// operators' routes and page read (monitoring, the promotion audit, runs).
type Store interface {
	JobStore
	monitor.Store
	monitor.IngestStore
	Audit(ctx context.Context, limit int) ([]store.AuditEntry, error)
	Experiments(ctx context.Context, limit int) ([]store.ExperimentRun, error)
}
