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
	MLmodelFile = "MLmodel"
	ONNXFile    = "model.onnx"
)

// Meta is what the MLmodel file says besides the signature.
type Meta struct {
	ModelUUID string
	RunID     string
	Created   time.Time
	// Metadata is free-form (model name, version, feature schema, data hash).
	Metadata map[string]string
}

type document struct {
	ArtifactPath   string            `yaml:"artifact_path"`
	Flavors        map[string]flavor `yaml:"flavors"`
	ModelUUID      string            `yaml:"model_uuid"`
	RunID          string            `yaml:"run_id,omitempty"`
	UTCTimeCreated string            `yaml:"utc_time_created"`
	Signature      signature         `yaml:"signature"`
	Metadata       map[string]string `yaml:"metadata,omitempty"`
}

type flavor struct {
	Data        string   `yaml:"data"`
	ONNXVersion string   `yaml:"onnx_version"`
	Providers   []string `yaml:"providers"`
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

func columns(cs []soccer.Column) string {
	out := make([]column, len(cs))
	for i, c := range cs {
		out[i] = column{Type: c.Type, Name: c.Name, Required: true}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// Write writes the ONNX artifact and its MLmodel file into dir.
func Write(dir string, artifact []byte, sig model.Signature, meta Meta) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model dir: %w", err)
	}
	doc := document{
		ArtifactPath:   "model",
		Flavors:        map[string]flavor{"onnx": {Data: ONNXFile, ONNXVersion: "1.13", Providers: []string{"CPUExecutionProvider"}}},
		ModelUUID:      meta.ModelUUID,
		RunID:          meta.RunID,
		UTCTimeCreated: meta.Created.UTC().Format("2006-01-02 15:04:05.000000"),
		Signature:      signature{Inputs: columns(sig.Inputs), Outputs: columns(sig.Outputs)},
		Metadata:       meta.Metadata,
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("MLmodel: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ONNXFile), artifact, 0o644); err != nil {
		return fmt.Errorf("model dir: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, MLmodelFile), b, 0o644)
}

// Read reads a model directory written by Write (or by MLflow, in column form).
func Read(dir string) ([]byte, model.Signature, Meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, MLmodelFile))
	if err != nil {
		return nil, model.Signature{}, Meta{}, fmt.Errorf("model dir %s: %w", dir, err)
	}
	var doc document
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, model.Signature{}, Meta{}, fmt.Errorf("%s/%s: %w", dir, MLmodelFile, err)
	}
	parse := func(field, s string) ([]soccer.Column, error) {
		var cs []column
		if err := json.Unmarshal([]byte(s), &cs); err != nil {
			return nil, fmt.Errorf("%s/%s: signature.%s is not MLflow's column form: %w", dir, MLmodelFile, field, err)
		}
		out := make([]soccer.Column, len(cs))
		for i, c := range cs {
			out[i] = soccer.Column{Name: c.Name, Type: c.Type}
		}
		return out, nil
	}
	var sig model.Signature
	if sig.Inputs, err = parse("inputs", doc.Signature.Inputs); err != nil {
		return nil, model.Signature{}, Meta{}, err
	}
	if sig.Outputs, err = parse("outputs", doc.Signature.Outputs); err != nil {
		return nil, model.Signature{}, Meta{}, err
	}
	data := ONNXFile
	if f, ok := doc.Flavors["onnx"]; ok && f.Data != "" {
		data = f.Data
	}
	artifact, err := os.ReadFile(filepath.Join(dir, data))
	if err != nil {
		return nil, model.Signature{}, Meta{}, fmt.Errorf("model dir %s: %w", dir, err)
	}
	created, _ := time.Parse("2006-01-02 15:04:05.000000", doc.UTCTimeCreated)
	return artifact, sig, Meta{ModelUUID: doc.ModelUUID, RunID: doc.RunID, Created: created, Metadata: doc.Metadata}, nil
}
