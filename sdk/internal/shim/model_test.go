package shim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

type countingTrainer struct{ rows, cols, played int }

func (c *countingTrainer) Describe(context.Context) (model.Description, error) {
	return model.Description{Name: "count"}, nil
}
func (c *countingTrainer) Load(context.Context, model.LoadRequest) error { return nil }
func (c *countingTrainer) Predict(context.Context, model.PredictRequest) (model.PredictResponse, error) {
	return model.PredictResponse{}, nil
}
func (c *countingTrainer) Train(_ context.Context, req model.TrainRequest) (model.TrainResponse, error) {
	c.rows, c.cols = len(req.Rows), len(req.Columns)
	for i, r := range req.Rows {
		if r[0] != float64(i) || req.Outcomes[i] != [...]soccer.Result{soccer.HomeWin, soccer.Draw, soccer.AwayWin}[i%3] {
			return model.TrainResponse{}, fmt.Errorf("row %d arrived as %v %s", i, r[0], req.Outcomes[i])
		}
		if len(req.Played) > 0 && (req.Played[i].HomeGoals != i%5 || req.Played[i].Kickoff.Unix() != int64(1e9+i)) {
			return model.TrainResponse{}, fmt.Errorf("row %d's match arrived as %+v", i, req.Played[i])
		}
	}
	c.played = len(req.Played)
	return model.TrainResponse{Artifact: []byte("ok"), Metrics: map[string]float64{"rows": float64(len(req.Rows))}}, nil
}

// legacy is a model server from before TrainStream: only Train.
type legacy struct {
	pb.UnimplementedModelServer
	inner *modelServer
}

func (l legacy) Train(ctx context.Context, req *pb.TrainRequest) (*pb.TrainResponse, error) {
	return l.inner.Train(ctx, req)
}

func dial(t *testing.T, register func(*grpc.Server)) *wire.ModelClient {
	t.Helper()
	c, err := wire.NewClient(wire.KindModel, bufDial(t, register))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*wire.ModelClient)
}

