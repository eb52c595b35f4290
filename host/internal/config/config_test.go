package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const base = `
plugins:
  footballdata:
    kind: source
    path: bin/soccer-source-footballdata
    sha256_file: bin/soccer-source-footballdata.sha256
    timeout: 5s
    config:
      dir: data/football-data
sources:
  - plugin: footballdata
    competitions: [E0]
`

func TestLayersInOrder(t *testing.T) {
	f := write(t, base+"store:\n  driver: postgres\n  dsn: postgres://file\n")
	cfg, err := Load([]string{f},
		[]string{"SOCCERPREDICT_STORE__DSN=postgres://env", "SOCCERPREDICT_LOG__LEVEL=debug", "HOME=/root"},
		[]string{"log.level=warn"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.DSN != "postgres://env" {
		t.Errorf("store.dsn = %q, want the environment's", cfg.Store.DSN)
	}
	if cfg.Log.Level != "warn" {
		t.Errorf("log.level = %q, want the flag's", cfg.Log.Level)
	}
	p := cfg.Plugins["footballdata"]
	if p.Timeout != 5*time.Second || p.StartTimeout != 20*time.Second || p.Config["dir"] != "data/football-data" {
		t.Errorf("plugin = %+v", p)
	}
	if cfg.DataDir != "var" || cfg.Sources[0].Competitions[0] != "E0" {
		t.Errorf("defaults or sources lost: %+v", cfg)
	}
}

func TestSQLiteDefaultsIntoTheDataDir(t *testing.T) {
	cfg, err := Load(nil, nil, []string{"data_dir=/tmp/x"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Driver != "sqlite" || cfg.Store.DSN != "/tmp/x/soccerpredict.db" {
		t.Fatalf("store = %+v", cfg.Store)
	}
}

func TestProblemsAreNamed(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"stor:\n  driver: sqlite\n", `unknown key "stor" at the top level (known there: auth,`},
		{"serve:\n  adr: x\n", `unknown key "adr" in serve (known there: access_log, addr,`},
		{"plugins:\n  x:\n    kind: source\n    pth: p\n", `unknown key "pth" in plugins[x] (known there: config, env, gc_percent, godebug, kind,`},
		{"serve:\n  batching: {max_batch: lots}\n", "serve.batching.max_batch must be a whole number"},
		{"serve:\n  generation_poll: often\n", "serve.generation_poll must be a duration such as 5s or 10m"},
		{"log: 3\n", "log is a section (keys under it), not a single value"},
		{"store:\n  driver: mysql\n", `store.driver: "mysql"`},
		{"store:\n  driver: postgres\n", "store.dsn"},
		{"plugins:\n  x:\n    kind: source\n    path: p\n", "plugins.x: set sha256"},
		{"plugins:\n  x:\n    kind: gadget\n    path: p\n    sha256: abc\n", "plugins.x.kind"},
		{"plugins:\n  x:\n    kind: source\n    path: p\n    sha256: abc\n", "plugins.x.sha256"},
		{"sources:\n  - plugin: nope\n", `sources[0].plugin: "nope"`},
		{"plugins:\n  x:\n    kind: source\n    path: p\n    sha256_file: f\n    timeout: soon\n", "timeout"},
		{"webhooks:\n  allowed_hosts: [hooks.example.com]\n", "webhooks.secret"},
		{"webhooks:\n  allowed_hosts: [\"https://hooks.example.com/\"]\n  secret: 0123456789abcdef\n", "webhooks.allowed_hosts[0]"},
		{"webhooks:\n  allowed_hosts: [\"hooks.example.com:http\"]\n  secret: 0123456789abcdef\n", "port"},
		{"webhooks:\n  max_backoff: 1s\n  backoff: 5s\n", "max_backoff"},
	} {
		_, err := Load([]string{write(t, c.yaml)}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %q: err = %v, want it to mention %q", c.yaml, err, c.want)
		} else if strings.Contains(err.Error(), "decoding failed") || strings.Contains(err.Error(), "has invalid keys") {
			t.Errorf("config %q: the decoder's words leak: %v", c.yaml, err)
		}
	}
	if _, err := Load(nil, nil, []string{"novalue"}); err == nil {
		t.Error("--set without = accepted")
	}
	cfg, err := Load([]string{write(t, "webhooks:\n  allowed_hosts: [hooks.example.com, \"*.partner.org\", \"127.0.0.1:9000\"]\n")},
		[]string{"SOCCERPREDICT_WEBHOOKS__SECRET=0123456789abcdef"}, nil)
	if err != nil || cfg.Webhooks.Secret != "0123456789abcdef" || len(cfg.Webhooks.AllowedHosts) != 3 {
		t.Errorf("webhooks with the secret from the environment: %+v, %v", cfg.Webhooks, err)
	}
}

// The shipped configuration files load and validate as they are.
func TestShippedConfigs(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	local, err := Load([]string{filepath.Join(root, "configs", "local.yaml"), filepath.Join(root, "params.yaml")}, nil, nil)
	if err != nil {
		t.Fatalf("configs/local.yaml + params.yaml: %v", err)
	}
	if local.Store.Driver != "sqlite" || local.Auth.Required || local.Features.Plugin != "ratings" || local.Model.Plugin != "onnx" {
		t.Fatalf("local = %+v", local)
	}
	prod, err := Load([]string{filepath.Join(root, "configs", "production.yaml")}, []string{"SOCCERPREDICT_STORE__DSN=postgres://x@db/sp"}, nil)
	if err != nil {
		t.Fatalf("configs/production.yaml: %v", err)
	}
	if prod.Store.Driver != "postgres" || prod.Store.DSN != "postgres://x@db/sp" || !prod.Auth.Required || prod.Log.Format != "json" {
		t.Fatalf("production = %+v", prod)
	}
}

// Parameters naming a feature plugin's columns apply with that plugin
// only: swapping features.plugin is one line, and model.params still win.
func TestFeatureParamsFollowTheFeaturePlugin(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	files := []string{filepath.Join(root, "configs", "local.yaml"), filepath.Join(root, "params.yaml")}
	ratings, err := Load(files, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ratings.Model.Params["offsets"] == nil || ratings.Model.Params["intercept"] != false || ratings.Model.Params["l2_rule"] != "one_se" {
		t.Fatalf("with ratings: %v", ratings.Model.Params)
	}
	other := write(t, "plugins:\n  ppg: {kind: features, path: bin/soccer-features-ppg, sha256_file: bin/soccer-features-ppg.sha256}\nfeatures: {plugin: ppg}\n")
	swapped, err := Load(append(files, other), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"offsets", "l2_groups", "unpenalized", "intercept"} {
		if _, ok := swapped.Model.Params[k]; ok {
			t.Errorf("with another feature plugin, model params still have the ratings plugin's %s: %v", k, swapped.Model.Params)
		}
	}
	if swapped.Model.Params["l2_rule"] != "one_se" || swapped.Model.Params["algorithm"] != "logreg" {
		t.Errorf("the general params were lost: %v", swapped.Model.Params)
	}
	over, err := Load(files, nil, []string{"model.params.intercept=true"})
	if err != nil || over.Model.Params["intercept"] != true {
		t.Errorf("model.params over feature_params: %v %v", over.Model.Params, err)
	}
	if _, err := Load(append(files, write(t, "model:\n  feature_params:\n    ratngs: {offsets: {}}\n")), nil, nil); err == nil ||
		!strings.Contains(err.Error(), `model.feature_params.ratngs: "ratngs" is not a configured features plugin`) {
		t.Errorf("feature params for a plugin that is not configured: %v", err)
	}
}
