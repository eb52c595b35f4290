package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/soccerpredict/soccerpredict/sdk/internal/convert"
	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// ModelClient is the host's side of a model plugin.
type ModelClient struct {
	control pb.ControlClient
	model   pb.ModelClient
	fast    atomic.Pointer[fastClient]
}

var (
	_ model.Model      = (*ModelClient)(nil)
	_ model.Trainer    = (*ModelClient)(nil)
	_ model.RowTrainer = (*ModelClient)(nil)
	_ Configurer       = (*ModelClient)(nil)
)

// Configure negotiates the API version and hands the plugin its settings.
func (c *ModelClient) Configure(ctx context.Context, settings plugin.Settings) (Identity, error) {
	return configure(ctx, c.control, KindModel, settings, &c.fast)
}

// Transport is how Predict travels: "fast" (the plugin's framed socket) or
// "grpc" (a plugin built before the fast path, or none configured yet).
func (c *ModelClient) Transport() string { return c.fast.Load().transport() }

// Describe implements model.Model.
func (c *ModelClient) Describe(ctx context.Context) (model.Description, error) {
	d, err := c.model.Describe(ctx, &pb.DescribeModelRequest{})
	if err != nil {
		return model.Description{}, FromStatus(err)
	}
	return model.Description{Name: d.GetName(), Version: d.GetVersion(), Runtime: d.GetRuntime(), Trainer: d.GetTrainer()}, nil
}

// Load implements model.Model.
func (c *ModelClient) Load(ctx context.Context, req model.LoadRequest) error {
	_, err := c.model.Load(ctx, &pb.LoadRequest{Artifact: req.Artifact, Signature: convert.SignatureToProto(req.Signature)})
	return FromStatus(err)
}

// Predict implements model.Model. It checks that the plugin answered one forecast
// per row; whether each forecast is a valid distribution is the caller's check.
func (c *ModelClient) Predict(ctx context.Context, req model.PredictRequest) (model.PredictResponse, error) {
	cols := 0
	if len(req.Rows) > 0 {
		cols = len(req.Rows[0])
	}
	flat := make([]float64, 0, cols*len(req.Rows))
	for i, r := range req.Rows {
		if len(r) != cols {
			return model.PredictResponse{}, fmt.Errorf("predict: row %d has %d values, row 0 has %d", i, len(r), cols)
		}
		flat = append(flat, r...)
	}
	preq, resp := &pb.PredictRequest{Columns: int32(cols), Values: flat}, &pb.PredictResponse{}
	err := c.fast.Load().call(ctx, FastPredict, preq, resp)
	if errors.Is(err, errNoFast) {
		resp, err = c.model.Predict(ctx, preq)
		err = FromStatus(err)
	}
	if err != nil {
		return model.PredictResponse{}, err
	}
	ps := resp.GetProbabilities()
	if len(ps) != 3*len(req.Rows) {
		return model.PredictResponse{}, fmt.Errorf("predict: model plugin answered %d probabilities for %d rows (want 3 per row)", len(ps), len(req.Rows))
	}
	out := model.PredictResponse{Probabilities: make([]soccer.Probabilities, len(req.Rows)), Markets: convert.MarketsFromProto(resp.GetMarkets())}
	for i := range out.Probabilities {
		out.Probabilities[i] = soccer.Probabilities{Home: ps[3*i], Draw: ps[3*i+1], Away: ps[3*i+2]}
	}
	if out.Markets != nil && len(out.Markets) != len(req.Rows) {
		return model.PredictResponse{}, fmt.Errorf("predict: model plugin answered markets for %d of %d rows (want none or one per row)", len(out.Markets), len(req.Rows))
	}
	return out, nil
}

// TrainChunkRows is how many rows one TrainStream message carries: with
// the ratings features about 2 MB, far below gRPC's message limits.
const TrainChunkRows = 8192

// Train implements model.Trainer; a plugin without the capability answers
// Unimplemented. The training set goes as a stream of bounded chunks; a
// plugin built before TrainStream existed gets one Train message instead.
func (c *ModelClient) Train(ctx context.Context, req model.TrainRequest) (model.TrainResponse, error) {
	if len(req.Rows) != len(req.Outcomes) {
		return model.TrainResponse{}, fmt.Errorf("train: %d rows and %d outcomes", len(req.Rows), len(req.Outcomes))
	}
	if len(req.Played) != 0 && len(req.Played) != len(req.Rows) {
		return model.TrainResponse{}, fmt.Errorf("train: %d rows and %d played matches", len(req.Rows), len(req.Played))
	}
	resp, err := c.trainStream(ctx, req, func(yield func([]float64, soccer.Result, *model.Played) bool) error {
		for i, r := range req.Rows {
			var p *model.Played
			if len(req.Played) > 0 {
				p = &req.Played[i]
			}
			if !yield(r, req.Outcomes[i], p) {
				break
			}
		}
		return nil
	})
	if noTrainStream(err) { // a plugin older than TrainStream
		outcomes := make([]int32, len(req.Outcomes))
		for i, o := range req.Outcomes {
			if outcomes[i], err = convert.ResultIndex(o); err != nil {
				return model.TrainResponse{}, fmt.Errorf("train: outcome %d: %w", i, err)
			}
		}
		played := make([]*pb.Played, len(req.Played))
		for i, p := range req.Played {
			played[i] = convert.PlayedToProto(p)
		}
		resp, err = c.model.Train(ctx, &pb.TrainRequest{Columns: convert.ColumnsToProto(req.Columns), Values: convert.Flatten(req.Rows, len(req.Columns)),
			Outcomes: outcomes, ParamsJson: req.Params, Seed: req.Seed, Played: played})
	}
	return trainAnswer(resp, err)
}

