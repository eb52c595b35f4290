package oip

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// An inference request as the REST and gRPC front ends both decode it, and
// the core that answers it (inferCore). Two input forms:
//
//   - fixtures: BYTES tensors home_team, away_team, competition and an
//     optional kickoff, each [N] or [N, 1]; request parameters competition
//     and kickoff fill in a tensor that is left out;
//   - features: one FP32 or FP64 tensor [N, F] in the model's feature order
//     (GET /v2/models/soccerpredict lists it), for callers that compute
//     features themselves, as a Triton serving the exported ONNX model does.
//
// The one output is probabilities, FP64 [N, 3] (home, draw, away).

type inferInput struct {
	Name     string
	Datatype string
	Shape    []int64
	Strings  []string  // BYTES
	Numbers  []float64 // numeric datatypes
}

type inferRequest struct {
	ID         string
	Parameters map[string]any
	Inputs     []inferInput
	// Outputs are the requested output names (none: all).
	Outputs []string
}

type inferOutput struct {
	Name     string
	Datatype string
	Shape    []int64
	Data     []float64
}

type inferResult struct {
	ModelVersion string
	Parameters   map[string]any
	Outputs      []inferOutput
}

// fixtureInputs are oipInputs as a set.
var fixtureInputs = func() map[string]bool {
	m := map[string]bool{}
	for _, in := range oipInputs {
		m[in] = true
	}
	return m
}()

// inferCore answers an inference request (its model and version already checked).
func (s *Server) inferCore(ctx context.Context, req inferRequest) (inferResult, *oipErr) {
	for _, o := range req.Outputs {
		if o != "probabilities" && o != oipMarkets {
			return inferResult{}, badInfer("unknown output %q; the outputs are probabilities and, from a goals model, %s", o, oipMarkets)
		}
	}
	res, err := s.inferAll(ctx, req)
	if err != nil {
		return res, err
	}
	return selectOutputs(res, req.Outputs)
}

// selectOutputs keeps the requested outputs (none requested: all of them);
// markets asked of a model that has none is a 422, as over REST.
func selectOutputs(res inferResult, names []string) (inferResult, *oipErr) {
	if len(names) == 0 {
		return res, nil
	}
	var kept []inferOutput
	for _, name := range names {
		found := false
		for _, o := range res.Outputs {
			if o.Name == name {
				kept, found = append(kept, o), true
			}
		}
		if !found {
			return inferResult{}, &oipErr{Status: fault.Unprocessable.HTTPStatus(), Code: fault.Unprocessable.GRPCCode(),
				Msg: fmt.Sprintf("output %q: the serving model forecasts home/draw/away only; its goal markets need a goals model (model.plugin: goals)", name)}
		}
	}
	res.Outputs = kept
	return res, nil
}

