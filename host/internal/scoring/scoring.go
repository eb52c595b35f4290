// Package scoring holds the forecast metrics, outcomes
// ordered H < D < A: log-loss, Brier score, ranked probability score and
// expected calibration error.
package scoring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Score summarises forecasts of n matches.
type Score struct {
	N       int     `json:"n"`
	LogLoss float64 `json:"log_loss"`
	Brier   float64 `json:"brier"`
	RPS     float64 `json:"rps"`
}

func (s Score) String() string {
	return fmt.Sprintf("n=%d log-loss=%.4f Brier=%.4f RPS=%.4f", s.N, s.LogLoss, s.Brier, s.RPS)
}

func onehot(r soccer.Result) ([3]float64, error) {
	switch r {
	case soccer.HomeWin:
		return [3]float64{1, 0, 0}, nil
	case soccer.Draw:
		return [3]float64{0, 1, 0}, nil
	case soccer.AwayWin:
		return [3]float64{0, 0, 1}, nil
	}
	return [3]float64{}, fmt.Errorf("result %q is not H, D or A", r)
}

// Evaluate scores forecasts against results.
func Evaluate(ps []soccer.Probabilities, rs []soccer.Result) (Score, error) {
	if len(ps) != len(rs) {
		return Score{}, fmt.Errorf("%d forecasts for %d results", len(ps), len(rs))
	}
	s := Score{N: len(ps)}
	for i, p := range ps {
		y, err := onehot(rs[i])
		if err != nil {
			return Score{}, err
		}
		q := [3]float64{p.Home, p.Draw, p.Away}
		for k := range 3 {
			if y[k] == 1 {
				s.LogLoss -= math.Log(math.Max(q[k], 1e-15))
			}
			s.Brier += (q[k] - y[k]) * (q[k] - y[k])
		}
		c1, c2 := q[0]-y[0], q[0]+q[1]-y[0]-y[1]
		s.RPS += 0.5 * (c1*c1 + c2*c2)
	}
	if s.N > 0 {
		n := float64(s.N)
		s.LogLoss, s.Brier, s.RPS = s.LogLoss/n, s.Brier/n, s.RPS/n
	}
	return s, nil
}

// ECE is the expected calibration error: every class's probabilities binned
// into bins equal-width bins, mean |observed frequency − mean forecast|
// weighted by bin size.
func ECE(ps []soccer.Probabilities, rs []soccer.Result, bins int) (float64, error) {
	type acc struct{ n, p, y float64 }
	table := make([]acc, 3*bins)
	for i, p := range ps {
		y, err := onehot(rs[i])
		if err != nil {
			return 0, err
		}
		for k, q := range [3]float64{p.Home, p.Draw, p.Away} {
			b := min(int(q*float64(bins)), bins-1)
			a := &table[k*bins+b]
			a.n++
			a.p += q
			a.y += y[k]
		}
	}
	var ece, total float64
	for _, a := range table {
		if a.n > 0 {
			ece += math.Abs(a.y/a.n-a.p/a.n) * a.n
			total += a.n
		}
	}
	if total == 0 {
		return 0, nil
	}
	return ece / total, nil
}

// Bin is one row of a reliability diagram: forecasts of every class pooled
// and binned by probability.
type Bin struct {
	Source        string  `json:"source,omitempty"`
	Bin           int     `json:"bin"`
	MeanPredicted float64 `json:"mean_predicted"`
	Observed      float64 `json:"observed"`
	Count         int     `json:"count"`
}

// Reliability bins forecasts (all three classes pooled) into bins
// equal-width bins; empty bins are left out.
func Reliability(ps []soccer.Probabilities, rs []soccer.Result, bins int) ([]Bin, error) {
	acc := make([]Bin, bins)
	for i, p := range ps {
		y, err := onehot(rs[i])
		if err != nil {
			return nil, err
		}
		for k, q := range [3]float64{p.Home, p.Draw, p.Away} {
			b := min(int(q*float64(bins)), bins-1)
			acc[b].Count++
			acc[b].MeanPredicted += q
			acc[b].Observed += y[k]
		}
	}
	var out []Bin
	for i, b := range acc {
		if b.Count == 0 {
			continue
		}
		n := float64(b.Count)
		out = append(out, Bin{Bin: i, MeanPredicted: b.MeanPredicted / n, Observed: b.Observed / n, Count: b.Count})
	}
	return out, nil
}

