package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// A burst followed while it is submitted: every job is posted once and
// followed on event streams of at most followMax jobs, a job an end event
// lists as pending is followed again, and each job's latency runs from its
// submission to its event; failed jobs are counted.
func TestBurstFollowsJobsWhileSubmitting(t *testing.T) {
	var posts, streams, largest atomic.Int64
	var mu sync.Mutex
	asked := map[string]int{} // streams that named each job
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/predictions/async":
			id := fmt.Sprintf("j%d", posts.Add(1))
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"job_id": %q}`, id)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/jobs/events":
			ids := strings.Split(r.URL.Query().Get("ids"), ",")
			streams.Add(1)
			for n := largest.Load(); int64(len(ids)) > n && !largest.CompareAndSwap(n, int64(len(ids))); n = largest.Load() {
			}
			pending := []string{}
			for _, id := range ids {
				mu.Lock()
				asked[id]++
				first := asked[id] == 1
				mu.Unlock()
				n, _ := strconv.Atoi(strings.TrimPrefix(id, "j"))
				if first && n%3 == 0 { // not ended yet when its first stream ends
					pending = append(pending, id)
					continue
				}
				status := "succeeded"
				if n%7 == 0 {
					status = "failed"
				}
				fmt.Fprintf(w, "event: job\ndata: {\"job_id\": %q, \"status\": %q}\n\n", id, status)
			}
			end, _ := json.Marshal(map[string][]string{"pending": pending})
			fmt.Fprintf(w, "event: end\ndata: %s\n\n", end)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	const jobs = 500
	res, err := burst(context.Background(), AsyncOptions{Jobs: jobs, Clients: 32, Batch: 1, Follow: true}, srv.URL, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Jobs != jobs || posts.Load() != jobs || len(res.Latencies) != jobs {
		t.Fatalf("%d jobs, %d posts, %d latencies; want %d", res.Jobs, posts.Load(), len(res.Latencies), jobs)
	}
	if want := jobs / 7; res.Failed != want {
		t.Fatalf("%d failed, want %d", res.Failed, want)
	}
	for _, l := range res.Latencies {
		if l < 0 || l > res.Total {
			t.Fatalf("a latency of %v in a burst of %v", l, res.Total)
		}
	}
	if largest.Load() > followMax {
		t.Fatalf("a stream of %d jobs, over %d", largest.Load(), followMax)
	}
	for n := 1; n <= jobs; n++ {
		want := 1
		if n%3 == 0 {
			want = 2
		}
		if got := asked[fmt.Sprintf("j%d", n)]; got != want {
			t.Fatalf("job j%d named by %d streams, want %d", n, got, want)
		}
	}
	t.Logf("%d streams for %d jobs, the largest %d", streams.Load(), jobs, largest.Load())
}

// A follower whose stream fails says so, and a job never seen ended is an
// error, not a latency of zero.
func TestBurstFollowingFailsLoudly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"job_id": "x"}`)
			return
		}
		http.Error(w, "no streams here", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	_, err := burst(context.Background(), AsyncOptions{Jobs: 3, Clients: 2, Batch: 1, Follow: true}, srv.URL, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a failing stream: %v", err)
	}
}

// The default way of waiting polls the unfinished jobs round after round:
// a job still queued is asked about again, each job's latency runs to the
// poll that saw it ended, and every job that did not succeed (failed or
// cancelled) is counted, as the other ways count them.
func TestBurstPollsUnfinishedJobs(t *testing.T) {
	var posts atomic.Int64
	var mu sync.Mutex
	polls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/predictions/async" {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"job_id": "j%d"}`, posts.Add(1))
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/v1/jobs/")
		mu.Lock()
		polls[id]++
		asked := polls[id]
		mu.Unlock()
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "j"))
		status := "succeeded"
		switch {
		case n%2 == 0 && asked == 1:
			status = "queued"
		case n%5 == 0:
			status = "failed"
		case n%7 == 0:
			status = "cancelled"
		}
		fmt.Fprintf(w, `{"job_id": %q, "status": %q}`, id, status)
	}))
	defer srv.Close()

	const jobs = 210
	res, err := burst(context.Background(), AsyncOptions{Jobs: jobs, Clients: 8, Batch: 1}, srv.URL, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := jobs/5 + jobs/7 - jobs/35; res.Failed != want || len(res.Latencies) != jobs {
		t.Fatalf("%d failed, %d latencies; want %d and %d", res.Failed, len(res.Latencies), want, jobs)
	}
	for n := 1; n <= jobs; n++ {
		if want := 1 + (1 - n%2); polls[fmt.Sprintf("j%d", n)] != want {
			t.Fatalf("job j%d polled %d times, want %d", n, polls[fmt.Sprintf("j%d", n)], want)
		}
	}
}
