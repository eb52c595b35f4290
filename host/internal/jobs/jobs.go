// Package jobs runs asynchronous predictions: the API writes a job to the
// store (the outbox) and answers 202; Relay hands outbox jobs to the queue,
// retrying while the broker is down; Worker predicts through the same
// forecast.Predictor as the sync path, records the result in the store (and
// the cache), and only then acknowledges. The sync path never touches any of
// this, so a broker outage delays async jobs and stops nothing else.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/host/internal/queue"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Request is an async job's fixture, as the caller sent it (already validated).
type Request struct {
	HomeTeam    string       `json:"home_team"`
	AwayTeam    string       `json:"away_team"`
	Competition string       `json:"competition"`
	Kickoff     time.Time    `json:"kickoff"`
	Odds        *soccer.Odds `json:"odds,omitempty"`
	// NoStoredOdds forecasts without the store's prices (the caller opted
	// out); without it a fixture the store has priced is forecast with them.
	NoStoredOdds bool `json:"no_stored_odds,omitempty"`
	// AsOf asks for the forecast as of this time (not after the kick-off):
	// from the features as they stood before it, as the sync path does.
	AsOf *time.Time `json:"as_of,omitempty"`
	// Trace is the submission's W3C trace context (while tracing is on):
	// the worker's spans join the trace of the request that submitted the
	// job, however long it waited and whichever process runs it.
	Trace tracing.Carrier `json:"trace,omitempty"`
	// Markets requires the goal markets: a serving model without them fails the job, saying so.
	Markets bool `json:"markets,omitempty"`
}

// CacheTTL is how long a finished job stays in the cache, and ProgressTTL
// a queued or running one's view: pollers read it instead of the store,
// and a state that changes without a cache write (a stale job swept) shows
// within it.
const (
	CacheTTL    = 24 * time.Hour
	ProgressTTL = 10 * time.Second
)

// CacheKey is where a finished job's view is cached.
func CacheKey(id string) string { return "job:" + id }

// RelayLease is how long a relay holds the outbox page it is publishing:
// longer than a publish may take (30 s), so replicas never publish the
// same job twice; a relay that dies holding a page frees it after this.
const RelayLease = time.Minute

// Relay drains the outbox into the queue.
type Relay struct {
	Store    OutboxStore
	Queue    queue.Queue
	Logger   hclog.Logger
	Interval time.Duration
	// Kick wakes the relay at once (the API signals a new job).
	Kick <-chan struct{}
	// Concurrency is how many pages a drain claims, publishes and marks
	// at once (DefaultRelayConcurrency when zero), and how many handed
	// pages it publishes at once.
	Concurrency int
	// Handoff, when set, brings the jobs this process's API created
	// claimed: the relay publishes them as they come and marks them after
	// MarkAfter (its own field; the constant when zero) unless a worker
	// started them first. The outbox stays the way back for everything
	// else: jobs created unclaimed, pages whose publish failed, and the
	// jobs of a replica that died.
	Handoff   *Handoff
	MarkAfter time.Duration
}

// DefaultRelayConcurrency: with one page at a time, a burst's workers
// waited for the relay (its claim, the broker's confirms and its mark run
// one after another, ~100 jobs each).
const DefaultRelayConcurrency = 2

// Run relays until ctx ends.
func (r Relay) Run(ctx context.Context) {
	tick := time.NewTicker(r.Interval)
	defer tick.Stop()
	var marks unmarked
	if r.Handoff != nil {
		var wg sync.WaitGroup
		for range r.pages() {
			wg.Go(func() { r.publishHanded(ctx, &marks) })
		}
		defer func() {
			wg.Wait()
			r.stopHandoff(ctx, &marks)
		}()
	}
	down := false
	for {
		n, err := r.Drain(ctx)
		switch {
		case err != nil && !down:
			r.Logger.Warn("cannot hand jobs to the queue; they wait in the outbox", "error", err)
			down = true
		case err == nil && down:
			r.Logger.Info("queue reachable again; outbox drained", "jobs", n)
			down = false
		}
		r.mark(ctx, &marks, time.Now().Add(-r.markAfter()))
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.Kick:
		}
	}
}

func (r Relay) pages() int {
	if r.Concurrency <= 0 {
		return DefaultRelayConcurrency
	}
	return r.Concurrency
}

func (r Relay) markAfter() time.Duration {
	if r.MarkAfter > 0 {
		return r.MarkAfter
	}
	return MarkAfter
}

