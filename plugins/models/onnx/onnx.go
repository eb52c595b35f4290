// Package onnx is the model plugin "onnx": it trains home/draw/away models
// in Go and serves them with ONNX Runtime. It is the only package in
// SoccerPredict that uses cgo (github.com/yalue/onnxruntime_go).
//
// Train is the trainer package's (a multinomial logistic regression or
// gradient-boosted trees, each exported as an ONNX graph), shared with the
// pure-Go runtime onnxgo, so either plugin serves what the other trained.
// Load opens such a graph with ONNX Runtime (intra-op threads 1); Predict
// runs batches, safely from many goroutines, and a row's forecast never
// depends on the other rows of its batch.
//
// Start with New (settings: where the ONNX Runtime library is).
package onnx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/soccerpredict/soccerpredict/plugins/models/onnx/trainer"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
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
func New(_ context.Context, env plugin.Env) (model.Model, error) {
	var s Settings
	if err := env.Settings.Decode(&s); err != nil {
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
			p = trainer.Softmax(p)
		}
		resp.Probabilities[i] = soccer.Probabilities{Home: p[0], Draw: p[1], Away: p[2]}
	}
	return resp, nil
}

// Train implements model.Trainer with the shared trainer: both runtimes
// serve exactly the artifacts it writes.
func (m *Model) Train(ctx context.Context, req model.TrainRequest) (model.TrainResponse, error) {
	return trainer.Train(ctx, req)
}

// TrainRows implements model.RowTrainer: the rows are kept as the model
// needs them as they arrive, not as a whole request.
func (m *Model) TrainRows(ctx context.Context, req model.TrainRequest, rows model.Rows) (model.TrainResponse, error) {
	return trainer.TrainRows(ctx, req, rows)
}

var _ model.RowTrainer = (*Model)(nil)
