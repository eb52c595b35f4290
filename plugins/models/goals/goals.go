// Package goals is a goals model: a bivariate goals forecast in the manner
// of Dixon and Coles (1997), with the teams' strengths taken from the feature
// rows rather than from one parameter per team, so it serves any fixture the
// feature plugin can describe. Home and away goals are Poisson with rates
//
//	log λ = a_home + w_home·x      log μ = a_away + w_away·x
//
// (x the standardised feature row), fitted by penalised, time-weighted
// maximum likelihood: a match played half_life_days before the newest one
// counts half. Dixon and Coles' correction τ(h, a; λ, μ, ρ) then moves
// probability between the low scores 0-0, 1-0, 0-1 and 1-1, which
// independent Poisson goals get wrong (too few draws); ρ is fitted on the
// same weighted likelihood. Every market follows from the one score matrix:
// home/draw/away, over/under 2.5 goals, both teams to score, and the
// likeliest scorelines.
package goals

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Format names the artifact's layout.
const Format = "soccerpredict-goals/1"

// Params are the trainer's hyper-parameters (model.params).
type Params struct {
	// Algorithm is "dixon-coles" (or left out): the host names the model
	// goals-dixon-coles from it.
	Algorithm string `json:"algorithm"`
	// L2 penalises the feature weights (not the intercepts) of each rate,
	// per unit of the standardised features, against the mean log-likelihood.
	L2 float64 `json:"l2"`
	// HalfLifeDays is how old a match is, before the newest trained one, when
	// it counts half; 0 weights every match alike.
	HalfLifeDays float64 `json:"half_life_days"`
	// MaxGoals bounds each side's goals in the score matrix.
	MaxGoals int `json:"max_goals"`
	// Scorelines is how many likeliest scores a forecast names.
	Scorelines int `json:"scorelines"`
	// DixonColes fits the low-score correction ρ; false keeps ρ = 0
	// (independent Poisson goals).
	DixonColes bool `json:"dixon_coles"`
}

// DefaultParams are used for every key left out.
func DefaultParams() Params {
	return Params{L2: 1e-3, HalfLifeDays: 730, MaxGoals: 10, Scorelines: 5, DixonColes: true}
}

// otherTrainers are model.params keys of the logistic trainers that a
// configuration shared between model plugins may carry; the goals model
// does not use them and says so in its log.
var otherTrainers = []string{"l2_grid", "l2_rule", "l2_groups", "intercept", "offsets", "unpenalized"}

// Artifact is a fitted goals model.
type Artifact struct {
	Format     string    `json:"format"`
	Columns    []string  `json:"columns"`
	Mean       []float64 `json:"mean"`
	Scale      []float64 `json:"scale"`
	Home       Rate      `json:"home"`
	Away       Rate      `json:"away"`
	Rho        float64   `json:"rho"`
	MaxGoals   int       `json:"max_goals"`
	Scorelines int       `json:"scorelines"`
}

// Rate is one side's log-linear goal rate.
type Rate struct {
	Intercept float64   `json:"intercept"`
	Weights   []float64 `json:"weights"`
}

// Model is the plugin's model runtime and trainer.
type Model struct {
	logger interface{ Warn(string, ...any) }
	mu     sync.RWMutex
	art    *Artifact
}

// New is the plugin's factory.
func New(_ context.Context, env plugin.Env) (model.Model, error) {
	return &Model{logger: env.Logger}, nil
}

// Describe implements model.Model.
func (m *Model) Describe(context.Context) (model.Description, error) {
	return model.Description{Name: "goals", Runtime: "Dixon-Coles goals model (pure Go)", Trainer: true}, nil
}

// Load implements model.Model.
func (m *Model) Load(_ context.Context, req model.LoadRequest) error {
	var a Artifact
	dec := json.NewDecoder(bytes.NewReader(req.Artifact))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil || a.Format != Format {
		return fmt.Errorf("%w: the artifact is not a goals model (%s): %v", plugin.ErrInvalid, Format, err)
	}
	k := len(a.Columns)
	if len(a.Mean) != k || len(a.Scale) != k || len(a.Home.Weights) != k || len(a.Away.Weights) != k || a.MaxGoals < 3 || a.Scorelines < 0 {
		return fmt.Errorf("%w: goals artifact: %d columns but %d means, %d scales, %d and %d weights, max_goals %d",
			plugin.ErrInvalid, k, len(a.Mean), len(a.Scale), len(a.Home.Weights), len(a.Away.Weights), a.MaxGoals)
	}
	if len(req.Signature.Inputs) != k {
		return fmt.Errorf("%w: the signature has %d inputs, the goals model %d", plugin.ErrInvalid, len(req.Signature.Inputs), k)
	}
	for i, c := range req.Signature.Inputs {
		if c.Name != a.Columns[i] {
			return fmt.Errorf("%w: input %d is %q in the signature, %q in the goals model", plugin.ErrInvalid, i, c.Name, a.Columns[i])
		}
	}
	m.mu.Lock()
	m.art = &a
	m.mu.Unlock()
	return nil
}

