package loadtest

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Table writes rows as a Markdown table with each row's throughput as a
// share of the ceiling server's at the same client count.
func Table(w io.Writer, rows []Row) {
	ceiling := map[int]float64{}
	for _, r := range rows {
		if r.Target == "ceiling" {
			ceiling[r.Clients] = r.Result.Rate()
		}
	}
	host, _ := hostname()
	fmt.Fprintf(w, "%s, %d cores, %s, %s\n\n", host, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintln(w, "| target | clients | req/s | p50 | p99 | errors | server CPU (cores) | RSS host / plugins | share of ceiling |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|---:|---:|---:|")
	for _, r := range rows {
		share := "—"
		if c := ceiling[r.Clients]; c > 0 && r.Target != "ceiling" {
			share = fmt.Sprintf("%.0f%%", 100*r.Result.Rate()/c)
		}
		plugins := "—"
		if r.PluginRSS > 0 {
			plugins = mb(r.PluginRSS)
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %.2f | %s / %s | %s |\n", r.Target, r.Clients, r.Result.Rate(),
			dur(r.Result.Percentile(0.5)), dur(r.Result.Percentile(0.99)), errorsOf(r.Result), r.CPU, mb(r.HostRSS), plugins, share)
	}
}

func errorsOf(r Result) string {
	if len(r.Errors) == 0 {
		return "0"
	}
	var parts []string
	for k, v := range r.Errors {
		parts = append(parts, fmt.Sprintf("%d × %s", v, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func dur(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

func mb(b int64) string { return fmt.Sprintf("%d MB", b>>20) }
