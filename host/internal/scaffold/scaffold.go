// Package scaffold writes a new plugin module (`soccerpredict plugins new`):
// a working implementation of the kind, its main, its conformance test, a
// config snippet and a README. What it writes builds and passes the sdk's
// conformance suite unchanged.
package scaffold

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/template"
)

//go:embed templates
var templates embed.FS

// SDKModule is the module path every plugin imports.
const SDKModule = "github.com/soccerpredict/soccerpredict/sdk"

// Kinds are the plugin kinds, with the directory under plugins/ each lives in.
var Kinds = map[string]string{"source": "sources", "features": "features", "model": "models"}

var what = map[string]string{
	"source":   "matches from a JSON file; testdata/matches.json is a sample",
	"features": "each team's form, an exponentially fading goal difference",
	"model":    "the training set's base rates, a stand-in for a real model",
}

// Options say what to write where.
type Options struct {
	Kind, Name string
	// Dir is the module's directory; it must not exist or be empty.
	Dir string
	// Module is the module path (default: the repository's plugins/<kind>s/<name>
	// path inside a SoccerPredict checkout, else example.com/soccer-<kind>-<name>).
	Module string
	// SDK is the sdk module's directory (default: found in a SoccerPredict
	// checkout above Dir).
	SDK string
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9]{0,39}$`)

// Reserved are the names a plugin cannot have: the package names its
// generated files import (the plugin's package of that name would clash
// with them: "serve" once did), derived from the templates themselves so
// the list cannot go stale, and the Go names a package cannot take.
var Reserved = sync.OnceValue(func() []string {
	names := map[string]bool{"main": true, "test": true, "sdk": true}
	for kind := range Kinds {
		data := map[string]string{"Kind": kind, "Name": "placeholder", "Module": "example.com/placeholder", "SDK": "../sdk",
			"SDKPackage": kind, "ServeFunc": "Source", "What": "", "Dir": "."}
		for _, file := range []string{"common/main.go.tmpl", kind + "/plugin.go.tmpl", kind + "/plugin_test.go.tmpl"} {
			t, err := template.ParseFS(templates, "templates/"+file)
			if err != nil {
				panic(err) // the templates are embedded: a broken one is caught by any test
			}
			var b bytes.Buffer
			if err := t.Execute(&b, data); err != nil {
				panic(err)
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, b.Bytes(), parser.ImportsOnly)
			if err != nil {
				panic(fmt.Sprintf("%s: %v", file, err))
			}
			for _, imp := range f.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				name := path[strings.LastIndex(path, "/")+1:]
				if imp.Name != nil {
					name = imp.Name.Name
				}
				if name != "placeholder" && name != "_" && name != "." {
					names[name] = true
				}
			}
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
})

// CheckName says why a plugin name cannot be used, if it cannot.
func CheckName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("plugin name %q: use lower-case letters and digits, starting with a letter (it is the Go package, the config key and part of the binary's name)", name)
	}
	if token.IsKeyword(name) || token.IsIdentifier(name) && isPredeclared(name) || slices.Contains(Reserved(), name) {
		return fmt.Errorf("plugin name %q would shadow a Go keyword, a predeclared name or a package the plugin imports (%s); choose another",
			name, strings.Join(Reserved(), ", "))
	}
	return nil
}

// isPredeclared reports Go's predeclared identifiers (a package named
// "string" or "len" compiles, but reads badly and shadows them).
func isPredeclared(name string) bool {
	return types.Universe.Lookup(name) != nil
}

// Write writes the module and returns the files written, relative to Dir.
func Write(o Options) ([]string, error) {
	kinds, ok := Kinds[o.Kind]
	if !ok {
		return nil, fmt.Errorf("plugin kind %q is not source, features or model", o.Kind)
	}
	if err := CheckName(o.Name); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s already exists and is not empty; choose another --dir", o.Dir)
	}
	root, inRepo := findCheckout(dir)
	sdk := o.SDK
	switch {
	case sdk != "":
		if sdk, err = filepath.Abs(sdk); err != nil {
			return nil, err
		}
		if !isSDK(sdk) {
			return nil, fmt.Errorf("--sdk %s: no go.mod of %s there", o.SDK, SDKModule)
		}
	case inRepo:
		sdk = filepath.Join(root, "sdk")
	default:
		return nil, fmt.Errorf("%s is not inside a SoccerPredict checkout: pass --sdk with the path of its sdk directory", o.Dir)
	}
	rel, err := filepath.Rel(dir, sdk)
	if err != nil {
		rel = sdk
	}
	module := o.Module
	if module == "" {
		module = "example.com/soccer-" + o.Kind + "-" + o.Name
		if inRepo {
			module = "github.com/soccerpredict/soccerpredict/plugins/" + kinds + "/" + o.Name
		}
	}
	shown := dir // where config.yaml says the plugin lives: relative to the checkout when in one
	if inRepo {
		if r, err := filepath.Rel(root, dir); err == nil {
			shown = r
		}
	}
	data := map[string]string{"Kind": o.Kind, "Name": o.Name, "Module": module, "SDK": filepath.ToSlash(rel),
		"SDKPackage": o.Kind, "ServeFunc": map[string]string{"source": "Source", "features": "Features", "model": "Model"}[o.Kind], "What": what[o.Kind], "Dir": filepath.ToSlash(shown)}
	files := map[string]string{
		"go.mod":      "common/go.mod.tmpl",
		"README.md":   "common/README.md.tmpl",
		"config.yaml": "common/config.yaml.tmpl",
		"cmd/soccer-" + o.Kind + "-" + o.Name + "/main.go": "common/main.go.tmpl",
		o.Name + ".go":      o.Kind + "/plugin.go.tmpl",
		o.Name + "_test.go": o.Kind + "/plugin_test.go.tmpl",
	}
	if o.Kind == "source" {
		files["testdata/matches.json"] = "source/matches.json.tmpl"
	}
	var written []string
	for _, name := range sortedKeys(files) {
		t, err := template.ParseFS(templates, "templates/"+files[name])
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return nil, err
		}
		written = append(written, name)
	}
	return written, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// findCheckout looks in dir and above it for a SoccerPredict checkout: a
// directory holding sdk/go.mod of the sdk module.
func findCheckout(dir string) (string, bool) {
	for d := dir; ; d = filepath.Dir(d) {
		if isSDK(filepath.Join(d, "sdk")) {
			return d, true
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

func isSDK(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == SDKModule
		}
	}
	return false
}

// Checkout returns the SoccerPredict checkout dir is in (or is), if any.
func Checkout(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if root, ok := findCheckout(abs); ok {
		return root, nil
	}
	return "", errors.New("not in a SoccerPredict checkout")
}
