// Package mlmodel writes and reads a model directory in MLflow's layout: the
// ONNX file beside an MLmodel YAML whose signature holds the ordered input
// columns and the outputs, as JSON strings inside the YAML (MLflow's column
// form). The host refuses to load a model whose signature is not the
// feature plugin's schema.
package mlmodel

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// File names in a model directory.
const (
	MLmodelFile      = "MLmodel"
	ONNXFile         = "model.onnx"
	CondaFile        = "conda.yaml"
	PythonEnvFile    = "python_env.yaml"
	RequirementsFile = "requirements.txt"
)

// The Python environment an exported model declares, for MLflow to build
// when it serves the model (mlflow models serve, pyfunc.load_model).
const (
	mlflowVersion      = "2.22.0"
	onnxVersion        = "1.17.0"
	onnxruntimeVersion = "1.22.0"
	pythonVersion      = "3.11.9"
)

// Meta is what the MLmodel file says besides the signature.
type Meta struct {
	ModelUUID string
	RunID     string
	Created   time.Time
	// Metadata is free-form (model name, version, feature schema, data hash).
	Metadata map[string]string
	// Inputs and Outputs are the graph's tensors as the signature states
	// them (nil for a column-form signature).
	Inputs, Outputs []TensorSpec
}

type document struct {
	ArtifactPath   string            `yaml:"artifact_path"`
	Flavors        flavors           `yaml:"flavors"`
	MLflowVersion  string            `yaml:"mlflow_version,omitempty"`
	ModelUUID      string            `yaml:"model_uuid"`
	RunID          string            `yaml:"run_id,omitempty"`
	UTCTimeCreated string            `yaml:"utc_time_created"`
	Signature      signature         `yaml:"signature"`
	Metadata       map[string]string `yaml:"metadata,omitempty"`
}

type flavors struct {
	ONNX           *onnxFlavor   `yaml:"onnx,omitempty"`
	PythonFunction *pyfuncFlavor `yaml:"python_function,omitempty"`
}

type onnxFlavor struct {
	Code        *string  `yaml:"code"`
	Data        string   `yaml:"data"`
	ONNXVersion string   `yaml:"onnx_version"`
	Providers   []string `yaml:"providers"`
}

// pyfuncFlavor lets MLflow load the model generically: pyfunc.load_model
// imports loader_module and calls its _load_pyfunc(data).
type pyfuncFlavor struct {
	Data          string            `yaml:"data"`
	Env           map[string]string `yaml:"env"`
	LoaderModule  string            `yaml:"loader_module"`
	PythonVersion string            `yaml:"python_version"`
}

type signature struct {
	Inputs  string `yaml:"inputs"`
	Outputs string `yaml:"outputs"`
	Params  any    `yaml:"params"`
}

type column struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Required bool   `json:"required"`
}

// tensorEntry is one entry of MLflow's tensor-form signature.
type tensorEntry struct {
	Type string     `json:"type"`
	Spec tensorSpec `json:"tensor-spec"`
	Name string     `json:"name,omitempty"`
}