// Rows produces a training set row by row, in kick-off order, for
// TrainRows: it calls yield for each row (stopping when yield returns
// false) and returns an error when it could not produce them all. A row
// passed to yield may be reused once yield returns. played is the row's
// match (model API 1.1), or nil when the host does not know it: a stream
// gives it for every row or for none. It is model.Rows, so a ModelClient
// is a model.RowTrainer.
type Rows = model.Rows

// TrainRows is Train with the rows made while they are sent: the host holds
// one chunk of the training set, never all of it. When rows fails, the
// stream is cancelled and the plugin trains nothing. Plugins older than
// TrainStream cannot be trained this way (an error wrapping
// plugin.ErrUnsupported; Train works with them).
func (c *ModelClient) TrainRows(ctx context.Context, req model.TrainRequest, rows Rows) (model.TrainResponse, error) {
	resp, err := c.trainStream(ctx, req, rows)
	if noTrainStream(err) {
		return model.TrainResponse{}, fmt.Errorf("train: the model plugin cannot train from a stream of rows (rebuild it with the current sdk): %w: %v", plugin.ErrUnsupported, err)
	}
	return trainAnswer(resp, err)
}

// noTrainStream reports whether err is gRPC saying the plugin has no
// TrainStream (built before it), rather than the plugin refusing to train
// (Unimplemented too: one that cannot train, or a trainer's own
// plugin.ErrUnsupported), which is its answer as it is.
func noTrainStream(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.Unimplemented && strings.Contains(st.Message(), "TrainStream")
}

// trainAnswer is the plugin's answer to a training call: errors of the
// host's own rows as they were, the plugin's through FromStatus.
func trainAnswer(resp *pb.TrainResponse, err error) (model.TrainResponse, error) {
	if err != nil {
		var local localError
		if errors.As(err, &local) {
			return model.TrainResponse{}, local.err
		}
		return model.TrainResponse{}, FromStatus(err)
	}
	return model.TrainResponse{Artifact: resp.GetArtifact(), Signature: convert.SignatureFromProto(resp.GetSignature()), Metrics: resp.GetMetrics()}, nil
}

// localError is an error of the host's side of a stream (its rows), kept
// apart from the plugin's answers.
type localError struct{ err error }

func (e localError) Error() string { return e.err.Error() }

// trainStream sends the header and then rows in chunks of TrainChunkRows.
func (c *ModelClient) trainStream(ctx context.Context, req model.TrainRequest, rows Rows) (*pb.TrainResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.model.TrainStream(ctx)
	if err != nil {
		return nil, err
	}
	width := len(req.Columns)
	chunk := &pb.TrainChunk{Columns: convert.ColumnsToProto(req.Columns), ParamsJson: req.Params, Seed: req.Seed}
	var sendErr, rowErr error
	n := 0
	send := func() bool {
		if sendErr = stream.Send(chunk); sendErr != nil {
			return false
		}
		// a sent message is not to be modified (gRPC may read it later): a new one
		chunk = &pb.TrainChunk{Values: make([]float64, 0, TrainChunkRows*width), Outcomes: make([]int32, 0, TrainChunkRows)}
		return true
	}
	withPlayed := false
	err = rows(func(row []float64, outcome soccer.Result, played *model.Played) bool {
		if len(row) != width {
			rowErr = fmt.Errorf("train: row %d has %d values for %d columns", n, len(row), width)
			return false
		}
		idx, err := convert.ResultIndex(outcome)
		if err != nil {
			rowErr = fmt.Errorf("train: outcome %d: %w", n, err)
			return false
		}
		if n == 0 {
			withPlayed = played != nil
		}
		if (played != nil) != withPlayed {
			rowErr = fmt.Errorf("train: row %d: the played matches are given for some rows and not others", n)
			return false
		}
		n++
		chunk.Values, chunk.Outcomes = append(chunk.Values, row...), append(chunk.Outcomes, idx)
		if played != nil {
			chunk.Played = append(chunk.Played, convert.PlayedToProto(*played))
		}
		return len(chunk.Outcomes) < TrainChunkRows || send()
	})
	switch {
	case err != nil:
		return nil, localError{err}
	case rowErr != nil:
		return nil, localError{rowErr}
	case sendErr == io.EOF: // the plugin answered already (an error): CloseAndRecv has it
	case sendErr != nil:
		return nil, sendErr
	case len(chunk.Outcomes) > 0 || n == 0:
		if err := stream.Send(chunk); err != nil && err != io.EOF {
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}