// Predict implements model.Model: home/draw/away and the goal markets.
func (m *Model) Predict(_ context.Context, req model.PredictRequest) (model.PredictResponse, error) {
	m.mu.RLock()
	a := m.art
	m.mu.RUnlock()
	if a == nil {
		return model.PredictResponse{}, fmt.Errorf("%w: no goals model is loaded", plugin.ErrNotReady)
	}
	out := model.PredictResponse{Probabilities: make([]soccer.Probabilities, len(req.Rows)), Markets: make([]soccer.GoalMarkets, len(req.Rows))}
	grid := make([]float64, (a.MaxGoals+1)*(a.MaxGoals+1))
	for i, row := range req.Rows {
		if len(row) != len(a.Columns) {
			return model.PredictResponse{}, fmt.Errorf("%w: row %d has %d values, the model takes %d", plugin.ErrInvalid, i, len(row), len(a.Columns))
		}
		lambda, mu := a.rates(row)
		out.Probabilities[i], out.Markets[i] = a.markets(lambda, mu, grid)
	}
	return out, nil
}

// rates are a row's expected home and away goals.
func (a *Artifact) rates(row []float64) (float64, float64) {
	h, w := a.Home.Intercept, a.Away.Intercept
	for j, v := range row {
		z := (v - a.Mean[j]) / a.Scale[j]
		h += a.Home.Weights[j] * z
		w += a.Away.Weights[j] * z
	}
	return math.Exp(clampLog(h)), math.Exp(clampLog(w))
}

// clampLog keeps a log-rate within 0.01 and 20 goals, so a wild row cannot
// give an infinite or zero rate.
func clampLog(v float64) float64 { return max(math.Log(0.01), min(math.Log(20), v)) }

// markets fills the score matrix of λ and μ (grid is scratch space) and
// reads every market from it.
func (a *Artifact) markets(lambda, mu float64, grid []float64) (soccer.Probabilities, soccer.GoalMarkets) {
	n := a.MaxGoals + 1
	ph, pa := poissonPMF(lambda, n), poissonPMF(mu, n)
	total := 0.0
	for h := range n {
		for w := range n {
			p := ph[h] * pa[w] * tau(h, w, lambda, mu, a.Rho)
			grid[h*n+w] = p
			total += p
		}
	}
	var pr soccer.Probabilities
	mk := soccer.GoalMarkets{ExpectedHomeGoals: lambda, ExpectedAwayGoals: mu}
	under := 0.0
	for h := range n {
		for w := range n {
			p := grid[h*n+w] / total // the mass beyond MaxGoals is spread pro rata
			grid[h*n+w] = p
			switch {
			case h > w:
				pr.Home += p
			case h == w:
				pr.Draw += p
			default:
				pr.Away += p
			}
			if h+w <= 2 {
				under += p
			}
			if h > 0 && w > 0 {
				mk.BothScore += p
			}
		}
	}
	mk.Over25 = max(0, 1-under)
	if a.Scorelines > 0 {
		idx := make([]int, n*n)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(x, y int) bool { return grid[idx[x]] > grid[idx[y]] })
		for _, i := range idx[:min(a.Scorelines, len(idx))] {
			mk.Scorelines = append(mk.Scorelines, soccer.Scoreline{Home: i / n, Away: i % n, Probability: grid[i]})
		}
	}
	return pr, mk
}

// tau is Dixon and Coles' correction of the low scores.
func tau(h, a int, lambda, mu, rho float64) float64 {
	switch {
	case h == 0 && a == 0:
		return 1 - lambda*mu*rho
	case h == 0 && a == 1:
		return 1 + lambda*rho
	case h == 1 && a == 0:
		return 1 + mu*rho
	case h == 1 && a == 1:
		return 1 - rho
	}
	return 1
}

