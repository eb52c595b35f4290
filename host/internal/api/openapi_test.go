package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/cache/memcache"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/scoring"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// The OpenAPI document passes an independent OpenAPI 3.1 validator
// (pb33f's libopenapi-validator, against the specification's own schema),
// and live answers — successes and each kind of error — match it.
func TestOpenAPIValidatesLiveTraffic(t *testing.T) {
	w := setup(t)
	open := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store, Cache: memcache.New(100), Plugins: w.host.Statuses}).Handler())
	defer open.Close()
	guarded := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Auth: &apikey.Auth{Required: true, Keys: w.store}, Plugins: w.host.Statuses}).Handler())
	defer guarded.Close()
	resp, err := http.Get(open.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("document: %s: %s", e.Message, e.Reason)
		}
		t.FailNow()
	}
	// The validator really looks: a forecast without its fields is refused.
	fake := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(`{"nope": 1}`))}
	if ok, _ := v.ValidateHttpResponse(httptest.NewRequest("POST", "/v1/predictions", nil), fake); ok {
		t.Fatal("the validator accepted a forecast without its fields: it is not checking")
	}
	predictKey, _ := storedKey(t, "openapi-predict", 1, apikey.ScopePredict)
	fixture := `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`
	type exchange struct {
		base, method, path, body, ctype, key string
		want                                 int
	}
	cases := []exchange{
		{open.URL, "POST", "/v1/predictions", fixture, "application/json", "", 200},
		{open.URL, "POST", "/v1/predictions", `{"home_team": "Arsenl", "away_team": "Chelsea", "competition": "E0"}`, "application/json", "", 422},
		{open.URL, "POST", "/v1/predictions", `{"home_team": 1}`, "application/json", "", 400},
		{open.URL, "POST", "/v1/predictions", fixture, "text/plain", "", 415},
		{open.URL, "POST", "/v1/predictions/batch", `{"fixtures": [` + fixture + `]}`, "application/json", "", 200},
		{open.URL, "POST", "/v1/predictions/async", fixture, "application/json", "", 202},
		{open.URL, "POST", "/v1/predictions/async", `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2023-02-01T15:00:00Z", "as_of": "2023-03-01T00:00:00Z"}`, "application/json", "", 422},
		{open.URL, "POST", "/v1/predictions", `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2023-02-01T15:00:00Z", "as_of": "2023-01-01T00:00:00Z"}`, "application/json", "", 200},
		{open.URL, "GET", "/v1/jobs/0123456789abcdef01234567", "", "", "", 404},
		{open.URL, "GET", "/v1/fixtures?competition=E0&limit=2", "", "", "", 200},
		{open.URL, "GET", "/v1/plugins", "", "", "", 200},
		{open.URL, "GET", "/v1/competitions", "", "", "", 200},
		{open.URL, "GET", "/v1/promotions?limit=5", "", "", "", 200},
		{open.URL, "GET", "/v1/promotions?limit=0", "", "", "", 422},
		{open.URL, "GET", "/v1/evaluation", "", "", "", 404},
		{open.URL, "GET", "/", "", "", "", 200},
		{guarded.URL, "GET", "/v1/promotions", "", "", "", 401},
		{open.URL, "GET", "/healthz", "", "", "", 200},
		{open.URL, "GET", "/readyz", "", "", "", 200},
		{open.URL, "GET", "/v2/models/soccerpredict", "", "", "", 200},
		{open.URL, "GET", "/v2/models/other", "", "", "", 404},
		{open.URL, "GET", "/v2", "", "", "", 200},
		{open.URL, "GET", "/v2/health/live", "", "", "", 200},
		{open.URL, "GET", "/v2/health/ready", "", "", "", 200},
		{open.URL, "GET", "/v2/models/soccerpredict/ready", "", "", "", 200},
		{open.URL, "POST", "/v2/models/soccerpredict/infer", oipInferBody, "application/json", "", 200},
		{open.URL, "POST", "/v2/models/soccerpredict/infer", `{"inputs": [{"name": "home_team", "shape": [1], "datatype": "BYTES", "data": ["Arsenal"]}]}`, "application/json", "", 400},
		{guarded.URL, "POST", "/v1/predictions", fixture, "application/json", "", 401},
		{guarded.URL, "GET", "/v1/plugins", "", "", predictKey, 403},
		{guarded.URL, "POST", "/v1/predictions", fixture, "application/json", predictKey, 200},
		{guarded.URL, "POST", "/v1/predictions", fixture, "application/json", predictKey, 429},
		{guarded.URL, "POST", "/v2/models/soccerpredict/infer", `{}`, "application/json", "", 401},
		{open.URL, "GET", "/v1/evaluation", "", "", "", 200}, // once an evaluate run is recorded
	}
	// The v2 bodies are typed: a KServe client's request validates, and one
	// with a tensor missing its datatype does not.
	for body, valid := range map[string]bool{oipInferBody: true, `{"inputs": [{"name": "home_team", "shape": [1], "data": ["Arsenal"]}]}`: false, `{"inputs": []}`: false} {
		req, _ := http.NewRequest("POST", "/v2/models/soccerpredict/infer", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+predictKey)
		if ok, verrs := v.ValidateHttpRequest(req); ok != valid {
			t.Errorf("inference request %s: valid %v, want %v (%v)", body, ok, valid, verrs)
		}
	}
	for _, c := range cases {
		if c.path == "/v1/evaluation" && c.want == 200 {
			recordEvaluation(t, w.store)
		}
		req, _ := http.NewRequest(c.method, c.base+c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, resp.StatusCode, c.want, b)
			continue
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		req.URL.Host, req.URL.Scheme = "", "" // the document has no servers
		if ok, verrs := v.ValidateHttpResponse(req, resp); !ok {
			for _, e := range verrs {
				t.Errorf("%s %s → %d does not match the document: %s (%s)", c.method, c.path, resp.StatusCode, e.Message, e.Reason)
			}
		}
	}
}

// oipInferBody is an inference request as KServe's and Triton's clients send it.
const oipInferBody = `{"id": "r1", "inputs": [
	{"name": "home_team", "shape": [1], "datatype": "BYTES", "data": ["Arsenal"]},
	{"name": "away_team", "shape": [1], "datatype": "BYTES", "data": ["Chelsea"]},
	{"name": "competition", "shape": [1], "datatype": "BYTES", "data": ["E0"]}],
	"outputs": [{"name": "probabilities"}]}`

// recordEvaluation tracks an evaluate run as `soccerpredict evaluate` does,
// with its whole evaluation as the report.
func recordEvaluation(t *testing.T, st store.Store) {
	t.Helper()
	ev := forecast.Evaluation{Competition: "E0", Seasons: []forecast.SeasonEvaluation{{Season: "2324", Model: scoring.Score{N: 380, LogLoss: 0.95, RPS: 0.19}}},
		Overall: forecast.SeasonEvaluation{Season: "overall", Model: scoring.Score{N: 380, LogLoss: 0.95, RPS: 0.19},
			Reliability: []scoring.Bin{{Source: "model", Bin: 3, MeanPredicted: 0.33, Observed: 0.31, Count: 400}}}}
	report, _ := json.Marshal(ev)
	now := time.Now()
	if err := st.RecordExperiment(context.Background(), store.ExperimentRun{ID: "eval-" + now.Format("150405.000000"), Kind: "evaluate",
		StartedAt: now, FinishedAt: now, Params: json.RawMessage(`{"algorithm":"logreg"}`), Metrics: map[string]float64{"rps": 0.19}, Report: report}); err != nil {
		t.Fatal(err)
	}
}
