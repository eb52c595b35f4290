package api

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/soccerpredict/soccerpredict/host/internal/api/oip"
	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/oip/inferencepb"
)

// refusals are the sdk's error kinds; a "refuse-<kind>" model plugin
// refuses every prediction after its warm-up with that kind.
var refusals = []string{"not-found", "invalid", "unsupported", "not-ready"}

// A model plugin's typed error answers the same on every channel: REST, the
// Open Inference Protocol over HTTP and over gRPC, and an asynchronous job.
// The plugin's own words reach the caller only for the kinds that describe
// the request (not found, invalid); the others say what failed, not how.
func TestPluginErrorKindsAnswerAlikeOnEveryChannel(t *testing.T) {
	w := setup(t)
	const refused = "the liar refuses 1 rows"
	want := map[string]struct {
		status int
		code   codes.Code
		detail string
	}{
		"not-found":   {422, codes.NotFound, refused},
		"invalid":     {422, codes.InvalidArgument, refused},
		"unsupported": {501, codes.Unimplemented, "the model plugin does not support this request"},
		"not-ready":   {503, codes.Unavailable, "the model plugin is not ready; retry shortly"},
	}
	body := `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2031-08-16T14:00:00Z"}`
	infer := `{"inputs": [{"name": "home_team", "shape": [1], "datatype": "BYTES", "data": ["Arsenal"]}, {"name": "away_team", "shape": [1], "datatype": "BYTES", "data": ["Chelsea"]},
		{"name": "competition", "shape": [1], "datatype": "BYTES", "data": ["E0"]}, {"name": "kickoff", "shape": [1], "datatype": "BYTES", "data": ["2031-08-16T14:00:00Z"]}]}`
	for _, kind := range refusals {
		t.Run(kind, func(t *testing.T) {
			want := want[kind]
			ctx := context.Background()
			feat, _ := w.host.Plugin("ratings-train")
			pred := forecast.NewPredictor(w.store, w.host, feat, "refuse-"+kind, hclog.NewNullLogger())
			pred.CacheEntries(0)
			if err := pred.Start(ctx); err != nil { // the liar's warm-up answer is honest
				t.Fatal(err)
			}
			s := &Server{Predictor: pred, Logger: hclog.NewNullLogger(), Store: w.store}
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()

			// REST: an RFC 9457 problem.
			code, rest := post(t, srv.URL+"/v1/predictions", body)
			if code != want.status || rest["status"] != float64(want.status) || rest["detail"] != want.detail {
				t.Fatalf("REST: %d %v, want %d %q", code, rest, want.status, want.detail)
			}

			// OIP over HTTP: the same status; the message names the input row.
			code, oipBody := post(t, srv.URL+"/v2/models/soccerpredict/infer", infer)
			if code != want.status || oipBody["error"] != "inputs[0]: "+want.detail && oipBody["error"] != want.detail {
				t.Fatalf("OIP REST: %d %v, want %d %q", code, oipBody, want.status, want.detail)
			}

			// OIP over gRPC: the kind's code and the OIP message.
			conn, _ := serveGRPC(t, s)
			str := func(v string) *inferencepb.InferTensorContents {
				return &inferencepb.InferTensorContents{BytesContents: [][]byte{[]byte(v)}}
			}
			req := &inferencepb.ModelInferRequest{ModelName: oip.Model, Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
				{Name: "home_team", Datatype: "BYTES", Shape: []int64{1}, Contents: str("Arsenal")},
				{Name: "away_team", Datatype: "BYTES", Shape: []int64{1}, Contents: str("Chelsea")},
				{Name: "competition", Datatype: "BYTES", Shape: []int64{1}, Contents: str("E0")},
				{Name: "kickoff", Datatype: "BYTES", Shape: []int64{1}, Contents: str("2031-08-16T14:00:00Z")},
			}}
			_, err := inferencepb.NewGRPCInferenceServiceClient(conn).ModelInfer(ctx, req)
			if st := status.Convert(err); st.Code() != want.code || st.Message() != oipBody["error"] {
				t.Fatalf("OIP gRPC: %v, want %s %q", err, want.code, oipBody["error"])
			}

			// An asynchronous job: failed with the same problem, or, for a
			// plugin that is not ready, held (not failed) until it is.
			code, sub := post(t, srv.URL+"/v1/predictions/async", body)
			if code != 202 {
				t.Fatalf("async: %d %v", code, sub)
			}
			id := sub["job_id"].(string)
			worker := &jobs.Worker{Store: w.store, Predictor: pred, Logger: hclog.NewNullLogger(), RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond}
			if kind == "not-ready" {
				hold, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				if err := worker.Handle(hold, id); err == nil {
					t.Fatal("a job whose model is not ready was ended")
				}
				dep, why := worker.Waiting()
				if dep != "model" || fault.Of(why).Detail() != want.detail || fault.Of(why).Kind.HTTPStatus() != want.status {
					t.Fatalf("worker waiting for %q: %v, want the model and %q", dep, why, want.detail)
				}
				_, job := get(t, srv.URL+"/v1/jobs/"+id)
				if job["status"] != "running" || job["problem"] != nil {
					t.Fatalf("job %v, want running with no problem", job)
				}
				return
			}
			if err := worker.Handle(ctx, id); err != nil {
				t.Fatal(err)
			}
			_, job := get(t, srv.URL+"/v1/jobs/"+id)
			problem, _ := job["problem"].(map[string]any)
			if job["status"] != "failed" || job["error"] != want.detail || problem == nil ||
				problem["status"] != float64(want.status) || problem["type"] != rest["type"] || problem["detail"] != want.detail {
				t.Fatalf("job %v, want failed with the REST problem %v", job, rest)
			}
		})
	}
}
