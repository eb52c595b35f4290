package mlmodel

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// onnxModel builds a ModelProto with a double input features [N, width]
// and double outputs probabilities and logits [N, 3], as the onnx plugin's
// logistic regression exports.
func onnxModel(width int64) []byte {
	msg := func(fields ...[]byte) []byte {
		var b []byte
		for _, f := range fields {
			b = append(b, f...)
		}
		return b
	}
	bytesField := func(num protowire.Number, v []byte) []byte {
		b := protowire.AppendTag(nil, num, protowire.BytesType)
		return protowire.AppendBytes(b, v)
	}
	varint := func(num protowire.Number, v uint64) []byte {
		b := protowire.AppendTag(nil, num, protowire.VarintType)
		return protowire.AppendVarint(b, v)
	}
	tensor := func(name string, dims ...[]byte) []byte {
		var shape []byte
		for _, d := range dims {
			shape = append(shape, bytesField(1, d)...)
		}
		return msg(bytesField(1, []byte(name)), bytesField(2, bytesField(1, msg(varint(1, 11), bytesField(2, shape)))))
	}
	n := bytesField(2, []byte("N"))
	graph := msg(bytesField(1, []byte("logreg")),
		bytesField(11, tensor("features", n, varint(1, uint64(width)))),
		bytesField(12, tensor("probabilities", n, varint(1, 3))),
		bytesField(12, tensor("logits", n, varint(1, 3))))
	return msg(varint(1, 8), bytesField(7, graph))
}

func TestExportMLflowLoads(t *testing.T) {
	dir := t.TempDir()
	sig := model.Signature{Inputs: []soccer.Column{{Name: "elo_diff", Type: "double"}, {Name: "market_home", Type: "double"}}, Outputs: model.Outputs}
	meta := Meta{ModelUUID: "abc", RunID: "run-1", Created: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Metadata: map[string]string{"feature_schema_version": "ratings-2"}}
	artifact := onnxModel(2)
	if err := Write(dir, artifact, sig, meta); err != nil {
		t.Fatal(err)
	}
	// Field by field, what MLflow's loader reads.
	raw, _ := os.ReadFile(filepath.Join(dir, MLmodelFile))
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	fl := doc["flavors"].(map[string]any)
	pyfunc := fl["python_function"].(map[string]any)
	if pyfunc["loader_module"] != "mlflow.onnx" || pyfunc["data"] != ONNXFile || pyfunc["python_version"] == nil {
		t.Fatalf("python_function flavor %v", pyfunc)
	}
	env := pyfunc["env"].(map[string]any)
	for _, f := range []string{env["conda"].(string), env["virtualenv"].(string), RequirementsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("environment file %s: %v", f, err)
		}
	}
	onnx := fl["onnx"].(map[string]any)
	if onnx["data"] != ONNXFile || onnx["onnx_version"] == nil || !reflect.DeepEqual(onnx["providers"], []any{"CPUExecutionProvider"}) {
		t.Fatalf("onnx flavor %v", onnx)
	}
	if _, ok := onnx["code"]; !ok {
		t.Fatal("onnx flavor without code (MLflow reads it)")
	}
	if doc["mlflow_version"] == nil || doc["utc_time_created"] != "2026-11-25 10:00:00.000000" {
		t.Fatalf("MLmodel %v", doc)
	}
	// The signature is what the ONNX flavor feeds and returns: the graph's
	// tensors by dtype and shape, the outputs by name. The one input is
	// unnamed, as MLflow's pyfunc needs to take a DataFrame of the feature
	// columns (the shape's width is their count) as well as the array: its
	// schema enforcement turns an F-column DataFrame into the [-1, F] tensor
	// only for an unnamed tensor input.
	s := doc["signature"].(map[string]any)
	var ins, outs []map[string]any
	json.Unmarshal([]byte(s["inputs"].(string)), &ins)
	json.Unmarshal([]byte(s["outputs"].(string)), &outs)
	if _, named := ins[0]["name"]; len(ins) != 1 || named || ins[0]["type"] != "tensor" || toJSON(ins[0]["tensor-spec"]) != `{"dtype":"float64","shape":[-1,2]}` {
		t.Fatalf("signature inputs %v", ins)
	}
	var columns []string
	if md, _ := doc["metadata"].(map[string]any); json.Unmarshal([]byte(md["feature_columns"].(string)), &columns) != nil || len(columns) != 2 {
		t.Fatalf("feature_columns %v: the DataFrame's columns, in order, one per tensor column", doc["metadata"])
	}
	if len(outs) != 2 || outs[0]["name"] != "probabilities" || toJSON(outs[1]["tensor-spec"]) != `{"dtype":"float64","shape":[-1,3]}` {
		t.Fatalf("signature outputs %v", outs)
	}
	req, _ := os.ReadFile(filepath.Join(dir, RequirementsFile))
	for _, want := range []string{"mlflow==", "onnx==", "onnxruntime=="} {
		if !strings.Contains(string(req), want) {
			t.Fatalf("requirements.txt lacks %s:\n%s", want, req)
		}
	}
	art, gotSig, gotMeta, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(art) != string(artifact) || !reflect.DeepEqual(gotSig, sig) || gotMeta.Metadata["feature_schema_version"] != "ratings-2" || gotMeta.RunID != "run-1" {
		t.Fatalf("read back %+v %+v", gotSig, gotMeta)
	}
	if len(gotMeta.Inputs) != 1 || gotMeta.Inputs[0].Shape[1] != 2 {
		t.Fatalf("tensors %+v", gotMeta.Inputs)
	}
}

// A directory MLflow logged with a column signature (inferred from a
// DataFrame) still reads.
func TestColumnSignatureReads(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ONNXFile), onnxModel(2), 0o644)
	os.WriteFile(filepath.Join(dir, MLmodelFile), []byte(`flavors:
  onnx: {data: model.onnx, onnx_version: 1.17.0}
signature:
  inputs: '[{"type": "double", "name": "elo_diff", "required": true}, {"type": "double", "name": "market_home", "required": true}]'
  outputs: '[{"type": "double", "name": "home"}, {"type": "double", "name": "draw"}, {"type": "double", "name": "away"}]'
`), 0o644)
	_, sig, _, err := Read(dir)
	if err != nil || len(sig.Inputs) != 2 || sig.Inputs[1].Name != "market_home" {
		t.Fatalf("%+v %v", sig, err)
	}
}

func TestBadSignatureIsNamed(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, MLmodelFile), []byte("signature:\n  inputs: '[{\"type\": \"tensor\"'\n  outputs: '[]'\n"), 0o644)
	if _, _, _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "signature.inputs") {
		t.Fatalf("err = %v", err)
	}
	if err := Write(t.TempDir(), []byte("not onnx"), model.Signature{}, Meta{}); err == nil || !strings.Contains(err.Error(), "not an ONNX model") {
		t.Fatalf("a non-ONNX artifact: %v", err)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
