package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
)

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Status   int            `json:"status"`
	Detail   string         `json:"detail,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Errors   []FieldProblem `json:"errors,omitempty"`
}

// FieldProblem names a field of the request and what is wrong with it.
type FieldProblem struct {
	Field       string   `json:"field"`
	Message     string   `json:"message"`
	Suggestions []string `json:"suggestions,omitempty"`
}

func (s *Server) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.Logger.Warn("write response", "error", err)
	}
}

func (s *Server) problem(w http.ResponseWriter, r *http.Request, status int, title, detail string, fields []FieldProblem) {
	w.Header().Set("Content-Type", "application/problem+json")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Problem{Type: "about:blank", Title: title, Status: status, Detail: detail,
		Instance: middleware.GetReqID(r.Context()), Errors: fields})
}

// fail maps an error from the forecast package to its response.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var unknown *forecast.UnknownTeamError
	switch {
	case errors.As(err, &unknown):
		s.problem(w, r, http.StatusUnprocessableEntity, "unknown team", err.Error(),
			[]FieldProblem{{Field: unknown.Field, Message: fmt.Sprintf("unknown team %q in %s", unknown.Team, unknown.Competition), Suggestions: unknown.Suggestions}})
	case errors.Is(err, forecast.ErrBadFixture):
		detail := strings.TrimPrefix(err.Error(), forecast.ErrBadFixture.Error()+": ")
		field, msg, _ := strings.Cut(detail, ": ")
		s.problem(w, r, http.StatusUnprocessableEntity, "invalid fixture", detail, []FieldProblem{{Field: field, Message: msg}})
	case errors.Is(err, forecast.ErrUnavailable), errors.Is(err, forecast.ErrNotReady):
		s.problem(w, r, http.StatusServiceUnavailable, "temporarily unavailable", err.Error(), nil)
	case errors.Is(err, forecast.ErrMisbehaved):
		// Logged with the plugin's answer where it was caught; the caller gets no numbers.
		s.problem(w, r, http.StatusInternalServerError, "internal error", "the model produced an invalid forecast; it was not served", nil)
	default:
		s.Logger.Error("request failed", "path", r.URL.Path, "error", err)
		s.problem(w, r, http.StatusInternalServerError, "internal error", "the prediction failed; see the server log", nil)
	}
}

// decode reads a JSON body strictly into v: unknown fields, wrong types and
// trailing data are errors naming the field.
func decode(r *http.Request, v any) *FieldProblem {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			return &FieldProblem{Field: "", Message: "trailing data after the JSON object"}
		}
		return nil
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return &FieldProblem{Field: "", Message: fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, syntax)}
	case errors.As(err, &typ):
		return &FieldProblem{Field: typ.Field, Message: fmt.Sprintf("must be a %s, not a JSON %s", typ.Type, typ.Value)}
	case errors.Is(err, io.EOF):
		return &FieldProblem{Field: "", Message: "empty body: send a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldProblem{Field: "", Message: "malformed JSON: the body ends early"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &FieldProblem{Field: name, Message: "unknown field"}
	}
	return &FieldProblem{Field: "", Message: err.Error()}
}
