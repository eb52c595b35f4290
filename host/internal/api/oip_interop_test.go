package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/api/oip"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// oipCall sends one infer request and returns the status, the headers and
// the body split at Inference-Header-Content-Length (when set).
func oipCall(t *testing.T, url string, body []byte, headers ...string) (int, http.Header, map[string]any, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	tr := &http.Transport{DisableCompression: true} // see the Content-Encoding as sent
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = io.ReadAll(zr)
	}
	head, tail := raw, []byte(nil)
	if h := resp.Header.Get(oip.BinaryHeader); h != "" {
		n, _ := strconv.Atoi(h)
		head, tail = raw[:n], raw[n:]
	}
	var out map[string]any
	if err := json.Unmarshal(head, &out); err != nil {
		t.Fatalf("not JSON: %q", head)
	}
	return resp.StatusCode, resp.Header, out, tail
}

// jsonProbabilities reads the probabilities output of a JSON answer.
func jsonProbabilities(t *testing.T, out map[string]any) []float64 {
	t.Helper()
	o := out["outputs"].([]any)[0].(map[string]any)
	var p []float64
	for _, v := range o["data"].([]any) {
		p = append(p, v.(float64))
	}
	return p
}

func bytesTensor(vals ...string) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

var interopFixtures = [][3]string{{"Arsenal", "Chelsea", "E0"}, {"Liverpool", "Everton", "E0"}}

