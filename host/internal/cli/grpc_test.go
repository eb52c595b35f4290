package cli

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/soccerpredict/soccerpredict/host/oip/inferencepb"
)

// serve offers the Open Inference Protocol over gRPC on its own port, on
// the same prediction path and metrics as HTTP.
func TestServeOffersOIPOverGRPC(t *testing.T) {
	cfg := fullConfig(t, "store: {driver: sqlite}")
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	out := &syncBuffer{}
	go Run(ctx, []string{"serve", "--config", cfg, "--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}, nil, out, &syncBuffer{})
	re := regexp.MustCompile(`gRPC on (127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(60 * time.Second); addr == ""; time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no gRPC address in serve's output:\n%s", out.String())
		}
	}
	base := "http://" + regexp.MustCompile(`on (127\.0\.0\.1:\d+)`).FindStringSubmatch(out.String())[1]
	// `soccerpredict ready` (the chart's helm test) against this real serve.
	if code, rout, errs := run(t, nil, "ready", "--server", base); code != 0 || !strings.Contains(rout, "is ready") {
		t.Fatalf("ready against a serving host: exit %d\n%s\n%s", code, rout, errs)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := inferencepb.NewGRPCInferenceServiceClient(conn)
	if r, err := c.ServerLive(ctx, &inferencepb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Fatalf("ServerLive: %v %v", r, err)
	}
	str := func(v string) *inferencepb.InferTensorContents {
		return &inferencepb.InferTensorContents{BytesContents: [][]byte{[]byte(v)}}
	}
	r, err := c.ModelInfer(ctx, &inferencepb.ModelInferRequest{ModelName: "soccerpredict", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
		{Name: "home_team", Datatype: "BYTES", Shape: []int64{1}, Contents: str("Arsenal")},
		{Name: "away_team", Datatype: "BYTES", Shape: []int64{1}, Contents: str("Chelsea")},
		{Name: "competition", Datatype: "BYTES", Shape: []int64{1}, Contents: str("E0")}}})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Outputs[0].Contents.Fp64Contents
	if len(p) != 3 || p[0]+p[1]+p[2] < 0.999999 || p[0]+p[1]+p[2] > 1.000001 {
		t.Fatalf("probabilities %v", p)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `soccerpredict_grpc_server_handled_total{grpc_code="OK",grpc_method="/inference.GRPCInferenceService/ModelInfer"}`) {
		t.Fatal("the gRPC call is not in the gRPC metrics with its code")
	}
}
