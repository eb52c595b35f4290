// Package shimtest connects a plugin to its gRPC client in-process, through
// the real go-plugin gRPC shim, for the conformance suites.
package shimtest

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// quiet drops go-plugin's DEBUG lines: its in-process test connection logs
// at debug level to hclog's default output, which would flood `go test -v`
// of every plugin. Warnings and errors still reach stderr.
var quiet sync.Once

type dropDebug struct{ w io.Writer }

func (d dropDebug) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		if !bytes.Contains(line, []byte("[DEBUG]")) && !bytes.Contains(line, []byte("[TRACE]")) {
			if _, err := d.w.Write(line); err != nil {
				return 0, err
			}
		}
	}
	return len(p), nil
}

// Dispense serves p in-process and returns its configured gRPC client.
func Dispense(t testing.TB, kind string, p goplugin.Plugin, settings plugin.Settings) any {
	t.Helper()
	quiet.Do(func() { hclog.DefaultOutput = dropDebug{os.Stderr} })
	client, _ := goplugin.TestPluginGRPCConn(t, false, map[string]goplugin.Plugin{kind: p})
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(kind)
	if err != nil {
		t.Fatalf("dispense %s over gRPC: %v", kind, err)
	}
	conf, ok := raw.(wire.Configurer)
	if !ok {
		t.Fatalf("%s client %T cannot be configured", kind, raw)
	}
	if _, err := conf.Configure(context.Background(), settings); err != nil {
		t.Fatalf("configure %s over gRPC: %v", kind, err)
	}
	return raw
}
