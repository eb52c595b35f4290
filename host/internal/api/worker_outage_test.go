package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/queue/memqueue"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// flakyJobs is the store with its job writes refused while down is set:
// a PostgreSQL that went away under a worker.
type flakyJobs struct {
	store.Store
	down  atomic.Bool
	tries atomic.Int64
}

var errStoreDown = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (s *flakyJobs) StartJobs(ctx context.Context, ids ...store.JobStart) ([]store.Job, error) {
	if s.down.Load() {
		s.tries.Add(1)
		return nil, errStoreDown
	}
	return s.Store.StartJobs(ctx, ids...)
}

func (s *flakyJobs) FinishJobs(ctx context.Context, ends ...store.JobEnd) ([]store.Job, error) {
	if s.down.Load() {
		s.tries.Add(1)
		return nil, errStoreDown
	}
	return s.Store.FinishJobs(ctx, ends...)
}

// A store outage under a worker fails no job: the worker holds its
// deliveries and waits until the store answers, spends none of them, says
// so on Waiting (readiness), and then runs every job once.
func TestWorkerWaitsOutAStoreOutage(t *testing.T) {
	w := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &flakyJobs{Store: w.store}
	srv := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store}).Handler())
	defer srv.Close()
	const n = 40
	ids := make([]string, n)
	for i := range ids {
		code, out := post(t, srv.URL+"/v1/predictions/async",
			fmt.Sprintf(`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2024-09-%02dT15:00:00Z"}`, 1+i%28))
		if code != 202 {
			t.Fatalf("submit: %d %v", code, out)
		}
		ids[i] = out["job_id"].(string)
	}
	st.down.Store(true)
	q := memqueue.New(n)
	worker := &jobs.Worker{Store: st, Predictor: w.pred, Logger: hclog.NewNullLogger(), RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond}
	reaper := jobs.Reaper{Store: w.store, Logger: hclog.NewNullLogger()}
	go q.Consume(ctx, worker.Handle)
	go q.ConsumeDead(ctx, reaper.Handle)
	if err := q.Publish(ctx, ids...); err != nil {
		t.Fatal(err)
	}
	// Long enough for every delivery to have been spent many times over.
	deadline := time.Now().Add(10 * time.Second)
	for st.tries.Load() < 20*n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if dep, reason := worker.Waiting(); dep != "store" || !errors.Is(reason, errStoreDown) {
		t.Fatalf("while the store is down the worker says it waits for %q (%v), want the store and its error", dep, reason)
	}
	if dead := q.Dead(); len(dead) > 0 {
		t.Fatalf("%d jobs dead-lettered during a store outage", len(dead))
	}
	st.down.Store(false)
	for _, id := range ids {
		var j store.Job
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			var err error
			if j, err = w.store.Job(ctx, id); err != nil {
				t.Fatal(err)
			}
			if j.Status != store.JobQueued && j.Status != store.JobRunning {
				break
			}
		}
		if j.Status != store.JobSucceeded || j.Attempts != 1 {
			t.Fatalf("job %s after the outage: %s with %d attempts (%s), want succeeded in 1", id, j.Status, j.Attempts, j.Error)
		}
	}
	if dep, _ := worker.Waiting(); dep != "" {
		t.Fatalf("the worker still waits for %q after the store came back", dep)
	}
}

// slowJobs holds job creations until released, as a hung PostgreSQL would.
type slowJobs struct {
	store.Store
	release chan struct{}
	created chan string
}

func (s *slowJobs) CreateJobs(ctx context.Context, js ...store.Job) error {
	<-s.release
	err := s.Store.CreateJobs(ctx, js...)
	for _, j := range js {
		s.created <- j.ID
	}
	return err
}

// waitCancelled waits (up to 5 s) for job id to be cancelled in st; what
// names the job in the failure.
func waitCancelled(t *testing.T, st store.Store, id, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		j, err := st.Job(context.Background(), id)
		if err == nil && j.Status == store.JobCancelled {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s (%v), want cancelled", what, j.Status, err)
		}
	}
}

// A submission whose client gave up while the store hung is recorded when
// the store answers, but cancelled: nobody learnt its ID, so it is not run.
func TestAJobWhoseClientLeftIsNotRun(t *testing.T) {
	w := setup(t)
	st := &slowJobs{Store: w.store, release: make(chan struct{}), created: make(chan string, 1)}
	srv := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: st}).Handler())
	defer srv.Close()
	client := &http.Client{Timeout: 300 * time.Millisecond}
	_, err := client.Post(srv.URL+"/v1/predictions/async", "application/json",
		strings.NewReader(`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2024-10-05T15:00:00Z"}`))
	if err == nil {
		t.Fatal("the submission answered while the store hung")
	}
	time.Sleep(200 * time.Millisecond) // the server notices the closed connection
	close(st.release)
	id := <-st.created
	waitCancelled(t, w.store, id, "the job of a client that left")
	// A worker that gets it leaves it alone.
	worker := &jobs.Worker{Store: w.store, Predictor: w.pred, Logger: hclog.NewNullLogger()}
	if err := worker.Handle(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if j, _ := w.store.Job(context.Background(), id); j.Status != store.JobCancelled || j.Attempts != 0 {
		t.Fatalf("after a worker saw it: %s with %d attempts", j.Status, j.Attempts)
	}
}