type tensorSpec struct {
	Dtype string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// unnamed drops the input's name from the signature. MLflow's pyfunc
// checks an input against the signature before the ONNX flavor sees it: a
// named tensor ("features") must arrive as that name, so a DataFrame of the
// feature columns is refused ("Model is missing inputs ['features']"),
// while one unnamed [-1, F] tensor takes either the array itself or a
// DataFrame of F columns (its values, in column order), which the ONNX
// flavor feeds to the graph's one input. The columns' order is the
// metadata's feature_columns.
func unnamed(ts []TensorSpec) []TensorSpec {
	out := make([]TensorSpec, len(ts))
	for i, t := range ts {
		out[i] = TensorSpec{Dtype: t.Dtype, Shape: t.Shape}
	}
	return out
}

func tensors(ts []TensorSpec) string {
	out := make([]tensorEntry, len(ts))
	for i, t := range ts {
		out[i] = tensorEntry{Type: "tensor", Spec: tensorSpec{Dtype: t.Dtype, Shape: t.Shape}, Name: t.Name}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// Write writes a model directory MLflow loads as it is: the ONNX graph, an
// MLmodel with the onnx and python_function flavors and a tensor signature
// read from the graph itself (its input unnamed, see unnamed; its outputs
// by name), and the Python environment files. The feature
// columns, in order, are in the metadata as feature_columns.
func Write(dir string, artifact []byte, sig model.Signature, meta Meta) error {
	ins, outs, err := GraphIO(artifact)
	if err != nil {
		return fmt.Errorf("model artifact: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model dir: %w", err)
	}
	md := map[string]string{}
	for k, v := range meta.Metadata {
		md[k] = v
	}
	names := make([]string, len(sig.Inputs))
	for i, c := range sig.Inputs {
		names[i] = c.Name
	}
	cols, _ := json.Marshal(names)
	md["feature_columns"] = string(cols)
	doc := document{
		ArtifactPath: "model",
		Flavors: flavors{
			ONNX: &onnxFlavor{Data: ONNXFile, ONNXVersion: onnxVersion, Providers: []string{"CPUExecutionProvider"}},
			PythonFunction: &pyfuncFlavor{Data: ONNXFile, LoaderModule: "mlflow.onnx", PythonVersion: pythonVersion,
				Env: map[string]string{"conda": CondaFile, "virtualenv": PythonEnvFile}},
		},
		MLflowVersion:  mlflowVersion,
		ModelUUID:      meta.ModelUUID,
		RunID:          meta.RunID,
		UTCTimeCreated: meta.Created.UTC().Format("2006-01-02 15:04:05.000000"),
		Signature:      signature{Inputs: tensors(unnamed(ins)), Outputs: tensors(outs)},
		Metadata:       md,
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("MLmodel: %w", err)
	}
	reqs := fmt.Sprintf("mlflow==%s\nonnx==%s\nonnxruntime==%s\n", mlflowVersion, onnxVersion, onnxruntimeVersion)
	files := map[string][]byte{
		ONNXFile:         artifact,
		MLmodelFile:      b,
		RequirementsFile: []byte(reqs),
		PythonEnvFile: []byte(fmt.Sprintf("python: %s\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r %s\n",
			pythonVersion, RequirementsFile)),
		CondaFile: []byte(fmt.Sprintf("channels:\n- conda-forge\ndependencies:\n- python=%s\n- pip\n- pip:\n  - mlflow==%s\n  - onnx==%s\n  - onnxruntime==%s\nname: mlflow-env\n",
			pythonVersion, mlflowVersion, onnxVersion, onnxruntimeVersion)),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("model dir: %w", err)
		}
	}
	return nil
}

// Read reads a model directory written by Write, or logged by MLflow in
// either signature form (columns, or tensors). For a tensor signature the
// input columns come from the metadata's feature_columns; an MLflow model
// without it has no input names (Signature.Inputs nil), only Meta.Inputs.
func Read(dir string) ([]byte, model.Signature, Meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, MLmodelFile))
	if err != nil {
		return nil, model.Signature{}, Meta{}, fmt.Errorf("model dir %s: %w", dir, err)
	}
	var doc document
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, model.Signature{}, Meta{}, fmt.Errorf("%s/%s: %w", dir, MLmodelFile, err)
	}
	meta := Meta{ModelUUID: doc.ModelUUID, RunID: doc.RunID, Metadata: doc.Metadata}
	meta.Created, _ = time.Parse("2006-01-02 15:04:05.000000", doc.UTCTimeCreated)
	var sig model.Signature
	parse := func(field, s string) ([]soccer.Column, []TensorSpec, error) {
		var entries []map[string]any
		if err := json.Unmarshal([]byte(s), &entries); err != nil {
			return nil, nil, fmt.Errorf("%s/%s: signature.%s is not an MLflow signature: %w", dir, MLmodelFile, field, err)
		}
		if len(entries) > 0 && entries[0]["type"] == "tensor" {
			var ts []tensorEntry
			json.Unmarshal([]byte(s), &ts)
			out := make([]TensorSpec, len(ts))
			for i, t := range ts {
				out[i] = TensorSpec{Name: t.Name, Dtype: t.Spec.Dtype, Shape: t.Spec.Shape}
			}
			return nil, out, nil
		}
		var cs []column
		if err := json.Unmarshal([]byte(s), &cs); err != nil {
			return nil, nil, fmt.Errorf("%s/%s: signature.%s is not MLflow's column form: %w", dir, MLmodelFile, field, err)
		}
		out := make([]soccer.Column, len(cs))
		for i, c := range cs {
			out[i] = soccer.Column{Name: c.Name, Type: c.Type}
		}
		return out, nil, nil
	}
	if sig.Inputs, meta.Inputs, err = parse("inputs", doc.Signature.Inputs); err != nil {
		return nil, model.Signature{}, Meta{}, err
	}
	if sig.Outputs, meta.Outputs, err = parse("outputs", doc.Signature.Outputs); err != nil {
		return nil, model.Signature{}, Meta{}, err
	}
	if meta.Inputs != nil {
		// Tensor form: the columns are the metadata's, the outputs the
		// home/draw/away distribution of the graph's probabilities.
		var names []string
		if fc := doc.Metadata["feature_columns"]; fc != "" {
			if err := json.Unmarshal([]byte(fc), &names); err != nil {
				return nil, model.Signature{}, Meta{}, fmt.Errorf("%s/%s: metadata.feature_columns is not a JSON list of names: %w", dir, MLmodelFile, err)
			}
		}
		for _, n := range names {
			sig.Inputs = append(sig.Inputs, soccer.Column{Name: n, Type: "double"})
		}
		found := false
		for _, o := range meta.Outputs {
			found = found || o.Name == "probabilities" && len(o.Shape) == 2 && o.Shape[1] == 3
		}
		if !found {
			return nil, model.Signature{}, Meta{}, fmt.Errorf("%s/%s: the signature has no output probabilities [-1, 3] (home, draw, away)", dir, MLmodelFile)
		}
		sig.Outputs = model.Outputs
	}
	data := ONNXFile
	if f := doc.Flavors.ONNX; f != nil && f.Data != "" {
		data = f.Data
	}
	artifact, err := os.ReadFile(filepath.Join(dir, data))
	if err != nil {
		return nil, model.Signature{}, Meta{}, fmt.Errorf("model dir %s: %w", dir, err)
	}
	return artifact, sig, meta, nil
}
