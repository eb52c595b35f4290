package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/cache/memcache"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// A batch submission queues one job per fixture, in order, each forecast
// as the synchronous route forecasts it; a fixture that cannot be forecast
// refuses the whole batch, naming it.
func TestAsyncBatchSubmission(t *testing.T) {
	w := setup(t)
	srv := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store}).Handler())
	defer srv.Close()
	worker := &jobs.Worker{Store: w.store, Predictor: w.pred, Logger: hclog.NewNullLogger()}
	fixtures := []string{
		`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2031-08-16T14:00:00Z"}`,
		`{"home_team": "Liverpool", "away_team": "Everton", "competition": "E0", "kickoff": "2031-08-16T14:00:00Z", "odds": {"home": 1.5, "draw": 4.2, "away": 6.5}}`,
		`{"home_team": "Bayern Munich", "away_team": "Dortmund", "competition": "D1", "kickoff": "2024-08-24T13:30:00Z"}`,
	}
	batch := `{"fixtures": [` + strings.Join(fixtures, ",") + `]}`
	code, out := post(t, srv.URL+"/v1/predictions/async/batch", batch)
	if code != 202 {
		t.Fatalf("batch: %d %v", code, out)
	}
	list := out["jobs"].([]any)
	if len(list) != len(fixtures) {
		t.Fatalf("%d jobs for %d fixtures", len(list), len(fixtures))
	}
	for i, item := range list {
		job := item.(map[string]any)
		id := job["job_id"].(string)
		if job["status"] != "queued" || job["status_url"] != "/v1/jobs/"+id {
			t.Fatalf("job %d: %v", i, job)
		}
		if err := worker.Handle(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		_, view := get(t, srv.URL+"/v1/jobs/"+id)
		_, sync := post(t, srv.URL+"/v1/predictions", fixtures[i])
		if view["status"] != "succeeded" || toJSON(view["prediction"].(map[string]any)["probabilities"]) != toJSON(sync["probabilities"]) {
			t.Fatalf("fixture %d: job %v, sync %v", i, view, sync)
		}
	}

	bad := `{"fixtures": [` + fixtures[0] + `, {"home_team": "Arsenl", "away_team": "Chelsea", "competition": "E0"}]}`
	if code, out := post(t, srv.URL+"/v1/predictions/async/batch", bad); code != 422 || !strings.HasPrefix(fmt.Sprint(out["detail"]), "fixtures[1].home_team: unknown team") {
		t.Fatalf("a batch with an unknown team: %d %v", code, out)
	}
	if code, out := post(t, srv.URL+"/v1/predictions/async/batch", `{"fixtures": []}`); code != 422 {
		t.Fatalf("an empty batch: %d %v", code, out)
	}
	if code, out := post(t, srv.URL+"/v1/predictions/async/batch", `{"fixtures": [{"home_team": "Arsenal"}]}`); code != 422 || !strings.Contains(toJSON(out["errors"]), "fixtures[0].away_team") {
		t.Fatalf("a fixture without its teams: %d %v", code, out)
	}
}

// The same batch under the same Idempotency-Key answers the same jobs and
// queues nothing; another batch under it is a 409 that records nothing.
func TestAsyncBatchIdempotency(t *testing.T) {
	w := setup(t)
	srv := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store}).Handler())
	defer srv.Close()
	batch := `{"fixtures": [{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}, {"home_team": "Everton", "away_team": "Fulham", "competition": "E0"}]}`
	ids := func(out map[string]any) string {
		var s []string
		for _, j := range out["jobs"].([]any) {
			s = append(s, j.(map[string]any)["job_id"].(string))
		}
		return strings.Join(s, ",")
	}
	code, first := testbin.Send(t, "POST", srv.URL+"/v1/predictions/async/batch", batch, "Idempotency-Key", "batch-1")
	if code != 202 {
		t.Fatalf("first: %d %v", code, first)
	}
	code, again := testbin.Send(t, "POST", srv.URL+"/v1/predictions/async/batch", batch, "Idempotency-Key", "batch-1")
	if code != 200 || ids(again) != ids(first) {
		t.Fatalf("the same batch again: %d %v, want 200 with %s", code, again, ids(first))
	}
	other := strings.Replace(batch, "Fulham", "Brentford", 1)
	if code, out := testbin.Send(t, "POST", srv.URL+"/v1/predictions/async/batch", other, "Idempotency-Key", "batch-1"); code != 409 || !strings.Contains(fmt.Sprint(out["detail"]), "fixtures[0]") {
		t.Fatalf("another batch under the key: %d %v, want 409", code, out)
	}
}

