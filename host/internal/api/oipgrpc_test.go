package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fullstorydev/grpcurl"
	"github.com/hashicorp/go-hclog"
	"github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/telemetry"
	"github.com/soccerpredict/soccerpredict/host/oip/inferencepb"
)

// grpcurlCall invokes one RPC as grpcurl does: the service is discovered by
// server reflection and the request is JSON, so nothing of the project's
// generated code is on the client side. It returns the JSON answer and the
// call's error status.
func grpcurlCall(t *testing.T, conn *grpc.ClientConn, method, body string, headers ...string) (map[string]any, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	refl := grpcreflect.NewClientAuto(ctx, conn)
	defer refl.Reset()
	src := grpcurl.DescriptorSourceFromServer(ctx, refl)
	parser, formatter, err := grpcurl.RequestParserAndFormatter(grpcurl.FormatJSON, src, strings.NewReader(body), grpcurl.FormatOptions{EmitJSONDefaultFields: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	h := &grpcurl.DefaultEventHandler{Out: &out, Formatter: formatter}
	if err := grpcurl.InvokeRPC(ctx, src, conn, method, headers, h, parser.Next); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if h.Status.Err() != nil {
		return nil, h.Status.Code().String() + ": " + h.Status.Message()
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("%s answered %q: %v", method, out.String(), err)
	}
	return v, ""
}

// serveGRPC serves s's gRPC service on a local port for the test and
// returns a client connection to it and its address.
func serveGRPC(t *testing.T, s *Server) (*grpc.ClientConn, string) {
	t.Helper()
	gs, stop := s.GRPCServer(config.HTTPLimits{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); gs.Stop(); stop() })
	return conn, ln.Addr().String()
}

// Every RPC of inference.GRPCInferenceService through an independent
// client, with API keys on: fixture inputs as typed contents and as raw
// contents, a feature tensor, and the errors.
func TestOIPOverGRPC(t *testing.T) {
	w := setup(t)
	s := &Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Auth: &apikey.Auth{Required: true, Keys: w.store}, Version: "test"}
	conn, addr := serveGRPC(t, s)
	key, _ := storedKey(t, "grpc-client", 10000, apikey.ScopePredict)
	auth := "authorization: Bearer " + key
	const svc = "inference.GRPCInferenceService/"

	if v, errs := grpcurlCall(t, conn, svc+"ServerLive", `{}`); errs != "" || v["live"] != true {
		t.Fatalf("ServerLive (no key needed): %v %s", v, errs)
	}
	if v, errs := grpcurlCall(t, conn, svc+"ServerReady", `{}`); errs != "" || v["ready"] != true {
		t.Fatalf("ServerReady: %v %s", v, errs)
	}
	if _, errs := grpcurlCall(t, conn, svc+"ServerMetadata", `{}`); !strings.HasPrefix(errs, "Unauthenticated") {
		t.Fatalf("ServerMetadata without a key: %s", errs)
	}
	if v, errs := grpcurlCall(t, conn, svc+"ServerMetadata", `{}`, auth); errs != "" || v["name"] != "soccerpredict" {
		t.Fatalf("ServerMetadata: %v %s", v, errs)
	}
	if v, errs := grpcurlCall(t, conn, svc+"ModelReady", `{"name": "soccerpredict", "version": "champion"}`, "x-api-key: "+key); errs != "" || v["ready"] != true {
		t.Fatalf("ModelReady: %v %s", v, errs)
	}
	// A model the server does not serve is not ready — false, as over REST
	// and as Triton answers, not an error.
	if v, errs := grpcurlCall(t, conn, svc+"ModelReady", `{"name": "other"}`, auth); errs != "" || v["ready"] != false {
		t.Fatalf("ModelReady of another model: %v %s, want ready false", v, errs)
	}
	// gzip, from gRPC's C core (Python's grpcio, as tritonclient.grpc's
	// compression_algorithm="gzip" sends it): without a gzip decompressor
	// the server refuses the call (Unimplemented); with one it answers,
	// and grpc-go compresses the answer as the request was.
	pyGzip := `
import sys, grpc
ch = grpc.insecure_channel(sys.argv[1], compression=grpc.Compression.Gzip)
call = ch.unary_unary("/inference.GRPCInferenceService/ModelReady")
name = b"soccerpredict"
resp, info = call.with_call(b"\x0a" + bytes([len(name)]) + name, metadata=[("authorization", "Bearer " + sys.argv[2])], compression=grpc.Compression.Gzip)
print(resp.hex())
`
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Fatal("/usr/bin/python3 with grpcio is required for this test: apt-get install python3-grpcio")
	}
	pyOut, err := exec.Command("/usr/bin/python3", "-c", pyGzip, addr, key).CombinedOutput()
	if err != nil || strings.TrimSpace(string(pyOut)) != "0801" {
		t.Fatalf("ModelReady with gzip from grpcio: %s %v; want ready true (08 01)", pyOut, err)
	}
	// ModelConfig, as tritonclient.grpc's get_model_config calls it, read
	// back by Triton's field numbers (ModelConfigResponse.config = 1;
	// ModelConfig name 1, platform 2, max_batch_size 4, input 5, output 6;
	// ModelInput name 1, data_type 2, optional 8; TYPE_STRING 13, TYPE_FP64 12)
	// with a decoder of its own, not the project's generated code.
	pyConfig := `
import sys, grpc
def fields(b):
    out, i = [], 0
    while i < len(b):
        key = 0; shift = 0
        while True:
            c = b[i]; i += 1; key |= (c & 0x7f) << shift; shift += 7
            if c < 0x80: break
        num, wt = key >> 3, key & 7
        if wt == 0:
            v = 0; shift = 0
            while True:
                c = b[i]; i += 1; v |= (c & 0x7f) << shift; shift += 7
                if c < 0x80: break
        elif wt == 2:
            n = 0; shift = 0
            while True:
                c = b[i]; i += 1; n |= (c & 0x7f) << shift; shift += 7
                if c < 0x80: break
            v = b[i:i+n]; i += n
        else:
            raise SystemExit("unexpected wire type %d" % wt)
        out.append((num, v))
    return out
ch = grpc.insecure_channel(sys.argv[1])
name = b"soccerpredict"
resp = ch.unary_unary("/inference.GRPCInferenceService/ModelConfig")(b"\x0a" + bytes([len(name)]) + name, metadata=[("authorization", "Bearer " + sys.argv[2])])
config = dict(fields(resp))[1]
f = fields(config)
d = dict(f)
inputs = [dict(fields(v)) for n, v in f if n == 5]
outputs = [dict(fields(v)) for n, v in f if n == 6]
print(d[1].decode(), d[4], ",".join("%s:%d:%d" % (x[1].decode(), x[2], x.get(8, 0)) for x in inputs), ",".join("%s:%d" % (x[1].decode(), x[2]) for x in outputs))
`
	cfgOut, err := exec.Command("/usr/bin/python3", "-c", pyConfig, addr, key).CombinedOutput()
	if want := fmt.Sprintf("soccerpredict %d home_team:13:0,away_team:13:0,competition:13:0,kickoff:13:1 probabilities:12", MaxBatch); err != nil || strings.TrimSpace(string(cfgOut)) != want {
		t.Fatalf("ModelConfig read by Triton's field numbers: %s %v; want %s", cfgOut, err, want)
	}
	meta, errs := grpcurlCall(t, conn, svc+"ModelMetadata", `{"name": "soccerpredict"}`, auth)
	if errs != "" || len(meta["inputs"].([]any)) != 5 || !strings.Contains(toJSON(meta["outputs"]), `"probabilities"`) {
		t.Fatalf("ModelMetadata: %v %s", meta, errs)
	}

	// The same two fixtures over REST, for the numbers.
	_, _, rest, _ := oipCall(t, w.server.URL+"/v2/models/soccerpredict/infer", []byte(`{"inputs": [
		{"name": "home_team", "shape": [2], "datatype": "BYTES", "data": ["Arsenal", "Liverpool"]},
		{"name": "away_team", "shape": [2], "datatype": "BYTES", "data": ["Chelsea", "Everton"]},
		{"name": "competition", "shape": [2], "datatype": "BYTES", "data": ["E0", "E0"]},
		{"name": "kickoff", "shape": [2], "datatype": "BYTES", "data": ["2024-09-01T15:00:00Z", "2024-09-01T15:00:00Z"]}]}`))
	want := jsonProbabilities(t, rest)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	typed := `{"model_name": "soccerpredict", "id": "g1", "parameters": {"competition": {"string_param": "E0"}, "kickoff": {"string_param": "2024-09-01T15:00:00Z"}},
		"inputs": [
			{"name": "home_team", "datatype": "BYTES", "shape": [2], "contents": {"bytes_contents": ["` + b64("Arsenal") + `", "` + b64("Liverpool") + `"]}},
			{"name": "away_team", "datatype": "BYTES", "shape": [2], "contents": {"bytes_contents": ["` + b64("Chelsea") + `", "` + b64("Everton") + `"]}}]}`
	v, errs := grpcurlCall(t, conn, svc+"ModelInfer", typed, auth)
	if errs != "" || v["id"] != "g1" {
		t.Fatalf("ModelInfer: %v %s", v, errs)
	}
	var got []float64
	for _, x := range v["outputs"].([]any)[0].(map[string]any)["contents"].(map[string]any)["fp64Contents"].([]any) {
		got = append(got, x.(float64))
	}
	if !equalFloats(got, want) {
		t.Fatalf("typed contents: %v, want %v", got, want)
	}
	raw := func(vals ...string) string { return base64.StdEncoding.EncodeToString(bytesTensor(vals...)) }
	rawBody := `{"model_name": "soccerpredict", "inputs": [
			{"name": "home_team", "datatype": "BYTES", "shape": [2]}, {"name": "away_team", "datatype": "BYTES", "shape": [2]},
			{"name": "competition", "datatype": "BYTES", "shape": [2]}, {"name": "kickoff", "datatype": "BYTES", "shape": [2]}],
		"raw_input_contents": ["` + raw("Arsenal", "Liverpool") + `", "` + raw("Chelsea", "Everton") + `", "` + raw("E0", "E0") + `", "` +
		raw("2024-09-01T15:00:00Z", "2024-09-01T15:00:00Z") + `"]}`
	v, errs = grpcurlCall(t, conn, svc+"ModelInfer", rawBody, auth)
	if errs != "" {
		t.Fatalf("raw ModelInfer: %s", errs)
	}
	out, _ := base64.StdEncoding.DecodeString(v["rawOutputContents"].([]any)[0].(string))
	got = got[:0]
	for i := 0; i+8 <= len(out); i += 8 {
		got = append(got, math.Float64frombits(binary.LittleEndian.Uint64(out[i:])))
	}
	if !equalFloats(got, want) {
		t.Fatalf("raw contents: %v, want %v", got, want)
	}
	// A feature tensor, FP32 as typed contents: zeros of the right width
	// give a distribution; a wrong width is refused.
	width := len(w.pred.FeatureColumns().Columns)
	zeros := strings.TrimSuffix(strings.Repeat("0,", width), ",")
	feat := `{"model_name": "soccerpredict", "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, ` + itoa(width) + `], "contents": {"fp32_contents": [` + zeros + `]}}]}`
	if v, errs := grpcurlCall(t, conn, svc+"ModelInfer", feat, auth); errs != "" || len(v["outputs"].([]any)[0].(map[string]any)["contents"].(map[string]any)["fp64Contents"].([]any)) != 3 {
		t.Fatalf("feature tensor: %v %s", v, errs)
	}
	if _, errs := grpcurlCall(t, conn, svc+"ModelInfer", strings.Replace(feat, "[1, "+itoa(width)+"]", "[1, 2]", 1), auth); !strings.HasPrefix(errs, "InvalidArgument") {
		t.Fatalf("wrong width: %s", errs)
	}
	if _, errs := grpcurlCall(t, conn, svc+"ModelInfer", strings.Replace(typed, b64("Arsenal"), b64("Arsenl"), 1), auth); !strings.HasPrefix(errs, "InvalidArgument") || !strings.Contains(errs, "Arsenal") {
		t.Fatalf("unknown team: %s", errs)
	}
	// Health checking.
	hc, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "inference.GRPCInferenceService"})
	if err != nil || hc.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", hc, err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// Idle connections cannot hold the gRPC port: a connection that sends the
