// Package loadtest is the HTTP load harness behind `make bench-http`: a
// closed-loop HTTP/1.1 client cheap enough to leave the cores to the server
// under test, the ceiling server (the least a Go server can do with the same
// request and response), and the runner that drives the real `soccerpredict
// serve` and the ceiling side by side, each in its own process, and reports
// throughput, latency, server CPU and RSS. Start with Run.
package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Body appends the request body of the n-th request of a client to dst.
type Body func(dst []byte, client, n int) []byte

// Result is what one closed-loop run measured.
type Result struct {
	Requests  int
	Errors    map[string]int // by status code or transport error
	Elapsed   time.Duration
	Latencies []time.Duration // sorted
}

// Rate is completed requests (errors included) per second.
func (r Result) Rate() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Percentile is the q-quantile (0..1) of the latencies.
func (r Result) Percentile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[min(len(r.Latencies)-1, int(q*float64(len(r.Latencies))))]
}

// add is r with o's requests, time, latencies and errors added; finish
// sorts the latencies again.
func (r Result) add(o Result) Result {
	r.Requests += o.Requests
	r.Elapsed += o.Elapsed
	r.Latencies = append(r.Latencies, o.Latencies...)
	if r.Errors == nil {
		r.Errors = map[string]int{}
	}
	for k, v := range o.Errors {
		r.Errors[k] += v
	}
	return r
}

func (r *Result) finish() { slices.Sort(r.Latencies) }

// ErrorCount is how many requests failed.
func (r Result) ErrorCount() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// Drive runs clients closed loops (each sends its next request when the
// previous answer is read) of POST path against addr for d, after a warm-up
// that is not counted. Each client keeps one keep-alive connection.
func Drive(ctx context.Context, addr, path string, clients int, warmup, d time.Duration, body Body, progress func(done int64)) (Result, error) {
	var (
		measuring atomic.Bool
		halt      atomic.Bool
		done      atomic.Int64
		mu        sync.Mutex
		res       = Result{Errors: map[string]int{}}
		wg        sync.WaitGroup
		firstErr  error
	)
	for c := range clients {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			halt.Store(true)
			wg.Wait()
			return Result{}, fmt.Errorf("connect to %s: %w", addr, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			lat := make([]time.Duration, 0, 1<<14)
			errs := map[string]int{}
			cl := &httpConn{conn: conn, r: bufio.NewReaderSize(conn, 16<<10), host: addr, path: path}
			var b []byte
			for n := 0; !halt.Load(); n++ {
				b = body(b[:0], c, n)
				started := time.Now()
				status, err := cl.post(b)
				took := time.Since(started)
				if !measuring.Load() {
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
					continue
				}
				done.Add(1)
				lat = append(lat, took)
				switch {
				case err != nil:
					errs["transport: "+err.Error()]++
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					if err := cl.redial(); err != nil {
						return
					}
				case status != 200:
					errs[strconv.Itoa(status)]++
				}
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			for k, v := range errs {
				res.Errors[k] += v
			}
			mu.Unlock()
		}()
	}
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return false
			case <-t.C:
				return true
			case <-tick.C:
				if progress != nil && measuring.Load() {
					progress(done.Load())
				}
			}
		}
	}
	ok := wait(warmup)
	started := time.Now()
	measuring.Store(true)
	if ok {
		ok = wait(d)
	}
	halt.Store(true)
	res.Elapsed = time.Since(started)
	wg.Wait()
	if !ok {
		return Result{}, ctx.Err()
	}
	if len(res.Latencies) == 0 {
		if firstErr != nil {
			return Result{}, fmt.Errorf("no request completed: %w", firstErr)
		}
		return Result{}, errors.New("no request completed")
	}
	res.Requests = len(res.Latencies)
	slices.Sort(res.Latencies)
	return res, nil
}

// httpConn is one keep-alive HTTP/1.1 connection that writes requests
// prepared by hand and reads only the status and the Content-Length body:
// what wrk does, so the client's own cost stays small beside the server's.
type httpConn struct {
	conn       net.Conn
	r          *bufio.Reader
	host, path string
	buf        []byte
	body       []byte
}

func (c *httpConn) redial() error {
	c.conn.Close()
	conn, err := net.Dial("tcp", c.host)
	if err != nil {
		return err
	}
	c.conn, c.r = conn, bufio.NewReaderSize(conn, 16<<10)
	return nil
}

func (c *httpConn) post(body []byte) (int, error) {
	b := c.buf[:0]
	b = append(b, "POST "...)
	b = append(b, c.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.buf = b
	if _, err := c.conn.Write(b); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(h, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", v)
			}
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length (chunked responses are not read)")
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	if _, err := io.ReadFull(c.r, c.body[:length]); err != nil {
		return 0, err
	}
	return status, nil
}