func poissonPMF(lambda float64, n int) []float64 {
	p := make([]float64, n)
	p[0] = math.Exp(-lambda)
	for k := 1; k < n; k++ {
		p[k] = p[k-1] * lambda / float64(k)
	}
	return p
}

// Train implements model.Trainer.
func (m *Model) Train(ctx context.Context, req model.TrainRequest) (model.TrainResponse, error) {
	p, err := m.params(req.Params)
	if err != nil {
		return model.TrainResponse{}, err
	}
	n, k := len(req.Rows), len(req.Columns)
	if n == 0 || len(req.Outcomes) != n {
		return model.TrainResponse{}, fmt.Errorf("%w: %d rows and %d outcomes", plugin.ErrInvalid, n, len(req.Outcomes))
	}
	if len(req.Played) != n {
		return model.TrainResponse{}, fmt.Errorf("%w: a goals model trains on each row's score, and the host sent %d for %d rows (it needs model API 1.1)",
			plugin.ErrUnsupported, len(req.Played), n)
	}
	for i, r := range req.Rows {
		if len(r) != k {
			return model.TrainResponse{}, fmt.Errorf("%w: row %d has %d values for %d columns", plugin.ErrInvalid, i, len(r), k)
		}
		for j, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return model.TrainResponse{}, fmt.Errorf("%w: row %d column %s is %v", plugin.ErrInvalid, i, req.Columns[j].Name, v)
			}
		}
		if pl := req.Played[i]; pl.HomeGoals < 0 || pl.AwayGoals < 0 || soccer.ResultOf(pl.HomeGoals, pl.AwayGoals) != req.Outcomes[i] {
			return model.TrainResponse{}, fmt.Errorf("%w: row %d: the score %d-%d is not the outcome %s", plugin.ErrInvalid, i, pl.HomeGoals, pl.AwayGoals, req.Outcomes[i])
		}
	}
	a := &Artifact{Format: Format, Mean: make([]float64, k), Scale: make([]float64, k), MaxGoals: p.MaxGoals, Scorelines: p.Scorelines}
	for _, c := range req.Columns {
		a.Columns = append(a.Columns, c.Name)
	}
	weights := recency(req.Played, p.HalfLifeDays)
	z := standardise(req.Rows, weights, a.Mean, a.Scale)
	home, away := make([]float64, n), make([]float64, n)
	for i, pl := range req.Played {
		home[i], away[i] = float64(pl.HomeGoals), float64(pl.AwayGoals)
	}
	var iters [2]int
	for s, side := range []struct {
		goals []float64
		rate  *Rate
	}{{home, &a.Home}, {away, &a.Away}} {
		if err := ctx.Err(); err != nil {
			return model.TrainResponse{}, err
		}
		r, it, err := fitPoisson(z, side.goals, weights, p.L2)
		if err != nil {
			return model.TrainResponse{}, fmt.Errorf("train: %s goals: %w", [...]string{"home", "away"}[s], err)
		}
		*side.rate, iters[s] = r, it
	}
	lambdas, mus := make([]float64, n), make([]float64, n)
	for i, r := range req.Rows {
		lambdas[i], mus[i] = a.rates(r)
	}
	if p.DixonColes {
		a.Rho = fitRho(req.Played, lambdas, mus, weights)
	}
	art, err := json.Marshal(a)
	if err != nil {
		return model.TrainResponse{}, err
	}
	ll, meanH, meanA, wsum := 0.0, 0.0, 0.0, 0.0
	for i, pl := range req.Played {
		ll += weights[i] * scoreLogLik(pl.HomeGoals, pl.AwayGoals, lambdas[i], mus[i], a.Rho)
		meanH += weights[i] * lambdas[i]
		meanA += weights[i] * mus[i]
		wsum += weights[i]
	}
	return model.TrainResponse{Artifact: art, Signature: model.Signature{Inputs: slices.Clone(req.Columns), Outputs: model.Outputs},
		Metrics: map[string]float64{"train_rows": float64(n), "rho": a.Rho, "weighted_score_log_lik": ll / wsum, "mean_expected_home_goals": meanH / wsum,
			"mean_expected_away_goals": meanA / wsum, "home_fit_iterations": float64(iters[0]), "away_fit_iterations": float64(iters[1])}}, nil
}