// HTTP/2 preface and an empty SETTINGS frame, then nothing, is sent away
// at the idle timeout, and beyond the listener's connection bound new ones
// wait instead of taking descriptors; a real client is served once the
// idle ones are gone.
func TestGRPCIdleConnectionsAreBounded(t *testing.T) {
	w := setup(t)
	s := &Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Version: "test"}
	gs, stop := s.GRPCServer(config.HTTPLimits{IdleTimeout: time.Second, ReadHeaderTimeout: time.Second})
	defer stop()
	ln, err := Listen("127.0.0.1:0", 8)
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(s.GRPCListener(ln))
	defer gs.Stop()
	const idle = 20
	conns := make([]net.Conn, idle)
	for i := range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The client preface, then a SETTINGS frame with no settings.
		c.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
		c.Write([]byte{0, 0, 0, 0x4, 0, 0, 0, 0, 0})
		conns[i] = c
	}
	// Each accepted connection that starts no call is closed at the header
	// timeout (the ones beyond the bound are accepted as slots free).
	deadline := time.Now().Add(8 * time.Second)
	for i, c := range conns {
		c.SetReadDeadline(deadline)
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("idle connection %d still open after 8 s", i)
				}
				break // closed by the server
			}
		}
	}
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("a real client after the idle ones: %v", err)
	}
}

