package loadtest

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Table writes rows as a Markdown table with each row's throughput as a
// share of the ceiling server's at the same client count; measured in
// rounds, the share also gives its range over the rounds.
func Table(w io.Writer, rows []Row) {
	ceiling := map[int]Row{}
	for _, r := range rows {
		if r.Target == "ceiling" {
			ceiling[r.Clients] = r
		}
	}
	host, _ := hostname()
	fmt.Fprintf(w, "%s, %d cores, %s, %s\n\n", host, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintln(w, "| target | clients | req/s | p50 | p99 | errors | server CPU (cores) | RSS host / plugins | share of ceiling |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|---:|---:|---:|")
	for _, r := range rows {
		share := "—"
		if c, ok := ceiling[r.Clients]; ok && r.Target != "ceiling" {
			share = shareOf(r, c)
		}
		plugins := "—"
		if r.PluginRSS > 0 {
			plugins = mb(r.PluginRSS)
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %.2f | %s / %s | %s |\n", r.Target, r.Clients, r.Result.Rate(),
			dur(r.Result.Percentile(0.5)), dur(r.Result.Percentile(0.99)), errorsOf(r.Result), r.CPU, mb(r.HostRSS), plugins, share)
	}
}

// shareOf is r's rate as a share of the ceiling's, and with more than one
// round the lowest and highest share of a round against the same round's
// ceiling.
func shareOf(r, ceiling Row) string {
	c := ceiling.Result.Rate()
	if c <= 0 {
		return "—"
	}
	s := fmt.Sprintf("%.0f%%", 100*r.Result.Rate()/c)
	if len(r.PerRound) < 2 || len(r.PerRound) != len(ceiling.PerRound) {
		return s
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, rate := range r.PerRound {
		if ceiling.PerRound[i] > 0 {
			lo, hi = min(lo, rate/ceiling.PerRound[i]), max(hi, rate/ceiling.PerRound[i])
		}
	}
	if lo > hi {
		return s
	}
	return fmt.Sprintf("%s (%.0f–%.0f%%)", s, 100*lo, 100*hi)
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
