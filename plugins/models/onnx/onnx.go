// Package onnx is a model plugin: it trains home/draw/away models in Go and
// serves them with ONNX Runtime. It is the only module in SoccerPredict that
// uses cgo (github.com/yalue/onnxruntime_go).
//
// Train fits a multinomial logistic regression (standardised inputs, L2) or
// gradient-boosted trees and exports each as an ONNX graph: MatMul, Add and
// Softmax for the regression; one ai.onnx.ml TreeEnsembleClassifier (opset 3)
// for the trees. Load opens such a graph with ONNX Runtime (intra-op threads
// 1); Predict evaluates a batch row by row (so a forecast never depends on
// its batch-mates), safely from many goroutines.
//
// Start with New (settings: where the ONNX Runtime library is) and Train.
package onnx

import (
	"bytes"
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
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(req.Artifact, []string{"features"}, []string{"probabilities"}, opts)
	if err != nil {
		return fmt.Errorf("onnx: load: not an ONNX graph with input \"features\" and output \"probabilities\": %w", err)
	}
	m.mu.Lock()
	old := m.session
	m.session, m.width = s, len(req.Signature.Inputs)
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
	for i, r := range req.Rows {
		if len(r) != m.width {
			return model.PredictResponse{}, fmt.Errorf("onnx: row %d has %d values, the model takes %d", i, len(r), m.width)
		}
	}
	// One run per row, into one reused input tensor: ONNX Runtime's
	// vectorised kernels (exp in Softmax) round an element differently by
	// its position in the tensor, so a row run inside a batch could differ in
	// the last bit from the same row run alone. The host batches concurrent
	// requests; a forecast must never depend on its batch-mates. The gRPC
	// round trip, not the run, is what batching saves.
	in, err := ort.NewTensor(ort.NewShape(1, int64(m.width)), make([]float64, m.width))
	if err != nil {
		return model.PredictResponse{}, fmt.Errorf("onnx: input: %w", err)
	}
	defer in.Destroy()
	resp := model.PredictResponse{Probabilities: make([]soccer.Probabilities, len(req.Rows))}
	for i, r := range req.Rows {
		copy(in.GetData(), r)
		p, err := m.run(in)
		if err != nil {
			return model.PredictResponse{}, fmt.Errorf("onnx: row %d: %w", i, err)
		}
		resp.Probabilities[i] = p
	}
	return resp, nil
}

// run evaluates one row already in the input tensor.
func (m *Model) run(in *ort.Tensor[float64]) (soccer.Probabilities, error) {
	outs := []ort.Value{nil}
	if err := m.session.Run([]ort.Value{in}, outs); err != nil {
		return soccer.Probabilities{}, fmt.Errorf("run: %w", err)
	}
	defer outs[0].Destroy()
	var p [3]float64
	switch t := outs[0].(type) {
	case *ort.Tensor[float64]:
		if d := t.GetData(); len(d) == 3 {
			copy(p[:], d)
		} else {
			return soccer.Probabilities{}, fmt.Errorf("%d outputs for one row, want 3", len(d))
		}
	case *ort.Tensor[float32]:
		d := t.GetData()
		if len(d) != 3 {
			return soccer.Probabilities{}, fmt.Errorf("%d outputs for one row, want 3", len(d))
		}
		for k, v := range d {
			p[k] = float64(v)
		}
	default:
		return soccer.Probabilities{}, fmt.Errorf("output is %T, want a float tensor", outs[0])
	}
	return soccer.Probabilities{Home: p[0], Draw: p[1], Away: p[2]}, nil
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
	)
	switch p.Algorithm {
	case "logreg":
		lr, err := fitLogReg(req.Rows, y, p.L2)
		if err != nil {
			return model.TrainResponse{}, err
		}
		artifact, predict = lr.onnx(), lr.predict
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
	return model.TrainResponse{
		Artifact:  artifact,
		Signature: model.Signature{Inputs: slices.Clone(req.Columns), Outputs: model.Outputs},
		Metrics:   map[string]float64{"train_log_loss": ll / float64(len(y)), "train_rows": float64(len(y))},
	}, ctx.Err()
}
