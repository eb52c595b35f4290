// Package queue carries asynchronous prediction jobs from the API to
// workers. A Queue delivers job IDs at least once: a handler's success acks,
// a failure (or a worker that dies before acking) redelivers. Jobs themselves
// live in the store (an outbox), so a broker outage delays jobs, never loses
// them. Implementations: memqueue (in-process, the embedded default) and
// rabbitqueue (RabbitMQ quorum queues with publisher confirms and a
// dead-letter queue), both checked by queuetest.
package queue

import "context"

// Queue delivers job IDs.
type Queue interface {
	// Publish hands job IDs to the queue, returning only once every one is
	// durable (confirmed by the broker); publishing many at once waits for
	// their confirms together.
	Publish(ctx context.Context, jobIDs ...string) error
	// Consume calls handle for each delivered job ID until ctx ends. A nil
	// return acknowledges it; an error returns it to the queue for another
	// attempt, until MaxDeliveries, after which it is dead-lettered.
	Consume(ctx context.Context, handle func(ctx context.Context, jobID string) error) error
	// ConsumeDead calls handle for each dead-lettered job ID (one whose
	// deliveries are spent) until ctx ends. A nil return removes it for good;
	// an error keeps it for another try.
	ConsumeDead(ctx context.Context, handle func(ctx context.Context, jobID string) error) error
	Close() error
}

// MaxDeliveries is how often a job is tried before it is dead-lettered.
const MaxDeliveries = 5
