package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// MaxStreamJobs bounds the jobs one event stream follows: a batch
// submission's worth (MaxBatch).
const MaxStreamJobs = MaxBatch

// streamReread is how often an event stream reads its unfinished jobs from
// the store when a cache announces endings: only in case an announcement
// was lost. Without a cache it reads them on a delay growing from 10 ms to
// this.
const streamReread = 2 * time.Second

// jobEvents follows several jobs as server-sent events (GET
// /v1/jobs/events?ids=a,b,…&wait=20s): a "job" event when each job ends
// (its view, as GET /v1/jobs/{id} answers it; at once for a job that has
// already ended), an "unknown" event for an ID that names no job of the
// caller's, and last an "end" event listing the jobs still unfinished, once
// every job has ended or the wait (20 s unless given, at most 20 s) is
// over. A client follows the rest by asking again for those. One stream
// replaces a long poll per job: the way to wait for a batch submission.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) {
	if s.Store == nil {
		s.problem(w, r, http.StatusNotImplemented, "asynchronous predictions are not configured", "", nil)
		return
	}
	ids, bad := streamIDs(r)
	if bad != "" {
		s.problem(w, r, http.StatusBadRequest, "invalid ids", bad, []httpx.FieldProblem{{Field: "ids", Message: bad}})
		return
	}
	wait, werr := waitOf(r)
	if werr != "" {
		s.problem(w, r, http.StatusBadRequest, "invalid wait", "wait "+werr, []httpx.FieldProblem{{Field: "wait", Message: werr}})
		return
	}
	if !r.URL.Query().Has("wait") {
		wait = MaxWait
	}
	ctx := r.Context()
	pending := make(map[string]bool, len(ids))
	for _, id := range ids {
		pending[id] = true
	}
	// Registered before the first read, so that no ending falls between.
	var heard *waiter
	if wait > 0 {
		if s.waiters.Add(int64(len(ids))) > MaxWaiters {
			wait = 0 // as a long poll beyond MaxWaiters: what has ended, at once
		} else if s.Cache != nil {
			s.heard.listen(s.Cache)
			keys := make([]string, len(ids))
			for i, id := range ids {
				keys[i] = jobs.CacheKey(id)
			}
			wt, done := s.heard.addAll(keys)
			defer done()
			heard = wt
		}
		defer s.waiters.Add(-int64(len(ids)))
	}
	first, err := s.Store.Jobs(ctx, ids...)
	if err != nil {
		s.storeDown(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var buf []byte
	send := func() bool {
		if len(buf) == 0 {
			return true
		}
		_, err := w.Write(buf)
		buf = buf[:0]
		return err == nil && rc.Flush() == nil
	}
	ended := func(v jobs.View) {
		if pending[v.JobID] && final(v.Status) {
			delete(pending, v.JobID)
			b, _ := json.Marshal(v)
			buf = fmt.Appendf(buf, "event: job\nid: %s\ndata: %s\n\n", v.JobID, b)
		}
	}
	byID := make(map[string]store.Job, len(first))
	for _, j := range first {
		byID[j.ID] = j
	}
	for _, id := range ids { // in the order asked
		j, ok := byID[id]
		if !ok || !apikey.MayRead(r, j.Owner) {
			// Another key's job is as absent as one that never was.
			delete(pending, id)
			buf = fmt.Appendf(buf, "event: unknown\ndata: {\"job_id\":%q}\n\n", id)
			continue
		}
		ended(jobs.ViewOf(j))
	}
	if !send() {
		return
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	delay := streamReread
	if heard == nil {
		delay = 10 * time.Millisecond
	}
	tick := time.NewTimer(delay)
	defer tick.Stop()
	var woken <-chan struct{}
	if heard != nil {
		woken = heard.ch
	}
	for len(pending) > 0 && wait > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			wait = 0
			continue
		case <-woken:
			var ids []string
			for _, key := range heard.take() {
				if id := strings.TrimPrefix(key, jobs.CacheKey("")); pending[id] {
					ids = append(ids, id)
				}
			}
			if len(ids) > 0 {
				// One round trip for all the jobs heard of (a job that could
				// not be read is read again at the next tick).
				vs, _ := jobs.LookupMany(ctx, s.Store, s.Cache, ids...)
				for _, v := range vs {
					ended(v)
				}
			}
		case <-tick.C:
			if err := s.reread(ctx, pending, ended); err != nil && ctx.Err() == nil {
				s.Logger.Warn("job events: read the unfinished jobs", "jobs", len(pending), "error", err)
			}
			if heard == nil {
				delay = min(2*delay, streamReread)
			}
			tick.Reset(delay)
		}
		if !send() {
			return
		}
	}
	left := make([]string, 0, len(pending))
	for _, id := range ids {
		if pending[id] {
			left = append(left, id)
		}
	}
	b, _ := json.Marshal(struct {
		Pending []string `json:"pending"`
	}{left})
	buf = fmt.Appendf(buf, "event: end\ndata: %s\n\n", b)
	send()
}

// reread reads the pending jobs from the store and hands each to ended.
func (s *Server) reread(ctx context.Context, pending map[string]bool, ended func(jobs.View)) error {
	ids := make([]string, 0, len(pending))
	for id := range pending {
		ids = append(ids, id)
	}
	js, err := s.Store.Jobs(ctx, ids...)
	for _, j := range js {
		ended(jobs.ViewOf(j))
	}
	return err
}

// streamIDs reads the ids parameter: job IDs separated by commas, at least
// one and at most MaxStreamJobs, a repeated one followed once. A bad one is
// the reason it is bad.
func streamIDs(r *http.Request) ([]string, string) {
	raw := r.URL.Query().Get("ids")
	if raw == "" {
		return nil, "give the jobs to follow: ids=ID,ID,…"
	}
	var ids []string
	seen := map[string]bool{}
	for _, id := range strings.Split(raw, ",") {
		if !validJobID(id) {
			return nil, fmt.Sprintf("%q is not a job ID (%d hex digits)", truncate(id, 64), 2*jobIDBytes)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) > MaxStreamJobs {
		return nil, fmt.Sprintf("%d jobs; one stream follows at most %d", len(ids), MaxStreamJobs)
	}
	return ids, ""
}
