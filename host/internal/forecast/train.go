package forecast

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/model"
)

// Trainer fits models with a model plugin.
type Trainer struct {
	Model         interface{ model.Trainer }
	ModelPlugin   string
	FeaturePlugin string
	// Params are the model plugin's hyper-parameters (JSON object).
	Params map[string]any
	Seed   int64
}

// Train fits a model on examples and returns the version to register.
func (t Trainer) Train(ctx context.Context, d Dataset, examples []replay.Example) (store.ModelVersion, error) {
	if len(examples) == 0 {
		return store.ModelVersion{}, fmt.Errorf("train: no examples")
	}
	params, err := json.Marshal(t.Params)
	if err != nil {
		return store.ModelVersion{}, fmt.Errorf("train params: %w", err)
	}
	if t.Params == nil {
		params = []byte("{}")
	}
	resp, err := t.Model.Train(ctx, d.TrainRequest(examples, params, t.Seed))
	if err != nil {
		return store.ModelVersion{}, fmt.Errorf("train: %w", err)
	}
	if err := resp.Signature.CheckInputs(d.Schema.Columns); err != nil {
		return store.ModelVersion{}, fmt.Errorf("train: the model plugin answered a model that does not fit the features: %w", err)
	}
	// The plugin counts its rows (a match with pre-match odds is two: with
	// and without them); the matches are what people count.
	metrics := map[string]float64{"train_matches": float64(len(examples))}
	for k, v := range resp.Metrics {
		metrics[k] = v
	}
	name := t.ModelPlugin
	if alg, ok := t.Params["algorithm"].(string); ok {
		name += "-" + alg
	}
	return store.ModelVersion{Name: name, ModelPlugin: t.ModelPlugin, Artifact: resp.Artifact, Signature: resp.Signature,
		FeaturePlugin: t.FeaturePlugin, FeatureSchemaVersion: d.Schema.Version, Params: params, Metrics: metrics,
		TrainingDataHash: replay.Hash(examples)}, nil
}
