package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/gather"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
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
	if p := httpx.Decode(r, &sent); p != nil {
		s.problem(w, r, p.Status(), "malformed request", p.Message, []httpx.FieldProblem{*p})
		return
	}
	f, asOf, ok := s.resolveFixture(w, r, sent.PredictionRequest)
	if !ok {
		return
	}
	if sent.CallbackURL != "" {
		if err := s.Callbacks.Check(sent.CallbackURL); err != nil {
			msg := "callback_url " + err.Error()
			s.problem(w, r, http.StatusBadRequest, "invalid callback_url", msg, []httpx.FieldProblem{{Field: "callback_url", Message: err.Error()}})
			return
		}
	}
	key, ok := s.idempotencyKey(w, r)
	if !ok {
		return
	}
	job := newJob(r, sent, f, asOf, key)
	id := job.ID
	job, created, err := s.record(r.Context(), job, s.idempotencyWindow())
	if r.Context().Err() != nil {
		// The client left while the store was slow: it never learns the
		// job's ID, so nobody would read the result. A job recorded after
		// record gave up is cancelled there; one recorded just as the
		// client went is cancelled here (a worker handed it skips it). (One
		// with an Idempotency-Key is kept for the client's retry to find.)
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
		if job.RequestHash != requestHash(sent) {
			s.problem(w, r, http.StatusConflict, "Idempotency-Key reused", fmt.Sprintf("key %q was used for another request (job %s)", truncate(key, 64), job.ID), nil)
			return
		}
		w.Header().Set("Location", "/v1/jobs/"+job.ID)
		s.json(w, http.StatusOK, AsyncResponse{JobID: job.ID, Status: job.Status, StatusURL: "/v1/jobs/" + job.ID})
		return
	}
	if key != "" && s.Kick != nil {
		s.Kick() // unkeyed jobs went to the relay with their INSERT (newJobGroup)
	}
	w.Header().Set("Location", "/v1/jobs/"+id)
	s.json(w, http.StatusAccepted, AsyncResponse{JobID: id, Status: store.JobQueued, StatusURL: "/v1/jobs/" + id})
}

// AsyncBatchRequest is the body of POST /v1/predictions/async/batch: up to
// MaxBatch fixtures, each its own job, and optionally where to post each
// job's result.
type AsyncBatchRequest struct {
	Fixtures []PredictionRequest `json:"fixtures" validate:"required"`
	// CallbackURL receives each job's final view as a signed POST.
	CallbackURL string `json:"callback_url,omitempty"`
}

// AsyncBatchResponse is the answer to POST /v1/predictions/async/batch: one
// job per fixture, in the request's order.
type AsyncBatchResponse struct {
	Jobs []AsyncResponse `json:"jobs"`
}

