package loadtest

import (
	"net"
	"net/http"
	"testing"
	"time"
)

// serveWith answers every POST with 200 after delay, one request at a time
// per connection.
func serveWith(t *testing.T, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		w.Write([]byte(`{}`))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// Every request due is sent and counted; a server that keeps up completes
// them all.
func TestDriveOpenSendsOnSchedule(t *testing.T) {
	addr := serveWith(t, 0)
	r, err := DriveOpen(t.Context(), addr, "/", 400, 8, 100*time.Millisecond, time.Second, same(fixture{"A", "B", "E0"}))
	if err != nil {
		t.Fatal(err)
	}
	if r.Due != 400 || r.Completed != r.Due || len(r.Errors) != 0 {
		t.Fatalf("due %d, completed %d, errors %v; want 400 of 400", r.Due, r.Completed, r.Errors)
	}
}

// The open loop's point: a server slower than the rate (20 ms a request on
// one connection is 50/s, asked 100/s) shows as latency growing from when
// each request was due, not as a lower rate with short latencies, which is
// what a closed loop would report.
func TestDriveOpenCountsQueueingDelay(t *testing.T) {
	addr := serveWith(t, 20*time.Millisecond)
	r, err := DriveOpen(t.Context(), addr, "/", 100, 1, 0, time.Second, same(fixture{"A", "B", "E0"}))
	if err != nil {
		t.Fatal(err)
	}
	if r.Completed != r.Due || r.Percentile(0.99) < 500*time.Millisecond {
		t.Fatalf("completed %d of %d, p99 %v: the queueing delay is not in the latencies", r.Completed, r.Due, r.Percentile(0.99))
	}
}