func (s *Server) inferAll(ctx context.Context, req inferRequest) (inferResult, *oipErr) {
	if len(req.Inputs) == 1 && !fixtureInputs[req.Inputs[0].Name] {
		return s.inferFeatures(ctx, req)
	}
	cols := map[string][]string{}
	for _, in := range req.Inputs {
		if !fixtureInputs[in.Name] {
			return inferResult{}, badInfer("unknown input %q: send home_team, away_team, competition (and optional kickoff) as BYTES, or one FP32/FP64 feature tensor [N, F]", in.Name)
		}
		if in.Datatype != "BYTES" {
			return inferResult{}, badInfer("input %q: datatype %s, want BYTES", in.Name, in.Datatype)
		}
		if err := checkShape(in, len(in.Strings)); err != nil {
			return inferResult{}, err
		}
		cols[in.Name] = in.Strings
	}
	n := len(cols["home_team"])
	for _, name := range []string{"competition", "kickoff"} {
		if v, ok := req.Parameters[name].(string); ok && cols[name] == nil {
			cols[name] = make([]string, n)
			for i := range n {
				cols[name][i] = v
			}
		}
	}
	for _, name := range []string{"home_team", "away_team", "competition", "kickoff"} {
		vals, present := cols[name]
		if !present && name == "kickoff" {
			continue
		}
		if !present || len(vals) != n || n == 0 {
			return inferResult{}, badInfer("inputs home_team, away_team and competition (and optional kickoff) must each hold the same number (≥ 1) of values; %q has %d, home_team %d", name, len(vals), n)
		}
	}
	if n > httpx.MaxBatch {
		return inferResult{}, badInfer("inputs hold %d fixtures; send 1 to %d per request (the same cap as /v1/predictions/batch)", n, httpx.MaxBatch)
	}
	// Parameter stored_odds false forecasts every fixture without the
	// store's prices; by default a scheduled fixture the store has priced
	// is forecast with them (the answer's parameter market_source says, per
	// fixture, "stored" or "none").
	noStored := false
	if v, ok := req.Parameters["stored_odds"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return inferResult{}, badInfer("parameter stored_odds must be true or false, not %v", v)
		}
		noStored = !b
	}
	fixtures := make([]soccer.Fixture, n)
	for i := range n {
		fr := forecast.FixtureRequest{HomeTeam: cols["home_team"][i], AwayTeam: cols["away_team"][i], Competition: cols["competition"][i],
			NoStoredOdds: noStored}
		if k := cols["kickoff"]; k != nil && k[i] != "" {
			t, err := time.Parse(time.RFC3339, k[i])
			if err != nil {
				return inferResult{}, badInfer("kickoff[%d]: %q is not an RFC 3339 time", i, k[i])
			}
			fr.Kickoff = t
		}
		f, err := s.Predictor.Fixture(ctx, fr)
		if err != nil {
			return inferResult{}, s.oipFailure(fault.In(i, err), oipItem)
		}
		fixtures[i] = f
	}
	preds, err := s.Predictor.Predict(ctx, fixtures)
	if err != nil {
		return inferResult{}, s.oipFailure(err, oipItem)
	}
	probs, markets := make([]soccer.Probabilities, n), make([]*soccer.GoalMarkets, n)
	for i, p := range preds {
		probs[i], markets[i] = p.Probabilities, p.Markets
	}
	// The version that answered, even mid-switch.
	res := inferAnswer(probs, markets, preds[0].Model, preds[0].ModelVersion, preds[0].Generation, preds[0].FeatureSchemaVersion)
	// OIP parameters are scalars: one word per fixture, comma-separated.
	sources := make([]string, n)
	for i, f := range fixtures {
		if sources[i] = forecast.MarketSource(f); sources[i] == "" {
			sources[i] = "none"
		}
	}
	res.Parameters["market_source"] = strings.Join(sources, ",")
	return res, nil
}

// oipItem is where fixture i is in an inference request: its row of the
// input tensors.
func oipItem(i int) string { return fmt.Sprintf("inputs[%d]", i) }

// inferAnswer is the outputs — probabilities [N, 3], and markets [N, 5+3k]
// when the model gave every row's — and the model that made them.
func inferAnswer(probs []soccer.Probabilities, markets []*soccer.GoalMarkets, model string, version int, generation int64, schema string) inferResult {
	data := make([]float64, 0, 3*len(probs))
	for _, p := range probs {
		data = append(data, p.Home, p.Draw, p.Away)
	}
	res := inferResult{ModelVersion: strconv.Itoa(version),
		Parameters: map[string]any{"generation": generation, "model": model, "feature_schema_version": schema},
		Outputs:    []inferOutput{{Name: "probabilities", Datatype: "FP64", Shape: []int64{int64(len(probs)), 3}, Data: data}}}
	if len(markets) == 0 || markets[0] == nil {
		return res
	}
	k := len(markets[0].Scorelines)
	width := 5 + 3*k
	mk := make([]float64, 0, width*len(markets))
	for _, m := range markets {
		if m == nil || len(m.Scorelines) != k {
			return res // not every row has them alike: none rather than a ragged tensor
		}
		mk = append(mk, m.ExpectedHomeGoals, m.ExpectedAwayGoals, m.Over25, 1-m.Over25, m.BothScore)
		for _, sl := range m.Scorelines {
			mk = append(mk, float64(sl.Home), float64(sl.Away), sl.Probability)
		}
	}
	res.Outputs = append(res.Outputs, inferOutput{Name: oipMarkets, Datatype: "FP64", Shape: []int64{int64(len(markets)), int64(width)}, Data: mk})
	return res
}