// predictAsyncBatch queues many fixtures in one request: every fixture is
// checked first (one that cannot be forecast refuses the whole batch,
// naming it), then every job is written in one INSERT and one commit
// before the 202. With an Idempotency-Key, fixture i is recorded under the
// key and its index, so a retry of the same batch (after a timeout, say)
// answers the same jobs, and one that was only partly recorded is
// completed.
func (s *Server) predictAsyncBatch(w http.ResponseWriter, r *http.Request) {
	if s.Store == nil {
		s.problem(w, r, http.StatusNotImplemented, "asynchronous predictions are not configured", "", nil)
		return
	}
	var req AsyncBatchRequest
	if p := httpx.Decode(r, &req); p != nil {
		s.problem(w, r, p.Status(), "malformed request", p.Message, []httpx.FieldProblem{*p})
		return
	}
	if req.CallbackURL != "" {
		if err := s.Callbacks.Check(req.CallbackURL); err != nil {
			s.problem(w, r, http.StatusBadRequest, "invalid callback_url", "callback_url "+err.Error(), []httpx.FieldProblem{{Field: "callback_url", Message: err.Error()}})
			return
		}
	}
	key, ok := s.idempotencyKey(w, r)
	if !ok {
		return
	}
	fixtures, asOf, ok := s.resolveBatch(w, r, req.Fixtures)
	if !ok {
		return
	}
	batch := make([]store.Job, len(req.Fixtures))
	ids := make([]string, len(req.Fixtures))
	batchHash := ""
	if key != "" {
		b, _ := json.Marshal(req)
		sum := sha256.Sum256(b)
		batchHash = hex.EncodeToString(sum[:])
	}
	for i, fr := range req.Fixtures {
		itemKey := ""
		if key != "" {
			itemKey = key + "#" + strconv.Itoa(i)
		}
		batch[i] = newJob(r, AsyncRequest{PredictionRequest: fr, CallbackURL: req.CallbackURL}, fixtures[i], asOf[i], itemKey)
		batch[i].RequestHash = batchHash // a retry must send the same batch, not only the same fixture i
		ids[i] = batch[i].ID
	}
	window := s.idempotencyWindow()
	type recorded struct {
		jobs    []store.Job
		created int
	}
	res, err := durably(s, r.Context(), key != "", ids, func(ctx context.Context) (recorded, bool, error) {
		if key == "" {
			made, err := s.createJobs(ctx, batch)
			if err != nil {
				return recorded{}, false, err
			}
			return recorded{made, len(made)}, true, nil
		}
		out := recorded{jobs: make([]store.Job, len(batch))}
		for i, j := range batch {
			got, created, err := s.Store.CreateJobOnce(context.WithoutCancel(ctx), j, window)
			if err != nil {
				return out, out.created > 0, err
			}
			if !created && got.RequestHash != batchHash {
				// Found at fixture 0 (the first written under the key),
				// before anything of this request is recorded.
				return out, out.created > 0, &keyReused{index: i, job: got.ID}
			}
			if created {
				out.created++
				got.Status = store.JobQueued
			}
			out.jobs[i] = got
		}
		return out, out.created > 0, nil
	})
	var reused *keyReused
	switch {
	case r.Context().Err() != nil:
		return // the jobs were cancelled (unkeyed) or kept for the retry (keyed)
	case errors.As(err, &reused):
		s.problem(w, r, http.StatusConflict, "Idempotency-Key reused",
			fmt.Sprintf("key %q was used for another request (job %s, fixtures[%d])", truncate(key, 64), reused.job, reused.index), nil)
		return
	case errors.Is(err, errSubmitTimeout):
		s.problem(w, r, http.StatusServiceUnavailable, "temporarily unavailable",
			fmt.Sprintf("the store did not record the jobs within %s; nothing was queued", s.submitTimeout()), nil)
		return
	case err != nil:
		s.Logger.Error("create jobs", "jobs", len(batch), "error", err)
		s.problem(w, r, http.StatusServiceUnavailable, "temporarily unavailable", "the jobs could not be recorded; nothing was queued", nil)
		return
	}
	out := AsyncBatchResponse{Jobs: make([]AsyncResponse, len(res.jobs))}
	for i, j := range res.jobs {
		out.Jobs[i] = AsyncResponse{JobID: j.ID, Status: j.Status, StatusURL: "/v1/jobs/" + j.ID}
	}
	status := http.StatusAccepted
	if res.created == 0 {
		status = http.StatusOK // the same batch again: nothing new was queued
	} else if key != "" && s.Kick != nil {
		s.Kick() // unkeyed jobs went to the relay with their INSERT
	}
	s.json(w, status, out)
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
	wait, werr := waitOf(r)
	if werr != "" {
		s.problem(w, r, http.StatusBadRequest, "invalid wait", "wait "+werr, []httpx.FieldProblem{{Field: "wait", Message: werr}})
		return
	}
	v, err := jobs.Lookup(r.Context(), s.Store, s.Cache, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !apikey.MayRead(r, v.Owner) {
		// Another key's job is as absent as one that never was: its ID tells nothing.
		s.problem(w, r, http.StatusNotFound, "no such job", "no job "+id, nil)
		return
	}
	if err == nil && wait > 0 && !final(v.Status) {
		v, err = s.awaitJob(r.Context(), id, v, wait)
	}
	if err != nil {
		s.storeDown(w, r, err)
		return
	}
	s.json(w, http.StatusOK, v)
}

// MaxWait bounds a long poll (GET /v1/jobs/{id}?wait=), and MaxWaiters the
// polls waiting at once; beyond it a poll answers at once, as without wait.
const (
	MaxWait    = 20 * time.Second
	MaxWaiters = 10000
)

// waitingForJob reports whether r is a long poll of a job or a stream of
// jobs' events that will wait: it waits on a timer, not on the server's
// work, so it holds no in-flight slot (MaxWaiters bounds it instead). A
// stream with wait=0 reads its jobs and ends, as any request, in a slot.
func waitingForJob(r *http.Request) bool {
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v1/jobs/") {
		return false
	}
	if r.URL.Path == "/v1/jobs/events" {
		wait, bad := waitOf(r)
		return bad == "" && (wait > 0 || !r.URL.Query().Has("wait"))
	}
	return r.URL.RawQuery != "" && r.URL.Query().Has("wait")
}

