// Package onnx is a model plugin: it trains home/draw/away models in Go and
// serves them with ONNX Runtime. It is the only module in SoccerPredict that
// uses cgo (github.com/yalue/onnxruntime_go).
//
// Train fits a multinomial logistic regression (standardised inputs, L2) or
// gradient-boosted trees and exports each as an ONNX graph: MatMul, Add and
// Softmax for the regression; one ai.onnx.ml TreeEnsembleClassifier (opset 3)
// for the trees. Load opens such a graph with ONNX Runtime (intra-op threads
// 1); Predict runs batches, safely from many goroutines, and a row's forecast
// never depends on the other rows of its batch.
//
// Start with New (settings: where the ONNX Runtime library is) and Train.
package onnx

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/soccerpredict/soccerpredict/sdk/handshake"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Version is the plugin's own version.
const Version = "1.0.0"

// DefaultLibrary is where `make ort` puts the ONNX Runtime shared library,
// relative to the repository root; ONNXRUNTIME_LIB overrides it.
const DefaultLibrary = "onnxruntime/libonnxruntime.so.1"

// Settings are the plugin's `config` block in host configuration.
type Settings struct {
	// Library is the path of libonnxruntime.so (default $ONNXRUNTIME_LIB,
	// else onnxruntime/libonnxruntime.so.1).
	Library string `json:"library"`
}

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
	// every row. The choice is reported as the chosen_l2 metric.
	L2Grid []float64 `json:"l2_grid"`
	gbtParams
}

// DefaultParams are used for every key Params leaves out.
func DefaultParams() Params {
	return Params{Algorithm: "logreg", L2: 0.001, gbtParams: gbtParams{Rounds: 100, Depth: 2, LearningRate: 0.05, MinLeaf: 100, Bins: 64, Lambda: 5}}
}

// Model is the plugin's model.Model and model.Trainer.
type Model struct {
	mu      sync.RWMutex
	session *ort.DynamicAdvancedSession
	width   int
	// logits is true when the session answers the graph's "logits" output,
	// which Predict turns into probabilities itself (see Load).
	logits bool
}

var (
	envOnce sync.Once
	envErr  error
)

// New initialises ONNX Runtime (once per process) and returns an empty model.
func New(hs handshake.Settings) (model.Model, error) {
	var s Settings
	if err := hs.Decode(&s); err != nil {
		return nil, err
	}
	if s.Library == "" {
		s.Library = os.Getenv("ONNXRUNTIME_LIB")
	}
	if s.Library == "" {
		s.Library = DefaultLibrary
	}
	if err := initRuntime(s.Library); err != nil {
		return nil, err
	}
	return &Model{}, nil
}

func initRuntime(lib string) error {
	envOnce.Do(func() {
		how := "get it with `make ort` (or point the onnx plugin's `library` setting or ONNXRUNTIME_LIB at libonnxruntime.so 1.24.1 or newer)"
		if _, err := os.Stat(lib); err != nil {
			envErr = fmt.Errorf("onnx: ONNX Runtime library not found at %s: %s", lib, how)
			return
		}
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(); err != nil {
			envErr = fmt.Errorf("onnx: ONNX Runtime library %s cannot be used (%v): %s", lib, err, how)
		}
	})
	return envErr
}

// Describe implements model.Model.
func (m *Model) Describe(context.Context) (model.Description, error) {
	return model.Description{Name: "onnx", Version: Version, Runtime: "onnxruntime " + ort.GetVersion(), Trainer: true}, nil
}

