package pluginhost

import (
	"context"

	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/source"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// SourceOf returns the plugin as a source.Source that launches, times out and
// relaunches as needed.
func SourceOf(p *Plugin) source.Source { return sourcePlugin{p} }

type sourcePlugin struct{ p *Plugin }

func (s sourcePlugin) Describe(ctx context.Context) (source.Description, error) {
	return call(ctx, s.p, "describe", func(ctx context.Context, c source.Source) (source.Description, error) {
		return c.Describe(ctx)
	})
}

func (s sourcePlugin) Fetch(ctx context.Context, req source.FetchRequest, out source.Sink) error {
	_, err := call(ctx, s.p, "fetch", func(ctx context.Context, c source.Source) (struct{}, error) {
		return struct{}{}, c.Fetch(ctx, req, out)
	})
	return err
}

// FeaturesOf returns the plugin as a features.FeatureSet. Note that a
// relaunched feature plugin starts from an empty state: callers that keep
// state in a plugin restore it from a snapshot.
func FeaturesOf(p *Plugin) features.FeatureSet { return featurePlugin{p} }

type featurePlugin struct{ p *Plugin }

func (f featurePlugin) Schema(ctx context.Context) (features.Schema, error) {
	return call(ctx, f.p, "schema", func(ctx context.Context, c features.FeatureSet) (features.Schema, error) {
		return c.Schema(ctx)
	})
}

func (f featurePlugin) Observe(ctx context.Context, req features.ObserveRequest) error {
	_, err := call(ctx, f.p, "observe", func(ctx context.Context, c features.FeatureSet) (struct{}, error) {
		return struct{}{}, c.Observe(ctx, req)
	})
	return err
}

func (f featurePlugin) Compute(ctx context.Context, req features.ComputeRequest) (features.ComputeResponse, error) {
	return call(ctx, f.p, "compute", func(ctx context.Context, c features.FeatureSet) (features.ComputeResponse, error) {
		return c.Compute(ctx, req)
	})
}

func (f featurePlugin) Snapshot(ctx context.Context) ([]byte, error) {
	return call(ctx, f.p, "snapshot", func(ctx context.Context, c features.FeatureSet) ([]byte, error) {
		return c.Snapshot(ctx)
	})
}

func (f featurePlugin) Restore(ctx context.Context, state []byte) error {
	_, err := call(ctx, f.p, "restore", func(ctx context.Context, c features.FeatureSet) (struct{}, error) {
		return struct{}{}, c.Restore(ctx, state)
	})
	return err
}

// ModelOf returns the plugin as a model.Model and model.Trainer, and one
// that trains from rows made while they are sent (TrainRows).
func ModelOf(p *Plugin) interface {
	model.Model
	model.Trainer
	TrainRows(ctx context.Context, req model.TrainRequest, rows wire.Rows) (model.TrainResponse, error)
} {
	return modelPlugin{p}
}

type modelPlugin struct{ p *Plugin }

func (m modelPlugin) Describe(ctx context.Context) (model.Description, error) {
	return call(ctx, m.p, "describe", func(ctx context.Context, c model.Model) (model.Description, error) {
		return c.Describe(ctx)
	})
}

func (m modelPlugin) Load(ctx context.Context, req model.LoadRequest) error {
	_, err := call(ctx, m.p, "load", func(ctx context.Context, c model.Model) (struct{}, error) {
		return struct{}{}, c.Load(ctx, req)
	})
	return err
}

func (m modelPlugin) Predict(ctx context.Context, req model.PredictRequest) (model.PredictResponse, error) {
	return call(ctx, m.p, "predict", func(ctx context.Context, c model.Model) (model.PredictResponse, error) {
		return c.Predict(ctx, req)
	})
}

// TrainRows is one "train" call (the plugin's long timeout) for the whole
// stream, the making of its rows included.
func (m modelPlugin) TrainRows(ctx context.Context, req model.TrainRequest, rows wire.Rows) (model.TrainResponse, error) {
	return call(ctx, m.p, "train", func(ctx context.Context, c *wire.ModelClient) (model.TrainResponse, error) {
		return c.TrainRows(ctx, req, rows)
	})
}

func (m modelPlugin) Train(ctx context.Context, req model.TrainRequest) (model.TrainResponse, error) {
	return call(ctx, m.p, "train", func(ctx context.Context, c model.Trainer) (model.TrainResponse, error) {
		return c.Train(ctx, req)
	})
}
