// Package model is the contract of a model plugin: a runtime that turns
// feature rows into home/draw/away probabilities, and optionally a Trainer
// that fits a model and returns its artifact and signature.
//
// Check an implementation with modeltest.Run.
package model

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Model is implemented by model plugins.
type Model interface {
	// Describe says what the runtime is and whether it can train.
	Describe(ctx context.Context) (Description, error)
	// Load replaces the loaded model with an artifact and its signature.
	Load(ctx context.Context, req LoadRequest) error
	// Predict returns one forecast per row, in order. It must be safe to call
	// concurrently, and fail before any model is loaded.
	Predict(ctx context.Context, req PredictRequest) (PredictResponse, error)
}

// Trainer is the optional capability of fitting a model. A plugin whose
// Model also implements Trainer reports Description.Trainer = true.
type Trainer interface {
	Train(ctx context.Context, req TrainRequest) (TrainResponse, error)
}

// RowTrainer is an optional capability beside Trainer: a trainer that
// takes the training set row by row as the host sends it, and so keeps it
// in whatever form suits it (an sdk interface over the same TrainStream
// protocol). A million matches' rows are a gigabyte as TrainRequest.Rows;
// a trainer that needs fewer of their values, or fewer bytes per value,
// keeps only those. When the host streams a training set (every host since
// TrainStream does), Serve calls TrainRows instead of Train; Train is still
// used for a training set given whole. TrainRows must fit what Train fits
// on the same rows (modeltest checks the artifacts are equal).
type RowTrainer interface {
	Trainer
	// TrainRows fits a model on what rows yields: req has the columns,
	// params and seed, and no rows, outcomes or played matches.
	TrainRows(ctx context.Context, req TrainRequest, rows Rows) (TrainResponse, error)
}

// Rows yields a training set in order (kick-off order from the host): each
// row with its outcome and, when the host sends them, its match (nil
// otherwise; for every row or for none). The row's slice is reused once
// yield returns: keep a copy of what is needed. Rows may be called once;
// it returns the error that cut the training set short (a malformed chunk,
// a cancelled stream), and then the trainer must fail with it.
type Rows func(yield func(row []float64, outcome soccer.Result, played *Played) bool) error

// Factory builds a Model when the host configures the plugin: ctx is the
// configuring call's, env carries the plugin's settings and logger.
type Factory func(ctx context.Context, env plugin.Env) (Model, error)

// Description says what a model runtime is.
type Description struct {
	// Name and Version may be left empty: the plugin's Serve fills them in
	// from its name and its binary's build information.
	Name    string
	Version string
	// Runtime names the inference engine, for example "onnxruntime 1.24".
	Runtime string
	Trainer bool
}

// Signature is the MLflow-style contract of a model: its ordered input
// columns and its outputs.
type Signature struct {
	Inputs  []soccer.Column
	Outputs []soccer.Column
}

// Outputs is the output signature every SoccerPredict model has.
var Outputs = []soccer.Column{{Name: "home", Type: "double"}, {Name: "draw", Type: "double"}, {Name: "away", Type: "double"}}

// CheckInputs returns an error naming every column where the signature's
// inputs differ from the given feature columns (name, type or position).
func (s Signature) CheckInputs(features []soccer.Column) error {
	var diffs []string
	n := max(len(s.Inputs), len(features))
	for i := range n {
		switch {
		case i >= len(s.Inputs):
			diffs = append(diffs, fmt.Sprintf("#%d %q (%s) is a feature the model does not take", i, features[i].Name, features[i].Type))
		case i >= len(features):
			diffs = append(diffs, fmt.Sprintf("#%d %q (%s) is a model input the features do not provide", i, s.Inputs[i].Name, s.Inputs[i].Type))
		case s.Inputs[i] != features[i]:
			diffs = append(diffs, fmt.Sprintf("#%d model wants %q (%s), features give %q (%s)", i, s.Inputs[i].Name, s.Inputs[i].Type, features[i].Name, features[i].Type))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("model signature does not match the feature schema: %s", strings.Join(diffs, "; "))
	}
	return nil
}

// LoadRequest carries a model artifact (for example an ONNX file) and its signature.
type LoadRequest struct {
	Artifact  []byte
	Signature Signature
}

// PredictRequest carries feature rows, each with len(Signature.Inputs) values.
type PredictRequest struct {
	Rows [][]float64
}

// PredictResponse has one forecast per row, in order.
type PredictResponse struct {
	Probabilities []soccer.Probabilities
	// Markets (model API 1.1) are a goals model's markets, one per row, in
	// order; nil from a model that forecasts home/draw/away only.
	Markets []soccer.GoalMarkets
}

// Played is what the host knows of a training row's match besides its
// outcome (model API 1.1): when it kicked off and its full-time score, for a
// goals model and for weighting recent matches more.
type Played struct {
	Kickoff              time.Time
	HomeGoals, AwayGoals int
}

// TrainRequest is a training set: rows of feature values and their outcomes.
type TrainRequest struct {
	Columns []soccer.Column
	// Rows come in kick-off order (the host's point-in-time replay), so a
	// trainer may hold out the last rows to choose its hyper-parameters.
	Rows     [][]float64
	Outcomes []soccer.Result
	// Played has each row's match (model API 1.1), in the order of Rows;
	// empty when the host is older than 1.1.
	Played []Played
	// Params are the trainer's hyper-parameters as JSON.
	Params []byte
	// Seed makes training reproducible.
	Seed int64
}

// TrainResponse is a fitted model.
type TrainResponse struct {
	Artifact  []byte
	Signature Signature
	Metrics   map[string]float64
}
