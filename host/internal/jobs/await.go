package jobs

import (
	"context"
	"math/rand/v2"
	"time"
)

// WorkerMetrics is told when a worker starts and stops waiting for a dependency.
type WorkerMetrics interface {
	DependencyWaiting(dependency string, waiting bool)
}

// Retry delays of a step whose dependency is down, unless the Worker sets its own.
const (
	DefaultRetryMin = 100 * time.Millisecond
	DefaultRetryMax = 5 * time.Second
)

// Waiting names the dependency the worker is waiting for and the error it
// last gave; "" and nil when every one answers. Readiness reports it.
func (w *Worker) Waiting() (dependency string, reason error) {
	w.waitMu.Lock()
	defer w.waitMu.Unlock()
	for _, dep := range []string{"store", "model"} {
		if err, ok := w.waiting[dep]; ok {
			return dep, err
		}
	}
	return "", nil
}

// await runs step until it succeeds, waiting with a growing, jittered delay
// after each failure; it fails only when ctx ends. The first failure of a
// dependency is logged once, with the reason, and so is its return.
func (w *Worker) await(ctx context.Context, dependency string, step func() error) error {
	delay := w.RetryMin
	if delay <= 0 {
		delay = DefaultRetryMin
	}
	limit := w.RetryMax
	if limit <= 0 {
		limit = DefaultRetryMax
	}
	for {
		err := step()
		if err == nil {
			w.answered(dependency)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.failed(dependency, err)
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, limit)
	}
}

func (w *Worker) failed(dependency string, err error) {
	w.waitMu.Lock()
	if w.waiting == nil {
		w.waiting = map[string]error{}
		w.since = map[string]time.Time{}
	}
	_, already := w.waiting[dependency]
	w.waiting[dependency] = err
	if !already {
		w.since[dependency] = time.Now()
	}
	w.waitMu.Unlock()
	if !already {
		w.Logger.Warn("dependency unavailable; holding jobs until it answers (no delivery is spent)", "dependency", dependency, "error", err)
		if w.Metrics != nil {
			w.Metrics.DependencyWaiting(dependency, true)
		}
	}
}

func (w *Worker) answered(dependency string) {
	w.waitMu.Lock()
	_, was := w.waiting[dependency]
	since := w.since[dependency]
	delete(w.waiting, dependency)
	w.waitMu.Unlock()
	if was {
		w.Logger.Info("dependency answers again; jobs resume", "dependency", dependency, "waited", time.Since(since).Round(time.Millisecond))
		if w.Metrics != nil {
			w.Metrics.DependencyWaiting(dependency, false)
		}
	}
}
