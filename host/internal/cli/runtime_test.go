package cli

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// A batch command's plugins get Go's own GOMAXPROCS (training's fit uses
// every core); serve's and worker's keep one thread; a plugin's own procs
// setting wins in both.
func TestBatchCommandsGiveThePluginsEveryCPU(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := `plugins:
  onnx: {kind: model, path: /bin/true, sha256: "` + zeros + `"}
  ratings: {kind: features, path: /bin/true, sha256: "` + zeros + `", procs: 2}
`
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	e := env{ctx: context.Background()}
	for _, tc := range []struct {
		serving bool
		onnx    *int // nil: pluginhost's default of 1
	}{{false, new(0)}, {true, nil}} {
		c := &common{configs: multi{path}, serving: tc.serving}
		loaded, err := c.load(e)
		if err != nil {
			t.Fatal(err)
		}
		got := loaded.Plugins["onnx"].Procs
		if (got == nil) != (tc.onnx == nil) || (got != nil && *got != *tc.onnx) {
			t.Errorf("serving %v: the model plugin's procs are %v, want %v", tc.serving, deref(got), deref(tc.onnx))
		}
		if p := loaded.Plugins["ratings"].Procs; p == nil || *p != 2 {
			t.Errorf("serving %v: the feature plugin's own procs: 2 became %v", tc.serving, deref(p))
		}
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

func deref(p *int) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// Every command sets the host's GOGC from serve.gc_percent, unless the
// environment sets GOGC.
func TestEveryCommandSetsTheHostsGOGC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("serve: {gc_percent: 321}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, environ := range [][]string{nil, {"GOGC=150"}} {
		debug.SetGCPercent(150)
		c := &common{configs: multi{path}}
		if _, err := c.load(env{ctx: context.Background(), environ: environ}); err != nil {
			t.Fatal(err)
		}
		want := 321
		if environ != nil {
			want = 150 // the environment's, left as it is
		}
		if got := debug.SetGCPercent(150); got != want {
			t.Errorf("environment %v: GOGC %d, want %d", environ, got, want)
		}
	}
}
