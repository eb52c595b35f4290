package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/cache/memcache"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
)

// event is one server-sent event.
type event struct {
	name, id string
	data     map[string]any
}

// readEvents reads a stream's events until it ends.
func readEvents(t *testing.T, url string) (int, string, []event) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []event
	var ev event
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.name != "" {
				out = append(out, ev)
			}
			ev = event{}
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data); err != nil {
				t.Fatalf("event data is not JSON: %s", line)
			}
		}
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), out
}

// A batch's jobs are followed on one stream: an event as each ends (at once
// for one already ended), "unknown" for an ID with no job, and an "end"
// event with nothing pending once all have ended; with a cache that
// announces endings, and with one that never does (the stream reads the
// store every streamReread), and with none.
func TestJobEvents(t *testing.T) {
	w := setup(t)
	for _, tc := range []struct {
		name  string
		cache cache.Cache
	}{{"announced", memcache.New(1000)}, {"announcements lost", &deafCache{Cache: memcache.New(1000)}}, {"no cache", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store}
			if tc.cache != nil {
				s.Cache = tc.cache
			}
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			worker := &jobs.Worker{Store: w.store, Predictor: w.pred, Cache: s.Cache, Logger: hclog.NewNullLogger()}
			code, out := post(t, srv.URL+"/v1/predictions/async/batch", `{"fixtures": [
				{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"},
				{"home_team": "Liverpool", "away_team": "Everton", "competition": "E0"},
				{"home_team": "Fulham", "away_team": "Brentford", "competition": "E0"}]}`)
			if code != 202 {
				t.Fatalf("%d %v", code, out)
			}
			var ids []string
			for _, j := range out["jobs"].([]any) {
				ids = append(ids, j.(map[string]any)["job_id"].(string))
			}
			if err := worker.Handle(context.Background(), ids[0]); err != nil { // ended before the stream
				t.Fatal(err)
			}
			unknown := strings.Repeat("ab", jobIDBytes)
			type result struct {
				code   int
				ctype  string
				events []event
			}
			got := make(chan result, 1)
			go func() {
				code, ctype, events := readEvents(t, srv.URL+"/v1/jobs/events?ids="+strings.Join(append(slices.Clone(ids), unknown, ids[1]), ","))
				got <- result{code, ctype, events}
			}()
			for s.waiters.Load() == 0 { // the stream is waiting
				time.Sleep(time.Millisecond)
			}
			for _, id := range ids[1:] {
				if err := worker.Handle(context.Background(), id); err != nil {
					t.Fatal(err)
				}
			}
			r := <-got
			if r.code != 200 || r.ctype != "text/event-stream" {
				t.Fatalf("%d %s, want 200 text/event-stream", r.code, r.ctype)
			}
			var ended []string
			for _, ev := range r.events[:len(r.events)-1] {
				switch ev.name {
				case "job":
					if ev.data["status"] != "succeeded" || ev.data["prediction"] == nil || ev.id != ev.data["job_id"] {
						t.Fatalf("a job event: %+v", ev)
					}
					ended = append(ended, ev.id)
				case "unknown":
					if ev.data["job_id"] != unknown {
						t.Fatalf("unknown: %+v", ev)
					}
				default:
					t.Fatalf("event %+v before the end", ev)
				}
			}
			if ended[0] != ids[0] || len(ended) != 3 || !slices.Contains(ended, ids[1]) || !slices.Contains(ended, ids[2]) {
				t.Fatalf("job events for %v, want %v, the one already ended first, each once", ended, ids)
			}
			last := r.events[len(r.events)-1]
			if last.name != "end" || len(last.data["pending"].([]any)) != 0 {
				t.Fatalf("the last event: %+v, want end with nothing pending", last)
			}
			if s.waiters.Load() != 0 || s.heard.has(jobs.CacheKey(ids[1])) {
				t.Fatal("a finished stream still waits")
			}
		})
	}
}

// A stream whose wait is over ends listing the unfinished jobs; bad ids
// are a 400 naming the ID.
func TestJobEventsEndAndRefuse(t *testing.T) {
	w := setup(t)
	s := &Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store, Cache: memcache.New(100)}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	code, out := post(t, srv.URL+"/v1/predictions/async", `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`)
	if code != 202 {
		t.Fatalf("%d %v", code, out)
	}
	id := out["job_id"].(string)
	for _, wait := range []string{"0", "0.05"} {
		_, _, events := readEvents(t, srv.URL+"/v1/jobs/events?wait="+wait+"&ids="+id)
		if len(events) != 1 || events[0].name != "end" || len(events[0].data["pending"].([]any)) != 1 || events[0].data["pending"].([]any)[0] != id {
			t.Fatalf("wait=%s on a queued job: %+v, want end with it pending", wait, events)
		}
	}
	_, ctype, events := readEvents(t, srv.URL+"/v1/jobs/events?wait=0&ids="+strings.Repeat(id+",", MaxStreamJobs)+id)
	if ctype != "text/event-stream" || len(events) != 1 || len(events[0].data["pending"].([]any)) != 1 {
		t.Fatalf("an ID repeated is one job: %s %+v", ctype, events)
	}
	tooMany := make([]string, MaxStreamJobs+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("%0*x", 2*jobIDBytes, i)
	}
	for query, want := range map[string]string{
		"":                                   "give the jobs",
		"?ids=" + id + ",zz":                 `"zz" is not a job ID`,
		"?ids=" + id + ",":                   `"" is not a job ID`,
		"?ids=" + strings.Join(tooMany, ","): "at most 1000",
		"?ids=" + id + "&wait=soon":          "wait",
	} {
		code, out := get(t, srv.URL+"/v1/jobs/events"+query)
		if code != 400 || !strings.Contains(fmt.Sprint(out["detail"]), want) {
			t.Errorf("%.40s…: %d %.200v, want 400 naming %q", query, code, out, want)
		}
	}
}

// Long polls and streams that wait hold no in-flight slot; a stream that
// will not wait, and anything else, does.
func TestWhatWaitsForJobs(t *testing.T) {
	for target, want := range map[string]bool{
		"/v1/jobs/abc?wait=10s":          true,
		"/v1/jobs/abc":                   false,
		"/v1/jobs/events?ids=a":          true,
		"/v1/jobs/events?ids=a&wait=5":   true,
		"/v1/jobs/events?ids=a&wait=0":   false,
		"/v1/jobs/events?ids=a&wait=bad": false,
		"/v1/predictions?wait=10s":       false,
	} {
		if got := waitingForJob(httptest.NewRequest(http.MethodGet, target, nil)); got != want {
			t.Errorf("GET %s waits: %v, want %v", target, got, want)
		}
	}
	if waitingForJob(httptest.NewRequest(http.MethodDelete, "/v1/jobs/abc?wait=10s", nil)) {
		t.Error("a DELETE waits")
	}
}
