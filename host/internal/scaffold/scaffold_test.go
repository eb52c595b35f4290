package scaffold

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every package a generated file imports is a name a plugin cannot take —
// "serve" (the main file's import) once was missing, and `plugins new
// source serve` wrote code that did not compile — and every
// reserved-looking name is refused.
func TestReservedNamesComeFromTheTemplates(t *testing.T) {
	for _, want := range []string{"serve", "source", "features", "model", "soccer", "plugin", "context", "testing", "main"} {
		if !slices.Contains(Reserved(), want) {
			t.Errorf("%q is not reserved (reserved: %v)", want, Reserved())
		}
	}
	for _, name := range append(Reserved(), "func", "string", "len", "nil") {
		if !namePattern.MatchString(name) {
			continue // refused for its shape already
		}
		if err := CheckName(name); err == nil || !strings.Contains(err.Error(), "shadow") {
			t.Errorf("plugin name %q: %v, want it refused", name, err)
		}
	}
	if err := CheckName("jsonfile"); err != nil {
		t.Errorf("an ordinary name refused: %v", err)
	}
}

// Every name Write would accept yields files whose imports do not clash
// with the plugin's own package name (checked on the written Go files).
func TestWrittenFilesDoNotShadowTheirImports(t *testing.T) {
	root, err := Checkout(".")
	if err != nil {
		t.Fatal(err)
	}
	for kind := range Kinds {
		dir := filepath.Join(t.TempDir(), kind)
		if _, err := Write(Options{Kind: kind, Name: "sample", Dir: dir, SDK: filepath.Join(root, "sdk")}); err != nil {
			t.Fatal(err)
		}
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !strings.HasSuffix(path, ".go") {
				return err
			}
			b, _ := os.ReadFile(path)
			f, err := parser.ParseFile(token.NewFileSet(), path, b, parser.ImportsOnly)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			for _, imp := range f.Imports {
				p := strings.Trim(imp.Path.Value, `"`)
				if name := p[strings.LastIndex(p, "/")+1:]; !strings.HasPrefix(p, "example.com/") && !slices.Contains(Reserved(), name) {
					t.Errorf("%s imports %s, whose name %q is not reserved", path, p, name)
				}
			}
			return nil
		})
	}
}
