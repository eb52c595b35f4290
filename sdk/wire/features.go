package wire

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/internal/convert"
	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
)

// ObserveChunk is how many matches one Observe message carries; a long
// history is sent in order as several calls.
const ObserveChunk = 2000

// FeaturesClient is the host's side of a feature plugin.
type FeaturesClient struct {
	control  pb.ControlClient
	features pb.FeaturesClient
	fast     atomic.Pointer[fastClient]
}

var (
	_ features.FeatureSet = (*FeaturesClient)(nil)
	_ Configurer          = (*FeaturesClient)(nil)
)

// Configure negotiates the API version and hands the plugin its settings.
func (c *FeaturesClient) Configure(ctx context.Context, settings plugin.Settings) (Identity, error) {
	return configure(ctx, c.control, KindFeatures, settings, &c.fast)
}

// Transport is how Compute travels: "fast" or "grpc" (see ModelClient.Transport).
func (c *FeaturesClient) Transport() string { return c.fast.Load().transport() }

// features.Schema implements FeatureSet.
func (c *FeaturesClient) Schema(ctx context.Context) (features.Schema, error) {
	resp, err := c.features.Schema(ctx, &pb.SchemaRequest{})
	if err != nil {
		return features.Schema{}, FromStatus(err)
	}
	return features.Schema{Version: resp.GetVersion(), Columns: convert.ColumnsFromProto(resp.GetColumns())}, nil
}

// Observe implements FeatureSet, sending a long history in ordered chunks.
func (c *FeaturesClient) Observe(ctx context.Context, req features.ObserveRequest) error {
	for i := 0; i < len(req.Matches) || i == 0; i += ObserveChunk {
		end := min(i+ObserveChunk, len(req.Matches))
		if _, err := c.features.Observe(ctx, &pb.ObserveRequest{Matches: convert.MatchesToProto(req.Matches[i:end])}); err != nil {
			return FromStatus(err)
		}
		if end == len(req.Matches) {
			break
		}
	}
	return nil
}

// Compute implements FeatureSet.
func (c *FeaturesClient) Compute(ctx context.Context, req features.ComputeRequest) (features.ComputeResponse, error) {
	creq, resp := &pb.ComputeRequest{Fixtures: convert.FixturesToProto(req.Fixtures)}, &pb.ComputeResponse{}
	err := c.fast.Load().call(ctx, FastCompute, creq, resp)
	if errors.Is(err, errNoFast) {
		resp, err = c.features.Compute(ctx, creq)
		err = FromStatus(err)
	}
	if err != nil {
		return features.ComputeResponse{}, err
	}
	out := features.ComputeResponse{Rows: make([]features.Row, len(resp.GetRows()))}
	for i, r := range resp.GetRows() {
		out.Rows[i] = features.Row{FixtureID: r.GetFixtureId(), Values: r.GetValues()}
	}
	return out, nil
}

// Snapshot implements FeatureSet.
func (c *FeaturesClient) Snapshot(ctx context.Context) ([]byte, error) {
	resp, err := c.features.Snapshot(ctx, &pb.SnapshotRequest{})
	if err != nil {
		return nil, FromStatus(err)
	}
	return resp.GetState(), nil
}

// Restore implements FeatureSet.
func (c *FeaturesClient) Restore(ctx context.Context, state []byte) error {
	if _, err := c.features.Restore(ctx, &pb.RestoreRequest{State: state}); err != nil {
		return FromStatus(err)
	}
	return nil
}
