package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// dvcStage is the documented subset of a dvc.yaml stage the project uses.
type dvcStage struct {
	Cmd     string `yaml:"cmd"`
	Deps    []string
	Params  []any
	Outs    []any
	Metrics []any
	Plots   []any
}

// paths returns an outs/metrics/plots list's paths (plain or {path: {...}}).
func paths(list []any) []string {
	var out []string
	for _, o := range list {
		switch v := o.(type) {
		case string:
			out = append(out, v)
		case map[string]any:
			for k := range v {
				out = append(out, k)
			}
		}
	}
	return out
}

type pipeline struct {
	order  []string
	stages map[string]dvcStage
}

func readPipeline(t *testing.T) pipeline {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testbin.Root(), "dvc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Stages yaml.Node `yaml:"stages"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	p := pipeline{stages: map[string]dvcStage{}}
	var names []string
	for i := 0; i+1 < len(doc.Stages.Content); i += 2 {
		var s dvcStage
		if err := doc.Stages.Content[i+1].Decode(&s); err != nil {
			t.Fatalf("stage %s: %v", doc.Stages.Content[i].Value, err)
		}
		if s.Cmd == "" {
			t.Fatalf("stage %s has no cmd", doc.Stages.Content[i].Value)
		}
		names = append(names, doc.Stages.Content[i].Value)
		p.stages[names[len(names)-1]] = s
	}
	// Dependency order: a stage runs after every stage producing one of its deps.
	producer := map[string]string{}
	for _, n := range names {
		s := p.stages[n]
		for _, o := range append(append(paths(s.Outs), paths(s.Metrics)...), paths(s.Plots)...) {
			producer[o] = n
		}
	}
	done := map[string]bool{}
	for len(p.order) < len(names) {
		progress := false
		for _, n := range names {
			if done[n] {
				continue
			}
			ready := true
			for _, d := range p.stages[n].Deps {
				for out, by := range producer {
					if (d == out || strings.HasPrefix(d, out+"/") || strings.HasPrefix(out, d+"/")) && !done[by] && by != n {
						ready = false
					}
				}
			}
			if ready {
				p.order, done[n], progress = append(p.order, n), true, true
			}
		}
		if !progress {
			t.Fatalf("dvc.yaml has a dependency cycle among %v", names)
		}
	}
	return p
}

// workspace lays out what the pipeline reads in a fresh directory: the
// built binaries with their digests, configs, params and the shipped data.
func workspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	link := func(src, dst string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.Symlink(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	copyFile := func(src, dst string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(dst), 0o755)
		os.WriteFile(dst, b, 0o755)
	}
	copyFile(testbin.Host(t), filepath.Join(bin, "soccerpredict"))
	for _, p := range [][2]string{{"source", "footballdata"}, {"features", "ratings"}, {"model", "onnx"}} {
		name := "soccer-" + p[0] + "-" + p[1]
		copyFile(testbin.Plugin(t, p[0], p[1]), filepath.Join(bin, name))
		os.WriteFile(filepath.Join(bin, name+".sha256"), []byte(testbin.Digest(t, filepath.Join(bin, name))+"  "+name+"\n"), 0o644)
	}
	for _, f := range []string{"dvc.yaml", "params.yaml", "configs/local.yaml", "configs/expectations/matches.json", "configs/expectations/prices.json"} {
		copyFile(filepath.Join(testbin.Root(), f), filepath.Join(dir, f))
	}
	link(testbin.Data(), filepath.Join(dir, "data", "football-data"))
	link(testbin.ORT(t), filepath.Join(dir, "onnxruntime", "libonnxruntime.so.1"))
	// Nothing else: the pipeline runs as on a fresh clone, with an empty
	// store and registry (register's version becomes the first champion,
	// which predict serves).
	return dir
}

