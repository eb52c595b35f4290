package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
)

// The OpenAPI 3.1 document is generated from the very Go types the handlers
// decode and encode, and their `validate:"required"` tags are the ones
// missingFields enforces: the document cannot drift from the code.

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
		"application/problem+json": map[string]any{"schema": ref(Problem{})}}}
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
		Predictions []PredictionResponse `json:"predictions"`
	}{}
	fixturesResponse := struct {
		Competition string               `json:"competition"`
		Upcoming    []PredictionResponse `json:"upcoming"`
		Recent      []PredictionResponse `json:"recent"`
	}{}
	pluginsResponse := struct {
		Plugins []PluginJSON `json:"plugins"`
	}{}
	paths := map[string]any{
		"/v1/predictions": map[string]any{"post": map[string]any{
			"summary": "Forecast one fixture", "operationId": "predict", "requestBody": jsonBody(ref(PredictionRequest{})),
			"responses": with(map[string]any{"200": ok("home/draw/away probabilities", ref(PredictionResponse{}))}, errs("400", "422", "500", "503")),
		}},
		"/v1/predictions/batch": map[string]any{"post": map[string]any{
			"summary": "Forecast up to 1,000 fixtures, in order", "operationId": "predictBatch", "requestBody": jsonBody(ref(BatchRequest{})),
			"responses": with(map[string]any{"200": ok("one forecast per fixture", schemaOf(reflect.TypeOf(batchResponse), components))}, errs("400", "422", "500", "503")),
		}},
		"/v1/predictions/async": map[string]any{"post": map[string]any{
			"summary": "Queue a forecast; the job is durable before the 202", "operationId": "predictAsync", "requestBody": jsonBody(ref(AsyncRequest{})),
			"responses": with(map[string]any{"202": ok("the job", ref(AsyncResponse{}))}, errs("400", "422", "503")),
		}},
		"/v1/jobs/{id}": map[string]any{"get": map[string]any{
			"summary": "An async job's status and, when done, its forecast", "operationId": "job",
			"parameters": []any{map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}}},
			"responses":  with(map[string]any{"200": ok("the job", ref(jobs.View{}))}, errs("404")),
		}, "delete": map[string]any{
			"summary": "Cancel a job that is still queued", "operationId": "cancelJob",
			"parameters": []any{map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}}},
			"responses":  with(map[string]any{"200": ok("the cancelled job", ref(jobs.View{}))}, errs("404", "409")),
		}},
		"/v1/fixtures": map[string]any{"get": map[string]any{
			"summary": "Upcoming fixtures and the latest matches of a competition, with forecasts", "operationId": "fixtures",
			"parameters": []any{
				map[string]any{"name": "competition", "in": "query", "required": true, "schema": map[string]any{"type": "string"}, "example": "E0"},
				map[string]any{"name": "limit", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 100, "default": 10}},
			},
			"responses": with(map[string]any{"200": ok("forecasts", schemaOf(reflect.TypeOf(fixturesResponse), components))}, errs("422", "503")),
		}},
		"/v1/plugins": map[string]any{"get": map[string]any{"summary": "The server's plugin processes", "operationId": "plugins",
			"responses": map[string]any{"200": ok("plugins", schemaOf(reflect.TypeOf(pluginsResponse), components))}}},
		"/healthz": map[string]any{"get": map[string]any{"summary": "Alive", "responses": map[string]any{"200": map[string]any{"description": "alive"}}}},
		"/readyz": map[string]any{"get": map[string]any{"summary": "Ready: champion loaded, plugins answering, store reachable",
			"responses": with(map[string]any{"200": map[string]any{"description": "ready"}}, errs("503"))}},
		"/metrics": map[string]any{"get": map[string]any{"summary": "Prometheus metrics (text format)", "responses": map[string]any{"200": map[string]any{"description": "metrics"}}}},
		"/v2/models/soccerpredict/infer": map[string]any{"post": map[string]any{"summary": "Open Inference Protocol v2 inference (see the protocol's specification)",
			"responses": map[string]any{"200": map[string]any{"description": "inference response"}, "400": map[string]any{"description": `{"error": "..."}`}}}},
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "SoccerPredict", "version": version,
			"description": "Home/draw/away probabilities for soccer fixtures, served from the champion model. Every forecast names its model, version and generation."},
		"paths":      paths,
		"components": map[string]any{"schemas": components},
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
			if f.Tag.Get("validate") == "required" || (!strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer && isResponse(t)) {
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

// missingFields lists the `validate:"required"` fields of a decoded request
// that are empty, by their JSON names.
func missingFields(v any) []string {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	var out []string
	for _, f := range requiredFields(rv.Type()) {
		fv := rv.Field(f.index)
		if fv.Kind() == reflect.String && strings.TrimSpace(fv.String()) == "" || fv.IsZero() {
			out = append(out, f.name)
		}
	}
	return out
}

type requiredField struct {
	index int
	name  string
}

var required sync.Map // reflect.Type -> []requiredField

// requiredFields lists a struct type's fields tagged validate:"required",
// read once per type.
func requiredFields(t reflect.Type) []requiredField {
	if fs, ok := required.Load(t); ok {
		return fs.([]requiredField)
	}
	var fs []requiredField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("validate") == "required" {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fs = append(fs, requiredField{i, name})
		}
	}
	required.Store(t, fs)
	return fs
}
