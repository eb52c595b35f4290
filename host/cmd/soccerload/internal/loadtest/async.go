package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// AsyncOptions say what RunAsync drives.
type AsyncOptions struct {
	// Host is the soccerpredict binary; Args go to every command it runs
	// (ingest, models train, serve, worker): configs and --set overrides.
	Host string
	Args []string
	// Workers is how many `soccerpredict worker` processes to start beside
	// serve (for queue.driver rabbitmq; 0 with the in-process queue, where
	// serve works the jobs itself).
	Workers int
	Jobs    int
	// Batch is the fixtures per submission: 1 posts each job on its own
	// (POST /v1/predictions/async), more post them together
	// (POST /v1/predictions/async/batch).
	Batch int
	// LongPoll waits for each job with GET /v1/jobs/{id}?wait= instead of
	// polling the unfinished ones round after round.
	LongPoll bool
	// Stream waits for each submission's jobs on one event stream
	// (GET /v1/jobs/events?ids=…), the way to wait for a batch.
	Stream bool
	// Follow waits for the jobs while the burst is submitted, as a client
	// listening for results does: followers take the jobs submitted so far
	// (up to followMax) onto one event stream each, and a job is done when
	// its event arrives. The other ways wait once every job is submitted.
	Follow bool
	// Clients submit the burst and then poll the jobs.
	Clients  int
	Progress io.Writer
}

// AsyncResult is one burst's outcome.
type AsyncResult struct {
	Jobs, Failed int
	Submit       time.Duration // time to submit the whole burst
	Total        time.Duration // from the first submission to the last job seen done
	Latencies    []time.Duration
}

// RunAsync prepares the store (ingest, a champion), starts serve and the
// workers, submits a burst of jobs as fast as Clients can, and waits for
// every job until it is done or failed (see burst).
func RunAsync(ctx context.Context, o AsyncOptions, out io.Writer) (AsyncResult, error) {
	base, stopAll, err := startAsync(ctx, o)
	if err != nil {
		return AsyncResult{}, err
	}
	defer stopAll()
	return burst(ctx, o, base, out)
}

// burst submits o.Jobs jobs to the server at base as fast as o.Clients
// can and waits for each: following them on event streams meanwhile
// (Follow), or once all are submitted on event streams (Stream), by
// long-polls (LongPoll) or by polling the unfinished ones round after round.
func burst(ctx context.Context, o AsyncOptions, base string, out io.Writer) (AsyncResult, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Clients}}
	ids := make([]string, o.Jobs)
	submitted := make([]time.Time, o.Jobs)
	var follow *followers
	if o.Follow {
		follow = startFollowers(ctx, o, client, base, ids)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	batch := max(o.Batch, 1)
	started := time.Now()
	for range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				first := int(next.Add(int64(batch))) - batch
				if first >= o.Jobs {
					return
				}
				last := min(first+batch, o.Jobs)
				fixtures := make([]string, 0, last-first)
				for i := first; i < last; i++ {
					fixtures = append(fixtures, jobFixture(2032, i))
				}
				now := time.Now()
				for i := first; i < last; i++ {
					submitted[i] = now
				}
				got, err := submitJobs(client, base, fixtures)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				copy(ids[first:last], got)
				follow.add(first, last)
			}
		}()
	}
	wg.Wait()
	follow.submitted()
	if err, _ := firstErr.Load().(error); err != nil {
		return AsyncResult{}, err
	}
	res := AsyncResult{Jobs: o.Jobs, Submit: time.Since(started)}
	fmt.Fprintf(out, "submitted %d jobs in %s (%.0f/s)\n", o.Jobs, res.Submit.Round(time.Millisecond), float64(o.Jobs)/res.Submit.Seconds())

	if o.Follow {
		doneAt, failed, err := follow.wait()
		if err != nil {
			return res, err
		}
		return res.finish(started, submitted, doneAt, failed), nil
	}
	if o.Stream {
		return streamAll(ctx, o, client, base, ids, submitted, res, started)
	}
	if o.LongPoll {
		return awaitAll(ctx, o, client, base, ids, submitted, res, started)
	}
	// Poll the oldest unfinished jobs, round after round, until none is left:
	// jobs finish roughly in order, and polling all 20,000 each round would
	// load the server more than the jobs do.
	const window = 512
	e := newEndings(o.Jobs, o.Progress)
	pending := make([]int, o.Jobs)
	for i := range pending {
		pending[i] = i
	}
	deadline := time.Now().Add(10 * time.Minute)
	for len(pending) > 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return res, fmt.Errorf("%d jobs still not done after 10 minutes", len(pending))
		}
		var mu sync.Mutex
		var still []int
		var cursor atomic.Int64
		for range o.Clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n := int(cursor.Add(1)) - 1
					if n >= len(pending) {
						return
					}
					if n >= window {
						mu.Lock()
						still = append(still, pending[n])
						mu.Unlock()
						continue
					}
					i := pending[n]
					resp, err := client.Get(base + "/v1/jobs/" + ids[i])
					status := ""
					if err == nil {
						var v struct {
							Status string `json:"status"`
						}
						json.NewDecoder(resp.Body).Decode(&v)
						resp.Body.Close()
						status = v.Status
					}
					switch status {
					case "succeeded", "failed", "cancelled":
						e.ended(i, status)
					default:
						mu.Lock()
						still = append(still, i)
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		slices.Sort(still)
		pending = still
		if len(pending) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	e.clear()
	return res.finish(started, submitted, e.doneAt, int(e.failed.Load())), nil
}