// The bodies stock clients send: KServe's Python client (model_name, id,
// parameters, outputs in the body), Triton's tritonclient.http with its
// default binary tensors in and out, gzip-compressed requests and answers,
// and the feature-tensor form a Triton serving the ONNX model would use.
func TestOIPInteroperability(t *testing.T) {
	w := setup(t)
	infer := w.server.URL + "/v2/models/soccerpredict/infer"
	home, away, comp := []string{}, []string{}, []string{}
	for _, f := range interopFixtures {
		home, away, comp = append(home, f[0]), append(away, f[1]), append(comp, f[2])
	}
	strs := func(v []string) string { b, _ := json.Marshal(v); return string(b) }
	plain := `{"inputs": [
		{"name": "home_team", "shape": [2], "datatype": "BYTES", "data": ` + strs(home) + `},
		{"name": "away_team", "shape": [2], "datatype": "BYTES", "data": ` + strs(away) + `},
		{"name": "competition", "shape": [2], "datatype": "BYTES", "data": ` + strs(comp) + `},
		{"name": "kickoff", "shape": [2], "datatype": "BYTES", "data": ["2024-09-01T15:00:00Z", "2024-09-01T15:00:00Z"]}]}`
	code, _, out, _ := oipCall(t, infer, []byte(plain), "Content-Type", "application/json")
	if code != 200 {
		t.Fatalf("plain infer: %d %v", code, out)
	}
	want := jsonProbabilities(t, out)

	t.Run("KServe client body", func(t *testing.T) {
		body := `{"model_name": "soccerpredict", "model_version": "", "id": "kserve-7", "parameters": {"competition": "E0", "kickoff": "2024-09-01T15:00:00Z"},
			"inputs": [
				{"name": "home_team", "shape": [2, 1], "datatype": "BYTES", "parameters": {}, "data": [["Arsenal"], ["Liverpool"]]},
				{"name": "away_team", "shape": [2, 1], "datatype": "BYTES", "parameters": {}, "data": [["Chelsea"], ["Everton"]]}],
			"outputs": [{"name": "probabilities", "parameters": {}}]}`
		code, _, out, _ := oipCall(t, infer, []byte(body), "Content-Type", "application/json")
		if code != 200 || out["id"] != "kserve-7" {
			t.Fatalf("%d %v", code, out)
		}
		if got := jsonProbabilities(t, out); !equalFloats(got, want) {
			t.Fatalf("probabilities %v, want %v", got, want)
		}
		code, _, out, _ = oipCall(t, infer, []byte(strings.Replace(body, `"name": "probabilities"`, `"name": "logits"`, 1)))
		if code != 400 || !strings.Contains(out["error"].(string), `unknown output "logits"`) {
			t.Fatalf("unknown output: %d %v", code, out)
		}
	})

	t.Run("Triton client binary tensors", func(t *testing.T) {
		var bin []byte
		var inputs []map[string]any
		for _, in := range []struct {
			name string
			vals []string
		}{{"home_team", home}, {"away_team", away}, {"competition", comp}, {"kickoff", []string{"2024-09-01T15:00:00Z", "2024-09-01T15:00:00Z"}}} {
			b := bytesTensor(in.vals...)
			bin = append(bin, b...)
			inputs = append(inputs, map[string]any{"name": in.name, "shape": []int{2}, "datatype": "BYTES", "parameters": map[string]any{"binary_data_size": len(b)}})
		}
		head, _ := json.Marshal(map[string]any{"inputs": inputs, "outputs": []map[string]any{{"name": "probabilities", "parameters": map[string]any{"binary_data": true}}}})
		code, h, out, tail := oipCall(t, infer, append(head, bin...), "Content-Type", "application/octet-stream", oip.BinaryHeader, strconv.Itoa(len(head)))
		if code != 200 || h.Get(oip.BinaryHeader) == "" {
			t.Fatalf("%d %v", code, out)
		}
		o := out["outputs"].([]any)[0].(map[string]any)
		if o["data"] != nil || o["parameters"].(map[string]any)["binary_data_size"].(float64) != 48 || len(tail) != 48 {
			t.Fatalf("binary output %v with %d bytes", o, len(tail))
		}
		var got []float64
		for i := 0; i < len(tail); i += 8 {
			got = append(got, math.Float64frombits(binary.LittleEndian.Uint64(tail[i:])))
		}
		if !equalFloats(got, want) {
			t.Fatalf("binary probabilities %v, want %v", got, want)
		}
		// Without the header the binary part is not JSON: the error says what is missing.
		code, _, out, _ = oipCall(t, infer, append(head, bin...), "Content-Type", "application/json")
		if code != 400 || !strings.Contains(toJSON(out["error"]), oip.BinaryHeader) {
			t.Fatalf("binary data without the header: %d %v", code, out)
		}
	})

	t.Run("gzip both ways", func(t *testing.T) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(plain))
		zw.Close()
		code, h, out, _ := oipCall(t, infer, buf.Bytes(), "Content-Type", "application/json", "Content-Encoding", "gzip", "Accept-Encoding", "gzip")
		if code != 200 || h.Get("Content-Encoding") != "gzip" || !equalFloats(jsonProbabilities(t, out), want) {
			t.Fatalf("gzip: %d %v %v", code, h, out)
		}
		if code, _, out, _ := oipCall(t, infer, []byte(plain), "Content-Encoding", "br"); code != 415 || out["error"] == nil {
			t.Fatalf("brotli: %d %v", code, out)
		}
		if code, _, out, _ := oipCall(t, infer, []byte(plain), "Content-Type", "text/plain"); code != 415 || out["error"] == nil {
			t.Fatalf("text/plain: %d %v", code, out)
		}
	})

	t.Run("feature tensor", func(t *testing.T) {
		var fixtures []soccer.Fixture
		for _, f := range interopFixtures {
			fx, err := w.pred.Fixture(context.Background(), forecast.FixtureRequest{HomeTeam: f[0], AwayTeam: f[1], Competition: f[2], Kickoff: time.Date(2024, 9, 1, 15, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			fixtures = append(fixtures, fx)
		}
		p, _ := w.host.Plugin("ratings")
		rows, err := pluginhost.FeaturesOf(p).Compute(context.Background(), features.ComputeRequest{Fixtures: fixtures})
		if err != nil {
			t.Fatal(err)
		}
		width := len(rows.Rows[0].Values)
		var bin []byte
		var flat []float64
		for _, r := range rows.Rows {
			for _, v := range r.Values {
				bin = binary.LittleEndian.AppendUint64(bin, math.Float64bits(v))
				flat = append(flat, v)
			}
		}
		head, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "features", "shape": []int{2, width}, "datatype": "FP64", "parameters": map[string]any{"binary_data_size": len(bin)}}}})
		code, _, out, _ := oipCall(t, infer, append(head, bin...), oip.BinaryHeader, strconv.Itoa(len(head)))
		if code != 200 || !equalFloats(jsonProbabilities(t, out), want) {
			t.Fatalf("FP64 features: %d %v, want %v", code, out, want)
		}
		// FP32 in JSON, as numbers: the same forecast to FP32's precision.
		body, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "input", "shape": []int{2, width}, "datatype": "FP32", "data": flat}}})
		code, _, out, _ = oipCall(t, infer, body)
		if got := jsonProbabilities(t, out); code != 200 || math.Abs(got[0]-want[0]) > 1e-4 {
			t.Fatalf("FP32 features: %d %v, want ≈ %v", code, got, want)
		}
		body, _ = json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "features", "shape": []int{1, width - 1}, "datatype": "FP32", "data": flat[:width-1]}}})
		if code, _, out, _ := oipCall(t, infer, body); code != 400 || !strings.Contains(toJSON(out["error"]), strconv.Itoa(width)) {
			t.Fatalf("a row too narrow: %d %v", code, out)
		}
		// Values a model would overflow on, or that the datatype cannot
		// hold, are the caller's error, naming the tensor, row and feature.
		for _, c := range []struct {
			datatype string
			value    float64
			want     string
		}{{"FP64", 1e308, "outside the range a feature takes"}, {"FP64", -1e308, "outside the range"}, {"FP32", 1e39, "outside FP32's range"}} {
			bad := append([]float64(nil), flat...)
			bad[width+3] = c.value // row 1
			body, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "features", "shape": []int{2, width}, "datatype": c.datatype, "data": bad}}})
			code, _, out, _ := oipCall(t, infer, body)
			if msg := toJSON(out["error"]); code != 400 || !strings.Contains(msg, c.want) || !strings.Contains(msg, `input \"features\", row 1`) {
				t.Fatalf("%s %g: %d %v", c.datatype, c.value, code, out)
			}
		}
	})

	t.Run("errors are OIP errors everywhere under /v2", func(t *testing.T) {
		for _, c := range []struct {
			method, path string
			want         int
		}{{"GET", "/v2/models/soccerpredict/nope", 404}, {"DELETE", "/v2/models/soccerpredict/infer", 405}} {
			req, _ := http.NewRequest(c.method, w.server.URL+c.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != c.want || out["error"] == nil || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%s %s: %d %s %v", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), out)
			}
		}
		code, out := get(t, w.server.URL+"/v2/models/soccerpredict/config")
		if code != 200 || out["max_batch_size"] == nil || toJSON(out["output"]) == "" {
			t.Fatalf("config: %d %v", code, out)
		}
		_, meta := get(t, w.server.URL+"/v2/models/soccerpredict")
		if cols, _ := meta["parameters"].(map[string]any)["feature_columns"].([]any); len(cols) == 0 {
			t.Fatalf("metadata does not list the feature columns: %v", meta)
		}
	})
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
