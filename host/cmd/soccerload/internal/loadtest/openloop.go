package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// OpenResult is what one open-loop run measured: requests were due at a
// fixed rate whatever the answers, and each latency runs from when its
// request was due, not from when a connection was free to send it. So a
// server that falls behind shows as growing latency (the queueing delay a
// user at that rate sees), not as a lower rate with flattering latencies —
// what a closed loop (Drive, wrk) reports at saturation.
type OpenResult struct {
	Rate      int // requests due per second
	Due       int // requests due in the measured time
	Completed int
	Errors    map[string]int
	Elapsed   time.Duration
	Latencies []time.Duration // sorted, from due time to answer
}

// Percentile is the q-quantile (0..1) of the latencies.
func (r OpenResult) Percentile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[min(len(r.Latencies)-1, int(q*float64(len(r.Latencies))))]
}

// DriveOpen sends POST path to addr at rate requests per second for d
// (after warmup, whose answers are not counted) over up to conns keep-alive
// connections. A request whose connection is not free waits for one, and
// that wait counts in its latency; requests still waiting when d ends are
// counted as due but not completed.
func DriveOpen(ctx context.Context, addr, path string, rate, conns int, warmup, d time.Duration, body Body) (OpenResult, error) {
	if rate <= 0 || conns <= 0 {
		return OpenResult{}, fmt.Errorf("rate %d and connections %d must be positive", rate, conns)
	}
	type job struct {
		due      time.Time
		n        int
		measured bool
	}
	queue := make(chan job, rate*int((warmup+d)/time.Second+2))
	var (
		mu  sync.Mutex
		res = OpenResult{Rate: rate, Errors: map[string]int{}}
		wg  sync.WaitGroup
	)
	stopAt := time.Now().Add(warmup + d + 30*time.Second) // how long a late request may still be answered
	for c := range conns {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return OpenResult{}, fmt.Errorf("connect to %s: %w", addr, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			cl := &httpConn{conn: conn, r: bufio.NewReaderSize(conn, 16<<10), host: addr, path: path}
			var b []byte
			var lat []time.Duration
			errs := map[string]int{}
			for j := range queue {
				if time.Now().After(stopAt) {
					continue // drain: too late to count
				}
				b = body(b[:0], c, j.n)
				status, err := cl.post(b)
				took := time.Since(j.due)
				if !j.measured {
					if err != nil && cl.redial() != nil {
						return
					}
					continue
				}
				switch {
				case err != nil:
					errs["transport: "+err.Error()]++
					if cl.redial() != nil {
						return
					}
				case status != 200:
					errs[strconv.Itoa(status)]++
				}
				lat = append(lat, took)
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			for k, v := range errs {
				res.Errors[k] += v
			}
			mu.Unlock()
		}()
	}
	// The schedule: request n is due at start + n/rate, sent as soon as a
	// connection is free.
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	total := int((warmup + d) / interval)
	warm := int(warmup / interval)
	for n := 0; n < total; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			close(queue)
			wg.Wait()
			return OpenResult{}, ctx.Err()
		}
		due := start.Add(time.Duration(n) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		queue <- job{due: due, n: n, measured: n >= warm}
	}
	res.Due = total - warm
	res.Elapsed = d
	close(queue)
	wg.Wait()
	res.Completed = len(res.Latencies)
	slices.Sort(res.Latencies)
	return res, nil
}

// RunOpen starts `soccerpredict serve` and measures it open-loop at each
// rate, uncached (every request a fixture never asked before).
func RunOpen(ctx context.Context, o Options, rates []int, conns int, out io.Writer) ([]OpenResult, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	serve, err := startServe(ctx, o, addr, nil, out)
	if err != nil {
		return nil, err
	}
	defer stopCmd(serve)
	pairs, err := realFixtures(ctx, "http://"+addr, o.Competitions)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "open loop: %d real fixtures, %d connections, %s per rate after %s warm-up\n\n", len(pairs), conns, o.Duration, o.Warmup)
	var results []OpenResult
	for i, rate := range rates {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "rate %d/s …\n", rate)
		}
		r, err := DriveOpen(ctx, addr, "/v1/predictions", rate, conns, o.Warmup, o.Duration, distinct(pairs, 100+i))
		if err != nil {
			return results, fmt.Errorf("rate %d: %w", rate, err)
		}
		results = append(results, r)
		r.printRow(out, time.Microsecond)
	}
	return results, nil
}

// printRow prints one rate's result as it finishes, latencies rounded to unit.
func (r OpenResult) printRow(out io.Writer, unit time.Duration) {
	fmt.Fprintf(out, "%6d/s due  %8d completed  p50 %9s  p99 %9s  p99.9 %9s  errors %d\n", r.Rate, r.Completed,
		r.Percentile(0.5).Round(unit), r.Percentile(0.99).Round(unit), r.Percentile(0.999).Round(unit), len(r.Errors))
}

// OpenTable writes open-loop results as a Markdown table.
func OpenTable(w io.Writer, rs []OpenResult) {
	host, _ := hostname()
	fmt.Fprintf(w, "%s, %s\n\n", host, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintln(w, "| rate due | completed | p50 | p99 | p99.9 | errors |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---|")
	for _, r := range rs {
		e := "0"
		if len(r.Errors) > 0 {
			e = statusText(r.Errors)
		}
		fmt.Fprintf(w, "| %d/s | %d of %d | %s | %s | %s | %s |\n", r.Rate, r.Completed, r.Due,
			r.Percentile(0.5).Round(time.Microsecond), r.Percentile(0.99).Round(time.Microsecond), r.Percentile(0.999).Round(time.Microsecond), e)
	}
}
