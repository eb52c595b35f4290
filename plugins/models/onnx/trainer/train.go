// Package trainer fits the home/draw/away models SoccerPredict's model
// runtimes serve, in Go, and exports each as an ONNX graph: MatMul, Add and
// Softmax in float64 for the multinomial logistic regression (it also exports
// its logits); one ai.onnx.ml TreeEnsembleClassifier (opset 3) with a SOFTMAX
// post-transform for gradient-boosted trees. Training is deterministic. It
// has no cgo: the ONNX Runtime plugin and the pure-Go runtime share it.
package trainer

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// ProducerVersion is written into every exported graph's producer_version.
const ProducerVersion = "1.0.0"

// Params are the training hyper-parameters (TrainRequest.Params).
type Params struct {
	// Algorithm is "logreg" (default) or "gbt".
	Algorithm string  `json:"algorithm"`
	L2        float64 `json:"l2"`
	// Unpenalized names the input columns whose logistic-regression weights
	// L2 leaves alone: with the market's log-odds here, a strong l2 shrinks
	// the model toward the (recalibrated) market, not toward base rates.
	Unpenalized []string `json:"unpenalized"`
	// Offsets names input columns that are a class's log-odds against the
	// draw ("home" or "away"): they enter the logits with weight 1, fixed,
	// and the fitted weights are corrections, so a strong l2 gives back
	// exactly that forecast (e.g. the market's) rather than base rates.
	Offsets map[string]string `json:"offsets"`
	// L2Grid, when set, chooses l2 by walk-forward inside the training set:
	// each value is fitted on the first 80% of the rows (they come in
	// kick-off order) and scored on the last 20%; the best is refitted on
	// every row. The choice is reported as the chosen_l2 metric. Beyond
	// SelectionRows rows the choice is made on the most recent SelectionRows
	// (a quarter of a million rows pins a penalty down; the refit still
	// sees every row), so its cost stops growing with the corpus.
	L2Grid []float64 `json:"l2_grid"`
	gbtParams
}

// DefaultParams are used for every key Params leaves out.
func DefaultParams() Params {
	return Params{Algorithm: "logreg", L2: 0.001, gbtParams: gbtParams{Rounds: 100, Depth: 2, LearningRate: 0.05, MinLeaf: 100, Bins: 64, Lambda: 5}}
}

// Fitted is a trained model: the response a model plugin returns, and the
// fitted parameters evaluated directly in Go, the reference every runtime's
// evaluation of Response.Artifact is checked against.
type Fitted struct {
	Response model.TrainResponse
	Predict  func(row []float64) [3]float64
}

// Train fits the model TrainRequest.Params describe and exports it as ONNX;
// it is model.Trainer's Train for every runtime that serves these graphs.
func Train(ctx context.Context, req model.TrainRequest) (model.TrainResponse, error) {
	f, err := Fit(ctx, req)
	return f.Response, err
}