// startAsync prepares the store (ingest, a champion) and starts serve and
// the workers; it returns serve's base URL and a function that stops them.
func startAsync(ctx context.Context, o AsyncOptions) (string, func(), error) {
	for _, args := range [][]string{{"ingest"}, {"models", "train", "--if-no-champion"}} {
		cmd := exec.CommandContext(ctx, o.Host, append(args, o.Args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", nil, fmt.Errorf("soccerpredict %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	var procs []*exec.Cmd
	stopAll := func() {
		for _, p := range slices.Backward(procs) {
			stopCmd(p)
		}
	}
	for i := range o.Workers + 1 {
		args := []string{"worker"}
		if i == 0 {
			args = []string{"serve", "--addr", addr}
		}
		cmd := exec.CommandContext(ctx, o.Host, append(args, o.Args...)...)
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		if err := start(cmd); err != nil {
			stopAll()
			return "", nil, err
		}
		procs = append(procs, cmd)
	}
	if err := waitReady(ctx, "http://"+addr+"/readyz", 2*time.Minute); err != nil {
		stopAll()
		return "", nil, err
	}
	time.Sleep(2 * time.Second) // workers start their own plugins
	return "http://" + addr, stopAll, nil
}

// RunAsyncOpen measures jobs open loop: after RunAsync's set-up, for each
// rate, jobs fall due at that rate for d (after warmup, whose jobs are not
// counted), each POSTed on its own at its due time by one of Clients
// submitters (a job whose submitter is busy waits, and the wait counts) and
// then long-polled until it has ended; a job's latency runs from when it was
// due to when it was seen done (within the server's 50 ms check).
func RunAsyncOpen(ctx context.Context, o AsyncOptions, rates []int, warmup, d time.Duration, out io.Writer) ([]OpenResult, error) {
	base, stopAll, err := startAsync(ctx, o)
	if err != nil {
		return nil, err
	}
	defer stopAll()
	fmt.Fprintf(out, "async open loop: %d submitters, %s per rate after %s warm-up\n\n", o.Clients, d, warmup)
	var results []OpenResult
	var seq atomic.Int64 // each job a fixture never asked before
	for _, rate := range rates {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "rate %d jobs/s …\n", rate)
		}
		r, err := asyncOpenRate(ctx, base, o.Clients, rate, warmup, d, &seq)
		if err != nil {
			return results, fmt.Errorf("rate %d: %w", rate, err)
		}
		results = append(results, r)
		r.printRow(out, time.Millisecond)
	}
	return results, nil
}

// jobFixture is the n-th fixture of a run: Arsenal v Chelsea, n minutes into
// year, so every job is a fixture never asked before.
func jobFixture(year, n int) string {
	k := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	return fmt.Sprintf(`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": %q}`, k.Format(time.RFC3339))
}

// submitJobs queues fixtures (JSON bodies) and returns their job IDs in
// order: one on its own through POST /v1/predictions/async, several
// together through POST /v1/predictions/async/batch.
func submitJobs(client *http.Client, base string, fixtures []string) ([]string, error) {
	url, body := base+"/v1/predictions/async", fixtures[0]
	if len(fixtures) > 1 {
		url, body = base+"/v1/predictions/async/batch", `{"fixtures": [`+strings.Join(fixtures, ",")+`]}`
	}
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("submit: %w", err)
	}
	defer resp.Body.Close()
	var r struct {
		JobID string `json:"job_id"`
		Jobs  []struct {
			JobID string `json:"job_id"`
		} `json:"jobs"`
	}
	json.NewDecoder(resp.Body).Decode(&r)
	if resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("submit: status %d", resp.StatusCode)
	}
	if len(fixtures) == 1 {
		return []string{r.JobID}, nil
	}
	if len(r.Jobs) != len(fixtures) {
		return nil, fmt.Errorf("submit: %d jobs for %d fixtures", len(r.Jobs), len(fixtures))
	}
	ids := make([]string, len(r.Jobs))
	for i, j := range r.Jobs {
		ids[i] = j.JobID
	}
	return ids, nil
}

