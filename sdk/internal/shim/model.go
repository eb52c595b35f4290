package shim

import (
	"context"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/soccerpredict/soccerpredict/sdk/internal/convert"
	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

type modelServer struct {
	pb.UnimplementedModelServer
	impl          *Lazy[model.Model]
	name, version string
}

func (s *modelServer) Describe(ctx context.Context, _ *pb.DescribeModelRequest) (*pb.DescribeModelResponse, error) {
	m, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	d, err := m.Describe(ctx)
	if err != nil {
		return nil, ToStatus(err)
	}
	_, trainer := m.(model.Trainer)
	d.Name, d.Version = orDefault(d.Name, s.name), orDefault(d.Version, s.version)
	return &pb.DescribeModelResponse{Name: d.Name, Version: d.Version, Runtime: d.Runtime, Trainer: trainer}, nil
}

func (s *modelServer) Load(ctx context.Context, req *pb.LoadRequest) (*pb.LoadResponse, error) {
	m, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	if err := m.Load(ctx, model.LoadRequest{Artifact: req.GetArtifact(), Signature: convert.SignatureFromProto(req.GetSignature())}); err != nil {
		return nil, ToStatus(err)
	}
	return &pb.LoadResponse{}, nil
}

func (s *modelServer) Predict(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	m, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	rows, err := convert.Unflatten(req.GetValues(), int(req.GetColumns()))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp, err := m.Predict(ctx, model.PredictRequest{Rows: rows})
	if err != nil {
		return nil, ToStatus(err)
	}
	out := &pb.PredictResponse{Probabilities: make([]float64, 0, 3*len(resp.Probabilities)), Markets: convert.MarketsToProto(resp.Markets)}
	for _, p := range resp.Probabilities {
		out.Probabilities = append(out.Probabilities, p.Home, p.Draw, p.Away)
	}
	return out, nil
}

func (s *modelServer) trainer() (model.Trainer, error) {
	m, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	tr, ok := m.(model.Trainer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this model plugin cannot train")
	}
	return tr, nil
}

// addRows appends one message's rows, outcomes and played matches to req.
func addRows(req *model.TrainRequest, values []float64, outcomes []int32, played []*pb.Played) error {
	rows, err := convert.Unflatten(values, len(req.Columns))
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if len(rows) != len(outcomes) {
		return status.Errorf(codes.InvalidArgument, "%d rows and %d outcomes", len(rows), len(outcomes))
	}
	if len(played) != 0 && len(played) != len(rows) || len(played) == 0 && len(rows) > 0 && len(req.Played) != 0 {
		return status.Errorf(codes.InvalidArgument, "%d rows and %d played matches (give one per row, or none)", len(rows), len(played))
	}
	for _, p := range played {
		req.Played = append(req.Played, convert.PlayedFromProto(p))
	}
	for i, o := range outcomes {
		if o < 0 || o > 2 {
			return status.Errorf(codes.InvalidArgument, "outcome %d is %d, not 0 (H), 1 (D) or 2 (A)", len(req.Outcomes)+i, o)
		}
		req.Outcomes = append(req.Outcomes, [...]soccer.Result{soccer.HomeWin, soccer.Draw, soccer.AwayWin}[o])
	}
	req.Rows = append(req.Rows, rows...)
	return nil
}

func train(ctx context.Context, tr model.Trainer, req model.TrainRequest) (*pb.TrainResponse, error) {
	resp, err := tr.Train(ctx, req)
	if err != nil {
		return nil, ToStatus(err)
	}
	return &pb.TrainResponse{Artifact: resp.Artifact, Signature: convert.SignatureToProto(resp.Signature), Metrics: resp.Metrics}, nil
}

func (s *modelServer) Train(ctx context.Context, req *pb.TrainRequest) (*pb.TrainResponse, error) {
	tr, err := s.trainer()
	if err != nil {
		return nil, err
	}
	r := model.TrainRequest{Columns: convert.ColumnsFromProto(req.GetColumns()), Params: req.GetParamsJson(), Seed: req.GetSeed()}
	if err := addRows(&r, req.GetValues(), req.GetOutcomes(), req.GetPlayed()); err != nil {
		return nil, err
	}
	return train(ctx, tr, r)
}

// TrainStream is Train with the training set in chunks (any size).
func (s *modelServer) TrainStream(stream pb.Model_TrainStreamServer) error {
	tr, err := s.trainer()
	if err != nil {
		return err
	}
	if rt, ok := tr.(model.RowTrainer); ok {
		return trainRows(stream, rt)
	}
	var req model.TrainRequest
	for n := 0; ; n++ {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n == 0 {
			req.Columns, req.Params, req.Seed = convert.ColumnsFromProto(chunk.GetColumns()), chunk.GetParamsJson(), chunk.GetSeed()
			if len(req.Columns) == 0 {
				return status.Error(codes.InvalidArgument, "the first training chunk names no columns")
			}
		}
		if err := addRows(&req, chunk.GetValues(), chunk.GetOutcomes(), chunk.GetPlayed()); err != nil {
			return status.Errorf(codes.InvalidArgument, "training chunk %d: %s", n, status.Convert(err).Message())
		}
	}
	resp, err := train(stream.Context(), tr, req)
	if err != nil {
		return err
	}
	return stream.SendAndClose(resp)
}

// trainRows is TrainStream for a RowTrainer: the rows go to the trainer
// as each chunk arrives, checked as addRows checks them, and no chunk is
// kept once its rows are yielded.
func trainRows(stream pb.Model_TrainStreamServer, rt model.RowTrainer) error {
	first, err := stream.Recv()
	if err == io.EOF {
		return status.Error(codes.InvalidArgument, "the training stream has no chunks")
	}
	if err != nil {
		return err
	}
	req := model.TrainRequest{Columns: convert.ColumnsFromProto(first.GetColumns()), Params: first.GetParamsJson(), Seed: first.GetSeed()}
	width := len(req.Columns)
	if width == 0 {
		return status.Error(codes.InvalidArgument, "the first training chunk names no columns")
	}
	var streamErr error // what cut the rows short: the trainer must fail with it
	used := false
	rows := func(yield func([]float64, soccer.Result, *model.Played) bool) error {
		if used {
			return status.Error(codes.FailedPrecondition, "the training rows were already read")
		}
		used = true
		withPlayed, known := false, false // whether rows come with their matches, once a chunk has rows
		row := make([]float64, width)
		var played model.Played
		rowsSoFar := 0
		for n, chunk := 0, first; ; n++ {
			values, outcomes, ps := chunk.GetValues(), chunk.GetOutcomes(), chunk.GetPlayed()
			if !known && len(outcomes) > 0 {
				withPlayed, known = len(ps) > 0, true
			}
			switch {
			case len(values) != len(outcomes)*width:
				streamErr = status.Errorf(codes.InvalidArgument, "training chunk %d: %d values for %d rows of %d columns", n, len(values), len(outcomes), width)
			case len(ps) != 0 && len(ps) != len(outcomes) || (len(ps) > 0) != withPlayed && len(outcomes) > 0:
				streamErr = status.Errorf(codes.InvalidArgument, "training chunk %d: %d rows and %d played matches (give one per row, or none)", n, len(outcomes), len(ps))
			}
			if streamErr != nil {
				return streamErr
			}
			for i, o := range outcomes {
				if o < 0 || o > 2 {
					streamErr = status.Errorf(codes.InvalidArgument, "training chunk %d: outcome %d is %d, not 0 (H), 1 (D) or 2 (A)", n, rowsSoFar+i, o)
					return streamErr
				}
				copy(row, values[i*width:(i+1)*width])
				var p *model.Played
				if withPlayed {
					played = convert.PlayedFromProto(ps[i])
					p = &played
				}
				if !yield(row, [...]soccer.Result{soccer.HomeWin, soccer.Draw, soccer.AwayWin}[o], p) {
					return nil
				}
			}
			rowsSoFar += len(outcomes)
			next, err := stream.Recv()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				streamErr = err
				return err
			}
			chunk = next
		}
	}
	resp, err := rt.TrainRows(stream.Context(), req, rows)
	if streamErr != nil {
		return streamErr
	}
	if err != nil {
		return ToStatus(err)
	}
	return stream.SendAndClose(&pb.TrainResponse{Artifact: resp.Artifact, Signature: convert.SignatureToProto(resp.Signature), Metrics: resp.Metrics})
}
