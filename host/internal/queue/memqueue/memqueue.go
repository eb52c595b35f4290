// Package memqueue is the in-process queue of the embedded default: jobs
// survive in the store's outbox, not here, so a restart loses nothing.
package memqueue

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/queue"
)

// Queue is an in-process queue.Queue.
type Queue struct {
	ch     chan delivery
	mu     sync.Mutex
	dead   []string
	wake   chan struct{} // signalled when a job is dead-lettered
	closed bool
}

type delivery struct {
	id       string
	attempts int
}

// New makes a queue holding up to capacity undelivered jobs.
func New(capacity int) *Queue {
	return &Queue{ch: make(chan delivery, capacity), wake: make(chan struct{}, 1)}
}

var _ queue.Queue = (*Queue)(nil)

// ErrClosed is returned by a closed queue.
var ErrClosed = errors.New("queue closed")

// Publish implements queue.Queue.
func (q *Queue) Publish(ctx context.Context, ids ...string) error {
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return ErrClosed
	}
	for _, id := range ids {
		select {
		case q.ch <- delivery{id: id}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Workers is how many jobs one Consume works at once, so their predictions
// coalesce into shared plugin calls.
const Workers = 32

// Consume implements queue.Queue. It returns once ctx ends and the jobs it
// was working are done.
func (q *Queue) Consume(ctx context.Context, handle func(context.Context, string) error) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, Workers)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case d := <-q.ch:
			if ctx.Err() != nil { // stopping: put it back for the next consumer
				q.ch <- d
				return ctx.Err()
			}
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				if err := handle(ctx, d.id); err != nil {
					d.attempts++
					if d.attempts >= queue.MaxDeliveries {
						q.mu.Lock()
						q.dead = append(q.dead, d.id)
						q.mu.Unlock()
						select {
						case q.wake <- struct{}{}:
						default:
						}
						return
					}
					go func() { q.ch <- d }()
				}
			}()
		}
	}
}

// ConsumeDead implements queue.Queue.
func (q *Queue) ConsumeDead(ctx context.Context, handle func(context.Context, string) error) error {
	for {
		q.mu.Lock()
		var id string
		if len(q.dead) > 0 {
			id, q.dead = q.dead[0], q.dead[1:]
		}
		q.mu.Unlock()
		if id == "" {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-q.wake:
			}
			continue
		}
		if err := handle(ctx, id); err != nil {
			q.mu.Lock()
			q.dead = append(q.dead, id)
			q.mu.Unlock()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
}

// Dead lists dead-lettered job IDs not yet consumed by ConsumeDead.
func (q *Queue) Dead() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.dead...)
}

// Close stops accepting jobs.
func (q *Queue) Close() error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	return nil
}