// awaitJob long-polls a job until it has ended and returns its final status.
func awaitJob(client *http.Client, base, id string) (string, error) {
	for {
		resp, err := client.Get(base + "/v1/jobs/" + id + "?wait=20s")
		if err != nil {
			return "", err
		}
		var v struct {
			Status string `json:"status"`
		}
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		switch v.Status {
		case "succeeded", "failed", "cancelled":
			return v.Status, nil
		}
	}
}

// asyncPollers is how many jobs asyncOpenRate waits for at once, oldest first.
const asyncPollers = 256

func asyncOpenRate(ctx context.Context, base string, submitters, rate int, warmup, d time.Duration, seq *atomic.Int64) (OpenResult, error) {
	type job struct {
		due      time.Time
		id       string
		measured bool
	}
	total := int(float64(rate) * (warmup + d).Seconds())
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: submitters + asyncPollers}}
	due, submitted := make(chan job, total), make(chan job, total)
	res := OpenResult{Rate: rate, Errors: map[string]int{}, Elapsed: d}
	var mu sync.Mutex
	failed := func(what string) {
		mu.Lock()
		res.Errors[what]++
		mu.Unlock()
	}
	var subs, polls sync.WaitGroup
	for range submitters {
		subs.Add(1)
		go func() {
			defer subs.Done()
			for j := range due {
				got, err := submitJobs(client, base, []string{jobFixture(2033, int(seq.Add(1)))})
				if err != nil {
					failed(err.Error())
					continue
				}
				j.id = got[0]
				submitted <- j
			}
		}()
	}
	for range asyncPollers {
		polls.Add(1)
		go func() {
			defer polls.Done()
			for j := range submitted {
				status, err := awaitJob(client, base, j.id)
				if err != nil {
					failed("poll: " + err.Error())
					continue
				}
				if !j.measured {
					continue
				}
				lat := time.Since(j.due)
				mu.Lock()
				res.Completed++
				res.Latencies = append(res.Latencies, lat)
				if status != "succeeded" {
					res.Errors["job "+status]++
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now().Add(50 * time.Millisecond)
	for i := range total {
		at := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
		if wait := time.Until(at); wait > 0 {
			select {
			case <-ctx.Done():
				close(due)
				return res, ctx.Err()
			case <-time.After(wait):
			}
		}
		measured := at.Sub(start) >= warmup
		if measured {
			res.Due++
		}
		due <- job{due: at, measured: measured}
	}
	close(due)
	subs.Wait()
	close(submitted)
	polls.Wait()
	slices.Sort(res.Latencies)
	return res, nil
}

// finish fills in the latencies and the total from when each job was
// submitted and seen done.
func (r AsyncResult) finish(started time.Time, submitted, doneAt []time.Time, failed int) AsyncResult {
	last := started
	for i := range doneAt {
		r.Latencies = append(r.Latencies, doneAt[i].Sub(submitted[i]))
		if doneAt[i].After(last) {
			last = doneAt[i]
		}
	}
	slices.Sort(r.Latencies)
	r.Total, r.Failed = last.Sub(started), failed
	return r
}

// awaitAll long-polls every job, oldest first, Clients at a time: each
// answer comes when its job has ended (the server checks every 50 ms at
// most), so no client asks about a job again and again.
func awaitAll(ctx context.Context, o AsyncOptions, client *http.Client, base string, ids []string, submitted []time.Time, res AsyncResult, started time.Time) (AsyncResult, error) {
	return waitAll(ctx, o, ids, 1, submitted, res, started, func(first, _ int, ended func(int, string)) error {
		status, err := awaitJob(client, base, ids[first])
		if err == nil {
			ended(first, status)
		}
		return err
	})
}

// streamAll follows each submission's jobs (Batch of them) on one event
// stream, Clients streams at a time, asking again for the jobs an "end"
// event lists as unfinished.
func streamAll(ctx context.Context, o AsyncOptions, client *http.Client, base string, ids []string, submitted []time.Time, res AsyncResult, started time.Time) (AsyncResult, error) {
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	return waitAll(ctx, o, ids, max(o.Batch, 1), submitted, res, started, func(first, last int, ended func(int, string)) error {
		pending := ids[first:last]
		for len(pending) > 0 && ctx.Err() == nil {
			var err error
			if pending, err = followJobs(client, base, pending, func(id, status string) { ended(index[id], status) }); err != nil {
				return err
			}
		}
		return nil
	})
}

// waitAll hands the jobs, step at a time and oldest first, to wait on
// Clients goroutines; wait calls ended for each of ids[first:last] as it
// ends. The first error stops them all.
func waitAll(ctx context.Context, o AsyncOptions, ids []string, step int, submitted []time.Time, res AsyncResult, started time.Time,
	wait func(first, last int, ended func(i int, status string)) error) (AsyncResult, error) {
	e := newEndings(len(ids), o.Progress)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				first := int(next.Add(int64(step))) - step
				if first >= len(ids) {
					return
				}
				if err := wait(first, min(first+step, len(ids)), e.ended); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	e.clear()
	if err, _ := firstErr.Load().(error); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res.finish(started, submitted, e.doneAt, int(e.failed.Load())), nil
}

// endings records when each job of a burst was seen ended and counts
// those that did not succeed, showing how many have ended on progress.
type endings struct {
	doneAt           []time.Time
	failed, finished atomic.Int64
	progress         io.Writer
}

func newEndings(jobs int, progress io.Writer) *endings {
	return &endings{doneAt: make([]time.Time, jobs), progress: progress}
}

// ended records job i's end with its final status.
func (e *endings) ended(i int, status string) {
	e.doneAt[i] = time.Now()
	if status != "succeeded" {
		e.failed.Add(1)
	}
	if n := e.finished.Add(1); e.progress != nil && n%500 == 0 {
		fmt.Fprintf(e.progress, "\r%d of %d jobs finished", n, len(e.doneAt))
	}
}

// clear takes the progress line away.
func (e *endings) clear() {
	if e.progress != nil {
		fmt.Fprint(e.progress, "\r\033[K")
	}
}

// followMax bounds the jobs a follower takes onto one event stream, and
// followGather is how long it waits for more after the first.
const (
	followMax    = 100
	followGather = 10 * time.Millisecond
)

// followers wait for jobs while they are submitted (AsyncOptions.Follow):
// Clients/16 of them (at least one), each taking the jobs submitted so far,
// up to followMax, onto one event stream, and again once they have ended.
type followers struct {
	*endings
	ids   []string
	queue chan int
	wg    sync.WaitGroup
	err   atomic.Value
}

func startFollowers(ctx context.Context, o AsyncOptions, client *http.Client, base string, ids []string) *followers {
	f := &followers{endings: newEndings(len(ids), o.Progress), ids: ids, queue: make(chan int, len(ids))}
	for range max(o.Clients/16, 1) {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for ctx.Err() == nil {
				chunk := f.take()
				if len(chunk) == 0 {
					return
				}
				index := make(map[string]int, len(chunk))
				pending := make([]string, len(chunk))
				for k, i := range chunk {
					index[ids[i]], pending[k] = i, ids[i]
				}
				for len(pending) > 0 && ctx.Err() == nil {
					var err error
					if pending, err = followJobs(client, base, pending, func(id, status string) { f.ended(index[id], status) }); err != nil {
						f.err.CompareAndSwap(nil, err)
						return
					}
				}
			}
		}()
	}
	return f
}

// take waits for a submitted job, then gathers those submitted within
// followGather, up to followMax; none: every job is taken.
func (f *followers) take() []int {
	i, ok := <-f.queue
	if !ok {
		return nil
	}
	chunk := []int{i}
	gather := time.NewTimer(followGather)
	defer gather.Stop()
	for len(chunk) < followMax {
		select {
		case i, ok := <-f.queue:
			if !ok {
				return chunk
			}
			chunk = append(chunk, i)
		case <-gather.C:
			return chunk
		}
	}
	return chunk
}

// add hands the jobs ids[first:last], just submitted, to the followers.
func (f *followers) add(first, last int) {
	if f == nil {
		return
	}
	for i := first; i < last; i++ {
		f.queue <- i // never blocks: the queue holds every job
	}
}

// submitted says no more jobs come.
func (f *followers) submitted() {
	if f != nil {
		close(f.queue)
	}
}

// wait waits for the followers: when each job was seen ended, how many
// did not succeed, and the first error (a follower that failed leaves its
// jobs unseen).
func (f *followers) wait() ([]time.Time, int, error) {
	f.wg.Wait()
	f.clear()
	if err, _ := f.err.Load().(error); err != nil {
		return nil, 0, err
	}
	for i, at := range f.doneAt {
		if at.IsZero() {
			return nil, 0, fmt.Errorf("job %s was never seen ended", f.ids[i])
		}
	}
	return f.doneAt, int(f.failed.Load()), nil
}

// followJobs reads one event stream of ids, calling ended for each job
// event, and returns the IDs its end event lists as unfinished.
func followJobs(client *http.Client, base string, ids []string, ended func(id, status string)) ([]string, error) {
	resp, err := client.Get(base + "/v1/jobs/events?ids=" + strings.Join(ids, ","))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET /v1/jobs/events: %s: %s", resp.Status, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	name := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := []byte(strings.TrimPrefix(line, "data: "))
			switch name {
			case "job":
				var v struct {
					ID     string `json:"job_id"`
					Status string `json:"status"`
				}
				if err := json.Unmarshal(data, &v); err != nil {
					return nil, fmt.Errorf("a job event: %w", err)
				}
				ended(v.ID, v.Status)
			case "unknown":
				return nil, fmt.Errorf("the server knows no job %s", data)
			case "end":
				var end struct {
					Pending []string `json:"pending"`
				}
				if err := json.Unmarshal(data, &end); err != nil {
					return nil, fmt.Errorf("the end event: %w", err)
				}
				return end.Pending, nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("the event stream of %d jobs ended without an end event", len(ids))
}

// Report is one line for docs/benchmarks.md.
func (r AsyncResult) Report() string {
	p := func(q float64) time.Duration {
		return r.Latencies[min(len(r.Latencies)-1, int(q*float64(len(r.Latencies))))]
	}
	return fmt.Sprintf("%d jobs (%d failed): %.0f jobs/s end to end (all done %s after the first submission); submit→done p50 %s, p99 %s",
		r.Jobs, r.Failed, float64(r.Jobs)/r.Total.Seconds(), r.Total.Round(time.Millisecond), p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond))
}