// waitOf reads the wait parameter: seconds ("2.5") or a duration ("500ms"),
// at most MaxWait; 0 when absent. A bad one is the reason it is bad.
func waitOf(r *http.Request) (time.Duration, string) {
	if r.URL.RawQuery == "" || !r.URL.Query().Has("wait") {
		return 0, ""
	}
	raw := r.URL.Query().Get("wait")
	d, err := time.ParseDuration(raw)
	if err != nil {
		secs, ferr := strconv.ParseFloat(raw, 64)
		if ferr != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, fmt.Sprintf("%q is not a number of seconds or a duration like 10s", truncate(raw, 32))
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 || d > MaxWait {
		return 0, fmt.Sprintf("%q is not between 0 and %s", truncate(raw, 32), MaxWait)
	}
	return d, ""
}

func final(status string) bool {
	return status == store.JobSucceeded || status == store.JobFailed || status == store.JobCancelled
}

// awaitJob reads a job's view until it has ended, wait has passed or the
// client has gone, whichever is first, and answers the last view read. With
// a cache, the job's announcement wakes it (and a read every 500 ms covers
// a lost one); without, it reads the store with a delay growing from 2 ms
// to 50 ms, so a job that ends is seen within 50 ms.
func (s *Server) awaitJob(ctx context.Context, id string, v jobs.View, wait time.Duration) (jobs.View, error) {
	if s.waiters.Add(1) > MaxWaiters {
		s.waiters.Add(-1)
		return v, nil
	}
	defer s.waiters.Add(-1)
	// The cache announces a job that ends (jobs.CacheJobs), whichever
	// process ended it: the poll wakes then, and reads the job on a timer
	// only in case an announcement is lost. Without a cache it reads the
	// job after 2 ms, then less and less often, up to every 50 ms.
	var woken <-chan struct{}
	delay, longest := 2*time.Millisecond, 50*time.Millisecond
	if s.Cache != nil {
		s.heard.listen(s.Cache)
		ch, done := s.heard.add(jobs.CacheKey(id))
		defer done()
		// Read once at once: a job that ended after the caller's read and
		// before this registration was announced to nobody. Then every
		// 500 ms, as the announcement ends the wait.
		woken, delay, longest = ch, 0, 500*time.Millisecond
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTimer(delay)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return v, nil // nobody is listening
		case <-deadline.C:
			return v, nil
		case <-tick.C:
		case <-woken:
		}
		next, err := jobs.Lookup(ctx, s.Store, s.Cache, id)
		switch {
		case ctx.Err() != nil:
			return v, nil
		case err != nil:
			return v, err
		case final(next.Status):
			return next, nil
		}
		v = next
		delay = min(2*delay, longest)
		if woken != nil {
			delay = longest
		}
		tick.Reset(delay)
	}
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
	if !validJobID(id) || errors.Is(err, store.ErrNotFound) || err == nil && !apikey.MayRead(r, j.Owner) {
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

// idempotencyKey reads the request's Idempotency-Key ("" when none),
// answering the problem itself when it is malformed (ok false).
func (s *Server) idempotencyKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
		s.problem(w, r, http.StatusBadRequest, "invalid Idempotency-Key", "the Idempotency-Key header is 1 to 255 printable ASCII characters",
			[]httpx.FieldProblem{{Field: "Idempotency-Key", Message: "1 to 255 printable ASCII characters"}})
		return "", false
	}
	return key, true
}

func (s *Server) idempotencyWindow() time.Duration {
	if s.IdempotencyWindow > 0 {
		return s.IdempotencyWindow
	}
	return 24 * time.Hour
}

// newJob is the job of a resolved submission: what the worker needs to
// forecast it as the caller asked, whoever asked, under key.
func newJob(r *http.Request, sent AsyncRequest, f soccer.Fixture, asOf time.Time, key string) store.Job {
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
	b := make([]byte, jobIDBytes)
	rand.Read(b)
	var owner string
	if k, ok := apikey.Caller(r.Context()); ok {
		owner = k.ID
	}
	return store.Job{ID: hex.EncodeToString(b), Request: body, Owner: owner, IdempotencyKey: key, RequestHash: requestHash(sent),
		CallbackURL: sent.CallbackURL}
}