// publishHanded publishes handed pages until ctx ends. A page whose
// publish fails goes back to the outbox, for Drain to retry (and report).
func (r Relay) publishHanded(ctx context.Context, marks *unmarked) {
	for {
		page, ok := r.Handoff.take(ctx)
		if !ok {
			return
		}
		ids, err := r.publish(ctx, page)
		if err != nil {
			r.Logger.Debug("handed jobs go back to the outbox", "jobs", len(ids), "error", err)
			continue
		}
		marks.add(ids, time.Now())
	}
}

// mark records the jobs published before cutoff (all of them with a zero
// cutoff) as published, a statement per thousand; those a worker started
// are marked already and cost nothing. A mark that fails is tried again
// at the next one: until the lease passes, no other relay takes the jobs.
func (r Relay) mark(ctx context.Context, marks *unmarked, cutoff time.Time) {
	for {
		ids := marks.due(cutoff, 1000)
		if len(ids) == 0 {
			return
		}
		if err := r.Store.MarkPublished(ctx, ids...); err != nil {
			marks.putBack(ids)
			if ctx.Err() == nil {
				r.Logger.Warn("cannot mark published jobs; trying again shortly", "jobs", len(ids), "error", err)
			}
			return
		}
	}
}

// stopHandoff, once the relay stops, closes the Handoff (the API's later
// jobs are created unclaimed, for another replica's relay), gives the
// pages it did not publish back to the outbox and marks what it
// published, so other replicas take the first at once and never publish
// the second again.
func (r Relay) stopHandoff(ctx context.Context, marks *unmarked) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ids := r.Handoff.close(3 * time.Second); len(ids) > 0 {
		if err := r.Store.ReleaseOutbox(sctx, ids...); err != nil {
			r.Logger.Warn("cannot give handed jobs back to the outbox; another relay publishes them after the lease", "jobs", len(ids), "error", err)
		}
	}
	r.mark(sctx, marks, time.Time{})
}

// Drain publishes every outbox job it can, oldest first, and returns how
// many. Concurrency pages are in flight at once; the first page that fails
// stops the others after their page, and its error is the drain's.
func (r Relay) Drain(ctx context.Context) (int, error) {
	var (
		total   atomic.Int64
		stop    atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	for range r.pages() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				n, err := r.page(ctx)
				total.Add(int64(n))
				if err != nil {
					stop.Store(true)
					errOnce.Do(func() { first = err })
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	return int(total.Load()), first
}

// page claims one page of the outbox, publishes it and marks it published,
// and returns how many jobs it held (0: the outbox is empty).
func (r Relay) page(ctx context.Context) (int, error) {
	jobs, err := r.Store.Outbox(ctx, 100, RelayLease)
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	// The page is claimed, so another drain — this one's or another serve's
	// — takes the next one. The whole page at once: one wait for the
	// broker's confirms and one UPDATE. A job published but not marked (the
	// relay dies between the two) is published again after the lease;
	// workers skip finished jobs.
	ids, err := r.publish(ctx, jobs)
	if err != nil {
		return 0, err
	}
	if err := r.Store.MarkPublished(ctx, ids...); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// publish hands claimed jobs to the queue and returns their IDs. If the
// queue refuses them they are given back, so the first drain once the
// broker answers — this replica's or another's — publishes them without
// waiting out the lease. (A failed release only delays them by the lease.)
func (r Relay) publish(ctx context.Context, jobs []store.Job) ([]string, error) {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	pctx, span := relaySpan(ctx, jobs)
	pctx, cancel := context.WithTimeout(pctx, 30*time.Second)
	err := r.Queue.Publish(pctx, ids...)
	cancel()
	tracing.Fail(span, err)
	span.End()
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		r.Store.ReleaseOutbox(rctx, ids...)
		cancel()
	}
	return ids, err
}

// relaySpan starts the span of publishing an outbox page while tracing is
// on: in the trace of the page's first traced submission, linked to each
// one's. The broker carries it to the worker's delivery span.
func relaySpan(ctx context.Context, page []store.Job) (context.Context, trace.Span) {
	if !tracing.Enabled() {
		return ctx, trace.SpanFromContext(ctx)
	}
	callers := make([]trace.SpanContext, len(page))
	for i, j := range page {
		callers[i] = trace.SpanContextFromContext(tracing.Extract(context.Background(), requestTrace(j.Request)))
	}
	return tracing.Gathered(ctx, "jobs.relay publish", callers, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.Int("jobs.count", len(page))))
}

// requestTrace is the trace context a job's request was submitted under.
func requestTrace(request json.RawMessage) tracing.Carrier {
	var r struct {
		Trace tracing.Carrier `json:"trace"`
	}
	json.Unmarshal(request, &r)
	return r.Trace
}

// jobSpan starts the span of running a job while tracing is on: a child of
// the submission's span, linked to the delivery's (the broker's hop).
func jobSpan(ctx context.Context, j *store.Job) (context.Context, trace.Span) {
	if !tracing.Enabled() {
		return ctx, trace.SpanFromContext(ctx)
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("job.id", j.ID), attribute.Int("job.attempt", j.Attempts))}
	if d := trace.SpanContextFromContext(ctx); d.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: d}))
	}
	if c := requestTrace(j.Request); len(c) > 0 {
		ctx = tracing.Extract(ctx, c)
	}
	return tracing.Span(ctx, "jobs.run", opts...)
}

