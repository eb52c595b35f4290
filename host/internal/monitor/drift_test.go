package monitor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func normals(r *rand.Rand, n int, mean, sd float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + sd*r.NormFloat64()
	}
	return out
}

// Known values: W1 between {0,1} and {1,2} is 1 (reference sd 0.5 → 2);
// identical samples are distance 0, KS D 0, p 1.
func TestDriftStatisticsByHand(t *testing.T) {
	f := Compare("x", []float64{0, 1}, []float64{1, 2})
	if math.Abs(f.Wasserstein-2) > 1e-12 || math.Abs(f.KSStatistic-0.5) > 1e-12 {
		t.Fatalf("W %v, D %v; want 2 and 0.5", f.Wasserstein, f.KSStatistic)
	}
	same := Compare("x", []float64{1, 2, 3, 4}, []float64{4, 3, 2, 1})
	if same.Wasserstein != 0 || same.KSStatistic != 0 || same.KSPValue != 1 || same.PSI > 1e-9 || same.Drifted {
		t.Fatalf("identical samples: %+v", same)
	}
}

// Evidently's defaults: Wasserstein above 1,000 reference rows, KS below;
// a shift of half a standard deviation drifts, the same distribution does
// not; half the features drifting is dataset drift.
func TestDriftDefaults(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	big, small := normals(r, 5000, 0, 1), normals(r, 500, 0, 1)
	for _, c := range []struct {
		ref     []float64
		cur     []float64
		method  string
		drifted bool
	}{
		{big, normals(r, 1000, 0, 1), "wasserstein", false},
		{big, normals(r, 1000, 0.5, 1), "wasserstein", true},
		{small, normals(r, 300, 0, 1), "ks", false},
		{small, normals(r, 300, 0.5, 1), "ks", true},
	} {
		f := Compare("x", c.ref, c.cur)
		if f.Method != c.method || f.Drifted != c.drifted {
			t.Errorf("reference %d rows: %+v, want method %s drifted %v", len(c.ref), f, c.method, c.drifted)
		}
	}
	ref := [][]float64{}
	cur := [][]float64{}
	for i := 0; i < 2000; i++ {
		ref = append(ref, []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), r.NormFloat64()})
		cur = append(cur, []float64{r.NormFloat64() + 1, r.NormFloat64() + 1, r.NormFloat64(), r.NormFloat64()})
	}
	rep := CompareColumns([]string{"a", "b", "c", "d"}, ref, cur)
	if rep.Drifted != 2 || !rep.DatasetDrift {
		t.Fatalf("two of four features shifted: %+v", rep)
	}
}