// Fit is Train keeping the Go reference evaluation.
func Fit(ctx context.Context, req model.TrainRequest) (Fitted, error) {
	p := DefaultParams()
	if len(bytes.TrimSpace(req.Params)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(req.Params))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return Fitted{}, fmt.Errorf("train: train params: %w", err)
		}
	}
	if len(req.Rows) == 0 || len(req.Rows) != len(req.Outcomes) {
		return Fitted{}, fmt.Errorf("train: train: %d rows and %d outcomes", len(req.Rows), len(req.Outcomes))
	}
	y := make([]int, len(req.Outcomes))
	for i, o := range req.Outcomes {
		y[i] = map[soccer.Result]int{soccer.HomeWin: 0, soccer.Draw: 1, soccer.AwayWin: 2}[o]
	}
	for i, r := range req.Rows {
		for j, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return Fitted{}, fmt.Errorf("train: train: row %d column %s is %v", i, req.Columns[j].Name, v)
			}
		}
	}
	var (
		artifact []byte
		predict  func([]float64) [3]float64
		extra    map[string]float64
	)
	switch p.Algorithm {
	case "logreg":
		column := func(what, name string) (int, error) {
			j := slices.IndexFunc(req.Columns, func(c soccer.Column) bool { return c.Name == name })
			if j < 0 {
				return 0, fmt.Errorf("train: train: %s %q: not one of the %d input columns", what, name, len(req.Columns))
			}
			return j, nil
		}
		free := make([]bool, len(req.Columns))
		for _, name := range p.Unpenalized {
			j, err := column("unpenalized", name)
			if err != nil {
				return Fitted{}, err
			}
			free[j] = true
		}
		var offset [][3]float64
		if len(p.Offsets) > 0 {
			offset = make([][3]float64, len(req.Columns))
			for name, class := range p.Offsets {
				k, ok := map[string]int{"home": 0, "away": 2}[class]
				if !ok {
					return Fitted{}, fmt.Errorf("train: train: offsets %q: %q: want \"home\" or \"away\"", name, class)
				}
				j, err := column("offsets", name)
				if err != nil {
					return Fitted{}, err
				}
				offset[j][k] = 1
			}
		}
		l2 := p.L2
		var warm *logReg
		if len(p.L2Grid) > 0 {
			var best float64
			var err error
			if l2, best, warm, err = chooseL2(ctx, req.Rows, y, p.L2Grid, free, offset, SelectionRows); err != nil {
				return Fitted{}, err
			}
			extra = map[string]float64{"chosen_l2": l2, "validation_log_loss": best}
		}
		lr, err := fitLogRegFrom(req.Rows, y, l2, free, offset, warm)
		if err != nil {
			return Fitted{}, err
		}
		artifact, predict = lr.onnx(), lr.predict
		if extra == nil {
			extra = map[string]float64{}
		}
		extra["fit_iterations"] = float64(lr.Iterations)
	case "gbt":
		g, err := fitGBT(req.Rows, y, p.gbtParams)
		if err != nil {
			return Fitted{}, err
		}
		artifact, predict = g.onnx(len(req.Columns)), g.predict
	default:
		return Fitted{}, fmt.Errorf("train: train: algorithm %q is not logreg or gbt", p.Algorithm)
	}
	var ll float64
	for i, r := range req.Rows {
		ll -= math.Log(math.Max(predict(r)[y[i]], 1e-15))
	}
	metrics := map[string]float64{"train_log_loss": ll / float64(len(y)), "train_rows": float64(len(y))}
	for k, v := range extra {
		metrics[k] = v
	}
	return Fitted{Response: model.TrainResponse{
		Artifact:  artifact,
		Signature: model.Signature{Inputs: slices.Clone(req.Columns), Outputs: model.Outputs},
		Metrics:   metrics,
	}, Predict: predict}, ctx.Err()
}

// SelectionRows bounds the rows l2_grid's walk-forward choice fits on.
const SelectionRows = 250_000

// chooseL2 fits each l2 of the grid on the first 80% of the rows (they come
// in kick-off order; only the most recent window of them) and scores
// log-loss on the last 20%, strongest penalty
// first, each fit starting from the last one's optimum (the path is found in
// a fraction of the iterations). It returns the best l2, its validation
// log-loss and its fit, from which the refit on every row starts.
func chooseL2(ctx context.Context, rows [][]float64, y []int, grid []float64, free []bool, offset [][3]float64, window int) (float64, float64, *logReg, error) {
	if len(rows) > window {
		rows, y = rows[len(rows)-window:], y[len(y)-window:]
	}
	cut := len(rows) * 4 / 5
	if cut < 1 || cut == len(rows) {
		return 0, 0, nil, fmt.Errorf("train: train: %d rows are too few to choose l2 from l2_grid", len(rows))
	}
	grid = slices.Clone(grid)
	slices.SortFunc(grid, func(a, b float64) int { return cmp.Compare(b, a) })
	best, l2 := math.Inf(1), 0.0
	var prev, chosen *logReg
	for _, candidate := range grid {
		if !(candidate >= 0) {
			return 0, 0, nil, fmt.Errorf("train: train: l2_grid value %v is not a non-negative number", candidate)
		}
		lr, err := fitLogRegFrom(rows[:cut], y[:cut], candidate, free, offset, prev)
		if err != nil {
			return 0, 0, nil, err
		}
		prev = &lr
		var vll float64
		for i := cut; i < len(rows); i++ {
			vll -= math.Log(math.Max(lr.predict(rows[i])[y[i]], 1e-15))
		}
		if vll /= float64(len(rows) - cut); vll < best {
			best, l2, chosen = vll, candidate, prev
		}
		if err := ctx.Err(); err != nil {
			return 0, 0, nil, err
		}
	}
	return l2, best, chosen, nil
}