// storeBatch bounds the jobs of one gathered store statement, and
// storeConcurrency the statements of one kind in flight.
const storeBatch, storeConcurrency = 64, 2

// View is what GET /v1/jobs/{id} shows.
type View struct {
	JobID string `json:"job_id"`
	// Status is queued, running, succeeded, failed or cancelled; the last
	// three are final.
	Status string          `json:"status"`
	Result json.RawMessage `json:"prediction,omitempty"`
	Error  string          `json:"error,omitempty"`
	// Problem is a failed job's error as an RFC 9457 problem: the status
	// and type a synchronous request failing the same way answers.
	Problem    *fault.Problem `json:"problem,omitempty"`
	Attempts   int            `json:"attempts"`
	CreatedAt  time.Time      `json:"created_at"`
	StartedAt  *time.Time     `json:"started_at,omitempty"`
	FinishedAt *time.Time     `json:"finished_at,omitempty"`
	UpdatedAt  time.Time      `json:"updated_at"`
	// Callback is the webhook's delivery record, for a job that asked for one.
	Callback *CallbackView `json:"callback,omitempty"`
	// Owner is the creating key's ID: for the access check, never shown.
	Owner string `json:"-"`
}

// CallbackView is a job's webhook as its caller sees it.
type CallbackView struct {
	URL string `json:"url"`
	// State is "waiting" (the job has not ended), pending (being
	// delivered, or retried after a failure), delivered or failed (every
	// attempt spent).
	State    string            `json:"state"`
	Attempts []CallbackAttempt `json:"attempts"`
}

// CallbackAttempt is one delivery attempt.
type CallbackAttempt struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	// StatusCode is the receiver's answer; absent when none came (see Error).
	StatusCode int     `json:"status_code,omitempty"`
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// cached is a view as the result cache holds it, owner included.
type cached struct {
	View  View   `json:"view"`
	Owner string `json:"owner,omitempty"`
}

// ViewOf renders a job.
func ViewOf(j store.Job) View {
	v := View{JobID: j.ID, Status: j.Status, Result: j.Result, Error: j.Error, Attempts: j.Attempts,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, UpdatedAt: j.UpdatedAt, Owner: j.Owner}
	if j.Status == store.JobFailed {
		p := fault.ProblemOf(j.ErrorKind, j.Error)
		v.Problem = &p
	}
	if j.CallbackURL != "" {
		c := &CallbackView{URL: j.CallbackURL, State: j.CallbackState, Attempts: []CallbackAttempt{}}
		if c.State == "" {
			c.State = "waiting"
		}
		for _, a := range j.Callbacks {
			c.Attempts = append(c.Attempts, CallbackAttempt{Attempt: a.Attempt, At: a.At, StatusCode: a.StatusCode, Error: a.Error,
				DurationMS: float64(a.Duration.Microseconds()) / 1000})
		}
		v.Callback = c
	}
	return v
}

// DeadLetterReason is the error of a job whose every delivery failed.
var DeadLetterReason = fmt.Sprintf("the job was returned to the queue %d times without an answer (workers stopped while working it); submit it again", queue.MaxDeliveries)

// Reaper ends dead-lettered jobs: each is marked failed with
// DeadLetterReason, so a client polling it sees a terminal state instead of
// "queued" forever. Its Handle is a queue.ConsumeDead handler.
type Reaper struct {
	Store  ReaperStore
	Cache  cache.Cache
	Logger hclog.Logger
}

