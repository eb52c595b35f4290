package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/gather"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
)

// AsyncRequest is the body of POST /v1/predictions/async: a fixture, and
// optionally where to post the result when the job ends.
type AsyncRequest struct {
	PredictionRequest
	// CallbackURL receives the job's final view as a signed POST; its host
	// must be one the operator allows (webhooks.allowed_hosts).
	CallbackURL string `json:"callback_url,omitempty"`
}

// AsyncResponse is the answer to POST /v1/predictions/async.
type AsyncResponse struct {
	JobID     string `json:"job_id"`
	Status    string `json:"status"`
	StatusURL string `json:"status_url"`
}

// predictAsync validates the fixture now (an unknown team is a 422 at once),
// writes the job to the store and answers 202: the job is durable before the
// caller hears of it, whatever the broker is doing.
func (s *Server) predictAsync(w http.ResponseWriter, r *http.Request) {
	if s.Store == nil {
		s.problem(w, r, http.StatusNotImplemented, "asynchronous predictions are not configured", "", nil)
		return
	}
	var sent AsyncRequest
	if p := decode(r, &sent); p != nil {
		s.problem(w, r, p.Status(), "malformed request", p.Message, []FieldProblem{*p})
		return
	}
	f, asOf, ok := s.resolveFixture(w, r, sent.PredictionRequest)
	if !ok {
		return
	}
	if sent.CallbackURL != "" {
		if err := s.Callbacks.Check(sent.CallbackURL); err != nil {
			msg := "callback_url " + err.Error()
			s.problem(w, r, http.StatusBadRequest, "invalid callback_url", msg, []FieldProblem{{Field: "callback_url", Message: err.Error()}})
			return
		}
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
		s.problem(w, r, http.StatusBadRequest, "invalid Idempotency-Key", "the Idempotency-Key header is 1 to 255 printable ASCII characters",
			[]FieldProblem{{Field: "Idempotency-Key", Message: "1 to 255 printable ASCII characters"}})
		return
	}
	jr := jobs.Request{HomeTeam: f.HomeTeam, AwayTeam: f.AwayTeam, Competition: f.Competition, Kickoff: f.Kickoff,
		Trace: tracing.Inject(r.Context()), Markets: sent.Markets}
	switch forecast.MarketSource(f) {
	case "request":
		jr.Odds = &f.Odds[0]
	case "":
		jr.NoStoredOdds = true // the caller opted out, or the store had none then: the worker must not add them
	}
	if !asOf.IsZero() {
		jr.AsOf = &asOf
	}
	body, _ := json.Marshal(jr)
	// The request as the client sent it (not the resolved fixture, whose
	// kick-off defaults to "now"): a retry of the same body matches.
	sentJSON, _ := json.Marshal(sent)
	sum := sha256.Sum256(sentJSON)
	b := make([]byte, jobIDBytes)
	rand.Read(b)
	id := hex.EncodeToString(b)
	var owner string
	if k, ok := caller(r); ok {
		owner = k.ID
	}
	window := s.IdempotencyWindow
	if window <= 0 {
		window = 24 * time.Hour
	}
	job := store.Job{ID: id, Request: body, Owner: owner, IdempotencyKey: key, RequestHash: hex.EncodeToString(sum[:]),
		CallbackURL: sent.CallbackURL}
	job, created, err := s.record(r.Context(), job, window)
	if r.Context().Err() != nil {
		// The client left while the store was slow: it never learns the
		// job's ID, so nobody would read the result. A job recorded after
		// record gave up is cancelled there; one recorded just as the
		// client went is cancelled here, before it is relayed. (One with an
		// Idempotency-Key is kept for the client's retry to find.)
		if err == nil && created && key == "" {
			if _, err := s.Store.CancelJob(context.WithoutCancel(r.Context()), job.ID); err != nil {
				s.Logger.Warn("cancel a job whose client left before it was recorded", "job", job.ID, "error", err)
			}
		}
		return
	}
	if errors.Is(err, errSubmitTimeout) {
		s.Logger.Debug("the store did not record a submission in time", "timeout", s.submitTimeout())
		s.problem(w, r, http.StatusServiceUnavailable, "temporarily unavailable",
			fmt.Sprintf("the store did not record the job within %s; nothing was queued", s.submitTimeout()), nil)
		return
	}
	if err != nil {
		s.Logger.Error("create job", "error", err)
		s.problem(w, r, http.StatusServiceUnavailable, "temporarily unavailable", "the job could not be recorded; nothing was queued", nil)
		return
	}
	if !created {
		// The same key again: the same job, if it is the same request.
		if job.RequestHash != hex.EncodeToString(sum[:]) {
			s.problem(w, r, http.StatusConflict, "Idempotency-Key reused", fmt.Sprintf("key %q was used for another request (job %s)", truncate(key, 64), job.ID), nil)
			return
		}
		w.Header().Set("Location", "/v1/jobs/"+job.ID)
		s.json(w, http.StatusOK, AsyncResponse{JobID: job.ID, Status: job.Status, StatusURL: "/v1/jobs/" + job.ID})
		return
	}
	if s.Kick != nil {
		s.Kick()
	}
	w.Header().Set("Location", "/v1/jobs/"+id)
	s.json(w, http.StatusAccepted, AsyncResponse{JobID: id, Status: store.JobQueued, StatusURL: "/v1/jobs/" + id})
}