// requestHash identifies a submission as the client sent it (not the
// resolved fixture, whose kick-off defaults to "now"), so a retry of the same
// body under the same Idempotency-Key matches.
func requestHash(sent AsyncRequest) string {
	b, _ := json.Marshal(sent)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

var errSubmitTimeout = errors.New("the store did not answer in time")

// keyReused is a batch whose Idempotency-Key already names another request.
type keyReused struct {
	index int
	job   string
}

func (e *keyReused) Error() string {
	return fmt.Sprintf("fixture %d: key used by job %s", e.index, e.job)
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
// Idempotency-Key is cancelled (a worker skips it): nobody learnt its ID,
// so nobody would read the result. (A keyed one is kept: the client's
// retry with the same key finds it.)
func (s *Server) record(ctx context.Context, job store.Job, window time.Duration) (store.Job, bool, error) {
	type recorded struct {
		job     store.Job
		created bool
	}
	res, err := durably(s, ctx, job.IdempotencyKey != "", []string{job.ID}, func(ctx context.Context) (recorded, bool, error) {
		if job.IdempotencyKey == "" {
			// Submissions arriving together share one INSERT (and one commit).
			_, err := s.creates.Do(ctx, job)
			return recorded{job, err == nil}, err == nil, err
		}
		j, created, err := s.Store.CreateJobOnce(context.WithoutCancel(ctx), job, window)
		return recorded{j, created}, created, err
	})
	if err != nil && res.job.ID == "" {
		res.job = job
	}
	return res.job, res.created, err
}

// durably runs write, which records the jobs ids (keyed: under an
// Idempotency-Key), waiting at most SubmitTimeout and no longer than the
// client stays; see record. write reports whether it created the jobs.
func durably[R any](s *Server, ctx context.Context, keyed bool, ids []string, write func(context.Context) (R, bool, error)) (R, error) {
	type result struct {
		r   R
		err error
	}
	// Whoever first moves state from pending decides: the write's result
	// goes to the handler, or the handler has given up and the write's
	// goroutine cleans up after it.
	const pending, answered, gaveUp = 0, 1, 2
	var state atomic.Int32
	done := make(chan result, 1)
	go func() {
		r, created, err := write(ctx)
		told := state.CompareAndSwap(pending, answered)
		if told {
			done <- result{r, err}
		}
		switch {
		case keyed:
		case err == nil && created && !told:
			for _, id := range ids {
				if _, err := s.Store.CancelJob(context.WithoutCancel(ctx), id); err != nil {
					s.Logger.Warn("cancel a job recorded after its submission was given up", "job", id, "error", err)
				}
			}
		case err != nil:
			// The write failed, but a connection lost after COMMIT fails
			// it too: the jobs may be recorded although the client hears
			// they were not. They are cancelled (if they are there) once
			// the store answers again.
			for _, id := range ids {
				s.doubts.add(id)
			}
		}
	}()
	timer := time.NewTimer(s.submitTimeout())
	defer timer.Stop()
	giveUp := func(err error) (R, error) {
		if state.CompareAndSwap(pending, gaveUp) {
			var zero R
			return zero, err
		}
		res := <-done // answered just now
		return res.r, res.err
	}
	select {
	case res := <-done:
		return res.r, res.err
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
func (s *Server) newJobGroup() *gather.Group[store.Job, struct{}] {
	return &gather.Group[store.Job, struct{}]{Max: 64, Concurrency: 2, Run: func(ctx context.Context, batch []store.Job) ([]struct{}, []error) {
		errs := make([]error, len(batch))
		if _, err := s.createJobs(ctx, batch); err != nil {
			for i, j := range batch {
				errs[i] = err
				if len(batch) > 1 {
					_, errs[i] = s.createJobs(ctx, []store.Job{j})
				}
			}
		}
		return make([]struct{}, len(batch)), errs
	}}
}

// createJobs records unkeyed jobs in one INSERT and returns them as
// created. Their queued views go to the cache, so pollers of unfinished
// jobs read the cache rather than the store, and the jobs go to the
// relay: handed, when the Handoff has room (they are created claimed for
// it, and the relay publishes them without taking them from the outbox);
// otherwise the relay is woken to take them from the outbox.
func (s *Server) createJobs(ctx context.Context, batch []store.Job) ([]store.Job, error) {
	claimed := s.Handoff != nil && s.Handoff.Reserve()
	lease := time.Duration(0)
	if claimed {
		lease = jobs.RelayLease
	}
	for i := range batch {
		batch[i].RelayLease = lease
	}
	if err := s.Store.CreateJobs(ctx, batch...); err != nil {
		if claimed {
			s.Handoff.Cancel()
		}
		return nil, err
	}
	now := time.Now().UTC()
	made := slices.Clone(batch)
	for i := range made {
		made[i].Status, made[i].CreatedAt, made[i].UpdatedAt = store.JobQueued, now, now
	}
	jobs.CacheJobs(ctx, s.Cache, s.Logger, made...)
	switch {
	case claimed:
		s.Handoff.Hand(made)
	case s.Kick != nil:
		s.Kick()
	}
	return made, nil
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
