package loadtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// The seed-scale path at 100k matches (make bench-scale runs 10k to 1M):
// synth, ingest into a fresh store, train (the training set streams to the
// model plugin, far past gRPC's default message size), serve until ready
// and evaluate, all real processes from `make build`'s bin/.
func TestScaleSmoke100k(t *testing.T) {
	root := testbin.Root()
	host := filepath.Join(root, "bin", "soccerpredict")
	for _, bin := range []string{host, filepath.Join(root, "bin", "soccer-model-onnx.sha256"), filepath.Join(root, "onnxruntime", "libonnxruntime.so.1")} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%v: run `make build ort` first (make test does)", err)
		}
	}
	rows, err := Scale(context.Background(), ScaleOptions{Host: host, Sizes: []int{100000}, Dir: t.TempDir(),
		Config: filepath.Join(root, "configs", "local.yaml"), WorkDir: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("rows %+v", rows)
	}
	for _, r := range rows {
		if r.Err != nil || r.Matches != 98800 || r.Wall <= 0 || r.HostPeak <= 0 {
			t.Errorf("%s: %+v", r.Stage, r)
		}
		t.Logf("%s: %.1f s, host %d MB, largest plugin %d MB", r.Stage, r.Wall.Seconds(), r.HostPeak>>20, r.PluginMax>>20)
	}
}