// run executes every stage's cmd in dependency order, checks each declared
// output, and returns the digest of every file under pipeline/.
func (p pipeline) run(t *testing.T, dir string) (map[string]string, time.Duration) {
	t.Helper()
	started := time.Now()
	for _, name := range p.order {
		s := p.stages[name]
		cmd := exec.Command("sh", "-c", s.Cmd)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SOCCERPREDICT_LOG__LEVEL=warn", "SOCCERPREDICT_GIT_COMMIT=test")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("stage %s: %v\n%s", name, err, out)
		}
		for _, o := range append(append(paths(s.Outs), paths(s.Metrics)...), paths(s.Plots)...) {
			if _, err := os.Stat(filepath.Join(dir, o)); err != nil {
				t.Fatalf("stage %s did not write its declared output %s", name, o)
			}
		}
	}
	took := time.Since(started)
	var declared []string
	for _, s := range p.stages {
		declared = append(declared, paths(s.Outs)...)
		declared = append(declared, paths(s.Metrics)...)
		declared = append(declared, paths(s.Plots)...)
	}
	digests := map[string]string{}
	filepath.WalkDir(filepath.Join(dir, "pipeline"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if !slices.ContainsFunc(declared, func(o string) bool { return rel == o || strings.HasPrefix(rel, o+"/") }) {
			t.Errorf("%s is in the pipeline's data folders but no stage declares it", rel)
		}
		b, _ := os.ReadFile(path)
		sum := sha256.Sum256(b)
		digests[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	return digests, took
}

// TestDVCPipeline runs dvc.yaml's stages on the shipped data twice, each in a
// fresh copy, and requires every declared output, nothing undeclared, and
// byte-identical outputs.
func TestDVCPipeline(t *testing.T) {
	p := readPipeline(t)
	if want := []string{"ingest", "validate", "features", "train", "evaluate", "register", "predict", "monitor"}; !slices.Equal(p.order, want) {
		t.Fatalf("stage order %v, want %v", p.order, want)
	}
	first, took := p.run(t, workspace(t))
	t.Logf("pipeline on the shipped data: %v", took)
	second, _ := p.run(t, workspace(t))
	if len(first) < 10 {
		t.Fatalf("only %d outputs: %v", len(first), first)
	}
	for path, sum := range first {
		if second[path] != sum {
			t.Errorf("%s differs between two runs with the same inputs and params", path)
		}
	}
}

// Every parameter params.yaml gives the model or the feature plugin is
// listed by the stages whose output it changes, so `dvc repro` reruns them
// when it changes (l2_groups and intercept once were not).
func TestDVCParamsAreListed(t *testing.T) {
	p := readPipeline(t)
	b, err := os.ReadFile(filepath.Join(testbin.Root(), "params.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var params struct {
		Plugins struct {
			Ratings struct {
				Config map[string]any `yaml:"config"`
			} `yaml:"ratings"`
		} `yaml:"plugins"`
		Model struct {
			Params        map[string]any            `yaml:"params"`
			FeatureParams map[string]map[string]any `yaml:"feature_params"`
		} `yaml:"model"`
	}
	if err := yaml.Unmarshal(b, &params); err != nil {
		t.Fatal(err)
	}
	listed := func(stage string) map[string]bool {
		out := map[string]bool{}
		for _, v := range p.stages[stage].Params {
			if s, ok := v.(string); ok {
				out[s] = true
			}
		}
		return out
	}
	for _, stage := range []string{"train", "evaluate"} {
		for k := range params.Model.Params {
			if !listed(stage)["model.params."+k] {
				t.Errorf("params.yaml's model.params.%s changes the %s stage's output, which does not list it", k, stage)
			}
		}
		for k := range params.Model.FeatureParams["ratings"] {
			if !listed(stage)["model.feature_params.ratings."+k] {
				t.Errorf("params.yaml's model.feature_params.ratings.%s changes the %s stage's output, which does not list it", k, stage)
			}
		}
	}
	for k := range params.Plugins.Ratings.Config {
		if !listed("features")["plugins.ratings.config."+k] {
			t.Errorf("params.yaml's plugins.ratings.config.%s changes the features stage's output, which does not list it", k)
		}
	}
}
