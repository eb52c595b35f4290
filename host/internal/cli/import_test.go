package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// An exported model directory is an MLflow model (its files are checked
// field by field in the mlmodel package), and `models import` of it
// registers an identical version; a directory whose signature does not fit
// the feature schema is refused with the reason.
func TestModelsExportImportRoundTrip(t *testing.T) {
	cfg := fullConfig(t, "store: {driver: sqlite}")
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion")
	dir := filepath.Join(t.TempDir(), "model")
	must(t, cfg, "models", "export", "--out", dir)
	for _, f := range []string{"MLmodel", "model.onnx", "conda.yaml", "python_env.yaml", "requirements.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("export lacks %s: %v", f, err)
		}
	}
	out := must(t, cfg, "models", "import", dir)
	m := regexp.MustCompile(`imported .* as (\S+) v2 .*artifact sha256 ([0-9a-f]{16})\); candidate -> v2`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("import: %s", out)
	}
	again := filepath.Join(t.TempDir(), "again")
	must(t, cfg, "models", "export", "--version", "2", "--out", again)
	a, _ := os.ReadFile(filepath.Join(dir, "model.onnx"))
	b, _ := os.ReadFile(filepath.Join(again, "model.onnx"))
	if len(a) == 0 || string(a) != string(b) {
		t.Fatal("the imported artifact is not the exported one")
	}
	// Without column names (as MLflow logs a tensor signature) the width decides.
	mlmodel, _ := os.ReadFile(filepath.Join(dir, "MLmodel"))
	noNames := regexp.MustCompile(`(?m)^\s+feature_columns: .*\n`).ReplaceAll(mlmodel, nil)
	os.WriteFile(filepath.Join(dir, "MLmodel"), noNames, 0o644)
	if out := must(t, cfg, "models", "import", dir, "--name", "from-mlflow", "--alias", "challenger"); !strings.Contains(out, "from-mlflow v3") {
		t.Fatalf("import without names: %s", out)
	}
	// Columns that are not the schema's are refused, naming why.
	wrong := regexp.MustCompile(`(?m)^(\s+feature_columns: ')\["`).ReplaceAll(mlmodel, []byte(`${1}["not_a_feature","`))
	os.WriteFile(filepath.Join(dir, "MLmodel"), wrong, 0o644)
	code, _, errs := run(t, nil, "models", "import", dir, "--config", cfg)
	if code == 0 || !strings.Contains(errs, "does not fit the feature plugin's schema") {
		t.Fatalf("wrong columns: exit %d %s", code, errs)
	}
}
