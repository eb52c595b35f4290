package oip

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // clients may compress requests with gzip; answers are compressed alike
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
	"github.com/soccerpredict/soccerpredict/host/oip/inferencepb"
)

// The Open Inference Protocol v2 over gRPC (inference.GRPCInferenceService),
// on its own port. It shares everything with the REST form: the inference
// core (and so the coalesced prediction path), API keys (sent as
// "authorization: Bearer <key>" or "x-api-key" metadata), rate limits and
// the request metrics (method GRPC, route the full RPC name). gRPC health
// checking and server reflection are on.

// GRPCListener wraps the listener the GRPCServer serves: each connection
// must start a call within the header timeout. Call it after GRPCServer.
func (s *Server) GRPCListener(ln net.Listener) net.Listener {
	if s.grpcCalls == nil {
		return ln
	}
	return s.grpcCalls.listener(ln)
}

// GRPCServer returns a gRPC server offering the inference service, health
// checks and reflection, and a function that stops its readiness watcher.
func (s *Server) GRPCServer(l config.HTTPLimits) (*grpc.Server, func()) {
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	idle := l.IdleTimeout
	if idle <= 0 {
		idle = time.Minute
	}
	handshake := l.ReadHeaderTimeout
	if handshake <= 0 {
		handshake = 5 * time.Second
	}
	// Bounded like the HTTP server: a connection must finish its handshake
	// within the header timeout, one with no call in flight for the idle
	// timeout is sent away (clients reconnect when they next call), one
	// that holds calls is pinged and dropped if it does not answer, pings
	// faster than every 5 s are refused, and a connection carries at most
	// 256 calls at once. A connection that starts no call within the header
	// timeout is closed (firstCall, through GRPCListener), and the listener
	// bounds the connections (Listen).
	s.grpcCalls = newFirstCall(handshake)
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(int(limit)), grpc.ChainUnaryInterceptor(s.grpcMeasure, s.grpcAuth), grpc.StatsHandler(s.grpcCalls),
		grpc.ConnectionTimeout(handshake), grpc.MaxConcurrentStreams(256),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: idle, Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true})}
	srv := grpc.NewServer(append(opts, tracing.ServerOptions()...)...)
	inferencepb.RegisterGRPCInferenceServiceServer(srv, &oipGRPC{s: s})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		// Health follows readiness: SERVING while a champion answers.
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			st := healthpb.HealthCheckResponse_SERVING
			rctx, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
			if s.Predictor.Ready(rctx) != nil {
				st = healthpb.HealthCheckResponse_NOT_SERVING
			}
			cancel()
			hs.SetServingStatus("", st)
			hs.SetServingStatus(inferencepb.GRPCInferenceService_ServiceDesc.ServiceName, st)
			select {
			case <-ctx.Done():
				hs.Shutdown()
				return
			case <-tick.C:
			}
		}
	}()
	return srv, stop
}

// openRPCs need no key, like GET /v2/health/*.
var openRPCs = map[string]bool{
	"/inference.GRPCInferenceService/ServerLive":  true,
	"/inference.GRPCInferenceService/ServerReady": true,
}

func (s *Server) grpcAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if s.Auth == nil || !s.Auth.Required || openRPCs[info.FullMethod] || !strings.HasPrefix(info.FullMethod, "/inference.") {
		return next(ctx, req)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	secret := ""
	if v := md.Get("x-api-key"); len(v) > 0 {
		secret = v[0]
	} else if v := md.Get("authorization"); len(v) > 0 {
		secret = apikey.BearerToken(v[0])
	}
	k, denied := s.Auth.Authorize(ctx, secret, apikey.ScopePredict)
	if denied != nil {
		return nil, status.Error(grpcCode(denied.Status), denied.Title+": "+denied.Detail)
	}
	apikey.Heard(ctx, k)
	return next(apikey.WithCaller(ctx, k), req)
}

