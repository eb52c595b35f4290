package loadtest

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The plot is a PNG with one point per rate.
func TestWriteLatencyPlot(t *testing.T) {
	var rs []OpenResult
	for i, rate := range []int{100, 200, 400, 800} {
		r := OpenResult{Rate: rate, Due: rate * 8, Completed: rate * 8, Elapsed: 8 * time.Second}
		for k := range 100 {
			r.Latencies = append(r.Latencies, time.Duration((k+1)*(i+1)*(i+1))*time.Millisecond)
		}
		rs = append(rs, r)
	}
	path := filepath.Join(t.TempDir(), "open.png")
	if dir := os.Getenv("PLOT_DIR"); dir != "" {
		path = filepath.Join(dir, "open.png") // to look at it
	}
	if err := WriteLatencyPlot(path, "a test", rs); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if err := WriteLatencyPlot(path, "nothing", []OpenResult{{Rate: 10}}); err == nil {
		t.Fatal("a plot of nothing completed")
	}
}