// bufDial serves register's services in-process with gRPC's default limits
// (4 MiB a message) and returns a connection to them.
func bufDial(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	ln := bufconn.Listen(1 << 20)
	s := grpc.NewServer() // gRPC's default limits: 4 MiB a message
	register(s)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("passthrough:///buf", grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return ln.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func trainingSet(rows, cols int) model.TrainRequest {
	req := model.TrainRequest{Params: []byte(`{}`), Seed: 3}
	for j := range cols {
		req.Columns = append(req.Columns, soccer.Column{Name: fmt.Sprintf("c%d", j), Type: "double"})
	}
	for i := range rows {
		r := make([]float64, cols)
		r[0] = float64(i)
		req.Rows = append(req.Rows, r)
		req.Outcomes = append(req.Outcomes, [...]soccer.Result{soccer.HomeWin, soccer.Draw, soccer.AwayWin}[i%3])
	}
	return req
}

// A training set many times gRPC's message limit reaches the plugin whole
// and in order, in chunks; a plugin from before TrainStream still trains
// a set that fits one message.
func TestTrainingSetsStreamPastTheMessageLimit(t *testing.T) {
	trainer := &countingTrainer{}
	impl := &Lazy[model.Model]{Kind: "model"}
	impl.Set(trainer)
	c := dial(t, func(s *grpc.Server) { pb.RegisterModelServer(s, &modelServer{impl: impl}) })
	big := trainingSet(60000, 34) // 16 MB of values: four times the limit
	resp, err := c.Train(context.Background(), big)
	if err != nil || trainer.rows != 60000 || trainer.cols != 34 || string(resp.Artifact) != "ok" {
		t.Fatalf("streamed training: %+v %v (plugin saw %d rows)", resp, err, trainer.rows)
	}

	old := dial(t, func(s *grpc.Server) { pb.RegisterModelServer(s, legacy{inner: &modelServer{impl: impl}}) })
	if _, err := old.Train(context.Background(), trainingSet(1000, 34)); err != nil || trainer.rows != 1000 {
		t.Fatalf("a plugin without TrainStream: %v (saw %d rows)", err, trainer.rows)
	}
}

// TrainRows sends rows as they are made, past the message limit; a failure
// making them cancels the stream (the plugin trains nothing), and a plugin
// without TrainStream is refused as unsupported.
func TestTrainRowsStreamsRowsAsTheyAreMade(t *testing.T) {
	trainer := &countingTrainer{}
	impl := &Lazy[model.Model]{Kind: "model"}
	impl.Set(trainer)
	c := dial(t, func(s *grpc.Server) { pb.RegisterModelServer(s, &modelServer{impl: impl}) })
	header := trainingSet(0, 34)
	made := func(n int, fail error) wire.Rows {
		return func(yield func([]float64, soccer.Result, *model.Played) bool) error {
			row := make([]float64, 34) // one row, reused: TrainRows copies it
			for i := range n {
				row[0] = float64(i)
				played := &model.Played{Kickoff: time.Unix(int64(1e9+i), 0), HomeGoals: i % 5, AwayGoals: 1}
				if !yield(row, [...]soccer.Result{soccer.HomeWin, soccer.Draw, soccer.AwayWin}[i%3], played) {
					return nil
				}
			}
			return fail
		}
	}
	resp, err := c.TrainRows(context.Background(), header, made(60000, nil))
	if err != nil || trainer.rows != 60000 || trainer.played != 60000 || string(resp.Artifact) != "ok" {
		t.Fatalf("streamed rows: %+v %v (plugin saw %d rows, %d played matches)", resp, err, trainer.rows, trainer.played)
	}
	trainer.rows = -1
	boom := errors.New("replay failed at match day 12")
	if _, err := c.TrainRows(context.Background(), header, made(20000, boom)); !errors.Is(err, boom) || trainer.rows != -1 {
		t.Fatalf("rows that failed: %v (plugin saw %d rows)", err, trainer.rows)
	}
	short := func(yield func([]float64, soccer.Result, *model.Played) bool) error {
		yield([]float64{1}, soccer.Draw, nil)
		return nil
	}
	if _, err := c.TrainRows(context.Background(), header, short); err == nil || !strings.Contains(err.Error(), "row 0 has 1 values for 34 columns") {
		t.Fatalf("a row of the wrong width: %v", err)
	}
	old := dial(t, func(s *grpc.Server) { pb.RegisterModelServer(s, legacy{inner: &modelServer{impl: impl}}) })
	if _, err := old.TrainRows(context.Background(), header, made(10, nil)); !errors.Is(err, plugin.ErrUnsupported) {
		t.Fatalf("a plugin without TrainStream: %v", err)
	}
}

// A model plugin offers the fast path when configured, and Predict answers
// over it as over gRPC; a plugin's typed error keeps its kind.
func TestModelPredictTakesTheFastPath(t *testing.T) {
	p := ModelPlugin("rows", "1", func(context.Context, plugin.Env) (model.Model, error) { return rowModel{}, nil })
	c := shimtestDispense(t, p)
	if c.Transport() != "fast" {
		t.Fatalf("transport %q after Configure, want fast", c.Transport())
	}
	resp, err := c.Predict(context.Background(), model.PredictRequest{Rows: [][]float64{{0.5}, {0.2}}})
	if err != nil || len(resp.Probabilities) != 2 || resp.Probabilities[1].Home != 0.2 {
		t.Fatalf("predict over the fast path: %+v %v", resp, err)
	}
	if _, err := c.Predict(context.Background(), model.PredictRequest{Rows: [][]float64{{-1}}}); !errors.Is(err, plugin.ErrInvalid) || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("a refusal over the fast path: %v", err)
	}
}

// rowModel forecasts a row's first value as the home win's probability.
type rowModel struct{}

func (rowModel) Describe(context.Context) (model.Description, error) { return model.Description{}, nil }
func (rowModel) Load(context.Context, model.LoadRequest) error       { return nil }
func (rowModel) Predict(_ context.Context, req model.PredictRequest) (model.PredictResponse, error) {
	var out model.PredictResponse
	for _, r := range req.Rows {
		if r[0] < 0 {
			return out, plugin.Invalid("a negative value %v", r[0])
		}
		out.Probabilities = append(out.Probabilities, soccer.Probabilities{Home: r[0], Draw: (1 - r[0]) / 2, Away: (1 - r[0]) / 2})
	}
	return out, nil
}

// shimtestDispense serves p through go-plugin in-process and configures its client.
func shimtestDispense(t *testing.T, p *Plugin[model.Model]) *wire.ModelClient {
	t.Helper()
	client, _ := goplugin.TestPluginGRPCConn(t, false, map[string]goplugin.Plugin{wire.KindModel: p})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(wire.KindModel)
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(*wire.ModelClient)
	if _, err := c.Configure(context.Background(), plugin.NewSettings(nil)); err != nil {
		t.Fatal(err)
	}
	return c
}

// rowTrainer is a model.RowTrainer: it counts the rows as they arrive.
type rowTrainer struct {
	countingTrainer
	streamed int
	fail     error
}

func (r *rowTrainer) TrainRows(_ context.Context, req model.TrainRequest, rows model.Rows) (model.TrainResponse, error) {
	r.streamed, r.played, r.cols = 0, 0, len(req.Columns)
	if req.Rows != nil || req.Outcomes != nil || string(req.Params) != `{}` || req.Seed != 3 {
		return model.TrainResponse{}, fmt.Errorf("the header arrived as %+v", req)
	}
	var bad error
	err := rows(func(row []float64, o soccer.Result, p *model.Played) bool {
		i := r.streamed
		if row[0] != float64(i) || o != [...]soccer.Result{soccer.HomeWin, soccer.Draw, soccer.AwayWin}[i%3] || p != nil && p.HomeGoals != i%5 {
			bad = fmt.Errorf("row %d arrived as %v %s %+v", i, row[0], o, p)
			return false
		}
		if p != nil {
			r.played++
		}
		r.streamed++
		return true
	})
	if err != nil {
		return model.TrainResponse{}, err
	}
	if bad != nil || r.fail != nil {
		return model.TrainResponse{}, errors.Join(bad, r.fail)
	}
	return model.TrainResponse{Artifact: []byte("rows")}, nil
}

// A RowTrainer gets a streamed training set row by row through TrainRows
// (its Train is never called), with the played matches; its errors and
// a malformed chunk fail the training.
func TestARowTrainerTakesRowsAsTheyArrive(t *testing.T) {
	trainer := &rowTrainer{}
	impl := &Lazy[model.Model]{Kind: "model"}
	impl.Set(trainer)
	conn := bufDial(t, func(s *grpc.Server) { pb.RegisterModelServer(s, &modelServer{impl: impl}) })
	c, err := wire.NewClient(wire.KindModel, conn)
	if err != nil {
		t.Fatal(err)
	}
	mc := c.(*wire.ModelClient)
	resp, err := mc.Train(context.Background(), trainingSet(60000, 34))
	if err != nil || string(resp.Artifact) != "rows" || trainer.streamed != 60000 || trainer.cols != 34 || trainer.rows != 0 {
		t.Fatalf("a whole training set: %+v %v (%d rows through TrainRows, %d through Train)", resp, err, trainer.streamed, trainer.rows)
	}
	rows := func(yield func([]float64, soccer.Result, *model.Played) bool) error {
		row := make([]float64, 34)
		for i := range 20000 {
			row[0] = float64(i)
			if !yield(row, [...]soccer.Result{soccer.HomeWin, soccer.Draw, soccer.AwayWin}[i%3], &model.Played{Kickoff: time.Unix(1e9, 0), HomeGoals: i % 5}) {
				return nil
			}
		}
		return nil
	}
	if _, err := mc.TrainRows(context.Background(), trainingSet(0, 34), rows); err != nil || trainer.streamed != 20000 || trainer.played != 20000 {
		t.Fatalf("streamed rows: %v (%d rows, %d played)", err, trainer.streamed, trainer.played)
	}
	trainer.fail = errors.New("the fit diverged")
	if _, err := mc.TrainRows(context.Background(), trainingSet(0, 34), rows); err == nil || !strings.Contains(err.Error(), "the fit diverged") {
		t.Fatalf("the trainer's error: %v", err)
	}
	trainer.fail = nil
	// A chunk whose outcome is out of range, sent by hand.
	stream, err := pb.NewModelClient(conn).TrainStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&pb.TrainChunk{Columns: []*pb.Column{{Name: "a", Type: "double"}}, ParamsJson: []byte(`{}`), Seed: 3, Values: []float64{0, 1}, Outcomes: []int32{0, 1}})
	stream.Send(&pb.TrainChunk{Values: []float64{2}, Outcomes: []int32{5}})
	if _, err := stream.CloseAndRecv(); err == nil || !strings.Contains(err.Error(), "training chunk 1: outcome 2 is 5") {
		t.Fatalf("a malformed chunk: %v", err)
	}
}