// grpcMeasure gives each call a request ID (the caller's x-request-id
// metadata when sane, else one of the server's, sent back as x-request-id
// header metadata), counts it with its gRPC code and logs it in the access
// log as HTTP requests are.
func (s *Server) grpcMeasure(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	start := time.Now()
	id := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("x-request-id"); len(v) > 0 {
			id = v[0]
		}
	}
	id = httpx.RequestID(id)
	grpc.SetHeader(ctx, metadata.Pairs("x-request-id", id))
	ctx = context.WithValue(ctx, middleware.RequestIDKey, id)
	var who *apikey.Who
	if s.AccessLog != nil {
		ctx, who = apikey.Listening(ctx)
	}
	resp, err := next(ctx, req)
	took := time.Since(start)
	code := status.Code(err)
	s.Metrics.GRPC(info.FullMethod, code.String(), took)
	if who != nil {
		remote := ""
		if p, ok := peer.FromContext(ctx); ok {
			remote = p.Addr.String()
		}
		s.AccessLog.Info("request", "request_id", id, "method", "GRPC", "route", info.FullMethod, "grpc_code", code.String(),
			"duration_ms", float64(took.Microseconds())/1000, "key", who.Name, "key_id", who.ID, "remote", remote)
	}
	return resp, err
}

