// Package onnxgo is SoccerPredict's second model runtime: ONNX graphs
// evaluated in pure Go, no cgo and no shared library. It serves the artifacts
// the trainer package writes (the logistic regression's MatMul, Add and
// Softmax in float64; the gradient-boosted trees' ai.onnx.ml
// TreeEnsembleClassifier) with the numbers ONNX Runtime gives, and trains
// with the same trainer, so an operator swaps the onnx plugin for this one by
// pointing model.plugin at it.
//
// It implements the operators listed in Supported, on 2-D tensors of float
// and double. A graph using any other operator is refused at Load with an
// error naming it; such a model (say, one imported from MLflow) is served by
// the onnx plugin.
package onnxgo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/soccerpredict/soccerpredict/plugins/models/onnx/trainer"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Version is the plugin's own version.
const Version = "1.0.0"

// Model is the plugin's model.Model and model.Trainer.
type Model struct {
	mu    sync.RWMutex
	prog  *Program
	width int
	// logits is true when the program computes the graph's "logits" output,
	// which Predict turns into probabilities with the trainer's softmax, as
	// the onnx plugin does: both runtimes give the same bits for the
	// logistic regression.
	logits bool
}

// New returns an empty model. The plugin has no settings; any key is an error.
func New(_ context.Context, env plugin.Env) (model.Model, error) {
	var none struct{}
	if err := env.Settings.Decode(&none); err != nil {
		return nil, fmt.Errorf("onnxgo: %w (this plugin takes no settings)", err)
	}
	return &Model{}, nil
}

// Describe implements model.Model.
func (m *Model) Describe(context.Context) (model.Description, error) {
	return model.Description{Name: "onnxgo", Version: Version, Runtime: "pure Go", Trainer: true}, nil
}

// Load implements model.Model: the artifact is an ONNX graph with a double
// (or float) input "features" [N, len(inputs)] and an output
// "probabilities" [N, 3].
func (m *Model) Load(_ context.Context, req model.LoadRequest) error {
	if len(req.Signature.Inputs) == 0 {
		return errors.New("onnxgo: load: the signature has no inputs")
	}
	if !slices.Equal(req.Signature.Outputs, model.Outputs) {
		return fmt.Errorf("onnxgo: load: signature outputs %v, want %v", req.Signature.Outputs, model.Outputs)
	}
	prog, err := Compile(req.Artifact, "features", "logits", "probabilities")
	if err != nil {
		return fmt.Errorf("onnxgo: load: %w", err)
	}
	logits := prog.Output() == "logits"
	if prog.inputWidth >= 0 && prog.inputWidth != len(req.Signature.Inputs) {
		return fmt.Errorf("onnxgo: load: the graph takes %d features, the signature has %d inputs", prog.inputWidth, len(req.Signature.Inputs))
	}
	m.mu.Lock()
	m.prog, m.width, m.logits = prog, len(req.Signature.Inputs), logits
	m.mu.Unlock()
	return nil
}

// Predict implements model.Model; it is safe from many goroutines and
// across Load.
func (m *Model) Predict(_ context.Context, req model.PredictRequest) (model.PredictResponse, error) {
	m.mu.RLock()
	prog, width, logits := m.prog, m.width, m.logits
	m.mu.RUnlock()
	if prog == nil {
		return model.PredictResponse{}, errors.New("onnxgo: no model loaded")
	}
	if len(req.Rows) == 0 {
		return model.PredictResponse{}, nil
	}
	for i, r := range req.Rows {
		if len(r) != width {
			return model.PredictResponse{}, fmt.Errorf("onnxgo: row %d has %d values, the model takes %d", i, len(r), width)
		}
	}
	out, err := prog.Run(req.Rows)
	if err != nil {
		return model.PredictResponse{}, fmt.Errorf("onnxgo: run: %w", err)
	}
	resp := model.PredictResponse{Probabilities: make([]soccer.Probabilities, len(out))}
	for i, o := range out {
		if len(o) != 3 {
			return model.PredictResponse{}, fmt.Errorf("onnxgo: the graph gives %d values per row, want 3", len(o))
		}
		p := [3]float64{o[0], o[1], o[2]}
		if logits {
			p = trainer.Softmax(p)
		}
		resp.Probabilities[i] = soccer.Probabilities{Home: p[0], Draw: p[1], Away: p[2]}
	}
	return resp, nil
}

// Train implements model.Trainer with the shared trainer.
func (m *Model) Train(ctx context.Context, req model.TrainRequest) (model.TrainResponse, error) {
	return trainer.Train(ctx, req)
}

// TrainRows implements model.RowTrainer: the rows are kept as the model
// needs them as they arrive, not as a whole request.
func (m *Model) TrainRows(ctx context.Context, req model.TrainRequest, rows model.Rows) (model.TrainResponse, error) {
	return trainer.TrainRows(ctx, req, rows)
}

var _ model.RowTrainer = (*Model)(nil)