// Load implements model.Model: the artifact is an ONNX graph with a double
// input "features" [N, len(inputs)] and an output "probabilities" [N, 3].
func (m *Model) Load(_ context.Context, req model.LoadRequest) error {
	if len(req.Signature.Inputs) == 0 {
		return errors.New("onnx: load: the signature has no inputs")
	}
	if !slices.Equal(req.Signature.Outputs, model.Outputs) {
		return fmt.Errorf("onnx: load: signature outputs %v, want %v", req.Signature.Outputs, model.Outputs)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return fmt.Errorf("onnx: session options: %w", err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	// A graph with a "logits" output (the logistic regression's) is run to
	// its logits and the softmax is taken here, row by row: ONNX Runtime's
	// vectorised exp rounds an element by its position in the tensor, so a
	// row's probabilities would differ in the last bit between a batch of
	// one and a batch of many. The host batches concurrent requests, and a
	// forecast must never depend on its batch-mates. Other graphs (the trees)
	// compute each row on its own already.
	_, outputs, err := ort.GetInputOutputInfoWithONNXData(req.Artifact)
	if err != nil {
		return fmt.Errorf("onnx: load: not an ONNX graph: %w", err)
	}
	output, logits := "probabilities", false
	for _, o := range outputs {
		if o.Name == "logits" {
			output, logits = "logits", true
		}
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(req.Artifact, []string{"features"}, []string{output}, opts)
	if err != nil {
		return fmt.Errorf("onnx: load: not an ONNX graph with input \"features\" and output \"probabilities\": %w", err)
	}
	m.mu.Lock()
	old := m.session
	m.session, m.width, m.logits = s, len(req.Signature.Inputs), logits
	m.mu.Unlock()
	if old != nil {
		old.Destroy()
	}
	return nil
}

// Predict implements model.Model.
func (m *Model) Predict(_ context.Context, req model.PredictRequest) (model.PredictResponse, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.session == nil {
		return model.PredictResponse{}, errors.New("onnx: no model loaded")
	}
	if len(req.Rows) == 0 {
		return model.PredictResponse{}, nil
	}
	flat := make([]float64, 0, len(req.Rows)*m.width)
	for i, r := range req.Rows {
		if len(r) != m.width {
			return model.PredictResponse{}, fmt.Errorf("onnx: row %d has %d values, the model takes %d", i, len(r), m.width)
		}
		flat = append(flat, r...)
	}
	in, err := ort.NewTensor(ort.NewShape(int64(len(req.Rows)), int64(m.width)), flat)
	if err != nil {
		return model.PredictResponse{}, fmt.Errorf("onnx: input: %w", err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := m.session.Run([]ort.Value{in}, outs); err != nil {
		return model.PredictResponse{}, fmt.Errorf("onnx: run: %w", err)
	}
	defer outs[0].Destroy()
	var probs []float64
	switch t := outs[0].(type) {
	case *ort.Tensor[float64]:
		probs = t.GetData()
	case *ort.Tensor[float32]:
		for _, v := range t.GetData() {
			probs = append(probs, float64(v))
		}
	default:
		return model.PredictResponse{}, fmt.Errorf("onnx: output is %T, want a float tensor", outs[0])
	}
	if len(probs) != 3*len(req.Rows) {
		return model.PredictResponse{}, fmt.Errorf("onnx: %d outputs for %d rows", len(probs), len(req.Rows))
	}
	resp := model.PredictResponse{Probabilities: make([]soccer.Probabilities, len(req.Rows))}
	for i := range resp.Probabilities {
		p := [3]float64{probs[3*i], probs[3*i+1], probs[3*i+2]}
		if m.logits {
			p = softmax(p)
		}
		resp.Probabilities[i] = soccer.Probabilities{Home: p[0], Draw: p[1], Away: p[2]}
	}
	return resp, nil
}

// Train implements model.Trainer.
func (m *Model) Train(ctx context.Context, req model.TrainRequest) (model.TrainResponse, error) {
	p := DefaultParams()
	if len(bytes.TrimSpace(req.Params)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(req.Params))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return model.TrainResponse{}, fmt.Errorf("onnx: train params: %w", err)
		}
	}
	if len(req.Rows) == 0 || len(req.Rows) != len(req.Outcomes) {
		return model.TrainResponse{}, fmt.Errorf("onnx: train: %d rows and %d outcomes", len(req.Rows), len(req.Outcomes))
	}
	y := make([]int, len(req.Outcomes))
	for i, o := range req.Outcomes {
		y[i] = map[soccer.Result]int{soccer.HomeWin: 0, soccer.Draw: 1, soccer.AwayWin: 2}[o]
	}
	for i, r := range req.Rows {
		for j, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return model.TrainResponse{}, fmt.Errorf("onnx: train: row %d column %s is %v", i, req.Columns[j].Name, v)
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
				return 0, fmt.Errorf("onnx: train: %s %q: not one of the %d input columns", what, name, len(req.Columns))
			}
			return j, nil
		}
		free := make([]bool, len(req.Columns))
		for _, name := range p.Unpenalized {
			j, err := column("unpenalized", name)
			if err != nil {
				return model.TrainResponse{}, err
			}
			free[j] = true
		}
		var offset [][3]float64
		if len(p.Offsets) > 0 {
			offset = make([][3]float64, len(req.Columns))
			for name, class := range p.Offsets {
				k, ok := map[string]int{"home": 0, "away": 2}[class]
				if !ok {
					return model.TrainResponse{}, fmt.Errorf("onnx: train: offsets %q: %q: want \"home\" or \"away\"", name, class)
				}
				j, err := column("offsets", name)
				if err != nil {
					return model.TrainResponse{}, err
				}
				offset[j][k] = 1
			}
		}
		l2 := p.L2
		var warm *logReg
		if len(p.L2Grid) > 0 {
			var best float64
			var err error
			if l2, best, warm, err = chooseL2(ctx, req.Rows, y, p.L2Grid, free, offset); err != nil {
				return model.TrainResponse{}, err
			}
			extra = map[string]float64{"chosen_l2": l2, "validation_log_loss": best}
		}
		lr, err := fitLogRegFrom(req.Rows, y, l2, free, offset, warm)
		if err != nil {
			return model.TrainResponse{}, err
		}
		artifact, predict = lr.onnx(), lr.predict
		if extra == nil {
			extra = map[string]float64{}
		}
		extra["fit_iterations"] = float64(lr.Iterations)
	case "gbt":
		g, err := fitGBT(req.Rows, y, p.gbtParams)
		if err != nil {
			return model.TrainResponse{}, err
		}
		artifact, predict = g.onnx(len(req.Columns)), g.predict
	default:
		return model.TrainResponse{}, fmt.Errorf("onnx: train: algorithm %q is not logreg or gbt", p.Algorithm)
	}
	var ll float64
	for i, r := range req.Rows {
		ll -= math.Log(math.Max(predict(r)[y[i]], 1e-15))
	}
	metrics := map[string]float64{"train_log_loss": ll / float64(len(y)), "train_rows": float64(len(y))}
	for k, v := range extra {
		metrics[k] = v
	}
	return model.TrainResponse{
		Artifact:  artifact,
		Signature: model.Signature{Inputs: slices.Clone(req.Columns), Outputs: model.Outputs},
		Metrics:   metrics,
	}, ctx.Err()
}

// chooseL2 fits each l2 of the grid on the first 80% of the rows (they come
// in kick-off order) and scores log-loss on the last 20%, strongest penalty
// first, each fit starting from the last one's optimum (the path is found in
// a fraction of the iterations). It returns the best l2, its validation
// log-loss and its fit, from which the refit on every row starts.
func chooseL2(ctx context.Context, rows [][]float64, y []int, grid []float64, free []bool, offset [][3]float64) (float64, float64, *logReg, error) {
	cut := len(rows) * 4 / 5
	if cut < 1 || cut == len(rows) {
		return 0, 0, nil, fmt.Errorf("onnx: train: %d rows are too few to choose l2 from l2_grid", len(rows))
	}
	grid = slices.Clone(grid)
	slices.SortFunc(grid, func(a, b float64) int { return cmp.Compare(b, a) })
	best, l2 := math.Inf(1), 0.0
	var prev, chosen *logReg
	for _, candidate := range grid {
		if !(candidate >= 0) {
			return 0, 0, nil, fmt.Errorf("onnx: train: l2_grid value %v is not a non-negative number", candidate)
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
