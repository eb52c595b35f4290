package mlmodel

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

func TestRoundTripInMLflowsShape(t *testing.T) {
	dir := t.TempDir()
	sig := model.Signature{Inputs: []soccer.Column{{Name: "elo_diff", Type: "double"}, {Name: "market_home", Type: "double"}}, Outputs: model.Outputs}
	meta := Meta{ModelUUID: "abc", RunID: "run-1", Created: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Metadata: map[string]string{"feature_schema_version": "ratings-2"}}
	if err := Write(dir, []byte("onnx bytes"), sig, meta); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, MLmodelFile))
	for _, want := range []string{"flavors:", "onnx:", "data: model.onnx", "utc_time_created: \"2026-11-25 10:00:00.000000\"",
		`inputs: '[{"type":"double","name":"elo_diff","required":true},{"type":"double","name":"market_home","required":true}]'`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("MLmodel lacks %q:\n%s", want, raw)
		}
	}
	art, gotSig, gotMeta, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(art) != "onnx bytes" || !reflect.DeepEqual(gotSig, sig) || !reflect.DeepEqual(gotMeta, meta) {
		t.Fatalf("read back %q %+v %+v", art, gotSig, gotMeta)
	}
}

func TestBadSignatureIsNamed(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, MLmodelFile), []byte("signature:\n  inputs: '[{\"type\": \"tensor\"'\n  outputs: '[]'\n"), 0o644)
	if _, _, _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "signature.inputs") {
		t.Fatalf("err = %v", err)
	}
}