func (s *Server) job(w http.ResponseWriter, r *http.Request) {
	if s.Store == nil {
		s.problem(w, r, http.StatusNotImplemented, "asynchronous predictions are not configured", "", nil)
		return
	}
	id := chi.URLParam(r, "id")
	if !validJobID(id) {
		// Not an ID this server makes: no need to ask the store (which may
		// refuse the bytes, e.g. a NUL, as an error of its own).
		s.problem(w, r, http.StatusNotFound, "no such job", fmt.Sprintf("no job %q: job IDs are %d hex digits", truncate(id, 64), 2*jobIDBytes), nil)
		return
	}
	v, err := jobs.Lookup(r.Context(), s.Store, s.Cache, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !mayRead(r, v.Owner) {
		// Another key's job is as absent as one that never was: its ID tells nothing.
		s.problem(w, r, http.StatusNotFound, "no such job", "no job "+id, nil)
		return
	}
	if err != nil {
		s.storeDown(w, r, err)
		return
	}
	s.json(w, http.StatusOK, v)
}

// cancelJob cancels a job that is still queued (200 with its view); a job
// that is running or finished is a 409 saying which.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	if s.Store == nil {
		s.problem(w, r, http.StatusNotImplemented, "asynchronous predictions are not configured", "", nil)
		return
	}
	id := chi.URLParam(r, "id")
	j, err := s.Store.Job(r.Context(), id)
	if !validJobID(id) || errors.Is(err, store.ErrNotFound) || err == nil && !mayRead(r, j.Owner) {
		s.problem(w, r, http.StatusNotFound, "no such job", fmt.Sprintf("no job %q", truncate(id, 64)), nil)
		return
	}
	if err != nil {
		s.storeDown(w, r, err)
		return
	}
	ok, err := s.Store.CancelJob(r.Context(), id)
	if err != nil {
		s.storeDown(w, r, err)
		return
	}
	if j, err = s.Store.Job(r.Context(), id); err != nil {
		s.storeDown(w, r, err)
		return
	}
	if !ok {
		why := fmt.Sprintf("job %s has already ended (%s)", id, j.Status)
		if j.Status == store.JobRunning {
			why = fmt.Sprintf("job %s is running", id)
		}
		s.problem(w, r, http.StatusConflict, "job cannot be cancelled", why+"; only a queued job can be cancelled", nil)
		return
	}
	// The cached view (queued) must not outlive the cancel.
	jobs.CacheJobs(r.Context(), s.Cache, s.Logger, j)
	s.json(w, http.StatusOK, jobs.ViewOf(j))
}

var errSubmitTimeout = errors.New("the store did not answer in time")

// doubtful holds the IDs of submissions whose write failed — which may
// have committed all the same — and cancels each once the store answers,
// so a job whose client was told "nothing was queued" does not run. It
// holds at most maxDoubts IDs (the oldest go first) and works while it has
// any, one cancel at a time, retrying with a growing delay while the store
// is down.
type doubtful struct {
	store  store.Store
	logger hclog.Logger
	mu     sync.Mutex
	ids    []string
	busy   bool
}

const maxDoubts = 100_000

func (d *doubtful) add(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.ids) >= maxDoubts {
		d.logger.Warn("too many submissions of unknown outcome; the oldest is no longer checked", "job", d.ids[0])
		d.ids = d.ids[1:]
	}
	d.ids = append(d.ids, id)
	if !d.busy {
		d.busy = true
		go d.work()
	}
}

func (d *doubtful) work() {
	delay := 100 * time.Millisecond
	cancelled := 0
	for {
		d.mu.Lock()
		if len(d.ids) == 0 {
			d.busy = false
			d.mu.Unlock()
			if cancelled > 0 {
				d.logger.Warn("cancelled jobs recorded although their submission failed (the store's answer was lost)", "jobs", cancelled)
			}
			return
		}
		id := d.ids[0]
		d.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ok, err := d.store.CancelJob(ctx, id)
		cancel()
		if err != nil {
			time.Sleep(delay)
			delay = min(2*delay, 2*time.Second)
			continue
		}
		delay = 100 * time.Millisecond
		if ok {
			cancelled++
		}
		d.mu.Lock()
		if len(d.ids) > 0 && d.ids[0] == id {
			d.ids = d.ids[1:]
		}
		d.mu.Unlock()
	}
}

