package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/soccerpredict/soccerpredict/host/internal/fault"
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
	// status is the HTTP status a decoding problem answers (400 if zero).
	status int
}

// Status is the HTTP status for a problem found while decoding a body.
func (p FieldProblem) Status() int {
	if p.status == 0 {
		return http.StatusBadRequest
	}
	return p.status
}

// appender is a response that writes its own JSON (present.PredictionResponse).
type appender interface{ AppendJSON([]byte) []byte }

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (s *Server) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if a, ok := v.(appender); ok {
		bp := buffers.Get().(*[]byte)
		*bp = a.AppendJSON((*bp)[:0])
		_, err := w.Write(*bp)
		buffers.Put(bp)
		if err != nil {
			s.clientGone(err)
		}
		return
	}
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.clientGone(err)
	}
}

// clientGone notes a response that could not be written: the caller hung up,
// which is theirs to know, not an error of the server's.
func (s *Server) clientGone(err error) {
	s.Logger.Debug("response not written: the client is gone", "error", err)
}

// DefaultMaxBody bounds a request body unless the server says otherwise.
const DefaultMaxBody = 1 << 20

// tooLarge is the problem of a body over the server's limit.
func tooLarge(err error) *FieldProblem {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &FieldProblem{Message: fmt.Sprintf("the body is larger than %d bytes", mbe.Limit), status: http.StatusRequestEntityTooLarge}
	}
	return nil
}

// readBody reads the body (bounded by the limit middleware) into a pooled
// buffer; call done after.
func readBody(r *http.Request) (data []byte, done func(), err error) {
	bp := buffers.Get().(*[]byte)
	b := (*bp)[:0]
	lr := r.Body
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, rerr := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			*bp = b
			buffers.Put(bp)
			return nil, func() {}, rerr
		}
	}
	*bp = b
	return b, func() {
		if cap(*bp) <= 64<<10 { // keep the pool's buffers small
			buffers.Put(bp)
		}
	}, nil
}

func (s *Server) problem(w http.ResponseWriter, r *http.Request, status int, title, detail string, fields []FieldProblem) {
	if strings.HasPrefix(r.URL.Path, "/v2") {
		// Inference clients (KServe's, Triton's) parse {"error": "..."}
		// under /v2, whatever went wrong: auth, routing, limits.
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		msg := title
		if detail != "" {
			msg += ": " + detail
		}
		s.oipError(w, status, "%s", msg)
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Problem{Type: problemType(title), Title: title, Status: status, Detail: detail,
		Instance: middleware.GetReqID(r.Context()), Errors: fields})
}

// StatusClientClosed is recorded for a request whose caller hung up before
// its answer was ready (nginx's 499): neither a success nor the server's fault.
const StatusClientClosed = fault.StatusClientClosed

// fail answers an error from the forecast package (or a plugin's) as its
// problem: the status, title and words of its fault.Kind, the same on every
// channel.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) { s.failIn(w, r, err, nil) }

// failIn is fail for a request of several fixtures: field(i) is where
// fixture i is in the request ("fixtures[2]").
func (s *Server) failIn(w http.ResponseWriter, r *http.Request, err error, field func(int) string) {
	if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		// Nobody is listening: no log line, no 500 in the metrics.
		w.WriteHeader(StatusClientClosed)
		return
	}
	e := fault.Of(err)
	switch e.Kind {
	case fault.Internal:
		s.Logger.Error("request failed", "path", r.URL.Path, "error", err)
	case fault.Unsupported:
		s.Logger.Warn("request refused", "path", r.URL.Path, "error", err)
	}
	if i, ok := e.Item(); ok && field != nil {
		e = fault.Under(field(i), e)
	}
	var fields []FieldProblem
	if e.Field != "" {
		fields = []FieldProblem{{Field: e.Field, Message: e.Message, Suggestions: e.Suggestions}}
	}
	s.problem(w, r, e.Kind.HTTPStatus(), e.TitleOrKind(), e.Detail(), fields)
}

// decodePrediction reads a PredictionRequest body: the everyday shape
// without reflection, anything else through decode's strict rules.
func decodePrediction(r *http.Request, req *PredictionRequest) *FieldProblem {
	data, done, err := readBody(r)
	defer done()
	if p := tooLarge(err); p != nil {
		return p
	}
	if err != nil {
		return &FieldProblem{Field: "", Message: "cannot read the body: " + err.Error()}
	}
	if quickDecodePrediction(data, req) {
		return nil
	}
	*req = PredictionRequest{}
	return decodeFrom(bytes.NewReader(data), req)
}

// decode reads a JSON body strictly into v: unknown fields, wrong types and
// trailing data are errors naming the field.
func decode(r *http.Request, v any) *FieldProblem {
	return decodeFrom(r.Body, v)
}

func decodeFrom(body io.Reader, v any) *FieldProblem {
	dec := json.NewDecoder(body)
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
	if p := tooLarge(err); p != nil {
		return p
	}
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
		return &FieldProblem{Field: name, Message: fmt.Sprintf("unknown field %q", name)}
	}
	return &FieldProblem{Field: "", Message: err.Error()}
}

// ProblemTypePrefix starts every problem's type (see fault.TypeOf).
const ProblemTypePrefix = fault.ProblemTypePrefix

func problemType(title string) string { return fault.TypeOf(title) }
