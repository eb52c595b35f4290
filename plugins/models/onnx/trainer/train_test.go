package trainer

import (
	"bytes"
	"context"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Beyond the window, l2_grid chooses on the most recent rows only: the
// same choice, the same fit, as choosing on those rows alone.
func TestChooseL2OnTheMostRecentRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	rows, y := make([][]float64, 3000), make([]int, 3000)
	for i := range rows {
		rows[i] = []float64{rng.NormFloat64(), rng.NormFloat64(), float64(i) / 3000}
		y[i] = rng.IntN(3)
		if rows[i][0] > 0.8 {
			y[i] = 0
		}
	}
	grid := []float64{0.1, 1, 10}
	planFor := func(rows [][]float64) penaltyPlan {
		plan := penaltyPlan{group: make([]int, 3), names: []string{""}, oneSE: []bool{false}, free: make([]bool, 3), intercept: true}
		if err := plan.prepare(denseRows(rows, 3)); err != nil {
			t.Fatal(err)
		}
		return plan
	}
	plan, tail := planFor(rows), planFor(rows[2000:])
	l2, best, fit, err := chooseL2(context.Background(), denseRows(rows, 3), y, grid, plan, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	l2Tail, bestTail, fitTail, err := chooseL2(context.Background(), denseRows(rows[2000:], 3), y[2000:], grid, tail, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if l2[0] != l2Tail[0] || best != bestTail || fit.B != fitTail.B {
		t.Fatalf("windowed choice %v (%v) differs from the choice on the last 1000 rows %v (%v)", l2, best, l2Tail, bestTail)
	}
	// Without the window the walk-forward validates on another 20% of rows.
	if _, bestAll, _, err := chooseL2(context.Background(), denseRows(rows, 3), y, grid, plan, nil, len(rows)); err != nil || bestAll == best {
		t.Fatalf("without the window: validation log-loss %v (%v), the windowed one %v", bestAll, err, best)
	}
}

// twoRegimes is a training set of two separate models on separate rows, as
// the ratings features make them: rows with a market price (its log-odds,
// an indicator, and a column of noise) whose outcomes follow the price, and
// rows without one (an indicator and one informative rating).
func twoRegimes(n int, seed uint64) (model.TrainRequest, []soccer.Probabilities) {
	rng := rand.New(rand.NewPCG(seed, 2))
	names := []string{"market_log_home_draw", "market_log_away_draw", "market_available", "p_noise", "unpriced", "rating"}
	req := model.TrainRequest{}
	for _, c := range names {
		req.Columns = append(req.Columns, soccer.Column{Name: c, Type: "double"})
	}
	var truth []soccer.Probabilities
	for i := range n {
		var p soccer.Probabilities
		row := make([]float64, len(names))
		if i%2 == 0 {
			h, a := 0.2+0.5*rng.Float64(), 0.1+0.4*rng.Float64()
			s := h + 0.27 + a
			p = soccer.Probabilities{Home: h / s, Draw: 0.27 / s, Away: a / s}
			row[0], row[1], row[2], row[3] = math.Log(p.Home/p.Draw), math.Log(p.Away/p.Draw), 1, rng.NormFloat64()
		} else {
			x := rng.NormFloat64()
			l := Softmax([3]float64{0.6*x + 0.5, 0, 0.2 - 0.6*x})
			p = soccer.Probabilities{Home: l[0], Draw: l[1], Away: l[2]}
			row[4], row[5] = 1, x
		}
		u, r := rng.Float64(), soccer.AwayWin
		switch {
		case u < p.Home:
			r = soccer.HomeWin
		case u < p.Home+p.Draw:
			r = soccer.Draw
		}
		req.Rows, req.Outcomes, truth = append(req.Rows, row), append(req.Outcomes, r), append(truth, p)
	}
	return req, truth
}

// With l2_groups each regime chooses its own penalty: the priced rows, whose
// price is the truth, the strongest (the one-standard-error rule), so they
// get the price back; the unpriced rows a weak one, so their rating is used.
func TestPenaltyGroupsChooseSeparately(t *testing.T) {
	req, _ := twoRegimes(6000, 3)
	req.Params = []byte(`{"l2_grid": [0.001, 0.1, 10, 10000], "intercept": false, "unpenalized": ["unpriced"],
		"offsets": {"market_log_home_draw": "home", "market_log_away_draw": "away"},
		"l2_groups": {"priced": {"columns": ["market_*", "p_*"], "rule": "one_se"}}}`)
	f, err := Fit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if m := f.Response.Metrics; m["chosen_l2_priced"] != 10000 || m["chosen_l2"] > 0.1 {
		t.Fatalf("chosen penalties: %v", m)
	}
	test, truth := twoRegimes(400, 4)
	var worstPriced, worstBare float64
	for i, row := range test.Rows {
		p := f.Predict(row)
		d := math.Max(math.Abs(p[0]-truth[i].Home), math.Abs(p[2]-truth[i].Away))
		if row[2] == 1 {
			worstPriced = math.Max(worstPriced, d)
		} else {
			worstBare = math.Max(worstBare, d)
		}
	}
	if worstPriced > 0.002 || worstBare > 0.04 {
		t.Fatalf("forecasts stray from the truth by %.4f with a price (want the price back), %.4f without", worstPriced, worstBare)
	}
	// "strongest" takes the grid's strongest whatever the validation rows
	// say; the other group still chooses its own.
	req.Params = []byte(`{"l2_grid": [0.001, 0.1, 10, 10000], "intercept": false, "unpenalized": ["unpriced"],
		"offsets": {"market_log_home_draw": "home", "market_log_away_draw": "away"},
		"l2_groups": {"priced": {"columns": ["market_*", "p_*"], "rule": "strongest"}}, "l2_rule": "best"}`)
	if f, err = Fit(context.Background(), req); err != nil || f.Response.Metrics["chosen_l2_priced"] != 10000 || f.Response.Metrics["chosen_l2"] > 0.1 {
		t.Fatalf("strongest: %v %v", f.Response.Metrics, err)
	}
	req.Params = []byte(`{"l2_grid": [0.001, 0.1, 10, 10000], "intercept": false, "unpenalized": ["unpriced"],
		"offsets": {"market_log_home_draw": "home", "market_log_away_draw": "away"},
		"l2_groups": {"priced": {"columns": ["market_*", "p_*"]}}, "l2_rule": "strongest"}`)
	if f, err = Fit(context.Background(), req); err != nil || f.Response.Metrics["chosen_l2"] != 10000 {
		t.Fatalf("strongest for the ungrouped columns: %v %v", f.Response.Metrics, err)
	}
	// Without the groups one l2 serves both regimes.
	req.Params = []byte(`{"l2_grid": [0.001, 0.1, 10, 10000], "intercept": false, "unpenalized": ["unpriced", "market_available"],
		"offsets": {"market_log_home_draw": "home", "market_log_away_draw": "away"}}`)
	if f, err = Fit(context.Background(), req); err != nil || f.Response.Metrics["chosen_l2_priced"] != 0 {
		t.Fatalf("one group: %v %v", f.Response.Metrics, err)
	}
}

func TestPenaltyGroupsAreChecked(t *testing.T) {
	req, _ := twoRegimes(200, 5)
	for params, want := range map[string]string{
		`{"l2_groups": {"priced": {"columns": ["p_*"]}}, "intercept": false}`:                                                   "l2_groups needs l2_grid",
		`{"l2_grid": [1], "l2_groups": {"priced": {"columns": ["p_*"]}}}`:                                                       `needs "intercept": false`,
		`{"l2_grid": [1], "intercept": false, "l2_groups": {"priced": {"columns": ["q_*"]}}}`:                                   `l2_groups "priced": "q_*" names none of the 6 input columns`,
		`{"l2_grid": [1], "intercept": false, "l2_groups": {"a": {"columns": ["p_*"]}, "b": {"columns": ["p_noise"]}}}`:         `column p_noise is in both "a" and "b"`,
		`{"l2_grid": [1], "intercept": false, "l2_groups": {"priced": {"columns": ["p_*"], "rule": "lowest"}}}`:                 `l2_groups "priced" rule "lowest": want "best", "one_se" or "strongest"`,
		`{"l2_grid": [1], "intercept": false, "l2_groups": {"priced": {"columns": ["p_*"]}}}`:                                   `row 0 has non-zero values in the ungrouped columns and in group "priced"`,
		`{"l2_grid": [1], "intercept": false, "l2_groups": {"priced": {"columns": ["market_*", "p_*"]}}, "unpenalized": ["x"]}`: `unpenalized "x": not one of the 6 input columns`,
		`{"l2": 0.01, "l2_grid": [1, 10]}`: `l2 0.01 and l2_grid [1 10] both set`,
	} {
		req.Params = []byte(params)
		if _, err := Fit(context.Background(), req); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", params, err, want)
		}
	}
}

// stream yields a training set's rows as the plugin's Serve does: each row
// in a reused slice.
func stream(req model.TrainRequest) model.Rows {
	return func(yield func([]float64, soccer.Result, *model.Played) bool) error {
		buf := make([]float64, len(req.Columns))
		for i, r := range req.Rows {
			copy(buf, r)
			if !yield(buf, req.Outcomes[i], nil) {
				return nil
			}
		}
		return nil
	}
}

// Rows taken as they arrive, compact or not, make the model the whole
// request makes: the same artifact, byte for byte, and the same metrics.
func TestTrainRowsIsTrain(t *testing.T) {
	req, _ := twoRegimes(3000, 6)
	for _, params := range []string{
		`{"l2_grid": [0.001, 0.1, 10, 10000], "intercept": false, "unpenalized": ["unpriced"],
			"offsets": {"market_log_home_draw": "home", "market_log_away_draw": "away"},
			"l2_groups": {"priced": {"columns": ["market_*", "p_*"], "rule": "one_se"}}}`,
		`{"l2_grid": [0.1, 10], "offsets": {"market_log_home_draw": "home", "market_log_away_draw": "away"}}`,
		`{"l2": 0.5}`,
		`{"algorithm": "gbt", "rounds": 5}`,
	} {
		req.Params = []byte(params)
		whole, err := Fit(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := FitRows(context.Background(), model.TrainRequest{Columns: req.Columns, Params: req.Params, Seed: req.Seed}, stream(req))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(whole.Response.Artifact, rows.Response.Artifact) || !maps.Equal(whole.Response.Metrics, rows.Response.Metrics) {
			t.Fatalf("%s: rows as they arrive fit another model: metrics %v, whole %v", params, rows.Response.Metrics, whole.Response.Metrics)
		}
	}
	// What the whole request refuses, the stream refuses too.
	req.Params = []byte(`{"l2_grid": [1], "intercept": false, "l2_groups": {"priced": {"columns": ["p_*"]}}}`)
	if _, err := FitRows(context.Background(), model.TrainRequest{Columns: req.Columns, Params: req.Params}, stream(req)); err == nil ||
		!strings.Contains(err.Error(), `row 0 has non-zero values in the ungrouped columns and in group "priced"`) {
		t.Fatalf("a row in two groups: %v", err)
	}
	req.Params = nil
	req.Rows[7] = slices.Clone(req.Rows[7])
	req.Rows[7][1] = math.NaN()
	if _, err := FitRows(context.Background(), model.TrainRequest{Columns: req.Columns}, stream(req)); err == nil ||
		!strings.Contains(err.Error(), "row 7 column market_log_away_draw is NaN") {
		t.Fatalf("a NaN: %v", err)
	}
	if _, err := FitRows(context.Background(), model.TrainRequest{Columns: req.Columns}, stream(model.TrainRequest{})); err == nil {
		t.Fatal("no rows: no error")
	}
}