func (s *Server) submitTimeout() time.Duration {
	if s.SubmitTimeout > 0 {
		return s.SubmitTimeout
	}
	return 2 * time.Second
}

// record stores a submission, waiting at most SubmitTimeout (and no longer
// than the client stays). When it gives up first — errSubmitTimeout, or
// the client left — the write goes on, and a job it creates without an
// Idempotency-Key is cancelled before it is relayed: nobody learnt its ID,
// so nobody would read the result. (A keyed one is kept: the client's
// retry with the same key finds it.)
func (s *Server) record(ctx context.Context, job store.Job, window time.Duration) (store.Job, bool, error) {
	type result struct {
		job     store.Job
		created bool
		err     error
	}
	// Whoever first moves state from pending decides: the write's result
	// goes to the handler, or the handler has given up and the write's
	// goroutine cleans up after it.
	const pending, answered, gaveUp = 0, 1, 2
	var state atomic.Int32
	done := make(chan result, 1)
	go func() {
		var res result
		if job.IdempotencyKey == "" {
			// Submissions arriving together share one INSERT (and one commit).
			_, res.err = s.creates.Do(ctx, job)
			res.job, res.created = job, res.err == nil
		} else {
			res.job, res.created, res.err = s.Store.CreateJobOnce(context.WithoutCancel(ctx), job, window)
		}
		told := state.CompareAndSwap(pending, answered)
		if told {
			done <- res
		}
		switch {
		case job.IdempotencyKey != "":
		case res.err == nil && res.created && !told:
			if _, err := s.Store.CancelJob(context.WithoutCancel(ctx), job.ID); err != nil {
				s.Logger.Warn("cancel a job recorded after its submission was given up", "job", job.ID, "error", err)
			}
		case res.err != nil:
			// The write failed, but a connection lost after COMMIT fails
			// it too: the job may be recorded although the client hears
			// it was not. It is cancelled (if it is there) once the store
			// answers again.
			s.doubts.add(job.ID)
		}
	}()
	timer := time.NewTimer(s.submitTimeout())
	defer timer.Stop()
	giveUp := func(err error) (store.Job, bool, error) {
		if state.CompareAndSwap(pending, gaveUp) {
			return job, false, err
		}
		res := <-done // answered just now
		return res.job, res.created, res.err
	}
	select {
	case res := <-done:
		return res.job, res.created, res.err
	case <-timer.C:
		return giveUp(errSubmitTimeout)
	case <-ctx.Done():
		return giveUp(ctx.Err())
	}
}

// storeDown answers a request the job store could not: 503 with
// Retry-After (the job is not lost; ask again), not a 500.
func (s *Server) storeDown(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		w.WriteHeader(StatusClientClosed)
		return
	}
	s.Logger.Debug("job store unavailable", "path", r.URL.Path, "error", err)
	s.problem(w, r, http.StatusServiceUnavailable, "temporarily unavailable", "the job store did not answer; ask again shortly", nil)
}

// newJobGroup gathers job submissions into shared INSERTs. A batch the
// store refuses is written again job by job, so one bad job fails alone.
// Each created job's queued view goes to the cache, so pollers of
// unfinished jobs read the cache rather than the store.
func (s *Server) newJobGroup() *gather.Group[store.Job, struct{}] {
	return &gather.Group[store.Job, struct{}]{Max: 64, Concurrency: 2, Run: func(ctx context.Context, batch []store.Job) ([]struct{}, []error) {
		errs := make([]error, len(batch))
		if err := s.Store.CreateJobs(ctx, batch...); err != nil {
			for i, j := range batch {
				errs[i] = err
				if len(batch) > 1 {
					errs[i] = s.Store.CreateJobs(ctx, j)
				}
			}
		}
		now := time.Now().UTC()
		var made []store.Job
		for i, j := range batch {
			if errs[i] == nil {
				j.Status, j.CreatedAt, j.UpdatedAt = store.JobQueued, now, now
				made = append(made, j)
			}
		}
		jobs.CacheJobs(ctx, s.Cache, s.Logger, made...)
		return make([]struct{}, len(batch)), errs
	}}
}

// jobIDBytes is the random part of a job ID (hex-encoded, so 24 characters).
const jobIDBytes = 12

func validJobID(id string) bool {
	if len(id) != 2*jobIDBytes {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
