package monitor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// simulate runs the alarm over n per-match differences of mean mu and
// standard deviation sd (skewed like a log-loss difference: a normal mixed
// with a shifted exponential), runs times, and returns the share of runs
// that raised it by match `by`.
func simulate(a Alarm, mu, sd float64, n, by, runs int, seed uint64) float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	raised := 0
	deltas := make([]float64, n)
	for run := 0; run < runs; run++ {
		for i := range deltas {
			// Half the spread symmetric, half a right-skewed surprise term.
			z := r.NormFloat64() * sd * math.Sqrt(0.5)
			e := (r.ExpFloat64() - 1) * sd * math.Sqrt(0.5)
			deltas[i] = mu + z + e
		}
		if st := a.Run(deltas, nil); st.Raised && st.RaisedAt <= by {
			raised++
		}
	}
	return float64(raised) / float64(runs)
}

// The documented false-alarm rate: a model equal to the market (mean
// difference 0, per-match sd 0.11) raises no alarm over 1,000 matches in
// at least 95% of runs.
func TestAlarmFalseAlarmRate(t *testing.T) {
	rate := simulate(DefaultAlarm, 0, 0.11, 1000, 1000, 4000, 7)
	t.Logf("false alarms over 1,000 matches of a model equal to the market: %.1f%%", 100*rate)
	if rate > 0.05 {
		t.Fatalf("false-alarm rate %.3f over 1,000 matches, want at most 0.05", rate)
	}
}

// Detection, measured at per-match sd 0.11 (see Alarm for why 0.02
// within 150 matches in 90% of runs is out of any test's reach at a 5%
// false-alarm rate).
func TestAlarmDetection(t *testing.T) {
	for _, c := range []struct {
		mu       float64
		by       int
		atLeast  float64
		describe string
	}{
		{0.02, 150, 0.40, "0.02 worse, within 150"},
		{0.02, 300, 0.75, "0.02 worse, within 300"},
		{0.04, 150, 0.95, "0.04 worse, within 150"},
	} {
		rate := simulate(DefaultAlarm, c.mu, 0.11, c.by, c.by, 4000, 11)
		t.Logf("%s: raised in %.1f%% of runs", c.describe, 100*rate)
		if rate < c.atLeast {
			t.Errorf("%s: raised in %.3f of runs, want at least %.2f", c.describe, rate, c.atLeast)
		}
	}
}

// A model better than the market never raises the alarm.
func TestAlarmIsOneSided(t *testing.T) {
	if rate := simulate(DefaultAlarm, -0.02, 0.11, 1000, 1000, 1000, 5); rate > 0.001 {
		t.Fatalf("a better model raised the alarm in %.3f of runs", rate)
	}
}
