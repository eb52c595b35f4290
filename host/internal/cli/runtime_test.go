package cli

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// A batch command's plugins get Go's own GOMAXPROCS (training's fit uses
// every core), and its source and feature plugins the host's GOGC; serve's
// and worker's plugins keep one thread and Go's GOGC; a plugin's own
// settings win in both.
func TestBatchCommandsTuneThePlugins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := `serve: {gc_percent: 321}
plugins:
  onnx: {kind: model, path: /bin/true, sha256: "` + zeros + `"}
  ratings: {kind: features, path: /bin/true, sha256: "` + zeros + `"}
  own: {kind: features, path: /bin/true, sha256: "` + zeros + `", procs: 2, gc_percent: 150}
`
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	e := env{ctx: context.Background()}
	type settings struct{ procs, gc any }
	for _, tc := range []struct {
		serving bool
		want    map[string]settings
	}{
		{false, map[string]settings{"onnx": {0, "unset"}, "ratings": {0, 321}, "own": {2, 150}}},
		{true, map[string]settings{"onnx": {"unset", "unset"}, "ratings": {"unset", "unset"}, "own": {2, 150}}},
	} {
		c := &common{configs: multi{path}, serving: tc.serving}
		loaded, err := c.load(e)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range tc.want {
			p := loaded.Plugins[name]
			if got := (settings{deref(p.Procs), deref(p.GCPercent)}); got != want {
				t.Errorf("serving %v: plugin %s has procs and GOGC %v, want %v", tc.serving, name, got, want)
			}
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
