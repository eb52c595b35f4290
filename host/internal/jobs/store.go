package jobs

import (
	"context"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// What each part of the async path needs of the job store.
type (
	// JobReader reads one job.
	JobReader interface {
		Job(ctx context.Context, id string) (store.Job, error)
	}
	// JobsReader reads several jobs in one statement.
	JobsReader interface {
		Jobs(ctx context.Context, ids ...string) ([]store.Job, error)
	}
	// OutboxStore is the Relay's: claim unpublished jobs, mark them
	// published, or give them back.
	OutboxStore interface {
		Outbox(ctx context.Context, limit int, lease time.Duration) ([]store.Job, error)
		ReleaseOutbox(ctx context.Context, ids ...string) error
		MarkPublished(ctx context.Context, ids ...string) error
	}
	// RunStore is the Worker's: start jobs and record how they ended.
	RunStore interface {
		JobReader
		StartJobs(ctx context.Context, starts ...store.JobStart) ([]store.Job, error)
		FinishJobs(ctx context.Context, ends ...store.JobEnd) ([]store.Job, error)
	}
	// ReaperStore is the Reaper's: fail dead-lettered and stale jobs.
	ReaperStore interface {
		JobReader
		FinishJobs(ctx context.Context, ends ...store.JobEnd) ([]store.Job, error)
		FailStale(ctx context.Context, before time.Time, kind, reason string) (int, error)
	}
	// CallbackStore is the Notifier's: claim due callbacks, record attempts.
	CallbackStore interface {
		JobReader
		ClaimCallbacks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Job, error)
		RecordCallback(ctx context.Context, id string, a store.CallbackAttempt, delivered bool, next time.Time) error
	}
)
