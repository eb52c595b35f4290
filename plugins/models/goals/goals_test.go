package goals

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/model/modeltest"
	"github.com/soccerpredict/soccerpredict/sdk/plugin/plugintest"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

func TestConformance(t *testing.T) {
	modeltest.Run(t, New, modeltest.Options{})
}

func newModel(t *testing.T) *Model {
	t.Helper()
	m, err := New(context.Background(), plugintest.Env(t, "goals", nil))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*Model)
}

// synthetic draws n matches whose goals follow known rates and a known
// Dixon-Coles ρ, one feature row each.
func synthetic(n int, rho float64, seed uint64) model.TrainRequest {
	rng := rand.New(rand.NewPCG(seed, 3))
	req := model.TrainRequest{Columns: []soccer.Column{{Name: "strength", Type: "double"}, {Name: "noise", Type: "double"}}}
	start := time.Date(2020, 8, 1, 15, 0, 0, 0, time.UTC)
	for i := range n {
		x := rng.NormFloat64()
		lambda, mu := math.Exp(0.35+0.3*x), math.Exp(0.1-0.3*x)
		// Draw a score from the Dixon-Coles matrix itself.
		a := &Artifact{MaxGoals: 12, Rho: rho}
		grid := make([]float64, 13*13)
		a.markets(lambda, mu, grid)
		u, h, w := rng.Float64(), 0, 0
		for k, p := range grid {
			if u -= p; u <= 0 {
				h, w = k/13, k%13
				break
			}
		}
		req.Rows = append(req.Rows, []float64{x, rng.NormFloat64()})
		req.Outcomes = append(req.Outcomes, soccer.ResultOf(h, w))
		req.Played = append(req.Played, model.Played{Kickoff: start.Add(time.Duration(i) * 6 * time.Hour), HomeGoals: h, AwayGoals: w})
	}
	return req
}

// The fit recovers the rates and ρ it was drawn from.
func TestRecoversKnownRatesAndRho(t *testing.T) {
	m := newModel(t)
	req := synthetic(20000, -0.08, 1)
	req.Params = []byte(`{"half_life_days": 0, "l2": 0}`)
	resp, err := m.Train(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var a Artifact
	json.Unmarshal(resp.Artifact, &a)
	// Weights are per standard deviation of the feature (≈1 here).
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"home intercept", a.Home.Intercept, 0.35}, {"home strength", a.Home.Weights[0] / a.Scale[0], 0.3},
		{"away intercept", a.Away.Intercept, 0.1}, {"away strength", a.Away.Weights[0] / a.Scale[0], -0.3},
		{"home noise", a.Home.Weights[1], 0}, {"rho", a.Rho, -0.08}} {
		if math.Abs(c.got-c.want) > 0.04 {
			t.Errorf("%s %.4f, want %.2f", c.name, c.got, c.want)
		}
	}
	if resp.Metrics["rho"] != a.Rho || resp.Signature.Outputs[0].Name != "home" {
		t.Errorf("metrics %v, signature %v", resp.Metrics, resp.Signature)
	}
}

// Every market comes from one score matrix: with ρ = 0 the goals are
// independent Poisson, and each market has its closed form.
func TestMarketsFromOneMatrix(t *testing.T) {
	a := &Artifact{MaxGoals: 25, Scorelines: 3}
	pr, mk := a.markets(1.6, 1.1, make([]float64, 26*26))
	if err := pr.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := mk.Validate(); err != nil {
		t.Fatal(err)
	}
	pois := func(k int, l float64) float64 {
		lg, _ := math.Lgamma(float64(k + 1))
		return math.Exp(float64(k)*math.Log(l) - l - lg)
	}
	under := 0.0
	for h := 0; h <= 2; h++ {
		for w := 0; h+w <= 2; w++ {
			under += pois(h, 1.6) * pois(w, 1.1)
		}
	}
	btts := (1 - math.Exp(-1.6)) * (1 - math.Exp(-1.1))
	if math.Abs(mk.Over25-(1-under)) > 1e-9 || math.Abs(mk.BothScore-btts) > 1e-9 {
		t.Fatalf("over 2.5 %v (want %v), both score %v (want %v)", mk.Over25, 1-under, mk.BothScore, btts)
	}
	if s := mk.Scorelines; len(s) != 3 || s[0].Home != 1 || s[0].Away != 1 || s[0].Probability < s[1].Probability {
		t.Fatalf("likeliest scores %+v, want 1-1 first", s)
	}
	// ρ < 0 moves probability to the draws 0-0 and 1-1.
	a.Rho = -0.1
	pr2, _ := a.markets(1.6, 1.1, make([]float64, 26*26))
	if pr2.Draw <= pr.Draw {
		t.Fatalf("a negative ρ gave draws %v, independent goals %v", pr2.Draw, pr.Draw)
	}
}

// A host that sends no scores, params it does not know and scores that
// contradict the outcome are refused with what is wrong.
func TestRefusals(t *testing.T) {
	m := newModel(t)
	req := synthetic(50, 0, 2)
	noScores := req
	noScores.Played = nil
	for _, c := range []struct {
		name string
		req  model.TrainRequest
		want string
	}{
		{"no scores", noScores, "model API 1.1"},
		{"unknown param", with(req, `{"half_life": 3}`), "half_life_days"},
		{"bad max goals", with(req, `{"max_goals": 2}`), "max_goals"},
		{"contradiction", contradict(req), "is not the outcome"},
	} {
		if _, err := m.Train(context.Background(), c.req); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// The logistic trainers' keys are logged as unused, not refused.
	if _, err := m.Train(context.Background(), with(req, `{"algorithm": "dixon-coles", "l2_grid": [1, 2], "half_life_days": 365}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Train(context.Background(), with(req, `{"algorithm": "logreg"}`)); err == nil || !strings.Contains(err.Error(), "dixon-coles") {
		t.Fatalf("another trainer's algorithm: %v", err)
	}
}

func with(req model.TrainRequest, params string) model.TrainRequest {
	req.Params = []byte(params)
	return req
}

func contradict(req model.TrainRequest) model.TrainRequest {
	req.Outcomes = append([]soccer.Result(nil), req.Outcomes...)
	req.Played = append([]model.Played(nil), req.Played...)
	req.Played[0] = model.Played{Kickoff: req.Played[0].Kickoff, HomeGoals: 3, AwayGoals: 0}
	req.Outcomes[0] = soccer.AwayWin
	return req
}
