package model

import (
	"context"
	"fmt"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/internal/shim"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

type countingTrainer struct{ rows, cols int }

func (c *countingTrainer) Describe(context.Context) (Description, error) {
	return Description{Name: "count"}, nil
}
func (c *countingTrainer) Load(context.Context, LoadRequest) error { return nil }
func (c *countingTrainer) Predict(context.Context, PredictRequest) (PredictResponse, error) {
	return PredictResponse{}, nil
}
func (c *countingTrainer) Train(_ context.Context, req TrainRequest) (TrainResponse, error) {
	c.rows, c.cols = len(req.Rows), len(req.Columns)
	for i, r := range req.Rows {
		if r[0] != float64(i) || req.Outcomes[i] != [...]soccer.Result{soccer.HomeWin, soccer.Draw, soccer.AwayWin}[i%3] {
			return TrainResponse{}, fmt.Errorf("row %d arrived as %v %s", i, r[0], req.Outcomes[i])
		}
	}
	return TrainResponse{Artifact: []byte("ok"), Metrics: map[string]float64{"rows": float64(len(req.Rows))}}, nil
}

// legacy is a model server from before TrainStream: only Train.
type legacy struct {
	pb.UnimplementedModelServer
	inner *server
}

func (l legacy) Train(ctx context.Context, req *pb.TrainRequest) (*pb.TrainResponse, error) {
	return l.inner.Train(ctx, req)
}

func dial(t *testing.T, register func(*grpc.Server)) *Client {
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
	return &Client{model: pb.NewModelClient(conn)}
}

func trainingSet(rows, cols int) TrainRequest {
	req := TrainRequest{Params: []byte(`{}`), Seed: 3}
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
	impl := &shim.Lazy[Model]{Kind: "model"}
	impl.Set(trainer)
	c := dial(t, func(s *grpc.Server) { pb.RegisterModelServer(s, &server{impl: impl}) })
	big := trainingSet(60000, 34) // 16 MB of values: four times the limit
	resp, err := c.Train(context.Background(), big)
	if err != nil || trainer.rows != 60000 || trainer.cols != 34 || string(resp.Artifact) != "ok" {
		t.Fatalf("streamed training: %+v %v (plugin saw %d rows)", resp, err, trainer.rows)
	}

	old := dial(t, func(s *grpc.Server) { pb.RegisterModelServer(s, legacy{inner: &server{impl: impl}}) })
	if _, err := old.Train(context.Background(), trainingSet(1000, 34)); err != nil || trainer.rows != 1000 {
		t.Fatalf("a plugin without TrainStream: %v (saw %d rows)", err, trainer.rows)
	}
}
