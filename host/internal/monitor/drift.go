package monitor

import (
	"math"
	"slices"
)

// Drift tests follow the defaults people know from Evidently: per numeric
// feature, the Wasserstein distance normalised by the reference's standard
// deviation, drifted above 0.1, when the reference has more than 1,000
// rows; the two-sample Kolmogorov–Smirnov test, drifted at p < 0.05, below
// that. PSI (10 reference-quantile bins) is reported beside. The dataset
// drifts when at least half of its features do.
const (
	WassersteinThreshold = 0.1
	KSAlpha              = 0.05
	// WassersteinMinRows: with more reference rows than this, the
	// Wasserstein distance decides; otherwise the KS test.
	WassersteinMinRows = 1000
	// DatasetDriftShare of drifted features makes the dataset drift.
	DatasetDriftShare = 0.5
)

// FeatureDrift is one feature's (or predicted probability's) drift.
type FeatureDrift struct {
	Feature string `json:"feature"`
	// Method is "wasserstein" or "ks", whichever decided Drifted.
	Method      string  `json:"method"`
	Wasserstein float64 `json:"wasserstein_normed"`
	KSStatistic float64 `json:"ks_statistic"`
	KSPValue    float64 `json:"ks_p_value"`
	PSI         float64 `json:"psi"`
	Drifted     bool    `json:"drifted"`
}

// DriftReport is a version's recent served rows against its reference.
type DriftReport struct {
	ReferenceRows int            `json:"reference_rows"`
	CurrentRows   int            `json:"current_rows"`
	Features      []FeatureDrift `json:"features"`
	Drifted       int            `json:"drifted_features"`
	Share         float64        `json:"drifted_share"`
	DatasetDrift  bool           `json:"dataset_drift"`
}

// CompareColumns tests each named column of current against reference
// (both row-major, one value per name).
func CompareColumns(names []string, reference, current [][]float64) DriftReport {
	rep := DriftReport{ReferenceRows: len(reference), CurrentRows: len(current), Features: []FeatureDrift{}}
	if len(reference) == 0 || len(current) == 0 {
		return rep
	}
	for j, name := range names {
		ref, cur := column(reference, j), column(current, j)
		if ref == nil || cur == nil {
			continue
		}
		rep.Features = append(rep.Features, Compare(name, ref, cur))
	}
	for _, f := range rep.Features {
		if f.Drifted {
			rep.Drifted++
		}
	}
	if len(rep.Features) > 0 {
		rep.Share = float64(rep.Drifted) / float64(len(rep.Features))
		rep.DatasetDrift = rep.Share >= DatasetDriftShare
	}
	return rep
}

func column(rows [][]float64, j int) []float64 {
	out := make([]float64, 0, len(rows))
	for _, r := range rows {
		if j >= len(r) {
			return nil
		}
		if !math.IsNaN(r[j]) && !math.IsInf(r[j], 0) {
			out = append(out, r[j])
		}
	}
	return out
}

// Compare tests one feature's current values against its reference values.
func Compare(name string, reference, current []float64) FeatureDrift {
	ref, cur := slices.Clone(reference), slices.Clone(current)
	slices.Sort(ref)
	slices.Sort(cur)
	f := FeatureDrift{Feature: name, Wasserstein: normedWasserstein(ref, cur), PSI: psi(ref, cur)}
	f.KSStatistic, f.KSPValue = ks(ref, cur)
	if len(ref) > WassersteinMinRows {
		f.Method, f.Drifted = "wasserstein", f.Wasserstein > WassersteinThreshold
	} else {
		f.Method, f.Drifted = "ks", f.KSPValue < KSAlpha
	}
	return f
}

// normedWasserstein is W1(ref, cur) / max(sd(ref), 0.001), both sorted
// (Evidently's normalisation: a constant reference does not divide by zero).
func normedWasserstein(ref, cur []float64) float64 {
	// W1 = ∫ |F_ref(x) − F_cur(x)| dx over the merged support.
	var w float64
	i, j := 0, 0
	prev := math.Min(ref[0], cur[0])
	for i < len(ref) || j < len(cur) {
		var x float64
		switch {
		case j >= len(cur) || (i < len(ref) && ref[i] <= cur[j]):
			x = ref[i]
		default:
			x = cur[j]
		}
		fr, fc := float64(i)/float64(len(ref)), float64(j)/float64(len(cur))
		w += math.Abs(fr-fc) * (x - prev)
		prev = x
		for i < len(ref) && ref[i] == x {
			i++
		}
		for j < len(cur) && cur[j] == x {
			j++
		}
	}
	return w / math.Max(stddev(ref), 0.001)
}

func stddev(xs []float64) float64 {
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(xs)))
}

// ks is the two-sample Kolmogorov–Smirnov statistic of two sorted samples
// and its asymptotic p-value (with Stephens' small-sample correction).
func ks(a, b []float64) (d, p float64) {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		x := math.Min(a[i], b[j])
		for i < len(a) && a[i] == x {
			i++
		}
		for j < len(b) && b[j] == x {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	ne := float64(len(a)) * float64(len(b)) / float64(len(a)+len(b))
	lambda := (math.Sqrt(ne) + 0.12 + 0.11/math.Sqrt(ne)) * d
	return d, kolmogorovQ(lambda)
}

// kolmogorovQ is P(K > λ) for the Kolmogorov distribution.
func kolmogorovQ(lambda float64) float64 {
	if lambda < 1e-3 {
		return 1
	}
	var sum float64
	for k := 1; k <= 100; k++ {
		term := 2 * math.Pow(-1, float64(k-1)) * math.Exp(-2*float64(k*k)*lambda*lambda)
		sum += term
		if math.Abs(term) < 1e-12 {
			break
		}
	}
	return math.Min(1, math.Max(0, sum))
}

// psi is the population stability index over ten bins at the reference's
// deciles (ties merged), each share floored at 1e-4.
func psi(ref, cur []float64) float64 {
	var edges []float64
	for q := 1; q < 10; q++ {
		e := ref[min(len(ref)-1, q*len(ref)/10)]
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	share := func(xs []float64) []float64 {
		out := make([]float64, len(edges)+1)
		for _, x := range xs {
			k, _ := slices.BinarySearch(edges, x)
			if k < len(edges) && edges[k] == x {
				k++ // right-closed bins: a value equal to an edge goes above it
			}
			out[k]++
		}
		for i := range out {
			out[i] = math.Max(out[i]/float64(len(xs)), 1e-4)
		}
		return out
	}
	r, c := share(ref), share(cur)
	var s float64
	for i := range r {
		s += (c[i] - r[i]) * math.Log(c[i]/r[i])
	}
	return s
}
