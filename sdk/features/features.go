// Package features is the contract of a feature plugin: an online state
// machine over completed matches.
//
// Observe feeds completed matches in kick-off order; Compute returns one
// feature row per fixture from the state as it stands now. Training data is
// made by replaying history (for each match day: Compute the fixtures, then
// Observe their results), and serving calls the very same code, so features
// are point-in-time correct and identical offline and online.
//
// Check an implementation with featuretest.Run.
package features

import (
	"context"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// FeatureSet is implemented by feature plugins.
type FeatureSet interface {
	// Schema lists the feature columns, in the order of every row's values.
	Schema(ctx context.Context) (Schema, error)
	// Observe updates the state with completed matches. They must come in
	// kick-off order, also across calls; an earlier match is an error.
	//
	// Each call is all or nothing: when Observe returns an error the state
	// is as it was before the call (check the whole batch, then apply it).
	// The host sends a long history as several calls in order, each its own
	// unit; featuretest checks both rules.
	Observe(ctx context.Context, req ObserveRequest) error
	// Compute returns one row per fixture, in the fixtures' order, from the
	// state as it is now. It must not change the state.
	Compute(ctx context.Context, req ComputeRequest) (ComputeResponse, error)
	// Snapshot serialises the state; Restore replaces the state with one.
	Snapshot(ctx context.Context) ([]byte, error)
	Restore(ctx context.Context, state []byte) error
}

// Factory builds a FeatureSet when the host configures the plugin: ctx is
// the configuring call's, env carries the plugin's settings and logger.
type Factory func(ctx context.Context, env plugin.Env) (FeatureSet, error)

// Schema describes feature rows.
type Schema struct {
	// Version changes whenever the meaning or order of the columns does.
	Version string
	Columns []soccer.Column
}

// Names returns the column names in order.
func (s Schema) Names() []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Name
	}
	return out
}

// ObserveRequest carries completed matches in kick-off order.
type ObserveRequest struct {
	Matches []soccer.Match
}

// ComputeRequest carries the fixtures to compute rows for.
type ComputeRequest struct {
	Fixtures []soccer.Fixture
}

// ComputeResponse has one row per requested fixture, in order.
type ComputeResponse struct {
	Rows []Row
}

// Row is the feature values of one fixture, in Schema order.
type Row struct {
	FixtureID string
	Values    []float64
}
