package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// The Open Inference Protocol v2 (KServe, Triton, MLServer) over REST, so
// existing inference clients can call SoccerPredict. One model is served,
// OIPModel; its versions are registry versions, and "champion" names the one
// serving now. Inputs are fixtures as BYTES tensors, the output is the
// home/draw/away probabilities.

// OIPModel is the model name under /v2/models.
const OIPModel = "soccerpredict"

type oipTensor struct {
	Name       string         `json:"name"`
	Shape      []int64        `json:"shape"`
	Datatype   string         `json:"datatype"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       any            `json:"data,omitempty"`
}

type oipRequest struct {
	ID         string           `json:"id,omitempty"`
	Parameters map[string]any   `json:"parameters,omitempty"`
	Inputs     []oipTensor      `json:"inputs"`
	Outputs    []map[string]any `json:"outputs,omitempty"`
}

type oipResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version,omitempty"`
	ID           string         `json:"id,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []oipTensor    `json:"outputs"`
}

func (s *Server) oipRoutes(r chi.Router) {
	r.Get("/v2", s.oipServer)
	r.Get("/v2/health/live", func(w http.ResponseWriter, r *http.Request) { s.json(w, http.StatusOK, map[string]bool{"live": true}) })
	r.Get("/v2/health/ready", s.oipReady)
	guarded := r.With(s.require(ScopePredict))
	for _, prefix := range []string{"/v2/models/{model}", "/v2/models/{model}/versions/{version}"} {
		guarded.Get(prefix, s.oipMetadata)
		guarded.Get(prefix+"/ready", s.oipModelReady)
		guarded.Post(prefix+"/infer", s.oipInfer)
	}
}

func (s *Server) oipError(w http.ResponseWriter, status int, format string, args ...any) {
	s.json(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func (s *Server) oipServer(w http.ResponseWriter, r *http.Request) {
	s.json(w, http.StatusOK, map[string]any{"name": OIPModel, "version": s.Version, "extensions": []string{}})
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
	s.json(w, http.StatusOK, map[string]any{
		"name": OIPModel, "versions": []string{serving}, "platform": "soccerpredict",
		"inputs":  inputs,
		"outputs": []map[string]any{{"name": "probabilities", "datatype": "FP64", "shape": []int64{-1, 3}}},
	})
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

// strings flattens a BYTES tensor's data (flat or nested) into n strings.
func oipStrings(t oipTensor) ([]string, error) {
	if t.Datatype != "BYTES" {
		return nil, fmt.Errorf("input %q: datatype %s, want BYTES", t.Name, t.Datatype)
	}
	var out []string
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("input %q: data must be strings, found %T", t.Name, v)
		}
		return nil
	}
	if err := walk(t.Data); err != nil {
		return nil, err
	}
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	if len(t.Shape) == 0 || len(t.Shape) > 2 || (len(t.Shape) == 2 && t.Shape[1] != 1) || n != int64(len(out)) {
		return nil, fmt.Errorf("input %q: shape %v does not hold its %d values (use [n] or [n, 1])", t.Name, t.Shape, len(out))
	}
	return out, nil
}

func (s *Server) oipInfer(w http.ResponseWriter, r *http.Request) {
	serving, ok := s.oipVersion(w, r)
	if !ok {
		return
	}
	var req oipRequest
	if p := decode(r, &req); p != nil {
		s.oipError(w, p.Status(), "%s%s", fieldPrefix(p.Field), p.Message)
		return
	}
	cols := map[string][]string{}
	for _, in := range req.Inputs {
		vals, err := oipStrings(in)
		if err != nil {
			s.oipError(w, http.StatusBadRequest, "%v", err)
			return
		}
		cols[in.Name] = vals
	}
	n := len(cols["home_team"])
	for _, name := range oipInputs {
		vals, present := cols[name]
		if !present && name == "kickoff" {
			continue
		}
		if !present || len(vals) != n || n == 0 {
			s.oipError(w, http.StatusBadRequest, "inputs home_team, away_team and competition (and optional kickoff) must each hold the same number (≥ 1) of values; %q has %d, home_team %d", name, len(vals), n)
			return
		}
	}
	if n > MaxBatch {
		s.oipError(w, http.StatusBadRequest, "inputs hold %d fixtures; send 1 to %d per request (the same cap as /v1/predictions/batch)", n, MaxBatch)
		return
	}
	fixtures := make([]soccer.Fixture, n)
	for i := range n {
		fr := forecast.FixtureRequest{HomeTeam: cols["home_team"][i], AwayTeam: cols["away_team"][i], Competition: cols["competition"][i],
			Field: fmt.Sprintf("inputs[%d]", i)}
		if k := cols["kickoff"]; k != nil && k[i] != "" {
			t, err := time.Parse(time.RFC3339, k[i])
			if err != nil {
				s.oipError(w, http.StatusBadRequest, "kickoff[%d]: %q is not an RFC 3339 time", i, k[i])
				return
			}
			fr.Kickoff = t
		}
		f, err := s.Predictor.Fixture(fr)
		if err != nil {
			s.oipFail(w, err)
			return
		}
		fixtures[i] = f
	}
	preds, err := s.Predictor.Predict(r.Context(), fixtures)
	if err != nil {
		s.oipFail(w, err)
		return
	}
	data := make([]float64, 0, 3*n)
	for _, p := range preds {
		data = append(data, p.Probabilities.Home, p.Probabilities.Draw, p.Probabilities.Away)
	}
	version := serving
	if len(preds) > 0 {
		version = strconv.Itoa(preds[0].ModelVersion) // the generation that answered, even mid-switch
	}
	s.json(w, http.StatusOK, oipResponse{ModelName: OIPModel, ModelVersion: version, ID: req.ID,
		Parameters: map[string]any{"generation": preds[0].Generation, "model": preds[0].Model, "feature_schema_version": preds[0].FeatureSchemaVersion},
		Outputs:    []oipTensor{{Name: "probabilities", Shape: []int64{int64(n), 3}, Datatype: "FP64", Data: data}}})
}

func (s *Server) oipFail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, forecast.ErrBadFixture), errors.Is(err, forecast.ErrBadInput):
		s.oipError(w, http.StatusBadRequest, "%v", err)
	case errors.Is(err, forecast.ErrUnavailable), errors.Is(err, forecast.ErrNotReady):
		w.Header().Set("Retry-After", "1")
		s.oipError(w, http.StatusServiceUnavailable, "%v", err)
	case errors.Is(err, forecast.ErrMisbehaved):
		s.oipError(w, http.StatusInternalServerError, "the model produced an invalid forecast; it was not served")
	default:
		s.Logger.Error("infer failed", "error", err)
		s.oipError(w, http.StatusInternalServerError, "inference failed; see the server log")
	}
}

func fieldPrefix(f string) string {
	if f == "" {
		return ""
	}
	return f + ": "
}