// oneJob serves the API on cache c and submits one job, for a worker to run.
func oneJob(t *testing.T, c cache.Cache) (*Server, *httptest.Server, *jobs.Worker, string) {
	t.Helper()
	w := setup(t)
	s := &Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store, Cache: c}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	worker := &jobs.Worker{Store: w.store, Predictor: w.pred, Cache: c, Logger: hclog.NewNullLogger()}
	code, out := post(t, srv.URL+"/v1/predictions/async", `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`)
	if code != 202 {
		t.Fatalf("%d %v", code, out)
	}
	return s, srv, worker, out["job_id"].(string)
}

// GET /v1/jobs/{id}?wait= answers once the job has ended, or with its
// state when the wait is over; a bad wait is a 400.
func TestJobLongPoll(t *testing.T) {
	s, srv, worker, id := oneJob(t, memcache.New(1000))
	if code, v := get(t, srv.URL+"/v1/jobs/"+id+"?wait=0.05"); code != 200 || v["status"] != "queued" {
		t.Fatalf("a short wait on a queued job: %d %v", code, v)
	}
	answer := make(chan map[string]any, 1)
	go func() {
		_, v := get(t, srv.URL+"/v1/jobs/"+id+"?wait=20s")
		answer <- v
	}()
	for s.waiters.Load() == 0 { // the poll is waiting before the job is worked
		time.Sleep(time.Millisecond)
	}
	if !s.heard.has(jobs.CacheKey(id)) {
		t.Fatal("a waiting poll is not listening for its job's announcement")
	}
	if err := worker.Handle(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if v := <-answer; v["status"] != "succeeded" || v["prediction"] == nil {
		t.Fatalf("the long poll: %v, want the finished job", v)
	}
	if s.heard.has(jobs.CacheKey(id)) {
		t.Fatal("an answered poll still listens")
	}
	for _, bad := range []string{"soon", "-1", "21s", "NaN"} {
		if code, v := get(t, srv.URL+"/v1/jobs/"+id+"?wait="+bad); code != 400 || !strings.Contains(fmt.Sprint(v["detail"]), "wait") {
			t.Errorf("wait=%s: %d %v, want 400", bad, code, v)
		}
	}
}

// deafCache is a cache whose announcements never arrive (a dropped
// subscription), counting its reads.
type deafCache struct {
	cache.Cache
	gets atomic.Int64
}

func (c *deafCache) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Cache.Get(ctx, key)
}

func (c *deafCache) Subscribe(func([]string)) func() { return func() {} }

// A long poll whose announcement is lost still answers, from the job read
// every 500 ms, and reads the job no more than that: once before it waits
// (closing the gap between the caller's read and its registration), then
// on the timer.
func TestJobLongPollWithoutItsAnnouncement(t *testing.T) {
	c := &deafCache{Cache: memcache.New(1000)}
	s, srv, worker, id := oneJob(t, c)
	answer := make(chan map[string]any, 1)
	go func() {
		_, v := get(t, srv.URL+"/v1/jobs/"+id+"?wait=20s")
		answer <- v
	}()
	for s.waiters.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := worker.Handle(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if v := <-answer; v["status"] != "succeeded" {
		t.Fatalf("the long poll: %v, want the finished job", v)
	}
	// The caller's read, the read on registering, the first tick's.
	if n := c.gets.Load(); n > 4 {
		t.Fatalf("the poll read the job %d times in about 500 ms; an announcing cache is read on a 500 ms timer", n)
	}
}

// The waitlist wakes every poll of an announced key, once however often it
// is announced, and none of another key.
func TestWaitlistWakesThePollsOfAnAnnouncedKey(t *testing.T) {
	var w waitlist
	a1, done1 := w.add("job:a")
	a2, done2 := w.add("job:a")
	b, doneB := w.add("job:b")
	w.wake([]string{"job:a", "job:c"})
	w.wake([]string{"job:a"})
	for i, ch := range []<-chan struct{}{a1, a2} {
		select {
		case <-ch:
		default:
			t.Fatalf("waiter %d of job:a was not woken", i)
		}
	}
	select {
	case <-b:
		t.Fatal("job:b was woken by job:a's announcement")
	default:
	}
	done1()
	done2()
	doneB()
	if w.has("job:a") || w.has("job:b") || len(w.waiting) != 0 {
		t.Fatalf("waiters left after done: %v", w.waiting)
	}
}
