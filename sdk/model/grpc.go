package model

import (
	"context"
	"fmt"
	"io"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/soccerpredict/soccerpredict/sdk/handshake"
	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/internal/shim"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Plugin is the go-plugin glue of a model runtime.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Name    string
	Factory Factory
}

// GRPCServer registers the model and its Control service.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	impl := &shim.Lazy[Model]{Kind: handshake.KindModel, Factory: p.Factory}
	pb.RegisterControlServer(s, &shim.ControlServer[Model]{Name: p.Name, Impl: impl})
	pb.RegisterModelServer(s, &server{impl: impl})
	return nil
}

// GRPCClient returns a *Client, which implements Model, Trainer and handshake.Configurer.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Client{control: pb.NewControlClient(c), model: pb.NewModelClient(c)}, nil
}

type server struct {
	pb.UnimplementedModelServer
	impl *shim.Lazy[Model]
}

func (s *server) Describe(ctx context.Context, _ *pb.DescribeModelRequest) (*pb.DescribeModelResponse, error) {
	m, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	d, err := m.Describe(ctx)
	if err != nil {
		return nil, shim.ToStatus(err)
	}
	_, trainer := m.(Trainer)
	return &pb.DescribeModelResponse{Name: d.Name, Version: d.Version, Runtime: d.Runtime, Trainer: trainer}, nil
}

func (s *server) Load(ctx context.Context, req *pb.LoadRequest) (*pb.LoadResponse, error) {
	m, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	if err := m.Load(ctx, LoadRequest{Artifact: req.GetArtifact(), Signature: signatureFromProto(req.GetSignature())}); err != nil {
		return nil, shim.ToStatus(err)
	}
	return &pb.LoadResponse{}, nil
}

func (s *server) Predict(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	m, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	rows, err := unflatten(req.GetValues(), int(req.GetColumns()))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp, err := m.Predict(ctx, PredictRequest{Rows: rows})
	if err != nil {
		return nil, shim.ToStatus(err)
	}
	out := &pb.PredictResponse{Probabilities: make([]float64, 0, 3*len(resp.Probabilities))}
	for _, p := range resp.Probabilities {
		out.Probabilities = append(out.Probabilities, p.Home, p.Draw, p.Away)
	}
	return out, nil
}

func (s *server) trainer() (Trainer, error) {
	m, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	tr, ok := m.(Trainer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this model plugin cannot train")
	}
	return tr, nil
}