// PerMatch is each forecast's own log-loss and RPS, for paired comparisons.
func PerMatch(ps []soccer.Probabilities, rs []soccer.Result) (logLoss, rps []float64, err error) {
	if len(ps) != len(rs) {
		return nil, nil, fmt.Errorf("%d forecasts for %d results", len(ps), len(rs))
	}
	logLoss, rps = make([]float64, len(ps)), make([]float64, len(ps))
	for i := range ps {
		s, err := Evaluate(ps[i:i+1], rs[i:i+1])
		if err != nil {
			return nil, nil, err
		}
		logLoss[i], rps[i] = s.LogLoss, s.RPS
	}
	return logLoss, rps, nil
}

// Interval is a mean with its standard error and a 95% bootstrap interval.
type Interval struct {
	Mean   float64 `json:"mean"`
	StdErr float64 `json:"std_err"`
	Low    float64 `json:"low"`
	High   float64 `json:"high"`
}

// Contains reports whether x lies within the interval.
func (iv Interval) Contains(x float64) bool { return iv.Low <= x && x <= iv.High }

func (iv Interval) String() string {
	return fmt.Sprintf("%+.4f [%+.4f, %+.4f]", iv.Mean, iv.Low, iv.High)
}

// Bootstrap is the mean of xs with the 2.5th and 97.5th percentiles of the
// means of resamples (with replacement, the same size), from a fixed seed:
// the same numbers give the same interval.
func Bootstrap(xs []float64, resamples int, seed uint64) Interval {
	if len(xs) == 0 {
		return Interval{}
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	iv := Interval{Mean: sum / float64(len(xs))}
	if len(xs) > 1 {
		var ss float64
		for _, x := range xs {
			ss += (x - iv.Mean) * (x - iv.Mean)
		}
		iv.StdErr = math.Sqrt(ss / float64(len(xs)-1) / float64(len(xs)))
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	means := make([]float64, resamples)
	for b := range means {
		var s float64
		for range xs {
			s += xs[rng.IntN(len(xs))]
		}
		means[b] = s / float64(len(xs))
	}
	slices.Sort(means)
	iv.Low, iv.High = means[int(0.025*float64(resamples))], means[min(resamples-1, int(0.975*float64(resamples)))]
	return iv
}

// Calibration is how one outcome's mean forecast compares with how often it
// happened: Forecast and Observed are shares of the matches, Error is
// Forecast − Observed (above zero the outcome is over-predicted) and Z is
// Error in standard errors of the observed share under the forecasts
// (sqrt(Σ p(1−p))/n), so |Z| above 2 is more than chance.
type Calibration struct {
	Outcome  string  `json:"outcome"`
	Forecast float64 `json:"forecast"`
	Observed float64 `json:"observed"`
	Error    float64 `json:"error"`
	Z        float64 `json:"z"`
}

// CalibrateBinary is the calibration of yes/no forecasts (over 2.5 goals,
// both teams to score): the mean forecast against the share that happened,
// with the z-score of their difference.
func CalibrateBinary(outcome string, ps []float64, happened []bool) Calibration {
	var f, o, v float64
	for i, p := range ps {
		f += p
		v += p * (1 - p)
		if happened[i] {
			o++
		}
	}
	n := float64(max(len(ps), 1))
	c := Calibration{Outcome: outcome, Forecast: f / n, Observed: o / n}
	c.Error = c.Forecast - c.Observed
	if v > 0 {
		c.Z = (f - o) / math.Sqrt(v)
	}
	return c
}

// Calibrate is the calibration of each outcome, home, draw and away.
func Calibrate(ps []soccer.Probabilities, rs []soccer.Result) ([]Calibration, error) {
	if len(ps) != len(rs) || len(ps) == 0 {
		return nil, fmt.Errorf("%d forecasts for %d results", len(ps), len(rs))
	}
	var f, o, v [3]float64
	for i, p := range ps {
		y, err := onehot(rs[i])
		if err != nil {
			return nil, err
		}
		q := [3]float64{p.Home, p.Draw, p.Away}
		for k := range 3 {
			f[k] += q[k]
			o[k] += y[k]
			v[k] += q[k] * (1 - q[k])
		}
	}
	n := float64(len(ps))
	out := make([]Calibration, 3)
	for k, name := range []string{"home", "draw", "away"} {
		c := Calibration{Outcome: name, Forecast: f[k] / n, Observed: o[k] / n}
		c.Error = c.Forecast - c.Observed
		if v[k] > 0 {
			c.Z = (f[k] - o[k]) / math.Sqrt(v[k])
		}
		out[k] = c
	}
	return out, nil
}
