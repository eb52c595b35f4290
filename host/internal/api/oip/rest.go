package oip

import (
	"net/http"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"

	"github.com/go-chi/chi/v5"
)

// Routes adds the protocol's REST routes under /v2.
func (s *Server) Routes(r chi.Router) {
	r.Get("/v2", s.oipServer)
	r.Get("/v2/health/live", func(w http.ResponseWriter, r *http.Request) { s.json(w, http.StatusOK, map[string]bool{"live": true}) })
	r.Get("/v2/health/ready", s.oipReady)
	guarded := r.With(s.Auth.Require(apikey.ScopePredict))
	for _, prefix := range []string{"/v2/models/{model}", "/v2/models/{model}/versions/{version}"} {
		guarded.Get(prefix, s.oipMetadata)
		guarded.Get(prefix+"/config", s.oipConfig)
		guarded.Get(prefix+"/ready", s.oipModelReady)
		guarded.Post(prefix+"/infer", s.oipInfer)
	}
}

func (s *Server) oipServer(w http.ResponseWriter, r *http.Request) {
	s.json(w, http.StatusOK, map[string]any{"name": Model, "version": s.Version, "extensions": oipExtensions})
}

func (s *Server) oipReady(w http.ResponseWriter, r *http.Request) {
	if err := s.Predictor.Ready(r.Context()); err != nil {
		s.json(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": err.Error()})
		return
	}
	s.json(w, http.StatusOK, map[string]bool{"ready": true})
}

func (s *Server) oipMetadata(w http.ResponseWriter, r *http.Request) {
	serving, ok := s.oipVersion(w, r)
	if !ok {
		return
	}
	inputs, outputs := s.oipTensors()
	schema := s.Predictor.FeatureColumns()
	s.json(w, http.StatusOK, map[string]any{
		"name": Model, "versions": []string{serving}, "platform": "soccerpredict",
		"inputs":  inputs,
		"outputs": outputs,
		"parameters": map[string]any{"input_forms": "either home_team, away_team, competition (kickoff optional) as BYTES, or features alone",
			"feature_columns": schema.Names(), "feature_schema_version": schema.Version, "outcomes": []string{"home", "draw", "away"}},
	})
}

// oipConfig answers Triton's model configuration request, in its JSON form.
func (s *Server) oipConfig(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.oipVersion(w, r); !ok {
		return
	}
	c := oipModelConfig(s.Predictor.Markets())
	var inputs, outputs []map[string]any
	for _, in := range c.Input {
		inputs = append(inputs, map[string]any{"name": in.Name, "data_type": in.DataType.String(), "dims": in.Dims, "optional": in.Optional})
	}
	for _, out := range c.Output {
		outputs = append(outputs, map[string]any{"name": out.Name, "data_type": out.DataType.String(), "dims": out.Dims})
	}
	s.json(w, http.StatusOK, map[string]any{"name": c.Name, "platform": c.Platform, "backend": c.Backend, "max_batch_size": c.MaxBatchSize,
		"input": inputs, "output": outputs})
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
	s.json(w, status, map[string]any{"name": Model, "ready": ready})
}
