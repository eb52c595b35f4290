// Package oip serves the Open Inference Protocol v2 (KServe, Triton,
// MLServer) over REST (rest.go, infer.go) and gRPC (grpc.go), so existing
// inference clients can call SoccerPredict. One model is served, Model; its
// versions are registry versions, and "champion" names the one serving
// now. Inputs are fixtures as BYTES tensors (or feature rows), the output
// is the home/draw/away probabilities. server.go holds what both forms
// share.
package oip

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/telemetry"
	"github.com/soccerpredict/soccerpredict/host/oip/inferencepb"
)

// Model is the model name under /v2/models.
const Model = "soccerpredict"

// Server serves the protocol over REST (Routes) and gRPC (GRPCServer).
type Server struct {
	Predictor *forecast.Predictor
	// Auth guards inference and model metadata with API keys (nil: open).
	Auth *apikey.Auth
	// Metrics counts the gRPC calls (the REST requests are counted with
	// every route's); AccessLog, when set, gets a line per call.
	Metrics   *telemetry.Metrics
	Logger    hclog.Logger
	AccessLog hclog.Logger
	// Version is the host's version, reported by GET /v2.
	Version string
	// MaxBodyBytes bounds a request (httpx.DefaultMaxBody when zero).
	MaxBodyBytes int64

	grpcCalls *firstCall
}

func (s *Server) json(w http.ResponseWriter, status int, v any) { httpx.JSON(w, status, v, s.Logger) }

func (s *Server) oipError(w http.ResponseWriter, status int, format string, args ...any) {
	httpx.OIPError(w, status, fmt.Sprintf(format, args...))
}

// oipExtensions are the protocol extensions this server supports (REST and gRPC).
var oipExtensions = []string{"binary_tensor_data", "model_configuration"}

// servingVersion checks a model name and version (empty, the serving
// version's number, or "champion") against what is serving, for REST and
// gRPC alike, and returns the serving version.
func (s *Server) servingVersion(name, version string) (string, *oipErr) {
	if name != Model {
		return "", &oipErr{Status: http.StatusNotFound, Msg: fmt.Sprintf("model %q not found; this server serves %q", name, Model)}
	}
	champ, _, ok := s.Predictor.Champion()
	if !ok {
		return "", &oipErr{Status: http.StatusServiceUnavailable, Msg: "no model is loaded yet"}
	}
	serving := strconv.Itoa(champ.Version)
	if version != "" && version != serving && version != "champion" {
		return "", &oipErr{Status: http.StatusNotFound, Msg: fmt.Sprintf("version %q of %s is not being served (serving %s, also reachable as \"champion\")", version, Model, serving)}
	}
	return serving, nil
}

var oipInputs = []string{"home_team", "away_team", "competition", "kickoff"}

// tensorMeta describes one input or output in the model metadata.
type tensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// oipTensors are the model's inputs (the fixture tensors, then the
// feature-tensor form) and its output, for REST and gRPC metadata alike.
func (s *Server) oipTensors() (inputs, outputs []tensorMeta) {
	for _, in := range oipInputs {
		inputs = append(inputs, tensorMeta{in, "BYTES", []int64{-1}})
	}
	width := int64(len(s.Predictor.FeatureColumns().Columns))
	inputs = append(inputs, tensorMeta{oipFeaturesInput, "FP32", []int64{-1, width}})
	outputs = []tensorMeta{{"probabilities", "FP64", []int64{-1, 3}}}
	if ok, k := s.Predictor.Markets(); ok {
		outputs = append(outputs, tensorMeta{oipMarkets, "FP64", []int64{-1, int64(5 + 3*k)}})
	}
	return inputs, outputs
}

