package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
)

func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: not JSON: %s", url, b)
	}
	return resp.StatusCode, out
}

// The Open Inference Protocol v2 REST surface, as KServe/Triton clients call it.
func TestOpenInferenceProtocol(t *testing.T) {
	w := setup(t)
	base := w.server.URL
	for path, want := range map[string]string{
		"/v2/health/live":                `"live":true`,
		"/v2/health/ready":               `"ready":true`,
		"/v2":                            `"name":"soccerpredict"`,
		"/v2/models/soccerpredict/ready": `"ready":true`,
		"/v2/models/soccerpredict/versions/1/ready":  `"ready":true`,
		"/v2/models/soccerpredict/versions/champion": `"versions":["1"]`,
		"/v2/models/soccerpredict":                   `{"datatype":"FP64","name":"probabilities","shape":[-1,3]}`,
	} {
		code, out := get(t, base+path)
		if code != 200 || !strings.Contains(toJSON(out), want) {
			t.Errorf("GET %s: %d %s, want %s", path, code, toJSON(out), want)
		}
	}
	for path, status := range map[string]int{"/v2/models/other": 404, "/v2/models/soccerpredict/versions/7": 404} {
		if code, out := get(t, base+path); code != status || out["error"] == nil {
			t.Errorf("GET %s: %d %v, want %d with an error", path, code, out, status)
		}
	}

	infer := base + "/v2/models/soccerpredict/versions/champion/infer"
	code, out := post(t, infer, `{"id": "r1", "inputs": [
		{"name": "home_team", "shape": [2], "datatype": "BYTES", "data": ["Man City", "Luton"]},
		{"name": "away_team", "shape": [2, 1], "datatype": "BYTES", "data": [["Luton"], ["Man City"]]},
		{"name": "competition", "shape": [2], "datatype": "BYTES", "data": ["E0", "E0"]},
		{"name": "kickoff", "shape": [2], "datatype": "BYTES", "data": ["2024-08-17T14:00:00Z", "2024-08-17T14:00:00Z"]}]}`)
	if code != 200 || out["id"] != "r1" || out["model_name"] != "soccerpredict" || out["model_version"] != "1" {
		t.Fatalf("infer: %d %v", code, out)
	}
	o := out["outputs"].([]any)[0].(map[string]any)
	data := o["data"].([]any)
	if o["name"] != "probabilities" || o["datatype"] != "FP64" || toJSON(o["shape"]) != "[2,3]" || len(data) != 6 {
		t.Fatalf("output %v", o)
	}
	if data[0].(float64) < 0.6 || data[5].(float64) < 0.5 {
		t.Fatalf("Man City should be favoured home and away: %v", data)
	}
	if out["parameters"].(map[string]any)["generation"].(float64) != 1 {
		t.Fatalf("parameters %v", out["parameters"])
	}

	// A fixture that cannot be forecast answers what REST answers: 422.
	unknown := `{"inputs": [{"name": "home_team", "shape": [1], "datatype": "BYTES", "data": ["Arsenl"]}, {"name": "away_team", "shape": [1], "datatype": "BYTES", "data": ["Chelsea"]}, {"name": "competition", "shape": [1], "datatype": "BYTES", "data": ["E0"]}]}`
	if code, out := post(t, infer, unknown); code != 422 || toJSON(out["error"]) != `"inputs[0].home_team: unknown team \"Arsenl\" in E0; did you mean \"Arsenal\"?"` {
		t.Errorf("infer an unknown team: %d %v, want 422 naming the input and the team", code, out)
	}
	// A malformed tensor is a 400.
	for body, want := range map[string]string{
		`{"inputs": [{"name": "home_team", "shape": [1], "datatype": "BYTES", "data": ["Arsenal"]}]}`: "same number",
		`{"inputs": [{"name": "home_team", "shape": [3], "datatype": "BYTES", "data": ["Arsenal"]}]}`: "shape [3]",
		`{"inputs": [{"name": "home_team", "shape": [1], "datatype": "FP32", "data": [1.0]}]}`:        "want BYTES",
		`{"inputs": [`: "malformed JSON",
	} {
		code, out := post(t, infer, body)
		if code != 400 || !strings.Contains(toJSON(out["error"]), want) {
			t.Errorf("infer %s: %d %v, want 400 mentioning %s", body, code, out, want)
		}
	}
}

