package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
)

// The Open Inference Protocol v2 (KServe, Triton, MLServer) over REST, so
// existing inference clients can call SoccerPredict. One model is served,
// OIPModel; its versions are registry versions, and "champion" names the one
// serving now. Inputs are fixtures as BYTES tensors, the output is the
// home/draw/away probabilities.

// OIPModel is the model name under /v2/models.
const OIPModel = "soccerpredict"

func (s *Server) oipRoutes(r chi.Router) {
	r.Get("/v2", s.oipServer)
	r.Get("/v2/health/live", func(w http.ResponseWriter, r *http.Request) { s.json(w, http.StatusOK, map[string]bool{"live": true}) })
	r.Get("/v2/health/ready", s.oipReady)
	guarded := r.With(s.require(ScopePredict))
	for _, prefix := range []string{"/v2/models/{model}", "/v2/models/{model}/versions/{version}"} {
		guarded.Get(prefix, s.oipMetadata)
		guarded.Get(prefix+"/config", s.oipConfig)
		guarded.Get(prefix+"/ready", s.oipModelReady)
		guarded.Post(prefix+"/infer", s.oipInfer)
	}
}

func (s *Server) oipError(w http.ResponseWriter, status int, format string, args ...any) {
	s.json(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func (s *Server) oipServer(w http.ResponseWriter, r *http.Request) {
	s.json(w, http.StatusOK, map[string]any{"name": OIPModel, "version": s.Version, "extensions": []string{"binary_tensor_data", "model_configuration"}})
}

func (s *Server) oipReady(w http.ResponseWriter, r *http.Request) {
	if err := s.Predictor.Ready(r.Context()); err != nil {
		s.json(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": err.Error()})
		return
	}
	s.json(w, http.StatusOK, map[string]bool{"ready": true})
}

// oipVersion checks the path's model and version against what is serving.
func (s *Server) oipVersion(w http.ResponseWriter, r *http.Request) (string, bool) {
	name, version := chi.URLParam(r, "model"), chi.URLParam(r, "version")
	if name != OIPModel {
		s.oipError(w, http.StatusNotFound, "model %q not found; this server serves %q", name, OIPModel)
		return "", false
	}
	champ, _, ok := s.Predictor.Champion()
	if !ok {
		s.oipError(w, http.StatusServiceUnavailable, "no model is loaded yet")
		return "", false
	}
	serving := strconv.Itoa(champ.Version)
	if version != "" && version != serving && version != "champion" {
		s.oipError(w, http.StatusNotFound, "version %q of %s is not being served (serving %s, also reachable as \"champion\")", version, OIPModel, serving)
		return "", false
	}
	return serving, true
}

var oipInputs = []string{"home_team", "away_team", "competition", "kickoff"}

func (s *Server) oipMetadata(w http.ResponseWriter, r *http.Request) {
	serving, ok := s.oipVersion(w, r)
	if !ok {
		return
	}
	var inputs []map[string]any
	for _, in := range oipInputs {
		inputs = append(inputs, map[string]any{"name": in, "datatype": "BYTES", "shape": []int64{-1}})
	}
	schema := s.Predictor.FeatureColumns()
	// The other input form: the model's features, computed by the caller.
	inputs = append(inputs, map[string]any{"name": oipFeaturesInput, "datatype": "FP32", "shape": []int64{-1, int64(len(schema.Columns))}})
	s.json(w, http.StatusOK, map[string]any{
		"name": OIPModel, "versions": []string{serving}, "platform": "soccerpredict",
		"inputs":  inputs,
		"outputs": []map[string]any{{"name": "probabilities", "datatype": "FP64", "shape": []int64{-1, 3}}},
		"parameters": map[string]any{"input_forms": "either home_team, away_team, competition (kickoff optional) as BYTES, or features alone",
			"feature_columns": schema.Names(), "feature_schema_version": schema.Version, "outcomes": []string{"home", "draw", "away"}},
	})
}

// oipConfig answers Triton's model configuration request, in its JSON form.
func (s *Server) oipConfig(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.oipVersion(w, r); !ok {
		return
	}
	var inputs []map[string]any
	for _, in := range oipInputs {
		inputs = append(inputs, map[string]any{"name": in, "data_type": "TYPE_STRING", "dims": []int64{1}, "optional": in == "kickoff"})
	}
	s.json(w, http.StatusOK, map[string]any{"name": OIPModel, "platform": "soccerpredict", "backend": "soccerpredict", "max_batch_size": MaxBatch,
		"input":  inputs,
		"output": []map[string]any{{"name": "probabilities", "data_type": "TYPE_FP64", "dims": []int64{3}}}})
}

func (s *Server) oipModelReady(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.oipVersion(w, r); !ok {
		return
	}
	ready := s.Predictor.Ready(r.Context()) == nil
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	s.json(w, status, map[string]any{"name": OIPModel, "ready": ready})
}

// oipErr is an inference error with the HTTP status it maps to (the gRPC
// service maps the same statuses to its codes).
type oipErr struct {
	Status int
	Msg    string
}

func (e *oipErr) Error() string { return e.Msg }

func badInfer(format string, args ...any) *oipErr {
	return &oipErr{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// oipFailure maps a forecast error to an inference error.
func (s *Server) oipFailure(err error) *oipErr {
	var unknown *forecast.UnknownTeamError
	switch {
	case errors.Is(err, forecast.ErrBadFixture), errors.Is(err, forecast.ErrBadInput), errors.As(err, &unknown):
		return &oipErr{http.StatusBadRequest, err.Error()}
	case errors.Is(err, forecast.ErrUnavailable), errors.Is(err, forecast.ErrNotReady):
		return &oipErr{http.StatusServiceUnavailable, err.Error()}
	case errors.Is(err, forecast.ErrMisbehaved):
		return &oipErr{http.StatusInternalServerError, "the model produced an invalid forecast; it was not served"}
	}
	s.Logger.Error("infer failed", "error", err)
	return &oipErr{http.StatusInternalServerError, "inference failed; see the server log"}
}

func fieldPrefix(f string) string {
	if f == "" {
		return ""
	}
	return f + ": "
}