// params reads the trainer's parameters; keys of the logistic trainers are
// logged as unused, any other unknown key is an error.
func (m *Model) params(raw []byte) (Params, error) {
	p := DefaultParams()
	if len(bytes.TrimSpace(raw)) == 0 {
		return p, nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return p, fmt.Errorf("%w: train params: %v", plugin.ErrInvalid, err)
	}
	var unused []string
	for _, key := range otherTrainers {
		if _, ok := all[key]; ok {
			unused = append(unused, key)
			delete(all, key)
		}
	}
	if len(unused) > 0 && m.logger != nil {
		m.logger.Warn("train params of the logistic trainers are not used by the goals model", "keys", unused)
	}
	mine, _ := json.Marshal(all)
	dec := json.NewDecoder(bytes.NewReader(mine))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%w: train params: %v (the goals model takes algorithm, l2, half_life_days, max_goals, scorelines, dixon_coles)", plugin.ErrInvalid, err)
	}
	switch {
	case p.Algorithm != "" && p.Algorithm != "dixon-coles":
		return p, fmt.Errorf("%w: train params: algorithm %q is another trainer's; the goals model's is dixon-coles (model.params.algorithm: dixon-coles, as configs/goals.yaml sets)", plugin.ErrInvalid, p.Algorithm)
	case p.L2 < 0 || math.IsNaN(p.L2):
		return p, fmt.Errorf("%w: train params: l2 %v must be 0 or more", plugin.ErrInvalid, p.L2)
	case p.HalfLifeDays < 0:
		return p, fmt.Errorf("%w: train params: half_life_days %v must be 0 (no decay) or more", plugin.ErrInvalid, p.HalfLifeDays)
	case p.MaxGoals < 3 || p.MaxGoals > 30:
		return p, fmt.Errorf("%w: train params: max_goals %d must be 3 to 30", plugin.ErrInvalid, p.MaxGoals)
	case p.Scorelines < 0 || p.Scorelines > 50:
		return p, fmt.Errorf("%w: train params: scorelines %d must be 0 to 50", plugin.ErrInvalid, p.Scorelines)
	}
	return p, nil
}

// recency weights each match by its age before the newest one, normalised
// to a mean of 1.
func recency(played []model.Played, halfLife float64) []float64 {
	w := make([]float64, len(played))
	newest := played[0].Kickoff
	for _, p := range played {
		if p.Kickoff.After(newest) {
			newest = p.Kickoff
		}
	}
	sum := 0.0
	for i, p := range played {
		w[i] = 1
		if halfLife > 0 {
			w[i] = math.Exp2(-newest.Sub(p.Kickoff).Hours() / 24 / halfLife)
		}
		sum += w[i]
	}
	for i := range w {
		w[i] *= float64(len(w)) / sum
	}
	return w
}

// standardise fills mean and scale (a column that does not vary keeps scale
// 1) and returns the standardised rows.
func standardise(rows [][]float64, w, mean, scale []float64) [][]float64 {
	k, wsum := len(mean), 0.0
	for i, r := range rows {
		for j := range k {
			mean[j] += w[i] * r[j]
		}
		wsum += w[i]
	}
	for j := range k {
		mean[j] /= wsum
	}
	for i, r := range rows {
		for j := range k {
			d := r[j] - mean[j]
			scale[j] += w[i] * d * d
		}
	}
	for j := range k {
		scale[j] = math.Sqrt(scale[j] / wsum)
		if scale[j] < 1e-12 {
			scale[j] = 1
		}
	}
	z := make([][]float64, len(rows))
	for i, r := range rows {
		z[i] = make([]float64, k)
		for j := range k {
			z[i][j] = (r[j] - mean[j]) / scale[j]
		}
	}
	return z
}

