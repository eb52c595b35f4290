package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: a config file of any bytes loads or is an error, never a panic.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"local.yaml", "production.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("serve: {batching: {max_batch: -1}, limits: {max_body_bytes: x}}\nplugins: {a: {kind: model, procs: 99999}}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		// Config files are the operator's, not hostile input; beyond a few KB
		// the fuzzer finds YAML documents (nested aliases) that take seconds to
		// expand, which says nothing about the loader.
		if len(data) > 2048 {
			return
		}
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		Load([]string{p}, nil, nil)
	})
}
