package shim

import (
	"context"

	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/internal/convert"
	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
)

type featuresServer struct {
	pb.UnimplementedFeaturesServer
	impl *Lazy[features.FeatureSet]
}

func (s *featuresServer) Schema(ctx context.Context, _ *pb.SchemaRequest) (*pb.SchemaResponse, error) {
	fs, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	sc, err := fs.Schema(ctx)
	if err != nil {
		return nil, ToStatus(err)
	}
	return &pb.SchemaResponse{Version: sc.Version, Columns: convert.ColumnsToProto(sc.Columns)}, nil
}

func (s *featuresServer) Observe(ctx context.Context, req *pb.ObserveRequest) (*pb.ObserveResponse, error) {
	fs, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	if err := fs.Observe(ctx, features.ObserveRequest{Matches: convert.MatchesFromProto(req.GetMatches())}); err != nil {
		return nil, ToStatus(err)
	}
	return &pb.ObserveResponse{}, nil
}

func (s *featuresServer) Compute(ctx context.Context, req *pb.ComputeRequest) (*pb.ComputeResponse, error) {
	fs, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	resp, err := fs.Compute(ctx, features.ComputeRequest{Fixtures: convert.FixturesFromProto(req.GetFixtures())})
	if err != nil {
		return nil, ToStatus(err)
	}
	out := &pb.ComputeResponse{Rows: make([]*pb.FeatureRow, len(resp.Rows))}
	for i, r := range resp.Rows {
		out.Rows[i] = &pb.FeatureRow{FixtureId: r.FixtureID, Values: r.Values}
	}
	return out, nil
}

func (s *featuresServer) Snapshot(ctx context.Context, _ *pb.SnapshotRequest) (*pb.SnapshotResponse, error) {
	fs, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	state, err := fs.Snapshot(ctx)
	if err != nil {
		return nil, ToStatus(err)
	}
	return &pb.SnapshotResponse{State: state}, nil
}

func (s *featuresServer) Restore(ctx context.Context, req *pb.RestoreRequest) (*pb.RestoreResponse, error) {
	fs, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	if err := fs.Restore(ctx, req.GetState()); err != nil {
		return nil, ToStatus(err)
	}
	return &pb.RestoreResponse{}, nil
}