// oipModelConfig is the model's configuration in Triton's form, for REST
// (as JSON) and gRPC (ModelConfig) alike: the fixture inputs as strings
// (kickoff optional), the probabilities as FP64, batches up to httpx.MaxBatch.
// A champion with goal markets (scorelines likeliest scores) has the
// markets output too.
func oipModelConfig(markets bool, scorelines int) *inferencepb.ModelConfig {
	c := &inferencepb.ModelConfig{Name: Model, Platform: "soccerpredict", Backend: "soccerpredict", MaxBatchSize: httpx.MaxBatch,
		Output: []*inferencepb.ModelOutput{{Name: "probabilities", DataType: inferencepb.DataType_TYPE_FP64, Dims: []int64{3}}}}
	if markets {
		c.Output = append(c.Output, &inferencepb.ModelOutput{Name: oipMarkets, DataType: inferencepb.DataType_TYPE_FP64, Dims: []int64{int64(5 + 3*scorelines)}})
	}
	for _, in := range oipInputs {
		c.Input = append(c.Input, &inferencepb.ModelInput{Name: in, DataType: inferencepb.DataType_TYPE_STRING, Dims: []int64{1}, Optional: in == "kickoff"})
	}
	return c
}

// oipErr is an inference error with the HTTP status it maps to and, when
// it comes from a fault, the gRPC code (otherwise the gRPC service maps the
// status to its code).
type oipErr struct {
	Status int
	Msg    string
	Code   codes.Code
}

func (e *oipErr) Error() string { return e.Msg }

// grpcCode is the error's gRPC status code.
func (e *oipErr) grpcCode() codes.Code {
	if e.Code != codes.OK {
		return e.Code
	}
	return grpcCode(e.Status)
}

func badInfer(format string, args ...any) *oipErr {
	return &oipErr{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// oipFailure maps a forecast error to an inference error: the status, code
// and words of its fault.Kind, as REST answers it. field(i) is where fixture
// i is in the request.
func (s *Server) oipFailure(err error, field func(int) string) *oipErr {
	e := fault.Of(err)
	switch e.Kind {
	case fault.Internal:
		s.Logger.Error("infer failed", "error", err)
	case fault.Unsupported:
		s.Logger.Warn("infer refused", "error", err)
	}
	if i, ok := e.Item(); ok && field != nil {
		e = fault.Under(field(i), e)
	}
	return &oipErr{Status: e.Kind.HTTPStatus(), Msg: e.Detail(), Code: e.Kind.GRPCCode()}
}

// oipFeaturesInput names the feature-tensor input in the model's metadata.
const oipFeaturesInput = "features"

// oipMarkets is the second output, a goals model's markets [N, 5+3k]: the
// expected home and away goals, P(over 2.5 goals), P(under 2.5) and
// P(both teams score), then the k likeliest scores as (home goals, away
// goals, probability), likeliest first.
const oipMarkets = "markets"

// statusCodes pairs HTTP statuses with the gRPC codes that mean the same.
var statusCodes = []struct {
	http int
	code codes.Code
}{
	{http.StatusOK, codes.OK},
	{http.StatusBadRequest, codes.InvalidArgument},
	{http.StatusRequestEntityTooLarge, codes.InvalidArgument},
	{http.StatusUnprocessableEntity, codes.InvalidArgument},
	{http.StatusUnauthorized, codes.Unauthenticated},
	{http.StatusForbidden, codes.PermissionDenied},
	{http.StatusNotFound, codes.NotFound},
	{http.StatusTooManyRequests, codes.ResourceExhausted},
	{http.StatusServiceUnavailable, codes.Unavailable},
	{fault.StatusClientClosed, codes.Canceled},
}

func grpcCode(httpStatus int) codes.Code {
	for _, sc := range statusCodes {
		if sc.http == httpStatus {
			return sc.code
		}
	}
	return codes.Internal
}

// oipVersion checks the path's model and version against what is serving,
// answering the error itself when they do not match (ok false).
func (s *Server) oipVersion(w http.ResponseWriter, r *http.Request) (string, bool) {
	serving, err := s.servingVersion(chi.URLParam(r, "model"), chi.URLParam(r, "version"))
	if err != nil {
		s.oipError(w, err.Status, "%s", err.Msg)
		return "", false
	}
	return serving, true
}
