package api

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A client generated from /openapi.json by a real generator
// (openapi-typescript) compiles typed OIP v2 and v1 requests under
// tsc --strict, and refuses the malformed ones client.ts marks with
// @ts-expect-error. The tools are testdata/tsclient's npm packages, which
// .ci/setup installs (npm ci); the test fails, never skips, without them.
func TestTypeScriptClient(t *testing.T) {
	tools, _ := filepath.Abs("testdata/tsclient")
	gen := filepath.Join(tools, "node_modules", ".bin", "openapi-typescript")
	tsc := filepath.Join(tools, "node_modules", ".bin", "tsc")
	for _, bin := range []string{gen, tsc} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s is missing; install it: npm ci --prefix host/internal/api/testdata/tsclient (.ci/setup does)", filepath.Base(bin))
		}
	}
	dir := t.TempDir()
	doc, err := json.Marshal(buildOpenAPI("test"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "openapi.json"), doc, 0o644)
	client, _ := os.ReadFile(filepath.Join(tools, "client.ts"))
	os.WriteFile(filepath.Join(dir, "client.ts"), client, 0o644)
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
	}
	run(gen, "openapi.json", "--output", "schema.d.ts")
	run(tsc, "--strict", "--noEmit", "--target", "es2022", "--module", "es2022", "--moduleResolution", "bundler", "client.ts")
}
