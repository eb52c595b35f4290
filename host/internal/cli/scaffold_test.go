package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// `plugins new` writes a module of each kind that passes go vet and its
// conformance suite unchanged, and whose binary the host launches, verifies
// and smoke-tests.
func TestScaffoldedPluginsPassConformanceAndLoad(t *testing.T) {
	dir := t.TempDir()
	sdk := filepath.Join(testbin.Root(), "sdk")
	var plugins strings.Builder
	for _, c := range []struct{ kind, name string }{{"source", "jsonfile"}, {"features", "form"}, {"model", "baserates"}} {
		mod := filepath.Join(dir, c.name)
		code, out, errs := run(t, nil, "plugins", "new", c.kind, c.name, "--dir", mod, "--sdk", sdk)
		if code != 0 {
			t.Fatalf("plugins new %s %s: exit %d\n%s\n%s", c.kind, c.name, code, out, errs)
		}
		if !strings.Contains(out, "config.yaml") || !strings.Contains(out, c.name+"_test.go") {
			t.Fatalf("plugins new did not list what it wrote:\n%s", out)
		}
		bin := filepath.Join(dir, "bin", "soccer-"+c.kind+"-"+c.name)
		for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}, {"build", "-o", bin, "./cmd/soccer-" + c.kind + "-" + c.name}} {
			cmd := exec.Command("go", args...)
			cmd.Dir, cmd.Env = mod, append(os.Environ(), "GOWORK=off")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: go %v: %v\n%s", c.name, args, err, b)
			}
		}
		extra := ""
		if c.kind == "source" {
			extra = "    config: {file: " + testbin.Quote(filepath.Join(mod, "testdata", "matches.json")) + "}\n"
		}
		fmt.Fprintf(&plugins, "  %s:\n    kind: %s\n    path: %s\n    sha256: %s\n%s", c.name, c.kind, testbin.Quote(bin), testbin.Digest(t, bin), extra)
	}
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir: %s\nlog: {level: warn}\nplugins:\n%s", testbin.Quote(filepath.Join(dir, "var")), plugins.String())), 0o644)
	code, out, errs := run(t, nil, "plugins", "verify", "--config", cfg)
	if code != 0 || strings.Count(out, " ok: ") != 3 {
		t.Fatalf("plugins verify: exit %d\n%s\n%s", code, out, errs)
	}

	// Refusals name what is wrong.
	for args, want := range map[string]string{
		"plugins new model model":     "shadow",
		"plugins new widget x":        "not source, features or model",
		"plugins new source Bad-Name": "lower-case letters and digits",
		"plugins new source again --dir " + dir + "/jsonfile --sdk " + sdk: "not empty",
		"plugins new source lonely --dir " + dir + "/lonely":               "--sdk",
	} {
		code, _, errs := run(t, nil, strings.Fields(args)...)
		if code == 0 || !strings.Contains(errs, want) {
			t.Errorf("%s: exit %d, stderr %q, want it to say %q", args, code, errs, want)
		}
	}
}
