// Package httpx is what every audience of the HTTP API answers with: JSON
// bodies, RFC 9457 problem details (the Open Inference Protocol's
// {"error": …} under /v2), the mapping of an error to its problem, and
// strict decoding of request bodies.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/hashicorp/go-hclog"

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

// JSON answers v as JSON with status; log notes a response the client
// did not stay for.
func JSON(w http.ResponseWriter, status int, v any, log hclog.Logger) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if a, ok := v.(appender); ok {
		bp := buffers.Get().(*[]byte)
		*bp = a.AppendJSON((*bp)[:0])
		_, err := w.Write(*bp)
		buffers.Put(bp)
		if err != nil {
			clientGone(log, err)
		}
		return
	}
	if err := json.NewEncoder(w).Encode(v); err != nil {
		clientGone(log, err)
	}
}

// clientGone notes a response that could not be written: the caller hung up,
// which is theirs to know, not an error of the server's.
func clientGone(log hclog.Logger, err error) {
	log.Debug("response not written: the client is gone", "error", err)
}

// DefaultMaxBody bounds a request body unless the server says otherwise.
const DefaultMaxBody = 1 << 20

// Missing lists the `validate:"required"` fields of a decoded request
// that are empty, by their JSON names.
func Missing(v any) []string {
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

// TooLarge is the problem of a body over the server's limit (nil for
// another error).
func TooLarge(err error) *FieldProblem {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &FieldProblem{Message: fmt.Sprintf("the body is larger than %d bytes", mbe.Limit), status: http.StatusRequestEntityTooLarge}
	}
	return nil
}

// ReadBody reads the body (bounded by the limit middleware) into a pooled
// buffer; call done after.
func ReadBody(r *http.Request) (data []byte, done func(), err error) {
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

// WriteProblem answers a problem detail; under /v2 the Open Inference
// Protocol's error body instead.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, title, detail string, fields []FieldProblem) {
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
		OIPError(w, status, msg)
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

// Fail answers an error from the forecast package (or a plugin's) as its
// problem: the status, title and words of its fault.Kind, the same on every
// channel. For a request of several fixtures, field(i) is where fixture i
// is in the request ("fixtures[2]"; nil for one fixture). An internal error
// is logged.
func Fail(w http.ResponseWriter, r *http.Request, err error, field func(int) string, log hclog.Logger) {
	if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		// Nobody is listening: no log line, no 500 in the metrics.
		w.WriteHeader(fault.StatusClientClosed)
		return
	}
	e := fault.Of(err)
	switch e.Kind {
	case fault.Internal:
		log.Error("request failed", "path", r.URL.Path, "error", err)
	case fault.Unsupported:
		log.Warn("request refused", "path", r.URL.Path, "error", err)
	}
	if i, ok := e.Item(); ok && field != nil {
		e = fault.Under(field(i), e)
	}
	var fields []FieldProblem
	if e.Field != "" {
		fields = []FieldProblem{{Field: e.Field, Message: e.Message, Suggestions: e.Suggestions}}
	}
	WriteProblem(w, r, e.Kind.HTTPStatus(), e.TitleOrKind(), e.Detail(), fields)
}

// Decode reads a JSON body strictly into v: unknown fields, wrong types and
// trailing data are errors naming the field.
func Decode(r *http.Request, v any) *FieldProblem {
	return DecodeFrom(r.Body, v)
}

// DecodeFrom is Decode of body.
func DecodeFrom(body io.Reader, v any) *FieldProblem {
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
	if p := TooLarge(err); p != nil {
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

func problemType(title string) string { return fault.TypeOf(title) }

// OIPError answers the Open Inference Protocol's error body, {"error": msg}.
func OIPError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// LimitParam reads ?limit= (1..most; def when absent), answering 422 itself.
func LimitParam(w http.ResponseWriter, r *http.Request, def, most int) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		WriteProblem(w, r, http.StatusUnprocessableEntity, "invalid limit", fmt.Sprintf("limit is a whole number from 1 to %d", most),
			[]FieldProblem{{Field: "limit", Message: fmt.Sprintf("%q is not a whole number from 1 to %d", v, most)}})
		return 0, false
	}
	return n, true
}

// MaxBatch is the most fixtures one request may ask for, on every route.
const MaxBatch = 1000

var (
	requestPrefix = strconv.FormatInt(time.Now().UnixNano()%(1<<30), 36) + "-"
	requestSeq    atomic.Uint64
)

// RequestID is the ID a request is known by: the caller's (its
// X-Request-Id, or gRPC's x-request-id) when it sent a sane one, else one
// of the server's.
func RequestID(sent string) string {
	if sent == "" || len(sent) > 128 || strings.ContainsFunc(sent, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return requestPrefix + strconv.FormatUint(requestSeq.Add(1), 10)
	}
	return sent
}
