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
// and worker's plugins keep one thread and Go's GOGC, and get
// KeepSysmonAwake; a plugin's own settings win in both.
func TestBatchCommandsTuneThePlugins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := `serve: {gc_percent: 321}
plugins:
  onnx: {kind: model, path: /bin/true, sha256: "` + zeros + `"}
  ratings: {kind: features, path: /bin/true, sha256: "` + zeros + `"}
  own: {kind: features, path: /bin/true, sha256: "` + zeros + `", procs: 2, gc_percent: 150, godebug: ""}
`
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	e := env{ctx: context.Background()}
	type settings struct{ procs, gc, godebug any }
	for _, tc := range []struct {
		serving bool
		want    map[string]settings
	}{
		{false, map[string]settings{"onnx": {0, "unset", "unset"}, "ratings": {0, 321, "unset"}, "own": {2, 150, ""}}},
		{true, map[string]settings{"onnx": {"unset", "unset", KeepSysmonAwake}, "ratings": {"unset", "unset", KeepSysmonAwake}, "own": {2, 150, ""}}},
	} {
		c := &common{configs: multi{path}, serving: tc.serving}
		loaded, err := c.load(e)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range tc.want {
			p := loaded.Plugins[name]
			if got := (settings{deref(p.Procs), deref(p.GCPercent), deref(p.GODebug)}); got != want {
				t.Errorf("serving %v: plugin %s has procs, GOGC and GODEBUG %v, want %v", tc.serving, name, got, want)
			}
		}
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

func deref[T any](p *T) any {
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

// serve and worker start again with KeepSysmonAwake added to GODEBUG,
// unless GODEBUG names schedtrace already; other commands start as they are.
func TestServingCommandsKeepSysmonAwake(t *testing.T) {
	for _, tc := range []struct {
		args, environ []string
		want          string
		restart       bool
	}{
		{[]string{"serve", "--addr", ":1"}, []string{"PATH=/bin"}, KeepSysmonAwake, true},
		{[]string{"worker"}, []string{"GODEBUG=http2client=0"}, "http2client=0," + KeepSysmonAwake, true},
		{[]string{"serve"}, []string{"GODEBUG=schedtrace=0"}, "", false},
		{[]string{"worker"}, []string{"GODEBUG=x=1, schedtrace=1000"}, "", false},
		{[]string{"ingest"}, nil, "", false},
		{nil, nil, "", false},
	} {
		got, restart := ServingGODebug(tc.args, tc.environ)
		if got != tc.want || restart != tc.restart {
			t.Errorf("%v with %v: %q %v, want %q %v", tc.args, tc.environ, got, restart, tc.want, tc.restart)
		}
	}
}
