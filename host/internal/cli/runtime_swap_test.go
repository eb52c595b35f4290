package cli

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An operator swaps the model runtime with one line of config: the champion
// trained with the onnx plugin (ONNX Runtime, cgo) is served by onnxgo (pure
// Go) with the same forecasts, and onnxgo trains a model as well.
func TestSwappingTheModelRuntimeIsOneConfigLine(t *testing.T) {
	cfg := fullConfig(t, "store: {driver: sqlite}")
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	after := bytes.Replace(b, []byte("model: {plugin: onnx,"), []byte("model: {plugin: onnxgo,"), 1)
	if changed := diffLines(string(b), string(after)); changed != 1 {
		t.Fatalf("the swap changed %d lines of config, want 1", changed)
	}
	swapped := filepath.Join(filepath.Dir(cfg), "swapped.yaml")
	if err := os.WriteFile(swapped, after, 0o644); err != nil {
		t.Fatal(err)
	}
	pairs := [][2]string{{"Arsenal", "Chelsea"}, {"Liverpool", "Man City"}, {"Everton", "Fulham"}, {"Brighton", "Man United"}, {"Newcastle", "Tottenham"}}
	answers := map[string][][3]float64{}
	for _, c := range []string{cfg, swapped} {
		ctx, stop := context.WithCancel(context.Background())
		base := startServe(t, ctx, c)
		for _, p := range pairs {
			body := fmt.Sprintf(`{"home_team": %q, "away_team": %q, "competition": "E0", "kickoff": "2030-08-17T14:00:00Z"}`, p[0], p[1])
			code, out := postJSON(t, base+"/v1/predictions", body)
			if code != 200 {
				stop()
				t.Fatalf("%s: %v: %d %v", filepath.Base(c), p, code, out)
			}
			pr := out["probabilities"].(map[string]any)
			answers[c] = append(answers[c], [3]float64{pr["home"].(float64), pr["draw"].(float64), pr["away"].(float64)})
		}
		stop()
	}
	worst := 0.0
	for i := range pairs {
		for k := range 3 {
			worst = math.Max(worst, math.Abs(answers[cfg][i][k]-answers[swapped][i][k]))
		}
	}
	if worst > 1e-12 {
		t.Fatalf("onnx and onnxgo serve the same champion %g apart:\n%v\n%v", worst, answers[cfg], answers[swapped])
	}
	t.Logf("max |onnx − onnxgo| over %d forecasts of the champion: %.2g", len(pairs), worst)
	if out := must(t, swapped, "models", "train"); !strings.Contains(out, "registered onnxgo-logreg v2:") {
		t.Fatalf("training with onnxgo:\n%s", out)
	}
}

func diffLines(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(la) != len(lb) {
		return max(len(la), len(lb))
	}
	n := 0
	for i := range la {
		if la[i] != lb[i] {
			n++
		}
	}
	return n
}
