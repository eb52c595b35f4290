package features

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/soccerpredict/soccerpredict/sdk/handshake"
	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/internal/shim"
)

// observeChunk is how many matches one Observe message carries; a long
// history is sent in order as several calls.
const observeChunk = 2000

// Plugin is the go-plugin glue of a feature set.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Name    string
	Factory Factory
}

// GRPCServer registers the feature set and its Control service.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	impl := &shim.Lazy[FeatureSet]{Kind: handshake.KindFeatures, Factory: p.Factory}
	pb.RegisterControlServer(s, &shim.ControlServer[FeatureSet]{Name: p.Name, Impl: impl})
	pb.RegisterFeaturesServer(s, &server{impl: impl})
	return nil
}

// GRPCClient returns a *Client, which implements FeatureSet and handshake.Configurer.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Client{control: pb.NewControlClient(c), features: pb.NewFeaturesClient(c)}, nil
}

type server struct {
	pb.UnimplementedFeaturesServer
	impl *shim.Lazy[FeatureSet]
}

func (s *server) Schema(ctx context.Context, _ *pb.SchemaRequest) (*pb.SchemaResponse, error) {
	fs, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	sc, err := fs.Schema(ctx)
	if err != nil {
		return nil, shim.ToStatus(err)
	}
	return &pb.SchemaResponse{Version: sc.Version, Columns: shim.ColumnsToProto(sc.Columns)}, nil
}

func (s *server) Observe(ctx context.Context, req *pb.ObserveRequest) (*pb.ObserveResponse, error) {
	fs, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	if err := fs.Observe(ctx, ObserveRequest{Matches: shim.MatchesFromProto(req.GetMatches())}); err != nil {
		return nil, shim.ToStatus(err)
	}
	return &pb.ObserveResponse{}, nil
}

func (s *server) Compute(ctx context.Context, req *pb.ComputeRequest) (*pb.ComputeResponse, error) {
	fs, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	resp, err := fs.Compute(ctx, ComputeRequest{Fixtures: shim.FixturesFromProto(req.GetFixtures())})
	if err != nil {
		return nil, shim.ToStatus(err)
	}
	out := &pb.ComputeResponse{Rows: make([]*pb.FeatureRow, len(resp.Rows))}
	for i, r := range resp.Rows {
		out.Rows[i] = &pb.FeatureRow{FixtureId: r.FixtureID, Values: r.Values}
	}
	return out, nil
}

func (s *server) Snapshot(ctx context.Context, _ *pb.SnapshotRequest) (*pb.SnapshotResponse, error) {
	fs, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	state, err := fs.Snapshot(ctx)
	if err != nil {
		return nil, shim.ToStatus(err)
	}
	return &pb.SnapshotResponse{State: state}, nil
}

func (s *server) Restore(ctx context.Context, req *pb.RestoreRequest) (*pb.RestoreResponse, error) {
	fs, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	if err := fs.Restore(ctx, req.GetState()); err != nil {
		return nil, shim.ToStatus(err)
	}
	return &pb.RestoreResponse{}, nil
}

// Client is the host's side of a feature plugin.
type Client struct {
	control  pb.ControlClient
	features pb.FeaturesClient
}

var (
	_ FeatureSet           = (*Client)(nil)
	_ handshake.Configurer = (*Client)(nil)
)

// Configure negotiates the API version and hands the plugin its settings.
func (c *Client) Configure(ctx context.Context, settings handshake.Settings) (handshake.Identity, error) {
	return shim.Configure(ctx, c.control, handshake.KindFeatures, settings)
}

// Schema implements FeatureSet.
func (c *Client) Schema(ctx context.Context) (Schema, error) {
	resp, err := c.features.Schema(ctx, &pb.SchemaRequest{})
	if err != nil {
		return Schema{}, shim.FromStatus(err)
	}
	return Schema{Version: resp.GetVersion(), Columns: shim.ColumnsFromProto(resp.GetColumns())}, nil
}

// Observe implements FeatureSet, sending a long history in ordered chunks.
func (c *Client) Observe(ctx context.Context, req ObserveRequest) error {
	for i := 0; i < len(req.Matches) || i == 0; i += observeChunk {
		end := min(i+observeChunk, len(req.Matches))
		if _, err := c.features.Observe(ctx, &pb.ObserveRequest{Matches: shim.MatchesToProto(req.Matches[i:end])}); err != nil {
			return shim.FromStatus(err)
		}
		if end == len(req.Matches) {
			break
		}
	}
	return nil
}

// Compute implements FeatureSet.
func (c *Client) Compute(ctx context.Context, req ComputeRequest) (ComputeResponse, error) {
	resp, err := c.features.Compute(ctx, &pb.ComputeRequest{Fixtures: shim.FixturesToProto(req.Fixtures)})
	if err != nil {
		return ComputeResponse{}, shim.FromStatus(err)
	}
	out := ComputeResponse{Rows: make([]Row, len(resp.GetRows()))}
	for i, r := range resp.GetRows() {
		out.Rows[i] = Row{FixtureID: r.GetFixtureId(), Values: r.GetValues()}
	}
	return out, nil
}

// Snapshot implements FeatureSet.
func (c *Client) Snapshot(ctx context.Context) ([]byte, error) {
	resp, err := c.features.Snapshot(ctx, &pb.SnapshotRequest{})
	if err != nil {
		return nil, shim.FromStatus(err)
	}
	return resp.GetState(), nil
}

// Restore implements FeatureSet.
func (c *Client) Restore(ctx context.Context, state []byte) error {
	if _, err := c.features.Restore(ctx, &pb.RestoreRequest{State: state}); err != nil {
		return shim.FromStatus(err)
	}
	return nil
}
