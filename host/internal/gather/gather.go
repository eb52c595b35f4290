// Package gather runs concurrent calls of one operation as shared batches:
// the store writes of asynchronous jobs, where one statement (one commit)
// for thirty jobs costs little more than one for a single job.
//
// There is no timer and no goroutine of its own. A call that finds a free
// slot runs a batch at once with every item waiting (a call alone is
// never delayed); calls arriving while Concurrency batches run wait, and
// when a batch ends its runner hands the slot to the oldest waiting call,
// which runs the next batch with everything that gathered meanwhile.
package gather

import (
	"context"
	"sync"
)

// Group batches calls of Run. Its zero value is not usable: set Run.
type Group[T, R any] struct {
	// Run does one batch; it returns a result and an error per item, in order.
	Run func(ctx context.Context, items []T) ([]R, []error)
	// Max bounds the items of one batch (default 64); Concurrency the
	// batches running at once (default 1).
	Max, Concurrency int

	mu      sync.Mutex
	queue   []*call[T, R]
	running int
}

type call[T, R any] struct {
	item T
	res  R
	err  error
	done chan struct{}
	lead chan struct{} // this call is handed a slot: run the next batch
	// handed: a slot was handed to this call and it has not started on it
	// yet (at most one at a time, so the send on lead never blocks).
	handed bool
}

// Do runs item in a batch and returns its result. The batch runs with a
// context that keeps ctx's values but not its cancellation: a caller that
// gives up does not fail the others' items.
func (g *Group[T, R]) Do(ctx context.Context, item T) (R, error) {
	c := &call[T, R]{item: item, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	leading := g.running < max(g.Concurrency, 1)
	if leading {
		g.running++
	}
	g.mu.Unlock()
	if leading {
		g.runBatch(ctx)
	}
	for {
		select {
		case <-c.done:
			g.mu.Lock()
			if c.handed {
				// A slot was handed to this call after its item was
				// taken by another batch: pass it on, unused.
				<-c.lead
				c.handed = false
				g.passOn()
			}
			g.mu.Unlock()
			return c.res, c.err
		case <-c.lead:
			g.mu.Lock()
			c.handed = false
			g.mu.Unlock()
			g.runBatch(ctx)
		}
	}
}

// runBatch runs the waiting items (up to Max) in a slot the caller holds,
// then hands the slot on or frees it.
func (g *Group[T, R]) runBatch(ctx context.Context) {
	limit := g.Max
	if limit <= 0 {
		limit = 64
	}
	g.mu.Lock()
	n := min(len(g.queue), limit)
	batch := make([]*call[T, R], n)
	copy(batch, g.queue)
	g.queue = append(g.queue[:0], g.queue[n:]...)
	g.mu.Unlock()
	if n > 0 {
		items := make([]T, n)
		for i, c := range batch {
			items[i] = c.item
		}
		res, errs := g.run(context.WithoutCancel(ctx), items)
		for i, c := range batch {
			c.res, c.err = res[i], errs[i]
			close(c.done)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.passOn()
}

// passOn hands the caller's slot to the oldest waiting call not already
// handed one (running stays counted); if every waiting call holds one, the
// slot is freed. Either way each waiting item has a call about to run it.
// g.mu is held.
func (g *Group[T, R]) passOn() {
	for _, w := range g.queue {
		if !w.handed {
			w.handed = true
			w.lead <- struct{}{}
			return
		}
	}
	g.running--
}

// run calls Run, and turns a panic or a result of the wrong length into
// an error for every item rather than a caller waiting forever.
func (g *Group[T, R]) run(ctx context.Context, items []T) (res []R, errs []error) {
	defer func() {
		if p := recover(); p != nil || len(res) != len(items) || len(errs) != len(items) {
			res, errs = make([]R, len(items)), make([]error, len(items))
			for i := range errs {
				errs[i] = &BatchError{Panic: p}
			}
		}
	}()
	return g.Run(ctx, items)
}

// BatchError is every item's error when Run panicked or broke its contract.
type BatchError struct{ Panic any }

func (e *BatchError) Error() string {
	if e.Panic != nil {
		return "gather: the batch failed"
	}
	return "gather: the batch returned the wrong number of results"
}
