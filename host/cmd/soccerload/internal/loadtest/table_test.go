package loadtest

import (
	"strings"
	"testing"
	"time"
)

// Rounds add up: requests, time, errors and every latency, sorted again.
func TestResultsOfRoundsAddUp(t *testing.T) {
	var sum Result
	for _, r := range []Result{
		{Requests: 3, Elapsed: time.Second, Latencies: []time.Duration{1, 5, 9}, Errors: map[string]int{"503": 1}},
		{Requests: 2, Elapsed: 2 * time.Second, Latencies: []time.Duration{2, 7}, Errors: map[string]int{"503": 2, "500": 1}},
	} {
		sum = sum.add(r)
	}
	sum.finish()
	if sum.Requests != 5 || sum.Elapsed != 3*time.Second || sum.Errors["503"] != 3 || sum.Errors["500"] != 1 {
		t.Fatalf("sum = %+v", sum)
	}
	if got := sum.Latencies; len(got) != 5 || got[0] != 1 || got[1] != 2 || got[4] != 9 {
		t.Fatalf("latencies %v, want 1 2 5 7 9", got)
	}
	if sum.Percentile(0.5) != 5 {
		t.Fatalf("p50 %v, want 5", sum.Percentile(0.5))
	}
}

// The share is of the totals; with rounds, its range pairs each round with
// the ceiling's same round, so a machine that slowed down in round 2 slowed
// both sides of that round's share.
func TestShareOfTheCeilingByRound(t *testing.T) {
	ceiling := Row{Target: "ceiling", Clients: 64, Result: Result{Requests: 60000, Elapsed: 3 * time.Second},
		PerRound: []float64{30000, 10000, 20000}}
	host := Row{Target: "uncached", Clients: 64, Result: Result{Requests: 30000, Elapsed: 3 * time.Second},
		PerRound: []float64{15000, 6000, 9000}}
	if got := shareOf(host, ceiling); got != "50% (45–60%)" {
		t.Fatalf("share %q, want 50%% (45–60%%)", got)
	}
	one := Row{Result: Result{Requests: 100, Elapsed: time.Second}, PerRound: []float64{100}}
	if got := shareOf(one, Row{Result: Result{Requests: 400, Elapsed: time.Second}, PerRound: []float64{400}}); got != "25%" {
		t.Fatalf("one round: share %q, want 25%%", got)
	}
	var b strings.Builder
	Table(&b, []Row{ceiling, host})
	if !strings.Contains(b.String(), "| uncached | 64 | 10000 |") || !strings.Contains(b.String(), "50% (45–60%) |") {
		t.Fatalf("table:\n%s", b.String())
	}
}