// A store that accepts and never answers costs a submission SubmitTimeout,
// not as long as the store hangs: a 503 with Retry-After, while the store
// still holds the write. When the store answers, the job it recorded is
// cancelled (the client was told nothing was queued), so it never runs.
func TestASubmissionToAHungStoreIsRefusedInTime(t *testing.T) {
	w := setup(t)
	st := &slowJobs{Store: w.store, release: make(chan struct{}), created: make(chan string, 1)}
	srv := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: st, SubmitTimeout: 100 * time.Millisecond}).Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/predictions/async", "application/json",
		strings.NewReader(`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2024-10-05T15:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "within 100ms") {
		t.Fatalf("submission to a hung store: %d (Retry-After %q) %s; want 503 naming the timeout", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	close(st.release) // the store answers only now
	id := <-st.created
	waitCancelled(t, w.store, id, "the job recorded after its 503")
}

// lostStarts commits each start and then reports the connection lost, the
// first time: what a PostgreSQL connection cut between COMMIT and its answer
// looks like to the worker.
type lostStarts struct {
	store.Store
	lost atomic.Int64
}

func (s *lostStarts) StartJobs(ctx context.Context, starts ...store.JobStart) ([]store.Job, error) {
	jobs, err := s.Store.StartJobs(ctx, starts...)
	if err == nil && s.lost.Add(1) == 1 {
		return nil, errors.New("unexpected EOF")
	}
	return jobs, err
}

// A worker that retries a start whose answer was lost does not count a
// second attempt: attempts counts runs, not round trips (a PostgreSQL cut
// in the fault suite made jobs show attempts 2 without a second run).
func TestALostStartAnswerIsOneAttempt(t *testing.T) {
	w := setup(t)
	ctx := context.Background()
	srv := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store}).Handler())
	defer srv.Close()
	code, out := post(t, srv.URL+"/v1/predictions/async", `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2024-09-01T15:00:00Z"}`)
	if code != 202 {
		t.Fatalf("submit: %d %v", code, out)
	}
	id := out["job_id"].(string)
	st := &lostStarts{Store: w.store}
	worker := &jobs.Worker{Store: st, Predictor: w.pred, Logger: hclog.NewNullLogger(), RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}
	if err := worker.Handle(ctx, id); err != nil {
		t.Fatal(err)
	}
	if j, _ := w.store.Job(ctx, id); j.Status != store.JobSucceeded || j.Attempts != 1 || st.lost.Load() < 2 {
		t.Fatalf("job after a lost start answer: %s with %d attempts (%d starts); want succeeded in 1", j.Status, j.Attempts, st.lost.Load())
	}
	// A second delivery (another run) of a job still running is a second attempt.
	w.store.CreateJob(ctx, store.Job{ID: "redelivered", Request: json.RawMessage(`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`)})
	w.store.StartJobs(ctx, store.JobStart{ID: "redelivered", Run: "a worker that died"})
	if err := worker.Handle(ctx, "redelivered"); err != nil {
		t.Fatal(err)
	}
	if j, _ := w.store.Job(ctx, "redelivered"); j.Attempts != 2 {
		t.Fatalf("a redelivered job: %d attempts, want 2", j.Attempts)
	}
}

// committedButLost records jobs and then reports the connection lost, as a
// PostgreSQL cut between COMMIT and its answer looks to serve; with down
// set, reads fail too.
type committedButLost struct {
	store.Store
	down    atomic.Bool
	created chan string
}

func (s *committedButLost) CreateJobs(ctx context.Context, js ...store.Job) error {
	if err := s.Store.CreateJobs(ctx, js...); err != nil {
		return err
	}
	for _, j := range js {
		s.created <- j.ID
	}
	return errors.New("unexpected EOF")
}

func (s *committedButLost) Job(ctx context.Context, id string) (store.Job, error) {
	if s.down.Load() {
		return store.Job{}, errStoreDown
	}
	return s.Store.Job(ctx, id)
}

// A submission the client was told failed ("nothing was queued") does not
// run even when the store recorded it before the connection dropped: it is
// cancelled once the store answers. And a poll the store cannot answer is a
// 503 to ask again, not a 500.
func TestAFailedSubmissionDoesNotRun(t *testing.T) {
	w := setup(t)
	st := &committedButLost{Store: w.store, created: make(chan string, 1)}
	srv := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: st}).Handler())
	defer srv.Close()
	code, out := post(t, srv.URL+"/v1/predictions/async", `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2024-10-05T15:00:00Z"}`)
	if code != 503 {
		t.Fatalf("a submission whose write failed: %d %v, want 503", code, out)
	}
	id := <-st.created
	waitCancelled(t, w.store, id, "the job recorded although its submission failed")
	st.down.Store(true)
	resp, err := http.Get(srv.URL + "/v1/jobs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a poll while the store is down: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
