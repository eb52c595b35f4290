package jobs

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/gather"
	"github.com/soccerpredict/soccerpredict/host/internal/present"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
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

// Worker computes jobs. Its handler is called for up to the queue's
// prefetch jobs at once; their store writes are gathered into shared
// statements (one UPDATE starts every job that arrived together, one ends
// them), and their predictions coalesce in the Predictor like synchronous
// ones. Use it by pointer.
type Worker struct {
	Store     RunStore
	Predictor *forecast.Predictor
	Cache     cache.Cache
	Logger    hclog.Logger
	// Metrics, when set, is told while the worker waits for a dependency.
	Metrics WorkerMetrics
	// RetryMin and RetryMax bound the delay between tries of a step whose
	// dependency is down (DefaultRetryMin, DefaultRetryMax when zero).
	RetryMin, RetryMax time.Duration

	waitMu  sync.Mutex
	waiting map[string]error
	since   map[string]time.Time

	once   sync.Once
	starts *gather.Group[store.JobStart, *store.Job]
	ends   *gather.Group[store.JobEnd, struct{}]
}

func (w *Worker) init() {
	w.once.Do(func() {
		w.starts = &gather.Group[store.JobStart, *store.Job]{Max: storeBatch, Concurrency: storeConcurrency,
			Run: func(ctx context.Context, starts []store.JobStart) ([]*store.Job, []error) {
				res, errs := make([]*store.Job, len(starts)), make([]error, len(starts))
				started, err := w.Store.StartJobs(ctx, starts...)
				if err != nil {
					for i := range errs {
						errs[i] = err
					}
					return res, errs
				}
				byID := make(map[string]*store.Job, len(started))
				for i := range started {
					byID[started[i].ID] = &started[i]
				}
				for i, st := range starts {
					res[i] = byID[st.ID] // nil: finished, cancelled or unknown; nothing to run
				}
				CacheJobs(ctx, w.Cache, w.Logger, started...) // pollers see "running"
				return res, errs
			}}
		w.ends = &gather.Group[store.JobEnd, struct{}]{Max: storeBatch, Concurrency: storeConcurrency,
			Run: func(ctx context.Context, ends []store.JobEnd) ([]struct{}, []error) {
				res, errs := make([]struct{}, len(ends)), make([]error, len(ends))
				ended, err := w.Store.FinishJobs(ctx, ends...)
				if err != nil {
					for i := range errs {
						errs[i] = err // not durable yet: the job is not acknowledged
					}
					return res, errs
				}
				CacheJobs(ctx, w.Cache, w.Logger, ended...)
				if len(ended) < len(ends) {
					// A job this worker did not end ended elsewhere (a redelivery
					// raced another worker): its cached view, maybe this
					// worker's "running", is set again from the store.
					done := make(map[string]bool, len(ended))
					for _, j := range ended {
						done[j.ID] = true
					}
					for _, e := range ends {
						if !done[e.ID] {
							cacheView(ctx, w.Store, w.Cache, w.Logger, e.ID)
						}
					}
				}
				return res, errs
			}}
	})
}

// Handle computes one job. It returns an error only when ctx ends (the
// worker is stopping), which returns the job to the queue; a job already
// finished (a redelivery) or cancelled is acknowledged without work.
//
// A dependency that is down — the store, or a plugin restarting — is waited
// out here, with the delivery held: the queue sends no more than its
// prefetch meanwhile, so deliveries are not burned in milliseconds and
// dead-lettered for a fault that is not the job's. The step that failed is
// tried again with a growing delay until the dependency answers; only then
// does the job go on, so attempts counts the attempts that really ran. A job
// fails only for a reason of its own (its fixture, or a model that answered
// something invalid).
func (w *Worker) Handle(ctx context.Context, id string) error {
	w.init()
	var j *store.Job
	// One token for this delivery's run: a start retried because its
	// answer was lost (committed, then the connection dropped) is not
	// counted as a second attempt.
	start := store.JobStart{ID: id, Run: crand.Text()}
	if err := w.await(ctx, "store", func() (err error) { j, err = w.starts.Do(ctx, start); return err }); err != nil || j == nil {
		return err
	}
	ctx, span := jobSpan(ctx, j)
	defer span.End()
	result, failure, ended := w.compute(forecast.WithOrigin(ctx, forecast.Origin{Route: "async", KeyID: j.Owner}), id, j.Request)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if ended {
		return nil // ended while it waited (swept at queue.max_job_age, or cancelled): nothing to record
	}
	end := store.JobEnd{ID: id, Result: result}
	if failure != nil {
		end.Result, end.Error, end.ErrorKind = nil, failure.Detail(), failure.Kind.Name()
	}
	return w.await(ctx, "store", func() error { _, err := w.ends.Do(ctx, end); return err })
}

// compute predicts a started job: its result, or why it failed as a
// client reads it (the same kind and words as a synchronous request's).
// It waits out a model or feature plugin that is down or restarting (and a
// store it cannot read while resolving the fixture), for
// as long as the job is still running in the store: a job ended meanwhile
// (the stale-job sweep's queue.max_job_age, which bounds the wait) is
// ended true. It returns nothing when ctx ends.
func (w *Worker) compute(ctx context.Context, id string, request json.RawMessage) (result json.RawMessage, failure *fault.Error, ended bool) {
	var req Request
	if err := json.Unmarshal(request, &req); err != nil {
		w.Logger.Error("job failed: its stored request is unreadable", "job", id, "error", err)
		return nil, fault.Wrap(fault.Internal, err, "the job's stored request is unreadable"), false
	}
	// Resolving the fixture may read the store (a played match's prices):
	// a store that cannot be read is waited out, as a plugin is below.
	var f soccer.Fixture
	var ferr error
	running := func() bool {
		j, err := w.Store.Job(ctx, id)
		return err != nil || j.Status == store.JobRunning
	}
	w.await(ctx, "store", func() error {
		f, ferr = w.Predictor.Fixture(ctx, forecast.FixtureRequest{HomeTeam: req.HomeTeam, AwayTeam: req.AwayTeam,
			Competition: req.Competition, Kickoff: req.Kickoff, Odds: req.Odds, NoStoredOdds: req.NoStoredOdds})
		if errors.Is(ferr, fault.Unavailable) {
			if !running() {
				ended = true
				return nil
			}
			return ferr
		}
		return nil
	})
	switch {
	case ctx.Err() != nil || ended:
		return nil, nil, ended
	case ferr != nil:
		return nil, fault.Of(ferr), false // the request's own problem (a bad fixture, an unknown team)
	}
	var preds []forecast.Prediction
	var perr error // the prediction's own failure, once the plugins answered
	w.await(ctx, "model", func() error {
		if req.AsOf != nil {
			preds, perr = w.Predictor.PredictAsOf(ctx, []soccer.Fixture{f}, []time.Time{*req.AsOf})
		} else {
			preds, perr = w.Predictor.Predict(ctx, []soccer.Fixture{f})
		}
		if errors.Is(perr, fault.Unavailable) {
			if !running() {
				ended = true
				return nil
			}
			return perr
		}
		return nil
	})
	switch {
	case ctx.Err() != nil || ended:
		return nil, nil, ended
	case perr != nil:
		w.Logger.Error("job failed", "job", id, "error", perr)
		return nil, fault.Of(perr), false
	}
	if req.Markets && preds[0].Markets == nil {
		return nil, forecast.NoMarkets(preds[0]), false
	}
	b, _ := json.Marshal(present.Render(preds[0]))
	return b, nil, false
}