// Handle marks one dead-lettered job failed (a job that finished meanwhile is left as it is).
func (r Reaper) Handle(ctx context.Context, id string) error {
	ended, err := r.Store.FinishJobs(ctx, store.JobEnd{ID: id, Error: DeadLetterReason, ErrorKind: fault.Unavailable.Name()})
	if err != nil {
		return err
	}
	if len(ended) > 0 {
		r.Logger.Warn("dead-lettered job marked failed", "job", id)
		cacheView(ctx, r.Store, r.Cache, r.Logger, id)
	}
	return nil
}

// Sweep fails every job queued or running for longer than maxAge, every
// interval until ctx ends: the last resort that makes every accepted job end
// in a final state, whatever happened to its messages.
func (r Reaper) Sweep(ctx context.Context, maxAge, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	reason := fmt.Sprintf("the job was not finished within %s; submit it again", maxAge)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := r.Store.FailStale(ctx, time.Now().Add(-maxAge), fault.Unavailable.Name(), reason); err != nil {
			r.Logger.Warn("sweep stale jobs", "error", err)
		} else if n > 0 {
			r.Logger.Warn("stale jobs marked failed", "jobs", n, "max_age", maxAge)
		}
	}
}

// cacheView puts a job's view, as the store has it, in the cache for pollers.
func cacheView(ctx context.Context, st JobReader, c cache.Cache, log hclog.Logger, id string) {
	if c == nil {
		return
	}
	if j, err := st.Job(ctx, id); err == nil {
		CacheJobs(ctx, c, log, j)
	}
}

// CacheJobs puts jobs' views in the cache, in one round trip: a finished one
// for CacheTTL and announced (cache.Entry.Announce: long polls waiting for
// it wake), a queued or running one for ProgressTTL.
func CacheJobs(ctx context.Context, c cache.Cache, log hclog.Logger, jobs ...store.Job) {
	if c == nil || len(jobs) == 0 {
		return
	}
	entries := make([]cache.Entry, len(jobs))
	for i, j := range jobs {
		ttl, ended := CacheTTL, true
		if j.Status == store.JobQueued || j.Status == store.JobRunning {
			ttl, ended = ProgressTTL, false
		}
		b, _ := json.Marshal(cached{View: ViewOf(j), Owner: j.Owner})
		// An ended job is announced: a long poll waiting for it wakes at once.
		entries[i] = cache.Entry{Key: CacheKey(j.ID), Value: b, TTL: ttl, Announce: ended}
	}
	if err := c.SetMany(ctx, entries...); err != nil && !errors.Is(err, cache.ErrSkipped) {
		log.Warn("cache job views", "jobs", len(jobs), "first", jobs[0].ID, "error", err)
	}
}

// LookupMany reads several jobs' views, in one round trip to the cache and
// one statement for those it does not hold; a job in neither is left out.
func LookupMany(ctx context.Context, st JobsReader, c cache.Cache, ids ...string) ([]View, error) {
	views := make([]View, 0, len(ids))
	missing := ids
	if c != nil {
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = CacheKey(id)
		}
		if vals, err := c.GetMany(ctx, keys...); err == nil && len(vals) == len(ids) {
			missing = nil
			for i, b := range vals {
				if v, ok := cachedView(b, ids[i]); ok {
					views = append(views, v)
				} else {
					missing = append(missing, ids[i])
				}
			}
		}
	}
	if len(missing) == 0 {
		return views, nil
	}
	js, err := st.Jobs(ctx, missing...)
	for _, j := range js {
		views = append(views, ViewOf(j))
	}
	return views, err
}

// cachedView is job id's view from its cache entry b, with its owner; false
// when b is empty, does not decode, or holds another job's view.
func cachedView(b []byte, id string) (View, bool) {
	var v cached
	if len(b) == 0 || json.Unmarshal(b, &v) != nil || v.View.JobID != id {
		return View{}, false
	}
	v.View.Owner = v.Owner
	return v.View, true
}

// Lookup reads a job's view: the cache first, then the store.
func Lookup(ctx context.Context, st JobReader, c cache.Cache, id string) (View, error) {
	if c != nil {
		if b, err := c.Get(ctx, CacheKey(id)); err == nil {
			if v, ok := cachedView(b, id); ok {
				return v, nil
			}
		}
	}
	j, err := st.Job(ctx, id)
	if err != nil {
		return View{}, err
	}
	return ViewOf(j), nil
}