// The OpenAPI document comes from the handlers' own types and required tags.
func TestOpenAPIDocument(t *testing.T) {
	w := setup(t)
	code, doc := get(t, w.server.URL+"/openapi.json")
	if code != 200 || doc["openapi"] != "3.1.0" {
		t.Fatalf("%d %v", code, doc["openapi"])
	}
	paths := doc["paths"].(map[string]any)
	for _, p := range []string{"/v1/predictions", "/v1/predictions/batch", "/v1/predictions/async", "/v1/jobs/{id}", "/v1/fixtures", "/readyz"} {
		if paths[p] == nil {
			t.Errorf("no path %s", p)
		}
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	req := schemas["PredictionRequest"].(map[string]any)
	if toJSON(req["required"]) != `["home_team","away_team","competition"]` || req["properties"].(map[string]any)["kickoff"] == nil {
		t.Fatalf("PredictionRequest schema %v", req)
	}
	resp := schemas["PredictionResponse"].(map[string]any)
	if !strings.Contains(toJSON(resp["required"]), `"generation"`) || schemas["Problem"] == nil {
		t.Fatalf("PredictionResponse schema %v", resp)
	}
	// The required list is what the handler enforces.
	code, out := post(t, w.server.URL+"/v1/predictions", `{"kickoff": "2024-08-17T14:00:00Z"}`)
	if code != 422 || len(out["errors"].([]any)) != 3 {
		t.Fatalf("%d %v", code, out)
	}
}

func TestAPIKeys(t *testing.T) {
	w := setup(t)
	auth := &apikey.Auth{Required: true, Keys: w.store}
	srv := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Auth: auth, Plugins: w.host.Statuses}).Handler())
	defer srv.Close()
	predictor, id := storedKey(t, "dashboard", 3, apikey.ScopePredict)
	admin, _ := storedKey(t, "ops", 100, apikey.ScopeAdmin)
	call := func(method, path, key string) (int, http.Header) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	if code, h := call("POST", "/v1/predictions", ""); code != 401 || h.Get("WWW-Authenticate") == "" {
		t.Fatalf("no key: %d", code)
	}
	if code, _ := call("POST", "/v1/predictions", "sp_made_up"); code != 401 {
		t.Fatalf("unknown key: %d", code)
	}
	if code, _ := call("GET", "/v1/plugins", predictor); code != 403 {
		t.Fatalf("predict key on an admin route: %d", code)
	}
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json", "/v2/health/live"} {
		if code, _ := call("GET", path, ""); code != 200 {
			t.Errorf("%s needs no key, got %d", path, code)
		}
	}
	for i := range 3 {
		if code, _ := call("POST", "/v1/predictions", predictor); code != 200 {
			t.Fatalf("request %d within the rate: %d", i, code)
		}
	}
	if code, h := call("POST", "/v1/predictions", predictor); code != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("over the rate: %d %v", code, h)
	}
	if code, _ := call("GET", "/v1/plugins", admin); code != 200 {
		t.Fatalf("admin key: %d", code)
	}
	if code, _ := call("POST", "/v2/models/soccerpredict/infer", ""); code != 401 {
		t.Fatalf("OIP infer without a key: %d", code)
	}
	// Revoked: refused once the cached lookup expires (CacheFor is zero here).
	w.store.RevokeKey(context.Background(), id)
	if code, _ := call("POST", "/v1/predictions", predictor); code != 401 {
		t.Fatalf("revoked key: %d", code)
	}
}
