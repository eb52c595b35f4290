package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/api/web"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/monitor"
	"github.com/soccerpredict/soccerpredict/host/internal/present"
)

// The OpenAPI 3.1 document is generated from the very Go types the handlers
// decode and encode, and their `validate:"required"` tags are the ones
// httpx.Missing enforces: the document cannot drift from the code.

var (
	openAPIOnce sync.Once
	openAPIDoc  map[string]any
)

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	openAPIOnce.Do(func() { openAPIDoc = buildOpenAPI(s.Version) })
	s.json(w, http.StatusOK, openAPIDoc)
}

func buildOpenAPI(version string) map[string]any {
	components := map[string]any{}
	ref := func(v any) map[string]any { return schemaOf(reflect.TypeOf(v), components) }
	jsonBody := func(schema map[string]any) map[string]any {
		return map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
	}
	ok := func(desc string, schema map[string]any) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
	}
	problem := map[string]any{"description": "RFC 9457 problem details", "content": map[string]any{
		"application/problem+json": map[string]any{"schema": ref(httpx.Problem{})}}}
	errs := func(codes ...string) map[string]any {
		out := map[string]any{}
		for _, c := range codes {
			out[c] = problem
		}
		return out
	}
	with := func(base map[string]any, more map[string]any) map[string]any {
		for k, v := range more {
			base[k] = v
		}
		return base
	}
	batchResponse := struct {
		Predictions []present.PredictionResponse `json:"predictions"`
	}{}
	fixturesResponse := FixturesResponse{}
	pluginsResponse := struct {
		Plugins []PluginJSON `json:"plugins"`
	}{}
	competitionsResponse := struct {
		Competitions []web.CompetitionJSON `json:"competitions"`
	}{}
	promotionsResponse := struct {
		Champion   present.ModelJSON   `json:"champion"`
		Generation int64               `json:"generation"`
		Since      time.Time           `json:"since"`
		Promotions []web.PromotionJSON `json:"promotions"`
	}{}
	evaluationResponse := map[string]any{"type": "object", "required": []string{"run", "finished_at", "evaluation"}, "properties": map[string]any{
		"run": map[string]any{"type": "string"}, "finished_at": map[string]any{"type": "string", "format": "date-time"},
		"params": map[string]any{"type": "object"}, "evaluation": map[string]any{"type": "object",
			"description": "per test season and overall: model, model without odds, Pinnacle closing and base-rate scores, ECE and the reliability table"}}}
	oipError := map[string]any{"description": `Open Inference Protocol error: {"error": "..."}`, "content": map[string]any{
		"application/json": map[string]any{"schema": map[string]any{"type": "object", "required": []string{"error"},
			"properties": map[string]any{"error": map[string]any{"type": "string"}}}}}}
	oipErrs := func(codes ...string) map[string]any {
		out := map[string]any{}
		for _, c := range codes {
			out[c] = oipError
		}
		return out
	}
	// The Open Inference Protocol's REST bodies, as its specification gives
	// them (KServe's "V2 inference protocol"), in components: clients
	// generated from this document get typed requests and responses.
	str, strs := map[string]any{"type": "string"}, map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
	obj := func(required []string, props map[string]any) map[string]any {
		o := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			o["required"] = required
		}
		return o
	}
	shape := map[string]any{"type": "array", "items": map[string]any{"type": "integer"}}
	oipParams := map[string]any{"type": "object", "description": "parameters: string, number or boolean values", "additionalProperties": map[string]any{"type": []string{"string", "number", "boolean"}}}
	datatype := map[string]any{"type": "string", "enum": []string{"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"}}
	tensorData := map[string]any{"type": "array", "description": "the tensor's elements in row-major order (nested arrays are accepted and flattened)",
		"items": map[string]any{"type": []string{"string", "number", "boolean", "array"}}}
	components["OIPTensorMetadata"] = obj([]string{"name", "datatype", "shape"}, map[string]any{"name": str, "datatype": datatype, "shape": shape})
	tensorMetas := map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/OIPTensorMetadata"}}
	components["OIPServerMetadata"] = obj([]string{"name", "version", "extensions"}, map[string]any{"name": str, "version": str, "extensions": strs})
	components["OIPModelMetadata"] = obj([]string{"name", "platform", "inputs", "outputs"}, map[string]any{"name": str, "versions": strs, "platform": str,
		"inputs": tensorMetas, "outputs": tensorMetas, "parameters": map[string]any{"type": "object"}})
	components["OIPReady"] = obj([]string{"ready"}, map[string]any{"ready": map[string]any{"type": "boolean"}, "error": str})
	components["OIPLive"] = obj([]string{"live"}, map[string]any{"live": map[string]any{"type": "boolean"}})
	components["OIPRequestInput"] = obj([]string{"name", "shape", "datatype"}, map[string]any{"name": str, "shape": shape, "datatype": datatype,
		"parameters": oipParams, "data": tensorData})
	components["OIPRequestOutput"] = obj([]string{"name"}, map[string]any{"name": str, "parameters": oipParams})
	components["OIPInferenceRequest"] = obj([]string{"inputs"}, map[string]any{"id": str, "parameters": oipParams,
		"inputs":  map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"$ref": "#/components/schemas/OIPRequestInput"}},
		"outputs": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/OIPRequestOutput"}}})
	components["OIPResponseOutput"] = obj([]string{"name", "shape", "datatype"}, map[string]any{"name": str, "shape": shape, "datatype": datatype,
		"parameters": oipParams, "data": tensorData})
	components["OIPInferenceResponse"] = obj([]string{"model_name", "outputs"}, map[string]any{"model_name": str, "model_version": str, "id": str,
		"parameters": oipParams, "outputs": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/OIPResponseOutput"}}})
	oipOK := func(desc, component string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + component}}}}
	}
	anyJSON := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}
	}
	// op is one operation; a scope adds the key requirement and the
	// answers a key check can give (v1: problems, v2: OIP errors).
	op := func(summary, id, scope string, body map[string]any, responses map[string]any, oip bool, params ...any) map[string]any {
		o := map[string]any{"summary": summary, "operationId": id, "responses": responses}
		if body != nil {
			o["requestBody"] = body
			if oip {
				with(responses, oipErrs("400", "413", "415"))
			} else {
				with(responses, errs("400", "413", "415"))
			}
		}
		if scope != "" {
			o["security"] = []any{map[string]any{"bearerAuth": []string{}}, map[string]any{"apiKey": []string{}}}
			o["description"] = "Needs an API key with the " + scope + " scope when auth.required is on."
			if oip {
				with(responses, oipErrs("401", "403", "429", "503"))
			} else {
				with(responses, errs("401", "403", "429", "503"))
			}
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		return o
	}
	pathParam := func(name string) map[string]any {
		return map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}}
	}
	paths := map[string]any{
		"/v1/predictions": map[string]any{"post": op("Forecast one fixture", "predict", apikey.ScopePredict, jsonBody(ref(PredictionRequest{})),
			with(map[string]any{"200": ok("home/draw/away probabilities", ref(present.PredictionResponse{}))}, errs("422", "500", "501")), false)},
		"/v1/predictions/batch": map[string]any{"post": op("Forecast up to 1,000 fixtures, in order", "predictBatch", apikey.ScopePredict, jsonBody(ref(BatchRequest{})),
			with(map[string]any{"200": ok("one forecast per fixture", schemaOf(reflect.TypeOf(batchResponse), components))}, errs("422", "500", "501")), false)},
		"/v1/predictions/async": map[string]any{"post": op("Queue a forecast; the job is durable before the 202", "predictAsync", apikey.ScopePredict, jsonBody(ref(AsyncRequest{})),
			with(map[string]any{"202": ok("the job", ref(AsyncResponse{})), "200": ok("the job this Idempotency-Key already made", ref(AsyncResponse{}))}, errs("409", "422", "501")), false,
			map[string]any{"name": "Idempotency-Key", "in": "header", "schema": map[string]any{"type": "string", "maxLength": 255}})},
		"/v1/predictions/async/batch": map[string]any{"post": op("Queue up to 1,000 forecasts, one job each, recorded together before the 202", "predictAsyncBatch", apikey.ScopePredict, jsonBody(ref(AsyncBatchRequest{})),
			with(map[string]any{"202": ok("the jobs, in the request's order", ref(AsyncBatchResponse{})), "200": ok("the jobs this Idempotency-Key already made", ref(AsyncBatchResponse{}))}, errs("409", "422", "501")), false,
			map[string]any{"name": "Idempotency-Key", "in": "header", "schema": map[string]any{"type": "string", "maxLength": 255}})},
		"/v1/jobs/events": map[string]any{"get": op("Follow several async jobs as server-sent events: a job event as each ends, then an end event listing the unfinished", "jobEvents", apikey.ScopePredict, nil,
			with(map[string]any{"200": map[string]any{"description": "an event stream (text/event-stream): `event: job` (data: the job, as GET /v1/jobs/{id} answers it) when a job ends, or at once if it has; `event: unknown` (data: {\"job_id\"}) for an ID naming no job of the caller's; last `event: end` (data: {\"pending\": [IDs not yet ended]}) once all have ended or the wait is over",
				"content": map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}}}}}, errs("400", "501", "503")), false,
			map[string]any{"name": "ids", "in": "query", "required": true, "schema": map[string]any{"type": "string"}, "description": "job IDs separated by commas, at most 1,000"},
			map[string]any{"name": "wait", "in": "query", "schema": map[string]any{"type": "string"}, "example": "20s",
				"description": "how long to follow the jobs (seconds, or a duration like 500ms; at most and by default 20 s); 0 sends what has ended and ends"})},
		"/v1/jobs/{id}": map[string]any{
			"get": op("An async job's status and, when it has ended, its forecast", "job", apikey.ScopePredict, nil,
				with(map[string]any{"200": ok("the job", ref(jobs.View{}))}, errs("404", "501")), false, pathParam("id"),
				map[string]any{"name": "wait", "in": "query", "schema": map[string]any{"type": "string"}, "example": "10s",
					"description": "long poll: answer once the job has ended or after this long (seconds, or a duration like 500ms; at most 20 s), whichever is first"}),
			"delete": op("Cancel a job that is still queued", "cancelJob", apikey.ScopePredict, nil,
				with(map[string]any{"200": ok("the cancelled job", ref(jobs.View{}))}, errs("404", "409", "501")), false, pathParam("id")),
		},
		"/v1/fixtures": map[string]any{"get": op("Upcoming fixtures and the latest matches of a competition, with forecasts", "fixtures", apikey.ScopePredict, nil,
			with(map[string]any{"200": ok("forecasts", schemaOf(reflect.TypeOf(fixturesResponse), components))}, errs("422")), false,
			map[string]any{"name": "competition", "in": "query", "required": true, "schema": map[string]any{"type": "string"}, "example": "E0"},
			map[string]any{"name": "limit", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 100, "default": 10}})},
		"/v1/competitions": map[string]any{"get": op("The competitions served, with their names and teams", "competitions", apikey.ScopePredict, nil,
			map[string]any{"200": ok("competitions", schemaOf(reflect.TypeOf(competitionsResponse), components))}, false)},
		"/v1/promotions": map[string]any{"get": op("What serves (champion, generation) and the registry's audit log, newest first", "promotions", apikey.ScopePredict, nil,
			with(map[string]any{"200": ok("champion and promotion history", schemaOf(reflect.TypeOf(promotionsResponse), components))}, errs("422")), false,
			map[string]any{"name": "limit", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 200, "default": 20}})},
		"/v1/evaluation": map[string]any{"get": op("The newest tracked walk-forward evaluation", "evaluation", apikey.ScopePredict, nil,
			with(map[string]any{"200": ok("evaluation", evaluationResponse)}, errs("404")), false)},
		"/v1/monitoring": map[string]any{"get": op("How the served forecasts did against the results and the market: per version, competition and rolling window, calibration, the sequential alarm, drift", "monitoring", apikey.ScopePredict, nil,
			with(map[string]any{"200": ok("the monitor's report", schemaOf(reflect.TypeOf(monitor.Report{}), components))}, errs("422", "503")), false,
			map[string]any{"name": "from", "in": "query", "schema": map[string]any{"type": "string"}, "example": "2024-08-01", "description": "forecasts first served on or after this date or RFC 3339 time"},
			map[string]any{"name": "to", "in": "query", "schema": map[string]any{"type": "string"}, "description": "and before this one"},
			map[string]any{"name": "competition", "in": "query", "schema": map[string]any{"type": "string"}, "example": "E0"},
			map[string]any{"name": "version", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1}},
			map[string]any{"name": "windows", "in": "query", "schema": map[string]any{"type": "string"}, "example": "50,200,1000", "description": "rolling windows in scored matches"})},
		"/": map[string]any{"get": op("The web page (HTML; its script reads the /v1 API with the key entered once)", "page", "", nil,
			map[string]any{"200": map[string]any{"description": "HTML", "content": map[string]any{"text/html": map[string]any{"schema": map[string]any{"type": "string"}}}}}, false)},
		"/v1/plugins": map[string]any{"get": op("The server's plugin processes", "plugins", apikey.ScopeAdmin, nil,
			map[string]any{"200": ok("plugins", schemaOf(reflect.TypeOf(pluginsResponse), components))}, false)},
		"/healthz": map[string]any{"get": op("Alive", "healthz", "", nil, map[string]any{"200": anyJSON("alive")}, false)},
		"/readyz": map[string]any{"get": op("Ready: champion loaded, plugins answering, store reachable", "readyz", "", nil,
			map[string]any{"200": anyJSON("ready"), "503": anyJSON("not ready, naming the part")}, false)},
		"/metrics": map[string]any{"get": op("Prometheus metrics (text format)", "metrics", "", nil, map[string]any{"200": map[string]any{"description": "metrics",
			"content": map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}}}, false)},
		"/openapi.json":    map[string]any{"get": op("This document", "openapi", "", nil, map[string]any{"200": anyJSON("OpenAPI 3.1")}, false)},
		"/v2":              map[string]any{"get": op("OIP server metadata", "oipServer", "", nil, map[string]any{"200": oipOK("name, version, extensions", "OIPServerMetadata")}, true)},
		"/v2/health/live":  map[string]any{"get": op("OIP liveness", "oipLive", "", nil, map[string]any{"200": oipOK("live", "OIPLive")}, true)},
		"/v2/health/ready": map[string]any{"get": op("OIP readiness", "oipReady", "", nil, map[string]any{"200": oipOK("ready", "OIPReady"), "503": oipOK("not ready", "OIPReady")}, true)},
	}
	for _, prefix := range []string{"/v2/models/{model}", "/v2/models/{model}/versions/{version}"} {
		params := []any{pathParam("model")}
		suffix := ""
		if strings.Contains(prefix, "{version}") {
			params, suffix = append(params, pathParam("version")), "Version"
		}
		paths[prefix] = map[string]any{"get": op("OIP model metadata: inputs (fixtures or features), outputs, feature columns", "oipModel"+suffix, apikey.ScopePredict, nil,
			with(map[string]any{"200": oipOK("model metadata", "OIPModelMetadata")}, oipErrs("404")), true, params...)}
		paths[prefix+"/ready"] = map[string]any{"get": op("OIP model readiness", "oipModelReady"+suffix, apikey.ScopePredict, nil,
			with(map[string]any{"200": oipOK("ready", "OIPReady")}, oipErrs("404")), true, params...)}
		paths[prefix+"/config"] = map[string]any{"get": op("Triton model configuration", "oipModelConfig"+suffix, apikey.ScopePredict, nil,
			with(map[string]any{"200": anyJSON("model configuration")}, oipErrs("404")), true, params...)}
		paths[prefix+"/infer"] = map[string]any{"post": op("OIP inference: JSON, or JSON followed by binary tensors (Inference-Header-Content-Length)", "oipInfer"+suffix, apikey.ScopePredict,
			map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/OIPInferenceRequest"}},
				"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}},
			with(map[string]any{"200": map[string]any{"description": "inference response", "content": map[string]any{
				"application/json":         map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/OIPInferenceResponse"}},
				"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}}}, oipErrs("404", "422", "500", "501")), true, params...)}
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "SoccerPredict", "version": version,
			"description": "Home/draw/away probabilities for soccer fixtures, served from the champion model. Every forecast names its model, version and generation."},
		"paths": paths,
		"components": map[string]any{"schemas": components, "securitySchemes": map[string]any{
			"bearerAuth": map[string]any{"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key> (soccerpredict keys create)"},
			"apiKey":     map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key"},
		}},
	}
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
)

// schemaOf describes t; named structs go into components and are referenced.
func schemaOf(t reflect.Type, components map[string]any) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawJSONType: // the only raw JSON the API returns is a job's forecast
		return map[string]any{"$ref": "#/components/schemas/PredictionResponse"}
	case t.Kind() == reflect.String:
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return map[string]any{"type": "number"}
	case t.Kind() == reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), components)}
	case t.Kind() == reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), components), "minItems": t.Len(), "maxItems": t.Len()}
	case t.Kind() == reflect.Map:
		return map[string]any{"type": "object"}
	case t.Kind() == reflect.Struct:
		props, required := map[string]any{}, []string{}
		// VisibleFields includes an embedded struct's fields, which JSON inlines.
		for _, f := range reflect.VisibleFields(t) {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" || f.Anonymous {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaOf(f.Type, components)
			if f.Tag.Get("validate") == "required" || (!strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer && isResponse(t)) {
				required = append(required, name)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		if t.Name() == "" {
			return s
		}
		if _, done := components[t.Name()]; !done {
			components[t.Name()] = s
		}
		return map[string]any{"$ref": "#/components/schemas/" + t.Name()}
	}
	return map[string]any{}
}

// isResponse: in response types every field without omitempty is always present.
func isResponse(t reflect.Type) bool {
	return !strings.HasSuffix(t.Name(), "Request")
}