func (s *Server) inferFeatures(ctx context.Context, req inferRequest) (inferResult, *oipErr) {
	in := req.Inputs[0]
	if in.Datatype != "FP32" && in.Datatype != "FP64" {
		return inferResult{}, badInfer("input %q: a feature tensor is FP32 or FP64, not %s", in.Name, in.Datatype)
	}
	width := len(s.Predictor.FeatureColumns().Columns)
	if len(in.Shape) != 2 || in.Shape[1] != int64(width) || in.Shape[0] < 1 || in.Shape[0]*in.Shape[1] != int64(len(in.Numbers)) {
		return inferResult{}, badInfer("input %q: shape %v with %d values; a feature tensor is [N, %d] (the model's features in order, see the model metadata)", in.Name, in.Shape, len(in.Numbers), width)
	}
	n := int(in.Shape[0])
	if n > httpx.MaxBatch {
		return inferResult{}, badInfer("input %q holds %d rows; send 1 to %d per request", in.Name, n, httpx.MaxBatch)
	}
	rows := make([][]float64, n)
	columns := s.Predictor.FeatureColumns().Columns
	for i := range rows {
		rows[i] = in.Numbers[i*width : (i+1)*width]
		for j, v := range rows[i] {
			if msg := featureValueProblem(in.Datatype, v); msg != "" {
				return inferResult{}, badInfer("input %q, row %d, feature %s: %v %s", in.Name, i, columns[j].Name, v, msg)
			}
		}
	}
	res, err := s.Predictor.PredictRows(ctx, rows)
	if err != nil {
		return inferResult{}, s.oipFailure(err, nil)
	}
	return inferAnswer(res.Probabilities, res.Markets, res.Model, res.ModelVersion, res.Generation, s.Predictor.FeatureColumns().Version), nil
}

// checkShape checks that a fixture input's shape, [N] or [N, 1], holds its n values.
func checkShape(in inferInput, n int) *oipErr {
	count := int64(1)
	for _, d := range in.Shape {
		count *= d
	}
	if len(in.Shape) == 0 || len(in.Shape) > 2 || (len(in.Shape) == 2 && in.Shape[1] != 1) || count != int64(n) {
		return badInfer("input %q: shape %v does not hold its %d values (use [n] or [n, 1])", in.Name, in.Shape, n)
	}
	return nil
}

// --- REST: JSON, the binary tensor data extension, compression ---

// BinaryHeader carries the length of the JSON part of a body whose tensors
// follow it as binary data (Triton's binary tensor data extension).
const BinaryHeader = "Inference-Header-Content-Length"

type restTensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// oipRequest is a REST infer body. Fields it does not use (model_name,
// model_version, …, as the KServe client sends) are ignored, as the
// protocol allows.
type oipRequest struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []restTensor   `json:"inputs"`
	Outputs    []struct {
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters,omitempty"`
	} `json:"outputs,omitempty"`
}

