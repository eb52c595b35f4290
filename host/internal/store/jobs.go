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
	JobSucceeded = "succeeded"
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
	// Jobs reads the jobs of ids that exist, in no particular order.
	Jobs(ctx context.Context, ids ...string) ([]Job, error)
	// Outbox returns up to limit queued jobs not yet handed to the queue,
	// oldest first. With lease > 0 it claims them: until the lease passes
	// (or they are marked published) no other call returns them, so relays
	// of several serve replicas draining at once publish each job once; a
	// relay that dies holding a claim frees it when the lease passes. With
	// lease 0 it only looks (unclaimed jobs).
	Outbox(ctx context.Context, limit int, lease time.Duration) ([]Job, error)
	// ReleaseOutbox gives back claimed jobs whose publish failed, so the next
	// drain (of any replica) takes them at once instead of after the lease.
	ReleaseOutbox(ctx context.Context, ids ...string) error
	// MarkPublished records that the queue holds these jobs (one statement);
	// a job a worker started is marked already.
	MarkPublished(ctx context.Context, ids ...string) error
	// CreateJobs creates several jobs in one statement (a worker-free burst
	// of submissions shares one commit).
	CreateJobs(ctx context.Context, jobs ...Job) error
	// StartJob marks a queued (or running: a redelivery after a worker died)
	// job running and counts the attempt; it reports false for a job that
	// is finished or cancelled, which is not to be run.
	StartJob(ctx context.Context, id string) (bool, error)
	// StartJobs is StartJob for several jobs in one statement; it returns
	// the jobs it started, as they now are (missing, finished and
	// cancelled ones are left out). A start whose Run token is the one that
	// last started the job is the same run retried (its answer was lost)
	// and is not counted again.
	StartJobs(ctx context.Context, starts ...JobStart) ([]Job, error)
	// FinishJob records a result (or an error) once, for a queued or running
	// job; a job already finished or cancelled is left as it is and FinishJob
	// reports false.
	FinishJob(ctx context.Context, id string, result json.RawMessage, errText string) (bool, error)
	// FinishJobs is FinishJob for several jobs in one statement; it returns
	// the jobs it ended, as they now are.
	FinishJobs(ctx context.Context, ends ...JobEnd) ([]Job, error)
	// FailStale fails every queued or running job not updated since before,
	// with reason as its error (of kind), and returns how many it failed.
	FailStale(ctx context.Context, before time.Time, kind, reason string) (int, error)
	// CancelJob cancels a job that is still queued; it reports false (and
	// changes nothing) for a job that is running, finished or cancelled.
	CancelJob(ctx context.Context, id string) (bool, error)

	// Every change that ends a job (FinishJob, FailStale, CancelJob) makes
	// its callback, if it has a URL, pending and due at once.

	// ClaimCallbacks returns up to limit jobs whose callback is pending and
	// due by now, and moves their due time to now+lease, so another replica
	// claiming meanwhile does not deliver them too; a claim whose delivery
	// is never recorded (the process died) is due again after the lease.
	ClaimCallbacks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Job, error)
	// RecordCallback records one delivery attempt of a job's callback, and
	// what follows: delivered, due again at next, or (next zero) given up.
	RecordCallback(ctx context.Context, id string, a CallbackAttempt, delivered bool, next time.Time) error
}

// JobStart is one job to start, by one run: Run is a token of the worker's
// handling of one delivery ("" counts every start).
type JobStart struct{ ID, Run string }

// JobEnd is how one job ended: its result, or (Error set, or no result) why it failed.
type JobEnd struct {
	ID     string
	Result json.RawMessage
	Error  string
	// ErrorKind names the kind of failure for clients (the host's
	// fault.Kind names: "unprocessable", "unavailable", …).
	ErrorKind string
}

// Failed reports whether the end is a failure.
func (e JobEnd) Failed() bool { return e.Error != "" || e.Result == nil }

// Callback delivery states.
const (
	CallbackPending   = "pending"
	CallbackDelivered = "delivered"
	CallbackFailed    = "failed"
)

// CallbackOutcome is the callback state and next due time that follow an
// attempt (RecordCallback's arguments): delivered, given up (next zero),
// or pending again at next.
func CallbackOutcome(delivered bool, next time.Time) (string, *time.Time) {
	switch {
	case delivered:
		return CallbackDelivered, nil
	case next.IsZero():
		return CallbackFailed, nil
	}
	return CallbackPending, &next
}

// CallbackAttempt is one POST of a job's result to its callback URL.
type CallbackAttempt struct {
	Attempt int
	At      time.Time
	// StatusCode is the receiver's HTTP status (0: no answer, see Error).
	StatusCode int
	Error      string
	Duration   time.Duration
}

// Job is one asynchronous prediction.
type Job struct {
	ID        string
	Status    string
	Request   json.RawMessage
	Result    json.RawMessage
	Error     string
	ErrorKind string // see JobEnd.ErrorKind
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
	// StartedAt is when a worker first started the job, FinishedAt when it
	// ended (succeeded, failed or cancelled); nil until then.
	StartedAt  *time.Time
	FinishedAt *time.Time
	// CallbackURL is where the result is posted when the job ends ("" for
	// none); CallbackState is "" without a URL, then pending, delivered or
	// failed; Callbacks lists the attempts (filled by Job, not by lists).
	CallbackURL      string
	CallbackState    string
	CallbackAttempts int
	Callbacks        []CallbackAttempt
	// RelayLease, when creating a job, says that the creating process's
	// relay publishes it itself: the job is created claimed, and no
	// Outbox call returns it until the lease passes (0: unclaimed, for
	// any relay to claim). Not read back.
	RelayLease time.Duration
}
