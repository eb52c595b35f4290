// Package testbin builds the real plugin binaries for end-to-end tests, once
// per test process, and writes config that pins their digests.
package testbin

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	tmp   string
	built = map[string]string{}
)

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// build compiles the package pkg of the module in dir (relative to the
// repository root) once per test process and returns the binary's path.
func build(t testing.TB, key, dir, pkg, name string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[key]; ok {
		return p
	}
	if tmp == "" {
		d, err := os.MkdirTemp("", "soccerpredict-testbin-")
		if err != nil {
			t.Fatal(err)
		}
		tmp = d
	}
	out := filepath.Join(tmp, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = filepath.Join(Root(), dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", key, err, b)
	}
	built[key] = out
	return out
}

// Plugin builds the plugin of a kind ("source", "features", "model") and
// name and returns the binary's path.
func Plugin(t testing.TB, kind, name string) string {
	return PluginIn(t, kind, name, name)
}

// PluginIn builds the plugin command soccer-<kind>-<name> of the plugin
// module <module> (one module may hold several, such as the onnx module's
// two model runtimes) and returns the binary's path.
func PluginIn(t testing.TB, kind, module, name string) string {
	bin := "soccer-" + kind + "-" + name
	dir := filepath.Join("plugins", map[string]string{"source": "sources", "features": "features", "model": "models"}[kind], module)
	return build(t, kind+"/"+name, dir, "./cmd/"+bin, bin)
}

// Host builds the host binary and returns its path.
func Host(t testing.TB) string {
	return build(t, "host", "host", "./cmd/soccerpredict", "soccerpredict")
}

// Liar builds the test model plugin that answers invalid probabilities.
func Liar(t testing.TB) string {
	return build(t, "liar", "host", "./internal/testbin/liar", "soccer-model-liar")
}

// ORT is the ONNX Runtime library for the onnx plugin (ONNXRUNTIME_LIB, as
// `make test` sets it, else the repository's onnxruntime/ from `make ort`).
func ORT(t testing.TB) string {
	t.Helper()
	lib := os.Getenv("ONNXRUNTIME_LIB")
	if lib == "" {
		lib = filepath.Join(Root(), "onnxruntime", "libonnxruntime.so.1")
	}
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("ONNX Runtime is required: %v (run `make ort`)", err)
	}
	return lib
}

// Digest returns a file's SHA-256 in hex.
func Digest(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Data is the shipped football-data directory.
func Data() string { return filepath.Join(Root(), "data", "football-data") }

// Expectations is the shipped data contract.
func Expectations() string { return filepath.Join(Root(), "configs", "expectations", "matches.json") }

// Quote makes a string safe inside a YAML double-quoted scalar.
func Quote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}
