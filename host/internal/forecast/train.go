package forecast

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"

	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features"
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
	return t.TrainSeq(ctx, d, slices.Values(examples))
}

// TrainSeq is Train on examples as they are yielded (a filter over a
// Dataset, with no copy of its examples).
func (t Trainer) TrainSeq(ctx context.Context, d Dataset, examples iter.Seq[replay.Example]) (store.ModelVersion, error) {
	params, err := t.params()
	if err != nil {
		return store.ModelVersion{}, err
	}
	req, n, hash := d.TrainRequest(examples, params, t.Seed)
	if n == 0 {
		return store.ModelVersion{}, fmt.Errorf("train: no examples")
	}
	resp, err := t.Model.Train(ctx, req)
	if err != nil {
		return store.ModelVersion{}, fmt.Errorf("train: %w", err)
	}
	return t.version(resp, d.Schema, n, params, hash)
}

// version is the model version a plugin's answer makes.
func (t Trainer) version(resp model.TrainResponse, schema features.Schema, matches int, params []byte, dataHash string) (store.ModelVersion, error) {
	if err := resp.Signature.CheckInputs(schema.Columns); err != nil {
		return store.ModelVersion{}, fmt.Errorf("train: the model plugin answered a model that does not fit the features: %w", err)
	}
	// The plugin counts its rows (a match with pre-match odds is two: with
	// and without them); the matches are what people count.
	metrics := map[string]float64{"train_matches": float64(matches)}
	for k, v := range resp.Metrics {
		metrics[k] = v
	}
	name := t.ModelPlugin
	if alg, ok := t.Params["algorithm"].(string); ok {
		name += "-" + alg
	}
	return store.ModelVersion{Name: name, ModelPlugin: t.ModelPlugin, Artifact: resp.Artifact, Signature: resp.Signature,
		FeaturePlugin: t.FeaturePlugin, FeatureSchemaVersion: schema.Version, Params: params, Metrics: metrics,
		TrainingDataHash: dataHash}, nil
}

func (t Trainer) params() ([]byte, error) {
	if t.Params == nil {
		return []byte("{}"), nil
	}
	params, err := json.Marshal(t.Params)
	if err != nil {
		return nil, fmt.Errorf("train params: %w", err)
	}
	return params, nil
}
