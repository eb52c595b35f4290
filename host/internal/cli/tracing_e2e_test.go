package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/soccerpredict/soccerpredict/host/internal/pgtest"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
	"github.com/soccerpredict/soccerpredict/host/oip/inferencepb"
)

// otlpReceiver is an OTLP/gRPC trace collector in the test process: it
// keeps every span exported to it, with the service that sent it.
type otlpReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	addr  string
	mu    sync.Mutex
	spans []gotSpan
}

type gotSpan struct {
	service, command, name string
	trace, id, parent      string
	links                  []string // linked span IDs
	attrs                  map[string]string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{addr: ln.Addr().String()}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, r)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return r
}

func (r *otlpReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		res := map[string]string{}
		for _, a := range rs.GetResource().GetAttributes() {
			res[a.GetKey()] = fmt.Sprint(a.GetValue().GetStringValue())
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				g := gotSpan{service: res["service.name"], command: res["process.command"], name: s.GetName(),
					trace: hex.EncodeToString(s.GetTraceId()), id: hex.EncodeToString(s.GetSpanId()),
					parent: hex.EncodeToString(s.GetParentSpanId()), attrs: map[string]string{}}
				for _, l := range s.GetLinks() {
					g.links = append(g.links, hex.EncodeToString(l.GetSpanId()))
				}
				for _, a := range s.GetAttributes() {
					g.attrs[a.GetKey()] = a.GetValue().GetStringValue()
				}
				r.spans = append(r.spans, g)
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// trace waits until the spans of traceID satisfy done, and returns them.
func (r *otlpReceiver) trace(t *testing.T, traceID string, done func([]gotSpan) bool) []gotSpan {
	t.Helper()
	var got []gotSpan
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r.mu.Lock()
		got = got[:0]
		for _, s := range r.spans {
			if s.trace == traceID {
				got = append(got, s)
			}
		}
		r.mu.Unlock()
		if done(got) {
			return got
		}
	}
	var lines []string
	for _, s := range got {
		lines = append(lines, fmt.Sprintf("  %s/%s %q parent %s id %s", s.service, s.command, s.name, s.parent, s.id))
	}
	t.Fatalf("trace %s is incomplete after 30s; it has:\n%s", traceID, strings.Join(lines, "\n"))
	return nil
}

// find is the first span of service whose name has prefix.
func find(spans []gotSpan, service, prefix string) (gotSpan, bool) {
	for _, s := range spans {
		if s.service == service && strings.HasPrefix(s.name, prefix) {
			return s, true
		}
	}
	return gotSpan{}, false
}

// ancestors says whether span descends from the span with ID root.
func descends(spans []gotSpan, s gotSpan, root string) bool {
	byID := map[string]gotSpan{}
	for _, x := range spans {
		byID[x.id] = x
	}
	for range len(spans) + 1 {
		if s.parent == root {
			return true
		}
		p, ok := byID[s.parent]
		if !ok {
			return false
		}
		s = p
	}
	return false
}

func newTraceID() (traceparent, traceID, parentID string) {
	b := make([]byte, 24)
	rand.Read(b)
	traceID, parentID = hex.EncodeToString(b[:16]), hex.EncodeToString(b[16:])
	return "00-" + traceID + "-" + parentID + "-01", traceID, parentID
}

// One trace follows a synchronous prediction from the caller's traceparent
// through the host's HTTP span and coalesced batch into both plugin
// processes (each exporting its own spans, as a plugin built with the sdk
// does without a line of its own), and the store's statements; another
// follows an async job from its submission through the outbox relay and
// RabbitMQ to the worker process and its plugins.
func TestTracingEndToEnd(t *testing.T) {
	receiver := newOTLPReceiver(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50") // export within the test's patience (plugins inherit it)
	name := testQueue(t, "tracing")
	cfg := fullConfig(t, fmt.Sprintf(`store: {driver: postgres, dsn: %s}
queue: {driver: rabbitmq, name: %s, relay_interval: 200ms}
cache: {driver: redis, prefix: "test-%s:"}`, testbin.Quote(pgtest.Schema(t)), name, name))
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion")
	// Only the long-running processes trace.
	traced := strings.Replace(cfg, ".yaml", "-traced.yaml", 1)
	body, _ := os.ReadFile(cfg)
	os.WriteFile(traced, append(body, fmt.Sprintf("tracing: {endpoint: %q, insecure: true}\n", receiver.addr)...), 0o644)

	api := startProcess(t, "serving ", "serve", "--config", traced, "--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0")
	startProcess(t, "worker consuming", "worker", "--config", traced, "--addr", "127.0.0.1:0")
	const features, model = "soccerpredict-plugin-ratings", "soccerpredict-plugin-onnx"

	t.Run("sync prediction: HTTP, batch, both plugins", func(t *testing.T) {
		tp, traceID, callerSpan := newTraceID()
		code, out := testbin.Send(t, "POST", api.addr()+"/v1/predictions", asyncBody, "traceparent", tp)
		if code != 200 {
			t.Fatalf("predict: %d %v", code, out)
		}
		spans := receiver.trace(t, traceID, func(s []gotSpan) bool {
			_, f := find(s, features, "soccerpredict.v1.Features/Compute")
			_, m := find(s, model, "soccerpredict.v1.Model/Predict")
			_, h := find(s, "soccerpredict", "POST /v1/predictions")
			return f && m && h
		})
		httpSpan, _ := find(spans, "soccerpredict", "POST /v1/predictions")
		if httpSpan.parent != callerSpan {
			t.Fatalf("the HTTP span's parent is %s, want the caller's %s", httpSpan.parent, callerSpan)
		}
		if httpSpan.attrs["http.route"] != "/v1/predictions" || httpSpan.attrs["http.request.id"] == "" {
			t.Fatalf("HTTP span attributes %v", httpSpan.attrs)
		}
		batch, ok := find(spans, "soccerpredict", "forecast.batch")
		if !ok || !descends(spans, batch, httpSpan.id) || !slices.Contains(batch.links, httpSpan.id) {
			t.Fatalf("the batch span %+v is not under and linked to the HTTP span %s", batch, httpSpan.id)
		}
		for _, svc := range []string{features, model} {
			for _, s := range spans {
				if s.service == svc && !descends(spans, s, batch.id) {
					t.Fatalf("plugin span %s %q is not under the batch span", svc, s.name)
				}
			}
		}
	})

	t.Run("OIP over gRPC: the caller's traceparent in metadata", func(t *testing.T) {
		addr := regexp.MustCompile(`gRPC on (127\.0\.0\.1:\d+)`).FindStringSubmatch(api.stdout.String())[1]
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		tp, traceID, callerSpan := newTraceID()
		ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", tp)
		str := func(v string) *inferencepb.InferTensorContents {
			return &inferencepb.InferTensorContents{BytesContents: [][]byte{[]byte(v)}}
		}
		if _, err := inferencepb.NewGRPCInferenceServiceClient(conn).ModelInfer(ctx, &inferencepb.ModelInferRequest{ModelName: "soccerpredict",
			Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
				{Name: "home_team", Datatype: "BYTES", Shape: []int64{1}, Contents: str("Liverpool")},
				{Name: "away_team", Datatype: "BYTES", Shape: []int64{1}, Contents: str("Chelsea")},
				{Name: "competition", Datatype: "BYTES", Shape: []int64{1}, Contents: str("E0")}}}); err != nil {
			t.Fatal(err)
		}
		spans := receiver.trace(t, traceID, func(s []gotSpan) bool {
			_, m := find(s, model, "soccerpredict.v1.Model/Predict")
			_, c := find(s, "soccerpredict", "inference.GRPCInferenceService/ModelInfer")
			return m && c
		})
		call, ok := find(spans, "soccerpredict", "inference.GRPCInferenceService/ModelInfer")
		if !ok || call.parent != callerSpan {
			t.Fatalf("the gRPC server span %+v is not under the caller's %s", call, callerSpan)
		}
		if m, _ := find(spans, model, "soccerpredict.v1.Model/Predict"); !descends(spans, m, call.id) {
			t.Fatalf("the model call %+v is not under the gRPC call", m)
		}
	})

	t.Run("async job: submission, relay, broker, worker, plugins", func(t *testing.T) {
		tp, traceID, _ := newTraceID()
		body := strings.Replace(asyncBody, "Chelsea", "Everton", 1)
		code, out := testbin.Send(t, "POST", api.addr()+"/v1/predictions/async", body, "traceparent", tp)
		if code != 202 {
			t.Fatalf("submit: %d %v", code, out)
		}
		id := out["job_id"].(string)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if _, v := testbin.Send(t, "GET", api.addr()+"/v1/jobs/"+id, ""); v["status"] == "succeeded" {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("job %s: %v", id, v)
			}
		}
		spans := receiver.trace(t, traceID, func(s []gotSpan) bool {
			_, run := find(s, "soccerpredict", "jobs.run")
			_, m := find(s, model, "soccerpredict.v1.Model/Predict")
			_, d := find(s, "soccerpredict", name+" process")
			_, r := find(s, "soccerpredict", "jobs.relay publish")
			_, sub := find(s, "soccerpredict", "POST /v1/predictions/async")
			return run && m && d && r && sub
		})
		submit, ok := find(spans, "soccerpredict", "POST /v1/predictions/async")
		if !ok || submit.command != "serve" {
			t.Fatalf("no submission span from serve: %+v", submit)
		}
		relay, _ := find(spans, "soccerpredict", "jobs.relay publish")
		deliver, _ := find(spans, "soccerpredict", name+" process")
		run, _ := find(spans, "soccerpredict", "jobs.run")
		if relay.command != "serve" || !descends(spans, relay, submit.id) {
			t.Fatalf("relay span %+v is not serve's, under the submission %s", relay, submit.id)
		}
		if deliver.command != "worker" || deliver.parent != relay.id {
			t.Fatalf("delivery span %+v is not the worker's, under the relay's %s", deliver, relay.id)
		}
		if run.command != "worker" || run.parent != submit.id || !slices.Contains(run.links, deliver.id) || run.attrs["job.id"] != id {
			t.Fatalf("job span %+v: want the worker's, under the submission %s, linked to the delivery %s", run, submit.id, deliver.id)
		}
		if m, _ := find(spans, model, "soccerpredict.v1.Model/Predict"); !descends(spans, m, run.id) {
			t.Fatalf("the worker's model call %+v is not under the job's span", m)
		}
		if q, ok := find(spans, "soccerpredict", "postgres "); !ok {
			t.Fatalf("no store statement in the job's trace")
		} else if q.attrs["db.system.name"] != "postgresql" {
			t.Fatalf("store span attributes %v", q.attrs)
		}
	})
}