// addRows appends one message's rows and outcomes to req.
func addRows(req *TrainRequest, values []float64, outcomes []int32) error {
	rows, err := unflatten(values, len(req.Columns))
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if len(rows) != len(outcomes) {
		return status.Errorf(codes.InvalidArgument, "%d rows and %d outcomes", len(rows), len(outcomes))
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

func train(ctx context.Context, tr Trainer, req TrainRequest) (*pb.TrainResponse, error) {
	resp, err := tr.Train(ctx, req)
	if err != nil {
		return nil, shim.ToStatus(err)
	}
	return &pb.TrainResponse{Artifact: resp.Artifact, Signature: signatureToProto(resp.Signature), Metrics: resp.Metrics}, nil
}

func (s *server) Train(ctx context.Context, req *pb.TrainRequest) (*pb.TrainResponse, error) {
	tr, err := s.trainer()
	if err != nil {
		return nil, err
	}
	r := TrainRequest{Columns: shim.ColumnsFromProto(req.GetColumns()), Params: req.GetParamsJson(), Seed: req.GetSeed()}
	if err := addRows(&r, req.GetValues(), req.GetOutcomes()); err != nil {
		return nil, err
	}
	return train(ctx, tr, r)
}

// TrainStream is Train with the training set in chunks (any size).
func (s *server) TrainStream(stream pb.Model_TrainStreamServer) error {
	tr, err := s.trainer()
	if err != nil {
		return err
	}
	var req TrainRequest
	for n := 0; ; n++ {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n == 0 {
			req.Columns, req.Params, req.Seed = shim.ColumnsFromProto(chunk.GetColumns()), chunk.GetParamsJson(), chunk.GetSeed()
			if len(req.Columns) == 0 {
				return status.Error(codes.InvalidArgument, "the first training chunk names no columns")
			}
		}
		if err := addRows(&req, chunk.GetValues(), chunk.GetOutcomes()); err != nil {
			return status.Errorf(codes.InvalidArgument, "training chunk %d: %s", n, status.Convert(err).Message())
		}
	}
	resp, err := train(stream.Context(), tr, req)
	if err != nil {
		return err
	}
	return stream.SendAndClose(resp)
}

// Client is the host's side of a model plugin.
type Client struct {
	control pb.ControlClient
	model   pb.ModelClient
}

var (
	_ Model                = (*Client)(nil)
	_ Trainer              = (*Client)(nil)
	_ handshake.Configurer = (*Client)(nil)
)

// Configure negotiates the API version and hands the plugin its settings.
func (c *Client) Configure(ctx context.Context, settings handshake.Settings) (handshake.Identity, error) {
	return shim.Configure(ctx, c.control, handshake.KindModel, settings)
}

// Describe implements Model.
func (c *Client) Describe(ctx context.Context) (Description, error) {
	d, err := c.model.Describe(ctx, &pb.DescribeModelRequest{})
	if err != nil {
		return Description{}, shim.FromStatus(err)
	}
	return Description{Name: d.GetName(), Version: d.GetVersion(), Runtime: d.GetRuntime(), Trainer: d.GetTrainer()}, nil
}

// Load implements Model.
func (c *Client) Load(ctx context.Context, req LoadRequest) error {
	_, err := c.model.Load(ctx, &pb.LoadRequest{Artifact: req.Artifact, Signature: signatureToProto(req.Signature)})
	return shim.FromStatus(err)
}

// Predict implements Model. It checks that the plugin answered one forecast
// per row; whether each forecast is a valid distribution is the caller's check.
func (c *Client) Predict(ctx context.Context, req PredictRequest) (PredictResponse, error) {
	cols := 0
	if len(req.Rows) > 0 {
		cols = len(req.Rows[0])
	}
	flat := make([]float64, 0, cols*len(req.Rows))
	for i, r := range req.Rows {
		if len(r) != cols {
			return PredictResponse{}, fmt.Errorf("predict: row %d has %d values, row 0 has %d", i, len(r), cols)
		}
		flat = append(flat, r...)
	}
	resp, err := c.model.Predict(ctx, &pb.PredictRequest{Columns: int32(cols), Values: flat})
	if err != nil {
		return PredictResponse{}, shim.FromStatus(err)
	}
	ps := resp.GetProbabilities()
	if len(ps) != 3*len(req.Rows) {
		return PredictResponse{}, fmt.Errorf("predict: model plugin answered %d probabilities for %d rows (want 3 per row)", len(ps), len(req.Rows))
	}
	out := PredictResponse{Probabilities: make([]soccer.Probabilities, len(req.Rows))}
	for i := range out.Probabilities {
		out.Probabilities[i] = soccer.Probabilities{Home: ps[3*i], Draw: ps[3*i+1], Away: ps[3*i+2]}
	}
	return out, nil
}

// TrainChunkRows is how many rows one TrainStream message carries: with
// the ratings features about 2 MB, far below gRPC's message limits.
const TrainChunkRows = 8192

// Train implements Trainer; a plugin without the capability answers
// Unimplemented. The training set goes as a stream of bounded chunks; a
// plugin built before TrainStream existed gets one Train message instead.
func (c *Client) Train(ctx context.Context, req TrainRequest) (TrainResponse, error) {
	outcomes := make([]int32, len(req.Outcomes))
	for i, o := range req.Outcomes {
		idx, err := resultIndex(o)
		if err != nil {
			return TrainResponse{}, fmt.Errorf("train: outcome %d: %w", i, err)
		}
		outcomes[i] = idx
	}
	if len(req.Rows) != len(outcomes) {
		return TrainResponse{}, fmt.Errorf("train: %d rows and %d outcomes", len(req.Rows), len(outcomes))
	}
	for i, r := range req.Rows {
		if len(r) != len(req.Columns) {
			return TrainResponse{}, fmt.Errorf("train: row %d has %d values for %d columns", i, len(r), len(req.Columns))
		}
	}
	resp, err := c.trainStream(ctx, req, outcomes)
	if status.Code(err) == codes.Unimplemented { // a plugin older than TrainStream, or one that cannot train (Train says so)
		resp, err = c.model.Train(ctx, &pb.TrainRequest{Columns: shim.ColumnsToProto(req.Columns), Values: flatten(req.Rows, len(req.Columns)),
			Outcomes: outcomes, ParamsJson: req.Params, Seed: req.Seed})
	}
	if err != nil {
		return TrainResponse{}, shim.FromStatus(err)
	}
	return TrainResponse{Artifact: resp.GetArtifact(), Signature: signatureFromProto(resp.GetSignature()), Metrics: resp.GetMetrics()}, nil
}

// flatten lays rows out row-major, as the messages carry them.
func flatten(rows [][]float64, width int) []float64 {
	out := make([]float64, 0, width*len(rows))
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func (c *Client) trainStream(ctx context.Context, req TrainRequest, outcomes []int32) (*pb.TrainResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.model.TrainStream(ctx)
	if err != nil {
		return nil, err
	}
	for start := 0; start == 0 || start < len(req.Rows); start += TrainChunkRows {
		end := min(start+TrainChunkRows, len(req.Rows))
		chunk := &pb.TrainChunk{Values: flatten(req.Rows[start:end], len(req.Columns)), Outcomes: outcomes[start:end]}
		if start == 0 {
			chunk.Columns, chunk.ParamsJson, chunk.Seed = shim.ColumnsToProto(req.Columns), req.Params, req.Seed
		}
		if err := stream.Send(chunk); err != nil {
			if err == io.EOF { // the plugin answered already (an error): CloseAndRecv has it
				break
			}
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}

func unflatten(values []float64, cols int) ([][]float64, error) {
	if cols <= 0 {
		if len(values) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("%d values with %d columns", len(values), cols)
	}
	if len(values)%cols != 0 {
		return nil, fmt.Errorf("%d values are not whole rows of %d columns", len(values), cols)
	}
	rows := make([][]float64, len(values)/cols)
	for i := range rows {
		rows[i] = values[i*cols : (i+1)*cols : (i+1)*cols]
	}
	return rows, nil
}

func resultIndex(r soccer.Result) (int32, error) {
	switch r {
	case soccer.HomeWin:
		return 0, nil
	case soccer.Draw:
		return 1, nil
	case soccer.AwayWin:
		return 2, nil
	}
	return 0, fmt.Errorf("%q is not H, D or A", r)
}

func signatureToProto(s Signature) *pb.Signature {
	return &pb.Signature{Inputs: shim.ColumnsToProto(s.Inputs), Outputs: shim.ColumnsToProto(s.Outputs)}
}

func signatureFromProto(s *pb.Signature) Signature {
	return Signature{Inputs: shim.ColumnsFromProto(s.GetInputs()), Outputs: shim.ColumnsFromProto(s.GetOutputs())}
}