type oipGRPC struct {
	inferencepb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

func (g *oipGRPC) ServerLive(context.Context, *inferencepb.ServerLiveRequest) (*inferencepb.ServerLiveResponse, error) {
	return &inferencepb.ServerLiveResponse{Live: true}, nil
}

func (g *oipGRPC) ServerReady(ctx context.Context, _ *inferencepb.ServerReadyRequest) (*inferencepb.ServerReadyResponse, error) {
	return &inferencepb.ServerReadyResponse{Ready: g.s.Predictor.Ready(ctx) == nil}, nil
}

func (g *oipGRPC) ServerMetadata(context.Context, *inferencepb.ServerMetadataRequest) (*inferencepb.ServerMetadataResponse, error) {
	return &inferencepb.ServerMetadataResponse{Name: Model, Version: g.s.Version, Extensions: oipExtensions}, nil
}

// serving checks a model name and version against what is serving.
func (g *oipGRPC) serving(name, version string) (string, error) {
	serving, err := g.s.servingVersion(name, version)
	if err != nil {
		return "", status.Error(err.grpcCode(), err.Msg)
	}
	return serving, nil
}

func (g *oipGRPC) ModelReady(ctx context.Context, req *inferencepb.ModelReadyRequest) (*inferencepb.ModelReadyResponse, error) {
	if _, err := g.serving(req.Name, req.Version); err != nil {
		if status.Code(err) == codes.NotFound {
			// As over REST (where a client reads the 404 as not ready) and
			// as Triton answers: a model it does not serve is not ready.
			return &inferencepb.ModelReadyResponse{Ready: false}, nil
		}
		return nil, err
	}
	return &inferencepb.ModelReadyResponse{Ready: g.s.Predictor.Ready(ctx) == nil}, nil
}

// ModelConfig answers Triton's model configuration request.
func (g *oipGRPC) ModelConfig(_ context.Context, req *inferencepb.ModelConfigRequest) (*inferencepb.ModelConfigResponse, error) {
	if _, err := g.serving(req.Name, req.Version); err != nil {
		return nil, err
	}
	return &inferencepb.ModelConfigResponse{Config: oipModelConfig(g.s.Predictor.Markets())}, nil
}

func (g *oipGRPC) ModelMetadata(_ context.Context, req *inferencepb.ModelMetadataRequest) (*inferencepb.ModelMetadataResponse, error) {
	serving, err := g.serving(req.Name, req.Version)
	if err != nil {
		return nil, err
	}
	inputs, outputs := g.s.oipTensors()
	out := &inferencepb.ModelMetadataResponse{Name: Model, Versions: []string{serving}, Platform: "soccerpredict"}
	for _, t := range inputs {
		out.Inputs = append(out.Inputs, &inferencepb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	for _, t := range outputs {
		out.Outputs = append(out.Outputs, &inferencepb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	return out, nil
}

func (g *oipGRPC) ModelInfer(ctx context.Context, req *inferencepb.ModelInferRequest) (*inferencepb.ModelInferResponse, error) {
	if _, err := g.serving(req.ModelName, req.ModelVersion); err != nil {
		return nil, err
	}
	ir := inferRequest{ID: req.Id, Parameters: grpcParams(req.Parameters)}
	raw := len(req.RawInputContents) > 0
	if raw && len(req.RawInputContents) != len(req.Inputs) {
		return nil, status.Errorf(codes.InvalidArgument, "raw_input_contents has %d entries for %d inputs", len(req.RawInputContents), len(req.Inputs))
	}
	for i, t := range req.Inputs {
		in := inferInput{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		switch {
		case raw:
			if t.Contents != nil {
				return nil, status.Errorf(codes.InvalidArgument, "input %q: contents and raw_input_contents are both set; use one", t.Name)
			}
			if perr := decodeBinary(&in, req.RawInputContents[i]); perr != nil {
				return nil, status.Error(codes.InvalidArgument, perr.Msg)
			}
		case t.Contents != nil:
			for _, b := range t.Contents.BytesContents {
				in.Strings = append(in.Strings, string(b))
			}
			for _, v := range t.Contents.Fp32Contents {
				in.Numbers = append(in.Numbers, float64(v))
			}
			in.Numbers = append(in.Numbers, t.Contents.Fp64Contents...)
		default:
			return nil, status.Errorf(codes.InvalidArgument, "input %q has no contents (and the request no raw_input_contents)", t.Name)
		}
		ir.Inputs = append(ir.Inputs, in)
	}
	for _, o := range req.Outputs {
		ir.Outputs = append(ir.Outputs, o.Name)
	}
	res, perr := g.s.inferCore(apikey.Origin(ctx, "oip-grpc"), ir)
	if perr != nil {
		return nil, status.Error(perr.grpcCode(), perr.Msg)
	}
	out := &inferencepb.ModelInferResponse{ModelName: Model, ModelVersion: res.ModelVersion, Id: req.Id, Parameters: toGRPCParams(res.Parameters)}
	for _, o := range res.Outputs {
		t := &inferencepb.ModelInferResponse_InferOutputTensor{Name: o.Name, Datatype: o.Datatype, Shape: o.Shape}
		if raw {
			b := make([]byte, 0, 8*len(o.Data))
			for _, v := range o.Data {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			}
			out.RawOutputContents = append(out.RawOutputContents, b)
		} else {
			t.Contents = &inferencepb.InferTensorContents{Fp64Contents: o.Data}
		}
		out.Outputs = append(out.Outputs, t)
	}
	return out, nil
}

func grpcParams(in map[string]*inferencepb.InferParameter) map[string]any {
	out := map[string]any{}
	for k, p := range in {
		switch v := p.GetParameterChoice().(type) {
		case *inferencepb.InferParameter_StringParam:
			out[k] = v.StringParam
		case *inferencepb.InferParameter_BoolParam:
			out[k] = v.BoolParam
		case *inferencepb.InferParameter_Int64Param:
			out[k] = float64(v.Int64Param)
		}
	}
	return out
}

func toGRPCParams(in map[string]any) map[string]*inferencepb.InferParameter {
	out := map[string]*inferencepb.InferParameter{}
	for k, v := range in {
		switch x := v.(type) {
		case string:
			out[k] = &inferencepb.InferParameter{ParameterChoice: &inferencepb.InferParameter_StringParam{StringParam: x}}
		case int64:
			out[k] = &inferencepb.InferParameter{ParameterChoice: &inferencepb.InferParameter_Int64Param{Int64Param: x}}
		case int:
			out[k] = &inferencepb.InferParameter{ParameterChoice: &inferencepb.InferParameter_Int64Param{Int64Param: int64(x)}}
		case bool:
			out[k] = &inferencepb.InferParameter{ParameterChoice: &inferencepb.InferParameter_BoolParam{BoolParam: x}}
		}
	}
	return out
}