// gRPC calls carry a request ID (the caller's x-request-id, sent back in
// the header metadata), are counted with their gRPC codes in their own
// series (not the HTTP one), and are written to the access log.
func TestGRPCCallsAreMeasuredAndLogged(t *testing.T) {
	w := setup(t)
	var access bytes.Buffer
	metrics := telemetry.New()
	s := &Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Metrics: metrics,
		AccessLog: hclog.New(&hclog.LoggerOptions{Output: &access, JSONFormat: true})}
	conn, _ := serveGRPC(t, s)
	client := inferencepb.NewGRPCInferenceServiceClient(conn)
	var header metadata.MD
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-request-id", "trace-grpc-7")
	if r, err := client.ModelReady(ctx, &inferencepb.ModelReadyRequest{Name: "soccerpredict"}, grpc.Header(&header)); err != nil || !r.Ready {
		t.Fatalf("ModelReady: %v %v", r, err)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "trace-grpc-7" {
		t.Fatalf("x-request-id sent back: %v", got)
	}
	if _, err := client.ModelMetadata(t.Context(), &inferencepb.ModelMetadataRequest{Name: "soccerpredict", Version: "999"}, grpc.Header(&header)); err == nil {
		t.Fatal("metadata of version 999 answered")
	}
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] == "" {
		t.Fatalf("a call without x-request-id got none back: %v", got)
	}
	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`soccerpredict_grpc_server_handled_total{grpc_code="OK",grpc_method="/inference.GRPCInferenceService/ModelReady"} 1`,
		`soccerpredict_grpc_server_handled_total{grpc_code="NotFound",grpc_method="/inference.GRPCInferenceService/ModelMetadata"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `method="GRPC"`) {
		t.Error("gRPC calls are still counted as HTTP requests")
	}
	log := access.String()
	if !strings.Contains(log, `"request_id":"trace-grpc-7"`) || !strings.Contains(log, `"grpc_code":"NotFound"`) || !strings.Contains(log, `"route":"/inference.GRPCInferenceService/ModelReady"`) {
		t.Fatalf("access log:\n%s", log)
	}
}