// refusingTrainer cannot train on what it is given, for a reason of its own.
type refusingTrainer struct{ countingTrainer }

func (r *refusingTrainer) Train(context.Context, model.TrainRequest) (model.TrainResponse, error) {
	return model.TrainResponse{}, fmt.Errorf("%w: this model trains on each row's score", plugin.ErrUnsupported)
}

// A trainer's own refusal (plugin.ErrUnsupported, Unimplemented on the
// wire) reaches the host as it is: not taken for a plugin without
// TrainStream, so neither retried as one message nor told to rebuild.
func TestATrainersRefusalIsItsOwn(t *testing.T) {
	impl := &Lazy[model.Model]{Kind: "model"}
	impl.Set(&refusingTrainer{})
	c := dial(t, func(s *grpc.Server) { pb.RegisterModelServer(s, &modelServer{impl: impl}) })
	big := trainingSet(60000, 34) // four times the message limit: a retry as one message would fail on its size
	for name, train := range map[string]func() error{
		"Train": func() error { _, err := c.Train(context.Background(), big); return err },
		"TrainRows": func() error {
			_, err := c.TrainRows(context.Background(), trainingSet(0, 34), func(yield func([]float64, soccer.Result, *model.Played) bool) error {
				for i, r := range big.Rows {
					if !yield(r, big.Outcomes[i], nil) {
						break
					}
				}
				return nil
			})
			return err
		},
	} {
		err := train()
		if !errors.Is(err, plugin.ErrUnsupported) || !strings.Contains(err.Error(), "trains on each row's score") || strings.Contains(err.Error(), "rebuild") {
			t.Errorf("%s: %v, want the trainer's own refusal", name, err)
		}
	}
}
