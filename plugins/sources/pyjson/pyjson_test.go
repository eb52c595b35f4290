// Package pyjson holds the tests of the Python source plugin
// (soccer-source-pyjson): the sdk's conformance suite run against the real
// Python process over go-plugin gRPC, and the host ingesting from it. The
// plugin needs Debian's python3-grpcio and python3-protobuf.
package pyjson

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"

	sdkplugin "github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
	"github.com/soccerpredict/soccerpredict/sdk/source/sourcetest"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

const script = "soccer-source-pyjson"

func needPython(t *testing.T) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", "import grpc, google.protobuf").CombinedOutput()
	if err != nil {
		t.Fatalf("the Python plugin needs Debian's python3-grpcio and python3-protobuf (apt-get install python3-grpcio python3-protobuf): %v\n%s", err, out)
	}
}

// launch starts the Python plugin as the host does and returns its
// configured source client.
func launch(t *testing.T, settings any) (source.Source, error) {
	t.Helper()
	abs, _ := filepath.Abs(script)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Config,
		Plugins:          wire.Plugins(),
		Cmd:              exec.Command(abs),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  wire.DialOptions(),
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		return nil, err
	}
	raw, err := rpc.Dispense(wire.KindSource)
	if err != nil {
		return nil, err
	}
	s, err := sdkplugin.SettingsFrom(settings)
	if err != nil {
		return nil, err
	}
	if _, err := raw.(wire.Configurer).Configure(context.Background(), s); err != nil {
		return nil, err
	}
	return raw.(source.Source), nil
}

func TestPythonPluginPassesTheSourceConformanceSuite(t *testing.T) {
	needPython(t)
	settings := map[string]any{"file": "testdata/matches.json"}
	sourcetest.Run(t, func(_ context.Context, env sdkplugin.Env) (source.Source, error) { return launch(t, env.Settings) }, sourcetest.Options{Settings: settings, MinMatches: 4})

	src, err := launch(t, settings)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := source.Collect(context.Background(), src, source.FetchRequest{Seasons: []string{"2324"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Matches) != 3 || len(resp.Rejects) != 1 || !strings.Contains(resp.Rejects[0].Message, "goals") || resp.Rejects[0].Line != 4 {
		t.Fatalf("matches %d, rejects %+v", len(resp.Matches), resp.Rejects)
	}
	// The same match has the same ID from a Go source and from this one.
	m := resp.Matches[1]
	if want := soccer.MatchID(m.Competition, m.Season, m.HomeTeam, m.AwayTeam); m.ID != want || m.ID != "e0-2324-arsenal-v-nottm-forest" {
		t.Fatalf("ID %q, the Go sdk's %q", m.ID, want)
	}
	if m.Result != soccer.HomeWin || m.Kickoff.Hour() != 12 {
		t.Fatalf("match %+v", m)
	}

	bad := map[string]any{"file": "x.json", "dir": "typo"}
	if _, err := launch(t, bad); err == nil || !strings.Contains(err.Error(), "dir") {
		t.Fatalf("an unknown setting: %v", err)
	}
}

// The host launches the Python plugin from its config, pins its digest,
// checks what it fetched against the data contract and stores it.
func TestHostIngestsFromThePythonPlugin(t *testing.T) {
	needPython(t)
	root, _ := filepath.Abs(filepath.Join("..", "..", ".."))
	dir := t.TempDir()
	host := filepath.Join(dir, "soccerpredict")
	build := exec.Command("go", "build", "-o", host, "./cmd/soccerpredict")
	build.Dir = filepath.Join(root, "host")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the host: %v\n%s", err, out)
	}
	abs, _ := filepath.Abs(script)
	data, _ := filepath.Abs(filepath.Join("testdata", "matches.json"))
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(`data_dir: `+filepath.Join(dir, "var")+`
log: {level: warn}
ingest: {expectations: `+filepath.Join(root, "configs", "expectations", "matches.json")+`}
plugins:
  pyjson:
    kind: source
    path: `+abs+`
    sha256_file: `+filepath.Join(dir, "pyjson.sha256")+`
    config: {file: `+data+`}
sources: [{plugin: pyjson}]
`), 0o644)
	sum := exec.Command("sha256sum", abs)
	out, err := sum.Output()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "pyjson.sha256"), out, 0o644)
	for _, args := range [][]string{{"plugins", "verify"}, {"ingest"}, {"matches", "--competition", "E0"}} {
		out, err := exec.Command(host, append(args, "--config", cfg)...).CombinedOutput()
		if err != nil {
			t.Fatalf("soccerpredict %v: %v\n%s", args, err, out)
		}
		t.Logf("soccerpredict %v:\n%s", args, out)
		if args[0] == "matches" && (!strings.Contains(string(out), "Nott'm Forest") || !strings.Contains(string(out), "Man United")) {
			t.Fatalf("the stored matches lack the plugin's:\n%s", out)
		}
	}
}