// fitPoisson fits log E[y] = b0 + β·z by Newton's method on the weighted
// mean negative log-likelihood plus l2/2·|β|², halving steps that do not
// improve it.
func fitPoisson(z [][]float64, y, w []float64, l2 float64) (Rate, int, error) {
	n, k := len(z), 0
	if n > 0 {
		k = len(z[0])
	}
	d := k + 1
	beta := make([]float64, d) // beta[0] is the intercept
	wsum, ysum := 0.0, 0.0
	for i := range n {
		wsum += w[i]
		ysum += w[i] * y[i]
	}
	beta[0] = math.Log(max(ysum/wsum, 1e-3))
	eta := func(b []float64, i int) float64 {
		e := b[0]
		for j, v := range z[i] {
			e += b[j+1] * v
		}
		return e
	}
	objective := func(b []float64) float64 {
		o := 0.0
		for i := range n {
			e := eta(b, i)
			o += w[i] * (math.Exp(e) - y[i]*e)
		}
		o /= wsum
		for j := 1; j < d; j++ {
			o += l2 / 2 * b[j] * b[j]
		}
		return o
	}
	cur := objective(beta)
	grad := make([]float64, d)
	hess := mat.NewSymDense(d, nil)
	x := make([]float64, d)
	for it := 1; it <= 100; it++ {
		clear(grad)
		hess.Zero()
		raw := hess.RawSymmetric().Data
		for i := range n {
			rate := math.Exp(eta(beta, i))
			g, h := w[i]*(rate-y[i])/wsum, w[i]*rate/wsum
			x[0] = 1
			copy(x[1:], z[i])
			for a := range d {
				grad[a] += g * x[a]
				ha := h * x[a]
				row := raw[a*d:]
				for b := a; b < d; b++ {
					row[b] += ha * x[b]
				}
			}
		}
		for j := 1; j < d; j++ {
			grad[j] += l2 * beta[j]
			raw[j*d+j] += l2
		}
		raw[0] += 1e-12 // an intercept alone is still solvable
		var chol mat.Cholesky
		if !chol.Factorize(hess) {
			return Rate{}, it, errors.New("the likelihood's curvature is not positive definite (a feature column that is a copy of another, with l2 0?)")
		}
		step := mat.NewVecDense(d, nil)
		if err := chol.SolveVecTo(step, mat.NewVecDense(d, slices.Clone(grad))); err != nil {
			return Rate{}, it, err
		}
		next := make([]float64, d)
		improved := false
		for scale := 1.0; scale > 1e-6; scale /= 2 {
			for j := range d {
				next[j] = beta[j] - scale*step.AtVec(j)
			}
			if o := objective(next); o <= cur {
				cur, improved = o, true
				break
			}
		}
		if !improved {
			return rate(beta), it, nil // at the optimum to machine precision
		}
		moved := 0.0
		for j := range d {
			moved = max(moved, math.Abs(next[j]-beta[j]))
		}
		copy(beta, next)
		if moved < 1e-9 {
			return rate(beta), it, nil
		}
	}
	return rate(beta), 100, nil
}

func rate(beta []float64) Rate {
	return Rate{Intercept: beta[0], Weights: slices.Clone(beta[1:])}
}

// fitRho maximises the weighted Dixon-Coles likelihood over ρ, within the
// range where every τ stays positive, by golden-section search.
func fitRho(played []model.Played, lambdas, mus, w []float64) float64 {
	lo, hi := -0.3, 0.3
	for i := range played {
		// τ > 0: 1 − λμρ, 1 + λρ, 1 + μρ and 1 − ρ.
		lo = max(lo, -1/lambdas[i]+1e-9, -1/mus[i]+1e-9)
		hi = min(hi, 1/(lambdas[i]*mus[i])-1e-9)
	}
	ll := func(rho float64) float64 {
		s := 0.0
		for i, p := range played {
			if p.HomeGoals <= 1 && p.AwayGoals <= 1 {
				s += w[i] * math.Log(tau(p.HomeGoals, p.AwayGoals, lambdas[i], mus[i], rho))
			}
		}
		return s
	}
	g := (math.Sqrt(5) - 1) / 2
	a, b := lo, hi
	c, d := b-g*(b-a), a+g*(b-a)
	fc, fd := ll(c), ll(d)
	for b-a > 1e-7 {
		if fc > fd {
			b, d, fd = d, c, fc
			c = b - g*(b-a)
			fc = ll(c)
		} else {
			a, c, fc = c, d, fd
			d = a + g*(b-a)
			fd = ll(d)
		}
	}
	return (a + b) / 2
}

// scoreLogLik is the log-probability of a score under the model.
func scoreLogLik(h, a int, lambda, mu, rho float64) float64 {
	lp := func(k int, r float64) float64 {
		lg, _ := math.Lgamma(float64(k) + 1)
		return float64(k)*math.Log(r) - r - lg
	}
	return lp(h, lambda) + lp(a, mu) + math.Log(tau(h, a, lambda, mu, rho))
}