type restOutput struct {
	Name       string         `json:"name"`
	Shape      []int64        `json:"shape"`
	Datatype   string         `json:"datatype"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       []float64      `json:"data,omitempty"`
}

type oipResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version,omitempty"`
	ID           string         `json:"id,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []restOutput   `json:"outputs"`
}

// readInferBody reads a request body, decompressing a gzip or deflate
// Content-Encoding, bounded by limit before and after decompression.
func readInferBody(r *http.Request, limit int64) ([]byte, *oipErr) {
	var body io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, badInfer("the body is not gzip data (Content-Encoding: gzip): %v", err)
		}
		defer zr.Close()
		body = zr
	case "deflate":
		// HTTP's deflate is zlib-wrapped; some clients send raw deflate.
		raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return nil, bodyReadError(err)
		}
		if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			body = zr
		} else {
			body = flate.NewReader(bytes.NewReader(raw))
		}
	default:
		return nil, &oipErr{Status: http.StatusUnsupportedMediaType, Msg: fmt.Sprintf("Content-Encoding %q is not supported; use gzip, deflate or none", enc)}
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, bodyReadError(err)
	}
	if int64(len(data)) > limit {
		return nil, &oipErr{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("the body is larger than %d bytes (after decompression)", limit)}
	}
	return data, nil
}

func bodyReadError(err error) *oipErr {
	if p := httpx.TooLarge(err); p != nil {
		return &oipErr{Status: http.StatusRequestEntityTooLarge, Msg: p.Message}
	}
	return badInfer("cannot read the body: %v", err)
}

// decodeREST turns a REST infer body into an inferRequest, and reports
// whether the caller asked for binary outputs.
func decodeREST(r *http.Request, body []byte) (inferRequest, bool, *oipErr) {
	jsonPart, bin := body, []byte(nil)
	if h := r.Header.Get(BinaryHeader); h != "" {
		n, err := strconv.Atoi(strings.TrimSpace(h))
		if err != nil || n < 0 || n > len(body) {
			return inferRequest{}, false, badInfer("%s: %q is not a length within the %d-byte body", BinaryHeader, h, len(body))
		}
		jsonPart, bin = body[:n], body[n:]
	}
	var req oipRequest
	if err := json.Unmarshal(jsonPart, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return inferRequest{}, false, badInfer("%s: expected %s, got a JSON %s", te.Field, te.Type, te.Value)
		}
		if r.Header.Get(BinaryHeader) == "" && json.Valid(trimToObject(jsonPart)) {
			return inferRequest{}, false, badInfer("data after the JSON object: binary tensors need the %s header", BinaryHeader)
		}
		return inferRequest{}, false, badInfer("malformed JSON in the infer request: %v", err)
	}
	out := inferRequest{ID: req.ID, Parameters: req.Parameters}
	binaryOut := truthy(req.Parameters["binary_data_output"])
	for _, o := range req.Outputs {
		out.Outputs = append(out.Outputs, o.Name)
		binaryOut = binaryOut || truthy(o.Parameters["binary_data"])
	}
	for _, t := range req.Inputs {
		in := inferInput{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		if size, ok := t.Parameters["binary_data_size"]; ok {
			n, ok := size.(float64)
			if !ok || n < 0 || n != math.Trunc(n) || int(n) > len(bin) {
				return inferRequest{}, false, badInfer("input %q: binary_data_size %v is more than the %d bytes of binary data left", t.Name, size, len(bin))
			}
			if err := decodeBinary(&in, bin[:int(n)]); err != nil {
				return inferRequest{}, false, err
			}
			bin = bin[int(n):]
		} else if err := decodeJSONData(&in, t.Data); err != nil {
			return inferRequest{}, false, err
		}
		out.Inputs = append(out.Inputs, in)
	}
	if len(bin) > 0 {
		return inferRequest{}, false, badInfer("%d bytes of binary data are not claimed by any input's binary_data_size", len(bin))
	}
	return out, binaryOut, nil
}

// trimToObject returns the first JSON value of b, if b starts with one.
func trimToObject(b []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	if dec.Decode(&v) != nil {
		return nil
	}
	return v
}

func truthy(v any) bool { b, _ := v.(bool); return b }

// decodeBinary reads a tensor's binary data: little-endian, row-major;
// BYTES elements are a 4-byte length and the bytes.
func decodeBinary(in *inferInput, b []byte) *oipErr {
	switch in.Datatype {
	case "BYTES":
		for len(b) > 0 {
			if len(b) < 4 {
				return badInfer("input %q: binary BYTES data ends inside an element's length", in.Name)
			}
			n := binary.LittleEndian.Uint32(b)
			if uint64(n) > uint64(len(b)-4) {
				return badInfer("input %q: a binary BYTES element of %d bytes runs past the data", in.Name, n)
			}
			in.Strings = append(in.Strings, string(b[4:4+n]))
			b = b[4+n:]
		}
	case "FP32":
		if len(b)%4 != 0 {
			return badInfer("input %q: %d bytes of FP32 data is not a whole number of values", in.Name, len(b))
		}
		for i := 0; i < len(b); i += 4 {
			in.Numbers = append(in.Numbers, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
		}
	case "FP64":
		if len(b)%8 != 0 {
			return badInfer("input %q: %d bytes of FP64 data is not a whole number of values", in.Name, len(b))
		}
		for i := 0; i < len(b); i += 8 {
			in.Numbers = append(in.Numbers, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
		}
	default:
		return badInfer("input %q: datatype %s is not one this model reads (BYTES, FP32, FP64)", in.Name, in.Datatype)
	}
	return nil
}

// decodeJSONData reads a tensor's JSON data, flat or nested.
func decodeJSONData(in *inferInput, raw json.RawMessage) *oipErr {
	var v any
	if len(raw) == 0 {
		return badInfer("input %q has neither data nor binary_data_size", in.Name)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return badInfer("input %q: data is not JSON: %v", in.Name, err)
	}
	var walk func(v any) *oipErr
	walk = func(v any) *oipErr {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		case string:
			if in.Datatype != "BYTES" {
				return badInfer("input %q: a %s tensor holds numbers, found a string", in.Name, in.Datatype)
			}
			in.Strings = append(in.Strings, x)
		case float64:
			if in.Datatype == "BYTES" {
				return badInfer("input %q: data must be strings, found a number", in.Name)
			}
			in.Numbers = append(in.Numbers, x)
		default:
			return badInfer("input %q: data must be strings or numbers, found %T", in.Name, v)
		}
		return nil
	}
	return walk(v)
}

// writeREST answers an infer request: JSON, or with binary outputs
// after the JSON when asked, compressed when the caller accepts it.
func (s *Server) writeREST(w http.ResponseWriter, r *http.Request, id string, res inferResult, binaryOut bool) {
	resp := oipResponse{ModelName: Model, ModelVersion: res.ModelVersion, ID: id, Parameters: res.Parameters}
	var tail []byte
	for _, o := range res.Outputs {
		ro := restOutput{Name: o.Name, Shape: o.Shape, Datatype: o.Datatype}
		if binaryOut {
			start := len(tail)
			for _, v := range o.Data {
				tail = binary.LittleEndian.AppendUint64(tail, math.Float64bits(v))
			}
			ro.Parameters = map[string]any{"binary_data_size": len(tail) - start}
		} else {
			ro.Data = o.Data
		}
		resp.Outputs = append(resp.Outputs, ro)
	}
	head, _ := json.Marshal(resp)
	body := head
	if binaryOut {
		w.Header().Set(BinaryHeader, strconv.Itoa(len(head)))
		w.Header().Set("Content-Type", "application/octet-stream")
		body = append(head, tail...)
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	writeEncoded(w, r, http.StatusOK, body)
}

// writeEncoded writes body, gzip- or deflate-compressed when the request's
// Accept-Encoding asks for it.
func writeEncoded(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	accept := strings.ToLower(r.Header.Get("Accept-Encoding"))
	for _, enc := range []struct {
		name      string
		newWriter func(io.Writer) io.WriteCloser
	}{
		{"gzip", func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }},
		{"deflate", func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }},
	} {
		if strings.Contains(accept, enc.name) {
			var buf bytes.Buffer
			zw := enc.newWriter(&buf)
			zw.Write(body)
			zw.Close()
			w.Header().Set("Content-Encoding", enc.name)
			body = buf.Bytes()
			break
		}
	}
	w.Header().Set("Vary", "Accept-Encoding")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) oipInfer(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.oipVersion(w, r); !ok {
		return
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	if ct != "" && ct != "application/json" && ct != "application/octet-stream" && !strings.HasSuffix(ct, "+json") {
		s.oipError(w, http.StatusUnsupportedMediaType, "Content-Type %q is not supported; send application/json (or application/octet-stream with binary tensors)", ct)
		return
	}
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	body, perr := readInferBody(r, limit)
	if perr != nil {
		s.oipError(w, perr.Status, "%s", perr.Msg)
		return
	}
	req, binaryOut, perr := decodeREST(r, body)
	if perr == nil {
		var res inferResult
		if res, perr = s.inferCore(apikey.Origin(r.Context(), "oip-rest"), req); perr == nil {
			s.writeREST(w, r, req.ID, res, binaryOut)
			return
		}
	}
	if perr.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	s.oipError(w, perr.Status, "%s", perr.Msg)
}

// MaxFeatureMagnitude bounds a feature value a caller may send: no
// feature of a soccer model comes within orders of magnitude of it, and
// values beyond it only overflow a model's arithmetic.
const MaxFeatureMagnitude = 1e9

// featureValueProblem says what is wrong with a feature value of a tensor
// of datatype, or "".
func featureValueProblem(datatype string, v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "is not a finite number"
	case datatype == "FP32" && math.Abs(v) > math.MaxFloat32:
		return "is outside FP32's range"
	case math.Abs(v) > MaxFeatureMagnitude:
		return fmt.Sprintf("is outside the range a feature takes (|x| ≤ %g)", MaxFeatureMagnitude)
	}
	return ""
}
